// Keys that look after themselves: readiness counts for admins, the fallback-to-credits consent, and each member's
// own key status pushed to them alone.
import { builder, requiresOrg, stillAllowed } from '../builder.ts';
import * as settings from '../domain/ai-settings.ts';
import { keyReadiness } from '../domain/key-readiness.ts';
import { PERMISSIONS } from '../domain/permissions.ts';
import { forbidden } from '../lib/errors.ts';
import { memberKey, type KeyStatusChangedEvent } from '../lib/pubsub.ts';
import { whileAllowed } from '../lib/subscriptions.ts';
import { AiProviderRef, KeyStatusRef } from './scalars.ts';
import { WRITE_COST } from '../lib/operation-cost.ts';
import { OrgAiSettings } from './ai-settings.ts';
import { KeyReadinessRef } from './key-readiness.ts';

const MANAGE = 'org:manage' as const;

builder.objectField(OrgAiSettings, 'keyReadiness', (t) =>
  t.field({
    type: [KeyReadinessRef],
    nullable: true,
    description: `Per provider, how many members have a key VALID, INVALID, UNTESTED or none, and how many keys were not tested within the re-test interval.\n\nRequires \`${MANAGE}\` in the org (roles: ${PERMISSIONS[MANAGE].join(', ')}).`,
    authScopes: (s) => ({ orgPermission: { orgId: s.orgId, permission: MANAGE } }),
    resolve: (s, _a, ctx) => keyReadiness(ctx.services, s.orgId),
  }),
);

const SetFallbackInput = builder.inputType('SetFallbackToCreditsInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    enabled: t.boolean({ required: true }),
  }),
});

builder.mutationField('setFallbackToCredits', (t) =>
  t.field({
    ...requiresOrg(
      MANAGE,
      'With it on, a BYOK answer whose member has no usable key (none saved, marked INVALID, or refused by the provider before any text streamed) runs on Intervy Credits, marked as a fallback. Off by default; audited.',
    ),
    type: OrgAiSettings,
    complexity: WRITE_COST,
    args: { input: t.arg({ type: SetFallbackInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const orgId = String(input.orgId);
      await ctx.services.limits.consume('settingsChanges', orgId);
      await settings.setFallbackToCredits(ctx.services, ctx.viewer!, { orgId, enabled: input.enabled });
      return settings.orgAiSettings(ctx.services, orgId);
    },
  }),
);

const ACCESS_REVOKED = Symbol('access revoked');

const KeyStatusChange = builder.objectRef<KeyStatusChangedEvent>('KeyStatusChange').implement({
  description: 'One of the viewer’s own keys changed status.',
  fields: (t) => ({
    provider: t.expose('provider', { type: AiProviderRef }),
    status: t.expose('status', { type: KeyStatusRef }),
    previousStatus: t.expose('previousStatus', { type: KeyStatusRef }),
    testedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The test that found it (null when an Ivy answer found the key refused).',
      resolve: (e) => (e.testedAt ? new Date(e.testedAt) : null),
    }),
  }),
});

builder.subscriptionField('viewerKeyStatusChanged', (t) =>
  t.field({
    ...requiresOrg(
      'personal-key:manage',
      'The viewer’s own keys in the org, each time one changes status: found by the scheduled re-test, by a Test, or by a provider refusing it during an answer. Only that member hears it.',
    ),
    type: KeyStatusChange,
    args: { orgId: t.arg.id({ required: true }) },
    subscribe: (_r, args, ctx) =>
      whileAllowed(
        ctx.services.pubsub.subscribe('viewerKeyStatusChanged', memberKey(String(args.orgId), ctx.viewer!.userId)),
        stillAllowed(ctx, String(args.orgId), 'personal-key:manage'),
        ACCESS_REVOKED,
      ),
    resolve: (event) => (event === ACCESS_REVOKED ? forbidden() : event),
  }),
);
