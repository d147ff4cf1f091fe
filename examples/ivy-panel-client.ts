// An Ivy panel client that survives lost connections. It asks once, with a requestId of its own; when the socket
// drops (a closed lid, a tunnel, a rolling deploy), graphql-ws's retry reconnects, to the next instance in `urls`,
// and re-sends the subscription, which by then carries `resumeFrom`: the last index received. The server replays what
// came after it, then the live rest, so the answer is printed whole and once. Nothing is asked or billed twice.
//
//   npx tsx examples/ivy-panel-client.ts <org id> "<question>"      (IVY_URLS, IVY_TOKEN from the environment)
import { randomUUID } from 'node:crypto';
import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const [orgId, question] = process.argv.slice(2);
  const answer = await askIvy({
    urls: (process.env.IVY_URLS ?? 'ws://localhost:4000/graphql').split(','),
    token: process.env.IVY_TOKEN ?? '',
    orgId,
    question,
    onText: (t) => process.stdout.write(t),
  });
  const e = answer.ending;
  process.stdout.write(
    e.__typename === 'IvyCompletionFinished'
      ? `\n[${e.finishReason}; ${e.creditsCharged} credits; balance ${e.creditBalance ?? 'n/a'}]\n`
      : `\n[${e.code}: ${e.message}]\n`,
  );
}
