// buildApp(config) -> one HTTP server carrying GraphQL over HTTP/SSE (Yoga) and graphql-ws, plus /healthz.
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
import { createAppPubSub } from './lib/pubsub.ts';
import type { PubSubObserver } from './lib/pubsub-observer.ts';
import { loadSecrets } from './lib/secrets.ts';
import { createProviders } from './providers/index.ts';
import { GRAPHIQL_EXAMPLES } from './graphiql.ts';
import { startBackgroundJobs } from './jobs.ts';

export const schema = builder.toSchema({ sortSchema: false });

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
  listen(port?: number, host?: string): Promise<number>;
  stop(): Promise<void>;
}

/** Validation and parse errors carry a code too, so every refusal has one. */
const useCodesOnValidationErrors: Plugin = {
  onValidate: () => ({ result, setResult }) => {
    if (result.length) setResult(result.map((e) => (e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code: 'BAD_USER_INPUT' } }))));
  },
};

export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const log = createLogger(config.logLevel, opts.logSink);
  const { jwtSecret, keyring } = loadSecrets(config);
  const database = await openDatabase(config, log);
  const { pubsub, close: closePubSub } = createAppPubSub(config.redisUrl, opts.pubsubObserver);
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
  };

  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    renderGraphiQL: renderLocalGraphiQL,
    maskedErrors: { maskError: createMaskError(log) },
    plugins: [useCodesOnValidationErrors],
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
      });
    },
  });

  const httpServer = http.createServer(async (req, res) => {
    if (req.url === '/healthz') {
      const healthy = await services.db.$queryRaw`SELECT 1`.then(() => true, () => false);
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: healthy ? 'ok' : 'database unreachable' }));
      return;
    }
    if (serveGraphiqlAsset(req.url ?? '', res)) return;
    if (req.url === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    yoga(req, res);
  });

  const graphqlWs = attachGraphqlWs(httpServer, yoga);

  const stopJobs = opts.backgroundJobs === false ? () => {} : startBackgroundJobs(services, opts.afterBackgroundSweeps);
  let stopped = false;

  return {
    services,
    database,
    jwtSecret,
    httpServer,
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
      await closePubSub();
      await database.close();
    },
  };
}
