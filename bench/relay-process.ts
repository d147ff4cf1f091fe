// The floor under the two latency and throughput rows (bench/scale.ts): a bare graphql-ws relay of the same Anthropic
// SDK, on the same transport (src/providers/transport.ts) and the same batching WebSocket (src/lib/graphql-ws.ts), in a
// process of its own. No Yoga, no authentication, no limits, no hold, no ledger, no answer log: a subscription whose
// events are the SDK's text deltas between a start and an end, executed by graphql-js on a cached, validated
// document. What it adds over a direct SDK call, and what it costs a completion, is what this machine charges for
// the stack's own parts (a socket hop, graphql-ws, the SDK in a server); Ivy's figures above it are Ivy's.
// Its schema copies the shape of Ivy's events (the union's type names, `index`, `creditsCharged`), so the same load
// generators (bench/socket-client.ts, bench/stack-client.ts) drive it and check its streams whole and in order.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { buildSchema, parse, validate, type DocumentNode } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { BatchingWebSocket } from '../src/lib/graphql-ws.ts';
import { upstreamFetch } from '../src/providers/transport.ts';

export const RELAY_QUERY = /* GraphQL */ `
  subscription Relay($input: IvyCompletionInput!) {
    ivyCompletion(input: $input) {
      __typename
      ... on IvyCompletionStarted {
        index
      }
      ... on IvyTextDelta {
        index
        text
      }
      ... on IvyCompletionFinished {
        index
        creditsCharged
      }
    }
  }
`;

const schema = buildSchema(/* GraphQL */ `
  type Query {
    ok: Boolean
  }
  input MessageInput {
    role: String!
    content: String!
  }
  input IvyCompletionInput {
    orgId: ID!
    messages: [MessageInput!]!
    maxTokens: Int
  }
  type IvyCompletionStarted {
    index: Int!
  }
  type IvyTextDelta {
    index: Int!
    text: String!
  }
  type IvyCompletionFinished {
    index: Int!
    creditsCharged: Int!
  }
  union IvyCompletionEvent = IvyCompletionStarted | IvyTextDelta | IvyCompletionFinished
  type Subscription {
    ivyCompletion(input: IvyCompletionInput!): IvyCompletionEvent
  }
`);

type Input = { messages: { role: string; content: string }[]; maxTokens?: number | null };

function start(anthropicUrl: string) {
  const sdk = new Anthropic({
    apiKey: 'sk-ant-bench-relay-00000000000000000',
    baseURL: anthropicUrl,
    maxRetries: 0,
    fetch: upstreamFetch,
  });
  const rootValue = {
    async *ivyCompletion({ input }: { input: Input }) {
      const stream = await sdk.messages.create({
        model: 'claude-haiku-5-5',
        max_tokens: input.maxTokens ?? 256,
        messages: input.messages.map((m) => ({ role: 'user' as const, content: m.content })),
        stream: true,
      });
      let index = 0;
      yield { ivyCompletion: { __typename: 'IvyCompletionStarted', index: ++index } };
      for await (const ev of stream) {
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta')
          yield { ivyCompletion: { __typename: 'IvyTextDelta', index: ++index, text: ev.delta.text } };
      }
      yield { ivyCompletion: { __typename: 'IvyCompletionFinished', index: index + 1, creditsCharged: 0 } };
    },
  };
  const documents = new Map<string, DocumentNode>();
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/graphql', WebSocket: BatchingWebSocket });
  useServer(
    {
      schema,
      // Parsed and validated once per document, as Ivy's server does (Yoga's parser and validation caches).
      onSubscribe: (_ctx, _id, payload) => {
        let document = documents.get(payload.query);
        if (!document) {
          document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length) return errors;
          documents.set(payload.query, document);
        }
        return { schema, document, rootValue, variableValues: payload.variables };
      },
    },
    wss,
  );
  server.listen(0, '127.0.0.1', () =>
    process.send!({ t: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
  );
}

// Forked by bench/scale.ts (which imports RELAY_QUERY from here too, and must not start a relay of its own).
if (process.send && process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  process.on('message', (m: { t: string; anthropicUrl?: string }) => {
    if (m.t === 'start') start(m.anthropicUrl!);
    if (m.t === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ t: 'cpu', ms: (user + system) / 1000 });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
