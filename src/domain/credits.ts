// The prepaid credit ledger. Before a credits-mode completion calls upstream it reserves its worst case as a hold;
// the hold is then settled exactly once: the charge stays deducted and the rest is released, or, when a provider
// reports more than was held, the difference is taken from the balance (an OVERAGE row) and whatever the balance
// cannot cover is recorded as owed. Every movement is a ledger row with the balance after it, so GRANTs + HOLDs +
// RELEASEs + OVERAGEs always equal the balance; PostgreSQL's own constraints hold the signs and the once-only rule.
// Every transaction that moves a balance publishes the balance after it (creditBalanceChanged), once committed: each
// function here takes the database and the pubsub together, so no movement can skip telling the Ivy panel.
import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.ts';
import type { AiProvider, CompletionStatus } from '../generated/prisma/enums.ts';
import { sqlPool, type Db } from '../lib/database.ts';
import { refuse } from '../lib/errors.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { capReached, isoDay } from './member-caps.ts';
import { GroupCommit, groupCommitFor } from './ledger-batches.ts';

/** Where the ledger writes, and whom it tells about each movement (Services in the server, the operator runtime). */
export interface LedgerDeps {
  db: Db;
  pubsub: Pick<AppPubSub, 'publish'>;
}

/** Called after the movement's transaction committed, never inside it: a rolled-back movement tells no one. */
function balanceMoved(l: LedgerDeps, orgId: string, balance: number): void {
  l.pubsub.publish('creditBalanceChanged', orgId, { orgId, balance });
}

export interface Hold {
  completionId: string;
  holdAmount: number;
  balanceAfter: number;
}

interface CompletionRequest {
  orgId: string;
  userId: string;
  requestId: string;
  vendor: 'ANTHROPIC' | 'OPENAI';
  model: string;
  holdExpiresAt: Date;
  /** When it was accepted, by the server's clock (the Usage page's date range reads it); default: the database's now. */
  createdAt?: Date;
}

export interface HoldRequest extends CompletionRequest {
  holdAmount: number;
  /** The calendar month (UTC, its first day) whose member spend the hold counts against. */
  spendMonth: Date;
  /** Set when a BYOK org's completion runs on credits with the org's consent. */
  fallbackReason?: string | null;
}

const duplicate = (requestId: string) =>
  refuse(
    'DUPLICATE_REQUEST',
    `requestId "${requestId}" was already used in this org: it is not run or billed again. Send a new requestId to ask again.`,
  );

function insufficient(balance: number | null | undefined, holdAmount: number): never {
  return refuse(
    'INSUFFICIENT_CREDITS',
    `This request may use up to ${holdAmount} credits and the org has ${balance ?? 0}. Ask an Org Admin to buy a credit pack, or shorten the request (lower maxTokens).`,
  );
}

/**
 * Reserves `holdAmount` for one completion. Refuses with INSUFFICIENT_CREDITS when the balance cannot cover it,
 * MEMBER_CAP_REACHED when it would take the member past their monthly cap, and DUPLICATE_REQUEST when the org
 * already accepted this requestId; in every case nothing is written.
 *
 * One statement (ivy_reserve_credits, migration 20261127140000) claims the requestId, debits the balance with its
 * HOLD row and counts the hold against the member's cap, for this hold and for the org's other holds that arrived
 * while the previous batch was in flight (ledger-batches.ts): the org's row is locked for one statement, and one
 * commit flush serves the batch. The claim comes before the org row is locked: waiting on a repeat's uncommitted
 * claim never holds the org lock (a deadlock with that repeat's settlement, before). Refusals are values.
 *
 * The hold's transaction commits without waiting for its WAL flush (synchronous_commit = off, set inside the
 * function, migration 20261127160000): the upstream request waits for the hold, and a flush was most of the time the
 * API added before the first text. A database crash can lose only whole holds, never a settlement of one (a
 * settlement commits synchronously, after its hold in the WAL): the books add up either way; the migration says why.
 */
export async function reserveCredits(l: LedgerDeps, req: HoldRequest): Promise<Hold> {
  const completionId = randomUUID();
  const { verdict, balance } = await holdBatches(l.db).submit(req.orgId, {
    completion_id: completionId,
    org_id: req.orgId,
    user_id: req.userId,
    request_id: req.requestId,
    vendor: req.vendor,
    model: req.model,
    hold: req.holdAmount,
    hold_expires_at: req.holdExpiresAt.toISOString(),
    spend_month: isoDay(req.spendMonth),
    fallback_reason: req.fallbackReason ?? null,
    created_at: req.createdAt?.toISOString() ?? null,
    ledger_id: randomUUID(),
  });
  if (verdict === 'HELD') {
    balanceMoved(l, req.orgId, balance!);
    return { completionId, holdAmount: req.holdAmount, balanceAfter: balance! };
  }
  if (verdict === 'DUPLICATE_REQUEST') return duplicate(req.requestId);
  if (verdict === 'INSUFFICIENT_CREDITS') return insufficient(balance, req.holdAmount);
  return capReached(l.db, { ...req, month: req.spendMonth, amount: req.holdAmount });
}

type HoldVerdict = 'HELD' | 'DUPLICATE_REQUEST' | 'INSUFFICIENT_CREDITS' | 'MEMBER_CAP_REACHED';
interface HoldItem {
  completion_id: string;
  org_id: string;
  user_id: string;
  request_id: string;
  vendor: string;
  model: string;
  hold: number;
  hold_expires_at: string;
  spend_month: string;
  fallback_reason: string | null;
  created_at: string | null;
  ledger_id: string;
}
type HoldResult = { verdict: HoldVerdict; balance: number | null };

const holdBatches = (db: Db) =>
  groupCommitFor<HoldItem, HoldResult>(
    db,
    'holds',
    () =>
      new GroupCommit<HoldItem, HoldResult>((items) =>
        callBatch<HoldResult & { idx: number }>(
          db,
          'SELECT idx, verdict, balance FROM ivy_reserve_credits($1::jsonb)',
          items,
        ),
      ),
  );

/**
 * Calls a ledger batch function (`$1`: the items as JSON, each with its index as `idx`) straight on the pg pool, and
 * returns its rows (one per item, any order) in the items' order.
 */
async function callBatch<R extends { idx: number }>(db: Db, sql: string, items: object[]): Promise<R[]> {
  const { rows } = await sqlPool(db).query<R>(sql, [JSON.stringify(items.map((item, idx) => ({ ...item, idx })))]);
  const out = new Array<R>(items.length);
  for (const row of rows) out[row.idx] = row;
  for (let i = 0; i < items.length; i++) if (!out[i]) throw new Error(`ledger batch returned no row for item ${i}`);
  return out;
}

/**
 * Turns a running BYOK completion into a credits one with a hold (fallback after the member's key was refused
 * before any text streamed): the same checks as reserveCredits, in one statement (ivy_hold_for_fallback: the org's
 * row is locked for that statement only, never across a round trip). Returns null when the completion is no longer
 * running (it was cancelled meanwhile): nothing is held then.
 */
export async function holdForFallback(
  l: LedgerDeps,
  completionId: string,
  req: Omit<HoldRequest, 'requestId' | 'holdExpiresAt'>,
): Promise<Hold | null> {
  const {
    rows: [{ verdict, balance }],
  } = await sqlPool(l.db).query<{ verdict: HoldVerdict | 'GONE'; balance: number | null }>(
    'SELECT verdict, balance FROM ivy_hold_for_fallback($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [
      completionId,
      req.orgId,
      req.userId,
      req.vendor,
      req.model,
      req.holdAmount,
      isoDay(req.spendMonth),
      req.fallbackReason ?? null,
      randomUUID(),
    ],
  );
  if (verdict === 'GONE') return null;
  if (verdict === 'INSUFFICIENT_CREDITS') return insufficient(balance, req.holdAmount);
  if (verdict === 'MEMBER_CAP_REACHED')
    return capReached(l.db, { ...req, month: req.spendMonth, amount: req.holdAmount });
  balanceMoved(l, req.orgId, balance!);
  return { completionId, holdAmount: req.holdAmount, balanceAfter: balance! };
}

/**
 * Records that a BYOK completion was accepted: no hold and no ledger movement, but the row makes `requestId` an
 * idempotency key in BYOK mode too (a repeat is DUPLICATE_REQUEST and is never sent upstream again: BYOK never starts
 * early, early-upstream.ts).
 */
export async function recordByokCompletion(db: Db, req: CompletionRequest): Promise<string> {
  try {
    const row = await db.completion.create({
      data: {
        orgId: req.orgId,
        userId: req.userId,
        requestId: req.requestId,
        vendor: req.vendor as AiProvider,
        model: req.model,
        billing: 'BYOK',
        holdAmount: 0,
        holdExpiresAt: req.holdExpiresAt,
        createdAt: req.createdAt,
      },
      select: { id: true },
    });
    return row.id;
  } catch (err) {
    if (isUniqueViolation(err)) return duplicate(req.requestId);
    throw err;
  }
}

function isUniqueViolation(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    return (
      err.code === 'P2002' ||
      (err.code === 'P2010' && /23505|unique/i.test(JSON.stringify(err.meta ?? {}) + err.message))
    );
  }
  return /23505|unique constraint/i.test(String((err as Error)?.message));
}

/** Keeps a live completion's hold from being taken for a crashed one's by the expiry sweep. */
export async function extendHold(db: Db, completionId: string, until: Date): Promise<void> {
  await db.$executeRaw`UPDATE completions SET hold_expires_at = ${until} WHERE id = ${completionId}::uuid AND status = 'RUNNING'`;
}

export interface Outcome {
  status: Exclude<CompletionStatus, 'RUNNING'>;
  charge: number;
  inputTokens: number | null;
  outputTokens: number | null;
  inputEstimated?: boolean;
  outputEstimated?: boolean;
  deliveredChars?: number;
  /** Input tokens served from the provider's cache (part of inputTokens), and what they saved in credits. */
  cachedInputTokens?: number | null;
  cacheSaving?: number;
  errorCode?: string | null;
  now: Date;
}

export interface Settlement {
  creditsCharged: number;
  balance: number;
}

/** How the bill was reached, for the RELEASE row's note: which figures were reported and which estimated. */
function basis(o: Outcome): string {
  const figure = (n: number | null, estimated?: boolean) =>
    n == null ? 'none' : `${n} ${estimated ? 'estimated' : 'reported'}`;
  return `input tokens ${figure(o.inputTokens, o.inputEstimated)}, output tokens ${figure(o.outputTokens, o.outputEstimated)}, ${o.deliveredChars ?? 0} characters delivered`;
}

/**
 * Settles a completion once. A second settlement (the expiry sweep racing a slow stream, or a cancellation racing
 * the stream's own end) changes nothing and returns what the first one recorded.
 */
export async function settleCompletion(l: LedgerDeps, completionId: string, o: Outcome): Promise<Settlement> {
  const charge = Math.max(0, Math.ceil(o.charge));
  const note = basis(o);
  // A credits completion still running (charged within its hold or above it) in one statement, batched with the
  // settlements that arrive while the previous batch is in flight (ledger-batches.ts): one round trip, the org row
  // locked for one statement, one commit flush for the batch.
  for (let attempt = 1; ; attempt++) {
    const fast = await settleBatches(l.db).submit('settlements', {
      completion_id: completionId,
      status: o.status,
      settled_at: o.now.toISOString(),
      charge,
      input_tokens: o.inputTokens,
      output_tokens: o.outputTokens,
      input_estimated: o.inputEstimated ?? false,
      output_estimated: o.outputEstimated ?? false,
      delivered_chars: o.deliveredChars ?? 0,
      error_code: o.errorCode ?? null,
      cached_input_tokens: o.cachedInputTokens ?? null,
      cache_saving: o.cacheSaving ?? 0,
      note,
      ledger_id: randomUUID(),
    });
    if (fast.settled) {
      balanceMoved(l, fast.org!, fast.balance!);
      return { creditsCharged: fast.charged!, balance: fast.balance! };
    }
    const settled = await settleWithoutMovement(l.db, completionId, o);
    if (settled) return settled;
    // Converted to credits between the two (once at most: BYOK to credits, never back).
    if (attempt === 2) throw new Error(`completion ${completionId} is still running on credits after two settlements`);
  }
}

interface SettleItem {
  completion_id: string;
  status: string;
  settled_at: string;
  charge: number;
  input_tokens: number | null;
  output_tokens: number | null;
  input_estimated: boolean;
  output_estimated: boolean;
  delivered_chars: number;
  error_code: string | null;
  cached_input_tokens: number | null;
  cache_saving: number;
  note: string;
  ledger_id: string;
}
type SettleResult = { settled: boolean; charged: number | null; balance: number | null; org: string | null };

const settleBatches = (db: Db) =>
  groupCommitFor<SettleItem, SettleResult>(
    db,
    'settlements',
    () =>
      new GroupCommit<SettleItem, SettleResult>((items) =>
        callBatch<SettleResult & { idx: number }>(
          db,
          'SELECT idx, settled, charged, balance, org::text FROM ivy_settle_completions($1::jsonb)',
          items,
        ),
      ),
  );

/**
 * What the settlement batch leaves: a BYOK completion (settled with no ledger movement: its provider bills the member)
 * or one already settled (the sweep racing a slow stream, a cancellation racing the stream's end), which keeps what
 * its first settlement recorded. Null when the completion turned into a credits one after the batch looked at it (a
 * fallback's hold, committed meanwhile): the batch settles it then.
 */
async function settleWithoutMovement(db: Db, completionId: string, o: Outcome): Promise<Settlement | null> {
  const [byok] = await db.$queryRaw<{ balance: number }[]>`
    WITH claimed AS (
      UPDATE completions SET status = ${o.status}::"CompletionStatus", settled_at = ${o.now}, error_code = ${o.errorCode ?? null}
      WHERE id = ${completionId}::uuid AND status = 'RUNNING' AND billing = 'BYOK'
      RETURNING org_id
    )
    SELECT o.credit_balance AS balance FROM claimed JOIN orgs o ON o.id = claimed.org_id`;
  if (byok) return { creditsCharged: 0, balance: byok.balance };
  // A statement of its own: it sees what committed while the claim above waited for the row.
  const done = await db.completion.findUniqueOrThrow({
    where: { id: completionId },
    select: { status: true, creditsCharged: true, org: { select: { creditBalance: true } } },
  });
  if (done.status === 'RUNNING') return null;
  return { creditsCharged: done.creditsCharged, balance: done.org.creditBalance };
}

/** Releases, in full, holds whose process never settled them (it crashed or lost its database). */
export async function releaseExpiredHolds(l: LedgerDeps, now: Date): Promise<number> {
  const stale = await l.db.completion.findMany({
    where: { status: 'RUNNING', holdExpiresAt: { lte: now } },
    select: { id: true },
    take: 500,
  });
  for (const { id } of stale) {
    await settleCompletion(l, id, {
      status: 'EXPIRED',
      charge: 0,
      inputTokens: null,
      outputTokens: null,
      errorCode: 'HOLD_EXPIRED',
      now,
    });
  }
  return stale.length;
}

/** Adds credits (an operator's top-up; there is no API for it). An open overage is paid off first. */
export async function grantCredits(
  l: LedgerDeps,
  orgSlug: string,
  amount: number,
  note: string,
): Promise<{ orgId: string; balance: number; overagePaid: number }> {
  if (!Number.isInteger(amount) || amount <= 0)
    refuse('BAD_USER_INPUT', 'The amount must be a positive whole number of credits.');
  const granted = await l.db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string; credit_balance: number; overage_owed: number }[]>`
      UPDATE orgs SET credit_balance = credit_balance + ${amount} WHERE slug = ${orgSlug} RETURNING id, credit_balance, overage_owed`;
    if (rows.length === 0) refuse('BAD_USER_INPUT', `No org with slug "${orgSlug}".`);
    const { id: orgId, credit_balance: granted, overage_owed: owed } = rows[0];
    await tx.creditLedgerEntry.create({ data: { orgId, kind: 'GRANT', amount, balanceAfter: granted, note } });
    const overagePaid = Math.min(owed, granted);
    let balance = granted;
    if (overagePaid > 0) {
      balance = granted - overagePaid;
      await tx.$executeRaw`UPDATE orgs SET credit_balance = ${balance}, overage_owed = overage_owed - ${overagePaid} WHERE id = ${orgId}::uuid`;
      await tx.creditLedgerEntry.create({
        data: {
          orgId,
          kind: 'OVERAGE',
          amount: -overagePaid,
          balanceAfter: balance,
          note: 'open overage paid off by a grant',
        },
      });
    }
    await recordAudit(tx, { orgId, actorId: null, action: 'credits.granted', detail: { amount, note, overagePaid } });
    return { orgId, balance, overagePaid };
  });
  balanceMoved(l, granted.orgId, granted.balance);
  return granted;
}

/** The balance and any open overage, for `npm run credits -- balance`. */
export async function creditStatement(db: Db, orgSlug: string): Promise<{ balance: number; overageOwed: number }> {
  const org = await db.org.findUnique({ where: { slug: orgSlug }, select: { creditBalance: true, overageOwed: true } });
  if (!org) return refuse('BAD_USER_INPUT', `No org with slug "${orgSlug}".`);
  return { balance: org.creditBalance, overageOwed: org.overageOwed };
}
