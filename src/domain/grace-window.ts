// The legacy grace window, whole: the legacy BYOK move opens it (30 days, below Growth only), it keeps the saved BYOK
// provider in use until its end, an admin switching back to Intervy Credits ends it, an upgrade to a BYOK plan clears
// it, and the sweep saves the switch back once it has ended. Everyone else asks this file; nobody else computes it.
//
// Ivy already draws on credits from the instant a window ends (effectiveProvider); the sweep saves that switch so the
// setting page says so too. It runs in every server (src/jobs.ts) and as `npm run grace:sweep`. After the sweep the
// org keeps graceWindowEndsAt, so the banner can say the window ended on that date (active false, daysRemaining 0).
import type { AiProvider, Plan } from '../generated/prisma/enums.ts';
import { DAY_MS, type Clock } from '../lib/clock.ts';
import type { Db } from '../lib/database.ts';
import type { Logger } from '../lib/logger.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { lockOrg } from './orgs.ts';
import { BYOK_PLANS, planAllowsByok, type OrgAiState } from './plans.ts';

export const GRACE_WINDOW_DAYS = 30;

/** When the window the legacy move grants ends: an org below Growth gets 30 days from the move, one on it none. */
export function openGraceWindow(plan: Plan, movedAt: Date): Date | null {
  return planAllowsByok(plan) ? null : new Date(movedAt.getTime() + GRACE_WINDOW_DAYS * DAY_MS);
}

/** Open (active) up to, not including, its end. */
export function graceWindowOpen(org: Pick<OrgAiState, 'graceWindowEndsAt'>, now: Date): boolean {
  return org.graceWindowEndsAt !== null && now.getTime() < org.graceWindowEndsAt.getTime();
}

/** Whole days left, rounded up, so the banner says "1 day" on the last day rather than "0". */
export function daysRemaining(endsAt: Date, now: Date): number {
  return Math.max(0, Math.ceil((endsAt.getTime() - now.getTime()) / DAY_MS));
}

export interface GraceWindowView {
  endsAt: Date;
  active: boolean;
  daysRemaining: number;
}

/** What the settings banner shows; null when the org has no window (never had one, or it was ended or cleared). */
export function graceWindowView(org: Pick<OrgAiState, 'graceWindowEndsAt'>, now: Date): GraceWindowView | null {
  const endsAt = org.graceWindowEndsAt;
  return endsAt ? { endsAt, active: graceWindowOpen(org, now), daysRemaining: daysRemaining(endsAt, now) } : null;
}

/** Switching back to credits ends a window: there is nothing left for it to protect. */
export function providerChangeEndsGraceWindow(org: Pick<OrgAiState, 'graceWindowEndsAt'>, to: AiProvider): boolean {
  return to === 'INTERVY_CREDITS' && org.graceWindowEndsAt !== null;
}

/**
 * An upgrade to a BYOK plan clears a window: BYOK then works on the plan's own merit. Whatever provider is saved at
 * that moment stays (plans-admin.ts). A downgrade clears nothing.
 */
export function planChangeClearsGraceWindow(org: Pick<OrgAiState, 'graceWindowEndsAt'>, to: Plan): boolean {
  return planAllowsByok(to) && org.graceWindowEndsAt !== null;
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
 * Why an org may not save `provider`, or null when it may. Intervy Credits is always allowed; Anthropic or OpenAI on
 * Growth and above, or, below Growth, only the provider it already had from the legacy move while its grace window is
 * open. Each refusal is lifted by the lowest plan that includes BYOK.
 *   PLAN_EXCLUDES_BYOK            the plan has no BYOK and the org has no grace window (never had one, or left it)
 *   GRACE_WINDOW_OTHER_PROVIDER   the window is open, but it keeps only the provider the org already had
 *   GRACE_WINDOW_ENDED            the window has ended
 */
export type ProviderRefusal = 'PLAN_EXCLUDES_BYOK' | 'GRACE_WINDOW_OTHER_PROVIDER' | 'GRACE_WINDOW_ENDED';

export function providerRefusal(
  org: OrgAiState,
  provider: AiProvider,
  now: Date,
): { reason: ProviderRefusal; requiredPlan: Plan } | null {
  if (provider === 'INTERVY_CREDITS' || planAllowsByok(org.plan)) return null;
  const requiredPlan = BYOK_PLANS[0];
  if (org.graceWindowEndsAt === null) return { reason: 'PLAN_EXCLUDES_BYOK', requiredPlan };
  if (!graceWindowOpen(org, now)) return { reason: 'GRACE_WINDOW_ENDED', requiredPlan };
  return provider === org.aiProvider ? null : { reason: 'GRACE_WINDOW_OTHER_PROVIDER', requiredPlan };
}

/** Whether an org may save `provider` (providerRefusal has none). */
export function mayChooseProvider(org: OrgAiState, provider: AiProvider, now: Date): boolean {
  return providerRefusal(org, provider, now) === null;
}

/** Saving `to` now would end a window that is still open (the confirmation dialog says so before it is saved). */
export function providerChangeEndsOpenGraceWindow(org: OrgAiState, to: AiProvider, now: Date): boolean {
  return graceWindowOpen(org, now) && providerChangeEndsGraceWindow(org, to);
}

/** The org saved a BYOK provider that only its grace window allowed, and the window has ended. */
export function graceWindowNeedsSweep(org: OrgAiState, now: Date): boolean {
  return (
    org.graceWindowEndsAt !== null &&
    org.aiProvider !== 'INTERVY_CREDITS' &&
    effectiveProvider(org, now) === 'INTERVY_CREDITS'
  );
}

export interface GraceSweepDeps {
  db: Db;
  clock: Clock;
  pubsub?: Pick<AppPubSub, 'publish'>;
  log?: Pick<Logger, 'info'>;
}

export interface EndedGraceWindow {
  orgId: string;
  slug: string;
  from: { provider: AiProvider; model: string | null };
  endedAt: Date;
}

/**
 * Switches every org whose window has ended back to Intervy Credits, one transaction per org, with an audit event and
 * a settings event each. Safe to run twice at once: each org is re-checked under a row lock, so one run wins.
 */
export async function sweepEndedGraceWindows(deps: GraceSweepDeps): Promise<EndedGraceWindow[]> {
  const now = deps.clock.now();
  const due = await deps.db.org.findMany({
    where: {
      graceWindowEndsAt: { lte: now },
      aiProvider: { not: 'INTERVY_CREDITS' },
      plan: { notIn: [...BYOK_PLANS] },
    },
    select: { id: true },
    orderBy: { graceWindowEndsAt: 'asc' },
  });
  const ended: EndedGraceWindow[] = [];
  for (const { id } of due) {
    const done = await deps.db.$transaction(async (tx) => {
      const org = await lockOrg(tx, { id });
      // Another server's sweep, an upgrade or an admin's own switch may have come first.
      if (!org || !graceWindowNeedsSweep(org, now)) return null;
      await tx.org.update({ where: { id }, data: { aiProvider: 'INTERVY_CREDITS', aiModel: null } });
      const from = { provider: org.aiProvider, model: org.aiModel };
      await recordAudit(tx, {
        orgId: id,
        actorId: null,
        action: 'ai_settings.grace_window_ended',
        detail: {
          from,
          to: { provider: 'INTERVY_CREDITS', model: null },
          graceWindowEndsAt: org.graceWindowEndsAt!.toISOString(),
        },
      });
      return { orgId: id, slug: org.slug, from, endedAt: org.graceWindowEndsAt! };
    });
    if (!done) continue;
    deps.pubsub?.publish('orgAiSettingsChanged', id, { orgId: id });
    deps.log?.info('grace window ended: switched back to Intervy Credits', { orgId: id });
    ended.push(done);
  }
  return ended;
}
