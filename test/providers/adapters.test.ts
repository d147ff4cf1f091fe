// What both adapters must do the same way against their loopback stand-ins. How each vendor's own replies and
// errors read is tested in anthropic.test.ts and openai.test.ts.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import {
  ANTHROPIC,
  OPENAI,
  closedPortURL,
  collect,
  expectNoKeyMaterial,
  silentServer,
  texts,
  useStandIn,
  type VendorUnderTest,
} from '../support/provider-helpers.ts';

const VENDORS = [ANTHROPIC, OPENAI].map((vendor): [string, VendorUnderTest] => [vendor.name, vendor]);

describe.each(VENDORS)('%s adapter against the loopback stand-in', (_name, vendor) => {
  const standIn = useStandIn(vendor);
  const { adapter, request } = standIn;

  it('yields each delta as soon as it arrives instead of buffering the stream', async () => {
    const seen: Array<{ type: string; at: number }> = [];
    for await (const part of adapter().stream(request('[[slow:50]] [[deltas:4]]')))
      seen.push({ type: part.type, at: performance.now() });
    const firstDelta = seen.find((s) => s.type === 'text-delta')!;
    const finish = seen.at(-1)!;
    expect(finish.type).toBe('finish');
    expect(finish.at - firstDelta.at).toBeGreaterThanOrEqual(100);
  });

  it('sends every request with its own key when one adapter serves several keys, in turn and at once', async () => {
    // The adapter keeps an SDK client per key (clientPerKey): one member's client must never carry another's key.
    const a = adapter();
    const keys = [vendor.goodKey, `${vendor.goodKey.slice(0, -4)}B2b2`, `${vendor.goodKey.slice(0, -4)}C3c3`];
    await collect(a.stream(request('one', { apiKey: keys[0] })));
    await Promise.all(keys.map((apiKey) => collect(a.stream(request('two', { apiKey })))));
    await collect(a.stream(request('three', { apiKey: keys[1] })));
    const sent = standIn.server.requests.map((r) => r.authKeyLast4);
    expect(sent[0]).toBe(keys[0].slice(-4));
    expect([...sent.slice(1, 4)].sort()).toEqual(keys.map((k) => k.slice(-4)).sort());
    expect(sent[4]).toBe(keys[1].slice(-4));
  });

  it('passes through the exact token counts the provider reports', async () => {
    const parts = await collect(adapter().stream(request('[[usage:1234:56]] hi')));
    expect(parts.at(-1)).toEqual({
      type: 'finish',
      inputTokens: 1234,
      outputTokens: 56,
      cachedInputTokens: 0,
      reason: 'END_TURN',
    });
  });

  it('reports cached input tokens as part of the input, the vendor’s own way', async () => {
    const parts = await collect(adapter().stream(request('[[usage:1234:56]] [[cached:1000]] hi')));
    // Anthropic's input_tokens leaves out cache reads and OpenAI's prompt_tokens includes them: both end up here.
    expect(parts.at(-1)).toMatchObject({
      type: 'finish',
      inputTokens: 1234,
      outputTokens: 56,
      cachedInputTokens: 1000,
    });
  });

  it.each([
    ['[[deltas:2]]', 'END_TURN', 'END_TURN'],
    ['[[deltas:2]] [[max-tokens]]', 'MAX_TOKENS', 'MAX_TOKENS'],
    ['[[deltas:2]] [[stop-sequence]]', 'STOP_SEQUENCE', 'END_TURN'], // OpenAI says `stop` for both
    ['[[deltas:2]] [[refusal]]', 'REFUSAL', 'CONTENT_FILTER'], // OpenAI's nearest: content_filter
  ])('maps the vendor’s stop reason for %s', async (prompt, anthropic, openai) => {
    const parts = await collect(adapter().stream(request(prompt)));
    expect(parts.at(-1)).toMatchObject({ type: 'finish', reason: vendor.name === 'Anthropic' ? anthropic : openai });
  });

  it('honours maxRetries on a 429 before giving up', async () => {
    const parts = await collect(adapter({ maxRetries: 1 }).stream(request('hi', { apiKey: vendor.throttledKey })));
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'PROVIDER_RATE_LIMITED' });
    expect(standIn.server.requests).toHaveLength(2);
  });

  it('abandons a stream that stalls for longer than timeoutMs and reports PROVIDER_UNAVAILABLE', async () => {
    const started = performance.now();
    const parts = await collect(adapter({ timeoutMs: 300 }).stream(request('[[hang]]')));
    const elapsed = performance.now() - started;
    expect(texts(parts)).toEqual(['Ivy ']);
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'PROVIDER_UNAVAILABLE' });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
    await standIn.server.waitForAborts(1, 5000);
  });

  it('ends with CANCELLED when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const parts = await collect(adapter().stream(request('hi', { signal: controller.signal })));
    expect(parts).toEqual([
      {
        type: 'error',
        code: 'CANCELLED',
        message: 'The request was cancelled.',
        inputTokens: null,
        outputTokens: null,
      },
    ]);
  });

  it('releases the upstream request when the consumer stops iterating early', async () => {
    for await (const part of adapter().stream(request('[[hang]]'))) {
      if (part.type === 'text-delta') break;
    }
    const abort = await standIn.server.waitForAborts(1, 5000);
    expect(abort.path).toBe(vendor.streamPath);
  });

  it('reports an unreachable endpoint as PROVIDER_UNAVAILABLE', async () => {
    const parts = await collect(adapter({ baseURL: await closedPortURL() }).stream(request('hi')));
    expect(parts).toEqual([
      {
        type: 'error',
        code: 'PROVIDER_UNAVAILABLE',
        message: `Could not reach ${vendor.name}: connection refused.`,
        inputTokens: null,
        outputTokens: null,
      },
    ]);
  });

  it('reports a provider that never sends response headers as PROVIDER_UNAVAILABLE once timeoutMs passes', async () => {
    const silent = await silentServer(vendor.baseURLSuffix);
    try {
      const started = performance.now();
      const parts = await collect(adapter({ baseURL: silent.url, timeoutMs: 300 }).stream(request('hi')));
      expect(parts).toEqual([
        {
          type: 'error',
          code: 'PROVIDER_UNAVAILABLE',
          message: `${vendor.name} did not respond within 0.3 s.`,
          inputTokens: null,
          outputTokens: null,
        },
      ]);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  describe('checkKey', () => {
    it('accepts a working key with a single GET /v1/models', async () => {
      expect(await adapter().checkKey(vendor.goodKey)).toEqual({
        outcome: 'valid',
        message: `${vendor.name} accepted the API key.`,
      });
      expect(standIn.server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models']);
      expect(standIn.server.requests[0].authKeyLast4).toBe(vendor.goodKey.slice(-4));
    });

    it('reports a throttled key as rate_limited after one request, even when the adapter retries streams', async () => {
      const check = await adapter({ maxRetries: 2 }).checkKey(vendor.throttledKey);
      expect(check.outcome).toBe('rate_limited');
      expectNoKeyMaterial(check.message, vendor.throttledKey);
      expect(standIn.server.requests).toHaveLength(1);
    });

    it('reports a provider that does not answer within keyCheckTimeoutMs as unreachable', async () => {
      const silent = await silentServer(vendor.baseURLSuffix);
      try {
        const check = await adapter({ baseURL: silent.url, keyCheckTimeoutMs: 200, maxRetries: 2 }).checkKey(
          vendor.goodKey,
        );
        expect(check).toEqual({ outcome: 'unreachable', message: `${vendor.name} did not respond within 0.2 s.` });
      } finally {
        await silent.close();
      }
    });

    it('reports a closed port as unreachable', async () => {
      const check = await adapter({ baseURL: await closedPortURL() }).checkKey(vendor.goodKey);
      expect(check).toEqual({ outcome: 'unreachable', message: `Could not reach ${vendor.name}: connection refused.` });
    });
  });
});
