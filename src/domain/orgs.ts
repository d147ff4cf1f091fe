// Loading an org for a member and locking an org's row: the one place either is written.
import { Prisma, type Org } from '../generated/prisma/client.ts';
import type { Db } from '../lib/database.ts';
import { forbidden } from '../lib/errors.ts';

type Tx = Prisma.TransactionClient;

/** An org by id (what the API passes) or by slug (what operator commands take). */
export type OrgRef = { id: string } | { slug: string };

/** The org for a caller whose membership the schema has already proved; FORBIDDEN if it vanished in between. */
export async function loadOrg(db: Db, orgId: string): Promise<Org> {
  const org = await db.org.findUnique({ where: { id: orgId } });
  // A missing org here is a race with deletion: to the caller it is no longer an org they belong to.
  return org ?? forbidden();
}

// Every column under its Prisma field name, so the locked row is a plain Org. Record<keyof Org, …> makes the
// typecheck fail when the model gains a field this list lacks.
const ORG_COLUMNS: Record<keyof Org, string> = {
  id: 'id',
  slug: 'slug',
  name: 'name',
  plan: 'plan',
  creditBalance: 'credit_balance',
  overageOwed: 'overage_owed',
  aiProvider: 'ai_provider',
  aiModel: 'ai_model',
  graceWindowEndsAt: 'grace_window_ends_at',
  memberCapDefault: 'member_cap_default',
  fallbackToCredits: 'fallback_to_credits',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};
const SELECT_ORG = Prisma.raw(
  Object.entries(ORG_COLUMNS)
    .map(([field, column]) => `${column} AS "${field}"`)
    .join(', '),
);

/**
 * Locks the org's row until `tx` ends and returns it as it stands, or null when there is none: one statement
 * (`SELECT … FOR NO KEY UPDATE`). Anything that reads an org's plan, provider, window or balance to decide a write to
 * it takes this lock first, so a concurrent plan change, provider change, sweep, legacy move or settlement waits
 * rather than interleaves. NO KEY UPDATE, the lock an UPDATE of the org's columns takes anyway, not FOR UPDATE: FOR
 * UPDATE also conflicts with the KEY SHARE lock every insert referencing the org (a completion, a ledger row) takes
 * for its foreign key, so a settlement waiting here behind a hold that had inserted its completion, while that hold
 * queued behind it for the same row, was a deadlock (40P01, seen by bench/scale.ts on one busy org).
 */
export async function lockOrg(tx: Tx, ref: OrgRef): Promise<Org | null> {
  const where = 'id' in ref ? Prisma.sql`id = ${ref.id}::uuid` : Prisma.sql`slug = ${ref.slug}`;
  const [org] = await tx.$queryRaw<Org[]>`SELECT ${SELECT_ORG} FROM orgs WHERE ${where} FOR NO KEY UPDATE`;
  return org ?? null;
}
