// buildApp(config) -> one HTTP server carrying GraphQL over HTTP/SSE (Yoga) and graphql-ws, plus /healthz.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { createYoga, type Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
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
import { createLogger, type LogSink } from './lib/logger.ts';
import { Limits } from './lib/limits/limits.ts';
import { createAppPubSub, type AppPubSub } from './lib/pubsub.ts';
import { connectRedis, type RedisLink } from './lib/redis.ts';
import { loadSecrets } from './lib/secrets.ts';
import { bearerToken, verifyUserToken } from './lib/tokens.ts';
import { createProviders } from './providers/index.ts';
import { GRAPHIQL_EXAMPLES } from './graphiql.ts';
import { startBackgroundJobs } from './jobs.ts';

export const schema = builder.toSchema({ sortSchema: false });

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
  /** The Redis link (REDIS_URL), or null: its state is what /healthz reports. */
  redis: RedisLink | null;
  listen(port?: number, host?: string): Promise<number>;
  stop(): Promise<void>;
}

/** Validation and parse errors carry a code too, so every refusal has one. */
const useCodesOnValidationErrors: Plugin = {
  onValidate: () => ({ result, setResult }) => {
    if (result.length) setResult(result.map((e) => (e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code: 'BAD_USER_INPUT' } }))));
  },
};

/** How long start-up waits for Redis before serving without it (degraded). */
const REDIS_START_WAIT_MS = 2000;

/** All settings changes made by one operation (say 100 aliased mutations) make one settings event per org. */
const useOneSettingsEventPerOperation = (pubsub: AppPubSub): Plugin => ({
  onExecute: ({ executeFn, setExecuteFn }) => {
    setExecuteFn((args) => pubsub.batch(() => executeFn(args)));
  },
});

/** The user a graphql-ws connection_init signs in as (same token rules as createContext), or null. */
async function userIdFromSocketParams(jwtSecret: Uint8Array, params: Record<string, unknown> | undefined): Promise<string | null> {
  const raw = params?.authorization;
  const token = typeof raw === 'string' ? bearerToken(/^Bearer /i.test(raw) ? raw : `Bearer ${raw}`) : null;
  return token ? verifyUserToken(jwtSecret, token) : null;
}

export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const log = createLogger(config.logLevel, opts.logSink);
  const { jwtSecret, keyring } = loadSecrets(config);
  const database = await openDatabase(config, log);
  // Optional at run time: an unreachable Redis degrades cross-instance events and shared limits, never the process.
  const redis = config.redisUrl ? connectRedis(config.redisUrl, log) : null;
  const { pubsub, close: closePubSub } = createAppPubSub({
    redis,
    log,
    coalesce: { quietMs: config.settingsEventsQuietMs, maxDelayMs: config.settingsEventsMaxDelayMs },
  });
  // A normal start reports healthy at once; an unreachable Redis delays the start a little, never blocks it.
  if (redis) await Promise.race([redis.whenState('connected'), new Promise((r) => setTimeout(r, REDIS_START_WAIT_MS).unref())]);
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
    events: new EventEmitter(),
    inflight: new Set(),
    limits: new Limits(config, redis, log),
  };

  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    renderGraphiQL: renderLocalGraphiQL,
    maskedErrors: { maskError: createMaskError(log) },
    plugins: [useCodesOnValidationErrors, useOneSettingsEventPerOperation(pubsub)],
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
        socket: (init as { socket?: object }).socket,
      });
    },
  });

  const httpServer = http.createServer(async (req, res) => {
    if (req.url === '/healthz') {
      const healthy = await services.db.$queryRaw`SELECT 1`.then(() => true, () => false);
      // Without Redis the instance still serves (events stay local, limits fall back): degraded, not down.
      const redisState = redis ? redis.state() : 'not configured';
      const status = !healthy ? 'database unreachable' : redisState === 'unreachable' ? 'degraded' : 'ok';
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status, database: healthy ? 'ok' : 'unreachable', redis: redisState }));
      return;
    }
    if (serveGraphiqlAsset(req.url ?? '', res)) return;
    if (req.url === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    yoga(req, res);
  });

  const graphqlWs = attachGraphqlWs(httpServer, yoga, {
    operationsPerSocket: config.concurrency.subscriptionsPerSocket,
    admit: async (params) => {
      const userId = await userIdFromSocketParams(jwtSecret, params);
      return userId ? services.limits.acquireSocket(userId) : undefined;
    },
  });

  const stopJobs = opts.backgroundJobs === false ? () => {} : startBackgroundJobs(services);
  let stopped = false;

  return {
    services,
    database,
    jwtSecret,
    httpServer,
    redis,
    listen(port = config.port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as { port: number }).port));
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopJobs();
      await graphqlWs.dispose();
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
      // Every completion still streaming is cut and settled for what it delivered before the database goes.
      await Promise.all([...services.inflight].map((run) => run.cancel()));
      await closePubSub();
      await redis?.close();
      await database.close();
    },
  };
}
