// Sends one operation over one transport (HTTP POST, SSE, graphql-ws) and reports the first error or the data, the
// same shape for all three, so an abuse test can try each attack everywhere it applies.
import { print } from 'graphql';
import type { Document, GraphQLClient, GqlError, GqlResult } from '../../dev/client.ts';

export type Transport = 'http' | 'sse' | 'ws';
export const TRANSPORTS: Transport[] = ['http', 'sse', 'ws'];

export interface Outcome<R = unknown> {
  code?: string;
  message?: string;
  error?: GqlError;
  data?: R;
  status?: number;
}

const first = <R>(
  errors: readonly GqlError[] | undefined,
  data: R | null | undefined,
  status?: number,
): Outcome<R> => ({
  code: errors?.[0]?.extensions?.code,
  message: errors?.[0]?.message,
  error: errors?.[0],
  data: data ?? undefined,
  status,
});

async function viaSse<R>(
  client: GraphQLClient,
  query: string,
  variables?: unknown,
  operationName?: string,
): Promise<Outcome<R>> {
  const res = await fetch(`${client.baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
    },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const text = await res.text();
  if (!/text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
    const body = JSON.parse(text) as GqlResult<R>;
    return first(body.errors, body.data, res.status);
  }
  const frame = text.split('\n\n').find((f) => /^data:/m.test(f) && !/^event: complete/m.test(f));
  const body: GqlResult<R> = frame
    ? JSON.parse(
        frame
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5))
          .join('\n'),
      )
    : {};
  return first(body.errors, body.data, res.status);
}

function viaWs<R>(
  client: GraphQLClient,
  query: string,
  variables?: unknown,
  operationName?: string,
): Promise<Outcome<R>> {
  const ws = client.ws();
  return new Promise<Outcome<R>>((resolve) => {
    let outcome: Outcome<R> | undefined;
    ws.subscribe<R>(
      { query, variables: variables as Record<string, unknown> | undefined, operationName },
      {
        next: (r) => (outcome ??= first<R>(r.errors as GqlError[] | undefined, r.data)),
        // graphql-ws reports the operation's errors as an array and a closed socket as its CloseEvent.
        error: (e) => {
          const closed = e as { code?: number; reason?: string } | undefined;
          resolve(
            Array.isArray(e) ? first<R>(e, undefined) : { code: `CLOSED:${closed?.code}`, message: closed?.reason },
          );
        },
        complete: () => resolve(outcome ?? {}),
      },
    );
  }).finally(() => ws.dispose());
}

/**
 * Typed documents give a typed `data`; plain strings (invalid or generated documents) give `unknown`. `operationName`
 * picks one operation of a document that has several.
 */
export async function attempt<R, V>(
  client: GraphQLClient,
  transport: Transport,
  doc: Document<R, V>,
  variables?: V,
  operationName?: string,
): Promise<Outcome<R>> {
  const query = typeof doc === 'string' ? doc : print(doc);
  if (transport === 'ws') return viaWs<R>(client, query, variables, operationName);
  if (transport === 'sse') return viaSse<R>(client, query, variables, operationName);
  const res = await fetch(`${client.baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
    },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const body = (await res.json()) as GqlResult<R>;
  return first(body.errors, body.data, res.status);
}
