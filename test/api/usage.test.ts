import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as credits } from '../../src/commands/credits.ts';
import { spendMonth } from '../../src/domain/member-caps.ts';
import { reserveCredits } from '../../src/domain/credits.ts';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import { balanceOf, ledgerAddsUp, runCompletion, ask } from '../support/ivy.ts';
import { runCommand } from '../support/operator-command.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const USAGE = graphql(`
  query UsageUsage($o: ID!, $first: Int, $after: String) {
    usage(orgId: $o, first: $first, after: $after) {
      trackingAvailable
      notice
      providerDashboardUrl
      totalCreditsCharged
      entries {
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
    expect(d.usage.entries.edges.map((e) => e.node)).toMatchObject([
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
    const p1 = (await c.data(USAGE, { o: org.id, first: 2 })).usage.entries;
    expect(p1.edges).toHaveLength(2);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await c.data(USAGE, { o: org.id, first: 2, after: p1.pageInfo.endCursor })).usage.entries;
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
    const all = (await c.data(ENTRIES, { o: org.id })).usage.entries;
    expect(ids(all)).toEqual(['r3', 'r2', 'r1', 'r0']);

    const tail = (await c.data(ENTRIES, { o: org.id, last: 2 })).usage.entries;
    expect(ids(tail)).toEqual(['r1', 'r0']);
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    const before = (await c.data(ENTRIES, { o: org.id, last: 2, before: tail.pageInfo.startCursor })).usage.entries;
    expect(ids(before)).toEqual(['r3', 'r2']);
    expect(before.pageInfo.hasPreviousPage).toBe(false);

    // Forwards on the connection itself; usage(first, after) hands out the same cursors.
    const head = (await c.data(ENTRIES, { o: org.id, first: 2 })).usage.entries;
    expect(ids(head)).toEqual(['r3', 'r2']);
    expect(head.pageInfo.hasNextPage).toBe(true);
    const viaUsage = (await c.data(USAGE, { o: org.id, first: 2 })).usage.entries;
    expect(viaUsage.pageInfo.endCursor).toBe(head.pageInfo.endCursor);
    const rest = (await c.data(ENTRIES, { o: org.id, first: 2, after: viaUsage.pageInfo.endCursor })).usage.entries;
    expect(ids(rest)).toEqual(['r1', 'r0']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses a cursor it did not hand out with BAD_USER_INPUT, in either direction', async () => {
    const { org, admin } = await server.seed.org();
    const c = server.client(admin.token);
    for (const vars of [{ after: 'garbage' }, { last: 2, before: 'garbage' }]) {
      const r = await c.request(ENTRIES, { o: org.id, ...vars });
      expect(r.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/^The cursor is not one this API returned/),
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
  });

  it('says usage tracking is not available in BYOK mode and links the provider’s dashboard', async () => {
    for (const [provider, url] of [
      ['ANTHROPIC', 'https://console.anthropic.com/settings/usage'],
      ['OPENAI', 'https://platform.openai.com/usage'],
    ] as const) {
      const { org, staffing } = await server.seed.org({ provider });
      const d = await server.client(staffing.token).data(USAGE, { o: org.id });
      expect(d.usage.trackingAvailable).toBe(false);
      expect(d.usage.notice).toMatch(/usage tracking is not available in BYOK mode/i);
      expect(d.usage.notice).toContain(provider === 'ANTHROPIC' ? 'Anthropic Console' : 'OpenAI Platform');
      expect(d.usage.providerDashboardUrl).toBe(url);
    }
  });

  it('is for org:view (Admins and Staffing), not Interviewers', async () => {
    const { org, interviewer, staffing } = await server.seed.org();
    expect(await server.client(interviewer.token).errorCode(USAGE, { o: org.id })).toBe('FORBIDDEN');
    expect((await server.client(staffing.token).request(USAGE, { o: org.id })).errors).toBeUndefined();
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
