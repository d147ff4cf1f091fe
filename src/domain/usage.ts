// Settings → Usage. In credits mode Intervy bills each completion and can list them; in BYOK mode calls go straight
// to the member's provider, so there is nothing to list and the page points at the provider's own dashboard.
import { loadOrg } from './orgs.ts';
import { effectiveProvider } from './grace-window.ts';
import type { Services } from './services.ts';
import { VENDORS } from './vendors.ts';
import { refuse } from '../lib/errors.ts';

/** The widest date range the Usage page may ask for in one request. */
export const MAX_USAGE_RANGE_DAYS = 366;

/** A half-open range [from, to) of completion times; an empty one is every completion. */
export interface UsageRange {
  from?: Date;
  to?: Date;
}

/**
 * Checks the Usage page's date range: both ends or neither, `from` before `to`, at most MAX_USAGE_RANGE_DAYS wide.
 * Refusals are BAD_USER_INPUT and name what to change.
 */
export function usageRange(from: Date | null | undefined, to: Date | null | undefined): UsageRange {
  if (!from && !to) return {};
  if (!from || !to) return refuse('BAD_USER_INPUT', 'Give both `from` and `to`, or neither (every completion).');
  if (from.getTime() >= to.getTime()) {
    return refuse('BAD_USER_INPUT', '`from` must be before `to`: the range is [from, to), in UTC.');
  }
  if (to.getTime() - from.getTime() > MAX_USAGE_RANGE_DAYS * 86_400_000) {
    return refuse('BAD_USER_INPUT', `The range is wider than ${MAX_USAGE_RANGE_DAYS} days: ask for a shorter one.`);
  }
  return { from, to };
}

/** The completions the Usage page shows for a range: the org's credits-billed ones. */
export function usageWhere(orgId: string, range: UsageRange) {
  return {
    orgId,
    billing: 'CREDITS' as const,
    ...(range.from && range.to ? { createdAt: { gte: range.from, lt: range.to } } : {}),
  };
}

/** One member's credits-mode usage in a range. */
export interface MemberUsage {
  userId: string;
  completions: number;
  creditsCharged: number;
  cacheSavingCredits: number;
  inputTokens: number;
  outputTokens: number;
}

/** Each member's usage in the range, most credits first (then by user id, so the order is stable). */
export async function usageByMember(s: Services, orgId: string, range: UsageRange): Promise<MemberUsage[]> {
  const rows = await s.db.completion.groupBy({
    by: ['userId'],
    where: usageWhere(orgId, range),
    _count: { _all: true },
    _sum: { creditsCharged: true, cacheSavingCredits: true, inputTokens: true, outputTokens: true },
  });
  return rows
    .map((r) => ({
      userId: r.userId,
      completions: r._count._all,
      creditsCharged: r._sum.creditsCharged ?? 0,
      cacheSavingCredits: r._sum.cacheSavingCredits ?? 0,
      inputTokens: r._sum.inputTokens ?? 0,
      outputTokens: r._sum.outputTokens ?? 0,
    }))
    .sort((a, b) => b.creditsCharged - a.creditsCharged || a.userId.localeCompare(b.userId));
}

export interface UsageSummary {
  orgId: string;
  range: UsageRange;
  trackingAvailable: boolean;
  notice: string | null;
  providerDashboardUrl: string | null;
  totalCreditsCharged: number;
  /** What prompt-cache reads saved against the full input price, over every credits completion. */
  totalCacheSavingCredits: number;
  openOverageCredits: number;
}

export async function usageSummary(s: Services, orgId: string, range: UsageRange = {}): Promise<UsageSummary> {
  const org = await loadOrg(s.db, orgId);
  const provider = effectiveProvider(org, s.clock.now());
  const { _sum } = await s.db.completion.aggregate({
    where: usageWhere(orgId, range),
    _sum: { creditsCharged: true, cacheSavingCredits: true },
  });
  const totalCreditsCharged = _sum.creditsCharged ?? 0;
  const totalCacheSavingCredits = _sum.cacheSavingCredits ?? 0;
  if (provider === 'INTERVY_CREDITS') {
    return {
      orgId,
      range,
      trackingAvailable: true,
      notice: null,
      providerDashboardUrl: null,
      totalCreditsCharged,
      totalCacheSavingCredits,
      openOverageCredits: org.overageOwed,
    };
  }
  const { dashboard } = VENDORS[provider];
  return {
    orgId,
    range,
    trackingAvailable: false,
    notice:
      `Usage tracking is not available in BYOK mode. Because Ivy routes calls directly to your provider, Intervy does not ` +
      `receive the data needed to build a usage log. To review usage and costs, open the ${dashboard.name}.`,
    providerDashboardUrl: dashboard.url,
    totalCreditsCharged,
    totalCacheSavingCredits,
    openOverageCredits: org.overageOwed,
  };
}
