// Org Settings → AI: the org's provider and default model, what a change would mean, and saving it.
import type { Membership, PersonalApiKey } from '../generated/prisma/client.ts';
import type { AiProvider, Plan } from '../generated/prisma/enums.ts';
import type { OrgAiState } from './plans.ts';
import { forbidden, refuse } from '../lib/errors.ts';
import { recordAudit } from './audit.ts';
import { keyReadiness } from './key-readiness.ts';
import type { AiModel } from './models.ts';
import {
  effectiveProvider,
  daysRemaining,
  graceWindowView,
  providerChangeEndsGraceWindow,
  providerChangeEndsOpenGraceWindow,
  providerRefusal,
  type GraceWindowView,
  type ProviderRefusal,
} from './grace-window.ts';
import { loadOrg, lockOrg } from './orgs.ts';
import { BYOK_PLANS, planAllowsByok } from './plans.ts';
import { asVendor, vendorName } from './vendors.ts';
import { cacheKeys, type OrgSettings } from './read-caches.ts';
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
  /** A BYOK completion whose member has no usable key runs on Intervy Credits (an admin's consent). */
  fallbackToCredits: boolean;
  updatedAt: Date;
}

/** The settings as a request sees them: from the instance's cache (dropped by every change to the org's row). */
export async function orgAiSettings(s: Services, orgId: string): Promise<OrgAiSettingsView> {
  return settingsView(s, await s.caches.org(orgId));
}

function settingsView(s: Services, org: OrgSettings): OrgAiSettingsView {
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
    fallbackToCredits: org.fallbackToCredits,
    updatedAt: org.updatedAt,
  };
}

/**
 * What every local subscriber of one orgAiSettingsChanged event shares (issue 10): the org's settings, its members'
 * memberships and its members' keys, each read once per event and org when first asked, not once per subscriber
 * (3 statements per subscriber per event before: 10,000 subscribers took 7.3 s). Each subscriber then takes only
 * its own: its own membership (its access, its viewerCanManage) and its own keys. Read after the change is
 * committed and never reused for a later event, so a member removed or demoted is refused at the next event, on
 * every instance (each reads its own copy when the event reaches it): no cache to invalidate.
 */
export class OrgSettingsSnapshot {
  private view?: Promise<OrgAiSettingsView>;
  private members?: Promise<Map<string, Membership>>;
  private keys?: Promise<Map<string, PersonalApiKey[]>>;

  constructor(
    private readonly s: Services,
    readonly orgId: string,
  ) {}

  /** Read from the database, not the cache: the event may reach this instance before the change's notification. */
  settings(): Promise<OrgAiSettingsView> {
    return (this.view ??= loadOrg(this.s.db, this.orgId).then((org) => settingsView(this.s, org)));
  }

  async membership(userId: string): Promise<Membership | null> {
    this.members ??= this.s.db.membership
      .findMany({ where: { orgId: this.orgId } })
      .then((rows) => new Map(rows.map((m) => [m.userId, m])));
    return (await this.members).get(userId) ?? null;
  }

  /** The member's own keys in this org, by provider (as the Settings page lists them). */
  async keysOf(userId: string): Promise<PersonalApiKey[]> {
    this.keys ??= this.s.db.personalApiKey
      .findMany({ where: { orgId: this.orgId }, orderBy: { provider: 'asc' } })
      .then((rows) => {
        const byUser = new Map<string, PersonalApiKey[]>();
        for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row]);
        return byUser;
      });
    return (await this.keys).get(userId) ?? [];
  }
}

const snapshots = new WeakMap<object, OrgSettingsSnapshot>();

/** The snapshot of one delivered event (the same event object reaches every local subscriber of the org). */
export function snapshotOf(s: Services, event: object, orgId: string): OrgSettingsSnapshot {
  let snap = snapshots.get(event);
  if (!snap || snap.orgId !== orgId) snapshots.set(event, (snap = new OrgSettingsSnapshot(s, orgId)));
  return snap;
}

/** Turns the fallback to Intervy Credits on or off (Org Admins only; the schema enforces who). Audited. */
export async function setFallbackToCredits(
  s: Services,
  actor: Actor,
  input: { orgId: string; enabled: boolean },
): Promise<void> {
  await s.db.$transaction(async (tx) => {
    const org = (await lockOrg(tx, { id: input.orgId })) ?? forbidden();
    if (org.fallbackToCredits === input.enabled) return;
    await tx.org.update({ where: { id: input.orgId }, data: { fallbackToCredits: input.enabled } });
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'ai_settings.fallback_changed',
      detail: { fallbackToCredits: input.enabled },
    });
  });
  s.caches.invalidate(cacheKeys.org(input.orgId));
  s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
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

const PLAN_NAMES: Record<Plan, string> = { FREE: 'Free', GROWTH: 'Growth', ENTERPRISE: 'Enterprise' };
const day = (d: Date) => d.toISOString().slice(0, 10);

/** What the dialog (and a refused updateProvider) says about a refusal: the same words in both places. */
function refusalMessage(
  refusal: { reason: ProviderRefusal; requiredPlan: Plan },
  org: OrgAiState,
  provider: AiProvider,
): string {
  const wanted = vendorName(asVendor(provider));
  const upgrade = `Upgrade to ${PLAN_NAMES[refusal.requiredPlan]} to use ${wanted}.`;
  switch (refusal.reason) {
    case 'PLAN_EXCLUDES_BYOK':
      return `Bring Your Own Key is available on the ${PLAN_NAMES[refusal.requiredPlan]} plan and above; this org is on ${PLAN_NAMES[org.plan]}. ${upgrade}`;
    case 'GRACE_WINDOW_OTHER_PROVIDER':
      return `This org’s legacy BYOK grace window (until ${day(org.graceWindowEndsAt!)}) keeps only ${vendorName(asVendor(org.aiProvider))}, the provider it already had. ${upgrade}`;
    case 'GRACE_WINDOW_ENDED':
      return `This org’s legacy BYOK grace window ended on ${day(org.graceWindowEndsAt!)}, and the ${PLAN_NAMES[org.plan]} plan does not include Bring Your Own Key. ${upgrade}`;
  }
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
    const refusal = providerRefusal(org, input.provider, s.clock.now());
    if (refusal) refuse('PLAN_UPGRADE_REQUIRED', refusalMessage(refusal, org, input.provider));
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
  // Committed: this instance's next read sees it at once (the others when the row's notification reaches them).
  s.caches.invalidate(cacheKeys.org(input.orgId));
  s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
}

export interface ProviderChangeImpact {
  provider: AiProvider;
  allowed: boolean;
  /** Why it is not allowed, what the refusal says, and the plan that would allow it; all null when allowed. */
  refusalReason: ProviderRefusal | null;
  refusalMessage: string | null;
  requiredPlan: Plan | null;
  /** Saving it ends the org's open legacy grace window, for good; the notice says so in words. */
  endsGraceWindow: boolean;
  graceWindowNotice: string | null;
  currentEffectiveProvider: AiProvider;
  creditsDeductedAfter: boolean;
  creditsStopBeingDeducted: boolean;
  creditsResumeBeingDeducted: boolean;
  usageTrackingAvailableAfter: boolean;
  membersTotal: number;
  membersWithKey: number;
  membersWithValidKey: number;
  /** The same figures as orgAiSettings.keyReadiness, for the chosen provider (0 for Intervy Credits). */
  membersWithInvalidKey: number;
  membersWithUntestedKey: number;
  membersWithoutKey: number;
  keysNotTestedWithinInterval: number;
  /** Whether members without a usable key would fall back to credits (shown in the dialog). */
  fallbackToCredits: boolean;
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
  const refusal = providerRefusal(org, provider, now);
  const allowed = refusal === null;
  const endsGraceWindow = allowed && providerChangeEndsOpenGraceWindow(org, provider, now);
  const legacy = org.aiProvider === 'INTERVY_CREDITS' ? null : vendorName(asVendor(org.aiProvider));
  const after = allowed ? effectiveProvider({ ...org, aiProvider: provider }, now) : current;
  const readiness =
    provider === 'INTERVY_CREDITS' ? null : (await keyReadiness(s, orgId)).find((r) => r.provider === provider)!;
  const membersTotal = readiness?.membersTotal ?? (await s.db.membership.count({ where: { orgId } }));
  return {
    provider,
    allowed,
    refusalReason: refusal?.reason ?? null,
    refusalMessage: refusal ? refusalMessage(refusal, org, provider) : null,
    requiredPlan: refusal?.requiredPlan ?? null,
    endsGraceWindow,
    graceWindowNotice: endsGraceWindow
      ? `Switching to Intervy Credits ends this org’s legacy BYOK grace window now, ${daysRemaining(org.graceWindowEndsAt!, now)} day(s) before ${day(org.graceWindowEndsAt!)}, and for good: using ${legacy ?? 'Bring Your Own Key'} again will need the ${PLAN_NAMES[BYOK_PLANS[0]]} plan. Members’ saved keys are kept.`
      : null,
    currentEffectiveProvider: current,
    creditsDeductedAfter: after === 'INTERVY_CREDITS',
    creditsStopBeingDeducted: current === 'INTERVY_CREDITS' && after !== 'INTERVY_CREDITS',
    creditsResumeBeingDeducted: current !== 'INTERVY_CREDITS' && after === 'INTERVY_CREDITS',
    usageTrackingAvailableAfter: after === 'INTERVY_CREDITS',
    membersTotal,
    membersWithKey: readiness ? readiness.valid + readiness.invalid + readiness.untested : 0,
    membersWithValidKey: readiness?.valid ?? 0,
    membersWithInvalidKey: readiness?.invalid ?? 0,
    membersWithUntestedKey: readiness?.untested ?? 0,
    membersWithoutKey: readiness?.notSaved ?? 0,
    keysNotTestedWithinInterval: readiness?.notTestedWithinInterval ?? 0,
    fallbackToCredits: org.fallbackToCredits,
  };
}
