// The HTTP transport under both official SDKs: a `fetch` (their `fetch` option) built on undici's request(), the
// lower-level API of the same HTTP client Node's own fetch runs on.
//
// Why not Node's fetch: its WHATWG plumbing (Request/Response objects, body mixins, the redirect and CORS machinery)
// was the costliest single part of a completion's CPU. Measured with the Anthropic SDK against the loopback stand-in,
// 640 streamed answers 32 at a time, six alternating rounds: 691–1,394 µs of CPU a call with fetch against 344–686 µs
// with this transport. Through the whole stack (bench:scale, one org, 64 in flight, three alternating runs): 303–331
// completions/s at 3.10–3.39 ms of server CPU each, against 278–310/s at 3.46–3.85 ms with fetch (issue 10).
//
// What the SDKs see stays what fetch would give them, so their retries, timeouts and error classes behave the same
// (src/providers/shared.ts reads them):
// - a failure to connect rejects with undici's error, its system code (ECONNREFUSED, …) on it or its cause;
// - an abort (the caller's, or the SDK's own timeout) rejects, or errors the body, with an error named AbortError;
// - a connection cut after the response began errors the body with TypeError('terminated'), its cause the socket's
//   error, exactly as fetch reports it;
// - a body other than a string or bytes (a form, a stream: uploads, which Ivy never sends) goes to fetch itself.
// Unlike fetch, it does not ask for a compressed response (a response compressed anyway is decompressed, as fetch
// would) and follows no redirect (the vendors' APIs send none).
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';

type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

/**
 * Keep-alive connections to each upstream origin, shared by every client of this process, with undici's defaults (those
 * of Node's fetch: an idle connection is kept 4 s, or as long as the server's Keep-Alive header says).
 */
const dispatcher = new Agent();

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The request's headers as undici takes them (the SDKs hand a Headers: read as it is, not copied first). */
function plainHeaders(headers: FetchInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  (headers instanceof Headers ? headers : new Headers(headers)).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

function responseHeaders(raw: Dispatcher.ResponseData['headers']): Headers {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

const isAbort = (err: unknown) => (err as { name?: unknown } | null)?.name === 'AbortError';

/** The aborting signal's reason when it is an AbortError (the SDKs abort without one: a DOMException), else one. */
function abortError(signal: AbortSignal | null | undefined, err: unknown): Error {
  const reason: unknown = signal?.reason;
  if (isAbort(reason)) return reason as Error;
  if (isAbort(err)) return err as Error;
  return new DOMException('This operation was aborted', 'AbortError');
}

/**
 * The body as a web stream, read as the consumer asks for it: the socket is paused while a chunk waits unread, so a
 * slow reader is TCP backpressure upstream, not memory here.
 */
function webBody(body: Readable, signal: AbortSignal | null | undefined): ReadableStream {
  let settled = false; // closed, errored or cancelled: whatever the body still emits goes nowhere
  return new ReadableStream<Uint8Array>(
    {
      start(ctrl) {
        body.on('data', (chunk: Buffer) => {
          if (settled) return;
          ctrl.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((ctrl.desiredSize ?? 0) <= 0) body.pause();
        });
        body.on('end', () => {
          if (settled) return;
          settled = true;
          ctrl.close();
        });
        body.on('error', (err: Error) => {
          if (settled) return;
          settled = true;
          if (signal?.aborted || isAbort(err)) ctrl.error(abortError(signal, err));
          else ctrl.error(new TypeError('terminated', { cause: err }));
        });
      },
      pull() {
        body.resume();
      },
      cancel() {
        settled = true;
        body.destroy();
      },
    },
    { highWaterMark: 1 },
  );
}

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  'x-gzip': () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  deflate: () => zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  br: () => zlib.createBrotliDecompress(),
};

/** The body without its content encoding (one of fetch's: gzip, deflate, br), an error in either ending both. */
function decoded(res: Dispatcher.ResponseData): Readable {
  const coding = res.headers['content-encoding'];
  const decoder = typeof coding === 'string' ? DECODERS[coding.trim().toLowerCase()] : undefined;
  if (!decoder) return res.body;
  const out = decoder();
  res.body.on('error', (err) => out.destroy(err));
  out.on('close', () => res.body.destroy());
  return res.body.pipe(out);
}

/** A `fetch` for the SDKs' `fetch` option: see the top of this file for what it keeps of fetch and why. */
export const upstreamFetch = (async (input: string | URL | Request, init: FetchInit = {}): Promise<Response> => {
  const body = init.body;
  if (input instanceof Request || (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))) {
    return fetch(input, init);
  }
  const signal = init.signal;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(input, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: plainHeaders(init.headers),
      body: body ?? undefined,
      signal: signal ?? undefined,
      dispatcher,
    });
  } catch (err) {
    throw signal?.aborted || isAbort(err) ? abortError(signal, err) : err;
  }
  const headers = responseHeaders(res.headers);
  if (NULL_BODY_STATUSES.has(res.statusCode) || init.method === 'HEAD') {
    res.body.dump().catch(() => undefined); // nothing to read: the connection goes back to the pool
    return new Response(null, { status: res.statusCode, headers });
  }
  return new Response(webBody(decoded(res), signal), { status: res.statusCode, headers });
}) as typeof fetch;
