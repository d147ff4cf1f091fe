// Settings → Usage. In credits mode Intervy bills each completion and can list them; in BYOK mode calls go straight
// to the member's provider, so there is nothing to list and the page points at the provider's own dashboard.
import { loadOrg } from './orgs.ts';
import { effectiveProvider } from './grace-window.ts';
import type { Services } from './services.ts';
import { VENDORS } from './vendors.ts';

export interface UsageSummary {
  orgId: string;
  trackingAvailable: boolean;
  notice: string | null;
  providerDashboardUrl: string | null;
  totalCreditsCharged: number;
  openOverageCredits: number;
}

export async function usageSummary(s: Services, orgId: string): Promise<UsageSummary> {
  const org = await loadOrg(s.db, orgId);
  const provider = effectiveProvider(org, s.clock.now());
  const { _sum } = await s.db.completion.aggregate({
    where: { orgId, billing: 'CREDITS' },
    _sum: { creditsCharged: true },
  });
  const totalCreditsCharged = _sum.creditsCharged ?? 0;
  if (provider === 'INTERVY_CREDITS') {
    return {
      orgId,
      trackingAvailable: true,
      notice: null,
      providerDashboardUrl: null,
      totalCreditsCharged,
      openOverageCredits: org.overageOwed,
    };
  }
  const { dashboard } = VENDORS[provider];
  return {
    orgId,
    trackingAvailable: false,
    notice:
      `Usage tracking is not available in BYOK mode. Because Ivy routes calls directly to your provider, Intervy does not ` +
      `receive the data needed to build a usage log. To review usage and costs, open the ${dashboard.name}.`,
    providerDashboardUrl: dashboard.url,
    totalCreditsCharged,
    openOverageCredits: org.overageOwed,
  };
}
