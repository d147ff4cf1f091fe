// Org Settings → AI: the org's provider and default model, what a change would mean, and saving it.
import type { AiProvider, Plan } from '../generated/prisma/enums.ts';
import { forbidden, refuse } from '../lib/errors.ts';
import { recordAudit } from './audit.ts';
import type { AiModel } from './models.ts';
import {
  effectiveProvider,
  graceWindowView,
  mayChooseProvider,
  providerChangeEndsGraceWindow,
  type GraceWindowView,
} from './grace-window.ts';
import { loadOrg, lockOrg } from './orgs.ts';
import { planAllowsByok } from './plans.ts';
import { asVendor, vendorName } from './vendors.ts';
import type { Actor, Services } from './services.ts';

export interface OrgAiSettingsView {
  orgId: string;
  provider: AiProvider;
  effectiveProvider: AiProvider;
  model: AiModel;
  effectiveModel: AiModel;
  availableModels: readonly AiModel[];
  plan: Plan;
  byokAvailable: boolean;
  byokActive: boolean;
  graceWindow: GraceWindowView | null;
  updatedAt: Date;
}

export async function orgAiSettings(s: Services, orgId: string): Promise<OrgAiSettingsView> {
  const org = await loadOrg(s.db, orgId);
  const now = s.clock.now();
  const effective = effectiveProvider(org, now);
  const model = s.models.resolve(org.aiProvider, org.aiModel);
  return {
    orgId: org.id,
    provider: org.aiProvider,
    effectiveProvider: effective,
    model,
    effectiveModel: effective === org.aiProvider ? model : s.models.house,
    availableModels: s.models.all,
    plan: org.plan,
    byokAvailable: planAllowsByok(org.plan),
    byokActive: effective !== 'INTERVY_CREDITS',
    graceWindow: graceWindowView(org, now),
    updatedAt: org.updatedAt,
  };
}

function pickModel(s: Services, provider: AiProvider, modelId: string | null | undefined): AiModel {
  if (!modelId) return s.models.recommended(provider);
  const model = s.models.find(provider, modelId);
  if (!model) {
    const choices = s.models
      .forProvider(provider)
      .map((m) => m.id)
      .join(', ');
    return refuse('BAD_USER_INPUT', `"${modelId}" is not a ${provider} model. Choose one of: ${choices}.`);
  }
  return model;
}

/** Saves the org's provider and default model (Org Admins only; the schema enforces who). */
export async function updateProvider(
  s: Services,
  actor: Actor,
  input: { orgId: string; provider: AiProvider; model?: string | null },
): Promise<void> {
  const model = pickModel(s, input.provider, input.model);
  await s.db.$transaction(async (tx) => {
    // A concurrent plan change or sweep of the same org waits rather than interleaves.
    const org = await lockOrg(tx, { id: input.orgId });
    if (!org) return forbidden();
    if (!mayChooseProvider(org, input.provider, s.clock.now())) {
      refuse(
        'PLAN_UPGRADE_REQUIRED',
        `Bring Your Own Key is available on the Growth plan and above; this org is on ${org.plan}. Upgrade to use ${vendorName(asVendor(input.provider))}.`,
      );
    }
    const endsWindow = providerChangeEndsGraceWindow(org, input.provider);
    await tx.org.update({
      where: { id: input.orgId },
      data: {
        aiProvider: input.provider,
        aiModel: model.id,
        ...(endsWindow ? { graceWindowEndsAt: null } : {}),
      },
    });
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'ai_settings.provider_changed',
      detail: {
        from: { provider: org.aiProvider, model: org.aiModel },
        to: { provider: input.provider, model: model.id },
        ...(endsWindow ? { graceWindowEnded: true } : {}),
      },
    });
  });
  s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
}

export interface ProviderChangeImpact {
  provider: AiProvider;
  allowed: boolean;
  currentEffectiveProvider: AiProvider;
  creditsDeductedAfter: boolean;
  creditsStopBeingDeducted: boolean;
  creditsResumeBeingDeducted: boolean;
  usageTrackingAvailableAfter: boolean;
  membersTotal: number;
  membersWithKey: number;
  membersWithValidKey: number;
}

/** What the confirmation dialog shows before a provider change is saved. Counts only, never who. */
export async function providerChangeImpact(
  s: Services,
  orgId: string,
  provider: AiProvider,
): Promise<ProviderChangeImpact> {
  const org = await loadOrg(s.db, orgId);
  const now = s.clock.now();
  const current = effectiveProvider(org, now);
  const allowed = mayChooseProvider(org, provider, now);
  const after = allowed ? effectiveProvider({ ...org, aiProvider: provider }, now) : current;
  const [membersTotal, membersWithKey, membersWithValidKey] =
    provider === 'INTERVY_CREDITS'
      ? [await s.db.membership.count({ where: { orgId } }), 0, 0]
      : await Promise.all([
          s.db.membership.count({ where: { orgId } }),
          s.db.personalApiKey.count({ where: { orgId, provider, user: { memberships: { some: { orgId } } } } }),
          s.db.personalApiKey.count({
            where: { orgId, provider, status: 'VALID', user: { memberships: { some: { orgId } } } },
          }),
        ]);
  return {
    provider,
    allowed,
    currentEffectiveProvider: current,
    creditsDeductedAfter: after === 'INTERVY_CREDITS',
    creditsStopBeingDeducted: current === 'INTERVY_CREDITS' && after !== 'INTERVY_CREDITS',
    creditsResumeBeingDeducted: current !== 'INTERVY_CREDITS' && after === 'INTERVY_CREDITS',
    usageTrackingAvailableAfter: after === 'INTERVY_CREDITS',
    membersTotal,
    membersWithKey,
    membersWithValidKey,
  };
}
