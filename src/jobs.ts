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

/** Runs every sweep now and then every SWEEP_INTERVAL_MS; `afterSweeps` is called after each complete round. */
export function startBackgroundJobs(s: Services, afterSweeps?: () => void): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    for (const sweep of SWEEPS) {
      try {
        await sweep.run(s);
      } catch (err) {
        s.log.warn('background sweep failed', { sweep: sweep.name, error: err });
      }
    }
    running = false;
    afterSweeps?.();
  };
  const timer = setInterval(tick, s.config.sweepIntervalMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
