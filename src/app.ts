// buildApp(config) -> one HTTP server carrying GraphQL over HTTP/SSE (Yoga) and graphql-ws, plus the operator's
// endpoints (/healthz, /livez, /metrics), and a graceful shutdown for rolling deploys.
import http from 'node:http';
import { createYoga } from 'graphql-yoga';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { builder } from './builder.ts';
import './schema/index.ts';
import type { Config } from './config.ts';
import { createContext } from './context.ts';
import { ModelCatalogue } from './domain/models.ts';
import type { Services } from './domain/services.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { openDatabase, type Database } from './lib/database.ts';
import { createMaskError } from './lib/graphql-errors.ts';
import { attachGraphqlWs } from './lib/graphql-ws.ts';
import { renderLocalGraphiQL, serveGraphiqlAsset } from './lib/graphiql-assets.ts';
import { ProcessLifecycle } from './lib/lifecycle.ts';
import { createLogger, type LogSink } from './lib/logger.ts';
import { AppMetrics } from './lib/metrics.ts';
import { requestIdFor, useOperationLog, useRefuseWhileDraining, useRequestIdHeader } from './lib/operation-plugins.ts';
import { createOpsEndpoints, readinessCheck } from './lib/ops-endpoints.ts';
import { createAppPubSub, verifyRedis } from './lib/pubsub.ts';
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
}

export interface App {
  services: Services;
  database: Database;
  jwtSecret: Uint8Array;
  httpServer: http.Server;
  lifecycle: ProcessLifecycle;
  listen(port?: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: drain at once (/healthz 503, new operations refused), let in-flight completions run for
   * graceMs, end the rest with SERVER_SHUTTING_DOWN (their holds settle), close sockets (1001), then the database.
   */
  shutdown(graceMs?: number): Promise<ShutdownTimeline>;
  /** shutdown(0): for tests and Ctrl-C. */
  stop(): Promise<void>;
}

export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const log = createLogger(config.logLevel, opts.logSink, config.logFormat);
  const { jwtSecret, keyring } = loadSecrets(config);
  if (config.redisUrl) await verifyRedis(config.redisUrl);
  const database = await openDatabase(config, log);
  const { pubsub, close: closePubSub } = createAppPubSub(config.redisUrl, (err) => log.warn('redis connection error', { error: err }));
  const lifecycle = new ProcessLifecycle();
  const metrics = new AppMetrics(config.metricsEnabled);
  const providerOptions = { timeoutMs: config.providerTimeoutMs, maxRetries: config.providerMaxRetries, keyCheckTimeoutMs: config.keyCheckTimeoutMs };
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
    lifecycle,
    metrics,
  };

  const yoga = createYoga<{ connectionParams?: Record<string, unknown>; requestId?: string }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    healthCheckEndpoint: '/health', // answered by ops-endpoints before Yoga sees it: the same readiness as /healthz
    renderGraphiQL: renderLocalGraphiQL,
    maskedErrors: { maskError: createMaskError(log) },
    plugins: [
      useRefuseWhileDraining(lifecycle),
      useRequestIdHeader(),
      useOperationLog(log, metrics),
      ...(config.metricsEnabled ? [usePrometheus({ registry: metrics.registry, endpoint: false, labels: { url: false } /* GET query strings would explode cardinality */ })] : []),
    ],
    logging: {
      // Yoga's debug lines include raw operation variables (an apiKey among them): never log them.
      debug: () => {},
      info: (...a) => log.info(String(a[0])),
      warn: (...a) => log.warn(String(a[0])),
      // Refusals are expected traffic; unexpected errors are logged by maskError.
      error: (...a) => log.debug(String(a[0])),
    },
    graphiql: {
      title: 'Ivy platform API',
      subscriptionsProtocol: 'WS',
      defaultQuery: GRAPHIQL_EXAMPLES,
      headers: JSON.stringify({ Authorization: 'Bearer <paste the output of: npm run --silent token -- admin@acme.test>' }, null, 2),
      shouldPersistHeaders: true,
    },
    context: (init) => {
      const fromWs = init.connectionParams?.authorization;
      return createContext(services, jwtSecret, {
        authorization: init.request?.headers.get('authorization') ?? (typeof fromWs === 'string' ? (/^Bearer /i.test(fromWs) ? fromWs : `Bearer ${fromWs}`) : null),
        signal: init.request?.signal,
        requestId: init.requestId ?? (init.request ? requestIdFor(init.request) : undefined),
      });
    },
  });

  const opsEndpoints = createOpsEndpoints(config, readinessCheck(services.db, lifecycle), metrics);
  const httpServer = http.createServer(async (req, res) => {
    if (await opsEndpoints(req, res)) return;
    if (serveGraphiqlAsset(req.url ?? '', res)) return;
    if (req.url === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    yoga(req, res);
  });

  const graphqlWs = attachGraphqlWs(httpServer, yoga);
  graphqlWs.wsServer.on('connection', (socket) => {
    metrics.openSockets.inc();
    socket.once('close', () => metrics.openSockets.dec());
  });

  const stopJobs = opts.backgroundJobs === false ? () => {} : startBackgroundJobs(services);
  let shuttingDown: Promise<ShutdownTimeline> | undefined;

  const shutdown = gracefulShutdown({ lifecycle, log, stopJobs, graphqlWs, httpServer, closePubSub, database });

  return {
    services,
    database,
    jwtSecret,
    httpServer,
    lifecycle,
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
