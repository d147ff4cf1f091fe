import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAIAdapter } from '../../src/providers/openai.js';
import type { ProviderOptions, StreamPart } from '../../src/providers/types.js';
import { startFakeOpenAI } from '../support/vendors/openai-server.js';
import type { FakeVendorServer } from '../support/vendors/common.js';

const GOOD_KEY = 'sk-proj-good-Bn4Wc8Lq2Zx6Rv0Ty';
const BAD_KEY = 'sk-proj-invalid-Fj3Kd9Mp5Hs1Ga7Qe';
const THROTTLED_KEY = 'sk-proj-ratelimited-Vu6Ne2Cy8Ow4Ib0Xr';
const MODEL = 'gpt-5.4-mini';
const SYSTEM = 'You are Ivy.';

let server: FakeVendorServer;
beforeAll(async () => { server = await startFakeOpenAI(); });
afterAll(async () => { await server.close(); });
beforeEach(() => { server.requests.length = 0; server.aborts.length = 0; });

const adapter = (overrides: Partial<ProviderOptions> = {}) =>
  createOpenAIAdapter({ baseURL: server.url, timeoutMs: 5000, maxRetries: 0, keyCheckTimeoutMs: 2000, ...overrides });

const request = (content: string, opts: { apiKey?: string; signal?: AbortSignal } = {}) => ({
  apiKey: opts.apiKey ?? GOOD_KEY,
  model: MODEL,
  system: SYSTEM,
  messages: [{ role: 'user' as const, content }],
  maxTokens: 256,
  signal: opts.signal ?? new AbortController().signal,
});

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const texts = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : []));

function expectNoKeyMaterial(message: string, key: string) {
  expect(message).not.toContain(key);
  expect(message).not.toContain(key.slice(-4));
  for (let i = 0; i + 8 <= key.length; i++) expect(message).not.toContain(key.slice(i, i + 8));
}

function expectSingleTerminal(parts: StreamPart[]) {
  const terminals = parts.filter((p) => p.type === 'finish' || p.type === 'error');
  expect(terminals).toHaveLength(1);
  expect(parts.at(-1)).toBe(terminals[0]);
}

async function closedPortURL(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// Accepts connections but never answers, like a provider stuck before sending headers.
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => { sockets.add(socket); socket.resume(); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => { sockets.forEach((s) => s.destroy()); silent.close(() => resolve()); }),
  };
}

describe('OpenAI adapter against the loopback stand-in', () => {
  it('streams the deltas in order, then reports usage and finishes', async () => {
    const content = '[[deltas:5]] count for me';
    const parts = await collect(adapter().stream(request(content)));
    expect(texts(parts)).toEqual(['t1 ', 't2 ', 't3 ', 't4 ', 't5 ']);
    expectSingleTerminal(parts);
    const inputTokens = Math.ceil((SYSTEM + content).length / 4);
    expect(parts.at(-1)).toEqual({ type: 'finish', inputTokens, outputTokens: 15 });
    expect(parts.filter((p) => p.type === 'usage').at(-1)).toEqual({ type: 'usage', inputTokens, outputTokens: 15 });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', model: MODEL, maxTokens: 256, stream: true });
    expect(server.requests[0].body).toMatchObject({
      messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content }],
      max_completion_tokens: 256,
      stream_options: { include_usage: true },
    });
  });

  it('yields each delta as soon as it arrives instead of buffering the stream', async () => {
    const seen: Array<{ type: string; at: number }> = [];
    for await (const part of adapter().stream(request('[[slow:50]] [[deltas:4]]'))) seen.push({ type: part.type, at: performance.now() });
    const firstDelta = seen.find((s) => s.type === 'text-delta')!;
    const finish = seen.at(-1)!;
    expect(finish.type).toBe('finish');
    expect(finish.at - firstDelta.at).toBeGreaterThanOrEqual(100);
  });

  it('passes through the exact token counts the provider reports', async () => {
    const parts = await collect(adapter().stream(request('[[usage:1234:56]] hi')));
    expect(parts.at(-1)).toEqual({ type: 'finish', inputTokens: 1234, outputTokens: 56 });
  });

  it('reports a rejected key as PROVIDER_AUTH_FAILED, quoting OpenAI without leaking the key (which OpenAI echoes half-masked)', async () => {
    const parts = await collect(adapter({ maxRetries: 2 }).stream(request('hi', { apiKey: BAD_KEY })));
    expectSingleTerminal(parts);
    const last = parts.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'PROVIDER_AUTH_FAILED', inputTokens: null, outputTokens: null });
    if (last.type !== 'error') throw new Error('expected an error part');
    expect(last.message).toBe(
      'OpenAI rejected the API key: "Incorrect API key provided: [redacted]. You can find your API key at https://platform.openai.com/account/api-keys."',
    );
    expectNoKeyMaterial(last.message, BAD_KEY);
    expect(server.requests).toHaveLength(1);
  });

  it('reports throttling as PROVIDER_RATE_LIMITED after exactly one request when maxRetries is 0', async () => {
    const parts = await collect(adapter({ maxRetries: 0 }).stream(request('hi', { apiKey: THROTTLED_KEY })));
    const last = parts.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'PROVIDER_RATE_LIMITED' });
    if (last.type !== 'error') throw new Error('expected an error part');
    expect(last.message).toMatch(/^OpenAI is rate limiting this key: "Rate limit reached.*" Try again in 1 s\.$/);
    expectNoKeyMaterial(last.message, THROTTLED_KEY);
    expect(server.requests).toHaveLength(1);
  });

  it('honours maxRetries on a 429 before giving up', async () => {
    const parts = await collect(adapter({ maxRetries: 1 }).stream(request('hi', { apiKey: THROTTLED_KEY })));
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'PROVIDER_RATE_LIMITED' });
    expect(server.requests).toHaveLength(2);
  });

  it('reports an HTTP 500 as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[500]]')));
    expect(parts).toEqual([{
      type: 'error', code: 'PROVIDER_UNAVAILABLE', inputTokens: null, outputTokens: null,
      message: 'OpenAI returned an error (HTTP 500): "The server had an error while processing your request. Sorry about that!" Try again later.',
    }]);
  });

  it('reports an error chunk inside the stream as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[overloaded]] please')));
    expect(texts(parts)).toEqual(['Ivy ', 'here. ']);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toEqual({
      type: 'error', code: 'PROVIDER_UNAVAILABLE',
      message: 'OpenAI reported an error mid-reply: "The server had an error while processing your request." Try again later.',
      inputTokens: null, outputTokens: null,
    });
  });

  it('finishes without usage when the stream completes but include_usage is not honoured', async () => {
    // A stream whose finish_reason chunk arrived is complete; only the optional usage chunk is missing.
    const proxy = await startFakeOpenAI({ ignoreIncludeUsage: true });
    try {
      const parts = await collect(adapter({ baseURL: proxy.url }).stream(request('[[deltas:2]]')));
      expect(texts(parts)).toEqual(['t1 ', 't2 ']);
      expect(parts.at(-1)).toEqual({ type: 'finish', inputTokens: null, outputTokens: null });
    } finally {
      await proxy.close();
    }
  });

  it('reports a connection dropped mid-stream as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[drop]] please')));
    expect(texts(parts)).toHaveLength(2);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toEqual({
      type: 'error', code: 'PROVIDER_UNAVAILABLE', message: 'The connection to OpenAI was cut before the reply finished.', inputTokens: null, outputTokens: null,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('abandons a stream that stalls for longer than timeoutMs and reports PROVIDER_UNAVAILABLE', async () => {
    const started = performance.now();
    const parts = await collect(adapter({ timeoutMs: 300 }).stream(request('[[hang]]')));
    const elapsed = performance.now() - started;
    expect(texts(parts)).toEqual(['Ivy ']);
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'PROVIDER_UNAVAILABLE' });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
    await server.waitForAborts(1, 1000);
  });

  it('ends with CANCELLED when the caller aborts mid-stream, and OpenAI sees the disconnect within 100 ms', async () => {
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    let abortedAt = 0;
    for await (const part of adapter().stream(request('[[hang]]', { signal: controller.signal }))) {
      parts.push(part);
      if (part.type === 'text-delta' && !abortedAt) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED', message: 'The request was cancelled.' });
    const abort = await server.waitForAborts(1, 1000);
    expect(abort.path).toBe('/v1/chat/completions');
    expect(abort.at - abortedAt).toBeLessThan(100);
  });

  it('ends with CANCELLED when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const parts = await collect(adapter().stream(request('hi', { signal: controller.signal })));
    expect(parts).toEqual([{ type: 'error', code: 'CANCELLED', message: 'The request was cancelled.', inputTokens: null, outputTokens: null }]);
  });

  it('releases the upstream request when the consumer stops iterating early', async () => {
    for await (const part of adapter().stream(request('[[hang]]'))) {
      if (part.type === 'text-delta') break;
    }
    const abort = await server.waitForAborts(1, 1000);
    expect(abort.path).toBe('/v1/chat/completions');
  });

  it('reports an unreachable endpoint as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter({ baseURL: await closedPortURL() }).stream(request('hi')));
    expect(parts).toEqual([{
      type: 'error', code: 'PROVIDER_UNAVAILABLE', message: 'Could not reach OpenAI: connection refused.', inputTokens: null, outputTokens: null,
    }]);
  });

  it('reports a provider that never sends response headers as PROVIDER_UNAVAILABLE once timeoutMs passes', async () => {
    const silent = await silentServer();
    try {
      const started = performance.now();
      const parts = await collect(adapter({ baseURL: silent.url, timeoutMs: 300 }).stream(request('hi')));
      expect(parts).toEqual([{
        type: 'error', code: 'PROVIDER_UNAVAILABLE', message: 'OpenAI did not respond within 0.3 s.', inputTokens: null, outputTokens: null,
      }]);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  describe('checkKey', () => {
    it('accepts a working key with a single GET /v1/models', async () => {
      expect(await adapter().checkKey(GOOD_KEY)).toEqual({ outcome: 'valid', message: 'OpenAI accepted the API key.' });
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models']);
      expect(server.requests[0].authKeyLast4).toBe(GOOD_KEY.slice(-4));
    });

    it('reports a rejected key as invalid without leaking it', async () => {
      const check = await adapter().checkKey(BAD_KEY);
      expect(check.outcome).toBe('invalid');
      expect(check.message).toMatch(/^OpenAI rejected the API key: "Incorrect API key provided: \[redacted\]\./);
      expectNoKeyMaterial(check.message, BAD_KEY);
    });

    it('reports a throttled key as rate_limited after one request, even when the adapter retries streams', async () => {
      const check = await adapter({ maxRetries: 2 }).checkKey(THROTTLED_KEY);
      expect(check.outcome).toBe('rate_limited');
      expectNoKeyMaterial(check.message, THROTTLED_KEY);
      expect(server.requests).toHaveLength(1);
    });

    it('reports a provider that does not answer within keyCheckTimeoutMs as unreachable', async () => {
      const silent = await silentServer();
      try {
        const check = await adapter({ baseURL: silent.url, keyCheckTimeoutMs: 200, maxRetries: 2 }).checkKey(GOOD_KEY);
        expect(check).toEqual({ outcome: 'unreachable', message: 'OpenAI did not respond within 0.2 s.' });
      } finally {
        await silent.close();
      }
    });

    it('reports a closed port as unreachable', async () => {
      const check = await adapter({ baseURL: await closedPortURL() }).checkKey(GOOD_KEY);
      expect(check).toEqual({ outcome: 'unreachable', message: 'Could not reach OpenAI: connection refused.' });
    });
  });
});
