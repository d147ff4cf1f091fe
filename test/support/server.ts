// Starts a real server for a test file: its own database cloned from the migrated template, real HTTP and
// WebSocket on port 0, captured log lines, and an injectable clock.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { pgConfigFromUrl, withDatabase } from '../../src/lib/pg-url.ts';
import { signUserToken } from '../../src/lib/tokens.ts';
import { GraphQLClient } from '../../dev/client.ts';
import { Seeder } from '../../dev/seed.ts';
import { ServerProbe } from './server-probe.ts';

/**
 * Creates database `name` as a copy of the migrated template. PostgreSQL refuses a copy while another session uses
 * the template (another file's copy, say), so copies take turns on an advisory lock held by the server.
 */
export async function cloneTemplate(admin: pg.Client, name: string): Promise<void> {
  const template = inject('templateDb');
  await admin.query('SELECT pg_advisory_lock(hashtext($1))', [template]);
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [template]);
  }
}

export async function createTestDatabase(): Promise<string> {
  const serverUrl = inject('serverUrl');
  const name = `${inject('templateDb')}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client(pgConfigFromUrl(withDatabase(serverUrl, 'postgres')));
  await admin.connect();
  try {
    await cloneTemplate(admin, name);
  } finally {
    await admin.end();
  }
  return withDatabase(serverUrl, name);
}

/** A new, empty database (no migrations) on the run's PostgreSQL, for tests of migrating one. */
export async function createEmptyDatabase(label: string): Promise<string> {
  const serverUrl = inject('serverUrl');
  const name = `${inject('templateDb')}_${label}_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client(pgConfigFromUrl(withDatabase(serverUrl, 'postgres')));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return withDatabase(serverUrl, name);
}

export interface TestServer {
  app: App;
  url: string;
  config: Config;
  clock: ManualClock;
  logs: string[];
  seed: Seeder;
  /** Subscribers, published and delivered events, sweep rounds, as this server sees them: wait on these, never on time. */
  probe: ServerProbe;
  /** Resolves once exactly `n` subscribers of `topic` (see settingsTopic) are live on this server. */
  waitForSubscribers(topic: string, n: number): Promise<void>;
  /** GraphQL client for a user (by token), or anonymous. */
  client(token?: string | null): GraphQLClient;
  tokenFor(userId: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string | undefined>;
  databaseUrl?: string;
  keyEncryptionKeys?: string;
  jwtSecret?: string;
  /** Use Redis for subscription events when REDIS_URL is set in the environment (CI's second pass). */
  redis?: boolean;
  clock?: ManualClock;
  backgroundJobs?: boolean;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const databaseUrl = opts.databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    DATA_DIR: '/nonexistent-test-data-dir',
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: opts.jwtSecret ?? randomBytes(32).toString('base64url'),
    KEY_ENCRYPTION_KEYS: opts.keyEncryptionKeys ?? Keyring.generateEntry('test1'),
    REDIS_URL: opts.redis === false ? undefined : process.env.REDIS_URL,
    LOG_LEVEL: 'debug',
    PROVIDER_MAX_RETRIES: '0',
    PROVIDER_TIMEOUT_MS: '5000',
    KEY_CHECK_TIMEOUT_MS: '2000',
    INTERVY_ANTHROPIC_API_KEY: 'sk-ant-house-test-key-000000000000',
    INTERVY_OPENAI_API_KEY: 'sk-house-test-key-00000000000000000',
    // Test servers run like the embedded default (GraphiQL and introspection on); abuse tests turn them off.
    GRAPHIQL: 'true',
    INTROSPECTION: 'true',
    ...opts.env,
  });
  const clock = opts.clock ?? new ManualClock('2026-11-26T12:00:00.000Z');
  const logs: string[] = [];
  const probe = new ServerProbe();
  const app = await buildApp(config, {
    clock,
    logSink: (line) => logs.push(line),
    backgroundJobs: opts.backgroundJobs ?? false,
    pubsubObserver: probe,
    afterBackgroundSweeps: probe.afterSweeps,
  });
  const port = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    url,
    config,
    clock,
    logs,
    seed: new Seeder(app.services, (userId) => signUserToken(app.jwtSecret, userId)),
    probe,
    waitForSubscribers: (topic, n) => probe.waitForSubscribers(topic, n),
    client: (token) => new GraphQLClient(url, token ?? null),
    tokenFor: (userId) => signUserToken(app.jwtSecret, userId),
    stop: () => app.stop(),
  };
}
