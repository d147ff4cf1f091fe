// A randomized ledger checker in the spirit of Jepsen's bank test: concurrent members run completions against one
// org on two servers (one in process, one a child process that is SIGKILLed and restarted), with random
// cancellations, provider failures, duplicate requestIds and socket drops. Afterwards every hold is settled exactly
// once, nothing is billed twice, the ledger adds up and never went negative, and every charge covers what was
// delivered. LEDGER_CHECK=full runs 10,000 completions; LEDGER_SEED replays a run.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { releaseExpiredHolds } from '../../src/domain/credits.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { creditsFor, TextTokenEstimate } from '../../src/domain/pricing.ts';
import { rawIvySocket } from '../support/billing.ts';
import { spawnServer, type ChildServer } from '../support/child-server.ts';
import { GraphQLClient } from '../../dev/client.ts';
import { IVY } from '../../dev/documents.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { TestServer } from '../support/server.ts';
import { ask, type IvyEvent } from '../support/ivy.ts';
import type { IvyCompletionInput } from '../../src/generated/graphql/graphql.ts';

const FULL = process.env.LEDGER_CHECK === 'full';
const TOTAL = FULL ? 10_000 : 240;
const MEMBERS = FULL ? 16 : 6;
const KILLS = FULL ? 4 : 1;
const SEED = Number(process.env.LEDGER_SEED ?? Date.now() % 1_000_000);
const HAIKU = { creditsPer1kInput: 1, creditsPer1kOutput: 5 };
const FAILURES = [
  '',
  '',
  '',
  '',
  '[[slow:3]]',
  '[[500]]',
  '[[overloaded]]',
  '[[drop]]',
  '[[hang]]',
  '[[401]]',
  '[[429]]',
];

let env: ServerWithVendors, server: TestServer;
let child: ChildServer | null = null;
const CHILD_APP = 'ledger-checker-child';
const childEnv = () => ({
  DATABASE_URL: server.config.databaseUrl,
  AUTH_JWT_SECRET: server.config.jwtSecret,
  KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
  INTERVY_ANTHROPIC_API_KEY: server.config.intervyAnthropicApiKey,
  PROVIDER_TIMEOUT_MS: '300',
  PROVIDER_MAX_RETRIES: '0',
  RESUME_WINDOW_MS: '0',
  // Its database sessions carry this name (pg reads PGAPPNAME), so the checker can wait for a killed child's to end.
  PGAPPNAME: CHILD_APP,
  ...env.vendorEnv,
});
beforeAll(async () => {
  // Both servers on real time: the child's expiry sweep must see the same hold deadlines the in-process one writes.
  const realTime = Object.assign(new ManualClock(), { now: () => new Date() });
  // No resume window: a client that leaves cancels its answer as soon as it is detached (the window's end, at once).
  env = await startServerWithVendors({ env: { PROVIDER_TIMEOUT_MS: '300', RESUME_WINDOW_MS: '0' }, clock: realTime });
  server = env.server;
  child = await spawnServer(childEnv());
});
afterAll(async () => {
  await child?.kill('SIGKILL');
  await env?.stop();
});

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Attempt {
  requestId: string;
  started: boolean;
  text: string;
}

/** One completion as a client might run it: maybe cancelled after `stopAfter` events, maybe by dropping the socket. */
async function attempt(
  url: string,
  token: string,
  input: IvyCompletionInput,
  stopAfter: number | null,
  drop: boolean,
  transport: 'ws' | 'sse',
): Promise<Attempt> {
  const record: Attempt = { requestId: String(input.requestId), started: false, text: '' };
  const take = (events: IvyEvent[]) => {
    for (const ev of events) {
      if (ev.__typename === 'IvyCompletionStarted') record.started = true;
      if (ev.__typename === 'IvyTextDelta') record.text += ev.text;
    }
  };
  try {
    if (transport === 'ws') {
      const socket = await rawIvySocket({ url }, token);
      socket.subscribe('1', input);
      await socket.eventsOrEnd('1', stopAfter ?? Infinity);
      if (stopAfter !== null) {
        if (drop) socket.drop();
        else socket.complete('1');
      }
      take(socket.eventsOf('1'));
      if (!drop) socket.drop();
    } else {
      const sub = new GraphQLClient(url, token).subscribeSse(IVY, { input });
      if (stopAfter !== null) {
        await Promise.race([sub.waitFor(stopAfter, 60_000).catch(() => undefined), sub.done.catch(() => undefined)]);
        sub.stop();
      } else await sub.done.catch(() => undefined);
      take(sub.results.flatMap((r) => (r.data ? [r.data.ivyCompletion] : [])));
    }
  } catch {
    // The server went away (SIGKILL) or refused the connection: what arrived before still counts.
  }
  return record;
}

it(
  `keeps the ledger exact through ${TOTAL} random completions, cancellations, failures, drops and SIGKILLs (seed ${SEED})`,
  { timeout: FULL ? 3_600_000 : 120_000 },
  async () => {
    const rand = random(SEED);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const credits = TOTAL;
    const { org } = await server.seed.org({ credits });
    const members = await Promise.all(Array.from({ length: MEMBERS }, () => server.seed.member(org.id, 'INTERVIEWER')));
    const attempts: Attempt[] = [];
    const usedIds: string[] = [];
    let next = 0;
    let done = 0;
    const killedWhileRunning = new Set<string>();
    const killAt = Array.from({ length: KILLS }, (_, k) => Math.floor(((k + 1) * TOTAL) / (KILLS + 1)));

    const killAndRestart = async () => {
      const dying = child!;
      child = null;
      await dying.kill('SIGKILL');
      // A statement the dead process had sent still runs (and its hold may commit) until its session notices the
      // closed socket and ends: wait for the sessions to end, then every hold it placed is in the table.
      const db = server.app.services.db;
      for (;;) {
        const [{ sessions }] = await db.$queryRaw<{ sessions: number }[]>`
          SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE application_name = ${CHILD_APP}`;
        if (sessions === 0) break;
      }
      // Whatever was running at this instant may have belonged to the dead process: the backstop's to release.
      const running = await server.app.services.db.completion.findMany({
        where: { orgId: org.id, status: 'RUNNING' },
        select: { id: true },
      });
      running.forEach((r) => killedWhileRunning.add(r.id));
      child = await spawnServer(childEnv());
    };

    const worker = async (token: string) => {
      while (next < TOTAL) {
        const n = next++;
        if (killAt.includes(n)) await killAndRestart();
        const requestId = usedIds.length && rand() < 0.1 ? pick(usedIds) : `r${n}`;
        usedIds.push(requestId);
        const deltas = 1 + Math.floor(rand() * 30);
        const input = {
          orgId: org.id,
          messages: ask(`q${n} ${pick(FAILURES)} [[deltas:${deltas}]]`),
          maxTokens: 16 + Math.floor(rand() * 500),
          requestId,
        };
        const stopAfter = rand() < 0.35 ? Math.floor(rand() * (deltas + 2)) : null;
        const transport = rand() < 0.5 ? 'ws' : 'sse';
        const url = child && rand() < 0.5 ? child.url : server.url;
        attempts.push(await attempt(url, token, input, stopAfter, rand() < 0.5, transport));
        done++;
      }
    };
    await Promise.all(members.map((m) => worker(m.token)));
    expect(done).toBe(TOTAL);

    // The surviving child stops gracefully (settling its streams); the in-process server drains its own.
    await child!.kill('SIGTERM');
    child = null;
    const { services } = server.app;
    await new Promise<void>((resolve) => {
      const check = () =>
        services.inflight.size === 0 ? (services.events.off('inflight-changed', check), resolve()) : undefined;
      services.events.on('inflight-changed', check);
      check();
    });

    const db = services.db;
    const leftover = await db.completion.findMany({
      where: { orgId: org.id, status: 'RUNNING' },
      select: { id: true },
    });
    // Only a process that died can leave a hold behind; the expiry sweep is the backstop for exactly those.
    for (const r of leftover) expect(killedWhileRunning.has(r.id), `hold ${r.id} leaked by a live process`).toBe(true);
    await releaseExpiredHolds(services, new Date(Date.now() + 365 * 86_400_000));

    const completions = await db.completion.findMany({ where: { orgId: org.id }, include: { ledgerEntries: true } });
    const ledger = await db.creditLedgerEntry.findMany({ where: { orgId: org.id } });
    const balance = (await db.org.findUniqueOrThrow({ where: { id: org.id } })).creditBalance;

    // Every hold settled exactly once, and only the dead process's were left to the expiry sweep.
    expect(completions.filter((c) => c.status === 'EXPIRED')).toHaveLength(leftover.length);
    for (const c of completions) {
      expect(c.status).not.toBe('RUNNING');
      const kinds = c.ledgerEntries.map((e) => e.kind);
      expect(kinds.filter((k) => k === 'HOLD')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'RELEASE')).toHaveLength(1);
    }
    // No requestId ran (or was billed) twice.
    const startedIds = attempts.filter((a) => a.started).map((a) => a.requestId);
    expect(new Set(startedIds).size).toBe(startedIds.length);
    expect(new Set(completions.map((c) => c.requestId)).size).toBe(completions.length);
    // The balance is the sum of every movement, and no movement left it negative.
    const sum = (kind: string) => ledger.filter((e) => e.kind === kind).reduce((n, e) => n + e.amount, 0);
    expect(sum('GRANT') + sum('HOLD') + sum('RELEASE') + sum('OVERAGE')).toBe(balance);
    expect(Math.min(...ledger.map((e) => e.balanceAfter))).toBeGreaterThanOrEqual(0);
    expect(credits - completions.reduce((n, c) => n + c.creditsCharged, 0)).toBe(balance);
    // Every completion settled by a live process was charged at least for the text its client received.
    const byId = new Map(completions.map((c) => [c.requestId, c]));
    for (const a of attempts.filter((x) => x.started && x.text)) {
      const c = byId.get(a.requestId)!;
      if (c.status === 'EXPIRED') continue;
      expect(c.creditsCharged, `${a.requestId} (${c.status})`).toBeGreaterThanOrEqual(
        creditsFor(HAIKU, 0, TextTokenEstimate.of(a.text)),
      );
    }
    console.log(
      `ledger checker (seed ${SEED}): ${TOTAL} attempts, ${completions.length} completions`,
      Object.entries(
        completions.reduce<Record<string, number>>((m, c) => ((m[c.status] = (m[c.status] ?? 0) + 1), m), {}),
      ),
      `${killedWhileRunning.size} running at a SIGKILL, ${leftover.length} left to the backstop; balance ${balance} of ${credits}`,
    );
  },
);
