import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { AiProvider } from '../../src/generated/graphql/graphql.ts';
import { SET_PERSONAL_KEY } from '../../dev/documents.ts';

const SETTINGS = graphql(`
  query AiSettingsSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      orgId
      provider
      effectiveProvider
      plan
      byokAvailable
      byokActive
      updatedAt
      model {
        modelId
        label
        provider
        description
        recommended
      }
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);
const MODELS = graphql(`
  query AiSettingsModels($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      availableModels {
        modelId
        label
        provider
        description
        recommended
      }
    }
  }
`);
const UPDATE = graphql(`
  mutation AiSettingsUpdate($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
      effectiveProvider
      byokActive
      model {
        modelId
        label
        provider
      }
    }
  }
`);
const IMPACT = graphql(`
  query AiSettingsImpact($orgId: ID!, $provider: AiProvider!) {
    providerChangeImpact(orgId: $orgId, provider: $provider) {
      provider
      allowed
      refusalReason
      refusalMessage
      requiredPlan
      endsGraceWindow
      currentEffectiveProvider
      creditsDeductedAfter
      creditsStopBeingDeducted
      creditsResumeBeingDeducted
      usageTrackingAvailableAfter
      membersTotal
      membersWithKey
      membersWithValidKey
    }
  }
`);
const AUDIT_COUNT = graphql(`
  query AiSettingsAuditCount($orgId: ID!) {
    auditLog(orgId: $orgId, first: 100) {
      edges {
        node {
          action
          detail
        }
      }
    }
  }
`);
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const update = (o: SeededOrg, provider: AiProvider, model?: string, token = o.admin.token) =>
  server
    .client(token)
    .request(UPDATE, { input: { orgId: o.org.id, provider, ...(model === undefined ? {} : { model }) } });
const settings = async (o: SeededOrg, token = o.admin.token) =>
  (await server.client(token).data(SETTINGS, { orgId: o.org.id })).orgAiSettings;
const auditActions = async (o: SeededOrg) =>
  (await server.client(o.admin.token).data(AUDIT_COUNT, { orgId: o.org.id })).auditLog.edges.map((e) => e.node.action);

describe('updateProvider', () => {
  it('picks the provider’s recommended model when none is given: Sonnet for Anthropic, GPT-5 for OpenAI', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const a = await update(o, 'ANTHROPIC');
    expect(a.errors).toBeUndefined();
    expect(a.data!.updateProvider).toEqual({
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      byokActive: true,
      model: { modelId: 'claude-sonnet-5-5', label: 'Sonnet', provider: 'ANTHROPIC' },
    });
    const b = await update(o, 'OPENAI');
    expect(b.data!.updateProvider.model).toEqual({ modelId: 'gpt-5', label: 'GPT-5', provider: 'OPENAI' });
    // What was saved, read back on its own.
    expect((await settings(o)).model.modelId).toBe('gpt-5');
  });

  it('saves a chosen model of the chosen provider', async () => {
    const o = await server.seed.org({ plan: 'ENTERPRISE' });
    const r = await update(o, 'ANTHROPIC', 'claude-opus-5-5');
    expect(r.data!.updateProvider.model).toEqual({ modelId: 'claude-opus-5-5', label: 'Opus', provider: 'ANTHROPIC' });
    const s = await settings(o);
    expect(s.model).toMatchObject({ modelId: 'claude-opus-5-5', description: 'Highest reasoning capability.' });
    expect(s.provider).toBe('ANTHROPIC');
  });

  it('refuses a model of another provider (or an unknown one) with BAD_USER_INPUT and changes nothing', async () => {
    const o = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC', model: 'claude-haiku-5-5' });
    for (const [provider, model] of [
      ['ANTHROPIC', 'gpt-5'],
      ['OPENAI', 'claude-sonnet-5-5'],
      ['OPENAI', 'gpt-4'],
      ['INTERVY_CREDITS', 'claude-opus-5-5'],
    ] as const) {
      const r = await update(o, provider, model);
      expect(r.errors?.[0].extensions?.code, `${provider} ${model}`).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0].message).toContain(model);
    }
    const s = await settings(o);
    expect([s.provider, s.model.modelId]).toEqual(['ANTHROPIC', 'claude-haiku-5-5']);
    expect(await auditActions(o)).toEqual([]);
  });

  it('uses the house model for Intervy Credits', async () => {
    const o = await server.seed.org({ plan: 'GROWTH', provider: 'OPENAI', model: 'o3' });
    const r = await update(o, 'INTERVY_CREDITS');
    expect(r.data!.updateProvider).toEqual({
      provider: 'INTERVY_CREDITS',
      effectiveProvider: 'INTERVY_CREDITS',
      byokActive: false,
      model: { modelId: server.config.houseModel, label: expect.stringContaining('Ivy'), provider: 'INTERVY_CREDITS' },
    });
    // Naming the house model explicitly is accepted too.
    expect((await update(o, 'INTERVY_CREDITS', server.config.houseModel)).errors).toBeUndefined();
  });

  it('refuses Anthropic and OpenAI below Growth with PLAN_UPGRADE_REQUIRED, and writes nothing', async () => {
    const o = await server.seed.org({ plan: 'FREE' });
    const before = await settings(o);
    for (const provider of ['ANTHROPIC', 'OPENAI'] as const) {
      const r = await update(o, provider);
      expect(r.errors?.[0].extensions?.code).toBe('PLAN_UPGRADE_REQUIRED');
      expect(r.errors?.[0].message).toMatch(/Growth/);
      expect(r.data).toBeNull();
    }
    const after = await settings(o);
    expect(after).toEqual(before);
    expect(await auditActions(o)).toEqual([]);
  });

  it('lets a Growth or Enterprise org choose Anthropic or OpenAI', async () => {
    for (const plan of ['GROWTH', 'ENTERPRISE'] as const) {
      const o = await server.seed.org({ plan });
      expect((await update(o, 'OPENAI', 'gpt-5-nano')).data?.updateProvider.effectiveProvider).toBe('OPENAI');
    }
  });

  it('always lets an org switch back to Intervy Credits, even on Free', async () => {
    // A Free org left on Anthropic (its grace window over): Ivy already uses credits, and saving credits must work.
    const o = await server.seed.org({ plan: 'FREE', provider: 'ANTHROPIC', model: 'claude-sonnet-5-5' });
    expect((await settings(o)).effectiveProvider).toBe('INTERVY_CREDITS');
    const r = await update(o, 'INTERVY_CREDITS');
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateProvider.provider).toBe('INTERVY_CREDITS');
    expect(await auditActions(o)).toEqual(['ai_settings.provider_changed']);
  });

  it('keeps every member’s saved personal keys when switching back to Intervy Credits', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const keys = {
      admin: ['ANTHROPIC', 'sk-ant-api03-keep-admin-Q1w2E3r4T5y6', 'sk-ant-…T5y6'],
      staffing: ['OPENAI', 'sk-proj-keep-staffing-A1s2D3f4G5h6', 'sk-proj-…G5h6'],
      interviewer: ['ANTHROPIC', 'sk-ant-api03-keep-interviewer-Z9x8C7', 'sk-ant-…x8C7'],
    } as const;
    for (const [who, [provider, apiKey]] of Object.entries(keys)) {
      await server
        .client(o[who as keyof typeof keys].token)
        .data(SET_PERSONAL_KEY, { input: { orgId: o.org.id, provider, apiKey } });
    }
    await update(o, 'ANTHROPIC');
    expect((await update(o, 'INTERVY_CREDITS')).errors).toBeUndefined();
    for (const [who, [provider, , hint]] of Object.entries(keys)) {
      const member = o[who as keyof typeof keys];
      expect((await settings(o, member.token)).viewerKeys).toEqual([{ provider, hint, status: 'UNTESTED' }]);
    }
    const [{ n }] = await server.app.services.db.$queryRaw<
      { n: bigint }[]
    >`SELECT count(*) AS n FROM personal_api_keys WHERE org_id = ${o.org.id}::uuid`;
    expect(Number(n)).toBe(3);
  });

  it('is refused to staffing and interviewers, whatever the plan', async () => {
    const o = await server.seed.org({ plan: 'ENTERPRISE' });
    for (const m of [o.staffing, o.interviewer]) {
      expect((await update(o, 'INTERVY_CREDITS', undefined, m.token)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
  });
});

describe('availableModels', () => {
  it('lists every provider’s models with the help-center descriptions and the vendors’ real ids', async () => {
    const o = await server.seed.org({ plan: 'FREE' });
    // Every member sees the same list, whatever the plan or role.
    const r = await server.client(o.interviewer.token).data(MODELS, { orgId: o.org.id });
    const byok = r.orgAiSettings.availableModels.filter((m) => m.provider !== 'INTERVY_CREDITS');
    expect(byok).toEqual([
      {
        modelId: 'claude-haiku-5-5',
        label: 'Haiku',
        provider: 'ANTHROPIC',
        description: 'Fastest and cheapest.',
        recommended: false,
      },
      {
        modelId: 'claude-sonnet-5-5',
        label: 'Sonnet',
        provider: 'ANTHROPIC',
        description: 'Balanced speed and capability.',
        recommended: true,
      },
      {
        modelId: 'claude-opus-5-5',
        label: 'Opus',
        provider: 'ANTHROPIC',
        description: 'Highest reasoning capability.',
        recommended: false,
      },
      {
        modelId: 'gpt-5-nano',
        label: 'GPT-5 Nano',
        provider: 'OPENAI',
        description: 'Fastest and cheapest.',
        recommended: false,
      },
      {
        modelId: 'gpt-5-mini',
        label: 'GPT-5 Mini',
        provider: 'OPENAI',
        description: 'Fast and affordable.',
        recommended: false,
      },
      { modelId: 'gpt-5', label: 'GPT-5', provider: 'OPENAI', description: 'Balanced.', recommended: true },
      {
        modelId: 'o4-mini',
        label: 'o4-mini',
        provider: 'OPENAI',
        description: 'Reasoning, affordable.',
        recommended: false,
      },
      { modelId: 'o3', label: 'o3', provider: 'OPENAI', description: 'Reasoning, most capable.', recommended: false },
    ]);
    const house = r.orgAiSettings.availableModels.filter((m) => m.provider === 'INTERVY_CREDITS');
    expect(house).toEqual([expect.objectContaining({ modelId: server.config.houseModel, recommended: true })]);
  });
});

describe('orgAiSettings', () => {
  it('shows the saved provider and what Ivy really uses under the plan', async () => {
    const free = await server.seed.org({ plan: 'FREE', provider: 'OPENAI', model: 'o3' });
    expect(await settings(free)).toMatchObject({
      provider: 'OPENAI',
      effectiveProvider: 'INTERVY_CREDITS',
      plan: 'FREE',
      byokAvailable: false,
      byokActive: false,
    });
    const growth = await server.seed.org({ plan: 'GROWTH', provider: 'OPENAI', model: 'o3' });
    expect(await settings(growth)).toMatchObject({
      provider: 'OPENAI',
      effectiveProvider: 'OPENAI',
      plan: 'GROWTH',
      byokAvailable: true,
      byokActive: true,
      model: { modelId: 'o3', label: 'o3', provider: 'OPENAI' },
    });
  });

  it('shows each member only their own keys', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(o.org.id, o.admin.id, 'ANTHROPIC', 'sk-ant-api03-admin-only-AAAA1111');
    await server.seed.key(o.org.id, o.staffing.id, 'OPENAI', 'sk-proj-staffing-only-BBBB2222');
    expect((await settings(o, o.admin.token)).viewerKeys).toEqual([
      { provider: 'ANTHROPIC', hint: 'sk-ant-…1111', status: 'VALID' },
    ]);
    expect((await settings(o, o.staffing.token)).viewerKeys).toEqual([
      { provider: 'OPENAI', hint: 'sk-proj-…2222', status: 'VALID' },
    ]);
    expect((await settings(o, o.interviewer.token)).viewerKeys).toEqual([]);
    // A key the admin holds in another org does not show up here either.
    const other = await server.seed.org({ plan: 'GROWTH' });
    await server.app.services.db.membership.create({
      data: { orgId: other.org.id, userId: o.admin.id, role: 'INTERVIEWER' },
    });
    await server.seed.key(other.org.id, o.admin.id, 'OPENAI', 'sk-proj-admin-elsewhere-CCCC3333');
    expect((await settings(o, o.admin.token)).viewerKeys.map((k) => k.hint)).toEqual(['sk-ant-…1111']);
  });
});

describe('providerChangeImpact', () => {
  it('says credits stop being deducted and usage tracking goes away when moving to BYOK', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const { providerChangeImpact: i } = await server
      .client(o.admin.token)
      .data(IMPACT, { orgId: o.org.id, provider: 'ANTHROPIC' });
    expect(i).toMatchObject({
      provider: 'ANTHROPIC',
      allowed: true,
      currentEffectiveProvider: 'INTERVY_CREDITS',
      creditsDeductedAfter: false,
      creditsStopBeingDeducted: true,
      creditsResumeBeingDeducted: false,
      usageTrackingAvailableAfter: false,
    });
  });

  it('says credits resume being deducted and usage tracking returns when moving back to Intervy Credits', async () => {
    const o = await server.seed.org({ plan: 'GROWTH', provider: 'OPENAI' });
    const { providerChangeImpact: i } = await server
      .client(o.admin.token)
      .data(IMPACT, { orgId: o.org.id, provider: 'INTERVY_CREDITS' });
    expect(i).toMatchObject({
      allowed: true,
      currentEffectiveProvider: 'OPENAI',
      creditsDeductedAfter: true,
      creditsStopBeingDeducted: false,
      creditsResumeBeingDeducted: true,
      usageTrackingAvailableAfter: true,
    });
  });

  it('says nothing changes when switching between two BYOK providers', async () => {
    const o = await server.seed.org({ plan: 'GROWTH', provider: 'OPENAI' });
    const { providerChangeImpact: i } = await server
      .client(o.admin.token)
      .data(IMPACT, { orgId: o.org.id, provider: 'ANTHROPIC' });
    expect(i).toMatchObject({
      creditsDeductedAfter: false,
      creditsStopBeingDeducted: false,
      creditsResumeBeingDeducted: false,
      usageTrackingAvailableAfter: false,
    });
  });

  it('marks a BYOK provider as not allowed below Growth, with credits still deducted', async () => {
    const o = await server.seed.org({ plan: 'FREE' });
    const { providerChangeImpact: i } = await server
      .client(o.admin.token)
      .data(IMPACT, { orgId: o.org.id, provider: 'OPENAI' });
    expect(i).toMatchObject({
      allowed: false,
      refusalReason: 'PLAN_EXCLUDES_BYOK',
      refusalMessage:
        'Bring Your Own Key is available on the Growth plan and above; this org is on Free. Upgrade to Growth to use OpenAI.',
      requiredPlan: 'GROWTH',
      endsGraceWindow: false,
      creditsDeductedAfter: true,
      creditsStopBeingDeducted: false,
      usageTrackingAvailableAfter: true,
    });
    // Saving it anyway is refused with the very words the dialog showed.
    const saved = await server
      .client(o.admin.token)
      .request(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } });
    expect(saved.errors?.[0]).toMatchObject({
      message: i.refusalMessage,
      extensions: { code: 'PLAN_UPGRADE_REQUIRED' },
    });
  });

  it('gives no reason and no plan when the change is allowed', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    for (const provider of ['ANTHROPIC', 'OPENAI', 'INTERVY_CREDITS'] as const) {
      const { providerChangeImpact: i } = await server
        .client(o.admin.token)
        .data(IMPACT, { orgId: o.org.id, provider });
      expect(i, provider).toMatchObject({
        allowed: true,
        refusalReason: null,
        refusalMessage: null,
        requiredPlan: null,
        endsGraceWindow: false,
      });
    }
  });

  it('counts members with a saved key and with a VALID key for that provider, out of all members', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const extra = await server.seed.member(o.org.id, 'INTERVIEWER');
    const leaver = await server.seed.member(o.org.id, 'INTERVIEWER');
    await server.seed.key(o.org.id, o.admin.id, 'ANTHROPIC', 'sk-ant-api03-count-admin-00000001', 'VALID');
    await server.seed.key(o.org.id, o.staffing.id, 'ANTHROPIC', 'sk-ant-api03-count-staff-00000002', 'INVALID');
    await server.seed.key(o.org.id, o.interviewer.id, 'ANTHROPIC', 'sk-ant-api03-count-inter-00000003', 'UNTESTED');
    await server.seed.key(o.org.id, extra.id, 'OPENAI', 'sk-proj-count-extra-00000004', 'VALID');
    await server.seed.key(o.org.id, leaver.id, 'ANTHROPIC', 'sk-ant-api03-count-leaver-0000005', 'VALID');
    // Someone who left the org keeps their row until cleanup, but no longer counts.
    await server.app.services.db.membership.delete({ where: { orgId_userId: { orgId: o.org.id, userId: leaver.id } } });
    // A key for this org's provider in another org does not count either.
    const other = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(other.org.id, other.admin.id, 'ANTHROPIC', 'sk-ant-api03-count-other-0000006', 'VALID');

    const impact = async (provider: AiProvider) =>
      (await server.client(o.admin.token).data(IMPACT, { orgId: o.org.id, provider })).providerChangeImpact;
    expect(await impact('ANTHROPIC')).toMatchObject({ membersTotal: 4, membersWithKey: 3, membersWithValidKey: 1 });
    expect(await impact('OPENAI')).toMatchObject({ membersTotal: 4, membersWithKey: 1, membersWithValidKey: 1 });
    expect(await impact('INTERVY_CREDITS')).toMatchObject({
      membersTotal: 4,
      membersWithKey: 0,
      membersWithValidKey: 0,
    });
  });

  it('follows a key test: a key that tests VALID is counted as valid', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(o.org.id, o.interviewer.id, 'OPENAI', 'sk-proj-becomes-valid-00000007', 'UNTESTED');
    const before = (await server.client(o.admin.token).data(IMPACT, { orgId: o.org.id, provider: 'OPENAI' }))
      .providerChangeImpact;
    expect([before.membersWithKey, before.membersWithValidKey]).toEqual([1, 0]);
    await server.app.services.db.personalApiKey.updateMany({ where: { orgId: o.org.id }, data: { status: 'VALID' } });
    const after = (await server.client(o.admin.token).data(IMPACT, { orgId: o.org.id, provider: 'OPENAI' }))
      .providerChangeImpact;
    expect([after.membersWithKey, after.membersWithValidKey]).toEqual([1, 1]);
  });

  it('answers with counts only: nothing in its type can say who or which key', async () => {
    const r = await server.client().request(
      graphql(`
        query AiSettingsImpactFields {
          __type(name: "ProviderChangeImpact") {
            fields {
              name
              type {
                kind
                name
                ofType {
                  kind
                  name
                }
              }
            }
          }
        }
      `),
    );
    const fields = r.data!.__type!.fields!;
    // Counts, flags and enums; the two texts are built from the plan, the providers and the window's dates only.
    const TEXTS = ['refusalMessage', 'graceWindowNotice'];
    for (const f of fields) {
      const type = f.type.kind === 'NON_NULL' ? f.type.ofType!.name : f.type.name;
      if (TEXTS.includes(f.name)) expect(type, f.name).toBe('String');
      else expect(['Int', 'Boolean', 'AiProvider', 'ProviderChangeRefusal', 'Plan'], f.name).toContain(type);
    }
    expect(fields.filter((f) => TEXTS.includes(f.name))).toHaveLength(2);
  });
});

describe('providers', () => {
  const PROVIDERS = graphql(`
    query AiSettingsProviders {
      providers {
        provider
        label
        takesPersonalKey
        keyPrefix
        apiKeysUrl
        usageDashboard {
          name
          url
        }
      }
      __type(name: "AiProvider") {
        enumValues {
          name
        }
      }
    }
  `);

  it('labels every provider and gives the vendors’ console links, so no client hard-codes them', async () => {
    const o = await server.seed.org();
    const r = await server.client(o.interviewer.token).data(PROVIDERS);
    expect(r.providers).toEqual([
      {
        provider: 'INTERVY_CREDITS',
        label: 'Intervy Credits',
        takesPersonalKey: false,
        keyPrefix: null,
        apiKeysUrl: null,
        usageDashboard: null,
      },
      {
        provider: 'ANTHROPIC',
        label: 'Anthropic',
        takesPersonalKey: true,
        keyPrefix: 'sk-ant-',
        apiKeysUrl: 'https://console.anthropic.com/settings/keys',
        usageDashboard: { name: 'Anthropic Console', url: 'https://console.anthropic.com/settings/usage' },
      },
      {
        provider: 'OPENAI',
        label: 'OpenAI',
        takesPersonalKey: true,
        keyPrefix: 'sk-',
        apiKeysUrl: 'https://platform.openai.com/api-keys',
        usageDashboard: { name: 'OpenAI Platform', url: 'https://platform.openai.com/usage' },
      },
    ]);
    // Every value of the enum has its entry: a provider added later without a label fails here.
    expect(r.providers.map((p) => p.provider).sort()).toEqual(r.__type!.enumValues!.map((v) => v.name).sort());
  });

  it('is refused to an anonymous client with UNAUTHENTICATED', async () => {
    expect(await server.client().errorCode(PROVIDERS)).toBe('UNAUTHENTICATED');
  });
});
