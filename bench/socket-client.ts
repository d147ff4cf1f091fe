// Load generator for two rows of bench/scale.ts, in a process of its own (forked) so the server's process measures
// only the server:
//   - "idle": opens `sockets` graphql-ws connections, each authenticated and holding one orgAiSettingsChanged
//     subscription, says "ready" once every one is sent, and keeps them open until "stop";
//   - "streams": runs `streams` ivyCompletion subscriptions at once (the prompt asks the stand-in for 20 deltas,
//     `[[slow:N]]` apart), checks each stream whole and in order, and reports each inter-delta gap minus the
//     stand-in's own pause (the delay the server added on top of the upstream's schedule).
import { performance } from 'node:perf_hooks';
import type { Client } from 'graphql-ws';
import { GraphQLClient } from '../dev/client.ts';

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
}
export interface StreamsResult {
  whole: number;
  broken: string[];
  addedDelayMs: number[];
  charged: number;
  elapsedMs: number;
}

const send = (m: Record<string, unknown>) => process.send!(m);
const clients: Client[] = [];

process.on('message', (raw: { t: 'start'; plan: IdlePlan | StreamsPlan } | { t: 'stop' | 'count' }) => {
  if (raw.t !== 'start') {
    if (raw.t === 'stop') void Promise.all(clients.map((c) => c.dispose())).finally(() => process.exit(0));
    return;
  }
  if (raw.plan.mode === 'idle') idle(raw.plan);
  else void streams(raw.plan);
});

function idle(plan: IdlePlan) {
  let failed = 0;
  for (let s = 0; s < plan.sockets; s++) {
    const ws = new GraphQLClient(plan.url, plan.tokens[s % plan.tokens.length]).ws();
    clients.push(ws);
    ws.subscribe(
      { query: plan.query, variables: { orgId: plan.orgId } },
      { next: () => {}, error: () => void failed++, complete: () => {} },
    );
  }
  send({ t: 'ready' });
  process.on('message', (m: { t: string }) => {
    if (m.t === 'count') send({ t: 'count', failed });
  });
}

type IvyEvent = { __typename: string; index?: number; creditsCharged?: number } | null | undefined;

async function streams(plan: StreamsPlan) {
  const sockets = Math.ceil(plan.streams / plan.perSocket);
  const shared: Client[] = [];
  for (let s = 0; s < sockets; s++) {
    const ws = new GraphQLClient(plan.urls[s % plan.urls.length], plan.tokens[s % plan.tokens.length]).ws();
    shared.push(ws);
    clients.push(ws);
  }
  const result: StreamsResult = { whole: 0, broken: [], addedDelayMs: [], charged: 0, elapsedMs: 0 };
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
              messages: [{ role: 'USER', content: `stream ${i} [[deltas:${plan.deltas}]] [[slow:${plan.slowMs}]]` }],
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
              for (let k = 1; k < deltaAt.length; k++)
                result.addedDelayMs.push(deltaAt[k] - deltaAt[k - 1] - plan.slowMs);
            } else if (result.broken.length < 5) result.broken.push(JSON.stringify(kinds).slice(0, 300));
            resolve();
          },
        },
      );
    });
  await Promise.all(Array.from({ length: plan.streams }, (_, i) => one(i)));
  result.elapsedMs = performance.now() - t0;
  send({ t: 'done', result });
}
