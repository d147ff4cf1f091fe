// The background sweeps' stop, which a shutdown awaits before it closes the database: a sweep still running then
// would fail mid-transaction, and the next one would reopen a connection that kept an embedded PostgreSQL from
// stopping (the production test's rare orphan-adoption hang, caught in a CI log: "background sweep failed", then
// no exit).
import { describe, expect, it } from 'vitest';
import type { Services } from '../../src/domain/services.ts';
import { startBackgroundJobs, type Sweep } from '../../src/jobs.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const warnings: string[] = [];
const services = {
  config: { sweepIntervalMs: 60_000 },
  log: { warn: (msg: string) => warnings.push(msg) },
} as unknown as Services; // only what startBackgroundJobs reads

describe('stopping the background sweeps', () => {
  it('waits for the sweep under way, and starts no further one', async () => {
    const started: string[] = [];
    const first = deferred();
    const firstRunning = deferred();
    const sweeps: { name: string; run: Sweep }[] = [
      {
        name: 'first',
        run: async () => {
          started.push('first');
          firstRunning.resolve();
          await first.promise;
        },
      },
      { name: 'second', run: async () => void started.push('second') },
    ];
    const stop = startBackgroundJobs(services, undefined, sweeps);
    await firstRunning.promise;
    let stopped = false;
    const stopping = stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false); // the first sweep still runs
    first.resolve();
    await stopping;
    expect(started).toEqual(['first']);
    expect(warnings).toEqual([]);
  });

  it('resolves at once when no sweep is running', async () => {
    const round = deferred();
    const stop = startBackgroundJobs(services, round.resolve, [{ name: 'quick', run: async () => {} }]);
    await round.promise; // the first round, started at once, has finished
    await stop();
  });
});
