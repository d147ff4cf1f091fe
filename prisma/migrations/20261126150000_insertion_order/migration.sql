-- Newest-first lists (audit trail, usage entries) need a strict insertion order: created_at ties within a
-- millisecond, and a uuid tiebreak is random.
DROP INDEX "audit_events_org_id_created_at_id_idx";
ALTER TABLE "audit_events" ADD COLUMN "seq" BIGSERIAL NOT NULL;
CREATE UNIQUE INDEX "audit_events_seq_key" ON "audit_events"("seq");
CREATE INDEX "audit_events_org_id_seq_idx" ON "audit_events"("org_id", "seq" DESC);

DROP INDEX "completions_org_id_created_at_id_idx";
ALTER TABLE "completions" ADD COLUMN "seq" BIGSERIAL NOT NULL;
CREATE UNIQUE INDEX "completions_seq_key" ON "completions"("seq");
CREATE INDEX "completions_org_id_seq_idx" ON "completions"("org_id", "seq" DESC);
