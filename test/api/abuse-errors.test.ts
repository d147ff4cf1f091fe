// Errors that leak or blame the server: every HTTP- and request-level refusal carries a code of enum ErrorCode,
// nothing echoes the body, client mistakes are info lines (never error), and no log line holds the document.
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/lib/tokens.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { attempt, TRANSPORTS } from '../support/attempt.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

let server: TestServer;
let acme: SeededOrg;
let errorCodes: string[];

beforeAll(async () => {
  server = await startTestServer(); // LOG_LEVEL=debug: the most talkative level
  acme = await server.seed.org({ plan: 'GROWTH' });
  const enumType = await server.client().data(
    graphql(`
      query AbuseErrorsCodes {
        __type(name: "ErrorCode") {
          enumValues {
            name
          }
        }
      }
    `),
  );
  errorCodes = enumType.__type!.enumValues!.map((v) => v.name);
});
afterAll(() => server?.stop());

const errorLines = () => server.logs.filter((l) => JSON.parse(l).level === 'error');

async function raw(init: RequestInit & { path?: string }) {
  const res = await fetch(`${server.url}${init.path ?? '/graphql'}`, init);
  const text = await res.text();
  const errors = (JSON.parse(text).errors ?? []) as { extensions?: { code?: string } }[];
  return { status: res.status, text, code: errors[0]?.extensions?.code, codes: errors.map((e) => e.extensions?.code) };
}

describe('HTTP-level refusals', () => {
  const json = { 'content-type': 'application/json' };
  const cases: [string, () => RequestInit & { path?: string }, string][] = [
    [
      'invalid JSON',
      () => ({
        method: 'POST',
        headers: json,
        body: '{"query": "{ __typename }", "variables": {"apiKey": "sk-ant-api03-SECRETSECRET',
      }),
      'BAD_REQUEST',
    ],
    ['no query', () => ({ method: 'POST', headers: json, body: '{}' }), 'BAD_REQUEST'],
    [
      'a method GraphQL does not use',
      () => ({ method: 'PUT', headers: json, body: '{"query":"{ __typename }"}' }),
      'BAD_REQUEST',
    ],
    [
      'a body that is not JSON',
      () => ({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      'BAD_REQUEST',
    ],
    [
      'a mutation over GET',
      () => ({
        method: 'GET',
        path: `/graphql?query=${encodeURIComponent('mutation { deletePersonalKey(input: { orgId: "x", provider: ANTHROPIC }) }')}`,
      }),
      'BAD_REQUEST',
    ],
    [
      'an unknown operation name',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: '{ __typename }', operationName: 'Nope' }),
      }),
      'BAD_REQUEST',
    ],
    [
      'a syntax error',
      () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename' }) }),
      'GRAPHQL_PARSE_FAILED',
    ],
    [
      'a syntax error over GET',
      () => ({ method: 'GET', path: `/graphql?query=${encodeURIComponent('{ viewer {')}` }),
      'GRAPHQL_PARSE_FAILED',
    ],
    [
      'fields the schema does not have (two of them)',
      () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: '{ nope alsoNope }' }) }),
      'GRAPHQL_VALIDATION_FAILED',
    ],
    [
      'a variable of the wrong type',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          query: 'query($o: ID!) { creditBalance(orgId: $o) { balance } }',
          variables: { o: { not: 'an id' } },
        }),
      }),
      'BAD_USER_INPUT',
    ],
    [
      'a missing required variable',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: 'query($o: ID!) { creditBalance(orgId: $o) { balance } }' }),
      }),
      'BAD_USER_INPUT',
    ],
    [
      'a query over the alias limit',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: creditBalance(orgId: "x") { balance }`).join(' ')} }`,
        }),
      }),
      'OPERATION_LIMIT_EXCEEDED',
    ],
    [
      'a persisted-query hash without a query (there is no persisted-query store)',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
      }),
      'BAD_REQUEST',
    ],
    [
      'variables that are not an object',
      () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename }', variables: 'x' }) }),
      'BAD_REQUEST',
    ],
    ['a GET with no query', () => ({ method: 'GET', path: '/graphql' }), 'BAD_REQUEST'],
    [
      'a field that needs a token, without one',
      () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: '{ viewer { user { id } } }' }) }),
      'UNAUTHENTICATED',
    ],
    [
      'a batch (batching is off)',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
      }),
      'BAD_REQUEST',
    ],
    [
      'a query string too long for the HTTP parser',
      () => ({ method: 'GET', path: `/graphql?query=${'%7B'.repeat(10_000)}` }),
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'a body over MAX_REQUEST_BYTES',
      () => ({
        method: 'POST',
        headers: json,
        body: JSON.stringify({ query: '{ __typename }', variables: { x: 'a'.repeat(1_100_000) } }),
      }),
      'PAYLOAD_TOO_LARGE',
    ],
  ];

  it.each(cases)(
    'answers %s with a code of enum ErrorCode, and no originalError or stack',
    async (_name, init, code) => {
      const before = errorLines().length;
      const r = await raw(init());
      expect(r.code).toBe(code);
      // Every error of the answer, not only the first, carries a code the schema's enum (read by introspection) lists.
      expect(r.codes.length).toBeGreaterThan(0);
      for (const c of r.codes) expect(errorCodes).toContain(c);
      expect(r.text).not.toMatch(/originalError|"stack"|"exception"|\bat .*\.(ts|js):\d+/);
      // A client's mistake is no error of ours.
      expect(errorLines().length).toBe(before);
    },
  );

  it('refuses a chunked body over MAX_REQUEST_BYTES while reading it', async () => {
    const chunks = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(`{"query":"{ __typename }","variables":{"x":"`));
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('a'.repeat(100_000)));
        c.enqueue(new TextEncoder().encode('"}}'));
        c.close();
      },
    });
    const r = await raw({ method: 'POST', headers: json, body: chunks, duplex: 'half' } as RequestInit);
    expect(r.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('reads a chunked body within MAX_REQUEST_BYTES, and one with a Content-Length right at it', async () => {
    const text = JSON.stringify({ query: 'query Chunked { __typename }' });
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < text.length; i += 7) c.enqueue(new TextEncoder().encode(text.slice(i, i + 7)));
        c.close();
      },
    });
    const chunked = await raw({ method: 'POST', headers: json, body: chunks, duplex: 'half' } as RequestInit);
    expect([chunked.status, JSON.parse(chunked.text)]).toEqual([200, { data: { __typename: 'Query' } }]);
    // MAX_REQUEST_BYTES is its default here, 1 MiB: a body of exactly that size is read, one byte more is refused.
    const sized = (bytes: number) => {
      const padded = JSON.stringify({ query: '{ __typename }', variables: { x: '' } });
      return padded.replace('"x":""', `"x":"${'a'.repeat(bytes - padded.length)}"`);
    };
    const atLimit = await raw({ method: 'POST', headers: json, body: sized(1024 * 1024) });
    expect([atLimit.status, JSON.parse(atLimit.text)]).toEqual([200, { data: { __typename: 'Query' } }]);
    const over = await raw({ method: 'POST', headers: json, body: sized(1024 * 1024 + 1) });
    expect([over.status, over.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('never echoes the body of an invalid JSON request, key included', async () => {
    const r = await raw(cases[0][1]());
    expect(r.text).not.toMatch(/SECRETSECRET|apiKey|originalError/);
  });
});

describe('operation-level refusals over every transport', () => {
  it.each(TRANSPORTS)(
    'carry GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT, all in the enum (over %s)',
    async (transport) => {
      const c = server.client(acme.admin.token);
      const seen: [string, string | undefined][] = [];
      for (const [doc, variables, code] of [
        ['subscription {', {}, 'GRAPHQL_PARSE_FAILED'],
        ['subscription { nope }', {}, 'GRAPHQL_VALIDATION_FAILED'],
        ['query($o: ID!) { creditBalance(orgId: $o) { balance } }', { o: { not: 'an id' } }, 'BAD_USER_INPUT'],
      ] as const) {
        const r = await attempt(c, transport, doc, variables);
        seen.push([doc, r.code]);
        expect(r.code, doc).toBe(code);
        expect(JSON.stringify(r.error)).not.toMatch(/originalError|"stack"/);
      }
      for (const [, code] of seen) expect(errorCodes).toContain(code);
    },
  );
});

describe('client mistakes are the client’s, not errors of ours', () => {
  const USAGE = graphql(`
    query AbuseErrorsUsagePage($o: ID!, $after: String) {
      usage(orgId: $o) {
        entries(after: $after) {
          edges {
            node {
              id
            }
          }
        }
      }
    }
  `);
  const AUDIT = graphql(`
    query AbuseErrorsAuditPage($o: ID!, $after: String) {
      auditLog(orgId: $o, after: $after) {
        edges {
          node {
            id
          }
        }
      }
    }
  `);

  // Two result types; only the refusal is compared.
  it.each<[string, TypedDocumentNode<unknown, { o: string; after: string }>, string]>([
    ['a usage cursor that is not base64 of ours', USAGE, 'not-a-uuid'],
    ['a forged usage cursor that decodes to a non-uuid', USAGE, Buffer.from('GPC:S:not-a-uuid').toString('base64')],
    ['an audit cursor that is not base64 of ours', AUDIT, 'Zm9yZ2Vk'],
    ['a forged audit cursor that decodes to a non-uuid', AUDIT, Buffer.from('GPC:S:not-a-uuid').toString('base64')],
  ])('refuses %s with BAD_USER_INPUT, logged at info', async (_name, query, after) => {
    const before = errorLines().length;
    const r = await server.client(acme.admin.token).request(query, { o: acme.org.id, after });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    // In our words: Pothos's own message would quote the cursor back.
    expect(r.errors?.[0].message).toMatch(/^The cursor is not one this API returned/);
    expect(r.errors?.[0].message).not.toContain(after);
    expect(errorLines().length).toBe(before);
    expect(
      server.logs.some((l) =>
        ['"level":"info"', '"request refused"', '"BAD_USER_INPUT"'].every((part) => l.includes(part)),
      ),
    ).toBe(true);
  });

  it('refuses a valid token for a user that does not exist with UNAUTHENTICATED, logged at info', async () => {
    const ghost = await signUserToken(server.app.jwtSecret, randomUUID());
    const before = errorLines().length;
    const r = await server.client(ghost).request(
      graphql(`
        query AbuseErrorsGhostViewer {
          viewer {
            user {
              id
            }
          }
        }
      `),
    );
    expect(r.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/user who does not exist/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(errorLines().length).toBe(before);
  });
});

describe('logs at LOG_LEVEL=debug', () => {
  it.each(TRANSPORTS)(
    'hold the operation name and a hash of the document, never its text (over %s)',
    async (transport) => {
      const marker = `PROMPT-${randomUUID()}`;
      const docs = [
        `mutation SaveIt { setPersonalKey(input: { orgId: "${acme.org.id}", provider: ANTHROPIC, apiKey: "sk-ant-api03 ${marker}" }) { hint } }`,
        `query Broken { viewer { ${marker.replace(/-/g, '_')} } }`,
        `query Unparsable { "${marker}" `,
        `# ${marker}\nquery Commented { __typename }`,
      ];
      for (const doc of docs) await attempt(server.client(acme.interviewer.token), transport, doc);
      const logs = server.logs.join('\n');
      expect(logs).not.toContain(marker);
      expect(logs).not.toContain(marker.replace(/-/g, '_'));
      const hash = createHash('sha256').update(docs[3]).digest('hex').slice(0, 16);
      expect(server.logs.some((l) => l.includes(hash))).toBe(true);
    },
  );
});
