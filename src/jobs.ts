// Periodic sweeps the server runs in the background. Each also exists as an operator command.
import { releaseExpiredHolds } from './domain/credits.ts';
import { sweepEndedGraceWindows } from './domain/grace-window.ts';
import { keyRetestScheduler } from './domain/key-retests.ts';
import type { Services } from './domain/services.ts';

export type Sweep = (s: Services) => Promise<unknown>;

export const SWEEPS: { name: string; run: Sweep }[] = [
  {
    name: 'expired-credit-holds',
    run: async (s) => s.metrics?.sweepReleases.inc(await releaseExpiredHolds(s, s.clock.now())),
  },
  { name: 'grace-windows', run: (s) => sweepEndedGraceWindows(s) },
  { name: 'key-retests', run: (s) => keyRetestScheduler(s).runRound() },
];

/**
 * Runs every sweep now and then every SWEEP_INTERVAL_MS; `afterSweeps` is called after each complete round. The
 * returned stop() starts no further sweep and resolves once the one running (if any) has finished: a shutdown awaits
 * it before closing the database, or a sweep still running would reopen a connection to a database being stopped (an
 * embedded PostgreSQL then waited for that client for ever).
 */
export function startBackgroundJobs(
  s: Services,
  afterSweeps?: () => void,
  sweeps: readonly { name: string; run: Sweep }[] = SWEEPS,
): () => Promise<void> {
  let stopped = false;
  let round: Promise<void> | null = null;
  const runRound = async () => {
    for (const sweep of sweeps) {
      if (stopped) return;
      try {
        await sweep.run(s);
      } catch (err) {
        s.log.warn('background sweep failed', { sweep: sweep.name, error: err });
      }
    }
    afterSweeps?.();
  };
  const tick = () => {
    if (round || stopped) return;
    round = runRound().finally(() => (round = null));
  };
  const timer = setInterval(tick, s.config.sweepIntervalMs);
  timer.unref();
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await round;
  };
}
