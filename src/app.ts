// buildApp(config) -> one HTTP server carrying GraphQL over HTTP/SSE (Yoga) and graphql-ws, plus the operator's
// endpoints (/healthz, /livez, /metrics), and a graceful shutdown for rolling deploys.
import { getOperationAST } from 'graphql';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { createYoga, type Plugin } from 'graphql-yoga';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { builder } from './builder.ts';
import './schema/index.ts';
import type { Config } from './config.ts';
import { AUTH_FAILURE_MESSAGES, authenticate, createContext } from './context.ts';
import { ModelCatalogue } from './domain/models.ts';
import { ReadCaches } from './domain/read-caches.ts';
import type { DomainEvents, Services } from './domain/services.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { openDatabase, type Database } from './lib/database.ts';
import { useCompiledExecution } from './lib/compiled-execution.ts';
import { createMaskError } from './lib/graphql-errors.ts';
import { attachGraphqlWs } from './lib/graphql-ws.ts';
import { renderLocalGraphiQL, serveGraphiqlAsset } from './lib/graphiql-assets.ts';
import { ProcessLifecycle } from './lib/lifecycle.ts';
import { Answers } from './domain/answers.ts';
import { createFleetLock } from './lib/fleet-lock.ts';
import { Limits } from './lib/limits/limits.ts';
import { createLogger, type LogSink } from './lib/logger.ts';
import { AppMetrics } from './lib/metrics.ts';
import { useSharedSubscriptionViews } from './lib/shared-views.ts';
import { orgAiSettingsViewOf } from './schema/ai-settings.ts';
import { requestIdFor, useOperationLog, useRefuseWhileDraining, useRequestIdHeader } from './lib/operation-plugins.ts';
import { readinessCheck, useMetricsToken, useReadiness } from './lib/ops-endpoints.ts';
import { createAppPubSub, verifyRedis, type AppPubSub } from './lib/pubsub.ts';
import { connectRedis, type RedisLink } from './lib/redis.ts';
import { useOperationLimits } from './lib/operation-limits.ts';
import { createOriginCheck } from './lib/origins.ts';
import { answerMalformedHttp, useCodedHttpRefusals, useRequestBodyLimit } from './lib/http-refusals.ts';
import type { PubSubObserver } from './lib/pubsub-observer.ts';
import { loadSecrets } from './lib/secrets.ts';
import { gracefulShutdown, type ShutdownTimeline } from './lib/shutdown.ts';
import { createProviders } from './providers/index.ts';
import { GRAPHIQL_EXAMPLES } from './graphiql.ts';
import { startBackgroundJobs } from './jobs.ts';

export const schema = builder.toSchema({ sortSchema: false });
export type { ShutdownTimeline };

export interface AppOptions {
  clock?: Clock;
  logSink?: LogSink;
  /** Start periodic sweeps (expired holds, ended grace windows). Default true. */
  backgroundJobs?: boolean;
  /** Hears the pubsub from inside (subscribers, publishes, deliveries): tests wait on it instead of sleeping. */
  pubsubObserver?: PubSubObserver;
  /** Called each time the background sweeps have all run once. */
  afterBackgroundSweeps?: () => void;
}

export interface App {
  services: Services;
  database: Database;
  jwtSecret: Uint8Array;
  httpServer: http.Server;
  lifecycle: ProcessLifecycle;
  /** The Redis link (REDIS_URL), or null: its state is what /healthz reports. */
  redis: RedisLink | null;
  listen(port?: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: drain at once (/healthz 503, new operations refused), let in-flight completions run for
   * graceMs, end the rest with SERVER_SHUTTING_DOWN (their holds settle), close sockets (1001), then the database.
   */
  shutdown(graceMs?: number): Promise<ShutdownTimeline>;
  /** shutdown(0): for tests and Ctrl-C. */
  stop(): Promise<void>;
}

/** How long start-up waits for Redis before serving without it (degraded). */
const REDIS_START_WAIT_MS = 2000;

/**
 * All settings changes made by one operation (say 100 aliased mutations) make one settings event per org. Only a
 * mutation changes settings: a query runs unwrapped (the batch's AsyncLocalStorage scope was 2.6 % of the CPU of an
 * orgAiSettings request, issue 10).
 */
const useOneSettingsEventPerOperation = (pubsub: AppPubSub): Plugin => ({
  onExecute: ({ args, executeFn, setExecuteFn }) => {
    if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
    setExecuteFn((a) => pubsub.batch(() => executeFn(a)));
  },
});

export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const log = createLogger(config.logLevel, opts.logSink, config.logFormat);
  const { jwtSecret, keyring } = loadSecrets(config);
  if (config.redisUrl) await verifyRedis(config.redisUrl);
  const database = await openDatabase(config, log);
  // Checked once at start (a wrong REDIS_URL is a start-up error); afterwards Redis is optional at run time: an
  // outage degrades cross-instance events and shared limits, never the process.
  const redis = config.redisUrl ? connectRedis(config.redisUrl, log) : null;
  const { pubsub, close: closePubSub } = createAppPubSub({
    redis,
    log,
    coalesce: { quietMs: config.settingsEventsQuietMs, maxDelayMs: config.settingsEventsMaxDelayMs },
    observer: opts.pubsubObserver,
  });
  if (redis)
    await Promise.race([redis.whenState('connected'), new Promise((r) => setTimeout(r, REDIS_START_WAIT_MS).unref())]);
  const lifecycle = new ProcessLifecycle();
  const metrics = new AppMetrics(config.metricsEnabled);
  const providerOptions = {
    timeoutMs: config.providerTimeoutMs,
    maxRetries: config.providerMaxRetries,
    keyCheckTimeoutMs: config.keyCheckTimeoutMs,
  };
  const events = new EventEmitter<DomainEvents>();
  // Listening before serving: a request's reads come from memory only once invalidations reach this instance.
  const caches = new ReadCaches(database.db, database.url, log);
  await caches.start();
  const services: Services = {
    config,
    db: database.db,
    clock: opts.clock ?? systemClock,
    log,
    keyring,
    models: new ModelCatalogue(config.houseModel),
    providers: createProviders({
      anthropic: { ...providerOptions, baseURL: config.anthropicBaseUrl },
      openai: { ...providerOptions, baseURL: config.openaiBaseUrl },
    }),
    pubsub,
    caches,
    lifecycle,
    metrics,
    events,
    inflight: new Set(),
    answers: new Answers(config, log, redis, events),
    limits: new Limits(config, redis, log),
    locks: createFleetLock(redis, log),
  };

  const originAllowed = createOriginCheck(config.transport);
  const yoga = createYoga<{ connectionParams?: Record<string, unknown>; requestId?: string }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    healthCheckEndpoint: '/livez', // Yoga's health check is liveness: 200 while the process answers
    renderGraphiQL: renderLocalGraphiQL,
    maskedErrors: { maskError: createMaskError(log) },
    // MAX_REQUEST_BYTES is applied by useRequestBodyLimit (below), which counts only bodies without a Content-Length.
    maxRequestBodySize: false,
    // Bearer tokens travel in a header, never a cookie: CORS names the allowed origin and never allows credentials.
    cors: (request) => {
      const origin = request.headers.get('origin');
      return origin && originAllowed(origin, request.headers.get('host'))
        ? { origin: [origin], credentials: false, allowedHeaders: ['content-type', 'authorization', 'x-request-id'] }
        : false;
    },
    plugins: [
      // Readiness answers before anything else looks at the request (a draining instance must still say 503).
      ...useReadiness(
        readinessCheck(services.db, lifecycle, () => (redis ? redis.state() : 'not configured')),
        ['/healthz', '/health'],
      ),
      useRefuseWhileDraining(lifecycle),
      useRequestIdHeader(),
      useCodedHttpRefusals,
      useRequestBodyLimit(config.transport.maxRequestBytes),
      useOperationLimits(config.limits, { introspection: config.transport.introspection }),
      useOperationLog(log, metrics),
      // Compiled once per document; the plugins below wrap it (the settings batch) or replace it (shared views).
      ...useCompiledExecution(),
      useOneSettingsEventPerOperation(pubsub),
      // One settings change reaches thousands of Settings pages: executed once per distinct view, not per page.
      useSharedSubscriptionViews({ orgAiSettingsChanged: orgAiSettingsViewOf }),
      ...(config.metricsEnabled
        ? [
            useMetricsToken(config.metricsToken),
            usePrometheus({
              registry: metrics.registry,
              endpoint: '/metrics',
              labels: { url: false } /* GET query strings would explode cardinality */,
            }),
          ]
        : []),
    ],
    logging: {
      // Yoga's own lines may carry variables (an apiKey among them) or, printed with its source, the document:
      // never log them. Our own lines say what happened with the operation name and a hash (operation-plugins.ts).
      debug: () => {},
      info: () => {},
      warn: (...a) => log.warn(typeof a[0] === 'string' ? a[0] : 'graphql-yoga warning'),
      // Refusals are logged by maskError (info) and unexpected errors there too (error).
      error: () => {},
    },
    graphiql: config.transport.graphiql
      ? {
          title: 'Ivy platform API',
          subscriptionsProtocol: 'WS',
          defaultQuery: GRAPHIQL_EXAMPLES,
          headers: JSON.stringify(
            { Authorization: 'Bearer <paste the output of: npm run --silent token -- admin@acme.test>' },
            null,
            2,
          ),
          // A bearer token pasted in the Headers tab must not outlive the tab in localStorage.
          shouldPersistHeaders: false,
        }
      : false,
    context: (init) => {
      const fromWs = init.connectionParams?.authorization;
      return createContext(services, jwtSecret, {
        authorization:
          init.request?.headers.get('authorization') ??
          (typeof fromWs === 'string' ? (/^Bearer /i.test(fromWs) ? fromWs : `Bearer ${fromWs}`) : null),
        signal: init.request?.signal,
        requestId: init.requestId ?? (init.request ? requestIdFor(init.request) : undefined),
        socket: (init as { socket?: object }).socket,
      });
    },
  });

  const httpServer = http.createServer((req, res) => {
    if (serveGraphiqlAsset(req.url ?? '', res)) return;
    if (req.url === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    void yoga(req, res);
  });

  answerMalformedHttp(httpServer);
  const graphqlWs = attachGraphqlWs(httpServer, yoga, {
    transport: config.transport,
    originAllowed: (origin, host) => originAllowed(origin, host),
    tokenProblem: async (authorization) => {
      const { failure } = await authenticate(services, jwtSecret, authorization);
      return failure && AUTH_FAILURE_MESSAGES[failure];
    },
    limits: {
      operationsPerSocket: config.concurrency.subscriptionsPerSocket,
      admit: async (params) => {
        const raw = params?.authorization;
        const authorization = typeof raw === 'string' && raw ? (/^Bearer /i.test(raw) ? raw : `Bearer ${raw}`) : null;
        const { viewer } = await authenticate(services, jwtSecret, authorization);
        return viewer ? services.limits.acquireSocket(viewer.userId) : undefined;
      },
    },
  });
  graphqlWs.wsServer.on('connection', (socket) => {
    metrics.openSockets.inc();
    socket.once('close', () => metrics.openSockets.dec());
  });

  const stopJobs =
    opts.backgroundJobs === false ? async () => {} : startBackgroundJobs(services, opts.afterBackgroundSweeps);
  let shuttingDown: Promise<ShutdownTimeline> | undefined;

  const shutdown = gracefulShutdown({
    lifecycle,
    log,
    stopJobs,
    graphqlWs,
    httpServer,
    // Every completion still streaming (or being accepted) is cut and settled for what it delivered.
    settleInflight: () => Promise.all([...services.inflight].map((run) => run.cancel())),
    closePubSub: async () => {
      await closePubSub();
      services.answers.redis?.flush(); // the last events' mirror, written before the connection closes
      await redis?.close();
    },
    // The cache listener's connection goes with the database's (it would keep an embedded PostgreSQL from stopping).
    database: {
      ...database,
      close: async () => {
        await caches.stop();
        await database.close();
      },
    },
  });

  return {
    services,
    database,
    jwtSecret,
    httpServer,
    lifecycle,
    redis,
    listen(port = config.port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve((httpServer.address() as { port: number }).port);
        });
      });
    },
    shutdown: (graceMs = config.shutdownGraceMs) => (shuttingDown ??= shutdown(graceMs)),
    async stop() {
      await (shuttingDown ??= shutdown(0));
    },
  };
}
