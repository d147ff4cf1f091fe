// The example Ivy panel client (examples/ivy-panel-client.ts) against real servers: its socket killed mid-answer, and
// (with Redis) the instance it was on restarted while the one producing the answer keeps running. Either way it
// prints the exact answer once, asked and billed once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askIvy, askIvyOverSse, IvyRefused } from '../../examples/ivy-panel-client.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { waitForSettlement } from '../support/billing.ts';
import { spawnServer, type ChildServer } from '../support/child-server.ts';
import { deltasText } from '../support/resume.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { createTestDatabase, type TestServer } from '../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const redisUrl = process.env.REDIS_URL;
const shared = { jwtSecret: 'shared-secret-for-example-client-00', keyEncryptionKeys: Keyring.generateEntry('k1') };
let env: ServerWithVendors, server: TestServer, proxy: TcpProxy;
const children: ChildServer[] = [];
beforeAll(async () => {
  // Real time: a child instance's expiry sweep must see the hold deadlines this one writes.
  const realTime = Object.assign(new ManualClock(), { now: () => new Date() });
  env = await startServerWithVendors({ ...shared, databaseUrl: await createTestDatabase(), clock: realTime });
  server = env.server;
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await proxy?.close();
  await env?.stop();
});

const ws = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/graphql`;
const viaProxy = () => `ws://127.0.0.1:${proxy.port}/graphql`;
const upstreamCalls = (requestId: string) =>
  env.anthropic.requests.filter((r) => JSON.stringify(r.body).includes(requestId)).length;

it('gets the exact answer once when its socket is killed mid-answer', async () => {
  const { org, interviewer } = await server.seed.org({ credits: 1000 });
  const requestId = 'example-socket-killed';
  let pieces = 0;
  const printed: string[] = [];
  const answer = await askIvy({
    urls: [viaProxy()],
    token: interviewer.token,
    orgId: org.id,
    requestId,
    question: `${requestId} [[deltas:40]] [[slow:20]]`,
    onText: (t) => {
      printed.push(t);
      // The network goes away under the client after five pieces, and comes back.
      if (++pieces === 5) void proxy.cut().then(() => proxy.restore());
    },
  });
  expect(answer.connections).toBeGreaterThanOrEqual(2);
  expect(answer.text).toBe(deltasText(40));
  expect(printed.join('')).toBe(deltasText(40));
  expect(answer.ending).toMatchObject({ __typename: 'IvyCompletionFinished', finishReason: 'END_TURN' });
  expect(upstreamCalls(requestId)).toBe(1);
  expect(await waitForSettlement(server, org.id, requestId)).toMatchObject({ status: 'SUCCEEDED' });
});

const BALANCE = graphql(`
  query ExampleClientBalance($orgId: ID!) {
    creditBalance(orgId: $orgId) {
      balance
    }
  }
`);

describe('over server-sent events (graphql-sse’s client)', () => {
  it('streams a completion and prints the assembled answer, ending with the balance the API reports after it', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const printed: string[] = [];
    const answer = await askIvyOverSse({
      url: `${server.url}/graphql`,
      token: interviewer.token,
      orgId: org.id,
      requestId: 'example-sse-whole',
      question: 'example-sse-whole [[deltas:12]]',
      onText: (t) => printed.push(t),
    });
    expect(answer.connections).toBe(1);
    expect(answer.text).toBe(deltasText(12));
    expect(printed).toHaveLength(12);
    expect(printed.join('')).toBe(deltasText(12));
    const balance = await server.client(interviewer.token).data(BALANCE, { orgId: org.id });
    expect(answer.ending).toMatchObject({
      __typename: 'IvyCompletionFinished',
      finishReason: 'END_TURN',
      creditBalance: balance.creditBalance.balance,
    });
    expect(upstreamCalls('example-sse-whole')).toBe(1);
  });

  it('gets the exact answer once when its request is cut mid-answer: the next request resumes it', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const requestId = 'example-sse-cut';
    let pieces = 0;
    const printed: string[] = [];
    const answer = await askIvyOverSse({
      url: `http://127.0.0.1:${proxy.port}/graphql`,
      token: interviewer.token,
      orgId: org.id,
      requestId,
      question: `${requestId} [[deltas:20]] [[slow:20]]`,
      onText: (t) => {
        printed.push(t);
        if (++pieces === 5) void proxy.cut().then(() => proxy.restore());
      },
    });
    expect(answer.connections).toBeGreaterThanOrEqual(2);
    expect(answer.text).toBe(deltasText(20));
    expect(printed.join('')).toBe(deltasText(20));
    expect(answer.ending).toMatchObject({ __typename: 'IvyCompletionFinished' });
    expect(upstreamCalls(requestId)).toBe(1);
    expect(await waitForSettlement(server, org.id, requestId)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('stops at a refusal, with its code, instead of asking again', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 0 });
    const refused = await askIvyOverSse({
      url: `${server.url}/graphql`,
      token: interviewer.token,
      orgId: org.id,
      question: 'example-sse-refused',
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IvyRefused);
    expect((refused as IvyRefused).code).toBe('INSUFFICIENT_CREDITS');
    expect(upstreamCalls('example-sse-refused')).toBe(0);
  });
});

describe.skipIf(!redisUrl)('with two instances and Redis', () => {
  it('gets the exact answer once when the instance it was on restarts while the one producing it keeps running', async () => {
    const childEnv = {
      DATABASE_URL: server.config.databaseUrl,
      AUTH_JWT_SECRET: shared.jwtSecret,
      KEY_ENCRYPTION_KEYS: shared.keyEncryptionKeys,
      REDIS_URL: redisUrl,
      INTERVY_ANTHROPIC_API_KEY: server.config.intervyAnthropicApiKey,
      PROVIDER_MAX_RETRIES: '0',
      ...env.vendorEnv,
    };
    const other = await spawnServer(childEnv);
    children.push(other);
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const requestId = 'example-instance-restarted';
    // The client starts on the in-process server (through the proxy), which produces the answer.
    const urls = [viaProxy(), ws(other.url)];
    let restarted: Promise<void> | undefined;
    let stage: 'first' | 'cut' | 'second' | 'restarting' = 'first';
    let pieces = 0;
    const answer = await askIvy({
      urls,
      token: interviewer.token,
      orgId: org.id,
      requestId,
      question: `${requestId} [[deltas:80]] [[slow:25]]`,
      onConnected: (n) => {
        if (n === 2) stage = 'second';
      },
      onText: () => {
        // Cut from the producing instance after a few pieces: the client resumes on the other one, from Redis.
        if (stage === 'first' && ++pieces === 3) {
          stage = 'cut';
          void proxy.cut();
        } else if (stage === 'second') {
          // It reads there now: restart that instance (SIGTERM, then a new process). The client comes back to the
          // producing instance, directly this time.
          stage = 'restarting';
          urls.splice(0, 2, ws(server.url), ws(server.url));
          restarted = other.kill('SIGTERM').then(async () => {
            children.push(await spawnServer(childEnv));
          });
        }
      },
    });
    expect(stage).toBe('restarting');
    await restarted;
    expect(await other.exited).toBe(0);
    expect(answer.connections).toBeGreaterThanOrEqual(3);
    expect(answer.text).toBe(deltasText(80));
    expect(answer.ending).toMatchObject({ __typename: 'IvyCompletionFinished' });
    expect(upstreamCalls(requestId)).toBe(1);
    expect(await waitForSettlement(server, org.id, requestId)).toMatchObject({ status: 'SUCCEEDED' });
  });
});
