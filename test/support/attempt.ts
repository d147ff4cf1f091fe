// Sends one operation over one transport (HTTP POST, SSE, graphql-ws) and reports the first error or the data, the
// same shape for all three, so an abuse test can try each attack everywhere it applies.
import type { GraphQLClient, GqlError } from '../../dev/client.ts';

export type Transport = 'http' | 'sse' | 'ws';
export const TRANSPORTS: Transport[] = ['http', 'sse', 'ws'];

export interface Outcome {
  code?: string;
  message?: string;
  error?: GqlError;
  data?: any;
  status?: number;
}

const first = (errors: GqlError[] | undefined, data: unknown, status?: number): Outcome => ({
  code: errors?.[0]?.extensions?.code,
  message: errors?.[0]?.message,
  error: errors?.[0],
  data: data ?? undefined,
  status,
});

async function viaSse(client: GraphQLClient, query: string, variables?: Record<string, unknown>): Promise<Outcome> {
  const res = await fetch(`${client.baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  if (!/text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
    const body = JSON.parse(text);
    return first(body.errors, body.data, res.status);
  }
  const frame = text.split('\n\n').find((f) => /^data:/m.test(f) && !/^event: complete/m.test(f));
  const body = frame
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

function viaWs(client: GraphQLClient, query: string, variables?: Record<string, unknown>): Promise<Outcome> {
  const ws = client.ws();
  return new Promise<Outcome>((resolve) => {
    let outcome: Outcome | undefined;
    ws.subscribe(
      { query, variables },
      {
        next: (r: any) => (outcome ??= first(r.errors, r.data)),
        error: (e: any) =>
          resolve(Array.isArray(e) ? first(e, undefined) : { code: `CLOSED:${e?.code}`, message: e?.reason }),
        complete: () => resolve(outcome ?? {}),
      },
    );
  }).finally(() => ws.dispose());
}

export async function attempt(
  client: GraphQLClient,
  transport: Transport,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Outcome> {
  if (transport === 'ws') return viaWs(client, query, variables);
  if (transport === 'sse') return viaSse(client, query, variables);
  const res = await fetch(`${client.baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  return first(body.errors, body.data, res.status);
}
