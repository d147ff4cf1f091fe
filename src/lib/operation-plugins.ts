// Yoga/envelop plugins that see every operation on every transport (HTTP, SSE, graphql-ws): the request id, the one
// log line per operation with its metrics, and the refusal of new operations while the server drains.
import { createHash, randomUUID } from 'node:crypto';
import { GraphQLError, Kind, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { codeOf } from './graphql-errors.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import type { AppMetrics } from './metrics.ts';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ids = new WeakMap<object, string>();

/** The request id of an HTTP request: its X-Request-Id when well formed, else a fresh one (memoised per request). */
export function requestIdFor(request: Request): string {
  let id = ids.get(request);
  if (!id) {
    const sent = request.headers.get('x-request-id');
    id = sent && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
    ids.set(request, id);
  }
  return id;
}

/** The same for a graphql-ws subscribe message: an X-Request-Id in its extensions.headers, else a fresh one. */
export function requestIdForMessage(extensions: Record<string, unknown> | null | undefined): string {
  const headers = (extensions?.headers ?? {}) as Record<string, unknown>;
  const sent = Object.entries(headers).find(([k]) => k.toLowerCase() === 'x-request-id')?.[1];
  return typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
}

type WithRequestId = { requestId?: string; request?: Request };
const idOf = (ctx: WithRequestId) => ctx.requestId ?? (ctx.request ? requestIdFor(ctx.request) : undefined);

/** Echoes the request id in the X-Request-Id response header. */
export const useRequestIdHeader = (): Plugin => ({
  onResponse: ({ request, response }) => {
    response.headers.set('x-request-id', requestIdFor(request));
  },
});

const codesOf = (errors: readonly (Error | GraphQLError)[] | undefined) => (errors ?? []).map((e) => codeOf(e));

/** Adds the request id to each error's extensions, so a client can quote it to support. */
function withRequestId(result: ExecutionResult, requestId: string): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map(
    (e) =>
      new GraphQLError(e.message, {
        nodes: e.nodes,
        source: e.source,
        positions: e.positions,
        path: e.path,
        originalError: e.originalError,
        extensions: { ...e.extensions, requestId },
      }),
  );
  return { ...result, errors };
}

/**
 * One log line per operation (name, type, duration, outcome), at info for a client's mistakes and at error only when
 * the server failed (INTERNAL_SERVER_ERROR); the same facts feed ivy_operations_total and its latency histogram.
 */
const documentHash = (source: string) => createHash('sha256').update(source).digest('hex').slice(0, 16);
// A document's hash, once per parsed document: Yoga's parser cache hands every request with the same source the same
// DocumentNode, so a repeated operation does not hash its source again (a sha256 per request was 2 % of a small
// query's CPU, issue 10). Held weakly, as long as the parser cache keeps the document.
const hashes = new WeakMap<DocumentNode, string>();
const hashOf = (source: string, document?: DocumentNode) => {
  if (!document) return documentHash(source);
  let hash = hashes.get(document);
  if (hash === undefined) hashes.set(document, (hash = documentHash(source)));
  return hash;
};

export function useOperationLog(log: Logger, metrics: AppMetrics): Plugin {
  const finish = (
    ctx: WithRequestId,
    operation: string,
    type: string,
    started: number,
    codes: string[],
    document?: DocumentNode,
  ) => {
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const outcome = codes.length ? [...new Set(codes)].join(',') : 'ok';
    metrics.operations.inc({ operation, type, outcome });
    metrics.operationSeconds.observe({ operation, type }, durationMs / 1000);
    // The document is never logged (it can carry prompt text or a key typed inline): its hash tells operations apart.
    const query = (ctx as { params?: { query?: unknown } }).params?.query;
    const line = {
      requestId: idOf(ctx),
      operation,
      type,
      durationMs,
      outcome,
      ...(typeof query === 'string' ? { documentHash: hashOf(query, document) } : {}),
    };
    if (codes.includes('INTERNAL_SERVER_ERROR')) log.error('operation', line);
    else log.info('operation', line);
  };
  const track = (args: { contextValue: unknown; operationName?: string | null; document: DocumentNode }) => {
    const ctx = args.contextValue as WithRequestId;
    const op = args.document.definitions.find(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    return {
      ctx,
      document: args.document,
      operation: args.operationName ?? op?.name?.value ?? 'anonymous',
      type: String(op?.operation ?? 'query'),
      started: performance.now(),
    };
  };
  return {
    onValidate: ({ context }) => {
      const started = performance.now();
      return ({ result, setResult }) => {
        if (!result.length) return;
        // Validation errors carry a code (and the request id) too, so every refusal has one.
        const requestId = idOf(context as WithRequestId);
        const coded = result.map(
          (e) =>
            new GraphQLError(e.message, {
              nodes: e.nodes,
              source: e.source,
              positions: e.positions,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions, ...(requestId ? { requestId } : {}) },
            }),
        );
        setResult(coded);
        finish(context as WithRequestId, 'invalid', 'unknown', started, codesOf(coded));
      };
    },
    onExecute: ({ args }) => {
      const t = track(args);
      return {
        onExecuteDone: ({ result, setResult }) => {
          if (isAsyncIterable(result)) return;
          const id = idOf(t.ctx);
          if (id) setResult(withRequestId(result, id));
          finish(t.ctx, t.operation, t.type, t.started, codesOf(result.errors), t.document);
        },
      };
    },
    onSubscribe: ({ args }) => {
      const t = track(args);
      const codes: string[] = [];
      return {
        onSubscribeResult: ({ result, setResult }) => {
          const id = idOf(t.ctx);
          if (!isAsyncIterable(result)) {
            if (id) setResult(withRequestId(result, id));
            finish(t.ctx, t.operation, t.type, t.started, codesOf(result.errors), t.document);
            return;
          }
          metrics.openSubscriptions.inc();
          return {
            onNext: ({ result: next, setResult: setNext }) => {
              codes.push(...codesOf(next.errors));
              if (id) setNext(withRequestId(next, id));
            },
            onEnd: () => {
              metrics.openSubscriptions.dec();
              finish(t.ctx, t.operation, t.type, t.started, codes, t.document);
            },
          };
        },
      };
    },
  };
}

const shuttingDown = () =>
  new GraphQLError('This server is shutting down: send the request again (it will reach another instance).', {
    extensions: { code: 'SERVER_SHUTTING_DOWN' },
  });

/** While draining, every new operation is refused with SERVER_SHUTTING_DOWN, on every transport. */
export const useRefuseWhileDraining = (lifecycle: Lifecycle): Plugin => ({
  onExecute: ({ setResultAndStopExecution }) => {
    if (lifecycle.draining) setResultAndStopExecution({ errors: [shuttingDown()] });
  },
  onSubscribe: ({ setResultAndStopExecution }) => {
    if (lifecycle.draining) setResultAndStopExecution({ errors: [shuttingDown()] });
  },
});
