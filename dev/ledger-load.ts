// Drives the credit ledger the way completions do, without HTTP or a provider: each "completion" places its hold
// (reserveCredits), then settles once (settleCompletion) as finished, cancelled part-way, failed, or charged above
// its hold, with a few repeated requestIds. A few start as BYOK answers whose key is refused and move to credits
// (holdForFallback), some of them settled (Stop) before their fallback hold, which must then hold nothing. Used by the ledger test (10,000 on one org, 64 in flight) and by the bench
// (completions per second on one org). checkLedger then checks the org's books to the credit.
import {
  holdForFallback,
  recordByokCompletion,
  reserveCredits,
  settleCompletion,
  type LedgerDeps,
} from '../src/domain/credits.ts';
import { spendMonth } from '../src/domain/member-caps.ts';
import type { Db } from '../src/lib/database.ts';
import { DomainError } from '../src/lib/errors.ts';

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LedgerLoad {
  orgId: string;
  memberIds: string[];
  total: number;
  inFlight: number;
  seed: number;
}

export interface LedgerLoadResult {
  elapsedMs: number;
  /** Holds placed and settled. */
  settled: number;
  duplicates: number;
  insufficient: number;
  capped: number;
  /** What settleCompletion reported charging, summed. */
  charged: number;
  outcomes: Record<string, number>;
  /** Anything other than a settlement, DUPLICATE_REQUEST, INSUFFICIENT_CREDITS or MEMBER_CAP_REACHED. */
  unexpected: string[];
}

export async function runLedgerLoad(l: LedgerDeps, load: LedgerLoad): Promise<LedgerLoadResult> {
  const rand = prng(load.seed);
  const month = spendMonth(new Date());
  const result: LedgerLoadResult = {
    elapsedMs: 0,
    settled: 0,
    duplicates: 0,
    insufficient: 0,
    capped: 0,
    charged: 0,
    outcomes: {},
    unexpected: [],
  };
  // Plans are drawn up front so the run is the same for a seed, whatever the interleaving.
  const used: string[] = [];
  const plans = Array.from({ length: load.total }, (_, i) => {
    const repeat = used.length > 0 && rand() < 0.02;
    const requestId = repeat ? used[Math.floor(rand() * used.length)] : `load-${load.seed}-${i}`;
    if (!repeat) used.push(requestId);
    const hold = 20 + Math.floor(rand() * 200);
    const roll = rand();
    const kind =
      roll < 0.67
        ? 'finished'
        : roll < 0.82
          ? 'cancelled'
          : roll < 0.94
            ? 'failed'
            : roll < 0.97
              ? 'overage'
              : roll < 0.995
                ? 'fallback'
                : 'fallback-stopped';
    const charge =
      kind === 'finished' || kind === 'fallback'
        ? Math.floor(rand() * (hold + 1))
        : kind === 'cancelled'
          ? Math.floor(rand() * (hold / 2))
          : kind === 'failed'
            ? 0
            : hold + 1 + Math.floor(rand() * 50);
    return { requestId, userId: load.memberIds[i % load.memberIds.length], hold, kind, charge };
  });
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const plan = plans[next++];
      if (!plan) return;
      if (plan.kind === 'fallback' || plan.kind === 'fallback-stopped') {
        await fallback(plan);
        continue;
      }
      let completionId: string;
      try {
        ({ completionId } = await reserveCredits(l, {
          orgId: load.orgId,
          userId: plan.userId,
          requestId: plan.requestId,
          vendor: 'ANTHROPIC',
          model: 'claude-haiku-5-5',
          holdExpiresAt: new Date(Date.now() + 600_000),
          holdAmount: plan.hold,
          spendMonth: month,
        }));
      } catch (err) {
        if (err instanceof DomainError && err.code === 'DUPLICATE_REQUEST') result.duplicates++;
        else if (err instanceof DomainError && err.code === 'INSUFFICIENT_CREDITS') result.insufficient++;
        else if (err instanceof DomainError && err.code === 'MEMBER_CAP_REACHED') result.capped++;
        else result.unexpected.push(`hold: ${String(err)}`);
        continue;
      }
      try {
        const status = plan.kind === 'cancelled' ? 'CANCELLED' : plan.kind === 'failed' ? 'FAILED' : 'SUCCEEDED';
        const settlement = await settleCompletion(l, completionId, {
          status,
          charge: plan.charge,
          inputTokens: 10,
          outputTokens: plan.charge,
          errorCode: plan.kind === 'failed' ? 'PROVIDER_UNAVAILABLE' : null,
          now: new Date(),
        });
        result.settled++;
        result.charged += settlement.creditsCharged;
        result.outcomes[plan.kind] = (result.outcomes[plan.kind] ?? 0) + 1;
      } catch (err) {
        result.unexpected.push(`settle: ${String(err)}`);
      }
    }
  };
  const refused = (err: unknown, at: string) => {
    if (err instanceof DomainError && err.code === 'DUPLICATE_REQUEST') result.duplicates++;
    else if (err instanceof DomainError && err.code === 'INSUFFICIENT_CREDITS') result.insufficient++;
    else if (err instanceof DomainError && err.code === 'MEMBER_CAP_REACHED') result.capped++;
    else result.unexpected.push(`${at}: ${String(err)}`);
  };
  // A BYOK answer whose key is refused before any text, moved to credits (or stopped by the member first).
  const fallback = async (plan: (typeof plans)[number]) => {
    const request = { orgId: load.orgId, userId: plan.userId, vendor: 'ANTHROPIC' as const, model: 'claude-haiku-5-5' };
    let completionId: string;
    try {
      completionId = await recordByokCompletion(l.db, {
        ...request,
        requestId: plan.requestId,
        holdExpiresAt: new Date(Date.now() + 600_000),
      });
    } catch (err) {
      return refused(err, 'byok');
    }
    const settle = (status: 'SUCCEEDED' | 'CANCELLED' | 'FAILED', charge: number) =>
      settleCompletion(l, completionId, {
        status,
        charge,
        inputTokens: 10,
        outputTokens: charge,
        errorCode: status === 'FAILED' ? 'PROVIDER_AUTH_FAILED' : status === 'CANCELLED' ? 'CANCELLED' : null,
        now: new Date(),
      });
    try {
      if (plan.kind === 'fallback-stopped') await settle('CANCELLED', 0);
      const hold = await holdForFallback(l, completionId, {
        ...request,
        holdAmount: plan.hold,
        spendMonth: month,
        fallbackReason: 'PROVIDER_AUTH_FAILED',
      }).catch(async (err: unknown) => {
        await settle('FAILED', 0); // refused: the answer ends on the member's key, nothing charged
        throw err;
      });
      if (plan.kind === 'fallback-stopped') {
        if (hold) result.unexpected.push('fallback: a hold placed for a completion already settled');
      } else if (!hold) {
        result.unexpected.push('fallback: no hold for a running completion');
        return;
      }
      const settlement = plan.kind === 'fallback' ? await settle('SUCCEEDED', plan.charge) : { creditsCharged: 0 };
      result.settled++;
      result.charged += settlement.creditsCharged;
      result.outcomes[plan.kind] = (result.outcomes[plan.kind] ?? 0) + 1;
    } catch (err) {
      refused(err, 'fallback');
    }
  };
  await Promise.all(Array.from({ length: load.inFlight }, worker));
  result.elapsedMs = performance.now() - t0;
  return result;
}

export interface LedgerCheck {
  balance: number;
  overageOwed: number;
  /** GRANTs + HOLDs + RELEASEs + OVERAGEs for the org. */
  ledgerSum: number;
  grants: number;
  /** credits_charged summed over the org's settled completions. */
  chargedInDb: number;
  running: number;
  /** Credits completions whose HOLD or RELEASE row is missing or doubled, and BYOK ones with any ledger row. */
  badlySettled: number;
  negativeBalanceRows: number;
  /** Members whose month's spend differs from what their completions were charged. */
  spendMismatches: number;
}

/** The org's books, read back from the database. */
export async function checkLedger(db: Db, orgId: string): Promise<LedgerCheck> {
  const [org] = await db.$queryRaw<{ credit_balance: number; overage_owed: number }[]>`
    SELECT credit_balance, overage_owed FROM orgs WHERE id = ${orgId}::uuid`;
  const [sums] = await db.$queryRaw<{ total: bigint; grants: bigint; negative: bigint }[]>`
    SELECT COALESCE(SUM(amount), 0) AS total, COALESCE(SUM(amount) FILTER (WHERE kind = 'GRANT'), 0) AS grants,
           COUNT(*) FILTER (WHERE balance_after < 0) AS negative
    FROM credit_ledger WHERE org_id = ${orgId}::uuid`;
  const [comp] = await db.$queryRaw<{ charged: bigint; running: bigint; bad: bigint }[]>`
    SELECT COALESCE(SUM(c.credits_charged), 0) AS charged,
           COUNT(*) FILTER (WHERE c.status = 'RUNNING') AS running,
           COUNT(*) FILTER (WHERE (c.billing = 'CREDITS' AND (
             (SELECT COUNT(*) FROM credit_ledger l WHERE l.completion_id = c.id AND l.kind = 'HOLD') <> 1 OR
             (SELECT COUNT(*) FROM credit_ledger l WHERE l.completion_id = c.id AND l.kind = 'RELEASE') <> (CASE WHEN c.status = 'RUNNING' THEN 0 ELSE 1 END)
           )) OR (c.billing = 'BYOK' AND EXISTS (SELECT 1 FROM credit_ledger l WHERE l.completion_id = c.id))) AS bad
    FROM completions c WHERE c.org_id = ${orgId}::uuid`;
  const [spend] = await db.$queryRaw<{ mismatches: bigint }[]>`
    SELECT COUNT(*) AS mismatches FROM (
      SELECT c.user_id, c.spend_month, SUM(CASE WHEN c.status = 'RUNNING' THEN c.hold_amount ELSE c.credits_charged END) AS expected
      FROM completions c WHERE c.org_id = ${orgId}::uuid AND c.billing = 'CREDITS' GROUP BY c.user_id, c.spend_month
    ) e LEFT JOIN member_spend s ON s.org_id = ${orgId}::uuid AND s.user_id = e.user_id AND s.month = e.spend_month
    WHERE COALESCE(s.spent, 0) <> e.expected`;
  return {
    balance: org.credit_balance,
    overageOwed: org.overage_owed,
    ledgerSum: Number(sums.total),
    grants: Number(sums.grants),
    chargedInDb: Number(comp.charged),
    running: Number(comp.running),
    badlySettled: Number(comp.bad),
    negativeBalanceRows: Number(sums.negative),
    spendMismatches: Number(spend.mismatches),
  };
}
