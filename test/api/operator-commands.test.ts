import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as demoReset } from '../../src/commands/demo-reset.ts';
import { main as rotateKeys } from '../../src/commands/rotate-keys.ts';
import { main as token } from '../../src/commands/token.ts';
import { seedDemo } from '../../src/domain/demo-seed.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { pgConfigFromUrl, withDatabase } from '../../src/lib/pg-url.ts';
import { runCommand, type CommandResult } from '../support/operator-command.ts';
import { cloneTemplate, createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { SET_PERSONAL_KEY, TEST_PERSONAL_KEY } from '../../dev/documents.ts';

const JWT = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('the token command (npm run --silent token -- <email>), on a database seeded with SEED_DEMO=1', () => {
  const jwtSecret = randomBytes(32).toString('base64url');
  const keyEncryptionKeys = Keyring.generateEntry('ops');
  let databaseUrl: string;
  let server: TestServer;
  let issued: CommandResult;
  let unknown: CommandResult;
  let missing: CommandResult;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const emptyDb = await createTestDatabase();
    const env = (url: string, extra: Record<string, string> = {}) => ({
      DATABASE_URL: url,
      AUTH_JWT_SECRET: jwtSecret,
      KEY_ENCRYPTION_KEYS: keyEncryptionKeys,
      ...extra,
    });
    issued = await runCommand(token, ['admin@acme.test'], env(databaseUrl, { SEED_DEMO: '1' }));
    unknown = await runCommand(token, ['nobody@acme.test'], env(emptyDb));
    missing = await runCommand(token, [], env(emptyDb));
    server = await startTestServer({ databaseUrl, jwtSecret, keyEncryptionKeys });
  });
  afterAll(() => server?.stop());

  it('prints exactly one line, a JWT, and nothing else', () => {
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout.endsWith('\n')).toBe(true);
    const lines = issued.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    expect(lines[0]).toMatch(JWT);
  });

  it('prints a token that signs in as that user on a server using the same database', async () => {
    const d = await server.client(issued.stdout.trim()).data(
      graphql(`
        query OperatorCommandsTokenViewer {
          viewer {
            user {
              email
            }
            memberships {
              role
              org {
                slug
                plan
              }
            }
          }
        }
      `),
    );
    expect(d.viewer.user.email).toBe('admin@acme.test');
    expect(d.viewer.memberships).toEqual([{ role: 'ADMIN', org: { slug: 'acme', plan: 'GROWTH' } }]);
  });

  it('fails with a non-zero exit and a message on stderr for an unknown email, printing nothing on stdout', () => {
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('No user with email nobody@acme.test.');
  });

  it('explains its usage when no email is given', () => {
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('Usage: npm run --silent token -- <email>');
  });

  describe('the demo seed', () => {
    const member = async (email: string) => {
      const user = await server.app.services.db.user.findUniqueOrThrow({ where: { email } });
      return { id: user.id, token: await server.tokenFor(user.id) };
    };
    const orgView = async (email: string, slug: string) => {
      const { token: t } = await member(email);
      const c = server.client(t);
      const { viewer } = await c.data(
        graphql(`
          query OperatorViewer {
            viewer {
              memberships {
                role
                org {
                  id
                  slug
                  name
                  plan
                }
              }
            }
          }
        `),
      );
      const m = viewer.memberships.find((x) => x.org.slug === slug)!;
      const { orgAiSettings, creditBalance } = await c.data(
        graphql(`
          query OperatorOrgView($id: ID!) {
            orgAiSettings(orgId: $id) {
              provider
              effectiveProvider
              viewerCanManage
            }
            creditBalance(orgId: $id) {
              balance
            }
          }
        `),
        { id: m.org.id },
      );
      return {
        role: m.role,
        plan: m.org.plan,
        provider: orgAiSettings.provider,
        effective: orgAiSettings.effectiveProvider,
        balance: creditBalance.balance,
      };
    };

    it('gives acme: Growth, 10,000 credits, Intervy Credits, with an admin, a staffing member and an interviewer', async () => {
      const acme = { plan: 'GROWTH', provider: 'INTERVY_CREDITS', effective: 'INTERVY_CREDITS', balance: 10_000 };
      expect(await orgView('admin@acme.test', 'acme')).toEqual({ ...acme, role: 'ADMIN' });
      expect(await orgView('staffing@acme.test', 'acme')).toEqual({ ...acme, role: 'STAFFING' });
      expect(await orgView('interviewer@acme.test', 'acme')).toEqual({ ...acme, role: 'INTERVIEWER' });
      const org = await server.app.services.db.org.findUniqueOrThrow({
        where: { slug: 'acme' },
        include: { memberships: true },
      });
      expect(org.memberships).toHaveLength(3);
    });

    it('gives globex: Free, 500 credits, Intervy Credits, with admin@globex.test as its admin', async () => {
      expect(await orgView('admin@globex.test', 'globex')).toEqual({
        role: 'ADMIN',
        plan: 'FREE',
        provider: 'INTERVY_CREDITS',
        effective: 'INTERVY_CREDITS',
        balance: 500,
      });
    });

    it('changes nothing when it runs again', async () => {
      const dump = async () => {
        const client = new pg.Client(pgConfigFromUrl(databaseUrl));
        await client.connect();
        try {
          const { rows: tables } = await client.query<{ table_name: string }>(
            `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
          );
          const out: Record<string, string[]> = {};
          for (const { table_name } of tables) {
            out[table_name] = (
              await client.query<{ t: string }>(`SELECT t::text AS t FROM "${table_name}" t ORDER BY 1`)
            ).rows.map((r) => r.t);
          }
          return out;
        } finally {
          await client.end();
        }
      };
      const before = await dump();
      expect(before.orgs.length).toBeGreaterThanOrEqual(2);
      const { db, keyring, clock } = server.app.services;
      await seedDemo(db, keyring, clock);
      await seedDemo(db, keyring, clock);
      expect(await dump()).toEqual(before);
    });
  });

  describe('npm run demo:reset', () => {
    const DEMO_MEMBERS = ['admin@acme.test', 'staffing@acme.test', 'admin@globex.test', 'admin@initech.test'];
    /** What each demo member sees of their org through the API: the state the README's walkthrough starts from. */
    const demoState = async () => {
      const out: Record<string, unknown> = {};
      for (const email of DEMO_MEMBERS) {
        const user = await server.app.services.db.user.findUniqueOrThrow({ where: { email } });
        const c = server.client(await server.tokenFor(user.id));
        const { viewer } = await c.data(
          graphql(`
            query DemoResetViewer {
              viewer {
                memberships {
                  role
                  org {
                    id
                    slug
                    plan
                  }
                }
              }
            }
          `),
        );
        const orgId = viewer.memberships[0].org.id;
        const d = await c.data(
          graphql(`
            query DemoResetState($orgId: ID!) {
              orgAiSettings(orgId: $orgId) {
                provider
                effectiveProvider
                model {
                  id
                }
                fallbackToCredits
                viewerKeys {
                  provider
                  hint
                  status
                }
                graceWindow {
                  active
                  daysRemaining
                }
              }
              creditBalance(orgId: $orgId) {
                balance
              }
              viewerSpend(orgId: $orgId) {
                spentThisMonth
                monthlyCap
              }
            }
          `),
          { orgId },
        );
        out[email] = { memberships: viewer.memberships, ...d };
      }
      return out;
    };

    it('puts back what the GraphiQL examples change (provider, keys, fallback, caps), keeping org ids and tokens', async () => {
      const seeded = await demoState();
      const acme = await server.app.services.db.org.findUniqueOrThrow({ where: { slug: 'acme' } });
      const admin = await server.app.services.db.user.findUniqueOrThrow({ where: { email: 'admin@acme.test' } });
      const adminToken = await server.tokenFor(admin.id);
      const c = server.client(adminToken);
      // What SwitchToAnthropic_changesDemoOrg, SaveMyKey_changesDemoOrg, AllowFallback_changesDemoOrg and
      // DefaultCap_changesDemoOrg do in GraphiQL.
      await c.data(
        graphql(`
          mutation DemoResetChanges($orgId: ID!) {
            updateProvider(input: { orgId: $orgId, provider: ANTHROPIC }) {
              provider
            }
            setFallbackToCredits(input: { orgId: $orgId, enabled: true }) {
              fallbackToCredits
            }
            setDefaultMemberCap(input: { orgId: $orgId, monthlyCredits: 500 }) {
              monthlyCap
            }
          }
        `),
        { orgId: acme.id },
      );
      await c.data(SET_PERSONAL_KEY, {
        input: { orgId: acme.id, provider: 'ANTHROPIC', apiKey: 'sk-ant-paste-your-key-here' },
      });
      expect(await demoState()).not.toEqual(seeded);

      const reset = await runCommand(demoReset, [], {
        DATABASE_URL: databaseUrl,
        AUTH_JWT_SECRET: jwtSecret,
        KEY_ENCRYPTION_KEYS: keyEncryptionKeys,
      });
      expect(reset.code, reset.stderr).toBe(0);
      expect(reset.stdout).toMatch(/^Demo data reset: acme \(GROWTH, 10000 credits\), globex/);

      expect(await demoState()).toEqual(seeded);
      // Same org id and same user: the token and the org id in GraphiQL's Variables tab still work.
      const { creditBalance } = await server.client(adminToken).data(
        graphql(`
          query DemoResetBalance($orgId: ID!) {
            creditBalance(orgId: $orgId) {
              balance
            }
          }
        `),
        { orgId: acme.id },
      );
      expect(creditBalance.balance).toBe(10_000);
      // The org's audit log starts again too: the examples' changes are gone with it.
      expect(await server.app.services.db.auditEvent.count({ where: { orgId: acme.id } })).toBe(0);
    });

    it.skipIf(!process.env.REDIS_URL)(
      'pushes the reset balance to a running server’s balance subscribers (over Redis: the command is another process)',
      async () => {
        const acme = await server.app.services.db.org.findUniqueOrThrow({ where: { slug: 'acme' } });
        const admin = await server.app.services.db.user.findUniqueOrThrow({ where: { email: 'admin@acme.test' } });
        await server.app.services.db.org.update({ where: { id: acme.id }, data: { creditBalance: 7 } });
        const live = server.client(await server.tokenFor(admin.id)).subscribeWs(
          graphql(`
            subscription DemoResetLiveBalance($orgId: ID!) {
              creditBalanceChanged(orgId: $orgId) {
                balance
              }
            }
          `),
          { orgId: acme.id },
        );
        await server.waitForSubscribers(`creditBalanceChanged:${acme.id}`, 1);
        const reset = await runCommand(demoReset, [], {
          DATABASE_URL: databaseUrl,
          AUTH_JWT_SECRET: jwtSecret,
          KEY_ENCRYPTION_KEYS: keyEncryptionKeys,
          REDIS_URL: process.env.REDIS_URL,
        });
        expect(reset.code, reset.stderr).toBe(0);
        const [pushed] = await live.waitFor(1);
        expect(pushed.data).toEqual({ creditBalanceChanged: { balance: 10_000 } });
        live.stop();
      },
    );

    it('takes no arguments', async () => {
      const r = await runCommand(demoReset, ['acme'], {
        DATABASE_URL: databaseUrl,
        AUTH_JWT_SECRET: jwtSecret,
        KEY_ENCRYPTION_KEYS: keyEncryptionKeys,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Usage: npm run demo:reset');
    });
  });
});

describe('the key rotation command (npm run keys:rotate)', () => {
  let anthropic: FakeVendorServer;
  beforeAll(async () => {
    anthropic = await startFakeAnthropic();
  });
  afterAll(() => anthropic?.close());

  it('re-encrypts every saved key under the newest master key, so a server with only that key can use them', async () => {
    const A = Keyring.generateEntry('old');
    const B = Keyring.generateEntry('new');
    const jwtSecret = randomBytes(32).toString('base64url');
    const databaseUrl = await createTestDatabase();
    const env = { ANTHROPIC_BASE_URL: anthropic.url };
    const keys = [`sk-ant-api03-${randomBytes(16).toString('hex')}`, `sk-ant-api03-${randomBytes(16).toString('hex')}`];

    const before = await startTestServer({ databaseUrl, jwtSecret, keyEncryptionKeys: A, env });
    const o = await before.seed.org({ plan: 'GROWTH' });
    try {
      await before
        .client(o.admin.token)
        .data(SET_PERSONAL_KEY, { input: { orgId: o.org.id, provider: 'ANTHROPIC', apiKey: keys[0] } });
      await before
        .client(o.interviewer.token)
        .data(SET_PERSONAL_KEY, { input: { orgId: o.org.id, provider: 'ANTHROPIC', apiKey: keys[1] } });
    } finally {
      await before.stop();
    }

    const rotation = await runCommand(rotateKeys, [], {
      DATABASE_URL: databaseUrl,
      KEY_ENCRYPTION_KEYS: `${A},${B}`,
      AUTH_JWT_SECRET: jwtSecret,
    });
    expect(rotation.code, rotation.stderr).toBe(0);
    expect(rotation.stdout).toBe('Re-encrypted 2 key(s) under master key "new"; 0 already used it.\n');
    expect(rotation.stderr).not.toMatch(/sk-ant/);

    const after = await startTestServer({ databaseUrl, jwtSecret, keyEncryptionKeys: B, env });
    try {
      const rows = await after.app.services.db.personalApiKey.findMany();
      expect(rows.map((r) => r.encKeyId)).toEqual(['new', 'new']);
      anthropic.requests.length = 0;
      for (const m of [o.admin, o.interviewer]) {
        const r = await after
          .client(m.token)
          .data(TEST_PERSONAL_KEY, { input: { orgId: o.org.id, provider: 'ANTHROPIC' } });
        expect(r.testPersonalKey).toMatchObject({ ok: true, status: 'VALID' });
      }
      const hash = (k: string) => createHash('sha256').update(k).digest('hex').slice(0, 16);
      expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual(keys.map(hash));
    } finally {
      await after.stop();
    }
  });

  it('refuses a ring missing a stored key’s master key; with --skip-unreadable reports each such key, leaves it as is, and exits 1; refuses other arguments with 2', async () => {
    const databaseUrl = await createTestDatabase();
    const before = await startTestServer({ databaseUrl, keyEncryptionKeys: Keyring.generateEntry('lost') });
    const o = await before.seed.org({ plan: 'GROWTH' });
    try {
      await before.seed.key(o.org.id, o.admin.id, 'ANTHROPIC', `sk-ant-api03-${randomBytes(16).toString('hex')}`);
    } finally {
      await before.stop();
    }
    const env = {
      DATABASE_URL: databaseUrl,
      KEY_ENCRYPTION_KEYS: Keyring.generateEntry('only'),
      AUTH_JWT_SECRET: 'x'.repeat(32),
    };
    // Its master key is missing from the ring: refused as a likely mistake, unless told to rotate the rest anyway.
    const refused = await runCommand(rotateKeys, [], env);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/missing from KEY_ENCRYPTION_KEYS: "lost" \(1 key\(s\)\)/);
    const rotation = await runCommand(rotateKeys, ['--skip-unreadable'], env);
    expect(rotation.code).toBe(1);
    expect(rotation.stdout).toMatch(
      new RegExp(
        `^Re-encrypted 0 key\\(s\\) under master key "only"; 0 already used it\\.\nCould not read key .* \\(org ${o.org.id}, user ${o.admin.id}, ANTHROPIC\\): left as is; its owner must save it again\\.\n$`,
      ),
    );
    const usage = await runCommand(rotateKeys, ['--now'], env);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toMatch(/Usage: npm run keys:rotate/);
  });
});

describe('GET /healthz', () => {
  it('answers 200 while the database is up, 503 while it is unreachable, and 200 again once it is back', async () => {
    const databaseUrl = await createTestDatabase();
    const name = new URL(databaseUrl).pathname.slice(1);
    const server = await startTestServer({ databaseUrl });
    const admin = new pg.Client(pgConfigFromUrl(withDatabase(databaseUrl, 'postgres')));
    await admin.connect();
    try {
      const up = await fetch(`${server.url}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({
        status: 'ok',
        database: 'ok',
        redis: server.config.redisUrl ? 'connected' : 'not configured',
      });

      // Gone, with the server's connections cut.
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      for (let i = 0; i < 2; i++) {
        const down = await fetch(`${server.url}/healthz`);
        expect(down.status).toBe(503);
        expect(await down.json()).toMatchObject({ status: 'database unreachable', database: 'unreachable' });
      }

      await cloneTemplate(admin, name);
      const back = await fetch(`${server.url}/healthz`);
      expect(back.status).toBe(200);
    } finally {
      await server.stop();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('GraphiQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('is served at GET /graphql to a browser, opening with the example operations and the bearer header', async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/graphiql/i);
    for (const op of [
      'query Me',
      'query Settings',
      'subscription Ask',
      'query Impact',
      'mutation SwitchToAnthropic_changesDemoOrg',
      'mutation SaveMyKey_changesDemoOrg',
      'mutation AllowFallback_changesDemoOrg',
      'mutation DefaultCap_changesDemoOrg',
      'mutation MemberCap_changesDemoOrg',
      'mutation TestMyKey',
      'subscription WatchSettings',
    ]) {
      expect(html, op).toContain(op);
    }
    expect(html).toContain('npm run --silent token -- admin@acme.test');
    expect(html).toContain('Authorization');
    // TestMyKey says where key tests reach a vendor.
    expect(html).toContain('Key tests reach a vendor only in \\"npm run demo\\" mode');
  });

  it('has a real title, no placeholder text and an inline icon: nothing for the browser to fetch from elsewhere', async () => {
    const html = await (await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('<title>Ivy platform API · GraphiQL</title>');
    expect(html).not.toContain('__TITLE__');
    expect(html).not.toMatch(/Loading/);
    expect(html).toMatch(/<link rel="icon" href="data:image\/svg\+xml,/);
    // Every URL the page names is its own (the icon's SVG namespace is data, escaped in the data: URL).
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('opens the Ivy stream panel, fed by its own fetcher, with the examples’ $orgId in the Variables tab', async () => {
    const html = await (await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('plugins: [plugin]');
    expect(html).toContain('visiblePlugin: plugin');
    expect(html).toContain('fetcher: createFetcher(options.endpoint)');
    expect(html).toContain('"variables":"{\\n  \\"orgId\\": \\"\\"\\n}"');
    const panel = await (await fetch(`${server.url}/graphiql-assets/ivy-panel.js`)).text();
    expect(panel).toContain("title: 'Ivy stream'");
  });

  it('serves its scripts and styles itself, so it works with no internet access', async () => {
    const html = await (await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).not.toContain('unpkg.com');
    const assets = [...html.matchAll(/\/graphiql-assets\/[A-Za-z0-9./_-]+?\.(?:js|css)/g)].map((m) => m[0]);
    expect(new Set(assets)).toEqual(
      new Set([
        '/graphiql-assets/graphiql.css',
        '/graphiql-assets/yoga-graphiql.umd.js',
        '/graphiql-assets/graphql-ws.min.js',
        '/graphiql-assets/ivy-panel.js',
        '/graphiql-assets/monacoeditorwork/editor.worker.bundle.js',
        '/graphiql-assets/monacoeditorwork/json.worker.bundle.js',
        '/graphiql-assets/monacoeditorwork/graphql.worker..bundle.js',
      ]),
    );
    for (const asset of new Set(assets)) {
      const res = await fetch(`${server.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(1000);
    }
    expect((await fetch(`${server.url}/graphiql-assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/graphiql-assets/toString`)).status).toBe(404);
  });

  it('does not answer a plain GET for JSON with the page', async () => {
    const res = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
