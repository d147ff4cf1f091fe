import { describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src/providers/types.ts';
import {
  OPENAI,
  SYSTEM,
  collect,
  expectNoKeyMaterial,
  expectSingleTerminal,
  texts,
  useStandIn,
} from '../support/provider-helpers.ts';
import { startFakeOpenAI } from '../../dev/vendors/openai-server.ts';

// Only what is particular to this vendor; the behaviour both adapters share is in adapters.test.ts.
const { model: MODEL, badKey: BAD_KEY, throttledKey: THROTTLED_KEY } = OPENAI;
const standIn = useStandIn(OPENAI);
const { adapter, request } = standIn;

describe('OpenAI adapter against the loopback stand-in', () => {
  it('streams the deltas in order, then reports usage and finishes', async () => {
    const content = '[[deltas:5]] count for me';
    const parts = await collect(adapter().stream(request(content)));
    expect(texts(parts)).toEqual(['t1 ', 't2 ', 't3 ', 't4 ', 't5 ']);
    expectSingleTerminal(parts);
    const inputTokens = Math.ceil((SYSTEM + content).length / 4);
    expect(parts.at(-1)).toEqual({
      type: 'finish',
      inputTokens,
      outputTokens: 15,
      cachedInputTokens: 0,
      reason: 'END_TURN',
    });
    expect(parts.filter((p) => p.type === 'usage').at(-1)).toEqual({
      type: 'usage',
      inputTokens,
      outputTokens: 15,
      cachedInputTokens: 0,
    });
    expect(standIn.server.requests).toHaveLength(1);
    expect(standIn.server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      model: MODEL,
      maxTokens: 256,
      stream: true,
    });
    expect(standIn.server.requests[0].body).toMatchObject({
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content },
      ],
      max_completion_tokens: 256,
      stream_options: { include_usage: true },
    });
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
    expect(standIn.server.requests).toHaveLength(1);
  });

  it('reports throttling as PROVIDER_RATE_LIMITED after exactly one request when maxRetries is 0', async () => {
    const parts = await collect(adapter({ maxRetries: 0 }).stream(request('hi', { apiKey: THROTTLED_KEY })));
    const last = parts.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'PROVIDER_RATE_LIMITED' });
    if (last.type !== 'error') throw new Error('expected an error part');
    expect(last.message).toMatch(/^OpenAI is rate limiting this key: "Rate limit reached.*" Try again in 1 s\.$/);
    expectNoKeyMaterial(last.message, THROTTLED_KEY);
    expect(standIn.server.requests).toHaveLength(1);
  });

  it('reports an HTTP 500 as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[500]]')));
    expect(parts).toEqual([
      {
        type: 'error',
        code: 'PROVIDER_UNAVAILABLE',
        inputTokens: null,
        outputTokens: null,
        message:
          'OpenAI returned an error (HTTP 500): "The server had an error while processing your request. Sorry about that!" Try again later.',
      },
    ]);
  });

  it('reports an error chunk inside the stream as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[overloaded]] please')));
    expect(texts(parts)).toEqual(['Ivy ', 'here. ']);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'PROVIDER_UNAVAILABLE',
      message:
        'OpenAI reported an error mid-reply: "The server had an error while processing your request." Try again later.',
      inputTokens: null,
      outputTokens: null,
    });
  });

  it('finishes without usage when the stream completes but include_usage is not honoured', async () => {
    // A stream whose finish_reason chunk arrived is complete; only the optional usage chunk is missing.
    const proxy = await startFakeOpenAI({ ignoreIncludeUsage: true });
    try {
      const parts = await collect(adapter({ baseURL: proxy.url }).stream(request('[[deltas:2]]')));
      expect(texts(parts)).toEqual(['t1 ', 't2 ']);
      expect(parts.at(-1)).toEqual({ type: 'finish', inputTokens: null, outputTokens: null, reason: 'END_TURN' });
    } finally {
      await proxy.close();
    }
  });

  it('reports a connection dropped mid-stream as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter().stream(request('[[drop]] please')));
    expect(texts(parts)).toHaveLength(2);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'PROVIDER_UNAVAILABLE',
      message: 'The connection to OpenAI was cut before the reply finished.',
      inputTokens: null,
      outputTokens: null,
    });
    expect(standIn.server.requests).toHaveLength(1);
  });

  it('ends with CANCELLED when the caller aborts mid-stream, and OpenAI sees the disconnect at once, not at the stall timer', async () => {
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    // A stall timer a minute away: an abort the stand-in sees within waitForAborts' guard can only be the caller's.
    for await (const part of adapter({ timeoutMs: 60_000 }).stream(
      request('[[hang]]', { signal: controller.signal }),
    )) {
      parts.push(part);
      if (part.type === 'text-delta') controller.abort();
    }
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED', message: 'The request was cancelled.' });
    const abort = await standIn.server.waitForAborts(1, 5000);
    expect(abort.path).toBe('/v1/chat/completions');
    // The latency itself (p95 under 100 ms) is `npm run bench`'s to measure, not a clock in a test.
  });

  describe('checkKey', () => {
    it('reports a rejected key as invalid without leaking it', async () => {
      const check = await adapter().checkKey(BAD_KEY);
      expect(check.outcome).toBe('invalid');
      expect(check.message).toMatch(/^OpenAI rejected the API key: "Incorrect API key provided: \[redacted\]\./);
      expectNoKeyMaterial(check.message, BAD_KEY);
    });
  });
});
