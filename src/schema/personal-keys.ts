import { AiProviderRef, KeyStatusRef } from './scalars.ts';
import { builder, requiresOrg } from '../builder.ts';
import * as vault from '../domain/key-vault.ts';
import { asVendor, checkKeyFormat } from '../domain/vendors.ts';
import { PROVIDER_CALL_COST, WRITE_COST } from '../lib/operation-cost.ts';

const KeyTestResult = builder.objectRef<vault.KeyTestResult>('KeyTestResult').implement({
  fields: (t) => ({
    ok: t.exposeBoolean('ok', { description: 'The key works for Ivy right now.' }),
    status: t.expose('status', { type: KeyStatusRef }),
    message: t.exposeString('message', { description: 'What the provider said, in a sentence.' }),
  }),
});

const keyArgs = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({ orgId: t.id({ required: true }), provider: t.field({ type: AiProviderRef, required: true }) }),
  });

const SetPersonalKeyInput = builder.inputType('SetPersonalKeyInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    provider: t.field({ type: AiProviderRef, required: true }),
    apiKey: t.string({ required: true, description: 'Anthropic keys start with "sk-ant-", OpenAI keys with "sk-".' }),
  }),
});
const TestPersonalKeyInput = keyArgs('TestPersonalKeyInput');
const DeletePersonalKeyInput = keyArgs('DeletePersonalKeyInput');

builder.mutationFields((t) => ({
  setPersonalKey: t.prismaField({
    ...requiresOrg(
      'personal-key:manage',
      'Saves (or replaces) the viewer’s own key for a provider; it starts UNTESTED. Rate limited per member (RATE_LIMITED).',
    ),
    type: 'PersonalApiKey',
    complexity: WRITE_COST,
    args: { input: t.arg({ type: SetPersonalKeyInput, required: true }) },
    // Counted per member once the key is well formed (a mistyped paste costs nothing): saving candidate keys is
    // half of a stolen-key oracle.
    resolve: async (_q, _r, { input }, ctx) => {
      checkKeyFormat(asVendor(input.provider), input.apiKey);
      await ctx.services.limits.consume('keySaves', ctx.viewer!.userId);
      return vault.setPersonalKey(ctx.services, ctx.viewer!, { ...input, orgId: String(input.orgId) });
    },
  }),
  testPersonalKey: t.field({
    ...requiresOrg(
      'personal-key:manage',
      'Checks the viewer’s saved key with the provider (no tokens spent) and records the result. Rate limited per member (RATE_LIMITED).',
    ),
    type: KeyTestResult,
    complexity: PROVIDER_CALL_COST,
    args: { input: t.arg({ type: TestPersonalKeyInput, required: true }) },
    // Counted per member and per call, aliases included: each test is an upstream request.
    resolve: async (_r, { input }, ctx) => {
      await ctx.services.limits.consume('keyTests', ctx.viewer!.userId);
      const result = await vault.testPersonalKey(ctx.services, ctx.viewer!, { ...input, orgId: String(input.orgId) });
      ctx.services.metrics?.keyTests.inc({
        provider: input.provider,
        result: result.ok ? 'ok' : `not_ok_${result.status.toLowerCase()}`,
      });
      return result;
    },
  }),
  deletePersonalKey: t.boolean({
    ...requiresOrg('personal-key:manage', 'Removes the viewer’s own key for a provider. True if a key was removed.'),
    complexity: WRITE_COST,
    args: { input: t.arg({ type: DeletePersonalKeyInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      vault.deletePersonalKey(ctx.services, ctx.viewer!, { ...input, orgId: String(input.orgId) }),
  }),
}));
