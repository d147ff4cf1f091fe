// Plan changes. Billing owns them; until it calls us, the operator command `npm run plan -- set <slug> <PLAN>` does.
//
// An upgrade to a BYOK plan clears any legacy grace window: BYOK now works on the plan's own merit. Whatever provider
// is saved at that moment stays, so an org whose window ended but was not yet swept keeps its BYOK provider; one the
// sweep already switched back to Intervy Credits stays there until an admin picks BYOK again. A downgrade changes only
// the plan: a saved BYOK provider stays saved, and effectiveProvider stops using it at once.
import type { Plan } from '../generated/prisma/enums.ts';
import type { Db } from '../lib/database.ts';
import { refuse } from '../lib/errors.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { lockOrg } from './orgs.ts';
import { planChangeClearsGraceWindow } from './grace-window.ts';

export interface PlanChange {
  orgId: string;
  slug: string;
  from: Plan;
  to: Plan;
  graceWindowCleared: boolean;
  /** False when the org was already on that plan with nothing to clear. */
  changed: boolean;
}

export async function setOrgPlan(
  deps: { db: Db; pubsub?: Pick<AppPubSub, 'publish'> },
  slug: string,
  plan: Plan,
): Promise<PlanChange> {
  const change = await deps.db.$transaction(async (tx) => {
    // Row lock: the sweeper and provider changes re-read the plan after this commits.
    const org = await lockOrg(tx, { slug });
    if (!org) return refuse('BAD_USER_INPUT', `No org with slug "${slug}".`);
    const graceWindowCleared = planChangeClearsGraceWindow(org, plan);
    const result: PlanChange = {
      orgId: org.id,
      slug,
      from: org.plan,
      to: plan,
      graceWindowCleared,
      changed: org.plan !== plan || graceWindowCleared,
    };
    if (!result.changed) return result;
    await tx.org.update({
      where: { id: org.id },
      data: { plan, ...(graceWindowCleared ? { graceWindowEndsAt: null } : {}) },
    });
    await recordAudit(tx, {
      orgId: org.id,
      actorId: null,
      action: 'plan.changed',
      detail: {
        from: org.plan,
        to: plan,
        ...(graceWindowCleared
          ? { graceWindowCleared: true, graceWindowEndsAt: org.graceWindowEndsAt!.toISOString() }
          : {}),
      },
    });
    return result;
  });
  if (change.changed) deps.pubsub?.publish('orgAiSettingsChanged', change.orgId, { orgId: change.orgId });
  return change;
}
