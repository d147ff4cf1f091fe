import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as credits } from '../../src/commands/credits.ts';
import { spendMonth } from '../../src/domain/member-caps.ts';
import { reserveCredits } from '../../src/domain/credits.ts';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import { balanceOf, ledgerAddsUp, runCompletion, ask, startedOf } from '../support/ivy.ts';
import { runCommand } from '../support/operator-command.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { SET_PERSONAL_KEY } from '../../dev/documents.ts';

const USAGE = graphql(`
  query UsageUsage($o: ID!, $first: Int, $after: String) {
    usage(orgId: $o) {
      trackingAvailable
      notice
      providerDashboardUrl
      totalCreditsCharged
      entries(first: $first, after: $after) {
        edges {
          cursor
          node {
            member {
              email
            }
            model
            inputTokens
            outputTokens
            creditsCharged
            status
            createdAt
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);
// The connection's own arguments, forwards and backwards.
const ENTRIES = graphql(`
  query UsageEntries($o: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    usage(orgId: $o) {
      entries(first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            requestId
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
      }
    }
  }
`);

let server: TestServer, stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, stop } = await startServerWithVendors({
    env: { HOLD_TIMEOUT_MS: '60000', SWEEP_INTERVAL_MS: '50' },
    backgroundJobs: true,
  }));
});
afterAll(() => stop?.());

describe('the Usage page', () => {
  it('lists every credits-mode completion, newest first, with member, model, tokens, credits, status and totals', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 1000 });
    await runCompletion(server.client(interviewer.token), 'ws', { orgId: org.id, messages: ask('[[usage:2000:100]]') });
    server.clock.advance(1000);
    await runCompletion(server.client(admin.token), 'ws', { orgId: org.id, messages: ask('[[500]]') });
    const d = await server.client(admin.token).data(USAGE, { o: org.id });
    expect(d.usage).toMatchObject({
      trackingAvailable: true,
      notice: null,
      providerDashboardUrl: null,
      totalCreditsCharged: 3,
    });
    expect(d.usage!.entries.edges.map((e) => e.node)).toMatchObject([
      { member: { email: admin.email }, model: 'claude-haiku-5-5', creditsCharged: 0, status: 'FAILED' },
      {
        member: { email: interviewer.email },
        model: 'claude-haiku-5-5',
        inputTokens: 2000,
        outputTokens: 100,
        creditsCharged: 3,
        status: 'SUCCEEDED',
      },
    ]);
  });

  it('pages with first and after', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    for (let i = 0; i < 3; i++)
      await runCompletion(server.client(admin.token), 'ws', { orgId: org.id, messages: ask(`q${i}`) });
    const c = server.client(admin.token);
    const p1 = (await c.data(USAGE, { o: org.id, first: 2 })).usage!.entries;
    expect(p1.edges).toHaveLength(2);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await c.data(USAGE, { o: org.id, first: 2, after: p1.pageInfo.endCursor })).usage!.entries;
    expect(p2.edges).toHaveLength(1);
    expect(p2.pageInfo.hasNextPage).toBe(false);
    expect(new Set([...p1.edges, ...p2.edges].map((e) => e.cursor)).size).toBe(3);
  });

  it('pages the connection itself: last and before backwards, first and after forwards, in one newest-first order', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    for (let i = 0; i < 4; i++)
      await runCompletion(server.client(admin.token), 'ws', {
        orgId: org.id,
        messages: ask(`q${i}`),
        requestId: `r${i}`,
      });
    const c = server.client(admin.token);
    const ids = (p: { edges: { node: { requestId: string } }[] }) => p.edges.map((e) => e.node.requestId);
    const all = (await c.data(ENTRIES, { o: org.id })).usage!.entries;
    expect(ids(all)).toEqual(['r3', 'r2', 'r1', 'r0']);

    const tail = (await c.data(ENTRIES, { o: org.id, last: 2 })).usage!.entries;
    expect(ids(tail)).toEqual(['r1', 'r0']);
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    const before = (await c.data(ENTRIES, { o: org.id, last: 2, before: tail.pageInfo.startCursor })).usage!.entries;
    expect(ids(before)).toEqual(['r3', 'r2']);
    expect(before.pageInfo.hasPreviousPage).toBe(false);

    // Forwards on the connection itself.
    const head = (await c.data(ENTRIES, { o: org.id, first: 2 })).usage!.entries;
    expect(ids(head)).toEqual(['r3', 'r2']);
    expect(head.pageInfo.hasNextPage).toBe(true);
    const rest = (await c.data(ENTRIES, { o: org.id, first: 2, after: head.pageInfo.endCursor })).usage!.entries;
    expect(ids(rest)).toEqual(['r1', 'r0']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses a cursor it did not hand out with BAD_USER_INPUT, in either direction, and logs no error', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    const c = server.client(admin.token);
    await runCompletion(c, 'ws', { orgId: org.id, messages: ask('q') });
    await c.data(SWITCH, { input: { orgId: org.id, provider: 'INTERVY_CREDITS' } });
    const other = await server.seed.org({ credits: 1000 });
    await runCompletion(server.client(other.admin.token), 'ws', { orgId: other.org.id, messages: ask('q') });
    const auditCursor = (await c.data(AUDIT_PAGE, { o: org.id, first: 1 })).auditLog.pageInfo.endCursor!;
    const otherOrgs = (await server.client(other.admin.token).data(ENTRIES, { o: other.org.id, first: 1 })).usage!
      .entries.pageInfo.endCursor!;
    const own = (await c.data(ENTRIES, { o: org.id, first: 1 })).usage!.entries.pageInfo.endCursor!;
    // The same encoding around another row id: a tampered cursor.
    const tampered = Buffer.from(
      Buffer.from(own, 'base64')
        .toString()
        .replace(/[0-9a-f]{8}-/, '00000000-'),
    ).toString('base64');
    expect(tampered).not.toBe(own);
    const errorsBefore = server.logs.filter((l) => JSON.parse(l).level === 'error').length;
    for (const cursor of ['garbage', auditCursor, otherOrgs, tampered]) {
      for (const vars of [{ after: cursor }, { last: 2, before: cursor }]) {
        const r = await c.request(ENTRIES, { o: org.id, ...vars });
        expect(r.errors?.[0], JSON.stringify(vars)).toMatchObject({
          message: expect.stringMatching(/^The cursor is not one this API returned/),
          path: ['usage', 'entries'],
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
    }
    // And the audit log refuses a usage cursor.
    const r = await c.request(AUDIT_PAGE_AFTER, { o: org.id, after: own });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(server.logs.filter((l) => JSON.parse(l).level === 'error').length).toBe(errorsBefore);
    // Paging arguments live on the connection only.
    expect(await c.errorCode(`query { usage(orgId: "${org.id}", first: 2) { totalCreditsCharged } }`)).toBe(
      'GRAPHQL_VALIDATION_FAILED',
    );
  });

  it('says usage tracking is not available in BYOK mode and links the provider’s dashboard', async () => {
    for (const [provider, url] of [
      ['ANTHROPIC', 'https://console.anthropic.com/settings/usage'],
      ['OPENAI', 'https://platform.openai.com/usage'],
    ] as const) {
      const { org, staffing } = await server.seed.org({ provider });
      const d = await server.client(staffing.token).data(USAGE, { o: org.id });
      expect(d.usage!.trackingAvailable).toBe(false);
      expect(d.usage!.notice).toMatch(/usage tracking is not available in BYOK mode/i);
      expect(d.usage!.notice).toContain(provider === 'ANTHROPIC' ? 'Anthropic Console' : 'OpenAI Platform');
      expect(d.usage!.providerDashboardUrl).toBe(url);
    }
  });

  it('is for org:view (Admins and Staffing), not Interviewers', async () => {
    const { org, interviewer, staffing } = await server.seed.org();
    expect(await server.client(interviewer.token).errorCode(USAGE, { o: org.id })).toBe('FORBIDDEN');
    expect((await server.client(staffing.token).request(USAGE, { o: org.id })).errors).toBeUndefined();
  });
});

// Everything the settings and usage pages read, with every id a normalized cache keys on.
const SET_FALLBACK = graphql(`
  mutation UsageSetFallback($input: SetFallbackToCreditsInput!) {
    setFallbackToCredits(input: $input) {
      fallbackToCredits
    }
  }
`);
const PAGE = graphql(`
  query UsagePageIds($o: ID!) {
    viewer {
      memberships {
        org {
          __typename
          id
        }
      }
    }
    orgAiSettings(orgId: $o) {
      __typename
      id
      model {
        __typename
        id
      }
      effectiveModel {
        __typename
        id
      }
      availableModels {
        __typename
        id
        modelId
        provider
        label
      }
    }
    creditBalance(orgId: $o) {
      __typename
      id
    }
    usage(orgId: $o) {
      entries {
        edges {
          node {
            __typename
            id
          }
        }
      }
    }
    auditLog(orgId: $o) {
      edges {
        node {
          __typename
          id
        }
      }
    }
  }
`);
const NODE = graphql(`
  query UsageNode($id: ID!) {
    node(id: $id) {
      __typename
      id
    }
  }
`);
const SETTINGS_BY_ORG_ID = graphql(`
  query UsageSettingsByOrgId($o: ID!) {
    orgAiSettings(orgId: $o) {
      orgId
    }
  }
`);
const SWITCH = graphql(`
  mutation UsageSwitch($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
      model {
        modelId
        provider
      }
    }
  }
`);
const AUDIT_PAGE = graphql(`
  query UsageAuditPage($o: ID!, $first: Int) {
    auditLog(orgId: $o, first: $first) {
      pageInfo {
        endCursor
      }
    }
  }
`);
const AUDIT_PAGE_AFTER = graphql(`
  query UsageAuditPageAfter($o: ID!, $after: String) {
    auditLog(orgId: $o, after: $after) {
      edges {
        cursor
      }
    }
  }
`);
const SETTINGS_AND_USAGE = graphql(`
  query UsageSettingsAndUsage($o: ID!) {
    orgAiSettings(orgId: $o) {
      provider
    }
    usage(orgId: $o) {
      totalCreditsCharged
    }
  }
`);
const RANGE = graphql(`
  query UsageRange($o: ID!, $from: DateTime, $to: DateTime) {
    usage(orgId: $o, from: $from, to: $to) {
      from
      to
      totalCreditsCharged
      byMember {
        member {
          email
        }
        completions
        creditsCharged
        inputTokens
        outputTokens
      }
      entries {
        edges {
          node {
            requestId
          }
        }
      }
    }
  }
`);
const WHO_PAID = graphql(`
  query UsageWhoPaid($o: ID!) {
    usage(orgId: $o) {
      entries {
        edges {
          node {
            requestId
            provider
            billing
            vendor
            model
            fallbackReason
          }
        }
      }
    }
  }
`);

describe('ids a normalized cache keys on', () => {
  it('are unique across the settings and usage pages, and node(id:) loads each for a member who may see it', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    const c = server.client(admin.token);
    await runCompletion(c, 'ws', { orgId: org.id, messages: ask('q1') });
    await runCompletion(c, 'ws', { orgId: org.id, messages: ask('q2') });
    await c.data(SWITCH, { input: { orgId: org.id, provider: 'INTERVY_CREDITS' } }); // one audit event
    const d = await c.data(PAGE, { o: org.id });

    const objects = [
      ...d.viewer.memberships.map((m) => m.org),
      d.orgAiSettings,
      d.orgAiSettings.model,
      d.orgAiSettings.effectiveModel,
      ...d.orgAiSettings.availableModels,
      d.creditBalance,
      ...d.usage!.entries.edges.map((e) => e.node),
      ...d.auditLog.edges.map((e) => e.node),
    ];
    expect(new Set(objects.map((o) => o.__typename))).toEqual(
      new Set(['Org', 'OrgAiSettings', 'AiModel', 'CreditBalance', 'UsageEntry', 'AuditEvent']),
    );
    // Two different objects never share an id, not even across types (the same object read twice does).
    const byId = new Map<string, string>();
    for (const o of objects) {
      const key = JSON.stringify(d.orgAiSettings.availableModels.find((m) => m.id === o.id) ?? o);
      expect(byId.get(o.id) ?? key, o.id).toBe(key);
      byId.set(o.id, key);
    }
    expect(new Set(d.orgAiSettings.availableModels.map((m) => m.id)).size).toBe(d.orgAiSettings.availableModels.length);
    // The house model and the same vendor model under Anthropic: one modelId, two models, two ids.
    const haiku = d.orgAiSettings.availableModels.filter((m) => m.modelId === 'claude-haiku-5-5');
    expect(haiku.map((m) => [m.provider, m.label])).toEqual([
      ['INTERVY_CREDITS', 'Ivy (Haiku)'],
      ['ANTHROPIC', 'Haiku'],
    ]);
    expect(haiku[0].id).not.toBe(haiku[1].id);
    expect(d.orgAiSettings.model.id).toBe(haiku[0].id);

    for (const o of objects) {
      const r = await c.request(NODE, { id: o.id });
      expect(r.errors, o.id).toBeUndefined();
      expect(r.data!.node).toEqual({ __typename: o.__typename, id: o.id });
    }
    // Every orgId argument takes the Org's id as well as the org's uuid.
    const orgNodeId = d.viewer.memberships[0].org.id;
    expect(orgNodeId).not.toBe(org.id);
    expect((await c.data(SETTINGS_BY_ORG_ID, { o: orgNodeId })).orgAiSettings.orgId).toBe(org.id);
    // A model may be saved by its id too (AiModel.id), as well as by its modelId.
    const anthropicHaiku = haiku[1].id;
    const planned = await server.seed.org({ plan: 'GROWTH' });
    expect(
      (
        await server.client(planned.admin.token).data(SWITCH, {
          input: { orgId: planned.org.id, provider: 'ANTHROPIC', model: anthropicHaiku },
        })
      ).updateProvider.model,
    ).toEqual({ modelId: 'claude-haiku-5-5', provider: 'ANTHROPIC' });
    expect(
      await server.client(planned.admin.token).errorCode(SWITCH, {
        input: { orgId: planned.org.id, provider: 'OPENAI', model: anthropicHaiku },
      }),
    ).toBe('BAD_USER_INPUT');
  });

  it('refuses another org’s ids (FORBIDDEN, never the object), ids beyond the role, and ids it never returned', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 1000 });
    const c = server.client(admin.token);
    await runCompletion(c, 'ws', { orgId: org.id, messages: ask('q') });
    await c.data(SWITCH, { input: { orgId: org.id, provider: 'INTERVY_CREDITS' } });
    const d = await c.data(PAGE, { o: org.id });
    const ids = {
      org: d.viewer.memberships[0].org.id,
      settings: d.orgAiSettings.id,
      balance: d.creditBalance.id,
      entry: d.usage!.entries.edges[0].node.id,
      audit: d.auditLog.edges[0].node.id,
    };
    const other = await server.seed.org({ credits: 1000 });
    for (const id of Object.values(ids)) {
      const r = await server.client(other.admin.token).request(NODE, { id });
      expect(r.data?.node ?? null, id).toBeNull();
      expect(r.errors?.[0], id).toMatchObject({ path: ['node'], extensions: { code: 'FORBIDDEN' } });
      expect(JSON.stringify(r)).not.toContain(org.id);
    }
    // An interviewer of the org: the settings and balance as their fields allow; not the usage entry nor the audit log.
    const mine = server.client(interviewer.token);
    for (const id of [ids.org, ids.settings, ids.balance])
      expect((await mine.data(NODE, { id })).node?.id, id).toBe(id);
    for (const id of [ids.entry, ids.audit])
      expect((await mine.request(NODE, { id })).errors?.[0].extensions?.code, id).toBe('FORBIDDEN');
    // Not signed in.
    expect(await server.client().errorCode(NODE, { id: ids.settings })).toBe('UNAUTHENTICATED');
    // Ids this API never returned: garbage, an unknown type, a key that is no uuid, a uuid of nothing.
    const forged = (s: string) => Buffer.from(s).toString('base64url');
    const before = server.logs.filter((l) => JSON.parse(l).level === 'error').length;
    for (const id of ['garbage!', forged('Nope:1'), forged('UsageEntry:not-a-uuid'), forged('Org')]) {
      const r = await c.request(NODE, { id });
      expect(r.errors?.[0], id).toMatchObject({
        message: expect.stringMatching(/^The id is not one this API returned/),
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    expect(await c.errorCode(NODE, { id: forged(`UsageEntry:${other.org.id}`) })).toBe('FORBIDDEN');
    expect(server.logs.filter((l) => JSON.parse(l).level === 'error').length).toBe(before);
  });
});

describe('the Usage page, by date range and member', () => {
  it('gives an interviewer their settings and usage: null with FORBIDDEN at that path, not data: null', async () => {
    const { org, interviewer } = await server.seed.org();
    const r = await server.client(interviewer.token).request(SETTINGS_AND_USAGE, { o: org.id });
    expect(r.data).toEqual({ orgAiSettings: { provider: 'INTERVY_CREDITS' }, usage: null });
    expect(r.errors).toEqual([
      expect.objectContaining({ path: ['usage'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) }),
    ]);
  });

  it('sums and lists only [from, to), per member, and refuses a reversed, half or too wide range', async () => {
    const { org, admin, staffing } = await server.seed.org({ credits: 10_000 });
    const t0 = server.clock.now();
    const day = 86_400_000;
    await runCompletion(server.client(admin.token), 'ws', {
      orgId: org.id,
      messages: ask('[[usage:1000:100]]'),
      requestId: 'a0',
    });
    server.clock.advance(2 * day);
    await runCompletion(server.client(staffing.token), 'ws', {
      orgId: org.id,
      messages: ask('[[usage:2000:100]]'),
      requestId: 's1',
    });
    await runCompletion(server.client(admin.token), 'ws', {
      orgId: org.id,
      messages: ask('[[usage:1000:100]]'),
      requestId: 'a1',
    });
    server.clock.advance(2 * day);
    await runCompletion(server.client(staffing.token), 'ws', {
      orgId: org.id,
      messages: ask('[[usage:1000:100]]'),
      requestId: 's2',
    });
    const c = server.client(staffing.token); // org:view
    const at = (days: number) => new Date(t0.getTime() + days * day).toISOString();

    const all = (await c.data(RANGE, { o: org.id })).usage!;
    expect(all).toMatchObject({ from: null, to: null });
    expect(all.entries.edges.map((e) => e.node.requestId)).toEqual(['s2', 'a1', 's1', 'a0']);

    const middle = (await c.data(RANGE, { o: org.id, from: at(1), to: at(3) })).usage!;
    expect(middle).toMatchObject({ from: at(1), to: at(3), totalCreditsCharged: 3 + 2 });
    expect(middle.entries.edges.map((e) => e.node.requestId)).toEqual(['a1', 's1']);
    expect(middle.byMember).toEqual([
      { member: { email: staffing.email }, completions: 1, creditsCharged: 3, inputTokens: 2000, outputTokens: 100 },
      { member: { email: admin.email }, completions: 1, creditsCharged: 2, inputTokens: 1000, outputTokens: 100 },
    ]);
    const allByMember = all.byMember.map((m) => [m.member.email, m.completions, m.creditsCharged]);
    expect(allByMember).toEqual([
      [staffing.email, 2, 5],
      [admin.email, 2, 4],
    ]);
    // [from, to): an entry at exactly `to` is the next range's.
    expect(
      (await c.data(RANGE, { o: org.id, from: at(0), to: at(2) })).usage!.entries.edges.map((e) => e.node.requestId),
    ).toEqual(['a0']);

    for (const [vars, message] of [
      [{ from: at(3), to: at(1) }, /^`from` must be before `to`/],
      [{ from: at(1), to: at(1) }, /^`from` must be before `to`/],
      [{ from: at(1) }, /^Give both `from` and `to`, or neither/],
      [{ to: at(1) }, /^Give both `from` and `to`, or neither/],
      [{ from: at(-367), to: at(0) }, /wider than 366 days/],
    ] as const) {
      const r = await c.request(RANGE, { o: org.id, ...vars });
      expect(r.errors?.[0], JSON.stringify(vars)).toMatchObject({
        message: expect.stringMatching(message),
        path: ['usage'],
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    expect((await c.request(RANGE, { o: org.id, from: at(-366), to: at(0) })).errors).toBeUndefined();
  });

  it('says who paid as the stream did: INTERVY_CREDITS, in a credits org and for a BYOK fallback', async () => {
    const credits = await server.seed.org({ credits: 1000 });
    const started = startedOf(
      await runCompletion(server.client(credits.interviewer.token), 'ws', {
        orgId: credits.org.id,
        messages: ask('q'),
        requestId: 'c1',
      }),
    );
    const byok = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC', credits: 1000 });
    await server.client(byok.admin.token).data(SET_FALLBACK, { input: { orgId: byok.org.id, enabled: true } });
    const fellBack = startedOf(
      await runCompletion(server.client(byok.interviewer.token), 'ws', {
        orgId: byok.org.id,
        messages: ask('q'),
        requestId: 'b1',
      }),
    );
    // A member with a key of their own in the BYOK org: billed to them, so not on the Usage page.
    await server.client(byok.staffing.token).data(SET_PERSONAL_KEY, {
      input: { orgId: byok.org.id, provider: 'ANTHROPIC', apiKey: 'sk-ant-api03-staffing-own-key-Aa1Bb2Cc3' },
    });
    const own = startedOf(
      await runCompletion(server.client(byok.staffing.token), 'ws', {
        orgId: byok.org.id,
        messages: ask('q'),
        requestId: 'b2',
      }),
    );
    expect([started, fellBack, own].map((e) => [e.provider, e.billing, e.fallbackReason])).toEqual([
      ['INTERVY_CREDITS', 'CREDITS', null],
      ['INTERVY_CREDITS', 'CREDITS', 'NO_API_KEY'],
      ['ANTHROPIC', 'BYOK', null],
    ]);
    const entries = async (o: { org: { id: string }; admin: { token: string } }) =>
      (await server.client(o.admin.token).data(WHO_PAID, { o: o.org.id })).usage!.entries.edges.map((e) => e.node);
    expect(await entries(credits)).toEqual([
      {
        requestId: 'c1',
        provider: started.provider,
        billing: started.billing,
        vendor: 'ANTHROPIC',
        model: started.model,
        fallbackReason: null,
      },
    ]);
    expect(await entries(byok)).toEqual([
      {
        requestId: 'b1',
        provider: fellBack.provider,
        billing: fellBack.billing,
        vendor: 'ANTHROPIC',
        model: fellBack.model,
        fallbackReason: 'NO_API_KEY',
      },
    ]);
  });
});

describe('credits', () => {
  it('releases a hold left by a crashed process once it times out', async () => {
    const { org, admin } = await server.seed.org({ credits: 100 });
    const db = server.app.services.db;
    // A process that placed this hold and then died never settles it.
    await reserveCredits(server.app.services, {
      orgId: org.id,
      userId: admin.id,
      requestId: 'orphan',
      vendor: 'ANTHROPIC',
      model: 'claude-haiku-5-5',
      holdAmount: 40,
      holdExpiresAt: new Date(server.clock.now().getTime() + 60_000),
      spendMonth: spendMonth(server.clock.now()),
    });
    expect(await balanceOf(server, org.id)).toBe(60);
    server.clock.advance(59_000);
    await server.probe.waitForSweeps(); // a whole sweep ran at this time: not yet expired
    expect(await balanceOf(server, org.id)).toBe(60);
    server.clock.advance(1_001);
    await server.probe.waitForSweeps();
    expect(await balanceOf(server, org.id)).toBe(100);
    expect(await db.completion.findFirstOrThrow({ where: { orgId: org.id } })).toMatchObject({
      status: 'EXPIRED',
      creditsCharged: 0,
    });
    await ledgerAddsUp(server, org.id);
  });

  it('offers no API to add credits: only the operator command tops them up', async () => {
    const { org } = await server.seed.org({ credits: 10 });
    const slug = (await server.app.services.db.org.findUniqueOrThrow({ where: { id: org.id } })).slug;
    const fields = await server.client().data(
      graphql(`
        query UsageMutationNames {
          __schema {
            mutationType {
              fields {
                name
              }
            }
          }
        }
      `),
    );
    expect(
      fields.__schema
        .mutationType!.fields!.map((f) => f.name)
        .filter((n) => /credit|balance|grant/i.test(n))
        // The consent switch for running BYOK answers on credits: it moves no credits (test/api/fallback.test.ts).
        .filter((n) => n !== 'setFallbackToCredits'),
    ).toEqual([]);

    // An operator command runs with the server's settings: with DATABASE_URL, its secrets are required too.
    const env = {
      DATABASE_URL: server.config.databaseUrl,
      AUTH_JWT_SECRET: server.config.jwtSecret,
      KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
      LOG_LEVEL: 'error',
    };
    expect(await runCommand(credits, ['grant', slug, '5000'], env)).toMatchObject({
      code: 0,
      stdout: `Granted 5000 credits to ${slug}; balance is now 5010.\n`,
    });
    expect(await balanceOf(server, org.id)).toBe(5010);
    await ledgerAddsUp(server, org.id);
    expect(await runCommand(credits, ['grant', slug, '-5'], env)).toMatchObject({ code: 2, stdout: '' });
    expect(await balanceOf(server, org.id)).toBe(5010);
  });
});
