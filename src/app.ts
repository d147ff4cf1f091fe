// buildApp(config) -> one HTTP server carrying GraphQL over HTTP/SSE (Yoga) and graphql-ws, plus /healthz.
import http from 'node:http';
import { createYoga, type Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import { builder } from './builder.ts';
import './schema/index.ts';
import type { Config } from './config.ts';
import { AUTH_FAILURE_MESSAGES, authenticate, createContext } from './context.ts';
import { ModelCatalogue } from './domain/models.ts';
import type { Services } from './domain/services.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { openDatabase, type Database } from './lib/database.ts';
import { createMaskError } from './lib/graphql-errors.ts';
import { attachGraphqlWs } from './lib/graphql-ws.ts';
import { renderLocalGraphiQL, serveGraphiqlAsset } from './lib/graphiql-assets.ts';
import { createLogger, type LogSink } from './lib/logger.ts';
import { createAppPubSub } from './lib/pubsub.ts';
import { useOperationLimits } from './lib/operation-limits.ts';
import { createOriginCheck } from './lib/origins.ts';
import { useOperationLog } from './lib/operation-log.ts';
import { answerMalformedHttp, useCodedHttpRefusals } from './lib/http-refusals.ts';
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
  const { pubsub, close: closePubSub } = createAppPubSub(config.redisUrl);
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

  const originAllowed = createOriginCheck(config.transport);
  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    renderGraphiQL: renderLocalGraphiQL,
    maskedErrors: { maskError: createMaskError(log) },
    maxRequestBodySize: config.transport.maxRequestBytes,
    // Bearer tokens travel in a header, never a cookie: CORS names the allowed origin and never allows credentials.
    cors: (request) => {
      const origin = request.headers.get('origin');
      return origin && originAllowed(origin, request.headers.get('host')) ? { origin: [origin], credentials: false, allowedHeaders: ['content-type', 'authorization'] } : false;
    },
    plugins: [useCodedHttpRefusals, useCodesOnValidationErrors, useOperationLimits(config.limits, { introspection: config.transport.introspection }), useOperationLog(log)],
    logging: {
      // Yoga's own lines may carry variables (an apiKey among them) or, printed with its source, the document:
      // never log them. Our own lines say what happened with the operation name and a hash (operation-log.ts).
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
          headers: JSON.stringify({ Authorization: 'Bearer <paste the output of: npm run --silent token -- admin@acme.test>' }, null, 2),
          // A bearer token pasted in the Headers tab must not outlive the tab in localStorage.
          shouldPersistHeaders: false,
        }
      : false,
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

  answerMalformedHttp(httpServer);
  const graphqlWs = attachGraphqlWs(httpServer, yoga, {
    transport: config.transport,
    originAllowed: (origin, host) => originAllowed(origin, host),
    tokenProblem: async (authorization) => {
      const { failure } = await authenticate(services, jwtSecret, authorization);
      return failure && AUTH_FAILURE_MESSAGES[failure];
    },
  });

  const stopJobs = opts.backgroundJobs === false ? () => {} : startBackgroundJobs(services);
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
