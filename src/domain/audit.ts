// The audit trail of settings and key events: who, what, when. Callers pass only non-secret detail.
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../lib/database.ts';

export type AuditAction =
  | 'ai_settings.provider_changed'
  | 'ai_settings.grace_window_ended'
  | 'ai_settings.legacy_byok_migrated'
  | 'personal_key.saved'
  | 'personal_key.tested'
  | 'personal_key.deleted'
  | 'personal_key.invalidated'
  | 'plan.changed'
  | 'credits.granted'
  | 'credits.overage'
  | 'credits.member_cap_set'
  | 'credits.default_member_cap_set'
  | 'ai_settings.fallback_changed'
  | 'personal_key.status_changed';

type Tx = Pick<Db, 'auditEvent'>;

export async function recordAudit(
  tx: Tx,
  event: { orgId: string; actorId: string | null; action: AuditAction; detail?: Prisma.InputJsonObject },
): Promise<void> {
  await tx.auditEvent.create({
    data: { orgId: event.orgId, actorId: event.actorId, action: event.action, detail: event.detail ?? {} },
  });
}
