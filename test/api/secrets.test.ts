import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { reencryptAllKeys } from '../../src/domain/key-rotation.ts';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { watchOrgSettings } from '../support/live.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import { startFakeOpenAI } from '../../dev/vendors/openai-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import type { AiProvider, SetPersonalKeyInput, TestPersonalKeyInput } from '../../src/generated/graphql/graphql.ts';
import type { GqlResult } from '../../dev/client.ts';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { DELETE_PERSONAL_KEY, SET_PERSONAL_KEY, TEST_PERSONAL_KEY } from '../../dev/documents.ts';

const KEYS_CHANGED = graphql(`
  subscription SecretsKeysChanged($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);
const SETTINGS = graphql(`
  query SecretsSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      model {
        modelId
      }
      viewerKeys {
        provider
        hint
        status
        lastTestedAt
        updatedAt
      }
    }
    creditBalance(orgId: $orgId) {
      balance
    }
  }
`);
const IMPACT = graphql(`
  query SecretsImpact($orgId: ID!) {
    providerChangeImpact(orgId: $orgId, provider: ANTHROPIC) {
      membersWithKey
      membersWithValidKey
    }
  }
`);
const AUDIT = graphql(`
  query SecretsAudit($orgId: ID!) {
    auditLog(orgId: $orgId, first: 100) {
      edges {
        node {
          action
          actorId
          detail
          createdAt
        }
      }
    }
  }
`);

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);
const secretPart = () => randomBytes(24).toString('base64url').replace(/[-_]/g, 'x'); // 32 chars

let anthropic: FakeVendorServer;
let openai: FakeVendorServer;

beforeAll(async () => {
  [anthropic, openai] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()]);
});
afterAll(async () => {
  await Promise.all([anthropic?.close(), openai?.close()]);
});

const vendorEnv = () => ({ ANTHROPIC_BASE_URL: anthropic.url, OPENAI_BASE_URL: openai.url });
function keyInput(o: SeededOrg, provider: AiProvider, apiKey: string): { input: SetPersonalKeyInput };
function keyInput(o: SeededOrg, provider: AiProvider): { input: TestPersonalKeyInput };
function keyInput(
  o: SeededOrg,
  provider: AiProvider,
  apiKey?: string,
): { input: SetPersonalKeyInput | TestPersonalKeyInput } {
  return { input: { orgId: o.org.id, provider, ...(apiKey ? { apiKey } : {}) } };
}

/** Every column of every row of every table in the public schema, as PostgreSQL prints it, plus the raw bytea values. */
async function dumpDatabase(databaseUrl: string): Promise<{ text: string; bytes: Buffer[] }> {
  const client = new pg.Client(pgConfigFromUrl(databaseUrl));
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const parts: string[] = [];
    for (const { table_name } of tables) {
      const { rows } = await client.query<{ t: string }>(`SELECT t::text AS t FROM "${table_name}" t`);
      parts.push(...rows.map((r) => r.t));
    }
    const { rows: byteaColumns } = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea'`,
    );
    const bytes: Buffer[] = [];
    for (const { table_name, column_name } of byteaColumns) {
      const { rows } = await client.query<{ v: Buffer | null }>(`SELECT "${column_name}" AS v FROM "${table_name}"`);
      bytes.push(...rows.flatMap((r) => (r.v ? [r.v] : [])));
    }
    return { text: parts.join('\n'), bytes };
  } finally {
    await client.end();
  }
}

/** The forms a leaked key could take: itself, its secret part, and every 10-character run of that part, raw, hex or base64. */
function leakForms(key: string, secret: string): string[] {
  const runs: string[] = [];
  for (let i = 0; i + 10 <= secret.length; i++) runs.push(secret.slice(i, i + 10));
  return [key, secret, Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64'), ...runs];
}

describe('a personal API key saved through the API', () => {
  let server: TestServer;
  beforeAll(async () => {
    // No coalescing window: every change gets its own settings event, and each event is checked for leaks below.
    server = await startTestServer({ env: { ...vendorEnv(), SETTINGS_EVENTS_QUIET_MS: '0' } });
  });
  afterAll(() => server?.stop());

  it('appears nowhere in clear: not in responses, subscription events, errors, logs, the audit trail or any table', async () => {
    const o = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    const secrets = {
      anthropic1: secretPart(),
      anthropic2: secretPart(),
      openai1: secretPart(),
      openai2: secretPart(),
    };
    const keys = {
      anthropic1: `sk-ant-api03-${secrets.anthropic1}`,
      anthropic2: `sk-ant-api03-${secrets.anthropic2}`,
      openai1: `sk-proj-${secrets.openai1}`,
      openai2: `sk-proj-${secrets.openai2}`,
    };

    // Every response body, exactly as the server sent it. A raw string document and variables outside the
    // document's type are how the refusals below are sent; their results stay unknown.
    const bodies: string[] = [];
    const send = async <R, V>(
      token: string,
      doc: TypedDocumentNode<R, V> | string,
      variables: V | Record<string, unknown>,
    ): Promise<GqlResult<R>> => {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: typeof doc === 'string' ? doc : print(doc), variables }),
      });
      const text = await res.text();
      bodies.push(text);
      return JSON.parse(text) as GqlResult<R>;
    };
    const watchers = await watchOrgSettings(server, o.org.id, [o.admin.token, o.interviewer.token], KEYS_CHANGED);

    const admin = o.admin.token;
    const interviewer = o.interviewer.token;
    // Save, test, refuse a bad one, replace, test again: for both providers, by two members.
    expect((await send(admin, SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', keys.anthropic1))).errors).toBeUndefined();
    expect((await send(interviewer, SET_PERSONAL_KEY, keyInput(o, 'OPENAI', keys.openai1))).errors).toBeUndefined();
    expect(
      (
        await send(
          interviewer,
          SET_PERSONAL_KEY,
          keyInput(o, 'ANTHROPIC', keys.anthropic1.replace('sk-ant-', 'sk-ant-invalid-')),
        )
      ).errors,
    ).toBeUndefined();
    expect((await send(admin, TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).data!.testPersonalKey.ok).toBe(true);
    expect((await send(interviewer, TEST_PERSONAL_KEY, keyInput(o, 'OPENAI'))).data!.testPersonalKey.ok).toBe(true);
    expect((await send(interviewer, TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).data!.testPersonalKey.status).toBe(
      'INVALID',
    );
    const refusals = [
      await send(admin, SET_PERSONAL_KEY, keyInput(o, 'OPENAI', keys.anthropic1)), // wrong vendor
      await send(admin, SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', `${keys.anthropic1} `)), // whitespace
      await send(interviewer, SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', keys.openai1)),
      await send(admin, SET_PERSONAL_KEY, { input: { orgId: o.org.id, apiKey: keys.anthropic1 } }), // no provider: variable coercion
      await send(admin, SET_PERSONAL_KEY, {
        input: { orgId: o.org.id, provider: 'ANTHROPIC', apiKey: keys.anthropic1, userId: o.interviewer.id },
      }),
      await send(
        admin,
        `mutation { setPersonalKey(input: { orgId: "${o.org.id}", apiKey: "${keys.anthropic1}" }) { hint } }`,
        {},
      ),
    ];
    expect(refusals.map((r) => r.errors?.[0]?.extensions?.code)).toEqual([
      'INVALID_API_KEY_FORMAT',
      'INVALID_API_KEY_FORMAT',
      'INVALID_API_KEY_FORMAT',
      'BAD_USER_INPUT',
      'BAD_USER_INPUT',
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    expect((await send(admin, SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', keys.anthropic2))).errors).toBeUndefined();
    expect((await send(interviewer, SET_PERSONAL_KEY, keyInput(o, 'OPENAI', keys.openai2))).errors).toBeUndefined();
    expect((await send(admin, TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).data!.testPersonalKey.ok).toBe(true);
    expect((await send(interviewer, TEST_PERSONAL_KEY, keyInput(o, 'OPENAI'))).data!.testPersonalKey.ok).toBe(true);
    // The stand-ins prove the keys really reached the providers, so the server did hold them in clear.
    expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual(
      expect.arrayContaining([hashOf(keys.anthropic1), hashOf(keys.anthropic2)]),
    );
    expect(openai.requests.map((r) => r.authKeyHash)).toEqual(
      expect.arrayContaining([hashOf(keys.openai1), hashOf(keys.openai2)]),
    );
    // Everything a client can read back.
    for (const token of [admin, interviewer, o.staffing.token]) await send(token, SETTINGS, { orgId: o.org.id });
    const audit = await send(admin, AUDIT, { orgId: o.org.id });
    expect(audit.data!.auditLog.edges.length).toBeGreaterThanOrEqual(9);
    await send(admin, IMPACT, { orgId: o.org.id });
    expect((await send(interviewer, DELETE_PERSONAL_KEY, keyInput(o, 'OPENAI'))).data!.deletePersonalKey).toBe(true);

    await Promise.all(watchers.map((w) => w.waitFor(11)));
    for (const w of watchers) w.stop();
    const events = watchers.flatMap((w) => w.results.map((r) => JSON.stringify(r)));

    const { text: tables, bytes } = await dumpDatabase(server.config.databaseUrl!);
    expect(tables).toContain('personal_key.saved'); // the dump really covers the audit trail
    expect(bytes.length).toBeGreaterThanOrEqual(2); // ciphertexts and nonces of the remaining keys
    expect(server.logs.length).toBeGreaterThan(0);

    const places = {
      responses: bodies.join('\n'),
      subscriptionEvents: events.join('\n'),
      logs: server.logs.join('\n'),
      auditTrail: JSON.stringify(audit),
      tables,
    };
    for (const [name, key] of Object.entries(keys)) {
      const forms = leakForms(key, secrets[name as keyof typeof secrets]);
      for (const [where, text] of Object.entries(places)) {
        for (const form of forms) expect(text.includes(form), `${name} (${form}) in ${where}`).toBe(false);
      }
      for (const b of bytes) {
        for (const form of [key, ...forms.slice(4)])
          expect(b.includes(Buffer.from(form)), `${name} bytes in a bytea column`).toBe(false);
      }
    }
    // The hint is the most a response may show.
    expect(places.responses).toContain(`sk-ant-…${keys.anthropic2.slice(-4)}`);
  });

  it('does not decrypt once its ciphertext is copied onto another member’s row, and the key is never sent upstream', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const elsewhere = await server.seed.org({ plan: 'GROWTH' });
    await server.app.services.db.membership.create({
      data: { orgId: elsewhere.org.id, userId: o.admin.id, role: 'ADMIN' },
    });
    const key = `sk-ant-api03-${secretPart()}`;
    await server.client(o.admin.token).data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', key));
    expect(
      (await server.client(o.admin.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).testPersonalKey.ok,
    ).toBe(true);
    // The victim's row, copied by SQL: onto another member (new row and an existing one), onto the same member's other
    // provider, and onto the same member and provider in another org.
    await server.seed.key(o.org.id, o.interviewer.id, 'ANTHROPIC', 'sk-ant-api03-interviewers-own-Aa1Bb2', 'UNTESTED');
    await server.seed.key(o.org.id, o.admin.id, 'OPENAI', 'sk-proj-admins-openai-Cc3Dd4Ee5F', 'UNTESTED');
    const db = server.app.services.db;
    await db.$executeRaw`
      INSERT INTO personal_api_keys (id, org_id, user_id, provider, ciphertext, nonce, enc_key_id, hint, status, updated_at)
      SELECT gen_random_uuid(), v.org_id, target.user_id, v.provider, v.ciphertext, v.nonce, v.enc_key_id, v.hint, 'VALID', now()
      FROM personal_api_keys v, (VALUES (${o.staffing.id}::uuid)) AS target(user_id)
      WHERE v.org_id = ${o.org.id}::uuid AND v.user_id = ${o.admin.id}::uuid AND v.provider = 'ANTHROPIC'`;
    await db.$executeRaw`
      INSERT INTO personal_api_keys (id, org_id, user_id, provider, ciphertext, nonce, enc_key_id, hint, status, updated_at)
      SELECT gen_random_uuid(), ${elsewhere.org.id}::uuid, v.user_id, v.provider, v.ciphertext, v.nonce, v.enc_key_id, v.hint, 'VALID', now()
      FROM personal_api_keys v WHERE v.org_id = ${o.org.id}::uuid AND v.user_id = ${o.admin.id}::uuid AND v.provider = 'ANTHROPIC'`;
    await db.$executeRaw`
      UPDATE personal_api_keys t SET ciphertext = v.ciphertext, nonce = v.nonce, enc_key_id = v.enc_key_id
      FROM personal_api_keys v
      WHERE v.org_id = ${o.org.id}::uuid AND v.user_id = ${o.admin.id}::uuid AND v.provider = 'ANTHROPIC'
        AND t.org_id = v.org_id AND ((t.user_id = ${o.interviewer.id}::uuid AND t.provider = 'ANTHROPIC') OR (t.user_id = v.user_id AND t.provider = 'OPENAI'))`;
    const auditBefore = await db.auditEvent.count();
    anthropic.requests.length = 0;
    openai.requests.length = 0;

    const attempts = [
      [o.staffing.token, o, 'ANTHROPIC'],
      [o.interviewer.token, o, 'ANTHROPIC'],
      [o.admin.token, o, 'OPENAI'],
      [o.admin.token, elsewhere, 'ANTHROPIC'],
    ] as const;
    for (const [token, org, provider] of attempts) {
      const r = await server.client(token).request(TEST_PERSONAL_KEY, keyInput(org, provider));
      expect(r.errors?.[0].extensions?.code, `${provider} in ${org.org.slug}`).toBe('NO_API_KEY');
      expect(r.errors?.[0].message).toMatch(/can no longer be read\. Save it again/);
      expect(JSON.stringify(r)).not.toContain(key);
      expect(JSON.stringify(r)).not.toContain(key.slice(-4));
    }
    expect(anthropic.requests).toEqual([]);
    expect(openai.requests).toEqual([]);
    // Nothing was recorded as tested, and the copied rows keep the status they had.
    expect(await db.auditEvent.count()).toBe(auditBefore);
    const staffingKeys = (await server.client(o.staffing.token).data(SETTINGS, { orgId: o.org.id })).orgAiSettings
      .viewerKeys;
    expect(staffingKeys).toEqual([expect.objectContaining({ status: 'VALID', lastTestedAt: null })]);
    // The victim's own key still works, and saving again repairs a copied row.
    expect(
      (await server.client(o.admin.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).testPersonalKey.ok,
    ).toBe(true);
    expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual([hashOf(key)]);
    await server
      .client(o.staffing.token)
      .data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', 'sk-ant-api03-staffing-fresh-Gg6Hh7Jj8'));
    expect(
      (await server.client(o.staffing.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).testPersonalKey.ok,
    ).toBe(true);
    expect(server.logs.join('\n')).not.toContain(key.slice(13));
  });
});

describe('master key rotation', () => {
  const A = Keyring.generateEntry('a');
  const B = Keyring.generateEntry('b');
  const jwtSecret = randomBytes(32).toString('base64url');

  it('re-encrypts every key under the newest master key, after which the old master key can be dropped', async () => {
    const databaseUrl = await createTestDatabase();
    const start = (keyEncryptionKeys: string) =>
      startTestServer({ databaseUrl, jwtSecret, keyEncryptionKeys, env: vendorEnv() });
    const encKeyIds = async (s: TestServer) =>
      (await s.app.services.db.personalApiKey.findMany({ orderBy: { hint: 'asc' } })).map((r) => r.encKeyId);

    const keys = { admin: `sk-ant-api03-${secretPart()}`, interviewer: `sk-proj-${secretPart()}` };
    let server = await start(A);
    let o: SeededOrg;
    try {
      o = await server.seed.org({ plan: 'GROWTH' });
      await server.client(o.admin.token).data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', keys.admin));
      await server.client(o.interviewer.token).data(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', keys.interviewer));
      expect(await encKeyIds(server)).toEqual(['a', 'a']);
    } finally {
      await server.stop();
    }

    // Keyring B alone cannot read keys sealed under A: that is what the rotation is for.
    server = await start(B);
    try {
      expect(await server.client(o.admin.token).errorCode(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).toBe(
        'NO_API_KEY',
      );
    } finally {
      await server.stop();
    }

    server = await start(`${A},${B}`);
    try {
      // Old ciphertexts still decrypt while A is in the ring; new writes already use B.
      anthropic.requests.length = 0;
      expect(
        (await server.client(o.admin.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).testPersonalKey.ok,
      ).toBe(true);
      expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual([hashOf(keys.admin)]);
      const before = await server.app.services.db.personalApiKey.findMany();
      expect(await reencryptAllKeys(server.app.services.db, server.app.services.keyring)).toEqual({
        rewritten: 2,
        alreadyCurrent: 0,
        unreadable: [],
      });
      expect(await encKeyIds(server)).toEqual(['b', 'b']);
      const after = await server.app.services.db.personalApiKey.findMany();
      for (const row of after) {
        const old = before.find((b) => b.id === row.id)!;
        expect(Buffer.from(row.nonce).equals(Buffer.from(old.nonce))).toBe(false);
        expect([row.status, row.hint]).toEqual([old.status, old.hint]);
      }
      expect(await reencryptAllKeys(server.app.services.db, server.app.services.keyring)).toEqual({
        rewritten: 0,
        alreadyCurrent: 2,
        unreadable: [],
      });
    } finally {
      await server.stop();
    }

    server = await start(B);
    try {
      anthropic.requests.length = 0;
      openai.requests.length = 0;
      expect(
        (await server.client(o.admin.token).data(TEST_PERSONAL_KEY, keyInput(o, 'ANTHROPIC'))).testPersonalKey,
      ).toMatchObject({ ok: true, status: 'VALID' });
      expect(
        (await server.client(o.interviewer.token).data(TEST_PERSONAL_KEY, keyInput(o, 'OPENAI'))).testPersonalKey,
      ).toMatchObject({ ok: true, status: 'VALID' });
      expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual([hashOf(keys.admin)]);
      expect(openai.requests.map((r) => r.authKeyHash)).toEqual([hashOf(keys.interviewer)]);
      // New writes use B.
      await server
        .client(o.staffing.token)
        .data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', `sk-ant-api03-${secretPart()}`));
      const staffingRow = await server.app.services.db.personalApiKey.findFirstOrThrow({
        where: { userId: o.staffing.id },
      });
      expect(staffingRow.encKeyId).toBe('b');
    } finally {
      await server.stop();
    }
  });

  it('skips and reports a key no master key can read, rotating the rest', async () => {
    const A = Keyring.generateEntry('ra');
    const B = Keyring.generateEntry('rb');
    const databaseUrl = await createTestDatabase();
    let server = await startTestServer({ databaseUrl, keyEncryptionKeys: A, env: vendorEnv() });
    let o: SeededOrg;
    try {
      o = await server.seed.org({ plan: 'GROWTH' });
      await server
        .client(o.admin.token)
        .data(SET_PERSONAL_KEY, keyInput(o, 'ANTHROPIC', `sk-ant-api03-${secretPart()}`));
      await server.client(o.staffing.token).data(SET_PERSONAL_KEY, keyInput(o, 'OPENAI', `sk-proj-${secretPart()}`));
      // One row's ciphertext is damaged (a bad restore, say).
      await server.app.services.db
        .$executeRaw`UPDATE personal_api_keys SET ciphertext = decode('00112233445566778899aabbccddeeff00', 'hex') WHERE user_id = ${o.staffing.id}::uuid`;
    } finally {
      await server.stop();
    }
    server = await startTestServer({ databaseUrl, keyEncryptionKeys: `${A},${B}`, env: vendorEnv() });
    try {
      const report = await reencryptAllKeys(server.app.services.db, server.app.services.keyring);
      expect(report.rewritten).toBe(1);
      expect(report.unreadable).toEqual([expect.objectContaining({ userId: o.staffing.id, provider: 'OPENAI' })]);
      const rows = await server.app.services.db.personalApiKey.findMany({ orderBy: { provider: 'asc' } });
      expect(rows.map((r) => [r.provider, r.encKeyId])).toEqual([
        ['ANTHROPIC', 'rb'],
        ['OPENAI', 'ra'],
      ]);
    } finally {
      await server.stop();
    }
  });
});
