import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import type { GqlError, Subscription } from '../../dev/client.ts';
import { watchOrgSettings } from '../support/live.ts';
import { sharedExecutions } from '../../src/lib/shared-views.ts';
import { settingsTopic } from '../support/server-probe.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import { startFakeOpenAI } from '../../dev/vendors/openai-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { AiProvider, SetPersonalKeyInput, TestPersonalKeyInput } from '../../src/generated/graphql/graphql.ts';
import { DELETE_PERSONAL_KEY, SET_PERSONAL_KEY, TEST_PERSONAL_KEY } from '../../dev/documents.ts';

const WATCH = graphql(`
  subscription SubsWatch($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      orgId
      provider
    }
  }
`);
const UPDATE = graphql(`
  mutation SubsUpdate($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
    }
  }
`);
const AUDIT = graphql(`
  query SubsAudit($orgId: ID!, $first: Int, $after: String) {
    auditLog(orgId: $orgId, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          action
          actorId
          detail
          createdAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

let anthropic: FakeVendorServer;
let openai: FakeVendorServer;
let server: TestServer;
const open: Subscription<unknown>[] = [];

beforeAll(async () => {
  [anthropic, openai] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()]);
  server = await startTestServer({ env: { ANTHROPIC_BASE_URL: anthropic.url, OPENAI_BASE_URL: openai.url } });
});
afterAll(async () => {
  for (const s of open) s.stop();
  await server?.stop();
  await Promise.all([anthropic?.close(), openai?.close()]);
});

function keyInput(o: SeededOrg, provider: AiProvider): { input: TestPersonalKeyInput };
function keyInput(o: SeededOrg, provider: AiProvider, apiKey: string): { input: SetPersonalKeyInput };
function keyInput(
  o: SeededOrg,
  provider: AiProvider,
  apiKey?: string,
): { input: TestPersonalKeyInput | SetPersonalKeyInput } {
  return { input: { orgId: o.org.id, provider, ...(apiKey ? { apiKey } : {}) } };
}

const SETTINGS_CHANGED = graphql(`
  subscription SubsSettingsChanged($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      orgId
      provider
      effectiveProvider
      viewerCanManage
      model {
        modelId
      }
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);
const watch = (o: SeededOrg, ...tokens: string[]) => watchOrgSettings(server, o.org.id, tokens, SETTINGS_CHANGED, open);

async function audit(o: SeededOrg, vars: { first?: number; after?: string } = {}) {
  return (await server.client(o.admin.token).data(AUDIT, { orgId: o.org.id, ...vars })).auditLog;
}

describe('orgAiSettingsChanged over graphql-ws', () => {
  it('reaches every subscriber, each with the settings as that subscriber may see them', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server
      .client(o.admin.token)
      .data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', 'sk-ant-api03-admin-sub-Aa1Bb2Cc3Dd4'));
    await server
      .client(o.interviewer.token)
      .data(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', 'sk-proj-interviewer-sub-Ee5Ff6Gg7H'));
    const [admin, interviewer] = await watch(o, o.admin.token, o.interviewer.token);

    await server
      .client(o.admin.token)
      .data(UPDATE, { input: { orgId: o.org.id, provider: 'ANTHROPIC', model: 'claude-opus-5-5' } });
    const [a] = await admin.waitFor(1);
    const [i] = await interviewer.waitFor(1);
    expect(a.errors).toBeUndefined();
    expect(i.errors).toBeUndefined();
    const shared = {
      orgId: o.org.id,
      provider: 'ANTHROPIC',
      effectiveProvider: 'ANTHROPIC',
      model: { modelId: 'claude-opus-5-5' },
    };
    expect(a.data!.orgAiSettingsChanged).toEqual({
      ...shared,
      viewerCanManage: true,
      viewerKeys: [{ provider: 'ANTHROPIC', hint: 'sk-ant-…3Dd4', status: 'UNTESTED' }],
    });
    expect(i.data!.orgAiSettingsChanged).toEqual({
      ...shared,
      viewerCanManage: false,
      viewerKeys: [{ provider: 'OPENAI', hint: 'sk-proj-…Gg7H', status: 'UNTESTED' }],
    });
  });

  it('executes an event once per distinct view (role and own keys), and each subscriber still gets its own view', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const [secondAdmin, adminWithKey] = [
      await server.seed.member(o.org.id, 'ADMIN'),
      await server.seed.member(o.org.id, 'ADMIN'),
    ];
    await server
      .client(adminWithKey.token)
      .data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', 'sk-ant-api03-admin-view-Ll1Mm2Nn3O'));
    await server
      .client(o.interviewer.token)
      .data(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', 'sk-proj-interviewer-view-Hh8Ii9Jj0K'));
    // Views: the two admins without keys; the admin with a key; the interviewer (twice, with a key); staffing.
    const tokens = [o.admin.token, secondAdmin.token, adminWithKey.token, o.interviewer.token, o.interviewer.token];
    const subs = await watch(o, ...tokens, o.staffing.token);
    const before = sharedExecutions.count;
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } });
    const views = await Promise.all(subs.map(async (s) => (await s.waitFor(1))[0].data!.orgAiSettingsChanged));
    expect(sharedExecutions.count - before).toBe(4);
    const interviewerKeys = [{ provider: 'OPENAI', hint: 'sk-proj-…Jj0K', status: 'UNTESTED' }];
    expect(views.map((v) => [v.viewerCanManage, v.viewerKeys])).toEqual([
      [true, []],
      [true, []],
      [true, [{ provider: 'ANTHROPIC', hint: 'sk-ant-…Nn3O', status: 'UNTESTED' }]],
      [false, interviewerKeys],
      [false, interviewerKeys],
      [false, []],
    ]);
  });

  it('publishes every key change: save, test and delete, each seen by the other members without that key', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const [admin, staffing] = await watch(o, o.admin.token, o.staffing.token);
    const c = server.client(o.staffing.token);

    await c.data(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', 'sk-proj-staffing-live-Hh8Jj9Kk0L'));
    await staffing.waitFor(1);
    expect(staffing.results[0].data!.orgAiSettingsChanged.viewerKeys).toEqual([
      { provider: 'OPENAI', hint: 'sk-proj-…Kk0L', status: 'UNTESTED' },
    ]);

    await c.data(TEST_PERSONAL_KEY, keyInput(o, 'OPENAI'));
    await staffing.waitFor(2);
    expect(staffing.results[1].data!.orgAiSettingsChanged.viewerKeys[0].status).toBe('VALID');

    await c.data(DELETE_PERSONAL_KEY, keyInput(o, 'OPENAI'));
    await staffing.waitFor(3);
    expect(staffing.results[2].data!.orgAiSettingsChanged.viewerKeys).toEqual([]);

    // The admin was told about each change, and never saw the staffing member's key.
    await admin.waitFor(3);
    expect(admin.results.map((r) => r.data!.orgAiSettingsChanged.viewerKeys)).toEqual([[], [], []]);
    expect(admin.results.every((r) => r.data!.orgAiSettingsChanged.viewerCanManage === true)).toBe(true);
    expect(staffing.results.every((r) => r.data!.orgAiSettingsChanged.viewerCanManage === false)).toBe(true);
  });

  it('sends nothing for a refused change or a delete that removed nothing', async () => {
    const o = await server.seed.org({ plan: 'FREE' });
    const [admin] = await watch(o, o.admin.token);
    expect(
      await server.client(o.admin.token).errorCode(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } }),
    ).toBe('PLAN_UPGRADE_REQUIRED');
    expect(await server.client(o.admin.token).errorCode(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', 'not-a-key'))).toBe(
      'INVALID_API_KEY_FORMAT',
    );
    expect(
      (await server.client(o.admin.token).data(DELETE_PERSONAL_KEY, keyInput(o, 'OPENAI'))).deletePersonalKey,
    ).toBe(false);
    // Then one real change: the server published that one event and no other, and the subscriber got it.
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'INTERVY_CREDITS' } });
    expect(server.probe.publishedOn(settingsTopic(o.org.id))).toEqual([{ orgId: o.org.id }]);
    await admin.waitFor(1);
    expect(admin.results).toHaveLength(1);
  });

  it('does not leak one org’s changes to another org’s subscribers', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const other = await server.seed.org({ plan: 'GROWTH' });
    const [sub] = await watch(other, other.admin.token);
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } });
    await server.client(other.admin.token).data(UPDATE, { input: { orgId: other.org.id, provider: 'ANTHROPIC' } });
    // The other org's change was published first, so a leak would reach this stream first: once the subscriber has
    // its first event, the server has handed it everything it ever will from before, and that is its own org's one.
    await sub.waitFor(1);
    expect(server.probe.deliveredOn(settingsTopic(other.org.id))).toEqual([{ orgId: other.org.id }]);
    expect(server.probe.publishedOn(settingsTopic(o.org.id))).toEqual([{ orgId: o.org.id }]);
    expect(sub.results.map((r) => r.data!.orgAiSettingsChanged.provider)).toEqual(['ANTHROPIC']);
  });

  it('stops sending to a member removed from the org while subscribed', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const [admin, leaver] = await watch(o, o.admin.token, o.interviewer.token);
    await server.app.services.db.membership.delete({
      where: { orgId_userId: { orgId: o.org.id, userId: o.interviewer.id } },
    });
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } });
    await admin.waitFor(1);
    // It is told why, once, and the server ends the stream rather than letting it linger.
    const received = await leaver.done;
    expect(received.filter((r) => r.data)).toEqual([]);
    expect(received.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN']);
    await server.waitForSubscribers(settingsTopic(o.org.id), 1);
  });

  it('follows a role change mid-subscription: viewerCanManage reflects the role at the time of each event', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const [staffing] = await watch(o, o.staffing.token);
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI' } });
    await staffing.waitFor(1);
    await server.app.services.db.membership.update({
      where: { orgId_userId: { orgId: o.org.id, userId: o.staffing.id } },
      data: { role: 'ADMIN' },
    });
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'ANTHROPIC' } });
    await staffing.waitFor(2);
    expect(staffing.results.map((r) => r.data!.orgAiSettingsChanged.viewerCanManage)).toEqual([false, true]);
  });

  it('refuses a non-member with FORBIDDEN and an anonymous client with UNAUTHENTICATED', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const outsider = await server.seed.outsider();
    const member = await server.seed.org({ plan: 'GROWTH' }); // an admin of some other org
    for (const [token, code] of [
      [outsider.token, 'FORBIDDEN'],
      [member.admin.token, 'FORBIDDEN'],
      [null, 'UNAUTHENTICATED'],
    ] as const) {
      const sub = server.client(token).subscribeWs(WATCH, { orgId: o.org.id });
      open.push(sub);
      const outcome = await sub.done.then(
        (results) => ({ results, error: null as unknown }),
        (error) => ({ results: sub.results, error }),
      );
      const codes = [
        ...outcome.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code)),
        ...(Array.isArray(outcome.error) ? outcome.error.map((e: GqlError) => e.extensions?.code) : []),
      ];
      expect(codes, String(token)).toEqual([code]);
      expect(outcome.results.every((r) => !r.data)).toBe(true);
    }
  });
});

describe('auditLog', () => {
  it('records who changed the provider, the model and each key, with no key material, newest first', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const key = 'sk-ant-api03-audited-key-Zq1Xw2Ce3Vr4';
    await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'ANTHROPIC' } });
    await server
      .client(o.admin.token)
      .data(UPDATE, { input: { orgId: o.org.id, provider: 'ANTHROPIC', model: 'claude-haiku-5-5' } });
    await server.client(o.interviewer.token).data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', key));
    await server.client(o.interviewer.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'));
    await server.client(o.interviewer.token).data(DELETE_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'));

    const log = await audit(o);
    expect(log.edges.map((e) => [e.node.action, e.node.actorId, e.node.detail])).toEqual([
      ['personal_key.deleted', o.interviewer.id, { provider: 'ANTHROPIC' }],
      ['personal_key.tested', o.interviewer.id, { provider: 'ANTHROPIC', status: 'VALID' }],
      ['personal_key.saved', o.interviewer.id, { provider: 'ANTHROPIC' }],
      [
        'ai_settings.provider_changed',
        o.admin.id,
        {
          from: { provider: 'ANTHROPIC', model: 'claude-sonnet-5-5' },
          to: { provider: 'ANTHROPIC', model: 'claude-haiku-5-5' },
        },
      ],
      [
        'ai_settings.provider_changed',
        o.admin.id,
        {
          from: { provider: 'INTERVY_CREDITS', model: null },
          to: { provider: 'ANTHROPIC', model: 'claude-sonnet-5-5' },
        },
      ],
    ]);
    const times = log.edges.map((e) => Date.parse(e.node.createdAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    expect(JSON.stringify(log)).not.toContain(key);
    expect(JSON.stringify(log)).not.toContain(key.slice(-4));
  });

  it('pages with first/after through every event exactly once, newest first', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const models = ['gpt-5-nano', 'gpt-5-mini', 'gpt-5', 'o4-mini', 'o3', 'gpt-5-nano', 'gpt-5'];
    for (const model of models)
      await server.client(o.admin.token).data(UPDATE, { input: { orgId: o.org.id, provider: 'OPENAI', model } });

    const seen: Awaited<ReturnType<typeof audit>>['edges'][number]['node'][] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await audit(o, { first: 3, ...(after ? { after } : {}) });
      pages++;
      expect(page.edges.length).toBeLessThanOrEqual(3);
      seen.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor ?? undefined;
    }
    expect(pages).toBe(3);
    expect(seen.map((n) => n.detail)).toMatchObject([...models].reverse().map((model) => ({ to: { model } })));
    expect(new Set(seen.map((n) => n.id)).size).toBe(models.length);
  });

  it('keeps each org’s trail to itself', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const other = await server.seed.org({ plan: 'GROWTH' });
    await server.client(other.admin.token).data(UPDATE, { input: { orgId: other.org.id, provider: 'OPENAI' } });
    expect((await audit(o)).edges).toEqual([]);
    expect(await server.client(other.admin.token).errorCode(AUDIT, { orgId: o.org.id })).toBe('FORBIDDEN');
  });
});
