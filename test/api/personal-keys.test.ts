import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closedPortURL } from '../support/provider-helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import type { SeededOrg } from '../../dev/seed.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import type { AiProvider, SetPersonalKeyInput, TestPersonalKeyInput } from '../../src/generated/graphql/graphql.ts';
import { DELETE_PERSONAL_KEY, SET_PERSONAL_KEY, TEST_PERSONAL_KEY } from '../../dev/documents.ts';

const MY_KEYS = graphql(`
  query PersonalKeysMyKeys($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      viewerKeys {
        provider
        hint
        status
        lastTestedAt
        updatedAt
      }
    }
  }
`);

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);

let server: TestServer, unreachable: TestServer;
let anthropic: FakeVendorServer, openai: FakeVendorServer, stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, anthropic, openai, stop } = await startServerWithVendors());
  const nowhere = await closedPortURL();
  // A second server on the same database whose providers cannot be reached.
  unreachable = await startTestServer({
    databaseUrl: server.config.databaseUrl,
    jwtSecret: server.config.jwtSecret,
    keyEncryptionKeys: server.config.keyEncryptionKeys,
    env: { ANTHROPIC_BASE_URL: nowhere, OPENAI_BASE_URL: `${nowhere}/v1` },
  });
});
afterAll(async () => {
  await unreachable?.stop();
  await stop?.();
});
beforeEach(() => {
  for (const v of [anthropic, openai]) v.requests.length = 0;
});

function input(o: SeededOrg, provider: AiProvider): { input: TestPersonalKeyInput };
function input(o: SeededOrg, provider: AiProvider, apiKey: string): { input: SetPersonalKeyInput };
function input(
  o: SeededOrg,
  provider: AiProvider,
  apiKey?: string,
): { input: TestPersonalKeyInput | SetPersonalKeyInput } {
  return { input: { orgId: o.org.id, provider, ...(apiKey ? { apiKey } : {}) } };
}
const myKeys = async (o: SeededOrg, token: string) =>
  (await server.client(token).data(MY_KEYS, { orgId: o.org.id })).orgAiSettings.viewerKeys;

describe('setPersonalKey', () => {
  it('lets every member save their own key, interviewers included, and returns only a hint', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    for (const [m, provider, key, hint] of [
      [o.interviewer, 'ANTHROPIC', 'sk-ant-api03-interviewer-Pq9Rs8Tu7Vw6', 'sk-ant-…7Vw6'],
      [o.staffing, 'OPENAI', 'sk-proj-staffing-Lm4No3Pq2Rs1Tu0V', 'sk-proj-…Tu0V'],
      [o.admin, 'OPENAI', 'sk-admin-Kj5Hg6Fd7Sa8Qw9E', 'sk-…Qw9E'],
    ] as const) {
      const r = await server.client(m.token).request(SET_PERSONAL_KEY, input(o, provider, key));
      expect(r.errors).toBeUndefined();
      expect(r.data!.setPersonalKey).toMatchObject({ provider, hint, status: 'UNTESTED', lastTestedAt: null });
      expect(JSON.stringify(r)).not.toContain(key);
    }
  });

  it('refuses a malformed key with INVALID_API_KEY_FORMAT naming the expected prefix', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.interviewer.token);
    const cases = [
      ['ANTHROPIC', 'ant-api03-no-prefix-Aa1Bb2Cc3Dd4', '"sk-ant-"'],
      ['OPENAI', 'pk-live-Aa1Bb2Cc3Dd4Ee5Ff6', '"sk-"'],
      ['OPENAI', 'sk-short', '"sk-"'],
      ['ANTHROPIC', `sk-ant-${'x'.repeat(300)}`, '"sk-ant-"'],
    ] as const;
    for (const [provider, key, prefix] of cases) {
      const r = await c.request(SET_PERSONAL_KEY, input(o, provider, key));
      expect(r.errors?.[0].extensions?.code, key).toBe('INVALID_API_KEY_FORMAT');
      expect(r.errors?.[0].message, key).toContain(prefix);
      expect(JSON.stringify(r)).not.toContain(key);
    }
    for (const key of [
      'sk-ant-api03-has space-Aa1Bb2Cc3Dd4',
      'sk-ant-api03-trailing-newline-Aa1Bb2Cc\n',
      ' sk-ant-api03-leading-space-Aa1Bb2Cc',
    ]) {
      const r = await c.request(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', key));
      expect(r.errors?.[0].extensions?.code, JSON.stringify(key)).toBe('INVALID_API_KEY_FORMAT');
    }
    expect(await myKeys(o, o.interviewer.token)).toEqual([]);
  });

  it('says a key of the other vendor is one, and where to save it, in both directions', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.interviewer.token);
    for (const [provider, key, message] of [
      [
        'OPENAI',
        'sk-ant-api03-an-anthropic-key-Aa1Bb2',
        'That is an Anthropic API key, not an OpenAI one: save it under Anthropic, or paste your OpenAI key here.',
      ],
      [
        'ANTHROPIC',
        'sk-proj-an-openai-key-Aa1Bb2Cc3Dd4',
        'That is an OpenAI API key, not an Anthropic one: save it under OpenAI, or paste your Anthropic key here.',
      ],
      [
        'ANTHROPIC',
        'sk-a-plain-openai-key-Aa1Bb2Cc3Dd4',
        'That is an OpenAI API key, not an Anthropic one: save it under OpenAI, or paste your Anthropic key here.',
      ],
    ] as const) {
      const r = await c.request(SET_PERSONAL_KEY, input(o, provider, key));
      expect(r.errors?.[0], key).toMatchObject({ message, extensions: { code: 'INVALID_API_KEY_FORMAT' } });
      expect(JSON.stringify(r)).not.toContain(key);
    }
    expect(await myKeys(o, o.interviewer.token)).toEqual([]);
  });

  it('refuses Intervy Credits as a key provider with BAD_USER_INPUT', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    expect(
      await server
        .client(o.admin.token)
        .errorCode(SET_PERSONAL_KEY, input(o, 'INTERVY_CREDITS', 'sk-ant-api03-whatever-Aa1Bb2Cc3Dd4')),
    ).toBe('BAD_USER_INPUT');
  });

  it('leaves an earlier saved key untouched when a malformed one is refused: the old key is still the one used', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.staffing.token);
    const good = 'sk-ant-api03-the-good-one-Gh7Jk8Lm9N';
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', good));
    expect((await c.data(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).testPersonalKey.status).toBe('VALID');
    const before = await myKeys(o, o.staffing.token);
    const rowBefore = await server.app.services.db.personalApiKey.findFirstOrThrow({
      where: { orgId: o.org.id, userId: o.staffing.id },
    });

    expect(await c.errorCode(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-proj-wrong-vendor-Zz9Yy8Xx7Ww6'))).toBe(
      'INVALID_API_KEY_FORMAT',
    );
    expect(await c.errorCode(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-with a space-Zz9Yy8Xx'))).toBe(
      'INVALID_API_KEY_FORMAT',
    );

    expect(await myKeys(o, o.staffing.token)).toEqual(before);
    expect(before[0]).toMatchObject({ hint: 'sk-ant-…Lm9N', status: 'VALID' });
    const rowAfter = await server.app.services.db.personalApiKey.findFirstOrThrow({
      where: { orgId: o.org.id, userId: o.staffing.id },
    });
    expect(Buffer.from(rowAfter.ciphertext).equals(Buffer.from(rowBefore.ciphertext))).toBe(true);
    anthropic.requests.length = 0;
    expect((await c.data(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).testPersonalKey.ok).toBe(true);
    expect(anthropic.requests.map((r) => r.authKeyHash)).toEqual([hashOf(good)]);
  });

  it('replaces the member’s key for that provider and resets it to UNTESTED', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.admin.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-first-key-Aa11Bb22Cc33'));
    const tested = await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'));
    expect(tested.testPersonalKey.status).toBe('VALID');
    const replaced = (await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-second-key-Dd44Ee55Ff66')))
      .setPersonalKey;
    expect(replaced).toMatchObject({ hint: 'sk-proj-…Ff66', status: 'UNTESTED', lastTestedAt: null });
    expect(await myKeys(o, o.admin.token)).toHaveLength(1);
    openai.requests.length = 0;
    await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'));
    expect(openai.requests.map((r) => r.authKeyHash)).toEqual([hashOf('sk-proj-second-key-Dd44Ee55Ff66')]);
  });

  it('keeps one key per provider: saving OpenAI does not touch Anthropic', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.interviewer.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-both-anthropic-Aa1Bb2Cc'));
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-both-openai-Dd3Ee4Ff5G'));
    expect((await myKeys(o, o.interviewer.token)).map((k) => [k.provider, k.hint])).toEqual([
      ['ANTHROPIC', 'sk-ant-…b2Cc'],
      ['OPENAI', 'sk-proj-…Ff5G'],
    ]);
  });

  it('only ever writes the viewer’s own key, even for an admin', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server
      .client(o.admin.token)
      .data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-admins-own-Aa1Bb2Cc3'));
    const rows = await server.app.services.db.personalApiKey.findMany({ where: { orgId: o.org.id } });
    expect(rows.map((r) => r.userId)).toEqual([o.admin.id]);
    // Input has no user field: asking for one is a schema error.
    const r = await server
      .client(o.admin.token)
      .rawRequest(
        `mutation($o: ID!, $u: ID!) { setPersonalKey(input: { orgId: $o, userId: $u, provider: ANTHROPIC, apiKey: "sk-ant-api03-x-Aa1Bb2Cc3Dd4" }) { hint } }`,
        { o: o.org.id, u: o.interviewer.id },
      );
    expect(r.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('is refused to a non-member with FORBIDDEN and to an anonymous caller with UNAUTHENTICATED', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const outsider = await server.seed.outsider();
    const vars = input(o, 'ANTHROPIC', 'sk-ant-api03-outsider-Aa1Bb2Cc3Dd4');
    expect(await server.client(outsider.token).errorCode(SET_PERSONAL_KEY, vars)).toBe('FORBIDDEN');
    expect(await server.client().errorCode(SET_PERSONAL_KEY, vars)).toBe('UNAUTHENTICATED');
    expect(await server.app.services.db.personalApiKey.count({ where: { orgId: o.org.id } })).toBe(0);
  });
});

describe('testPersonalKey', () => {
  it('calls Anthropic with the saved key through the SDK and stores VALID with the time', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const key = 'sk-ant-api03-works-fine-Qq1Ww2Ee3Rr4';
    const c = server.client(o.interviewer.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', key));
    server.clock.set('2026-11-27T08:30:00.000Z');
    const r = (await c.data(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).testPersonalKey;
    expect(r).toEqual({ ok: true, status: 'VALID', message: 'Anthropic accepted the API key.' });
    expect(anthropic.requests).toHaveLength(1);
    expect(anthropic.requests[0]).toMatchObject({
      method: 'GET',
      path: '/v1/models',
      authKeyHash: hashOf(key),
      authKeyLast4: '3Rr4',
    });
    expect(openai.requests).toHaveLength(0);
    expect(await myKeys(o, o.interviewer.token)).toEqual([
      expect.objectContaining({ status: 'VALID', lastTestedAt: '2026-11-27T08:30:00.000Z' }),
    ]);
  });

  it('calls OpenAI with the saved key and stores VALID', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const key = 'sk-proj-openai-works-Tt5Yy6Uu7Ii8';
    const c = server.client(o.staffing.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', key));
    expect((await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'))).testPersonalKey).toEqual({
      ok: true,
      status: 'VALID',
      message: 'OpenAI accepted the API key.',
    });
    expect(openai.requests.map((r) => [r.method, r.path, r.authScheme, r.authKeyHash])).toEqual([
      ['GET', '/v1/models', 'bearer', hashOf(key)],
    ]);
  });

  it('stores INVALID when the provider rejects the key, quoting what the provider said', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.admin.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-invalid-Oo9Pp8Ll7Kk6'));
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-invalid-Mm5Nn4Bb3Vv2Cc1'));
    const a = (await c.data(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).testPersonalKey;
    expect(a).toMatchObject({ ok: false, status: 'INVALID' });
    expect(a.message).toMatch(/Anthropic rejected the API key: "invalid x-api-key"/);
    const b = (await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'))).testPersonalKey;
    expect(b).toMatchObject({ ok: false, status: 'INVALID' });
    expect(b.message).toMatch(/OpenAI rejected the API key: "Incorrect API key provided/);
    // OpenAI echoes a masked key; none of it may come back.
    expect(b.message).not.toMatch(/Cc1|\*{4}/);
    const keys = await myKeys(o, o.admin.token);
    expect(keys.map((k) => [k.provider, k.status, k.lastTestedAt !== null])).toEqual([
      ['ANTHROPIC', 'INVALID', true],
      ['OPENAI', 'INVALID', true],
    ]);
  });

  it('reports a rate-limited key as genuine but not usable right now, quoting the provider', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.admin.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-ratelimited-Xx1Zz2Cc3Vv4'));
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-ratelimited-Bb5Nn6Mm7'));
    const r = (await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'))).testPersonalKey;
    expect(r).toMatchObject({ ok: false, status: 'VALID' });
    expect(r.message).toMatch(/OpenAI is rate limiting this key: "Rate limit reached/);
    expect(openai.requests).toHaveLength(1); // no retries
    const a = (await c.data(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).testPersonalKey;
    expect(a).toMatchObject({ ok: false, status: 'VALID' });
    expect(a.message).toMatch(/Anthropic is rate limiting this key: "This request would exceed the rate limit/);
    expect(anthropic.requests).toHaveLength(1);
  });

  it('says so when the provider cannot be reached, and leaves the status as it was', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.interviewer.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-unreach-Aa2Ss3Dd4Ff5'));
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-unreach-Gg6Hh7Jj8Kk9Ll0'));
    await c.data(TEST_PERSONAL_KEY, input(o, 'OPENAI')); // VALID, with a time
    const before = await myKeys(o, o.interviewer.token);
    const far = unreachable.client(o.interviewer.token);
    for (const [provider, vendor] of [
      ['ANTHROPIC', 'Anthropic'],
      ['OPENAI', 'OpenAI'],
    ] as const) {
      const r = (await far.data(TEST_PERSONAL_KEY, input(o, provider))).testPersonalKey;
      expect(r.ok).toBe(false);
      expect(r.message).toBe(`Could not reach ${vendor}: connection refused.`);
    }
    const after = await myKeys(o, o.interviewer.token);
    expect(after).toEqual(before);
    expect(after.map((k) => k.status)).toEqual(['UNTESTED', 'VALID']);
    const r = (await far.data(TEST_PERSONAL_KEY, input(o, 'OPENAI'))).testPersonalKey;
    expect(r.status).toBe('VALID');
  });

  it('answers NO_API_KEY when the viewer has no saved key for that provider', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(o.org.id, o.admin.id, 'ANTHROPIC', 'sk-ant-api03-someone-else-Aa1Ss2Dd3');
    const r = await server.client(o.interviewer.token).request(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'));
    expect(r.errors?.[0].extensions?.code).toBe('NO_API_KEY');
    expect(r.errors?.[0].message).toMatch(/No API key/);
    expect(await server.client(o.admin.token).errorCode(TEST_PERSONAL_KEY, input(o, 'OPENAI'))).toBe('NO_API_KEY');
    expect(anthropic.requests).toHaveLength(0);
  });
});

describe('deletePersonalKey', () => {
  it('removes the viewer’s own key and answers true, then false once there is nothing left', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    const c = server.client(o.interviewer.token);
    await c.data(SET_PERSONAL_KEY, input(o, 'ANTHROPIC', 'sk-ant-api03-to-delete-Zz1Xx2Cc3V'));
    await c.data(SET_PERSONAL_KEY, input(o, 'OPENAI', 'sk-proj-to-keep-Bb4Nn5Mm6Q'));
    expect((await c.data(DELETE_PERSONAL_KEY, input(o, 'ANTHROPIC'))).deletePersonalKey).toBe(true);
    expect((await myKeys(o, o.interviewer.token)).map((k) => k.provider)).toEqual(['OPENAI']);
    expect((await c.data(DELETE_PERSONAL_KEY, input(o, 'ANTHROPIC'))).deletePersonalKey).toBe(false);
    expect(await c.errorCode(TEST_PERSONAL_KEY, input(o, 'ANTHROPIC'))).toBe('NO_API_KEY');
  });

  it('never removes another member’s key, not even an admin’s request can', async () => {
    const o = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(o.org.id, o.interviewer.id, 'ANTHROPIC', 'sk-ant-api03-interviewers-Aa1Bb2Cc3');
    expect(
      (await server.client(o.admin.token).data(DELETE_PERSONAL_KEY, input(o, 'ANTHROPIC'))).deletePersonalKey,
    ).toBe(false);
    expect(await myKeys(o, o.interviewer.token)).toHaveLength(1);
    // Nor the same member's key in another org.
    const other = await server.seed.org({ plan: 'GROWTH' });
    await server.app.services.db.membership.create({
      data: { orgId: other.org.id, userId: o.interviewer.id, role: 'INTERVIEWER' },
    });
    expect(
      (await server.client(o.interviewer.token).data(DELETE_PERSONAL_KEY, input(other, 'ANTHROPIC'))).deletePersonalKey,
    ).toBe(false);
    expect(await myKeys(o, o.interviewer.token)).toHaveLength(1);
  });
});
