// graphql-ws on the same HTTP server and path as Yoga, running every operation through Yoga's envelope (same
// context, plugins, validation and error masking as HTTP and SSE).
import type http from 'node:http';
import { GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { requestIdForMessage } from './operation-plugins.ts';
import { RateLimited } from './errors.ts';

/** Per-socket limits (lib/limits): who may open a socket, and how many operations one may run at once. */
export interface SocketLimits {
  /** Admits a socket at connection_init (a slot per signed-in user); throws RateLimited when over the limit. */
  admit(connectionParams: Record<string, unknown> | undefined): Promise<(() => Promise<void>) | undefined>;
  operationsPerSocket: number;
}

/** Close code for a socket refused by a limit (the 4xxx range is the application's; 4429 mirrors HTTP 429). */
export const CLOSE_RATE_LIMITED = 4429;

/**
 * The bearer token for one operation: `connectionParams.authorization`, or else the `Authorization` header that
 * GraphiQL (graphql-tools' executor) sends in each subscribe message as `extensions.headers`, since a browser
 * cannot set headers on a WebSocket.
 */
function authorizationOf(connectionParams: Record<string, unknown> | undefined, extensions: Record<string, unknown> | undefined | null) {
  if (typeof connectionParams?.authorization === 'string') return connectionParams.authorization;
  const headers = extensions?.headers;
  if (!headers || typeof headers !== 'object') return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

export function attachGraphqlWs(httpServer: http.Server, yoga: YogaServerInstance<any, any>, limits: SocketLimits, path = '/graphql') {
  // noServer, with the upgrade routed here: a WebSocketServer bound to the HTTP server would re-emit its errors (a port
  // in use, say) as its own, which graphql-ws prints with a stack trace.
  const wsServer = new WebSocketServer({ noServer: true });
  httpServer.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== path) return void socket.destroy();
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  });
  const releaseSocket = new WeakMap<object, () => Promise<void>>();
  const disposable = useServer(
    {
      onConnect: async (ctx) => {
        try {
          const release = await limits.admit(ctx.connectionParams);
          if (!release) return true;
          // Closed while we were admitting it: onClose has run already and would never free this slot.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
            await release();
            return false;
          }
          releaseSocket.set(ctx.extra.socket, release);
          return true;
        } catch (err) {
          if (!(err instanceof RateLimited)) throw err;
          ctx.extra.socket.close(CLOSE_RATE_LIMITED, `RATE_LIMITED: ${err.message}`.slice(0, 120));
          return false;
        }
      },
      onClose: (ctx) => releaseSocket.get(ctx.extra.socket)?.(),
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already registered this operation in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > limits.operationsPerSocket) {
          const refusal = new RateLimited(`This connection already runs ${limits.operationsPerSocket} operations: stop one, then try again.`, 1);
          return [new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.extensions } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          connectionParams: { ...ctx.connectionParams, authorization: authorizationOf(ctx.connectionParams, payload.extensions) },
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          requestId: requestIdForMessage(payload.extensions),
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [new GraphQLError((err as Error).message, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const errors = validate(schema, document);
        if (errors.length) return errors;
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wsServer,
  );
  return {
    wsServer,
    /** Closes every socket with graphql-ws's going-away code (1001), then the server. */
    async dispose() {
      await disposable.dispose();
      wsServer.close();
    },
  };
}
