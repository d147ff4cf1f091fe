// The graceful shutdown of a rolling deploy, step by step. Each step is logged and returned as a timeline.
import type http from 'node:http';
import type { Database } from './database.ts';
import type { ProcessLifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';

/** What a shutdown did and when, in ms since it began. */
export type ShutdownTimeline = { atMs: number; step: string }[];

const after = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** How long completions cut at the end of the grace period may take to settle their bills before we move on. */
const SETTLE_AFTER_CUTOFF_MS = 5_000;

export interface ShutdownParts {
  lifecycle: ProcessLifecycle;
  log: Logger;
  /** Starts no further background sweep; resolves when the one running has finished. */
  stopJobs(): Promise<void>;
  graphqlWs: { dispose(): Promise<void> };
  httpServer: http.Server;
  settleInflight(): Promise<unknown>;
  closePubSub(): Promise<void>;
  database: Database;
}

/**
 * Drain at once (/healthz 503, new operations refused), give in-flight completions graceMs, end the rest with
 * SERVER_SHUTTING_DOWN (their holds settle), close sockets (graphql-ws: 1001), then Redis and the database.
 */
export function gracefulShutdown(p: ShutdownParts) {
  return async (graceMs: number): Promise<ShutdownTimeline> => {
    const t0 = performance.now();
    const timeline: ShutdownTimeline = [];
    const mark = (step: string) => {
      timeline.push({ atMs: Math.round(performance.now() - t0), step });
      p.log.info('shutdown', { step, inFlight: p.lifecycle.inFlight });
    };
    p.lifecycle.beginDrain();
    const jobsStopped = p.stopJobs();
    mark(`draining: /healthz answers 503, new operations refused, ${p.lifecycle.inFlight} completion(s) in flight`);
    await Promise.race([p.lifecycle.idle(), after(graceMs)]);
    if (p.lifecycle.busy) {
      mark(`grace period over: ending ${p.lifecycle.inFlight} completion(s) with SERVER_SHUTTING_DOWN`);
      p.lifecycle.cutOff();
      await Promise.race([p.lifecycle.idle(), after(SETTLE_AFTER_CUTOFF_MS)]);
    }
    // A stream counts as ended when its last event is handed to the transport; graphql-ws then sends `complete` in the
    // same turn of the event loop. Let that go out before the sockets close.
    await new Promise((r) => setImmediate(r));
    mark('completions ended and settled');
    await p.graphqlWs.dispose();
    const closed = new Promise<void>((r) => p.httpServer.close(() => r()));
    p.httpServer.closeIdleConnections();
    await Promise.race([closed, after(2_000)]);
    p.httpServer.closeAllConnections();
    await closed;
    mark('sockets closed (graphql-ws: 1001 going away)');
    // Anything the sockets' closing did not end (an acceptance under way, an SSE stream) is settled now.
    await p.settleInflight();
    // A sweep still running would fail mid-transaction and reconnect to the database closed below; a key re-test round
    // waiting on an unreachable vendor is not waited for past SETTLE_AFTER_CUTOFF_MS.
    await Promise.race([jobsStopped, after(SETTLE_AFTER_CUTOFF_MS)]);
    await p.closePubSub();
    await p.database.close();
    mark(
      p.database.embedded ? 'database connections closed; embedded PostgreSQL stopped' : 'database connections closed',
    );
    return timeline;
  };
}
