import { AiProviderRef, KeyStatusRef, PlanRef } from './scalars.ts';
import { builder, requiresOrg, stillAllowed } from '../builder.ts';
import * as settings from '../domain/ai-settings.ts';
import type { GraceWindowView } from '../domain/grace-window.ts';
import { loadOrg } from '../domain/orgs.ts';
import type { AiModel } from '../domain/models.ts';
import { membershipHas } from '../domain/permissions.ts';
import { forbidden } from '../lib/errors.ts';
import { whileAllowed } from '../lib/subscriptions.ts';
import { WRITE_COST } from '../lib/operation-cost.ts';
import { refuse } from '../lib/errors.ts';
import { decodeGlobalId } from '../lib/global-ids.ts';
import type { Context } from '../context.ts';
import type { ViewOf } from '../lib/shared-views.ts';
import type { AiProvider } from '../generated/prisma/enums.ts';

/** A model given as AiModel.id becomes its vendor model id, when it is one of `provider`'s; a modelId stays as sent. */
function modelIdOf(provider: AiProvider, model: string | null | undefined): string | null | undefined {
  let decoded: { typename: string; id: string } | null = null;
  try {
    if (model) decoded = decodeGlobalId(model);
  } catch {
    return model; // not a global id: a vendor model id, checked against the provider's catalogue
  }
  if (!decoded || decoded.typename !== 'AiModel') return model;
  const [of, modelId] = decoded.id.split('/');
  if (of !== provider)
    refuse('BAD_USER_INPUT', `That model is offered under ${of}, not ${provider}: choose one of ${provider}’s models.`);
  return modelId;
}

const ACCESS_REVOKED = Symbol('access revoked');

/** An AiModel's key: the same vendor model is offered under Intervy Credits and under its vendor, as two models. */
const modelKey = (m: AiModel) => `${m.provider}/${m.id}`;

const AiModelRef = builder.node(builder.objectRef<AiModel>('AiModel'), {
  description:
    'A model Ivy can use under one provider. `id` is unique per provider and model (the house model behind Intervy ' +
    'Credits and the same vendor model under its own vendor are two models); `modelId` is the vendor’s real model id.',
  id: { resolve: modelKey },
  // node(id:): the catalogue is the same for every org, so any signed-in user may load a model.
  loadOne: (key, ctx) => ctx.services.models.all.find((m) => modelKey(m) === key) ?? null,
  fields: (t) => ({
    modelId: t.exposeString('id', { description: 'The vendor’s model id, as sent to its API and shown in usage.' }),
    label: t.exposeString('label'),
    provider: t.expose('provider', { type: AiProviderRef }),
    description: t.exposeString('description'),
    recommended: t.exposeBoolean('recommended'),
    creditsPer1kInputTokens: t.exposeInt('creditsPer1kInput', {
      description: 'Credits per 1,000 input tokens when billed to credits.',
    }),
    creditsPer1kOutputTokens: t.exposeInt('creditsPer1kOutput', {
      description: 'Credits per 1,000 output tokens when billed to credits.',
    }),
    creditsPer1MCachedInputTokens: t.exposeInt('creditsPer1MCachedInput', {
      description:
        'Credits per 1,000,000 input tokens the vendor served from its prompt cache, when billed to credits.',
    }),
  }),
});

const GraceWindow = builder.objectRef<GraceWindowView>('GraceWindow').implement({
  description: 'The 30-day window in which an org that used per-admin BYOK keeps it on a plan below Growth.',
  fields: (t) => ({
    endsAt: t.expose('endsAt', { type: 'DateTime' }),
    active: t.exposeBoolean('active'),
    daysRemaining: t.exposeInt('daysRemaining', { description: 'Whole days left, rounded up; 0 once ended.' }),
  }),
});

export const PersonalApiKey = builder.prismaObject('PersonalApiKey', {
  description: 'One of the viewer’s own keys. The key itself is never returned: only a hint.',
  fields: (t) => ({
    provider: t.expose('provider', { type: AiProviderRef }),
    hint: t.exposeString('hint', { description: 'The key’s prefix and last four characters, e.g. "sk-ant-…x9Q2".' }),
    status: t.expose('status', { type: KeyStatusRef }),
    lastTestedAt: t.expose('lastTestedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was last tested: by the member, or by the scheduled re-test (KEY_RETEST_INTERVAL).',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When an Ivy answer last used the key (on an instance other than the one that served the answer, up to a minute late).',
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

/** Loads an org's node for a viewer who holds ai-settings:view there; null (FORBIDDEN at node) otherwise. */
async function ifViewerMay<T>(ctx: Context, orgId: string, load: () => Promise<T>): Promise<T | null> {
  return membershipHas(await ctx.membership(orgId), 'ai-settings:view') ? load() : null;
}

/** A settings view; in an orgAiSettingsChanged event it carries the event's snapshot, shared by its subscribers. */
type SettingsView = settings.OrgAiSettingsView & { snapshot?: settings.OrgSettingsSnapshot };

export const OrgAiSettings = builder.node(builder.objectRef<SettingsView>('OrgAiSettings'), {
  description: 'Org Settings → AI, as the viewer may see it.',
  id: { resolve: (s) => s.orgId },
  loadOne: (orgId, ctx) => ifViewerMay(ctx, orgId, () => settings.orgAiSettings(ctx.services, orgId)),
  fields: (t) => ({
    orgId: t.exposeID('orgId'),
    provider: t.expose('provider', { type: AiProviderRef, description: 'As saved.' }),
    effectiveProvider: t.expose('effectiveProvider', {
      type: AiProviderRef,
      description: 'What Ivy uses right now, with the plan and any grace window applied.',
    }),
    model: t.field({ type: AiModelRef, description: 'The saved default model.', resolve: (s) => s.model }),
    effectiveModel: t.field({
      type: AiModelRef,
      description: 'The model Ivy uses right now.',
      resolve: (s) => s.effectiveModel,
    }),
    availableModels: t.field({
      type: [AiModelRef],
      description: 'Every provider’s models, for the dropdowns.',
      resolve: (s) => s.availableModels,
    }),
    plan: t.expose('plan', { type: PlanRef }),
    byokAvailable: t.exposeBoolean('byokAvailable', { description: 'The plan allows choosing Anthropic or OpenAI.' }),
    byokActive: t.exposeBoolean('byokActive', { description: 'Ivy currently runs on members’ own keys.' }),
    graceWindow: t.field({ type: GraceWindow, nullable: true, resolve: (s) => s.graceWindow }),
    fallbackToCredits: t.exposeBoolean('fallbackToCredits', {
      description:
        'A BYOK answer whose member has no usable key runs on Intervy Credits, marked as a fallback (set by an Org Admin).',
    }),
    viewerCanManage: t.boolean({
      description: 'The viewer may change the provider (Org Admins).',
      resolve: async (s, _a, ctx) =>
        membershipHas(
          await (s.snapshot ? s.snapshot.membership(ctx.viewer!.userId) : ctx.membership(s.orgId)),
          'org:manage',
        ),
    }),
    viewerKeys: t.field({
      type: [PersonalApiKey],
      description: 'The viewer’s own saved keys in this org; never anyone else’s.',
      // PersonalApiKey exposes no relation, so the rows need no Prisma selection (a prismaField would map the GraphQL
      // selection to one on every request, issue 10): the event's snapshot, or the instance's cache of the viewer's
      // keys (dropped by every change to them but last_used_at, see ivy.ts).
      resolve: (s, _a, ctx) =>
        s.snapshot?.keysOf(ctx.viewer!.userId) ?? ctx.services.caches.keysOf(s.orgId, ctx.viewer!.userId),
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const loadBalance = async (ctx: Context, orgId: string) => {
  const org = await loadOrg(ctx.services.db, orgId);
  return { orgId: org.id, balance: org.creditBalance };
};

const CreditBalance = builder.node(builder.objectRef<{ orgId: string; balance: number }>('CreditBalance'), {
  description:
    'The org’s prepaid credits: one per org, so its `id` names the org’s balance (refetch it with `node(id:)`).',
  id: { resolve: (b) => b.orgId },
  loadOne: (orgId, ctx) => ifViewerMay(ctx, orgId, () => loadBalance(ctx, orgId)),
  fields: (t) => ({
    orgId: t.exposeID('orgId'),
    balance: t.exposeInt('balance', {
      description: 'Credits available. Credits held by running completions are already taken out.',
    }),
  }),
});

const ProviderChangeRefusalRef = builder.enumType('ProviderChangeRefusal', {
  description:
    'Why providerChangeImpact says `allowed: false` (and updateProvider would refuse with PLAN_UPGRADE_REQUIRED). Each is lifted by upgrading to `requiredPlan`.',
  values: {
    PLAN_EXCLUDES_BYOK: {
      description: 'The plan does not include Bring Your Own Key, and the org has no legacy grace window.',
    },
    GRACE_WINDOW_OTHER_PROVIDER: {
      description:
        'The org’s legacy grace window is open, but it keeps only the BYOK provider the org already had, not another one.',
    },
    GRACE_WINDOW_ENDED: {
      description: 'The org’s legacy grace window has ended, and its plan does not include Bring Your Own Key.',
    },
  } as const,
});

const ProviderChangeImpact = builder.objectRef<settings.ProviderChangeImpact>('ProviderChangeImpact').implement({
  description: 'What saving this provider would change: shown in the confirmation dialog.',
  fields: (t) => ({
    provider: t.expose('provider', { type: AiProviderRef }),
    allowed: t.exposeBoolean('allowed', {
      description:
        'False when the plan does not allow it (saving would be PLAN_UPGRADE_REQUIRED); `refusalReason` says why.',
    }),
    refusalReason: t.expose('refusalReason', {
      type: ProviderChangeRefusalRef,
      nullable: true,
      description: 'Why it is not allowed; null when allowed.',
    }),
    refusalMessage: t.exposeString('refusalMessage', {
      nullable: true,
      description: 'The refusal in words, for the dialog: the same message updateProvider’s error would carry.',
    }),
    requiredPlan: t.expose('requiredPlan', {
      type: PlanRef,
      nullable: true,
      description: 'The lowest plan that would allow it; null when allowed.',
    }),
    endsGraceWindow: t.exposeBoolean('endsGraceWindow', {
      description:
        'Saving it ends the org’s open legacy BYOK grace window now and for good (a switch back to Intervy Credits): the BYOK provider it kept would then need the Growth plan.',
    }),
    graceWindowNotice: t.exposeString('graceWindowNotice', {
      nullable: true,
      description: 'What ending the grace window means, in words, for the confirmation; null when it does not end it.',
    }),
    currentEffectiveProvider: t.expose('currentEffectiveProvider', { type: AiProviderRef }),
    creditsDeductedAfter: t.exposeBoolean('creditsDeductedAfter'),
    creditsStopBeingDeducted: t.exposeBoolean('creditsStopBeingDeducted'),
    creditsResumeBeingDeducted: t.exposeBoolean('creditsResumeBeingDeducted'),
    usageTrackingAvailableAfter: t.exposeBoolean('usageTrackingAvailableAfter'),
    membersTotal: t.exposeInt('membersTotal'),
    membersWithKey: t.exposeInt('membersWithKey', { description: 'Members with a saved key for this provider.' }),
    membersWithValidKey: t.exposeInt('membersWithValidKey', {
      description: 'Members whose key for this provider last tested VALID.',
    }),
    membersWithInvalidKey: t.exposeInt('membersWithInvalidKey', {
      description: 'Members whose key for this provider the provider refused (as in orgAiSettings.keyReadiness).',
    }),
    membersWithUntestedKey: t.exposeInt('membersWithUntestedKey', {
      description: 'Members whose key for this provider was saved and never tested.',
    }),
    membersWithoutKey: t.exposeInt('membersWithoutKey', { description: 'Members with no key for this provider.' }),
    keysNotTestedWithinInterval: t.exposeInt('keysNotTestedWithinInterval', {
      description: 'Saved keys for this provider not tested within the re-test interval (KEY_RETEST_INTERVAL).',
    }),
    fallbackToCredits: t.exposeBoolean('fallbackToCredits', {
      description: 'Whether members without a usable key would fall back to Intervy Credits.',
    }),
  }),
});

builder.queryFields((t) => ({
  orgAiSettings: t.field({
    ...requiresOrg('ai-settings:view', 'The org’s AI provider, model and the viewer’s own keys.'),
    type: OrgAiSettings,
    args: { orgId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => settings.orgAiSettings(ctx.services, String(args.orgId)),
  }),
  creditBalance: t.field({
    ...requiresOrg('ai-settings:view', 'The org’s prepaid credit balance.'),
    type: CreditBalance,
    args: { orgId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => loadBalance(ctx, String(args.orgId)),
  }),
  providerChangeImpact: t.field({
    ...requiresOrg('org:manage', 'What switching to `provider` would change, before saving it.'),
    type: ProviderChangeImpact,
    args: { orgId: t.arg.id({ required: true }), provider: t.arg({ type: AiProviderRef, required: true }) },
    resolve: (_r, args, ctx) => settings.providerChangeImpact(ctx.services, String(args.orgId), args.provider),
  }),
}));

const UpdateProviderInput = builder.inputType('UpdateProviderInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    provider: t.field({ type: AiProviderRef, required: true }),
    model: t.string({
      description:
        'The model: its `modelId` (the vendor’s model id) or its `id` (AiModel.id); omitted: the provider’s recommended model.',
    }),
  }),
});

builder.mutationField('updateProvider', (t) =>
  t.field({
    ...requiresOrg(
      'org:manage',
      'Saves the org’s AI provider and default model. Saved personal keys are always kept. Rate limited per org (RATE_LIMITED).',
    ),
    type: OrgAiSettings,
    complexity: WRITE_COST,
    args: { input: t.arg({ type: UpdateProviderInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      await ctx.services.limits.consume('settingsChanges', String(input.orgId));
      await settings.updateProvider(ctx.services, ctx.viewer!, {
        orgId: String(input.orgId),
        provider: input.provider,
        model: modelIdOf(input.provider, input.model),
      });
      return settings.orgAiSettings(ctx.services, String(input.orgId));
    },
  }),
);

builder.subscriptionField('creditBalanceChanged', (t) =>
  t.field({
    ...requiresOrg(
      'ai-settings:view',
      'The org’s credit balance after each movement, pushed at once: a credits answer’s hold when it starts and its settlement when it ends (finished, failed or stopped), an expired hold released, an operator’s grant. From any instance (over Redis when REDIS_URL is set). Each event is the balance right after its movement; when two answers move it at the same moment their events may arrive in either order, so after a burst the `creditBalance` query is the figure of record.',
    ),
    type: CreditBalance,
    args: { orgId: t.arg.id({ required: true }) },
    // As orgAiSettingsChanged: access is checked again at each event; a member removed while subscribed is refused
    // once (FORBIDDEN) and the stream ends.
    subscribe: (_r, args, ctx) =>
      whileAllowed(
        ctx.services.pubsub.subscribe('creditBalanceChanged', String(args.orgId)),
        stillAllowed(ctx, String(args.orgId), 'ai-settings:view'),
        ACCESS_REVOKED,
      ),
    resolve: (event) => (event === ACCESS_REVOKED ? forbidden() : event),
  }),
);

/**
 * What an orgAiSettingsChanged event's result depends on besides the org (lib/shared-views.ts): the viewer's role
 * (viewerCanManage, and any permission a field checks) and the viewer's own keys (viewerKeys). Subscribers alike in
 * both share one execution of the event: members without keys share one per role, a member with keys has their own.
 * A field added under OrgAiSettings that reads anything else of the viewer must be added here too.
 */
export const orgAiSettingsViewOf: ViewOf = async (event, context) => {
  const ctx = context as Context;
  const { orgId } = event as { orgId: string };
  if (!ctx.viewer || typeof orgId !== 'string') return null;
  const snapshot = settings.snapshotOf(ctx.services, event, orgId);
  const [membership, keys] = await Promise.all([
    snapshot.membership(ctx.viewer.userId),
    snapshot.keysOf(ctx.viewer.userId),
  ]);
  return membership ? `${membership.role}\0${keys.length ? ctx.viewer.userId : ''}` : null;
};

builder.subscriptionField('orgAiSettingsChanged', (t) =>
  t.field({
    ...requiresOrg(
      'ai-settings:view',
      'The org’s AI settings after each burst of changes to its provider, model or keys (one event per burst).',
    ),
    type: OrgAiSettings,
    args: { orgId: t.arg.id({ required: true }) },
    // Access is checked again at each event: a member removed (or demoted) while subscribed is refused and the stream
    // ends. The org's settings, memberships and keys are read once per event for all its subscribers (the event's
    // snapshot); each subscriber takes its own membership and keys from it.
    subscribe: (_r, args, ctx) => {
      const orgId = String(args.orgId);
      return whileAllowed(
        ctx.services.pubsub.subscribe('orgAiSettingsChanged', orgId),
        async (event) =>
          (await ctx.stillSignedIn()) &&
          membershipHas(
            await settings.snapshotOf(ctx.services, event, orgId).membership(ctx.viewer!.userId),
            'ai-settings:view',
          ),
        ACCESS_REVOKED,
      );
    },
    resolve: async (event, args, ctx) => {
      if (event === ACCESS_REVOKED) return forbidden();
      const snapshot = settings.snapshotOf(ctx.services, event, String(args.orgId));
      return { ...(await snapshot.settings()), snapshot };
    },
  }),
);
