// npm run bench (after bench/run.ts)   Ivy at org scale (issue 10), every row side by side in one run against its
// baseline in the same run, because the load generator, the stand-ins and the server share this machine's cores:
//   - completions per second on ONE org, 64 in flight, through the ledger functions a completion uses (hold, then one
//     settlement: finished, cancelled part-way, failed, or above its hold; a few BYOK answers moved to credits by a
//     fallback hold, some stopped first; a few repeated requestIds), then the org's
//     books checked to the credit; with REDIS_URL on two instances sharing the database at once;
//   - one settings change reaching every orgAiSettingsChanged subscriber (members and admins, each with their own
//     keys): the time from the mutation to the last delivery, and that every subscriber got exactly its own view;
//     the subscribers run in a process of their own (bench/fanout-client.ts); with REDIS_URL, half of them are on a
//     second instance;
//   - authenticated orgAiSettings throughput over { __typename } throughput on the same server (autocannon, 32
//     connections), with the SQL statements each one makes.
//   - the same one-org load through the whole stack: ivyCompletion over graphql-ws against the loopback Anthropic
//     stand-in, short answers, 64 in flight, each stream checked whole and the books checked to the credit;
//   - time to first text delta added by ivyCompletion (credits, one open graphql-ws connection) over a direct SDK
//     call to the same stand-in, the two interleaved, p50 and p99 each;
//   - idle authenticated sockets, one orgAiSettingsChanged subscription each, opened by a process of their own
//     (bench/socket-client.ts): the server process's RSS growth per socket (after a forced GC, --expose-gc);
//   - concurrent completions streaming at 20 chunks/s (the stand-in's [[slow:50]] [[deltas:20]]), run by that
//     process: every stream whole and in order, the books to the credit, and each gap between two deltas minus the
//     stand-in's 50 ms pause, p50 and p99, beside the same figure for as many direct SDK streams read from the
//     stand-in by the same process just before (the baseline: what the stand-in, the load generator and the machine
//     add by themselves); the row's figure is the difference, what the server adds.
// The Anthropic stand-in runs in a process of its own too (bench/vendor-process.ts), so its 50 ms schedule does
// not share the server's event loop. Rows print in the order.
// BENCH_SCALE=small runs a reduced version in under a minute. The exit code is non-zero only on correctness
// (a ledger that does not add up, a subscriber that missed its event or saw someone else's view), never on a timing.
// Figures go to BENCH_OUT (default bench/results.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { CannonResult, CannonRun } from './http-client.ts';
import { buildApp, type App } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { Keyring } from '../src/lib/crypto.ts';
import { startEmbeddedPostgres } from '../src/lib/embedded-pg.ts';
import { createLogger } from '../src/lib/logger.ts';
import { signUserToken } from '../src/lib/tokens.ts';
import { GraphQLClient } from '../dev/client.ts';
import { IVY, SCALE_SETTINGS, SCALE_SETTINGS_WATCH, SCALE_UPDATE_PROVIDER } from '../dev/documents.ts';
import type { FirstDeltaPlan, FirstDeltaResult, StreamsResult } from './socket-client.ts';
import type { StackPlan, StackResult } from './stack-client.ts';
import { checkLedger, runLedgerLoad, type LedgerLoadResult } from '../dev/ledger-load.ts';
import { Seeder, type SeededMember } from '../dev/seed.ts';
import { installSqlCounter, sampleLockWaits, sqlPerOp, sqlSnapshot, type SqlCounts } from './sql-probe.ts';
import { heapSampled, profiled } from './cpu-profile.ts';
import { measureMachineCpu } from './machine-cpu.ts';
import { RELAY_QUERY } from './relay-process.ts';
import { sqlPool } from '../src/lib/database.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const LEDGER_TOTAL = Number(process.env.BENCH_LEDGER_N ?? (SMALL ? 1_000 : 10_000));
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (SMALL ? 1_000 : 10_000));
const SUBS_PER_SOCKET = 100;
const HTTP_PAIRS = SMALL ? 2 : 6;
const HTTP_PAIR_SECONDS = SMALL ? 1 : 2;
const OUT = process.env.BENCH_OUT ?? 'bench/results.json';
// BENCH_ROWS=stack,first-delta runs only those rows (ledger, stack, fanout, throughput, first-delta, idle, streams):
// for working on one row; the figures come from a run of them all.
const ROWS = process.env.BENCH_ROWS?.split(',').map((r) => r.trim());
const want = (key: string) => !ROWS || ROWS.includes(key);
// BENCH_PROFILE=1: each row runs under the CPU profiler; its .cpuprofile goes to bench/profiles/ and a summary of
// where the time went (by library) to the JSON. Off by default: the profiler costs a little of every row's figure.
const PROFILE_DIR = process.env.BENCH_PROFILE ? 'bench/profiles' : null;
if (PROFILE_DIR) fs.mkdirSync(PROFILE_DIR, { recursive: true });
const cpuProfiles: Record<string, unknown> = {};
async function row(label: string, fn: () => Promise<void>) {
  if (!PROFILE_DIR) return fn();
  const slug = label.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const { cpu } = await profiled(path.join(PROFILE_DIR, `${slug}.cpuprofile`), fn);
  cpuProfiles[label] = cpu;
}

installSqlCounter();
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
const started = performance.now();
const progress = (what: string) =>
  process.stderr.write(`bench:scale: ${((performance.now() - started) / 1000).toFixed(1)} s: ${what}\n`);
const failures: string[] = [];

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-bench-scale-'));
const embedded = process.env.DATABASE_URL
  ? null
  : await startEmbeddedPostgres({ dataDir, port: await freePort(), log: createLogger('silent') });
// The stand-in runs in a process of its own: its timers (the 20 chunks/s schedule) and its streams do not share the
// server's event loop.
const vendor = fork(path.join(import.meta.dirname, 'vendor-process.ts'), { execArgv: ['--import', 'tsx'] });
process.on('exit', () => vendor.kill());
const anthropic = await new Promise<{ url: string }>((resolve, reject) => {
  vendor.once('message', (m: { url: string }) => resolve(m));
  vendor.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
});
/** The stand-in's own CPU so far, ms (asked over IPC). */
const standInCpuMs = async () => (await askChild<{ ms: number }>(vendor, { t: 'cpu' }, 'cpu')).ms;

/** Sends a forked process a message and resolves with its first reply of type `reply` (rejects if it exits first). */
function askChild<T>(
  child: ChildProcess,
  message: Record<string, unknown>,
  reply: string,
  match: (m: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`process exited (${code}) before "${reply}"`));
    const on = (m: { t: string } & T) => {
      if (m.t !== reply || !match(m)) return;
      child.off('message', on);
      child.off('exit', exited);
      resolve(m);
    };
    child.on('message', on);
    child.once('exit', exited);
    child.send(message);
  });
}
const IDLE_SOCKETS = Number(process.env.BENCH_IDLE_SOCKETS ?? (SMALL ? 1_000 : 10_000));
const STREAMS = Number(process.env.BENCH_STREAMS ?? (SMALL ? 100 : 1_000));
const FIRST_DELTA_N = Number(process.env.BENCH_FIRST_DELTA_N ?? (SMALL ? 30 : 300));
const STACK_TOTAL = SMALL ? 200 : 3_000;
const serverEnv = {
  ANTHROPIC_BASE_URL: anthropic.url,
  PROVIDER_MAX_RETRIES: '0',
  MAX_COMPLETIONS_PER_SOCKET: '1000',
  DATABASE_URL: process.env.DATABASE_URL ?? embedded!.url,
  DATA_DIR: dataDir,
  AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: Keyring.generateEntry('bench'),
  INTERVY_ANTHROPIC_API_KEY: 'sk-ant-bench-house-key-000000000000',
  LOG_LEVEL: 'error',
  // Org scale, not the abuse limits: many sockets per member, many subscriptions per socket.
  MAX_SUBSCRIPTIONS_PER_SOCKET: String(SUBS_PER_SOCKET),
  MAX_SOCKETS_PER_MEMBER: '100000',
  MAX_COMPLETIONS_PER_MEMBER: '1000',
  MAX_COMPLETIONS_PER_ORG: '1000',
  // The event goes out at once (no quiet period to coalesce a burst): the row measures the fan-out itself.
  SETTINGS_EVENTS_QUIET_MS: '0',
  REDIS_URL: process.env.REDIS_URL,
  MIGRATE_ON_START: '1',
  // EARLY_UPSTREAM_START=false measures the hold before the upstream request (the A/B of issue 10's round 9).
  EARLY_UPSTREAM_START: process.env.EARLY_UPSTREAM_START,
};
const config = loadConfig(serverEnv);
const apps: App[] = [await buildApp(config, { backgroundJobs: false })];
if (process.env.REDIS_URL) apps.push(await buildApp({ ...config, migrateOnStart: false }, { backgroundJobs: false }));
const urls: string[] = [];
for (const app of apps) urls.push(`http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`);
const [app] = apps;
const seed = new Seeder(app.services, (id) => signUserToken(app.jwtSecret, id));
const report: Record<string, unknown> = {
  machine: { cpus: os.cpus().length, loadavgAtStart: os.loadavg().map((n) => +n.toFixed(2)), node: process.version },
  scale: SMALL ? 'small' : 'full',
  instances: apps.length,
};
const rows: { order: number; measure: string; value: string; goal: string; ok: boolean | null }[] = [];
function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => +(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN).toFixed(2);
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1) };
}

// ---- one org's ledger --------------------------------------------------------------------------------------------
async function ledgerRow(label: string, perInstance: App[]) {
  const { org } = await seed.org({ credits: 1_000_000_000 });
  const members: string[] = [];
  for (let i = 0; i < 16; i++) members.push((await seed.member(org.id, 'INTERVIEWER')).id);
  const before = sqlSnapshot();
  const locks = sampleLockWaits(app.services.config.databaseUrl!);
  await locks.started;
  const t0 = performance.now();
  const share = Math.ceil(LEDGER_TOTAL / perInstance.length);
  const results: LedgerLoadResult[] = await Promise.all(
    perInstance.map((a, i) =>
      runLedgerLoad(a.services, {
        orgId: org.id,
        memberIds: members,
        total: share,
        inFlight: Math.ceil(64 / perInstance.length),
        seed: 1000 + i,
      }),
    ),
  );
  const elapsed = performance.now() - t0;
  const lockWaits = await locks.stop();
  const settled = results.reduce((n, r) => n + r.settled, 0);
  const charged = results.reduce((n, r) => n + r.charged, 0);
  const books = await checkLedger(app.services.db, org.id);
  const unexpected = results.flatMap((r) => r.unexpected);
  const perSec = (settled / elapsed) * 1000;
  const checks = {
    'ledger adds up (GRANTs + HOLDs + RELEASEs + OVERAGEs = balance)': books.ledgerSum === books.balance,
    'credits charged = balance moved': books.chargedInDb === books.grants - books.balance,
    'charged as reported to the callers': books.chargedInDb === charged,
    'every hold settled once': books.running === 0 && books.badlySettled === 0,
    'never negative': books.negativeBalanceRows === 0 && books.balance >= 0,
    "members' spend = their charges": books.spendMismatches === 0,
    'no unexpected outcome': unexpected.length === 0,
  };
  for (const [what, ok] of Object.entries(checks)) if (!ok) failures.push(`${label}: ${what}`);
  report[label] = {
    completions: settled,
    perSecond: +perSec.toFixed(1),
    elapsedMs: +elapsed.toFixed(0),
    sqlPerCompletion: sqlPerOp(before, sqlSnapshot(), settled),
    lockWaits,
    books,
    checks,
    unexpected: unexpected.slice(0, 5),
  };
  rows.push({
    order: 7,
    measure: `${label}: completions/s, 64 in flight (${settled} settled; books ${Object.values(checks).every(Boolean) ? 'add up' : 'DO NOT add up'})`,
    value: perSec.toFixed(0),
    goal: '≥ 500/s, to the credit',
    ok: perSec >= 500,
  });
}

if (want('ledger')) {
  progress(`one org's ledger, ${LEDGER_TOTAL} completions, 64 in flight`);
  await row('ledger, one instance', () => ledgerRow('one org, one instance', [app]));
}
if (want('ledger') && apps.length > 1) {
  progress(`one org's ledger across two instances`);
  await row('ledger, two instances', () => ledgerRow('one org, two instances', apps));
}

// ---- server instances in processes of their own ------------------------------------------------------------------
/** A server instance as the fan-out row sees it: in this process, or forked (bench/instance-process.ts). */
interface Instance {
  url: string;
  subscribers(orgId: string): Promise<number>;
  whenSubscribed(orgId: string, count: number): Promise<void>;
  sql(): Promise<SqlCounts>;
  /** The process's CPU time so far, in ms (the in-process instance's includes the bench's own, idle while it waits). */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}
const cpuMsOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const inProcess = (a: App, url: string): Instance => ({
  url,
  subscribers: async (orgId) => a.services.pubsub.subscribers(orgId),
  whenSubscribed: (orgId, count) => a.services.pubsub.whenSubscribed(orgId, count),
  sql: async () => sqlSnapshot(),
  cpuMs: async () => cpuMsOf(process.cpuUsage()),
  stop: async () => {},
});
/** An instance in a process of its own, as a second machine would be (not sharing this event loop). */
async function forkedInstance({ built = false } = {}): Promise<Instance> {
  // Built: the compiled server (npm run build: dist/), under plain node, as `npm run start:prod` runs it.
  const child = built
    ? fork(path.join(import.meta.dirname, '../dist/bench/instance-process.js'), { execArgv: [] })
    : fork(path.join(import.meta.dirname, 'instance-process.ts'), { execArgv: ['--import', 'tsx'] });
  process.on('exit', () => child.kill()); // a bench that fails leaves no instance behind
  const ask = <T>(message: Record<string, unknown>, reply: string, match?: (m: T) => boolean) =>
    askChild<T>(child, message, reply, match);
  const { url } = await ask<{ url: string }>({ t: 'start', env: serverEnv }, 'started');
  return {
    url,
    subscribers: async (orgId) => (await ask<{ count: number }>({ t: 'subscribers', orgId }, 'subscribers')).count,
    whenSubscribed: async (orgId, count) => {
      await ask<{ orgId: string }>({ t: 'whenSubscribed', orgId, count }, 'subscribed', (m) => m.orgId === orgId);
    },
    sql: async () => (await ask<{ counts: SqlCounts }>({ t: 'sql' }, 'sql')).counts,
    cpuMs: async () => cpuMsOf((await ask<{ usage: NodeJS.CpuUsage }>({ t: 'cpu' }, 'cpu')).usage),
    stop: async () => {
      await ask({ t: 'stop' }, 'stopped').catch(() => {});
    },
  };
}
const sqlOf = async (instances: Instance[]): Promise<SqlCounts> => {
  const sum: SqlCounts = { total: 0, byKind: {} };
  for (const c of await Promise.all(instances.map((i) => i.sql()))) {
    sum.total += c.total;
    for (const [k, v] of Object.entries(c.byKind)) sum.byKind[k] = (sum.byKind[k] ?? 0) + v;
  }
  return sum;
};

/**
 * The server as production runs it (`npm run start:prod`: compiled, under plain node), in a process of its own like a
 * machine of its own: what the first-delta, stack and throughput rows measure. One instance unless BENCH_STACK_INSTANCES says
 * more: on this machine's two cores a second process shares the cores rather than adding any (the stack row read
 * 239/s at 5.01 ms of CPU a completion with two, 284/s at 3.23 ms with one). The other rows keep the instances in
 * this process, run from source through tsx (their goals are met either way); the stack and throughput rows measure
 * those too, as the rounds before measured them, for reference.
 */
let builtInstances: Promise<Instance[]> | undefined;
const built = () =>
  (builtInstances ??= Promise.all(
    Array.from({ length: Number(process.env.BENCH_STACK_INSTANCES ?? 1) }, () => forkedInstance({ built: true })),
  ));

// ---- one org through the stack ------------------------------------------------------------------------------------
/**
 * The stack row's load (bench/stack-client.ts, in a process of its own) against `plan.urls`, with what it cost: the
 * server's CPU a completion (`serverCpuMs` read before and after) and the whole machine's.
 */
async function stackLoad(plan: StackPlan, serverCpuMs: () => Promise<number>) {
  const child = fork(path.join(import.meta.dirname, 'stack-client.ts'), { execArgv: ['--import', 'tsx'] });
  const machineCpu = await measureMachineCpu({
    pool: sqlPool(app.services.db),
    redis: app.redis?.commands,
    standInCpuMs,
  });
  const cpu0 = await serverCpuMs();
  const done = new Promise<StackResult>((resolve, reject) => {
    child.once('message', (m: { result: StackResult }) => resolve(m.result));
    child.once('exit', (code) => reject(new Error(`stack load generator exited (${code}) before it was done`)));
  });
  child.send(plan);
  const result = await done;
  const serverMs = (await serverCpuMs()) - cpu0;
  // The server's CPU per completion: steadier than the rate on a shared machine.
  const cpuMsPerCompletion = +(serverMs / plan.total).toFixed(2);
  // And everything else the machine ran meanwhile: the rate cannot pass what the cores give at that cost.
  const machine = await machineCpu(plan.total, serverMs, result.cpuMs);
  return { result, perSec: (result.whole / result.elapsedMs) * 1000, cpuMsPerCompletion, machine };
}
/** The in-process instances share this process: its CPU is theirs together (asking each would count it twice). */
const thisProcessCpuMs = async () => cpuMsOf(process.cpuUsage());

async function stackRow(label: string, where: 'built' | 'in-process') {
  const { org } = await seed.org({ credits: 1_000_000_000 });
  const members: SeededMember[] = [];
  for (let i = 0; i < 16; i++) members.push(await seed.member(org.id, 'INTERVIEWER'));
  // Built: the instances' processes' CPU. In process: this process's (the two instances'; the clients run apart).
  const instances = where === 'built' ? await built() : urls.map((url, i) => inProcess(apps[i], url));
  const serverCpuMs =
    where === 'built'
      ? async () => (await Promise.all(instances.map((i) => i.cpuMs()))).reduce((a, b) => a + b, 0)
      : thisProcessCpuMs;
  const plan: StackPlan = {
    urls: instances.map((i) => i.url),
    orgId: org.id,
    query: (await import('graphql')).print(IVY),
    total: STACK_TOTAL,
    inFlight: 64,
    tokens: members.map((m) => m.token),
  };
  // A third of the load first, not counted: a fresh process compiles its hot paths under it (the built instances'
  // first 3,000 read 5.2–5.8 ms of CPU each, the next 2.9–3.8), and the row is about a server that has been running.
  const warm = (await stackLoad({ ...plan, total: Math.ceil(STACK_TOTAL / 3) }, serverCpuMs)).result;
  const sqlBefore = where === 'built' ? await sqlOf(instances) : sqlSnapshot();
  const { result, perSec, cpuMsPerCompletion, machine } = await stackLoad(plan, serverCpuMs);
  const sqlAfter = where === 'built' ? await sqlOf(instances) : sqlSnapshot();
  const { whole, charged, broken, elapsedMs: elapsed, cpuMs: clientCpuMs } = result;
  const books = await checkLedger(app.services.db, org.id);
  const ok =
    whole === STACK_TOTAL &&
    warm.whole === Math.ceil(STACK_TOTAL / 3) &&
    books.ledgerSum === books.balance &&
    books.chargedInDb === books.grants - books.balance &&
    books.chargedInDb === charged + warm.charged &&
    books.running === 0 &&
    books.badlySettled === 0;
  if (!ok)
    failures.push(
      `${label}: ${STACK_TOTAL - whole} streams not whole (warm-up: ${Math.ceil(STACK_TOTAL / 3) - warm.whole}); books ${JSON.stringify(books)}`,
    );
  report[label] = {
    completions: whole,
    perSecond: +perSec.toFixed(1),
    elapsedMs: +elapsed.toFixed(0),
    cpuMsPerCompletion,
    loadGeneratorCpuMsPerCompletion: +(clientCpuMs / STACK_TOTAL).toFixed(2),
    machineCpuMsPerCompletion: machine.perOp,
    machineCeilingPerSecond: machine.ceilingPerSecond,
    sqlPerCompletion: sqlPerOp(sqlBefore, sqlAfter, STACK_TOTAL),
    books,
    broken,
  };
  const cost = `server CPU ${cpuMsPerCompletion} ms each, the whole machine's ${machine.perOp.machine ?? '?'} ms: at most ${machine.ceilingPerSecond ?? '?'}/s on ${os.cpus().length} cores`;
  if (where === 'built')
    rows.push({
      order: 6,
      measure: `one org through the stack: ivyCompletion over graphql-ws, 64 in flight, short answers, the built server, ${instances.length} instance process(es) (${whole}/${STACK_TOTAL} whole and in order; ${cost})`,
      value: perSec.toFixed(0),
      goal: '≥ 500/s, to the credit',
      ok: perSec >= 500,
    });
  else
    rows.push({
      order: 6.4,
      measure: `the same against the instances in the bench's process, run from source through tsx, as rounds 1–7 measured it (also warmed now; ${whole}/${STACK_TOTAL} whole; ${cost})`,
      value: perSec.toFixed(0),
      goal: '(the row above is the measure)',
      ok: null,
    });
}

// ---- the floor: a bare graphql-ws relay of the same SDK (bench/relay-process.ts) -----------------------------------
interface Floor {
  url: string;
  /** The relay process's own CPU so far, ms. */
  cpuMs(): Promise<number>;
}
let floorProcess: Promise<Floor> | undefined;
/** Forked on first use, stopped with the stand-in. */
const floor = () =>
  (floorProcess ??= (async () => {
    const child = fork(path.join(import.meta.dirname, 'relay-process.ts'), { execArgv: ['--import', 'tsx'] });
    process.on('exit', () => child.kill());
    const { url } = await askChild<{ url: string }>(child, { t: 'start', anthropicUrl: anthropic.url }, 'ready');
    return { url, cpuMs: async () => (await askChild<{ ms: number }>(child, { t: 'cpu' }, 'cpu')).ms };
  })());

/** The stack row's load through the floor: what this machine gives the stack's own parts. */
async function floorStackRow(relay: Floor) {
  const { result, perSec, cpuMsPerCompletion, machine } = await stackLoad(
    { urls: [relay.url], orgId: 'floor', query: RELAY_QUERY, total: STACK_TOTAL, inFlight: 64, tokens: ['floor'] },
    relay.cpuMs,
  );
  if (result.whole !== STACK_TOTAL)
    failures.push(`floor relay: ${STACK_TOTAL - result.whole} streams not whole: ${result.broken.join('; ')}`);
  report['floor: the stack row through a bare relay'] = {
    completions: result.whole,
    perSecond: +perSec.toFixed(1),
    relayCpuMsPerCompletion: cpuMsPerCompletion,
    machineCpuMsPerCompletion: machine.perOp,
    machineCeilingPerSecond: machine.ceilingPerSecond,
    broken: result.broken,
  };
  rows.push({
    order: 6.5,
    measure: `floor, for reference: the same load through a bare graphql-ws relay of the same SDK (no Yoga, auth, limits, hold or ledger; bench/relay-process.ts): relay CPU ${cpuMsPerCompletion} ms each, the whole machine's ${machine.perOp.machine ?? '?'} ms: at most ${machine.ceilingPerSecond ?? '?'}/s`,
    value: perSec.toFixed(0),
    goal: '(none: what this machine gives the stack itself)',
    ok: null,
  });
}

if (want('stack')) {
  progress(`one org through the stack, ${STACK_TOTAL} completions, 64 in flight`);
  await row('one org through the stack', () => stackRow('one org through the stack', 'built'));
  progress(`the same with the instances in this process, run from source`);
  await stackRow('one org through the stack, in the bench process', 'in-process');
  progress(`the same load through the floor (a bare relay)`);
  await floorStackRow(await floor());
}

// The first-delta row runs right after the stack row (which warms the built instance and the floor relay) and before
// the fan-out and throughput rows: after those two, the floor relay, which neither touches, read 0.3–0.5 ms slower at
// p50 (0.73 and 0.68 against 0.37 and 0.19 ms, alternated; round 9). A row's figure should not carry what an
// unrelated row left behind on the machine (10,000 sockets' memory, 100,000 requests' garbage).
if (want('first-delta')) {
  progress(`time to first text delta, ${FIRST_DELTA_N} × 2`);
  await row('time to first text delta', firstDeltaRow);
}

// ---- settings fan-out --------------------------------------------------------------------------------------------
// The subscribers live in a process of their own (bench/fanout-client.ts): 10,000 client subscriptions in the
// server's process would measure the load generator as much as the server.
async function fanOutRow() {
  // With two instances, the second runs in a process of its own (a second machine); SQL is counted in both.
  const instances: Instance[] = [inProcess(app, urls[0])];
  if (apps.length > 1) instances.push(await forkedInstance());
  try {
    await fanOutOver(instances);
  } finally {
    for (const i of instances) await i.stop();
  }
}

async function fanOutOver(instances: Instance[]) {
  const fanUrls = instances.map((i) => i.url);
  const { org, admin, interviewer } = await seed.org({ plan: 'GROWTH' });
  await seed.key(org.id, interviewer.id, 'ANTHROPIC', 'sk-ant-bench-interviewer-key-0000000');
  const { child: client, next } = forkWorker('fanout-client.ts', 'fan-out client');
  const ready = next<{ perInstance: number[] }>('ready');
  client.send({
    t: 'start',
    plan: {
      urls: fanUrls,
      orgId: org.id,
      query: printed,
      subscribers: SUBSCRIBERS,
      perSocket: SUBS_PER_SOCKET,
      members: [
        { token: admin.token, canManage: true, keys: 0 },
        { token: interviewer.token, canManage: false, keys: 1 },
      ],
    },
  });
  const { perInstance } = await ready;
  // Every subscription is live on its instance before the change.
  const refused = next<{ error: string }>('refused');
  refused.catch(() => {});
  // A stall while subscribing shows where it stands (live subscribers per instance) instead of waiting in silence.
  // The servers' event-loop delay and the SQL statements made while subscribing say what the opening costs.
  const opening = performance.now();
  const sqlOpening = await sqlOf(instances);
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const watch = setInterval(async () => {
    const counts = await Promise.all(instances.map((i) => i.subscribers(org.id)));
    const live = counts.map((n, i) => `${n}/${perInstance[i]}`).join(', ');
    progress(
      `fan-out: ${((performance.now() - opening) / 1000).toFixed(0)} s subscribing, live ${live}, event-loop delay max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    );
  }, 10_000);
  const subscribed = await Promise.race([
    Promise.all(instances.map((a, i) => a.whenSubscribed(org.id, perInstance[i]))).then(() => null),
    refused,
  ]).finally(() => clearInterval(watch));
  loopDelay.disable();
  const openingSql = sqlPerOp(sqlOpening, await sqlOf(instances), SUBSCRIBERS);
  const opened = {
    seconds: +((performance.now() - opening) / 1000).toFixed(1),
    eventLoopDelayMs: { p50: +(loopDelay.percentile(50) / 1e6).toFixed(1), max: +(loopDelay.max / 1e6).toFixed(0) },
    sqlStatementsPerSubscription: openingSql.perOp,
    sqlByKind: openingSql.byKind,
  };
  progress(`fan-out: subscribing took ${opened.seconds} s: ${JSON.stringify(opened)}`);
  if (subscribed) {
    failures.push(`fan-out: a subscription was refused: ${subscribed.error}`);
    client.send({ t: 'stop' });
    return;
  }
  const done = next<{ reached: number; wrong: number; lastAt: number }>('done');
  done.catch(() => {}); // on a timeout the client is stopped below; the row reports who was not reached
  const sqlBefore = await sqlOf(instances);
  // CPU time the servers spent on the delivery: what the fan-out costs, whatever share of the machine it got.
  const cpuBefore = await Promise.all(instances.map((i) => i.cpuMs()));
  const t0 = performance.timeOrigin + performance.now();
  // Profiled from the change to the last delivery only (not the minutes of subscribing before it).
  const deliver = async () => {
    await new GraphQLClient(fanUrls[0], admin.token).data(SCALE_UPDATE_PROVIDER, {
      input: { orgId: org.id, provider: 'ANTHROPIC' },
    });
    const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 120_000).unref());
    return Promise.race([done, timeout]);
  };
  let result: Awaited<ReturnType<typeof deliver>>;
  if (PROFILE_DIR) {
    const run = await profiled(path.join(PROFILE_DIR, 'settings-fan-out-delivery.cpuprofile'), deliver);
    result = run.result;
    cpuProfiles['settings fan-out, delivery only'] = run.cpu;
  } else result = await deliver();
  client.send({ t: 'stop' });
  const reached = result?.reached ?? 0;
  const elapsed = result ? result.lastAt - t0 : Infinity;
  const sql = sqlPerOp(sqlBefore, await sqlOf(instances), 1);
  const cpuAfter = await Promise.all(instances.map((i) => i.cpuMs()));
  const serverCpuMs = cpuAfter.map((ms, i) => Math.round(ms - cpuBefore[i]));
  if (reached !== SUBSCRIBERS) failures.push(`fan-out: ${SUBSCRIBERS - reached} subscribers never got the event`);
  if (result?.wrong) failures.push(`fan-out: ${result.wrong} subscribers got a wrong view or more than one event`);
  report['settings fan-out'] = {
    subscribers: SUBSCRIBERS,
    instances: fanUrls.length,
    secondInstance: fanUrls.length > 1 ? 'a process of its own' : null,
    reached,
    wrongViews: result?.wrong ?? null,
    msToLast: +elapsed.toFixed(0),
    serverCpuMsPerInstance: serverCpuMs,
    loadavgAtDelivery: +os.loadavg()[0].toFixed(2),
    subscribing: opened,
    sqlStatementsForTheEvent: sql.perOp,
    sqlByKind: sql.byKind,
  };
  rows.push({
    order: 3,
    measure: `one settings change → all ${SUBSCRIBERS} orgAiSettingsChanged subscribers (${fanUrls.length} instance${fanUrls.length > 1 ? 's, the second in its own process' : ''}; ${sql.perOp} SQL statements; server CPU ${serverCpuMs.join(' + ')} ms)`,
    value: `${(elapsed / 1000).toFixed(2)} s`,
    goal: `all reached in ≤ 2 s (10,000)`,
    ok: elapsed <= 2000 && reached === SUBSCRIBERS,
  });
}
const printed = (await import('graphql')).print(SCALE_SETTINGS_WATCH);
if (want('fanout')) {
  progress(`settings fan-out to ${SUBSCRIBERS} subscribers`);
  await fanOutRow();
}

// ---- orgAiSettings throughput against { __typename } -------------------------------------------------------------
// autocannon runs in a process of its own (bench/http-client.ts), so its work is not charged to the server it
// measures. After a pair not counted (warm-up), the two documents alternate, { __typename } then orgAiSettings, six
// times for 2 s each (twice for 1 s in the small run): this machine's speed moves by a fifth between two 5 s windows
// (one pair of them read 0.59 and the next 0.78 in one run), so more, shorter pairs average that out better than two
// long ones. Each run also reports the server's CPU a request (its process's CPU time around the run), the figure a
// change to the request's path moves whatever the machine's speed.
// The row measures the built server in a process of its own, as production runs it (like the stack and first-delta
// rows); the instance in this process, run from source through tsx as rounds 1–8 measured it, follows as a ref row.
// From source, esbuild's keep-names helper (`__name`, a defineProperty per closure created) ran on every request's
// closures: 4 % of that row's profile, and more of the authenticated request's than of { __typename }'s.
async function cannonProcess(url: string, serverCpuMs: () => Promise<number>) {
  const child = fork(path.join(import.meta.dirname, 'http-client.ts'), { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`http load generator exited (${code})`)));
  });
  const run = async (body: string, token: string | null) => {
    const cpuBefore = await serverCpuMs();
    const r = await new Promise<CannonResult>((resolve) => {
      child.once('message', resolve);
      const plan: CannonRun = { url: `${url}/graphql`, connections: 32, seconds: HTTP_PAIR_SECONDS, body, token };
      child.send(plan);
    });
    if (r.non2xx || r.errors) failures.push(`autocannon: ${r.non2xx} non-2xx, ${r.errors} errors`);
    const usedMs = (await serverCpuMs()) - cpuBefore;
    return { perSecond: r.perSecond, cpuUs: (usedMs * 1000) / Math.max(1, r.total) };
  };
  return { run, stop: () => child.kill() };
}

async function throughputRow(target: Instance, reference: boolean) {
  const { org, interviewer } = await seed.org({ plan: 'GROWTH' });
  const typenameBody = JSON.stringify({ query: '{ __typename }' });
  const settingsBody = JSON.stringify({
    query: (await import('graphql')).print(SCALE_SETTINGS),
    variables: { orgId: org.id },
  });
  const cannon = await cannonProcess(target.url, target.cpuMs);
  const pairs: { typename: number; settings: number; typenameCpuUs: number; settingsCpuUs: number }[] = [];
  let settingsRequests = 0;
  let sqlStatements = 0;
  // One pair first, not counted: the first seconds of a document run cold (V8's optimiser, graphql-jit compiling
  // a document on its second sight); the first measured pair read 1.0 to 1.6 times the others' CPU a request.
  await cannon.run(typenameBody, null);
  await cannon.run(settingsBody, interviewer.token);
  for (let i = 0; i < HTTP_PAIRS; i++) {
    const typename = await cannon.run(typenameBody, null);
    const sqlBefore = await target.sql();
    const settings = await cannon.run(settingsBody, interviewer.token);
    sqlStatements += sqlPerOp(sqlBefore, await target.sql(), 1).perOp;
    settingsRequests += settings.perSecond * HTTP_PAIR_SECONDS;
    pairs.push({
      typename: typename.perSecond,
      settings: settings.perSecond,
      typenameCpuUs: +typename.cpuUs.toFixed(0),
      settingsCpuUs: +settings.cpuUs.toFixed(0),
    });
  }
  cannon.stop();
  const mean = (key: keyof (typeof pairs)[number]) => pairs.reduce((n, p) => n + p[key], 0) / pairs.length;
  const typename = mean('typename');
  const settings = mean('settings');
  const [typenameCpuUs, settingsCpuUs] = [mean('typenameCpuUs'), mean('settingsCpuUs')];
  const sqlEach = +(sqlStatements / Math.max(1, settingsRequests)).toFixed(2);
  const ratio = settings / typename;
  report[reference ? 'orgAiSettings ÷ { __typename }, in process from source' : 'orgAiSettings ÷ { __typename }'] = {
    typenamePerSecond: +typename.toFixed(0),
    orgAiSettingsPerSecond: +settings.toFixed(0),
    ratio: +ratio.toFixed(2),
    serverCpuUsPerRequest: { typename: +typenameCpuUs.toFixed(0), orgAiSettings: +settingsCpuUs.toFixed(0) },
    pairs: pairs.map((p) => ({ ...p, ratio: +(p.settings / p.typename).toFixed(2) })),
    sqlPerRequest: sqlEach,
  };
  const figures = `${settings.toFixed(0)} ÷ ${typename.toFixed(0)}; server CPU ${settingsCpuUs.toFixed(0)} and ${typenameCpuUs.toFixed(0)} µs a request; ${sqlEach} SQL each`;
  rows.push(
    reference
      ? {
          order: 2.5,
          measure: `the same against the instance in the bench's process, run from source through tsx, as rounds 1–8 measured it (${figures})`,
          value: ratio.toFixed(2),
          goal: '(the row above is the measure)',
          ok: null,
        }
      : {
          order: 2,
          measure: `authenticated orgAiSettings ÷ { __typename } req/s, 32 connections, alternated ${HTTP_PAIRS} times, the built server, 1 instance process (${figures})`,
          value: ratio.toFixed(2),
          goal: '≥ 0.7',
          ok: ratio >= 0.7,
        },
  );
}
if (want('throughput')) progress('orgAiSettings ÷ { __typename } throughput');
if (want('throughput'))
  await row('orgAiSettings throughput', async () => {
    await throughputRow((await built())[0], false);
    await throughputRow(inProcess(app, urls[0]), true);
  });

// ---- forked processes: the load generators (bench/socket-client.ts, fanout-client.ts) ------------------------------
/** Forks `file` (a bench worker speaking { t: ... } messages): `next(t)` resolves on its next message of type t. */
function forkWorker(file: string, what: string) {
  const child = fork(path.join(import.meta.dirname, file), { execArgv: ['--import', 'tsx'] });
  const next = <T>(t: string) =>
    new Promise<T>((resolve, reject) => {
      const on = (m: { t: string } & T) => {
        if (m.t !== t) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before "${t}"`)));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.send({ t: 'stop' });
    });
  return { child, next, stop };
}
function forkClient() {
  return forkWorker('socket-client.ts', 'load generator');
}
const gcMemory = () => {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage();
};

// ---- idle authenticated sockets, one subscription each ------------------------------------------------------------
async function idleRow() {
  const { org } = await seed.org({ plan: 'GROWTH' });
  const tokens: string[] = [];
  for (let i = 0; i < 16; i++) tokens.push((await seed.member(org.id, 'INTERVIEWER')).token);
  const before = gcMemory();
  const gen = forkClient();
  const open = async () => {
    const ready = gen.next('ready');
    const t0 = performance.now();
    gen.child.send({
      t: 'start',
      plan: { mode: 'idle', url: urls[0], orgId: org.id, query: printed, sockets: IDLE_SOCKETS, tokens },
    });
    await ready;
    // A socket closed on the way (refused, timed out) never subscribes: stop waiting and say why.
    const refused = gen.next<{ why: string }>('refused').then(
      ({ why }) => void failures.push(`idle sockets: a socket was closed before it subscribed: ${why}`),
      () => {}, // the load generator exits at the end of the row
    );
    await Promise.race([app.services.pubsub.whenSubscribed(org.id, IDLE_SOCKETS), refused]);
    const openMs = performance.now() - t0;
    return { openMs, after: gcMemory() };
  };
  // BENCH_PROFILE: V8's sampling heap profiler says which code allocated what the open sockets keep.
  let heap: Awaited<ReturnType<typeof heapSampled>> | null = null;
  let opened: Awaited<ReturnType<typeof open>>;
  if (PROFILE_DIR) {
    heap = await heapSampled(path.join(PROFILE_DIR, 'idle-sockets.heapprofile'), open);
    opened = heap.result as Awaited<ReturnType<typeof open>>;
  } else opened = await open();
  const { openMs, after } = opened;
  const counted = gen.next<{ failed: number }>('count');
  gen.child.send({ t: 'count' });
  const { failed } = await counted;
  const live = app.services.pubsub.subscribers(org.id);
  await gen.stop();
  if (failed || live !== IDLE_SOCKETS) failures.push(`idle sockets: ${failed} refused, ${live}/${IDLE_SOCKETS} live`);
  // RSS keeps the allocator's high-water mark of the connection setup; the JS heap and the buffers outside it
  // (external, e.g. ws's and the TCP sockets') are what the sockets hold. Both after a forced GC.
  const kb = (key: 'rss' | 'heapUsed' | 'external') => (after[key] - before[key]) / IDLE_SOCKETS / 1024;
  const perSocketKb = kb('rss');
  const heapKb = kb('heapUsed') + kb('external');
  report['idle sockets'] = {
    sockets: IDLE_SOCKETS,
    live,
    refused: failed,
    rssBeforeMb: +(before.rss / 1e6).toFixed(1),
    rssAfterMb: +(after.rss / 1e6).toFixed(1),
    rssPerSocketKb: +perSocketKb.toFixed(1),
    heapUsedPerSocketKb: +kb('heapUsed').toFixed(1),
    externalPerSocketKb: +kb('external').toFixed(1),
    msToOpenAll: +openMs.toFixed(0),
    ...(heap && { heapSampledLiveKbPerSocket: +(heap.liveBytes / IDLE_SOCKETS / 1024).toFixed(1), heapTop: heap.top }),
  };
  rows.push({
    order: 4,
    measure: `idle authenticated sockets, one orgAiSettingsChanged subscription each (${live}/${IDLE_SOCKETS} live): RSS per socket (JS heap + external ${heapKb.toFixed(1)} KB)`,
    value: `${perSocketKb.toFixed(1)} KB`,
    goal: `${IDLE_SOCKETS.toLocaleString('en')} open at ≤ 40 KB each`,
    ok: perSocketKb <= 40 && live === IDLE_SOCKETS,
  });
}

// ---- concurrent completions streaming at 20 chunks/s --------------------------------------------------------------
async function streamsRow() {
  const { org } = await seed.org({ credits: 1_000_000_000 });
  const tokens: string[] = [];
  for (let i = 0; i < 16; i++) tokens.push((await seed.member(org.id, 'INTERVIEWER')).token);
  const gen = forkClient();
  const done = gen.next<{ result: StreamsResult }>('done');
  // BENCH_STREAM_DELTAS / BENCH_STREAM_SLOW_MS reshape the streams (longer, or with no pause) to weigh the per-delta
  // path apart from each completion's acceptance and settlement; the row is 20 deltas 50 ms apart.
  const deltas = Number(process.env.BENCH_STREAM_DELTAS ?? 20);
  const slowMs = Number(process.env.BENCH_STREAM_SLOW_MS ?? 50);
  gen.child.send({
    t: 'start',
    plan: {
      mode: 'streams',
      urls,
      orgId: org.id,
      query: (await import('graphql')).print(IVY),
      streams: STREAMS,
      perSocket: 10,
      deltas,
      slowMs,
      tokens,
      vendorUrl: anthropic.url,
    },
  });
  const cpu0 = process.cpuUsage();
  const sql0 = sqlSnapshot();
  const { result } = await done;
  const sql = sqlPerOp(sql0, sqlSnapshot(), STREAMS);
  // The server's CPU for the whole row (both instances share this process; the baseline's phase costs it nothing):
  // per delivered delta, a figure the machine's load moves far less than the delays.
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerDelta = +((cpu.user + cpu.system) / Math.max(1, result.addedDelayMs.length + result.whole)).toFixed(1);
  await gen.stop();
  const books = await checkLedger(app.services.db, org.id);
  const added = stats(result.addedDelayMs);
  const direct = stats(result.direct.addedDelayMs);
  // What the server adds: the Ivy streams' gaps beyond the baseline's (the same streams read straight from the
  // stand-in by the same load generator just before), percentile by percentile.
  const serverP50 = +(added.p50 - direct.p50).toFixed(2);
  const serverP99 = +(added.p99 - direct.p99).toFixed(2);
  const ok =
    result.whole === STREAMS &&
    result.direct.whole === STREAMS &&
    books.ledgerSum === books.balance &&
    books.chargedInDb === books.grants - books.balance &&
    books.chargedInDb === result.charged &&
    books.running === 0;
  if (!ok)
    failures.push(
      `streams: ${STREAMS - result.whole} not whole and in order (${result.broken.join('; ')}), ${STREAMS - result.direct.whole} direct ones not whole; books ${JSON.stringify(books)}`,
    );
  report['concurrent streams at 20 chunks/s'] = {
    streams: STREAMS,
    whole: result.whole,
    deltasEach: deltas,
    addedInterChunkDelayMs: added,
    elapsedMs: +result.elapsedMs.toFixed(0),
    latenessMs: stats(result.latenessMs),
    directSdkBaseline: {
      whole: result.direct.whole,
      addedInterChunkDelayMs: direct,
      latenessMs: stats(result.direct.latenessMs),
      elapsedMs: +result.direct.elapsedMs.toFixed(0),
    },
    serverAddedP50Ms: serverP50,
    serverAddedP99Ms: serverP99,
    serverCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    serverCpuUsPerDelta: cpuUsPerDelta,
    sqlPerStream: sql,
    broken: result.broken,
    books,
  };
  rows.push({
    order: 5,
    measure: `${STREAMS} concurrent completions at 20 chunks/s (${result.whole}/${STREAMS} whole and in order): inter-chunk delay added over the direct SDK baseline, p99 (Ivy ${added.p99}, direct ${direct.p99}; p50 ${serverP50} ms; server CPU ${cpuUsPerDelta} µs a delta)`,
    value: `${serverP99} ms`,
    goal: '≤ 50 ms, every stream whole (1,000)',
    ok: serverP99 <= 50 && result.whole === STREAMS,
  });
}

// ---- time to first text delta: ivyCompletion over one graphql-ws connection vs a direct SDK call -----------------
async function firstDeltaRow() {
  const { org, admin } = await seed.org({ credits: 100_000_000 });
  // Both series come from a load generator of their own (bench/socket-client.ts), interleaved, so both see the same
  // minutes of the machine's load and the client's reads never wait on the servers' event loop.
  const gen = forkClient();
  const done = gen.next<{ result: FirstDeltaResult }>('done');
  const plan: FirstDeltaPlan = {
    mode: 'first-delta',
    url: (await built())[0].url,
    anthropicUrl: anthropic.url,
    orgId: org.id,
    query: (await import('graphql')).print(IVY),
    token: admin.token,
    content: 'Which candidates are waiting on feedback? [[deltas:8]]',
    n: FIRST_DELTA_N,
    warmup: 10,
    relay: { url: (await floor()).url, query: RELAY_QUERY },
  };
  gen.child.send({ t: 'start', plan });
  const { result } = await done;
  await gen.stop();
  for (const e of result.errors.slice(0, 3)) failures.push(`first delta: ${e}`);
  if (result.ivyMs.some((ms) => !(ms > 0))) failures.push('first delta: an answer ended without a text delta');
  const d = result.directMs;
  const g = result.ivyMs;
  const ds = stats(d);
  const gs = stats(g);
  const p50 = +(gs.p50 - ds.p50).toFixed(2);
  const p99 = +(gs.p99 - ds.p99).toFixed(2);
  // Ivy's layer alone: over the direct SDK call on the transport Ivy gives its SDKs (src/providers/transport.ts).
  const ts = stats(result.directSameTransportMs);
  // The floor: a bare graphql-ws relay of the same SDK, asked in the same rounds.
  const rs = stats(result.relayMs);
  if (result.relayMs.some((ms) => !(ms > 0)))
    failures.push('first delta: the floor relay ended an answer without a delta');
  report['time to first text delta'] = {
    directSdkMs: ds,
    directSdkOnIvysTransportMs: ts,
    ivyCompletionWsCreditsMs: gs,
    addedP50Ms: p50,
    addedP99Ms: p99,
    addedOverSameTransportP50Ms: +(gs.p50 - ts.p50).toFixed(2),
    addedOverSameTransportP99Ms: +(gs.p99 - ts.p99).toFixed(2),
    floorRelayMs: rs,
    floorAddedP50Ms: +(rs.p50 - ds.p50).toFixed(2),
    floorAddedP99Ms: +(rs.p99 - ds.p99).toFixed(2),
  };
  rows.push({
    order: 1,
    measure: `time to first text delta added by ivyCompletion (credits, one graphql-ws connection) over a direct SDK call, p50 / p99 (${FIRST_DELTA_N} each, interleaved; over the SDK on Ivy's transport: ${(gs.p50 - ts.p50).toFixed(2)} / ${(gs.p99 - ts.p99).toFixed(2)} ms; the floor, a bare graphql-ws relay of the same SDK: ${(rs.p50 - ds.p50).toFixed(2)} / ${(rs.p99 - ds.p99).toFixed(2)} ms)`,
    value: `${p50} / ${p99} ms`,
    goal: 'p50 ≤ 2 ms, p99 ≤ 5 ms',
    ok: p50 <= 2 && p99 <= 5,
  });
}

if (want('idle')) {
  progress(`${IDLE_SOCKETS} idle sockets`);
  await idleRow();
}
if (want('streams')) {
  progress(`${STREAMS} concurrent streams at 20 chunks/s`);
  await row('concurrent streams', streamsRow);
}

progress('done');
for (const i of builtInstances ? await builtInstances : []) await i.stop();
for (const a of apps) await a.stop();
vendor.send({ t: 'stop' });
await embedded?.stop();
fs.rmSync(dataDir, { recursive: true, force: true });

rows.sort((a, b) => a.order - b.order);
report.rows = rows;
if (PROFILE_DIR) report.cpuProfiles = cpuProfiles;
report.correctnessFailures = failures;
report.loadavgAtEnd = os.loadavg().map((n) => +n.toFixed(2));
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
const w = Math.max(...rows.map((r) => r.measure.length));
console.log(
  `\nIvy at org scale (${report.scale}, ${apps.length} instance(s), load ${report.machine && os.loadavg()[0].toFixed(1)})`,
);
for (const r of rows)
  console.log(
    `${r.ok == null ? 'ref   ' : r.ok ? 'meets ' : 'MISSES'}  ${r.measure.padEnd(w)}  ${r.value.padStart(9)}   goal ${r.goal}`,
  );
console.log(`figures: ${OUT}`);
for (const f of failures) console.log(`CORRECTNESS FAILURE  ${f}`);
process.exit(failures.length ? 1 : 0);
