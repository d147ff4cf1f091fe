// One PostgreSQL per test run: the one DATABASE_URL names (CI's second pass), or an embedded one (the default, which
// needs no database server). Migrations run once into a template; each test file clones it (tens of milliseconds).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import {
  keepExitCodeFromEmbeddedPostgres,
  startEmbeddedPostgres,
  type EmbeddedDatabase,
} from '../../src/lib/embedded-pg.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { applyMigrations } from '../../src/lib/migrate.ts';
import { pgConfigFromUrl, withDatabase } from '../../src/lib/pg-url.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDb: string;
    /** A directory for this run's temporary files (operator commands' DATA_DIRs), removed at the end. */
    scratchDir: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function dropDatabasesLike(serverUrl: string, prefix: string): Promise<void> {
  // Each DROP DATABASE waits for a checkpoint; drops running side by side share one, which on a busy shared
  // PostgreSQL turns half a minute of teardown into a few seconds.
  const pool = new pg.Pool({ ...pgConfigFromUrl(withDatabase(serverUrl, 'postgres')), max: 8 });
  try {
    const { rows } = await pool.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${prefix}%`,
    ]);
    await Promise.all(rows.map(({ datname }) => pool.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)));
  } finally {
    await pool.end();
  }
}

export default async function setup(project: TestProject) {
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl: string;
  let templateDb: string;
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
    templateDb = `${new URL(serverUrl).pathname.slice(1) || 'ivy'}_tmpl`;
  } else {
    const dataDir = path.join(os.tmpdir(), `ivy-test-pg-${process.pid}`);
    // Throwaway: no disk flushes, which made each template clone and the shutdown checkpoint slow on a busy machine.
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      log: createLogger('silent'),
      database: 'postgres',
      throwaway: true,
    });
    keepExitCodeFromEmbeddedPostgres(); // a failed test must fail `npm test`; the teardown below stops the cluster
    serverUrl = embedded.url;
    templateDb = 'ivy_tmpl';
    project.onTestsRerun?.(() => {});
    const stop = embedded.stop;
    embedded.stop = async () => {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    };
  }
  await dropDatabasesLike(serverUrl, templateDb);
  const admin = new pg.Client(pgConfigFromUrl(withDatabase(serverUrl, 'postgres')));
  await admin.connect();
  await admin.query(`CREATE DATABASE "${templateDb}"`);
  await admin.end();
  await applyMigrations(withDatabase(serverUrl, templateDb));
  project.provide('serverUrl', serverUrl);
  project.provide('templateDb', templateDb);
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-test-run-'));
  project.provide('scratchDir', scratchDir);

  return async () => {
    fs.rmSync(scratchDir, { recursive: true, force: true });
    // The embedded cluster is deleted whole; only a shared PostgreSQL needs this run's databases dropped.
    if (embedded) await embedded.stop();
    else await dropDatabasesLike(serverUrl, templateDb);
  };
}
