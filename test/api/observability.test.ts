import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { SWEEPS } from '../../src/jobs.ts';
import { createEmptyDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { runCompletion, subscribeIvy, ask } from '../support/ivy.ts';
import { readMigrations } from '../../src/lib/migrate.ts';
import type { GqlResult } from '../../dev/client.ts';
import { IVY } from '../../dev/documents.ts';
import { print } from 'graphql';
import { graphql } from '../../src/generated/graphql/index.ts';

const METRICS_TOKEN = 'metrics-scrape-token-0123456789';
const SETTINGS = graphql(`
  query ObservabilitySettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
    }
  }
`);
const AUDIT = graphql(`
  query ObservabilityAudit($orgId: ID!) {
    auditLog(orgId: $orgId) {
      edges {
        node {
          action
        }
      }
    }
  }
`);
const TEST_KEY = graphql(`
  mutation ObservabilityTestKey($input: TestPersonalKeyInput!) {
    testPersonalKey(input: $input) {
      ok
      status
    }
  }
`);

let env: ServerWithVendors;
let server: TestServer;
beforeAll(async () => {
  env = await startServerWithVendors({ env: { METRICS: '1', METRICS_TOKEN } });
  server = env.server;
});
afterAll(() => env?.stop());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const operationLines = () => server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'operation');
const scrape = async (token: string | null = METRICS_TOKEN) => {
  const res = await fetch(`${server.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text() };
};
/** The value of one sample line, e.g. value(text, 'ivy_completions_total{provider="INTERVY_CREDITS",...}'). */
const value = (text: string, sample: string) =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${sample} `))
      ?.split(' ')[1] ?? 0,
  );

describe('request ids', () => {
  it('echoes the client’s X-Request-Id in the response header, in each error’s extensions and on the operation’s log line', async () => {
    const res = await post(
      { query: print(SETTINGS), variables: { orgId: randomUUID() } },
      { 'x-request-id': 'lb-trace-42' },
    );
    expect(res.headers.get('x-request-id')).toBe('lb-trace-42');
    const body = (await res.json()) as GqlResult;
    expect(body.errors![0].extensions).toEqual({ code: 'UNAUTHENTICATED', requestId: 'lb-trace-42' });
    const line = operationLines().find((l) => l.requestId === 'lb-trace-42');
    expect(line).toMatchObject({
      level: 'info',
      operation: 'ObservabilitySettings',
      type: 'query',
      outcome: 'UNAUTHENTICATED',
    });
    expect(line.durationMs).toBeTypeOf('number');
  });

  it('makes one up when the client sends none (or a malformed one), different for each request', async () => {
    const a = await post({ query: '{ __typename }' });
    const b = await post({ query: '{ __typename }' }, { 'x-request-id': 'bad id with spaces' });
    const [ida, idb] = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
    expect(ida).toMatch(/^[0-9a-f-]{36}$/);
    expect(idb).toMatch(/^[0-9a-f-]{36}$/);
    expect(ida).not.toBe(idb);
  });

  it('tags errors of a subscription over graphql-ws too', async () => {
    const { org } = await server.seed.org();
    const results = await server.client(null).subscribeWs(IVY, { input: { orgId: org.id, messages: ask('hi') } }).done;
    expect(results[0].errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });
});

describe('the operation log', () => {
  it('tells documents apart by a hash of their text, the same each time a document comes back, never the text', async () => {
    const hashOf = async (query: string, id: string) => {
      await post({ query }, { 'x-request-id': id });
      return operationLines().find((l) => l.requestId === id)?.documentHash as string;
    };
    const alias = `inDocumentOnly${randomUUID().slice(0, 8)}`;
    const doc = `query ObservabilityHash { ${alias}: __typename }`;
    const first = await hashOf(doc, 'hash-a1');
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    // Again and again (Yoga's parser cache hands back the same document; its hash is kept with it), and on a refusal.
    expect(await hashOf(doc, 'hash-a2')).toBe(first);
    expect(await hashOf(doc, 'hash-a3')).toBe(first);
    expect(await hashOf(`${doc} `, 'hash-b')).not.toBe(first);
    const invalid = await hashOf(`${doc.replace('__typename', 'nope')}`, 'hash-c');
    expect(invalid).toMatch(/^[0-9a-f]{16}$/);
    expect(invalid).not.toBe(first);
    expect(server.logs.join('\n')).not.toContain(alias);
  });

  it('logs a client’s mistakes at info and only the server’s own faults at error', async () => {
    const { org, admin } = await server.seed.org();
    await post({ query: '{ nope }' }, { 'x-request-id': 'client-mistake' });
    // A server fault: the audit table is gone from under the running server.
    await server.app.services.db.$executeRawUnsafe('ALTER TABLE audit_events RENAME TO audit_events_gone');
    try {
      const r = await server.client(admin.token).request(AUDIT, { orgId: org.id });
      expect(r.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await server.app.services.db.$executeRawUnsafe('ALTER TABLE audit_events_gone RENAME TO audit_events');
    }
    const lines = operationLines();
    expect(lines.find((l) => l.requestId === 'client-mistake')).toMatchObject({
      level: 'info',
      outcome: 'GRAPHQL_VALIDATION_FAILED',
    });
    expect(lines.filter((l) => l.level === 'error')).toEqual([
      expect.objectContaining({ operation: 'ObservabilityAudit', outcome: 'INTERNAL_SERVER_ERROR' }),
    ]);
  });

  it('redacts keys, tokens and prompt text by path wherever they sit in a line', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l));
    log.info('call', {
      variables: {
        input: {
          apiKey: 'plain-provider-key-1',
          messages: [{ role: 'user', content: 'the candidate’s salary is 90k' }],
          system: 'secret system prompt',
        },
      },
      headers: { authorization: 'opaque-session-token' },
      token: 'opaque-token-2',
      orgId: 'org-1',
    });
    const line = JSON.parse(lines[0]);
    expect(line.orgId).toBe('org-1');
    for (const leaked of [
      'plain-provider-key-1',
      '90k',
      'secret system prompt',
      'opaque-session-token',
      'opaque-token-2',
    ])
      expect(lines[0]).not.toContain(leaked);
    expect(line.variables.input.apiKey).toBe('[redacted]');
  });
});

describe('GET /metrics', () => {
  it('is refused without the bearer METRICS_TOKEN, and served in Prometheus text with it', async () => {
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('wrong-token')).status).toBe(401);
    const refused = await fetch(`${server.url}/metrics`);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.text()).not.toMatch(/ivy_|graphql_/);
    const served = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect([served.status, served.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/plain/)]);
    expect(await served.text()).toMatch(/^ivy_websocket_connections \d+/m);
  });

  it('counts completions, first tokens, credits, provider errors, key tests, operations, sockets and sweep releases', async () => {
    const before = (await scrape()).text;
    const { org, admin } = await server.seed.org({ plan: 'GROWTH', credits: 5000 });
    await runCompletion(server.client(admin.token), 'ws', { orgId: org.id, messages: ask('hello [[usage:1000:100]]') });
    await runCompletion(server.client(admin.token), 'sse', { orgId: org.id, messages: ask('hello [[500]]') });
    await server.seed.key(org.id, admin.id, 'ANTHROPIC', 'sk-ant-api03-metrics-test-key-0000000000', 'UNTESTED');
    await server.client(admin.token).data(TEST_KEY, { input: { orgId: org.id, provider: 'ANTHROPIC' } });
    // An abandoned hold: a completion hangs past HOLD_TIMEOUT_MS, and the expiry sweep releases it.
    const hanging = subscribeIvy(server.client(admin.token), 'ws', { orgId: org.id, messages: ask('[[hang]]') });
    await hanging.waitFor(1);
    server.clock.advance(server.config.holdTimeoutMs + 1);
    await SWEEPS.find((s) => s.name === 'expired-credit-holds')!.run(server.app.services);
    const during = (await scrape()).text;
    hanging.stop();
    const after = (await scrape()).text;

    const moved = (sample: string, text = after) => value(text, sample) - value(before, sample);
    expect(moved('ivy_completions_total{provider="INTERVY_CREDITS",billing="CREDITS",outcome="finished"}')).toBe(1);
    expect(
      moved('ivy_completions_total{provider="INTERVY_CREDITS",billing="CREDITS",outcome="PROVIDER_UNAVAILABLE"}'),
    ).toBe(1);
    expect(moved('ivy_provider_errors_total{provider="INTERVY_CREDITS",code="PROVIDER_UNAVAILABLE"}')).toBe(1);
    expect(moved('ivy_completion_first_token_seconds_count{provider="INTERVY_CREDITS"}')).toBeGreaterThanOrEqual(1);
    expect(moved('ivy_credits_charged_total')).toBeGreaterThan(0);
    expect(moved('ivy_credits_held_total')).toBeGreaterThan(moved('ivy_credits_charged_total'));
    expect(moved('ivy_key_tests_total{provider="ANTHROPIC",result="ok"}')).toBe(1);
    expect(moved('ivy_operations_total{operation="Ivy",type="subscription",outcome="ok"}')).toBeGreaterThanOrEqual(2);
    expect(moved('ivy_operation_duration_seconds_count{operation="ObservabilityTestKey",type="mutation"}')).toBe(1);
    expect(moved('ivy_ledger_sweep_released_holds_total')).toBe(1);
    expect(value(during, 'ivy_subscriptions_active')).toBe(1);
    expect(value(during, 'ivy_websocket_connections')).toBe(1);
    // Yoga's own Prometheus metrics sit beside ours.
    expect(after).toMatch(/^graphql_envelop_request_duration_count\{.*operationName="ObservabilityTestKey".*\} \d+/m);
  });

  it('is not served unless METRICS=1', async () => {
    const plain = await startTestServer();
    try {
      expect((await fetch(`${plain.url}/metrics`)).status).not.toBe(200);
    } finally {
      await plain.stop();
    }
  });
});

describe('health', () => {
  it('answers /livez, and /healthz and /health alike with the readiness check, never cached', async () => {
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    for (const path of ['/healthz', '/health']) {
      const res = await fetch(`${server.url}${path}`);
      expect([res.status, await res.json()]).toEqual([
        200,
        { status: 'ok', database: 'ok', redis: expect.any(String) },
      ]);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('is not ready while a migration the code ships is missing from the database', async () => {
    const db = server.app.services.db;
    const [last] = await db.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1`,
    );
    await db.$executeRawUnsafe(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = $1`, last.id);
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect([res.status, await res.json()]).toEqual([503, expect.objectContaining({ status: 'migrations pending' })]);
      // Not ready is not dead: liveness stays 200, so an orchestrator stops routing here without restarting it.
      expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    } finally {
      await db.$executeRawUnsafe(`UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE id = $1`, last.id);
    }
  });
});

describe('migrations with DATABASE_URL', () => {
  const emptyDatabase = () => createEmptyDatabase('empty');
  const configFor = (databaseUrl: string, extra: Record<string, string> = {}) =>
    loadConfig({
      DATABASE_URL: databaseUrl,
      AUTH_JWT_SECRET: 'x'.repeat(43),
      KEY_ENCRYPTION_KEYS: Keyring.generateEntry('m1'),
      LOG_LEVEL: 'silent',
      ...extra,
    });

  it('refuses to serve a database behind the code, naming the command; MIGRATE_ON_START=1 migrates it instead', async () => {
    const databaseUrl = await emptyDatabase();
    await expect(buildApp(configFor(databaseUrl), { backgroundJobs: false })).rejects.toThrow(
      new RegExp(`behind the code: ${readMigrations().length} migration\\(s\\) pending.*Run \`npm run db:migrate\``),
    );
    const app = await buildApp(configFor(databaseUrl, { MIGRATE_ON_START: '1' }), { backgroundJobs: false });
    try {
      const port = await app.listen(0, '127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});
