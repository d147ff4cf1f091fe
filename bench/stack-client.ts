// Load generator for bench/scale.ts's one-org stack row, in a process of its own (forked) so the bench's process
// measures only the two server instances: `inFlight` workers each run ivyCompletion after ivyCompletion (short
// answers) over graphql-ws connections that stay open, until `total` have run; each stream is checked whole and in
// order, and what the finished ones were charged is summed for the books.
import { performance } from 'node:perf_hooks';
import type { Client } from 'graphql-ws';
import { GraphQLClient } from '../dev/client.ts';

export interface StackPlan {
  urls: string[];
  orgId: string;
  query: string;
  total: number;
  inFlight: number;
  /** One member's token per socket; worker w uses socket w % tokens.length. */
  tokens: string[];
}
export interface StackResult {
  whole: number;
  charged: number;
  broken: string[];
  elapsedMs: number;
  /** This process's own CPU over the run (the load generator's cost, not the server's). */
  cpuMs: number;
}

type IvyEvent = { __typename: string; index?: number; creditsCharged?: number } | null | undefined;

process.once('message', (plan: StackPlan) => void run(plan));

async function run(plan: StackPlan) {
  const sockets: Client[] = plan.tokens.map((token, i) =>
    new GraphQLClient(plan.urls[i % plan.urls.length], token).ws({ keepOpen: true }),
  );
  const result: StackResult = { whole: 0, charged: 0, broken: [], elapsedMs: 0, cpuMs: 0 };
  const one = (i: number, socket: Client) =>
    new Promise<void>((resolve) => {
      const events: IvyEvent[] = [];
      const input = { orgId: plan.orgId, messages: [{ role: 'USER', content: `short answer ${i} [[deltas:3]]` }] };
      socket.subscribe(
        { query: plan.query, variables: { input: { ...input, maxTokens: 64 } } },
        {
          next: (r) => void events.push((r.data as { ivyCompletion?: IvyEvent } | null)?.ivyCompletion),
          error: (err) => {
            if (result.broken.length < 5) result.broken.push(`error ${JSON.stringify(err)}`.slice(0, 300));
            resolve();
          },
          complete: () => {
            const last = events.at(-1);
            const whole =
              events[0]?.__typename === 'IvyCompletionStarted' &&
              last?.__typename === 'IvyCompletionFinished' &&
              events.every((e, k) => e?.index === k + 1);
            if (whole) {
              result.whole++;
              result.charged += last.creditsCharged ?? 0;
            } else if (result.broken.length < 5)
              result.broken.push(JSON.stringify(events.map((e) => e?.__typename)).slice(0, 300));
            resolve();
          },
        },
      );
    });
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: plan.inFlight }, async (_, w) => {
      for (let i = next++; i < plan.total; i = next++) await one(i, sockets[w % sockets.length]);
    }),
  );
  result.elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  result.cpuMs = (cpu.user + cpu.system) / 1000;
  await Promise.all(sockets.map((s) => s.dispose()));
  process.send!({ t: 'done', result }, () => process.exit(0));
}
