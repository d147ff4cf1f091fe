// Ending legacy grace windows. Ivy already draws on credits from the instant a window ends (effectiveProvider); this
// sweep saves that switch so the setting page says so too. It runs in every server (src/jobs.ts) and as `npm run grace:sweep`.
//
// After the sweep the org keeps graceWindowEndsAt, so the banner can say the window ended on that date
// (graceWindow.active false, daysRemaining 0). An upgrade to Growth, or an admin saving a provider, clears it.
import type { AiProvider } from '../generated/prisma/enums.ts';
import type { Clock } from '../lib/clock.ts';
import type { Db } from '../lib/database.ts';
import type { Logger } from '../lib/logger.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { BYOK_PLANS, effectiveProvider, type OrgAiState } from './plans.ts';

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
      await tx.$queryRaw`SELECT 1 FROM orgs WHERE id = ${id}::uuid FOR UPDATE`;
      const org = await tx.org.findUnique({ where: { id } });
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
