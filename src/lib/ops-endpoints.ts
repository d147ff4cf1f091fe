// The operator's HTTP endpoints beside /graphql, all answered by Yoga plugins: readiness (/healthz, and /health alike)
// through Yoga's readiness check, liveness (/livez) through Yoga's health check (app.ts), and Prometheus metrics
// (/metrics, when METRICS=1) through usePrometheus, behind a bearer METRICS_TOKEN when one is set.
import { timingSafeEqual } from 'node:crypto';
import { useReadinessCheck, type Plugin } from 'graphql-yoga';
import type { Db } from './database.ts';
import type { Lifecycle } from './lifecycle.ts';
import { readMigrations } from './migrate.ts';

interface Readiness {
  ready: boolean;
  status: 'ok' | 'degraded' | 'shutting down' | 'database unreachable' | 'migrations pending';
  database: 'ok' | 'unreachable';
  /** connected, connecting, unreachable, or not configured. */
  redis: string;
}

/**
 * Ready when not draining, the database answers, and every migration the code ships is applied. Without Redis the
 * instance still serves (events stay local, limits fall back): degraded, not down.
 */
export function readinessCheck(
  db: Db,
  lifecycle: Lifecycle,
  redisState: () => string = () => 'not configured',
): () => Promise<Readiness> {
  const expected = readMigrations().map((m) => m.name);
  return async () => {
    const redis = redisState();
    if (lifecycle.draining) return { ready: false, status: 'shutting down', database: 'ok', redis };
    try {
      const rows = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "_prisma_migrations"
        WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL AND migration_name = ANY(${expected})`;
      if (Number(rows[0].n) < expected.length)
        return { ready: false, status: 'migrations pending', database: 'ok', redis };
      return { ready: true, status: redis === 'unreachable' ? 'degraded' : 'ok', database: 'ok', redis };
    } catch {
      return { ready: false, status: 'database unreachable', database: 'unreachable', redis };
    }
  };
}

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Yoga's readiness check at each endpoint, answering 200 or 503 with the readiness as JSON (status, database, redis):
 * a plain true/false from the check would leave operators without the reason.
 */
export function useReadiness(ready: () => Promise<Readiness>, endpoints: string[]): Plugin[] {
  return endpoints.map((endpoint) =>
    useReadinessCheck({
      endpoint,
      check: async ({ fetchAPI }) => {
        const { ready: ok, ...body } = await ready();
        return new fetchAPI.Response(JSON.stringify(body), {
          status: ok ? 200 : 503,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        });
      },
    }),
  );
}

/**
 * With METRICS_TOKEN set, /metrics (served by usePrometheus, listed after this) answers only a matching bearer token.
 */
export function useMetricsToken(token: string | undefined, endpoint = '/metrics'): Plugin {
  return {
    onRequest({ url, request, fetchAPI, endResponse }) {
      if (!token || url.pathname !== endpoint) return;
      const sent = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1] ?? '';
      if (sameSecret(sent, token)) return;
      endResponse(
        new fetchAPI.Response('Send METRICS_TOKEN as a bearer token.\n', {
          status: 401,
          headers: { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' },
        }),
      );
    },
  };
}
