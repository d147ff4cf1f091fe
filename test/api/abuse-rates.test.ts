// The rate and concurrency attacks of issue 8, tried as an attacker would, each with the product's default limits.
// Every attack must be refused with RATE_LIMITED (and a retryAfter), while /healthz stays 200 and a member of
// another org keeps being answered.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { SeededMember, SeededOrg } from '../../dev/seed.ts';
import { IVY } from '../../dev/documents.ts';
import type { GqlError, GqlResult, Subscription } from '../../dev/client.ts';
import { ask } from '../support/ivy.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const SET_KEY = graphql(`
  mutation AbuseRatesSetKey($o: ID!, $k: String!) {
    setPersonalKey(input: { orgId: $o, provider: ANTHROPIC, apiKey: $k }) {
      status
    }
  }
`);
const TEST_KEY = graphql(`
  mutation AbuseRatesTestKey($o: ID!) {
    testPersonalKey(input: { orgId: $o, provider: ANTHROPIC }) {
      ok
      status
    }
  }
`);
const WATCH = graphql(`
  subscription AbuseRatesWatch($o: ID!) {
    orgAiSettingsChanged(orgId: $o) {
      provider
      model {
        modelId
      }
    }
  }
`);
const BALANCE = graphql(`
  query AbuseRatesBalance($o: ID!) {
    creditBalance(orgId: $o) {
      balance
    }
  }
`);

const aliased = (n: number, field: (i: number) => string) =>
  `mutation($o: ID!) { ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`;
/** The first thing a subscription got: a result, or the errors of a refused subscribe. */
const firstOutcome = <R>(s: Subscription<R>): Promise<GqlResult<R>> =>
  Promise.race([
    s.waitFor(1, 10_000).then((r) => r[0]),
    s.done.then((r) => r[0]).catch((err: Error) => ({ errors: JSON.parse(err.message) as GqlError[] })),
  ]);
const candidate = (i: number) => `sk-ant-api03-candidate-${String(i).padStart(4, '0')}-AbCdEfGhIjKl`;

let env: ServerWithVendors;
let server: TestServer;
let bystander: { org: SeededOrg; member: SeededMember };

beforeAll(async () => {
  // The operation limits (abuse-limits.test.ts) refuse these many-alias documents outright; lifted here to show the
  // rate and concurrency limits hold as a second line.
  env = await startServerWithVendors({
    env: {
      LIMIT_ALIASES: '1000',
      LIMIT_COST: '100000000',
      LIMIT_STRUCTURAL_COST: '100000000',
      LIMIT_TOKENS: '100000',
      LIMIT_DOCUMENT_BYTES: '1000000',
      // A dropped socket cancels its answers at once here (no resume window), so their slots free on the drop.
      RESUME_WINDOW_MS: '0',
    },
  });
  server = env.server;
  const org = await server.seed.org({ plan: 'GROWTH' });
  bystander = { org, member: org.interviewer };
});
afterAll(() => env?.stop());

/** While `attack` runs: /healthz answers 200 and another org's member gets their balance. Returns the attack's result. */
async function underAttack<T>(attack: Promise<T>): Promise<T> {
  const probe = async () => {
    const started = performance.now();
    const [health, balance] = await Promise.all([
      fetch(`${server.url}/healthz`).then((r) => r.status),
      server.client(bystander.member.token).data(BALANCE, { o: bystander.org.org.id }),
    ]);
    return { health, answered: balance.creditBalance.balance === 1000, ms: performance.now() - started };
  };
  const [result, during] = await Promise.all([attack, probe()]);
  expect(during).toMatchObject({ health: 200, answered: true });
  expect(await probe()).toMatchObject({ health: 200, answered: true });
  return result;
}

describe('the stolen-key oracle (setPersonalKey + testPersonalKey)', () => {
  it('lets a member classify only a handful of 40 candidate keys before refusing with RATE_LIMITED and retryAfter', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(interviewer.token);
    const upstreamBefore = env.anthropic.requests.length;
    const outcomes = await underAttack(
      (async () => {
        const out: { save?: string; test?: string; retryAfter?: unknown }[] = [];
        for (let i = 0; i < 40; i++) {
          const saved = await c.request(SET_KEY, { o: org.id, k: candidate(i) });
          const tested = await c.request(TEST_KEY, { o: org.id });
          out.push({
            save: saved.errors?.[0]?.extensions?.code,
            test: tested.errors?.[0]?.extensions?.code,
            retryAfter: saved.errors?.[0]?.extensions?.retryAfter,
          });
        }
        return out;
      })(),
    );
    // Five saves and five tests a minute by default: the rest are refused before anything reaches the provider.
    expect(outcomes.filter((o) => o.save === undefined)).toHaveLength(5);
    expect(outcomes.filter((o) => o.test === undefined)).toHaveLength(5);
    expect(outcomes.slice(5).map((o) => o.save)).toEqual(Array(35).fill('RATE_LIMITED'));
    expect(
      outcomes.slice(5).every((o) => typeof o.retryAfter === 'number' && o.retryAfter >= 1 && o.retryAfter <= 60),
    ).toBe(true);
    expect(env.anthropic.requests.length - upstreamBefore).toBe(5);
  });

  it('counts each of 200 aliased testPersonalKey calls: 5 reach the provider and leave an audit row, the 6th is RATE_LIMITED', async () => {
    const { org, staffing } = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(org.id, staffing.id, 'ANTHROPIC', candidate(9999));
    const upstreamBefore = env.anthropic.requests.length;
    const r = await underAttack(
      server.client(staffing.token).rawRequest(
        aliased(200, () => `testPersonalKey(input: { orgId: $o, provider: ANTHROPIC }) { ok }`),
        { o: org.id },
      ),
    );
    // Mutation fields run one after another and are non-null: the refused 6th ends the operation, so the other
    // 194 never run at all.
    expect(r.errors).toEqual([
      expect.objectContaining({
        path: ['a5'],
        extensions: expect.objectContaining({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) }),
      }),
    ]);
    expect(r.errors?.[0].message).toMatch(/Too many key tests: at most 5 per 60 s\. Try again in \d+ s\./);
    expect(env.anthropic.requests.length - upstreamBefore).toBe(5);
    expect(
      await server.app.services.db.auditEvent.count({ where: { orgId: org.id, action: 'personal_key.tested' } }),
    ).toBe(5);
  });

  it('keeps one member’s budget their own: another member of the same org can still test their key', async () => {
    const { org, admin, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(org.id, admin.id, 'ANTHROPIC', candidate(1));
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', candidate(2));
    await server.client(admin.token).rawRequest(
      aliased(6, () => `testPersonalKey(input: { orgId: $o, provider: ANTHROPIC }) { ok }`),
      { o: org.id },
    );
    expect(await server.client(admin.token).errorCode(TEST_KEY, { o: org.id })).toBe('RATE_LIMITED');
    expect((await server.client(interviewer.token).data(TEST_KEY, { o: org.id })).testPersonalKey.ok).toBe(true);
  });
});

describe('100 aliased settings changes against another member’s 50 subscriptions', () => {
  it('applies 10, refuses the 11th with RATE_LIMITED, and pushes one event per subscription, showing the final state', async () => {
    const { org, admin, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    // 50 subscriptions on 3 sockets (at most 20 operations per socket).
    const sockets = [0, 1, 2].map(() => server.client(interviewer.token).ws());
    const subs = Array.from({ length: 50 }, (_, i) =>
      server.client(interviewer.token).subscribeWs(WATCH, { o: org.id }, sockets[i % 3]),
    );
    await server.app.services.pubsub.whenSubscribed(org.id, 50);
    const models = ['o3', 'gpt-5', 'gpt-5-mini', 'o4-mini', 'gpt-5-nano'];
    const r = await underAttack(
      server.client(admin.token).rawRequest(
        aliased(
          100,
          (i) => `updateProvider(input: { orgId: $o, provider: OPENAI, model: "${models[i % 5]}" }) { provider }`,
        ),
        { o: org.id },
      ),
    );
    expect(r.errors).toEqual([
      expect.objectContaining({
        path: ['a10'],
        extensions: expect.objectContaining({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) }),
      }),
    ]);
    expect(
      await server.app.services.db.auditEvent.count({
        where: { orgId: org.id, action: 'ai_settings.provider_changed' },
      }),
    ).toBe(10);
    const finalModel = models[9 % 5]; // the 10th change, the last one applied

    // The server's own count of what it published for this org, once nothing is pending.
    await server.app.services.pubsub.settingsEvents.idle();
    const published = server.app.services.pubsub.settingsEvents.delivered.get(org.id);
    expect(published).toBe(1);
    for (const s of subs) {
      const [event] = await s.waitFor(1);
      expect(event.data?.orgAiSettingsChanged).toEqual({ provider: 'OPENAI', model: { modelId: finalModel } });
      expect(s.results).toHaveLength(published!);
    }
    subs.forEach((s) => s.stop());
    sockets.forEach((s) => s.dispose());
  });
});

describe('one socket starting many completions', () => {
  const hanging = (orgId: string, i: number) => ({
    input: { orgId, messages: ask(`[[hang]] question ${i}`) },
  });

  it('starts 3 per socket and refuses the rest with RATE_LIMITED, before any reaches the provider', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH', credits: 100_000 });
    const socket = server.client(interviewer.token).ws();
    const upstreamBefore = env.anthropic.requests.length;
    const subs = Array.from({ length: 30 }, (_, i) =>
      server.client(interviewer.token).subscribeWs(IVY, hanging(org.id, i), socket),
    );
    const firsts = await underAttack(Promise.all(subs.map(firstOutcome)));
    const started = firsts.filter((f) => f.data?.ivyCompletion?.__typename === 'IvyCompletionStarted');
    const refused = firsts.filter((f) => f.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(started).toHaveLength(3);
    expect(refused).toHaveLength(27);
    // Refused by the per-socket completion limit, or (past 20 operations in flight) by the per-socket operation limit.
    expect(refused.some((f) => /This connection already has 3 Ivy answers streaming/.test(f.errors![0].message))).toBe(
      true,
    );
    expect(env.anthropic.requests.length - upstreamBefore).toBeLessThanOrEqual(3);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(3);
    void socket.dispose();
  });

  it('caps a member at 4 streams across sockets, and frees their slots when the sockets drop', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH', credits: 100_000 });
    const [s1, s2] = [server.client(interviewer.token).ws(), server.client(interviewer.token).ws()];
    const first = [0, 1, 2].map((i) => server.client(interviewer.token).subscribeWs(IVY, hanging(org.id, i), s1));
    await Promise.all(first.map((s) => s.waitFor(1)));
    const second = [3, 4, 5].map((i) => server.client(interviewer.token).subscribeWs(IVY, hanging(org.id, i), s2));
    const outcomes = await Promise.all(second.map(firstOutcome));
    expect(outcomes.filter((o) => o.data?.ivyCompletion?.__typename === 'IvyCompletionStarted')).toHaveLength(1);
    expect(
      outcomes.filter((o) => o.errors?.[0]?.message.match(/You already have 4 Ivy answers streaming/)),
    ).toHaveLength(2);

    // Dropping both sockets releases all four member slots (and their socket slots).
    const limits = server.app.services.limits;
    const allFreed = limits.whenReleased('completions-member', interviewer.id, 4);
    void s1.dispose();
    void s2.dispose();
    await allFreed;
    const again = server.client(interviewer.token).subscribeWs(IVY, hanging(org.id, 9));
    expect((await again.waitFor(1))[0].data?.ivyCompletion.__typename).toBe('IvyCompletionStarted');
    again.stop();
  });
});

describe('operations and sockets per member', () => {
  it('refuses a 21st operation on one socket with RATE_LIMITED', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    const socket = server.client(interviewer.token).ws();
    const subs = Array.from({ length: 20 }, () =>
      server.client(interviewer.token).subscribeWs(WATCH, { o: org.id }, socket),
    );
    await server.app.services.pubsub.whenSubscribed(org.id, 20);
    const extra = server.client(interviewer.token).subscribeWs(WATCH, { o: org.id }, socket);
    const refusal = await firstOutcome(extra);
    expect(refusal.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfter: 1 } });
    subs.forEach((s) => s.stop());
    void socket.dispose();
  });

  it('closes an 11th socket of one member with 4429, and admits one again after another closes', async () => {
    const { interviewer } = await server.seed.org({ plan: 'GROWTH' });
    const open = (): Promise<{ ws: WebSocket; outcome: 'ack' | number; reason: string }> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        ws.on('open', () =>
          ws.send(
            JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${interviewer.token}` } }),
          ),
        );
        ws.on(
          'message',
          (m) => JSON.parse(String(m)).type === 'connection_ack' && resolve({ ws, outcome: 'ack', reason: '' }),
        );
        ws.on('close', (code, reason) => resolve({ ws, outcome: code, reason: String(reason) }));
      });
    const sockets = [];
    for (let i = 0; i < 10; i++) sockets.push(await open());
    expect(sockets.map((s) => s.outcome)).toEqual(Array(10).fill('ack'));
    const eleventh = await underAttack(open());
    expect(eleventh.outcome).toBe(4429);
    expect(eleventh.reason).toMatch(/^RATE_LIMITED: You already have 10 live connections open/);

    const limits = server.app.services.limits;
    const freed = limits.whenReleased('sockets-member', interviewer.id, 1);
    sockets[0].ws.close();
    await freed;
    expect((await open()).outcome).toBe('ack');
    for (const s of sockets) s.ws.close();
  });
});
