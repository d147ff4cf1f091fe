// Shared plumbing for the provider adapter tests (test/providers) and the closed-port helper the API tests use.
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { createAnthropicAdapter } from '../../src/providers/anthropic.ts';
import { createOpenAIAdapter } from '../../src/providers/openai.ts';
import type { CompletionRequest, ProviderAdapter, ProviderOptions, StreamPart } from '../../src/providers/types.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { startFakeOpenAI } from '../../dev/vendors/openai-server.ts';

export const SYSTEM = 'You are Ivy.';

/** One vendor as the adapter tests see it: its adapter, its stand-in, and keys the stand-in judges by their wording. */
export interface VendorUnderTest {
  name: 'Anthropic' | 'OpenAI';
  model: string;
  goodKey: string;
  badKey: string;
  throttledKey: string;
  /** Where a streamed completion is POSTed. */
  streamPath: string;
  /** What the adapter's baseURL carries after host and port ('' for Anthropic, '/v1' for OpenAI). */
  baseURLSuffix: string;
  createAdapter(opts: ProviderOptions): ProviderAdapter;
  startStandIn(): Promise<FakeVendorServer>;
}

export const ANTHROPIC: VendorUnderTest = {
  name: 'Anthropic',
  model: 'claude-haiku-4-5',
  goodKey: 'sk-ant-api03-good-Q7pX2mZk9LwR4tVb',
  badKey: 'sk-ant-api03-invalid-Hs8Yd3NcJ6fWq1Ue',
  throttledKey: 'sk-ant-api03-ratelimited-Pm5Ta2XgK8rLz0Cv',
  streamPath: '/v1/messages',
  baseURLSuffix: '',
  createAdapter: createAnthropicAdapter,
  startStandIn: () => startFakeAnthropic(),
};

export const OPENAI: VendorUnderTest = {
  name: 'OpenAI',
  model: 'gpt-5.4-mini',
  goodKey: 'sk-proj-good-Bn4Wc8Lq2Zx6Rv0Ty',
  badKey: 'sk-proj-invalid-Fj3Kd9Mp5Hs1Ga7Qe',
  throttledKey: 'sk-proj-ratelimited-Vu6Ne2Cy8Ow4Ib0Xr',
  streamPath: '/v1/chat/completions',
  baseURLSuffix: '/v1',
  createAdapter: createOpenAIAdapter,
  startStandIn: () => startFakeOpenAI(),
};

export interface StandIn {
  /** The vendor's loopback stand-in; its requests and aborts are cleared before each test. */
  readonly server: FakeVendorServer;
  /** An adapter pointed at the stand-in: 5 s stream timeout, no retries, 2 s key-check timeout, unless overridden. */
  adapter(overrides?: Partial<ProviderOptions>): ProviderAdapter;
  /** A one-message request for the vendor's test model, on the good key unless told otherwise. */
  request(content: string, opts?: { apiKey?: string; signal?: AbortSignal }): CompletionRequest;
}

/** Starts the vendor's stand-in for the enclosing file or describe block (registers beforeAll, afterAll and beforeEach). */
export function useStandIn(vendor: VendorUnderTest): StandIn {
  let server: FakeVendorServer;
  beforeAll(async () => {
    server = await vendor.startStandIn();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.aborts.length = 0;
  });
  return {
    get server() {
      return server;
    },
    adapter: (overrides = {}) =>
      vendor.createAdapter({
        baseURL: server.url,
        timeoutMs: 5000,
        maxRetries: 0,
        keyCheckTimeoutMs: 2000,
        ...overrides,
      }),
    request: (content, opts = {}) => ({
      apiKey: opts.apiKey ?? vendor.goodKey,
      model: vendor.model,
      system: SYSTEM,
      messages: [{ role: 'user' as const, content }],
      maxTokens: 256,
      signal: opts.signal ?? new AbortController().signal,
    }),
  };
}

export async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

export const texts = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : []));

export function expectNoKeyMaterial(message: string, key: string) {
  expect(message).not.toContain(key);
  expect(message).not.toContain(key.slice(-4));
  for (let i = 0; i + 8 <= key.length; i++) expect(message).not.toContain(key.slice(i, i + 8));
}

export function expectSingleTerminal(parts: StreamPart[]) {
  const terminals = parts.filter((p) => p.type === 'finish' || p.type === 'error');
  expect(terminals).toHaveLength(1);
  expect(parts.at(-1)).toBe(terminals[0]);
}

/** The URL of a loopback port that was free a moment ago and now refuses connections. */
export async function closedPortURL(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Accepts connections but never answers, like a provider stuck before sending headers. `urlSuffix` is appended to its URL (e.g. '/v1'). */
export async function silentServer(urlSuffix = ''): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${urlSuffix}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        silent.close(() => resolve());
      }),
  };
}
