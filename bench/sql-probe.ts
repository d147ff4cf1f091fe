// Counts SQL round trips made through the pg driver (Prisma's adapter and raw pg alike) and samples lock waits on
// the database, for bench/scale.ts: what one operation costs in statements, and whether backends queue on a row lock.
import pg from 'pg';

export interface SqlCounts {
  total: number;
  /** Statements by their first words (BEGIN, COMMIT, INSERT INTO "completions", SELECT ivy_reserve_credits …). */
  byKind: Record<string, number>;
}

const counts: SqlCounts = { total: 0, byKind: {} };
let installed = false;
const uncounted = new WeakSet<object>();

function kindOf(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  const m =
    /^(WITH \w+ AS \( (?:UPDATE|INSERT INTO|SELECT) "?[\w.]+"?|(?:SELECT|INSERT INTO|UPDATE|DELETE FROM) [\w".]+(?: [\w".]+)?|\w+)/i.exec(
      t,
    );
  return (m?.[1] ?? t.slice(0, 40)).slice(0, 60);
}

/** Wraps pg.Client.prototype.query once; every statement sent from this process is counted from then on. */
export function installSqlCounter(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    if (uncounted.has(this)) return original.apply(this, args);
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
    if (text) {
      counts.total++;
      const k = kindOf(text);
      counts.byKind[k] = (counts.byKind[k] ?? 0) + 1;
    }
    return original.apply(this, args);
  };
}

export function sqlSnapshot(): SqlCounts {
  return { total: counts.total, byKind: { ...counts.byKind } };
}

/** Statements made between two snapshots, per operation. */
export function sqlPerOp(
  before: SqlCounts,
  after: SqlCounts,
  ops: number,
): { perOp: number; byKind: Record<string, number> } {
  const byKind: Record<string, number> = {};
  for (const [k, n] of Object.entries(after.byKind)) {
    const d = n - (before.byKind[k] ?? 0);
    if (d > 0) byKind[k] = +(d / ops).toFixed(2);
  }
  return { perOp: +((after.total - before.total) / ops).toFixed(2), byKind };
}

/**
 * Samples pg_stat_activity every `everyMs` on a connection of its own (not counted: it is made before the counter is
 * installed or excluded by its application_name) and reports how many backends were, on average and at most, waiting
 * on a lock (wait_event_type = 'Lock'), and on which lock type.
 */
export function sampleLockWaits(url: string, everyMs = 10) {
  const client = new pg.Client({ connectionString: url, application_name: 'ivy-bench-lock-sampler' });
  uncounted.add(client);
  let samples = 0;
  let waitingTotal = 0;
  let waitingMax = 0;
  const byEvent: Record<string, number> = {};
  let timer: NodeJS.Timeout | null = null;
  let busy = false;
  const started = client.connect().then(() => {
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      client
        .query<{ wait_event: string; n: string }>(
          `SELECT wait_event, count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name <> 'ivy-bench-lock-sampler'
           GROUP BY wait_event`,
        )
        .then((r) => {
          samples++;
          let n = 0;
          for (const row of r.rows) {
            n += Number(row.n);
            byEvent[row.wait_event] = (byEvent[row.wait_event] ?? 0) + Number(row.n);
          }
          waitingTotal += n;
          waitingMax = Math.max(waitingMax, n);
        })
        .catch(() => {})
        .finally(() => (busy = false));
    }, everyMs);
  });
  return {
    started,
    async stop() {
      if (timer) clearInterval(timer);
      await client.end().catch(() => {});
      const avg: Record<string, number> = {};
      for (const [k, n] of Object.entries(byEvent)) avg[k] = +(n / Math.max(1, samples)).toFixed(2);
      return {
        samples,
        avgWaiting: +(waitingTotal / Math.max(1, samples)).toFixed(2),
        maxWaiting: waitingMax,
        avgWaitingByLock: avg,
      };
    },
  };
}
