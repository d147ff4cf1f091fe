// Operation limits, tried as an attacker would over every transport: each refusal is OPERATION_LIMIT_EXCEEDED with a
// message naming the limit, nothing runs (no upstream call, no audit row), and meanwhile /healthz stays 200 and
// another org's member still gets answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { attempt, TRANSPORTS } from '../support/attempt.ts';
import type { GqlResult } from '../../dev/client.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { costComputations } from '../../src/lib/operation-limits.ts';
import { compiledDocuments } from '../../src/lib/compiled-execution.ts';

let env: ServerWithVendors;
let server: TestServer;
let acme: SeededOrg;
let bystander: SeededOrg;

beforeAll(async () => {
  env = await startServerWithVendors();
  server = env.server;
  acme = await server.seed.org({ plan: 'GROWTH' });
  bystander = await server.seed.org({ plan: 'GROWTH' });
  await server.seed.key(acme.org.id, acme.interviewer.id, 'ANTHROPIC', 'sk-ant-api03-interviewer-key-0000000000');
});
afterAll(() => env?.stop());

const BALANCE = graphql(`
  query AbuseLimitsBalance($o: ID!) {
    creditBalance(orgId: $o) {
      balance
    }
  }
`);
const TYPENAME = graphql(`
  query AbuseLimitsTypename {
    __typename
  }
`);
const aliases = (n: number, field: string) =>
  `query($o: ID!) { ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
/** Depth 4 + n: __type > fields > type > ofType^n > name (only __schema is exempt from the depth count). */
const nested = (n: number) =>
  `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(n)} name ${'} '.repeat(n)} } } } }`;

describe.each(TRANSPORTS)('operation limits over %s', (transport) => {
  it('refuses a document larger than LIMIT_DOCUMENT_BYTES before parsing it, even unauthenticated', async () => {
    const huge = `{ ${'__typename '.repeat(4000)} }`; // 44 KB, over 32 KiB
    const r = await attempt(server.client(), transport, huge);
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/LIMIT_DOCUMENT_BYTES = 32768/);
  });

  it('refuses more than LIMIT_TOKENS tokens', async () => {
    const r = await attempt(server.client(), transport, `{ ${'__typename '.repeat(1200)} }`);
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/more than 1000 tokens.*LIMIT_TOKENS = 1000/);
  });

  it('refuses a query deeper than LIMIT_DEPTH', async () => {
    const r = await attempt(server.client(acme.admin.token), transport, nested(4));
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/depth limit of 6 exceeded, found 8.*LIMIT_DEPTH = 6/);
    // Fragments do not hide depth.
    const viaFragment = `{ __type(name: "Query") { ...F } } fragment F on __Type { fields { type { ofType { ofType { ofType { name } } } } } }`;
    expect((await attempt(server.client(), transport, viaFragment)).message).toMatch(
      /depth limit of 6 exceeded, found 7/,
    );
    // The same shape within the limit runs.
    expect((await attempt(server.client(acme.admin.token), transport, nested(2))).code).toBeUndefined(); // depth 6
  });

  it('refuses more aliases than LIMIT_ALIASES, before any of them touches the database', async () => {
    const r = await attempt(
      server.client(acme.interviewer.token),
      transport,
      aliases(16, 'creditBalance(orgId: $o) { balance }'),
      { o: acme.org.id },
    );
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/LIMIT_ALIASES = 15/);
    expect(r.data).toBeUndefined();
  });

  it('refuses more directives than LIMIT_DIRECTIVES', async () => {
    const r = await attempt(server.client(), transport, `{ __typename ${'@include(if: true) '.repeat(51)} }`);
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/LIMIT_DIRECTIVES = 50/);
  });

  it('charges list fields by the page size the variables ask for', async () => {
    const audit = aliases(
      4,
      'auditLog(orgId: $o, first: $n) { edges { node { id action actorId detail createdAt } } }',
    ).replace('$o: ID!', '$o: ID!, $n: Int');
    const big = await attempt(server.client(acme.admin.token), transport, audit, { o: acme.org.id, n: 100 });
    expect(big.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(big.message).toMatch(/cost is \d+ .*LIMIT_COST = 2500/);
    expect(
      (await attempt(server.client(acme.admin.token), transport, audit, { o: acme.org.id, n: 10 })).code,
    ).toBeUndefined();
    // What passed is remembered per document and variables: the same document asking for more is still refused.
    expect((await attempt(server.client(acme.admin.token), transport, audit, { o: acme.org.id, n: 100 })).code).toBe(
      'OPERATION_LIMIT_EXCEEDED',
    );
  });

  it('computes a cost that passed once per document and numbers: another id (a string) reuses it, another page size does not', async () => {
    // A document of this transport's own: the cache is per document, and the transports share this server.
    const audit = `query CostOnce${transport}($o: ID!, $n: Int) { auditLog(orgId: $o, first: $n) { edges { node { id } } } }`;
    const asAdmin = (o: string, n: number) => attempt(server.client(acme.admin.token), transport, audit, { o, n });
    expect((await asAdmin(acme.org.id, 7)).code).toBeUndefined();
    const computed = costComputations.count;
    // Another org's id: the cost check passes from memory; the resolver then refuses the org, as before.
    expect((await asAdmin(bystander.org.id, 7)).code).toBe('FORBIDDEN');
    expect((await asAdmin(acme.org.id, 7)).code).toBeUndefined();
    expect(costComputations.count).toBe(computed);
    expect((await asAdmin(acme.org.id, 8)).code).toBeUndefined();
    expect(costComputations.count).toBe(computed + 1);
  });

  it('compiles a document from its second execution on, so a new document each time buys no compilation', async () => {
    const asAdmin = (doc: string) => attempt(server.client(acme.admin.token), transport, doc, { o: acme.org.id });
    const once = `query OneOff${transport}($o: ID!) { creditBalance(orgId: $o) { balance } }`;
    const compiled = compiledDocuments.count;
    expect((await asAdmin(once)).code).toBeUndefined();
    expect(compiledDocuments.count).toBe(compiled);
    const repeated = `query Repeated${transport}($o: ID!) { creditBalance(orgId: $o) { balance } }`;
    for (let i = 0; i < 3; i++) expect((await asAdmin(repeated)).code).toBeUndefined();
    expect(compiledDocuments.count).toBe(compiled + 1);
  });

  it('runs the operation a request names from a document of several, however often the document comes back', async () => {
    const two = `query First${transport} { __typename } query Second${transport}($o: ID!) { creditBalance(orgId: $o) { balance } }`;
    const run = (operationName: string) =>
      attempt(server.client(acme.admin.token), transport, two, { o: acme.org.id }, operationName);
    const compiled = compiledDocuments.count;
    for (let i = 0; i < 3; i++) {
      expect((await run(`First${transport}`)).data).toEqual({ __typename: 'Query' });
      expect((await run(`Second${transport}`)).data).toEqual({ creditBalance: { balance: expect.any(Number) } });
    }
    expect(compiledDocuments.count).toBe(compiled);
  });

  it('charges provider calls: three aliased key tests are refused and none reaches the provider or the audit log', async () => {
    const before = env.anthropic.requests.length;
    const auditRows = await server.app.services.db.auditEvent.count({ where: { orgId: acme.org.id } });
    const tests = `mutation($o: ID!) { ${[1, 2, 3].map((i) => `t${i}: testPersonalKey(input: { orgId: $o, provider: ANTHROPIC }) { ok status }`).join(' ')} }`;
    const r = await attempt(server.client(acme.interviewer.token), transport, tests, { o: acme.org.id });
    expect(r.code).toBe('OPERATION_LIMIT_EXCEEDED');
    expect(r.message).toMatch(/LIMIT_COST = 2500/);
    expect(env.anthropic.requests.length).toBe(before);
    expect(await server.app.services.db.auditEvent.count({ where: { orgId: acme.org.id } })).toBe(auditRows);
  });
});

describe('operation limits leave everyone else alone', () => {
  it('keeps /healthz at 200 and answers another org’s member while unauthenticated huge documents and alias floods arrive', async () => {
    const quiet = performance.now();
    await server.client(bystander.staffing.token).data(BALANCE, { o: bystander.org.id });
    const quietMs = performance.now() - quiet;
    const flood = Array.from({ length: 16 }, (_, i) =>
      i % 2
        ? fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: `{ ${'__typename '.repeat(90_000)} }` }),
          }).then((r) => r.json() as Promise<GqlResult>)
        : server
            .client(acme.interviewer.token)
            .rawRequest(aliases(5000, 'creditBalance(orgId: $o) { balance }'), { o: acme.org.id }),
    );
    const started = performance.now();
    const [health, answer] = await Promise.all([
      fetch(`${server.url}/healthz`),
      server.client(bystander.staffing.token).request(BALANCE, { o: bystander.org.id }),
    ]);
    const latencyMs = performance.now() - started;
    const refusals = await Promise.all(flood);
    expect(health.status).toBe(200);
    expect(answer).toEqual({ data: { creditBalance: { balance: 1000 } } });
    expect(new Set(refusals.map((r) => r.errors?.[0]?.extensions?.code))).toEqual(
      new Set(['OPERATION_LIMIT_EXCEEDED']),
    );
    console.info(
      `[measure] bystander query: ${quietMs.toFixed(0)} ms alone, ${latencyMs.toFixed(0)} ms during a 16-request flood`,
    );
  });
});

describe('every limit is configurable', () => {
  let tight: TestServer;
  beforeAll(async () => {
    tight = await startTestServer({
      env: {
        LIMIT_DOCUMENT_BYTES: '300',
        LIMIT_TOKENS: '20',
        LIMIT_DEPTH: '2',
        LIMIT_ALIASES: '1',
        LIMIT_DIRECTIVES: '1',
        LIMIT_STRUCTURAL_COST: '3',
        LIMIT_COST: '2',
        MAX_REQUEST_BYTES: '2048',
      },
    });
  });
  afterAll(() => tight?.stop());

  it.each([
    ['LIMIT_DOCUMENT_BYTES = 300', `{ ${'__typename '.repeat(30)} }`],
    ['LIMIT_TOKENS = 20', `{ ${'__typename '.repeat(25)} }`],
    ['LIMIT_DEPTH = 2', `{ viewer { user { id } } }`],
    ['LIMIT_ALIASES = 1', `{ a: viewer { __typename } b: viewer { __typename } }`], // __typename aliases are exempt (armor's allowList)
    ['LIMIT_DIRECTIVES = 1', `{ __typename @include(if: true) @skip(if: false) }`],
    ['LIMIT_STRUCTURAL_COST = 3', `{ viewer { __typename } }`],
    ['LIMIT_COST = 2', `{ __typename __typename __typename }`],
  ])('applies %s', async (limit, query) => {
    const r = await tight.client().rawRequest(query);
    expect(r.errors?.map((e) => [e.extensions?.code, e.message])).toContainEqual([
      'OPERATION_LIMIT_EXCEEDED',
      expect.stringContaining(limit),
    ]);
    expect((await tight.client().request(TYPENAME)).data).toEqual({ __typename: 'Query' });
  });

  it('applies MAX_REQUEST_BYTES = 2048 to HTTP bodies', async () => {
    const r = await fetch(`${tight.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { x: 'a'.repeat(3000) } }),
    });
    expect(r.status).toBe(413);
    expect((await r.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
