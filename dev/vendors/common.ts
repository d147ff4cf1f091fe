// Shared plumbing for the loopback stand-ins of the vendors' HTTP APIs (no test-runner imports: the demo and the bench use them too).
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export type AuthScheme = 'x-api-key' | 'bearer' | 'none';

export interface RecordedRequest {
  method: string;
  path: string;
  model: string | null;
  maxTokens: number | null;
  stream: boolean;
  authScheme: AuthScheme;
  // Never the key itself: enough to tell keys apart in assertions.
  authKeyLast4: string | null;
  authKeyHash: string | null;
  startedAt: number;
  body: unknown;
}

export interface AbortRecord {
  path: string;
  at: number;
}

export interface FakeVendorServer {
  url: string;
  requests: RecordedRequest[];
  aborts: AbortRecord[];
  // Emits 'request' (RecordedRequest) and 'abort' (AbortRecord).
  events: EventEmitter;
  // Resolves with the next abort that happens after the call.
  onAbort(timeoutMs?: number): Promise<AbortRecord>;
  // Resolves once at least `count` aborts have been recorded in total (race-free when the abort already happened).
  waitForAborts(count?: number, timeoutMs?: number): Promise<AbortRecord>;
  /** Revokes a key at the provider: from now on every request with it gets the vendor's 401. */
  revoke(key: string): void;
  /** While true, every request gets a 503 (the provider is down): key checks report it unreachable. */
  outage: boolean;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  // Value of the retry-after header sent with 429s (seconds).
  retryAfter?: string;
  // OpenAI only: behave like a proxy that drops stream_options, so no usage chunk is sent.
  ignoreIncludeUsage?: boolean;
}

export interface Directives {
  slowMs: number;
  hang: boolean;
  /** Answer nothing at all (not even headers) until the client goes away. */
  silent: boolean;
  /** Stop after this many deltas and send nothing more until the client goes away. */
  hangAfter: number | null;
  drop: boolean;
  overloaded: boolean;
  fail500: boolean;
  deltas: number | null;
  usage: { input: number; output: number } | null;
  /** Input tokens the reply reports as read from the prompt cache (part of the input). */
  cached: number;
  /** How the reply ends when it ends normally: `[[max-tokens]]`, `[[stop-sequence]]`, `[[refusal]]`, else naturally. */
  stop: StopKind | null;
}

export type StopKind = 'max-tokens' | 'stop-sequence' | 'refusal';

export function parseDirectives(text: string): Directives {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const usage = /\[\[usage:(\d+):(\d+)\]\]/.exec(text);
  return {
    slowMs: num(/\[\[slow:(\d+)\]\]/) ?? 0,
    hang: text.includes('[[hang]]'),
    silent: text.includes('[[silent]]'),
    hangAfter: num(/\[\[hang-after:(\d+)\]\]/),
    drop: text.includes('[[drop]]'),
    overloaded: text.includes('[[overloaded]]'),
    fail500: text.includes('[[500]]'),
    deltas: num(/\[\[deltas:(\d+)\]\]/),
    usage: usage ? { input: Number(usage[1]), output: Number(usage[2]) } : null,
    cached: num(/\[\[cached:(\d+)\]\]/) ?? 0,
    stop: (/\[\[(max-tokens|stop-sequence|refusal)\]\]/.exec(text)?.[1] as StopKind | undefined) ?? null,
  };
}

const stripDirectives = (text: string) =>
  text
    .replace(/\[\[[^\]]*\]\]/g, '')
    .replace(/\s+/g, ' ')
    .trim();

export interface Reply {
  deltas: string[];
  /** Every input token, cached ones included. */
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  truncated: boolean;
  /** Why the reply ended: truncated at maxTokens, or what the directives asked for, or naturally ('end'). */
  stop: StopKind | 'end';
}

// Deterministic reply: the same request always yields the same deltas and token counts. The text echoes the whole
// question (its [[switches]] removed), one word per delta, so a demo answer reads as a whole in GraphiQL.
export function planReply(promptText: string, lastUserMessage: string, maxTokens: number, d: Directives): Reply {
  let deltas =
    d.deltas !== null
      ? Array.from({ length: d.deltas }, (_, i) => `t${i + 1} `)
      : `Ivy here. You asked: ${stripDirectives(lastUserMessage)}`.split(/(?<= )/);
  let truncated = false;
  const cap = Math.max(1, Math.floor(maxTokens / 3));
  if (d.deltas === null && deltas.length > cap) {
    deltas = deltas.slice(0, cap);
    truncated = true;
  }
  const inputTokens = d.usage?.input ?? Math.ceil(promptText.length / 4);
  return {
    deltas,
    inputTokens,
    cachedInputTokens: Math.min(d.cached, inputTokens),
    outputTokens: d.usage?.output ?? Math.min(deltas.length * 3, maxTokens),
    truncated,
    stop: truncated ? 'max-tokens' : (d.stop ?? 'end'),
  };
}

export function readAuth(req: IncomingMessage): { scheme: AuthScheme; key: string | null } {
  const xKey = req.headers['x-api-key'];
  if (typeof xKey === 'string' && xKey) return { scheme: 'x-api-key', key: xKey };
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (bearer) return { scheme: 'bearer', key: bearer[1].trim() };
  return { scheme: 'none', key: null };
}

export type KeyVerdict = 'missing' | 'invalid' | 'ratelimited' | 'ok';

/** The key's verdict, unless the question asks for a 401 (`[[401]]`) or a 429 (`[[429]]`) whatever the key. */
export function judgeRequest(key: string | null, body: Record<string, unknown> | null): KeyVerdict {
  const asked = lastUserText(body?.messages);
  if (asked.includes('[[401]]')) return 'invalid';
  if (asked.includes('[[429]]')) return 'ratelimited';
  return judgeKey(key);
}

export function judgeKey(key: string | null): KeyVerdict {
  if (!key) return 'missing';
  if (key.includes('invalid')) return 'invalid';
  if (key.includes('ratelimited')) return 'ratelimited';
  return 'ok';
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const newId = (prefix: string, bytes = 12) => `${prefix}${randomBytes(bytes).toString('hex')}`;

// Per-response helpers for streaming handlers: they must stop as soon as the client goes away.
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  auth: { scheme: AuthScheme; key: string | null };
  /** The key was revoked at the provider (FakeVendorServer.revoke): answer the vendor's 401. */
  revoked: boolean;
  body: Record<string, unknown> | null;
  readonly gone: boolean;
  // Resolves after ms, or early when the client disconnects.
  pause(ms: number): Promise<void>;
  // Resolves when the client disconnects.
  untilGone(): Promise<void>;
  // Cuts the connection mid-response without recording it as a client abort.
  drop(): void;
}

export async function startFakeServer(
  handle: (ex: Exchange) => Promise<void>,
  urlSuffix: string,
): Promise<FakeVendorServer> {
  const requests: RecordedRequest[] = [];
  const aborts: AbortRecord[] = [];
  const events = new EventEmitter();
  const revoked = new Set<string>();
  const state = { outage: false };
  const hash = (key: string) => createHash('sha256').update(key).digest('hex');

  const server = createServer((req, res) => {
    const startedAt = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    let gone = false;
    let dropped = false;
    const goneWaiters: Array<() => void> = [];
    res.on('close', () => {
      gone = true;
      goneWaiters.splice(0).forEach((wake) => wake());
      if (!res.writableEnded && !dropped) {
        const record = { path, at: performance.now() };
        aborts.push(record);
        events.emit('abort', record);
      }
    });
    const untilGone = () => new Promise<void>((resolve) => (gone ? resolve() : goneWaiters.push(resolve)));
    const exchange: Exchange = {
      req,
      res,
      path,
      body: null,
      auth: readAuth(req),
      revoked: false,
      get gone() {
        return gone;
      },
      pause: (ms) => Promise.race([new Promise<void>((r) => setTimeout(r, ms)), untilGone()]),
      untilGone,
      drop: () => {
        dropped = true;
        res.socket?.destroy();
      },
    };
    void (async () => {
      exchange.body = req.method === 'POST' ? await readJson(req) : null;
      const b = exchange.body ?? {};
      const key = exchange.auth.key;
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        model: typeof b.model === 'string' ? b.model : null,
        maxTokens:
          typeof b.max_tokens === 'number'
            ? b.max_tokens
            : typeof b.max_completion_tokens === 'number'
              ? b.max_completion_tokens
              : null,
        stream: b.stream === true,
        authScheme: exchange.auth.scheme,
        authKeyLast4: key ? key.slice(-4) : null,
        authKeyHash: key ? createHash('sha256').update(key).digest('hex').slice(0, 16) : null,
        startedAt,
        body: exchange.body,
      };
      requests.push(record);
      events.emit('request', record);
      if (state.outage) return sendJson(res, 503, { error: { message: 'The service is temporarily unavailable.' } });
      exchange.revoked = key !== null && revoked.has(hash(key));
      await handle(exchange);
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `stand-in failure: ${String(err)}` } });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitFor = <T>(event: string, timeoutMs: number, ready?: () => T | undefined) =>
    new Promise<T>((resolve, reject) => {
      const now = ready?.();
      if (now !== undefined) return resolve(now);
      const timer = setTimeout(() => {
        events.off(event, listener);
        reject(new Error(`no ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (value: T) => {
        const result = ready ? ready() : value;
        if (result === undefined) return;
        clearTimeout(timer);
        events.off(event, listener);
        resolve(result);
      };
      events.on(event, listener);
    });

  return {
    url: `http://127.0.0.1:${port}${urlSuffix}`,
    requests,
    aborts,
    events,
    onAbort: (timeoutMs = 5000) => waitFor<AbortRecord>('abort', timeoutMs),
    waitForAborts: (count = 1, timeoutMs = 5000) =>
      waitFor<AbortRecord>('abort', timeoutMs, () => (aborts.length >= count ? aborts[count - 1] : undefined)),
    revoke: (key) => void revoked.add(hash(key)),
    get outage() {
      return state.outage;
    },
    set outage(on: boolean) {
      state.outage = on;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// The text the stand-ins count as "input": system prompt plus every message's text content.
export function promptText(system: unknown, messages: unknown): string {
  const text = (content: unknown): string =>
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : '')).join('')
        : '';
  const list = Array.isArray(messages) ? messages : [];
  return text(system) + list.map((m) => text((m as { content?: unknown })?.content)).join('');
}

export function lastUserText(messages: unknown): string {
  const list = Array.isArray(messages) ? (messages as Array<{ role?: unknown; content?: unknown }>) : [];
  const last = [...list].reverse().find((m) => m?.role === 'user');
  return last ? promptText(undefined, [last]) : '';
}
