import { describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src/providers/types.ts';
import {
  ANTHROPIC,
  SYSTEM,
  collect,
  expectNoKeyMaterial,
  expectSingleTerminal,
  texts,
  useStandIn,
} from '../support/provider-helpers.ts';

// Only what is particular to this vendor; the behaviour both adapters share is in adapters.test.ts.
const { model: MODEL, badKey: BAD_KEY, throttledKey: THROTTLED_KEY } = ANTHROPIC;
const standIn = useStandIn(ANTHROPIC);
const { adapter, request } = standIn;

describe('Anthropic adapter against the loopback stand-in', () => {
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
      path: '/v1/messages',
      model: MODEL,
      maxTokens: 256,
      stream: true,
    });
    expect(standIn.server.requests[0].body).toMatchObject({ system: SYSTEM, messages: [{ role: 'user', content }] });
  });

  it('reports a rejected key as PROVIDER_AUTH_FAILED, quoting Anthropic without leaking the key', async () => {
    const parts = await collect(adapter({ maxRetries: 2 }).stream(request('hi', { apiKey: BAD_KEY })));
    expectSingleTerminal(parts);
    const last = parts.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'PROVIDER_AUTH_FAILED', inputTokens: null, outputTokens: null });
    if (last.type !== 'error') throw new Error('expected an error part');
    expect(last.message).toBe('Anthropic rejected the API key: "invalid x-api-key".');
    expectNoKeyMaterial(last.message, BAD_KEY);
    expect(standIn.server.requests).toHaveLength(1);
  });

  it('reports throttling as PROVIDER_RATE_LIMITED after exactly one request when maxRetries is 0', async () => {
    const parts = await collect(adapter({ maxRetries: 0 }).stream(request('hi', { apiKey: THROTTLED_KEY })));
    const last = parts.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'PROVIDER_RATE_LIMITED' });
    if (last.type !== 'error') throw new Error('expected an error part');
    expect(last.message).toMatch(/^Anthropic is rate limiting this key: ".*rate limit.*" Try again in 1 s\.$/);
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
        message: 'Anthropic returned an error (HTTP 500): "Internal server error". Try again later.',
      },
    ]);
  });

  it('reports an in-stream overloaded_error as PROVIDER_UNAVAILABLE with the usage seen so far', async () => {
    const content = '[[overloaded]] please';
    const parts = await collect(adapter().stream(request(content)));
    expect(texts(parts)).toEqual(['Ivy ', 'here. ']);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'PROVIDER_UNAVAILABLE',
      message: 'Anthropic reported an error mid-reply: "Overloaded". Try again later.',
      inputTokens: Math.ceil((SYSTEM + content).length / 4),
      outputTokens: 1,
      cachedInputTokens: 0,
    });
  });

  it('reports a connection dropped mid-stream as PROVIDER_UNAVAILABLE with the usage seen so far', async () => {
    const parts = await collect(adapter().stream(request('[[drop]] please')));
    expect(texts(parts)).toHaveLength(2);
    expectSingleTerminal(parts);
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      code: 'PROVIDER_UNAVAILABLE',
      message: 'The connection to Anthropic was cut before the reply finished.',
      outputTokens: 1,
    });
    expect(standIn.server.requests).toHaveLength(1);
  });

  it('ends with CANCELLED when the caller aborts mid-stream, and Anthropic sees the disconnect at once, not at the stall timer', async () => {
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
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED', outputTokens: 1 });
    const abort = await standIn.server.waitForAborts(1, 5000);
    expect(abort.path).toBe('/v1/messages');
    // The latency itself (p95 under 100 ms) is `npm run bench`'s to measure, not a clock in a test.
  });

  describe('checkKey', () => {
    it('reports a rejected key as invalid without leaking it', async () => {
      const check = await adapter().checkKey(BAD_KEY);
      expect(check).toEqual({ outcome: 'invalid', message: 'Anthropic rejected the API key: "invalid x-api-key".' });
      expectNoKeyMaterial(check.message, BAD_KEY);
    });
  });
});
