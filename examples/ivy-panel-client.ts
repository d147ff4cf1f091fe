// An Ivy panel client that survives lost connections, over either transport the API serves. It asks once, with a
// requestId of its own; when the connection drops (a closed lid, a tunnel, a rolling deploy) it reconnects and asks
// again with `resumeFrom`: the last index received. The server replays what came after it, then the live rest, so the
// answer is printed whole and once. Nothing is asked or billed twice.
//   askIvy          graphql-ws (ws://…/graphql): graphql-ws's retry reconnects, to the next instance in `urls`.
//   askIvyOverSse   server-sent events (POST http://…/graphql, Accept: text/event-stream) with graphql-sse's client
//                   in its "distinct connections" mode, which is what Yoga speaks; a closed request only detaches the
//                   answer, so a new request with `resumeFrom` picks it up.
//
//   npx tsx examples/ivy-panel-client.ts <org id> "<question>"      (IVY_URLS, IVY_TOKEN from the environment;
//                                                                    IVY_TRANSPORT=sse with IVY_URL=http://…/graphql)
import { randomUUID } from 'node:crypto';
import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { graphql } from '../src/generated/graphql/index.ts';

export const AskIvy = graphql(`
  subscription AskIvy($input: IvyCompletionInput!) {
    ivyCompletion(input: $input) {
      __typename
      ... on IvyCompletionStarted {
        index
        model
      }
      ... on IvyTextDelta {
        index
        text
      }
      ... on IvyCompletionFinished {
        index
        finishReason
        creditsCharged
        creditBalance
      }
      ... on IvyCompletionFailed {
        index
        code
        message
        creditsCharged
        creditBalance
      }
    }
  }
`);

type Event = ResultOf<typeof AskIvy>['ivyCompletion'];
export type Ending = Extract<Event, { __typename: 'IvyCompletionFinished' | 'IvyCompletionFailed' }>;

export interface AskOptions {
  /** The API's instances (or one load balancer): each connection attempt takes the next one, read at that moment. */
  urls: string[];
  token: string;
  orgId: string;
  question: string;
  requestId?: string;
  /** Each piece of text, once, in order. */
  onText?: (text: string) => void;
  /** Called at each (re)connection, with how many there were. */
  onConnected?: (connections: number) => void;
  retryAttempts?: number;
}

export interface Answer {
  requestId: string;
  text: string;
  ending: Ending;
  connections: number;
}

const backoff = (retries: number) =>
  new Promise<void>((r) => setTimeout(r, Math.min(2000, 50 * 2 ** retries) * (0.5 + Math.random())));

export function askIvy(o: AskOptions): Promise<Answer> {
  const requestId = o.requestId ?? randomUUID();
  let connections = 0;
  let attempts = 0;
  let text = '';
  // graphql-ws serialises the payload at each (re)send: the resume point below is what a retry sends.
  const input: VariablesOf<typeof AskIvy>['input'] = {
    orgId: o.orgId,
    messages: [{ role: 'USER', content: o.question }],
    requestId,
  };
  const client = createClient({
    url: () => o.urls[attempts++ % o.urls.length],
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${o.token}` },
    retryAttempts: o.retryAttempts ?? 20,
    retryWait: backoff,
    shouldRetry: () => true, // a dropped socket or an instance going away: try the next one
    on: {
      connected: () => {
        connections++;
        o.onConnected?.(connections);
      },
    },
  });
  return new Promise<Answer>((resolve, reject) => {
    let ending: Ending | undefined;
    const subscribe = () =>
      client.subscribe<ResultOf<typeof AskIvy>>(
        { query: print(AskIvy), variables: { input } },
        {
          next: ({ data }) => {
            const event = data?.ivyCompletion;
            if (!event || event.index <= (input.resumeFrom ?? 0)) return; // never twice
            input.resumeFrom = event.index;
            if (event.__typename === 'IvyTextDelta') {
              text += event.text;
              o.onText?.(event.text);
            }
            if (event.__typename === 'IvyCompletionFinished' || event.__typename === 'IvyCompletionFailed')
              ending = event;
          },
          error: (err) => {
            const code = (err as { extensions?: { code?: string } }[])?.[0]?.extensions?.code;
            // Lost before the first event arrived, though the server had it: resume from the start instead.
            if (code === 'DUPLICATE_REQUEST' && input.resumeFrom == null) {
              input.resumeFrom = 0;
              return subscribe();
            }
            void client.dispose();
            reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
          },
          complete: () => {
            void client.dispose();
            if (ending) resolve({ requestId, text, ending, connections });
            else reject(new Error('the answer ended without its last event'));
          },
        },
      );
    subscribe();
  });
}

/** Options of the SSE transport: one HTTP endpoint (an instance, or the load balancer in front of them). */
export interface SseAskOptions extends Omit<AskOptions, 'urls' | 'onConnected'> {
  /** http(s)://…/graphql */
  url: string;
  /** Called at each request (the first, then each resume), with how many there were. */
  onConnected?: (connections: number) => void;
  /** Overrides fetch (tests cut the connection through it). */
  fetchFn?: typeof fetch;
}

/**
 * The same answer over server-sent events. Each request is one subscription; when it ends without the answer's last
 * event (the network went away), the next request resumes from the last index received.
 */
export async function askIvyOverSse(o: SseAskOptions): Promise<Answer> {
  const requestId = o.requestId ?? randomUUID();
  const client = createSseClient({
    url: o.url,
    headers: { authorization: `Bearer ${o.token}` },
    fetchFn: o.fetchFn,
    retryAttempts: 0, // resuming is ours: a retry must carry resumeFrom, which the client's own retry would not
  });
  const input: VariablesOf<typeof AskIvy>['input'] = {
    orgId: o.orgId,
    messages: [{ role: 'USER', content: o.question }],
    requestId,
  };
  let text = '';
  let ending: Ending | undefined;
  let connections = 0;
  const attempts = o.retryAttempts ?? 20;
  try {
    for (let attempt = 0; !ending; attempt++) {
      connections++;
      o.onConnected?.(connections);
      try {
        for await (const result of client.iterate<ResultOf<typeof AskIvy>>({
          query: print(AskIvy),
          variables: { input },
        })) {
          if (result.errors?.length) throw new IvyRefused(result.errors);
          const event = result.data?.ivyCompletion;
          if (!event || event.index <= (input.resumeFrom ?? 0)) continue; // never twice
          input.resumeFrom = event.index;
          if (event.__typename === 'IvyTextDelta') {
            text += event.text;
            o.onText?.(event.text);
          }
          if (event.__typename === 'IvyCompletionFinished' || event.__typename === 'IvyCompletionFailed')
            ending = event;
        }
      } catch (err) {
        if (err instanceof IvyRefused) {
          // Lost before the first event arrived, though the server had it: resume from the start instead.
          if (err.code === 'DUPLICATE_REQUEST' && input.resumeFrom == null) input.resumeFrom = 0;
          else throw err;
        } else if (attempt >= attempts) throw err;
      }
      if (!ending && attempt >= attempts) throw new Error('the answer ended without its last event');
      if (!ending) await backoff(attempt);
    }
  } finally {
    client.dispose();
  }
  return { requestId, text, ending, connections };
}

/** The server refused the subscription (NO_API_KEY, INSUFFICIENT_CREDITS, …): asking again would not help. */
export class IvyRefused extends Error {
  readonly code: string | undefined;
  constructor(readonly errors: readonly { message: string; extensions?: Record<string, unknown> }[]) {
    super(errors.map((e) => e.message).join('; '));
    const code = errors[0]?.extensions?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [orgId, question] = process.argv.slice(2);
  const common = {
    token: process.env.IVY_TOKEN ?? '',
    orgId,
    question,
    onText: (t: string) => process.stdout.write(t),
  };
  const answer =
    process.env.IVY_TRANSPORT === 'sse'
      ? await askIvyOverSse({ ...common, url: process.env.IVY_URL ?? 'http://localhost:4000/graphql' })
      : await askIvy({ ...common, urls: (process.env.IVY_URLS ?? 'ws://localhost:4000/graphql').split(',') });
  const e = answer.ending;
  process.stdout.write(
    e.__typename === 'IvyCompletionFinished'
      ? `\n[${e.finishReason}; ${e.creditsCharged} credits; balance ${e.creditBalance}]\n`
      : `\n[${e.code}: ${e.message}; balance ${e.creditBalance}]\n`,
  );
}
