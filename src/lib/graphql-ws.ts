// graphql-ws on the same HTTP server and path as Yoga, running every operation through Yoga's envelope (same
// context, plugins, operation limits, validation and error masking as HTTP and SSE), with transport limits of its
// own: an Origin check at the upgrade, a frame size cap, keep-alive pings, an idle timeout, and a bearer token
// checked at connection_init and again while the socket stays open (revocation).
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { CloseCode, type OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { setImmediate } from 'node:timers/promises';
import pLimit from 'p-limit';
import { WebSocket, WebSocketServer } from 'ws';
import type { TransportConfig } from '../config.ts';
import { RateLimited, type ErrorCode } from './errors.ts';
import { ourCode } from './graphql-errors.ts';
import { requestIdForMessage } from './operation-plugins.ts';

/**
 * A server socket whose frames sent in one go leave in one write: the first send corks the TCP socket and the end of
 * the current callback (process.nextTick, after its microtasks) uncorks it, so the events one upstream read produced
 * (a backlog of deltas, the last delta and the end) cost one writev syscall, not one each. The frames, their order and
 * their contents are unchanged, and nothing waits for a later callback: uncorking at the loop's check phase
 * (setImmediate) batched more across streams but held frames for a whole poll phase, which under load is long.
 * (ws corks each frame's header and payload together, and end() uncorks, so a close is never held back.)
 */
export class BatchingWebSocket extends WebSocket {
  private corked = false;

  override send(data: Parameters<WebSocket['send']>[0], cb?: (err?: Error) => void): void;
  override send(
    data: Parameters<WebSocket['send']>[0],
    options: Parameters<WebSocket['send']>[1],
    cb?: (err?: Error) => void,
  ): void;
  override send(...args: unknown[]): void {
    const socket = (this as unknown as { _socket: Duplex | null })._socket;
    if (socket && !this.corked && this.readyState === WebSocket.OPEN) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    (WebSocket.prototype.send as (...a: unknown[]) => void).apply(this, args);
  }
}

/** Per-socket limits (lib/limits): who may open a socket, and how many operations one may run at once. */
export interface SocketLimits {
  /** Admits a socket at connection_init (a slot per signed-in user); throws RateLimited when over the limit. */
  admit(connectionParams: Record<string, unknown> | undefined): Promise<(() => Promise<void>) | undefined>;
  operationsPerSocket: number;
}

/**
 * graphql-ws calls return() on a subscription both for the client's `complete` message and when the socket closes;
 * only in the first case is the socket still open.
 */
export const socketStillOpen = (socket: object) => (socket as WebSocket).readyState === 1; // WebSocket.OPEN

/**
 * Subscribe messages whose checks (the token, the context's reads) run at once per instance; the rest queue in
 * arrival order. 10,000 Settings pages subscribing together (the bench, or every page reconnecting after a deploy)
 * ran 10,000 token verifications whose completions came back from the thread pool in batches, each batch's Prisma
 * queries compiled in one go: the event loop stood still for 3–20 s, graphql-ws's 3 s connection-init timer closed
 * sockets whose connection_init sat unread (4408) and keep-alive dropped others (1006) (issue 10). While others
 * queue, each turn begins on a new turn of the event loop, so sockets are read between turns whatever the checks cost.
 */
const PREPARED_AT_ONCE = 32;

/** Close code for a socket refused by a limit (the 4xxx range is the application's; 4429 mirrors HTTP 429). */
export const CLOSE_RATE_LIMITED = 4429;

/**
 * The bearer token for one operation: `connectionParams.authorization`, or else the `Authorization` header that
 * GraphiQL (graphql-tools' executor) sends in each subscribe message as `extensions.headers`, since a browser
 * cannot set headers on a WebSocket.
 */
function authorizationOf(
  connectionParams: Record<string, unknown> | undefined,
  extensions: Record<string, unknown> | undefined | null,
) {
  if (typeof connectionParams?.authorization === 'string') return connectionParams.authorization;
  const headers = extensions?.headers;
  if (!headers || typeof headers !== 'object') return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

const asBearer = (raw: unknown) =>
  typeof raw === 'string' && raw ? (/^Bearer /i.test(raw) ? raw : `Bearer ${raw}`) : undefined;

/** An error as a socket client sees it: a code of enum ErrorCode and our message, none of Yoga's HTTP hints. */
function forSocket(err: unknown, fallback: ErrorCode = 'BAD_USER_INPUT'): GraphQLError {
  const e = err instanceof GraphQLError ? err : new GraphQLError((err as Error).message);
  const { http: _http, originalError: _o, ...extensions } = e.extensions ?? {};
  return new GraphQLError(e.message, {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    extensions: { ...extensions, code: ourCode(e.extensions, fallback) },
  });
}

export interface GraphqlWsOptions {
  transport: TransportConfig;
  originAllowed(origin: string | undefined, host: string | undefined): boolean;
  /** Null when the token is fine (or absent); otherwise the reason it signs no one in. */
  tokenProblem(authorization: string | undefined): Promise<string | null>;
  limits: SocketLimits;
  path?: string;
}

/** onSubscribe hands each operation Yoga's enveloped execute and subscribe as its rootValue (Yoga's graphql-ws recipe). */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}

/** What the socket hands Yoga's context: the connection params (the bearer token) and the request id. */
type GraphqlWsServerContext = { connectionParams?: Record<string, unknown>; requestId?: string };

interface SocketState {
  authorization?: string;
  running: number;
  idleTimer?: NodeJS.Timeout;
  recheckTimer?: NodeJS.Timeout;
}

export function attachGraphqlWs(
  httpServer: http.Server,
  yoga: YogaServerInstance<GraphqlWsServerContext, object>,
  opts: GraphqlWsOptions,
) {
  const { transport, path = '/graphql' } = opts;
  const wsServer = new WebSocketServer({
    noServer: true,
    maxPayload: transport.maxRequestBytes,
    WebSocket: BatchingWebSocket,
  });
  const sockets = new Map<WebSocket, SocketState>();
  const releaseSocket = new WeakMap<object, () => Promise<void>>();
  const preparing = pLimit(PREPARED_AT_ONCE);

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== path) return socket.destroy();
    if (!opts.originAllowed(req.headers.origin, req.headers.host)) {
      const body = JSON.stringify({
        errors: [
          { message: 'This origin may not open a WebSocket to this API.', extensions: { code: 'ORIGIN_NOT_ALLOWED' } },
        ],
      });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  };
  httpServer.on('upgrade', onUpgrade);

  const idle = (ws: WebSocket, state: SocketState) => {
    clearTimeout(state.idleTimer);
    if (state.running > 0) return;
    state.idleTimer = setTimeout(
      () => ws.close(1000, `Idle for ${transport.wsIdleTimeoutMs} ms with no operation`),
      transport.wsIdleTimeoutMs,
    );
    state.idleTimer.unref();
  };
  const forget = (ws: WebSocket) => {
    const state = sockets.get(ws);
    clearTimeout(state?.idleTimer);
    clearInterval(state?.recheckTimer);
    sockets.delete(ws);
  };

  const disposable = useServer(
    {
      connectionInitWaitTimeout: transport.wsConnectionInitTimeoutMs,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onConnect: async (ctx) => {
        // A forged, expired or revoked token closes the socket with 4403; no token at all may use public fields.
        const authorization = asBearer(ctx.connectionParams?.authorization);
        if (authorization && (await opts.tokenProblem(authorization))) return false;
        const ws = ctx.extra.socket;
        try {
          const release = await opts.limits.admit(ctx.connectionParams);
          // Closed while we were admitting it: onClose has run already and would never free this slot.
          if (release && ws.readyState !== ws.OPEN) {
            await release();
            return false;
          }
          if (release) releaseSocket.set(ws, release);
        } catch (err) {
          if (!(err instanceof RateLimited)) throw err;
          ws.close(CLOSE_RATE_LIMITED, `RATE_LIMITED: ${err.message}`.slice(0, 120));
          return false;
        }
        const state: SocketState = { authorization, running: 0 };
        sockets.set(ws, state);
        ws.once('close', () => forget(ws));
        if (authorization) {
          state.recheckTimer = setInterval(async () => {
            if (await opts.tokenProblem(authorization).catch(() => null))
              ws.close(CloseCode.Forbidden, 'Forbidden: the token is no longer valid');
          }, transport.wsTokenRecheckMs);
          state.recheckTimer.unref();
        }
        idle(ws, state);
        return true;
      },
      onClose: (ctx) => releaseSocket.get(ctx.extra.socket)?.(),
      onSubscribe: async (ctx, _id, payload) => {
        const ws = ctx.extra.socket;
        const state = sockets.get(ws);
        // Busy from the moment an operation arrives (its checks may await the database), not only once it runs.
        if (state) {
          state.running++;
          idle(ws, state);
        }
        const refuse = (errors: readonly GraphQLError[]) => {
          if (state) {
            state.running--;
            idle(ws, state);
          }
          return errors;
        };
        // graphql-ws has already registered this operation in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > opts.limits.operationsPerSocket) {
          const refusal = new RateLimited(
            `This connection already runs ${opts.limits.operationsPerSocket} operations: stop one, then try again.`,
            1,
          );
          return refuse([
            new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.extensions } }),
          ]);
        }
        // The checks and the context wait their turn (see PREPARED_AT_ONCE).
        return preparing(async () => {
          // In a burst each turn starts from the event loop: with the checks answered from memory (no I/O), one
          // turn would otherwise run the whole queue in a single run of microtasks. A lone subscribe does not wait.
          if (preparing.pendingCount > 0) await setImmediate();
          // Gone while it waited (the client left): nothing to check or run.
          if (ws.readyState !== ws.OPEN) return refuse([new GraphQLError('The connection closed.')]);
          if (state?.authorization && (await opts.tokenProblem(state.authorization))) {
            ws.close(CloseCode.Forbidden, 'Forbidden: the token is no longer valid');
            return refuse([
              new GraphQLError('Your token is no longer valid: get a new one and sign in again.', {
                extensions: { code: 'UNAUTHENTICATED' },
              }),
            ]);
          }
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            connectionParams: {
              ...ctx.connectionParams,
              authorization: authorizationOf(ctx.connectionParams, payload.extensions),
            },
            req: ctx.extra.request,
            socket: ws,
            params: payload,
            requestId: requestIdForMessage(payload.extensions),
          });
          let document;
          try {
            // The enveloped parse applies the document size limit before lexing, and the token limit while parsing.
            document = parse(payload.query);
          } catch (err) {
            return refuse([forSocket(err, 'GRAPHQL_PARSE_FAILED')]);
          }
          const errors = validate(schema, document);
          if (errors.length) return refuse(errors.map((e: GraphQLError) => forSocket(e, 'GRAPHQL_VALIDATION_FAILED')));
          return {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
        });
      },
      onComplete: (ctx) => {
        const state = sockets.get(ctx.extra.socket);
        if (!state) return;
        state.running = Math.max(0, state.running - 1);
        idle(ctx.extra.socket, state);
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => forSocket(e).toJSON()),
    },
    wsServer,
    transport.wsKeepAliveMs,
  );
  return {
    wsServer,
    /** Closes every socket with graphql-ws's going-away code (1001), then the server. */
    async dispose() {
      httpServer.off('upgrade', onUpgrade);
      for (const ws of [...sockets.keys()]) forget(ws);
      await disposable.dispose();
      wsServer.close();
    },
  };
}
