// ivyCompletionEstimate: what a request would hold, against the org's balance and the member's remaining cap, so the
// Ivy panel can warn before a long request. It goes through the same planning as the request itself, and places
// nothing.
import { DomainError, type ErrorCode } from '../lib/errors.ts';
import type { AiProvider } from '../generated/prisma/enums.ts';
import { loadOrg } from './orgs.ts';
import { planCompletion, type FallbackReason, type IvyCompletionInput } from './ivy-plan.ts';
import type { BillingMode } from './ivy.ts';
import { capResetsAt, memberCapOf, spendMonth } from './member-caps.ts';
import type { Actor, Services } from './services.ts';

export interface CompletionEstimate {
  billing: BillingMode;
  provider: AiProvider;
  model: string | null;
  fallbackReason: FallbackReason | null;
  /** The hold the request would place now (0 in BYOK mode: the provider bills the member's key). */
  holdCredits: number;
  creditBalance: number;
  memberCap: number | null;
  spentThisMonth: number;
  remainingCap: number | null;
  capResetsAt: Date;
  /** The refusal the request would meet now, if any. */
  refusal: ErrorCode | null;
}

export async function estimateCompletion(
  s: Services,
  actor: Actor,
  input: IvyCompletionInput,
): Promise<CompletionEstimate> {
  const now = s.clock.now();
  const cap = await memberCapOf(s.db, input.orgId, actor.userId, spendMonth(now));
  const remainingCap = cap.cap == null ? null : Math.max(0, cap.cap - cap.spent);
  const member = { memberCap: cap.cap, spentThisMonth: cap.spent, remainingCap, capResetsAt: capResetsAt(now) };
  let plan;
  try {
    plan = await planCompletion(s, actor, input);
  } catch (err) {
    if (!(err instanceof DomainError) || err.code !== 'NO_API_KEY') throw err;
    const org = await loadOrg(s.db, input.orgId);
    return {
      ...member,
      billing: 'BYOK',
      provider: org.aiProvider,
      model: null,
      fallbackReason: null,
      holdCredits: 0,
      creditBalance: org.creditBalance,
      refusal: 'NO_API_KEY',
    };
  }
  const { route } = plan;
  // The plan's org is its cached settings; the balance is always read fresh.
  const org = await loadOrg(s.db, input.orgId);
  const hold = route.billing === 'CREDITS' ? route.holdAmount : 0;
  const refusal: ErrorCode | null =
    hold > org.creditBalance
      ? 'INSUFFICIENT_CREDITS'
      : remainingCap != null && hold > remainingCap
        ? 'MEMBER_CAP_REACHED'
        : null;
  return {
    ...member,
    billing: route.billing,
    provider: plan.provider,
    model: route.model.id,
    fallbackReason: route.billing === 'CREDITS' ? route.fallbackReason : null,
    holdCredits: hold,
    creditBalance: org.creditBalance,
    refusal,
  };
}
