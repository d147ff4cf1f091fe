import { afterAll, beforeAll, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { IVY } from '../../dev/documents.ts';
import { reachable, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { AiProvider } from '../../src/generated/graphql/graphql.ts';

// Two instances reach the machine's Redis through a proxy this test cuts and restores. Needs a Redis on
// REDIS_URL or 127.0.0.1:6379; skipped where there is none.
const target = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const redisTarget = { host: target.hostname, port: Number(target.port || 6379) };
const hasRedis = await reachable(redisTarget.host, redisTarget.port);

const WATCH = graphql(`
  subscription RedisOutageWatch($o: ID!) {
    orgAiSettingsChanged(orgId: $o) {
      provider
      model {
        modelId
      }
    }
  }
`);
const UPDATE = graphql(`
  mutation RedisOutageUpdate($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
    }
  }
`);
const SAVE_KEY = graphql(`
  mutation RedisOutageSaveKey($o: ID!) {
    setPersonalKey(input: { orgId: $o, provider: ANTHROPIC, apiKey: "sk-ant-api03-during-outage-AbCdEfGh" }) {
      status
    }
  }
`);
const TEST_KEY = graphql(`
  mutation RedisOutageTestKey($o: ID!) {
    testPersonalKey(input: { orgId: $o, provider: ANTHROPIC }) {
      ok
    }
  }
`);

let proxy: TcpProxy;
let one: ServerWithVendors;
let two: TestServer;
const crashes: unknown[] = [];
const onCrash = (err: unknown) => crashes.push(err);

beforeAll(async () => {
  if (!hasRedis) return;
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  proxy = await startTcpProxy(redisTarget);
  const databaseUrl = await createTestDatabase();
  const shared = {
    databaseUrl,
    jwtSecret: 'shared-secret-for-both-instances-000',
    keyEncryptionKeys: Keyring.generateEntry('k1'),
  };
  const REDIS_URL = `redis://127.0.0.1:${proxy.port}`;
  one = await startServerWithVendors({ ...shared, env: { REDIS_URL } });
  two = await startTestServer({ ...shared, env: { REDIS_URL, ...one.vendorEnv } });
  await Promise.all([one.server.app.redis!.whenState('connected'), two.app.redis!.whenState('connected')]);
});
afterAll(async () => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  await one?.stop();
  await two?.stop();
  await proxy?.close();
});

const health = async (server: TestServer) => {
  const res = await fetch(`${server.url}/healthz`);
  return { status: res.status, body: await res.json() };
};

it.skipIf(!hasRedis)('shares one key-test budget across both instances while Redis is up', async () => {
  const { org, admin } = await one.server.seed.org({ plan: 'GROWTH' });
  await one.server.seed.key(org.id, admin.id, 'ANTHROPIC', 'sk-ant-api03-shared-budget-AbCdEfGh');
  const results: (string | undefined)[] = [];
  // Alternating instances: five tests a minute in all, not five on each.
  for (let i = 0; i < 8; i++) {
    const server = i % 2 === 0 ? one.server : two;
    results.push((await server.client(admin.token).request(TEST_KEY, { o: org.id })).errors?.[0]?.extensions?.code);
  }
  expect(results).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    'RATE_LIMITED',
    'RATE_LIMITED',
    'RATE_LIMITED',
  ]);
});

it.skipIf(!hasRedis)(
  'keeps serving through a Redis outage: local events, degraded health, chosen fallbacks, then cross-instance delivery again',
  async () => {
    const a = one.server;
    const { org, admin, interviewer } = await a.seed.org({ plan: 'GROWTH', credits: 10_000 });
    const change = (server: TestServer, provider: AiProvider, model?: string) =>
      server.client(admin.token).data(UPDATE, { input: { orgId: org.id, provider, ...(model ? { model } : {}) } });
    const onOne = a.client(interviewer.token).subscribeWs(WATCH, { o: org.id });
    const onTwo = two.client(interviewer.token).subscribeWs(WATCH, { o: org.id });
    await Promise.all([
      a.app.services.pubsub.whenSubscribed(org.id, 1),
      two.app.services.pubsub.whenSubscribed(org.id, 1),
    ]);

    // Before: a change on instance one reaches instance two over Redis.
    await change(a, 'OPENAI', 'o3');
    expect((await onTwo.waitFor(1))[0].data?.orgAiSettingsChanged).toEqual({
      provider: 'OPENAI',
      model: { modelId: 'o3' },
    });
    await onOne.waitFor(1);

    // Redis goes away under both running instances.
    await proxy.cut();
    await Promise.all([a.app.redis!.whenState('unreachable'), two.app.redis!.whenState('unreachable')]);
    expect(await health(a)).toEqual({
      status: 200,
      body: { status: 'degraded', database: 'ok', redis: 'unreachable' },
    });
    expect(await health(two)).toEqual({
      status: 200,
      body: { status: 'degraded', database: 'ok', redis: 'unreachable' },
    });

    // Each instance still delivers its own changes to its own subscribers (settings changes fail open).
    await change(a, 'ANTHROPIC');
    expect((await onOne.waitFor(2))[1].data?.orgAiSettingsChanged.provider).toBe('ANTHROPIC');
    await change(two, 'INTERVY_CREDITS');
    expect((await onTwo.waitFor(2))[1].data?.orgAiSettingsChanged.provider).toBe('INTERVY_CREDITS');

    // Key tests fail closed: refused with a retry hint, nothing sent upstream.
    const upstreamBefore = one.anthropic.requests.length;
    const refused = await a.client(interviewer.token).request(TEST_KEY, { o: org.id });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 5 });
    expect(one.anthropic.requests.length).toBe(upstreamBefore);
    const save = await a.client(interviewer.token).request(SAVE_KEY, { o: org.id });
    expect(save.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 5 });
    expect(await a.app.services.db.personalApiKey.count({ where: { orgId: org.id, userId: interviewer.id } })).toBe(0);

    // Socket and completion slots fail open to this instance's own counters: a new socket is admitted, Ivy answers.
    const answer = await a
      .client(interviewer.token)
      .subscribeWs(IVY, { input: { orgId: org.id, messages: [{ role: 'USER', content: 'still there?' }] } }).done;
    expect(answer.at(-1)?.data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');

    // Redis is back: the link reconnects and resubscribes by itself ("connected" means the SUBSCRIBE was
    // acknowledged), so a change on one instance reaches the other again, with no retry.
    await proxy.restore();
    await Promise.all([a.app.redis!.whenState('connected'), two.app.redis!.whenState('connected')]);
    await change(a, 'OPENAI', 'o3');
    expect((await onTwo.waitFor(3))[2].data?.orgAiSettingsChanged).toEqual({
      provider: 'OPENAI',
      model: { modelId: 'o3' },
    });
    expect(await health(two)).toEqual({ status: 200, body: { status: 'ok', database: 'ok', redis: 'connected' } });
    expect(
      await a
        .client(interviewer.token)
        .request(TEST_KEY, { o: org.id })
        .then((r) => r.errors?.[0].extensions?.code),
    ).toBe('NO_API_KEY');

    // Nothing crashed: no uncaught error, one warning per state change, no error-level line.
    expect(crashes).toEqual([]);
    for (const logs of [a.logs, two.logs]) {
      expect(logs.filter((l) => l.includes('redis unreachable: events reach this instance only'))).toHaveLength(1);
      expect(logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    }
    onOne.stop();
    onTwo.stop();
  },
);
