// Keys that look after themselves: readiness counts for admins, the fallback-to-credits consent, and each member's
// own key status pushed to them alone.
import { builder } from '../builder.ts';
import * as settings from '../domain/ai-settings.ts';
import { keyReadiness } from '../domain/key-readiness.ts';
import { PERMISSIONS } from '../domain/permissions.ts';
import { WRITE_COST } from '../lib/operation-cost.ts';
import { requiresOrg } from '../builder.ts';
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
