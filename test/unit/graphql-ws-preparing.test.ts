// The graphql-ws transport on a real socket, with a small schema of its own: what it does with a burst of subscribe
// messages does not depend on ours. Its token check is the injected one, so the test sees each check start and
// decides when it ends.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchema, createYoga } from 'graphql-yoga';
import { attachGraphqlWs } from '../../src/lib/graphql-ws.ts';
import { openRawSocket } from '../support/raw-ws.ts';

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { ok: Boolean } type Subscription { tick: Int }',
    resolvers: {
      Subscription: {
        tick: {
          subscribe: async function* () {
            yield { tick: 1 };
          },
        },
      },
    },
  }),
});

const checks: (() => void)[] = [];
let waitingFor: { count: number; resolve: () => void } | null = null;
const checksStarted = (count: number) =>
  new Promise<void>((resolve) => {
    waitingFor = { count, resolve };
    if (checks.length >= count) resolve();
  });

let instant: { calls: number; atNextTurn?: number } | null = null;

let server: http.Server;
let url: string;
let ws: ReturnType<typeof attachGraphqlWs>;

beforeAll(async () => {
  server = http.createServer((req, res) => void yoga(req, res));
  ws = attachGraphqlWs(server, yoga as never, {
    transport: {
      maxRequestBytes: 1_000_000,
      allowedOrigins: [],
      allowLocalhostOrigins: true,
      graphiql: false,
      introspection: false,
      wsKeepAliveMs: 60_000,
      wsIdleTimeoutMs: 60_000,
      wsTokenRecheckMs: 60_000,
      wsConnectionInitTimeoutMs: 300,
    },
    originAllowed: () => true,
    // Held checks wait to be let through one by one; instant ones pass at once, as a check answered from memory.
    tokenProblem: () => {
      if (instant) {
        instant.calls++;
        if (instant.calls === 1) setImmediate(() => (instant!.atNextTurn ??= instant!.calls));
        return Promise.resolve(null);
      }
      return new Promise<null>((resolve) => {
        checks.push(() => resolve(null));
        if (waitingFor && checks.length >= waitingFor.count) waitingFor.resolve();
      });
    },
    limits: { admit: async () => undefined, operationsPerSocket: 1000 },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await ws.dispose();
  await new Promise((resolve) => server.close(resolve));
});

describe('graphql-ws subscribe bursts', () => {
  it('runs at most 32 subscribe checks at once and the rest in arrival order, every one answered', async () => {
    const socket = openRawSocket(url, { connectionParams: { authorization: 'Bearer t' } });
    await checksStarted(1);
    checks.shift()!(); // connection_init's check
    await socket.acked;
    for (let i = 0; i < 100; i++)
      socket.send({ id: String(i), type: 'subscribe', payload: { query: 'subscription { tick }' } });
    // The server answers a ping after it has taken in every subscribe sent before it.
    socket.send({ type: 'ping' });
    await socket.message('pong');
    expect(checks.length).toBe(32);
    // Each check that ends lets the next one in, in arrival order, until all 100 are answered.
    for (let i = 0; i < 100; i++) {
      await checksStarted(Math.min(32, 100 - i));
      checks.shift()!();
      expect((await socket.message(String(i))).type).toBe('next');
    }
    socket.ws.close();
  });

  it('closes a socket that sends no connection_init within WS_CONNECTION_INIT_TIMEOUT_MS with 4408', async () => {
    const opened = performance.now();
    const silent = openRawSocket(url, { init: false });
    expect((await silent.closed).code).toBe(4408);
    // The configured 300 ms, not graphql-ws's own 3 s.
    expect(performance.now() - opened).toBeLessThan(2500);
  });

  it('starts each turn of a burst on a new turn of the event loop, even when the checks need no I/O', async () => {
    const socket = openRawSocket(url, { connectionParams: { authorization: 'Bearer t' } });
    await checksStarted(checks.length + 1);
    checks.shift()!();
    await socket.acked;
    instant = { calls: 0 };
    // All 100 in one write, so the server reads them in one go.
    const tcp = (socket.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    tcp.cork();
    for (let i = 0; i < 100; i++)
      socket.send({ id: String(i), type: 'subscribe', payload: { query: 'subscription { tick }' } });
    tcp.uncork();
    for (let i = 0; i < 100; i++) expect((await socket.message(String(i))).type).toBe('next');
    // The event loop came round (and read the sockets) after the first 32 checks, not after all 100.
    expect(instant.atNextTurn).toBe(32);
    instant = null;
    socket.ws.close();
  });
});
