// Transports: frame and body caps, the Origin allowlist for CORS and WebSocket upgrades, keep-alive pings, the idle
// timeout, and GraphiQL / introspection off by default in production (DATABASE_URL set).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { openRawSocket } from '../support/raw-ws.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const APP = 'https://app.intervy.test';
let server: TestServer;
let acme: SeededOrg;

beforeAll(async () => {
  server = await startTestServer({
    // Production defaults for GraphiQL and introspection (the test helper turns them on).
    env: { ALLOWED_ORIGINS: APP, WS_IDLE_TIMEOUT_MS: '1000', GRAPHIQL: undefined, INTROSPECTION: undefined },
  });
  acme = await server.seed.org({ plan: 'GROWTH' });
});
afterAll(() => server?.stop());

const healthy = async () => (await fetch(`${server.url}/healthz`)).status;

describe('size caps', () => {
  it('closes a socket that sends a frame over MAX_REQUEST_BYTES, without running it, and stays healthy', async () => {
    const socket = openRawSocket(server.url);
    await socket.acked;
    socket.send({
      id: 'big',
      type: 'subscribe',
      payload: { query: '{ __typename }', variables: { x: 'a'.repeat(1_100_000) } },
    });
    // 1009 (message too big), or 1006 when the server drops the connection while the frame is still arriving.
    expect([1009, 1006]).toContain((await socket.closed).code);
    await expect(socket.message('big')).rejects.toThrow(/closed/);
    expect(await healthy()).toBe(200);
  });
});

describe('origins', () => {
  const preflight = (origin: string) =>
    fetch(`${server.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });

  it('gives CORS to a listed origin, without credentials, and to no other', async () => {
    const listed = await preflight(APP);
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(listed.headers.get('access-control-allow-credentials')).toBeNull();
    for (const origin of ['https://evil.example', 'http://localhost:3000', 'null']) {
      const r = await preflight(origin);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
      const post = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: '{"query":"{ __typename }"}',
      });
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('refuses a WebSocket upgrade from an origin not allowed with 403 ORIGIN_NOT_ALLOWED, and accepts listed and same origins', async () => {
    const evil = await openRawSocket(server.url, { origin: 'https://evil.example' }).closed;
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body!).errors[0].extensions.code).toBe('ORIGIN_NOT_ALLOWED');
    for (const origin of [APP, server.url]) {
      const ok = openRawSocket(server.url, { origin });
      await ok.acked;
      ok.ws.close();
    }
  });

  it('allows localhost origins on the embedded default only, and refuses a credentialed wildcard', () => {
    expect(loadConfig({}).transport.allowLocalhostOrigins).toBe(true);
    expect(
      loadConfig({ DATABASE_URL: 'postgresql://db/ivy' }, { requireSecrets: false }).transport.allowLocalhostOrigins,
    ).toBe(false);
    expect(() => loadConfig({ ALLOWED_ORIGINS: '*' })).toThrow(ConfigError);
  });
});

describe('idle and keep-alive', () => {
  it('pings every socket every WS_KEEPALIVE_MS', async () => {
    // Its own server: a ping period this short would end sockets whose pong is late on a loaded machine.
    const pinging = await startTestServer({ databaseUrl: server.config.databaseUrl, env: { WS_KEEPALIVE_MS: '100' } });
    try {
      const socket = openRawSocket(pinging.url);
      await socket.pinged;
      socket.ws.close();
    } finally {
      await pinging.stop();
    }
  });

  it('closes an acknowledged socket that runs nothing, and keeps one with a live subscription', async () => {
    const busy = openRawSocket(server.url, { connectionParams: { authorization: `Bearer ${acme.admin.token}` } });
    await busy.acked;
    busy.send({
      id: 's',
      type: 'subscribe',
      payload: {
        query: `subscription($o: ID!) { orgAiSettingsChanged(orgId: $o) { provider } }`,
        variables: { o: acme.org.id },
      },
    });
    const idle = openRawSocket(server.url);
    await idle.acked;
    expect(await idle.closed).toMatchObject({ code: 1000, reason: expect.stringMatching(/^Idle for 1000 ms/) });
    expect(busy.ws.readyState).toBe(WebSocket.OPEN);
    busy.ws.close();
  });
});

describe('GraphiQL and introspection', () => {
  it('are off by default in production: no GraphiQL page, no __schema, no field suggestions', async () => {
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    const schema = await server.client().request(
      graphql(`
        query AbuseTransportsIntrospection {
          __schema {
            types {
              name
            }
          }
        }
      `),
    );
    expect(schema.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/introspection has been disabled/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const typo = await server.client(acme.admin.token).rawRequest(`{ viewr { user { id } } }`);
    expect(typo.errors?.[0].message).not.toMatch(/Did you mean/);
  });

  it('are on by default on the embedded default, and GRAPHIQL/INTROSPECTION switch them', () => {
    expect(loadConfig({}).transport).toMatchObject({ graphiql: true, introspection: true });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/ivy' }, { requireSecrets: false }).transport).toMatchObject({
      graphiql: false,
      introspection: false,
    });
    expect(
      loadConfig(
        { DATABASE_URL: 'postgresql://db/ivy', GRAPHIQL: 'true', INTROSPECTION: '1' },
        { requireSecrets: false },
      ).transport,
    ).toMatchObject({ graphiql: true, introspection: true });
  });

  it('never persists the bearer header GraphiQL is given', async () => {
    const dev = await startTestServer({ databaseUrl: server.config.databaseUrl });
    try {
      const html = await (await fetch(`${dev.url}/graphql`, { headers: { accept: 'text/html' } })).text();
      expect(html).toContain('"shouldPersistHeaders":false');
    } finally {
      await dev.stop();
    }
  });
});
