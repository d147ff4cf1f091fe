// Group commit for the credit ledger (issue 10). Every hold and every settlement of an org updates the org's row, so
// on PostgreSQL they run one after another, each holding the row until its commit is flushed: one org could not
// place more holds a second than the disk flushes commits. Here the holds (and the settlements) that arrive while the
// previous batch is in flight wait for it, then go together as one statement: one round trip, one transaction, one
// flush for all of them. Nothing waits when nothing is in flight, so a quiet server adds no latency; under load a
// batch takes what arrived during one flush. The SQL functions (migration 20261127140000) keep every item's checks
// and refusals its own.
import type { Db } from '../lib/database.ts';

interface Pending<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** Runs items submitted under one key in batches, at most one batch per key in flight. */
export class GroupCommit<I, R> {
  private readonly queues = new Map<string, Pending<I, R>[]>();

  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) return void queue.push({ item, resolve, reject });
      const fresh: Pending<I, R>[] = [{ item, resolve, reject }];
      this.queues.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  private async drain(key: string, queue: Pending<I, R>[]): Promise<void> {
    while (queue.length) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        const results = await this.run(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]));
      } catch (err) {
        batch.forEach((p) => p.reject(err));
      }
    }
    this.queues.delete(key);
  }
}

const perDb = new WeakMap<Db, Map<string, GroupCommit<unknown, unknown>>>();

/** One GroupCommit per database client and purpose (each instance batches its own requests). */
export function groupCommitFor<I, R>(db: Db, purpose: string, make: () => GroupCommit<I, R>): GroupCommit<I, R> {
  let byPurpose = perDb.get(db);
  if (!byPurpose) perDb.set(db, (byPurpose = new Map()));
  let gc = byPurpose.get(purpose) as GroupCommit<I, R> | undefined;
  if (!gc) byPurpose.set(purpose, (gc = make()) as GroupCommit<unknown, unknown>);
  return gc;
}
