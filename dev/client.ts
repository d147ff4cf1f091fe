// A small GraphQL client for the tests and the bench: queries over real HTTP, subscriptions over graphql-ws and over SSE.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * A document: codegen's typed one (`graphql()` from src/generated/graphql), whose result and variables types follow,
 * or a plain string for the tests that send deliberately invalid or generated documents (the raw* methods, whose
 * results are `unknown` for the caller to narrow).
 */
export type Document<R, V> = TypedDocumentNode<R, V> | string;
type Variables = Record<string, unknown>;

const source = <R, V>(doc: Document<R, V>): string => (typeof doc === 'string' ? doc : print(doc));

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [k: string]: unknown };
}
export interface GqlResult<T = unknown> {
  data?: T | null;
  errors?: GqlError[];
}

export class GraphQLClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | null,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...extra,
    };
  }

  private async post<R>(query: string, variables?: unknown): Promise<GqlResult<R>> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GqlResult<R>;
  }

  request<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): Promise<GqlResult<R>> {
    return this.post<R>(print(doc), variables);
  }

  /** A document that is no typed one: invalid or over a limit on purpose, or generated. */
  rawRequest(query: string, variables?: Variables): Promise<GqlResult<unknown>> {
    return this.post<unknown>(query, variables);
  }

  /** The data, or throws with the errors (for steps that must succeed). */
  async data<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
    const r = await this.request(doc, variables);
    if (r.errors?.length || !r.data) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
    return r.data;
  }

  /** The error code of the first error (for steps that must be refused); only the code is read, so raw strings too. */
  async errorCode<R, V>(doc: Document<R, V>, variables?: V): Promise<string | undefined> {
    const r = await this.post<R>(source(doc), variables);
    return r.errors?.[0]?.extensions?.code;
  }

  /**
   * A graphql-ws client. Lazy by default: it connects on its first subscription and closes the socket as soon as it
   * has none. `keepOpen`: it stays connected from now until dispose(), like a browser tab's (the bench's "one open
   * connection": a lazy one between subscriptions reconnected, and re-authenticated, for every completion).
   */
  ws(opts: { keepOpen?: boolean } = {}): Client {
    return createClient({
      url: `${this.baseUrl.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: this.token ? { authorization: `Bearer ${this.token}` } : {},
      retryAttempts: 0,
      lazy: !opts.keepOpen,
    });
  }

  /** Subscribes over graphql-ws and collects results; `stop()` unsubscribes. */
  subscribeWs<R, V>(doc: TypedDocumentNode<R, V>, variables?: V, shared?: Client): Subscription<R> {
    return this.wsSubscription<R>(print(doc), variables, shared);
  }

  /** subscribeWs for a document that is no typed one (invalid on purpose). */
  rawSubscribeWs(query: string, variables?: Variables, shared?: Client): Subscription<unknown> {
    return this.wsSubscription<unknown>(query, variables, shared);
  }

  private wsSubscription<R>(query: string, variables: unknown, shared?: Client): Subscription<R> {
    const client = shared ?? this.ws();
    // A shared connection outlives this subscription: stop() then only unsubscribes.
    return collect<R>(
      (sink) => client.subscribe<R>({ query, variables: variables as Variables | undefined }, sink),
      () => (shared ? undefined : client.dispose()),
    );
  }

  /** Subscribes over Yoga's server-sent events (POST, Accept: text/event-stream); `stop()` aborts the request. */
  subscribeSse<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): Subscription<R> {
    const abort = new AbortController();
    const query = print(doc);
    return collect<R>(
      (sink) => {
        (async () => {
          const res = await fetch(`${this.baseUrl}/graphql`, {
            method: 'POST',
            headers: this.headers({ accept: 'text/event-stream' }),
            body: JSON.stringify({ query, variables }),
            signal: abort.signal,
          });
          const decoder = new TextDecoder();
          let buffer = '';
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let sep: number;
            while ((sep = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, sep);
              buffer = buffer.slice(sep + 2);
              const event = /^event: (.*)$/m.exec(frame)?.[1];
              const data = frame
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              if (event === 'complete') return sink.complete();
              if (data) sink.next(JSON.parse(data));
            }
          }
          sink.complete();
        })().catch((err) => (abort.signal.aborted ? sink.complete() : sink.error(err)));
        return () => abort.abort();
      },
      () => abort.abort(),
    );
  }
}

interface Sink<T> {
  next(value: GqlResult<T>): void;
  error(err: unknown): void;
  complete(): void;
}

export interface Subscription<T> {
  results: GqlResult<T>[];
  /** Resolves when at least n results have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<GqlResult<T>[]>;
  /** Resolves when the server completes the stream (or it errors). */
  done: Promise<GqlResult<T>[]>;
  stop(): void;
}

function collect<T>(start: (sink: Sink<T>) => () => void, dispose: () => void): Subscription<T> {
  const results: GqlResult<T>[] = [];
  const waiters: (() => void)[] = [];
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<GqlResult<T>[]>((res, rej) => {
    finish = () => res(results);
    fail = rej;
  });
  done.catch(() => {});
  const unsubscribe = start({
    next: (v) => {
      results.push(v);
      waiters.splice(0).forEach((w) => w());
    },
    error: (e) => fail(e instanceof Error ? e : new Error(JSON.stringify(e))),
    complete: () => finish(),
  });
  return {
    results,
    done,
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${n} results; got ${JSON.stringify(results)}`)),
          timeoutMs,
        );
        const check = () => {
          if (results.length >= n) {
            clearTimeout(timer);
            resolve(results);
          } else waiters.push(check);
        };
        check();
      });
    },
    stop() {
      unsubscribe();
      dispose();
    },
  };
}
