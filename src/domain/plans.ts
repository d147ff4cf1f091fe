// Plan gating and the legacy grace window: which provider Ivy really uses for an org at a given instant.
import type { AiProvider, Plan } from '../generated/prisma/enums.ts';
import { DAY_MS } from '../lib/clock.ts';

export const GRACE_WINDOW_DAYS = 30;

/** The plans that include Bring Your Own Key. */
export const BYOK_PLANS: readonly Plan[] = ['GROWTH', 'ENTERPRISE'];

export function planAllowsByok(plan: Plan): boolean {
  return BYOK_PLANS.includes(plan);
}

export interface OrgAiState {
  plan: Plan;
  aiProvider: AiProvider;
  graceWindowEndsAt: Date | null;
}

export function graceWindowOpen(org: Pick<OrgAiState, 'graceWindowEndsAt'>, now: Date): boolean {
  return org.graceWindowEndsAt !== null && now.getTime() < org.graceWindowEndsAt.getTime();
}

/**
 * What Ivy uses right now. The saved BYOK provider counts on Growth and above, or on a lower plan while the legacy
 * grace window is open; otherwise Ivy draws on Intervy Credits, from the instant the window ends.
 */
export function effectiveProvider(org: OrgAiState, now: Date): AiProvider {
  if (org.aiProvider === 'INTERVY_CREDITS') return 'INTERVY_CREDITS';
  if (planAllowsByok(org.plan) || graceWindowOpen(org, now)) return org.aiProvider;
  return 'INTERVY_CREDITS';
}

/**
 * Whether an org may save `provider`: Intervy Credits always; Anthropic or OpenAI on Growth and above, or, below
 * Growth, only the provider it already had from the legacy move while its grace window is open.
 */
export function mayChooseProvider(org: OrgAiState, provider: AiProvider, now: Date): boolean {
  return (
    provider === 'INTERVY_CREDITS' ||
    planAllowsByok(org.plan) ||
    (graceWindowOpen(org, now) && provider === org.aiProvider)
  );
}

/** Whole days left, rounded up, so the banner says "1 day" on the last day rather than "0". */
export function daysRemaining(endsAt: Date, now: Date): number {
  return Math.max(0, Math.ceil((endsAt.getTime() - now.getTime()) / DAY_MS));
}
