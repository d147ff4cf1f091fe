-- Every credit accounted for (issue 7) and the ledger's invariants held by PostgreSQL itself, not only by the code.

-- OVERAGE: what a completion cost beyond its hold, taken from the balance (or, for an open overage, paid off by a
-- later grant). Signed like every ledger row: a debit is negative.
ALTER TYPE "LedgerKind" ADD VALUE 'OVERAGE';

-- Credits a provider's report put above the hold that the balance could not cover: owed until the next grant.
ALTER TABLE "orgs" ADD COLUMN "overage_owed" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "orgs" ADD CONSTRAINT "orgs_overage_owed_nonnegative" CHECK ("overage_owed" >= 0);

-- BYOK completions get a row too (no hold, no ledger movement): requestId is an idempotency key in both modes.
CREATE TYPE "BillingMode" AS ENUM ('CREDITS', 'BYOK');
ALTER TABLE "completions" ADD COLUMN "billing" "BillingMode" NOT NULL DEFAULT 'CREDITS';
-- What the bill stood on: which token figures the provider reported and which were estimated, and how much text
-- reached the client.
ALTER TABLE "completions" ADD COLUMN "input_tokens_estimated" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "completions" ADD COLUMN "output_tokens_estimated" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "completions" ADD COLUMN "delivered_chars" INTEGER NOT NULL DEFAULT 0;
-- Part of the charge that the balance could not cover (recorded as owed on the org).
ALTER TABLE "completions" ADD COLUMN "overage_uncovered" INTEGER NOT NULL DEFAULT 0;

-- A charge may now exceed the hold (the overage is taken from the balance).
ALTER TABLE "completions" DROP CONSTRAINT "completions_amounts_valid";
ALTER TABLE "completions" ADD CONSTRAINT "completions_amounts_valid"
  CHECK ("hold_amount" >= 0 AND "credits_charged" >= 0 AND "overage_uncovered" >= 0 AND "delivered_chars" >= 0);
ALTER TABLE "completions" ADD CONSTRAINT "completions_byok_holds_nothing"
  CHECK ("billing" = 'CREDITS' OR ("hold_amount" = 0 AND "credits_charged" = 0));

-- The sign of a ledger amount follows its kind, and no row leaves the balance negative.
ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_amount_sign" CHECK (
  -- Compared as text: a value added by ALTER TYPE cannot be used as an enum literal in the same transaction.
  ("kind"::text = 'GRANT' AND "amount" > 0) OR
  ("kind"::text = 'HOLD' AND "amount" < 0) OR
  ("kind"::text = 'RELEASE' AND "amount" >= 0) OR
  ("kind"::text = 'OVERAGE' AND "amount" < 0)
);
ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_balance_after_nonnegative" CHECK ("balance_after" >= 0);
-- A hold is placed once and settled once: one HOLD, one RELEASE and at most one OVERAGE row per completion.
CREATE UNIQUE INDEX "credit_ledger_completion_id_kind_key" ON "credit_ledger"("completion_id", "kind");
