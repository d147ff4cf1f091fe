// Load generator for two rows of bench/scale.ts, in a process of its own (forked) so the server's process measures
// only the server:
//   - "idle": opens `sockets` graphql-ws connections, each authenticated and holding one orgAiSettingsChanged
//     subscription, says "ready" once every one is sent, and keeps them open until "stop";
//   - "streams": first the baseline, `streams` direct SDK streams at once against the stand-in (the prompt asks it for
//     20 deltas, `[[slow:N]]` apart), then the same number of ivyCompletion subscriptions at once through the server;
//     checks each Ivy stream whole and in order, and reports, for both, each inter-delta gap minus the stand-in's own
//     pause. The baseline's gaps are what the stand-in, this process and the machine add by themselves; the Ivy
//     gaps beyond them are what the server adds.
import { performance } from 'node:perf_hooks';
import Anthropic from '@anthropic-ai/sdk';
import type { Client } from 'graphql-ws';
import { GraphQLClient } from '../dev/client.ts';
import { upstreamFetch } from '../src/providers/transport.ts';

export interface IdlePlan {
  mode: 'idle';
  url: string;
  orgId: string;
  query: string;
  sockets: number;
  tokens: string[];
}
export interface StreamsPlan {
  mode: 'streams';
  urls: string[];
  orgId: string;
  query: string;
  streams: number;
  perSocket: number;
  deltas: number;
  slowMs: number;
  tokens: string[];
  /** The stand-in's address, for the baseline of direct SDK streams. */
  vendorUrl: string;
}
export interface StreamsResult {
  whole: number;
  broken: string[];
  addedDelayMs: number[];
  latenessMs: number[];
  charged: number;
  elapsedMs: number;
  /** The baseline: the same streams read straight from the stand-in with its SDK, just before. */
  direct: { whole: number; addedDelayMs: number[]; latenessMs: number[]; elapsedMs: number };
}

const send = (m: Record<string, unknown>) => process.send!(m);
const clients: Client[] = [];

/**
 * "first-delta": `n` pairs, interleaved, after `warmup` pairs: a direct SDK call to the stand-in, then the same
 * question through ivyCompletion on one graphql-ws connection kept open; each the time to its first text delta. Run
 * here, not in the servers' process, so a client's read of the first delta does not wait for the server to finish
 * handling the rest of the upstream's burst on the same event loop (3–4 ms of the row's figure when it did).
 */
export interface FirstDeltaPlan {
  mode: 'first-delta';
  url: string;
  anthropicUrl: string;
  orgId: string;
  query: string;
  token: string;
  content: string;
  n: number;
  warmup: number;
  /** The floor (bench/relay-process.ts), asked the same question in the same rounds. */
  relay: { url: string; query: string };
}
export interface FirstDeltaResult {
  directMs: number[];
  /** The same direct call with the SDK on Ivy's own transport (src/providers/transport.ts). */
  directSameTransportMs: number[];
  ivyMs: number[];
  /** The same question through the floor (bench/relay-process.ts): a bare graphql-ws relay of the same SDK. */
  relayMs: number[];
  errors: string[];
}

async function firstDelta(plan: FirstDeltaPlan) {
  const options = { apiKey: 'sk-ant-bench-direct-000000000000000', baseURL: plan.anthropicUrl, maxRetries: 0 };
  const defaultSdk = new Anthropic(options);
  const sameTransportSdk = new Anthropic({ ...options, fetch: upstreamFetch });
  const direct = async (sdk: Anthropic) => {
    const t0 = performance.now();
    const stream = await sdk.messages.create({
      model: 'claude-haiku-5-5',
      max_tokens: 256,
      messages: [{ role: 'user', content: plan.content }],
      stream: true,
    });
    let first = 0;
    for await (const ev of stream) if (!first && ev.type === 'content_block_delta') first = performance.now() - t0;
    return first;
  };
  const ws = new GraphQLClient(plan.url, plan.token).ws({ keepOpen: true });
  const relayWs = new GraphQLClient(plan.relay.url, null).ws({ keepOpen: true });
  clients.push(ws, relayWs);
  const errors: string[] = [];
  /** The same question as a subscription on a socket kept open: the time to its second event (the first delta). */
  const via = (socket: Client, query: string, orgId: string) =>
    new Promise<number>((resolve) => {
      const t0 = performance.now();
      let first = 0;
      let events = 0;
      socket.subscribe(
        {
          query,
          variables: { input: { orgId, messages: [{ role: 'USER', content: plan.content }], maxTokens: 256 } },
        },
        {
          next: (r: { errors?: unknown }) => {
            if (r.errors) errors.push(JSON.stringify(r.errors).slice(0, 300));
            if (++events === 2) first = performance.now() - t0; // IvyCompletionStarted, then the first delta
          },
          error: (err: unknown) => {
            errors.push(JSON.stringify(err).slice(0, 300));
            resolve(first);
          },
          complete: () => resolve(first),
        },
      );
    });
  const viaIvy = () => via(ws, plan.query, plan.orgId);
  const viaRelay = () => via(relayWs, plan.relay.query, 'floor');
  for (let i = 0; i < plan.warmup; i++) {
    await direct(defaultSdk);
    await direct(sameTransportSdk);
    await viaIvy();
    await viaRelay();
  }
  const result: FirstDeltaResult = { directMs: [], directSameTransportMs: [], ivyMs: [], relayMs: [], errors };
  for (let i = 0; i < plan.n; i++) {
    result.directMs.push(await direct(defaultSdk));
    result.directSameTransportMs.push(await direct(sameTransportSdk));
    result.ivyMs.push(await viaIvy());
    result.relayMs.push(await viaRelay());
  }
  send({ t: 'done', result });
}

process.on(
  'message',
  (raw: { t: 'start'; plan: IdlePlan | StreamsPlan | FirstDeltaPlan } | { t: 'stop' | 'count' }) => {
    if (raw.t !== 'start') {
      if (raw.t === 'stop') void Promise.all(clients.map((c) => c.dispose())).finally(() => process.exit(0));
      return;
    }
    if (raw.plan.mode === 'idle') void idle(raw.plan);
    else if (raw.plan.mode === 'first-delta') void firstDelta(raw.plan);
    else void streams(raw.plan);
  },
);

/** Sockets in their opening handshake at once: 10,000 connects in one burst overflowed the listen backlog (RST). */
const CONNECTING_AT_ONCE = 256;

async function idle(plan: IdlePlan) {
  let failed = 0;
  let connecting = 0;
  const slotFreed: (() => void)[] = [];
  for (let s = 0; s < plan.sockets; s++) {
    while (connecting >= CONNECTING_AT_ONCE) await new Promise<void>((resolve) => slotFreed.push(resolve));
    connecting++;
    const ws = new GraphQLClient(plan.url, plan.tokens[s % plan.tokens.length]).ws();
    clients.push(ws);
    let handshaking = true;
    const opened = () => {
      if (!handshaking) return;
      handshaking = false;
      connecting--;
      slotFreed.shift()?.();
    };
    ws.on('connected', opened);
    ws.on('closed', opened);
    ws.subscribe(
      { query: plan.query, variables: { orgId: plan.orgId } },
      {
        next: () => {},
        // Said at once (with the close code and reason), so the bench stops waiting for a socket that is gone.
        error: (err: unknown) => {
          failed++;
          const e = err as { code?: number; reason?: string; message?: string };
          send({
            t: 'refused',
            why: `${e?.code ?? ''} ${e?.reason ?? e?.message ?? JSON.stringify(err)}`.slice(0, 200),
          });
        },
        complete: () => {},
      },
    );
  }
  send({ t: 'ready' });
  process.on('message', (m: { t: string }) => {
    if (m.t === 'count') send({ t: 'count', failed });
  });
}

type IvyEvent =
  { __typename: string; index?: number; creditsCharged?: number; code?: string; message?: string } | null | undefined;

const prompt = (plan: StreamsPlan, i: number) => `stream ${i} [[deltas:${plan.deltas}]] [[slow:${plan.slowMs}]]`;
const gaps = (at: number[], slowMs: number) => at.slice(1).map((t, k) => t - at[k] - slowMs);
/**
 * How late each delta after the first is against the stand-in's schedule counted from the stream's first delta
 * ((t_k - t_0) - k × pause). Unlike a gap, it does not read a backlog delivered in one clump as "no delay".
 */
const lateness = (at: number[], slowMs: number) => at.slice(1).map((t, k) => t - at[0] - (k + 1) * slowMs);

/** The baseline: each stream read by the Anthropic SDK straight from the stand-in, all at once. */
async function directStreams(plan: StreamsPlan): Promise<StreamsResult['direct']> {
  const sdk = new Anthropic({ apiKey: 'sk-ant-bench-direct-000000000000000', baseURL: plan.vendorUrl, maxRetries: 0 });
  const out: StreamsResult['direct'] = { whole: 0, addedDelayMs: [], latenessMs: [], elapsedMs: 0 };
  const t0 = performance.now();
  const one = async (i: number) => {
    const at: number[] = [];
    const stream = await sdk.messages.create({
      model: 'claude-haiku-5-5',
      max_tokens: 256,
      messages: [{ role: 'user', content: prompt(plan, i) }],
      stream: true,
    });
    for await (const ev of stream) if (ev.type === 'content_block_delta') at.push(performance.now());
    if (at.length !== plan.deltas) return;
    out.whole++;
    out.addedDelayMs.push(...gaps(at, plan.slowMs));
    out.latenessMs.push(...lateness(at, plan.slowMs));
  };
  await Promise.all(Array.from({ length: plan.streams }, (_, i) => one(i).catch(() => {})));
  out.elapsedMs = performance.now() - t0;
  return out;
}

async function streams(plan: StreamsPlan) {
  const direct = await directStreams(plan);
  const sockets = Math.ceil(plan.streams / plan.perSocket);
  const shared: Client[] = [];
  for (let s = 0; s < sockets; s++) {
    const ws = new GraphQLClient(plan.urls[s % plan.urls.length], plan.tokens[s % plan.tokens.length]).ws();
    shared.push(ws);
    clients.push(ws);
  }
  const result: StreamsResult = {
    whole: 0,
    broken: [],
    addedDelayMs: [],
    latenessMs: [],
    charged: 0,
    elapsedMs: 0,
    direct,
  };
  const t0 = performance.now();
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const events: IvyEvent[] = [];
      const deltaAt: number[] = [];
      shared[i % sockets].subscribe(
        {
          query: plan.query,
          variables: {
            input: {
              orgId: plan.orgId,
              messages: [{ role: 'USER', content: prompt(plan, i) }],
              maxTokens: 256,
            },
          },
        },
        {
          next: (r) => {
            const e = (r.data as { ivyCompletion?: IvyEvent } | null)?.ivyCompletion;
            if (e?.__typename === 'IvyTextDelta') deltaAt.push(performance.now());
            events.push(e);
          },
          error: (err) => {
            if (result.broken.length < 5) result.broken.push(`error ${JSON.stringify(err)}`.slice(0, 300));
            resolve();
          },
          complete: () => {
            const kinds = events.map((e) => e?.__typename);
            const inOrder = events.every((e, k) => e?.index === k + 1);
            const last = events.at(-1);
            const ok =
              kinds[0] === 'IvyCompletionStarted' &&
              last?.__typename === 'IvyCompletionFinished' &&
              deltaAt.length === plan.deltas &&
              inOrder;
            if (ok) {
              result.whole++;
              result.charged += last.creditsCharged ?? 0;
              result.addedDelayMs.push(...gaps(deltaAt, plan.slowMs));
              result.latenessMs.push(...lateness(deltaAt, plan.slowMs));
            } else if (result.broken.length < 5)
              result.broken.push(`${JSON.stringify(kinds)} ${last?.code ?? ''} ${last?.message ?? ''}`.slice(0, 300));
            resolve();
          },
        },
      );
    });
  await Promise.all(Array.from({ length: plan.streams }, (_, i) => one(i)));
  result.elapsedMs = performance.now() - t0;
  send({ t: 'done', result });
}
