// The per-instance caches of the rows every request reads first (issue 10), on two instances sharing one database:
// whatever writes a row (the API on either instance, an operator command, SQL), the row's trigger notifies every
// instance, and none answers from memory while its listener is down. No Redis: the database's own NOTIFY carries it,
// so this file runs in both passes with Redis left out on purpose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELETE_PERSONAL_KEY, SCALE_SETTINGS, SCALE_UPDATE_PROVIDER, SET_PERSONAL_KEY } from '../../dev/documents.ts';
import { main as tokenCommand } from '../../src/commands/token.ts';
import { cacheKeys } from '../../src/domain/read-caches.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { runCommand } from '../support/operator-command.ts';
import { runLedgerLoad } from '../../dev/ledger-load.ts';
import pg from 'pg';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';

const SECRET = 'shared-secret-for-both-cache-instances';
let one: TestServer;
let two: TestServer;

beforeAll(async () => {
  const shared = {
    databaseUrl: await createTestDatabase(),
    jwtSecret: SECRET,
    keyEncryptionKeys: Keyring.generateEntry('k1'),
    redis: false,
  };
  [one, two] = await Promise.all([startTestServer(shared), startTestServer(shared)]);
});
afterAll(async () => {
  await one?.stop();
  await two?.stop();
});

const caches = (server: TestServer) => server.app.services.caches;
/** Resolves once every listed instance has applied the invalidation of `key` (ask before the write). */
const applied = (key: string, ...servers: TestServer[]) =>
  Promise.all(servers.map((s) => caches(s).feed.whenApplied(key)));
const settingsOn = (server: TestServer, token: string, orgId: string) =>
  server.client(token).request(SCALE_SETTINGS, { orgId });
const sql = (query: string, ...values: unknown[]) => one.app.services.db.$executeRawUnsafe(query, ...values);
/** A write that notifies no one (its trigger disabled): an instance still showing the old value answered from memory. */
async function silently(table: string, trigger: string, write: () => Promise<unknown>) {
  await sql(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
  try {
    await write();
  } finally {
    await sql(`ALTER TABLE ${table} ENABLE TRIGGER ${trigger}`);
  }
}

describe('caches on two instances', () => {
  it('refuses a token revoked by the operator command on the other instance, which had it cached, at its next request', async () => {
    const { org, interviewer } = await one.seed.org({ plan: 'GROWTH' });
    for (const server of [one, two])
      expect((await settingsOn(server, interviewer.token, org.id)).data?.orgAiSettings.orgId).toBe(org.id);
    const revoked = applied(cacheKeys.user(interviewer.id), one, two);
    const result = await runCommand(tokenCommand, ['revoke', interviewer.email], {
      DATABASE_URL: one.config.databaseUrl,
      AUTH_JWT_SECRET: SECRET,
      KEY_ENCRYPTION_KEYS: one.config.keyEncryptionKeys,
    });
    expect(result.code).toBe(0);
    await revoked;
    for (const server of [two, one])
      expect((await settingsOn(server, interviewer.token, org.id)).errors?.[0]).toMatchObject({
        message: expect.stringMatching(/revoked/),
        extensions: { code: 'UNAUTHENTICATED' },
      });
  });

  it('refuses a member removed by SQL and shows a member demoted by SQL that they no longer manage, on both instances', async () => {
    const { org, admin, staffing } = await one.seed.org({ plan: 'GROWTH' });
    for (const server of [one, two]) {
      expect((await settingsOn(server, admin.token, org.id)).data?.orgAiSettings.viewerCanManage).toBe(true);
      expect((await settingsOn(server, staffing.token, org.id)).data?.orgAiSettings.orgId).toBe(org.id);
    }
    const demoted = applied(cacheKeys.membership(org.id, admin.id), one, two);
    const removed = applied(cacheKeys.membership(org.id, staffing.id), one, two);
    await sql(
      `UPDATE memberships SET role = 'INTERVIEWER' WHERE org_id = $1::uuid AND user_id = $2::uuid`,
      org.id,
      admin.id,
    );
    await sql(`DELETE FROM memberships WHERE org_id = $1::uuid AND user_id = $2::uuid`, org.id, staffing.id);
    await Promise.all([demoted, removed]);
    for (const server of [one, two]) {
      expect((await settingsOn(server, admin.token, org.id)).data?.orgAiSettings.viewerCanManage).toBe(false);
      expect((await settingsOn(server, staffing.token, org.id)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('shows a provider changed on one instance on the other at its next request', async () => {
    const { org, admin, interviewer } = await one.seed.org({ plan: 'GROWTH' });
    expect((await settingsOn(two, interviewer.token, org.id)).data?.orgAiSettings.provider).toBe('INTERVY_CREDITS');
    const changed = applied(cacheKeys.org(org.id), two);
    await one.client(admin.token).data(SCALE_UPDATE_PROVIDER, { input: { orgId: org.id, provider: 'OPENAI' } });
    await changed;
    expect((await settingsOn(two, interviewer.token, org.id)).data?.orgAiSettings).toMatchObject({
      provider: 'OPENAI',
      effectiveProvider: 'OPENAI',
    });
  });

  it('shows a key saved, marked invalid or deleted on one instance in viewerKeys on the other', async () => {
    const { org, interviewer } = await one.seed.org({ plan: 'GROWTH' });
    const keysOnTwo = async () =>
      (await settingsOn(two, interviewer.token, org.id)).data?.orgAiSettings.viewerKeys.map((k) => k.status);
    const key = cacheKeys.keys(org.id, interviewer.id);
    expect(await keysOnTwo()).toEqual([]);

    let change = applied(key, two);
    const input = { orgId: org.id, provider: 'ANTHROPIC' as const };
    await one
      .client(interviewer.token)
      .data(SET_PERSONAL_KEY, { input: { ...input, apiKey: 'sk-ant-api03-cache-Aa1Bb2Cc3' } });
    await change;
    expect(await keysOnTwo()).toEqual(['UNTESTED']);

    change = applied(key, two);
    // As the scheduled re-test marks one, in SQL.
    await sql(
      `UPDATE personal_api_keys SET status = 'INVALID' WHERE org_id = $1::uuid AND user_id = $2::uuid`,
      org.id,
      interviewer.id,
    );
    await change;
    expect(await keysOnTwo()).toEqual(['INVALID']);

    change = applied(key, two);
    await one.client(interviewer.token).data(DELETE_PERSONAL_KEY, { input });
    await change;
    expect(await keysOnTwo()).toEqual([]);
  });

  it('lets the writer’s own instance see its write at once, before any notification comes back', async () => {
    const { org, admin, interviewer } = await one.seed.org({ plan: 'GROWTH' });
    for (const server of [one, two])
      expect((await settingsOn(server, admin.token, org.id)).data?.orgAiSettings.provider).toBe('INTERVY_CREDITS');
    // No notification at all: what the writer's instance shows comes from its own invalidation after the commit.
    await silently('orgs', 'orgs_notify_cache_settings', () =>
      one.client(admin.token).data(SCALE_UPDATE_PROVIDER, { input: { orgId: org.id, provider: 'ANTHROPIC' } }),
    );
    expect((await settingsOn(one, admin.token, org.id)).data?.orgAiSettings.provider).toBe('ANTHROPIC');
    // The other instance had it in memory and was told nothing: it still shows its copy (what the trigger is for).
    expect((await settingsOn(two, admin.token, org.id)).data?.orgAiSettings.provider).toBe('INTERVY_CREDITS');
    caches(two).invalidate(cacheKeys.org(org.id));

    expect((await settingsOn(one, interviewer.token, org.id)).data?.orgAiSettings.viewerKeys).toEqual([]);
    await silently('personal_api_keys', 'personal_api_keys_notify_cache', () =>
      one.client(interviewer.token).data(SET_PERSONAL_KEY, {
        input: { orgId: org.id, provider: 'ANTHROPIC', apiKey: 'sk-ant-api03-mine-Dd4Ee5Ff6' },
      }),
    );
    expect((await settingsOn(one, interviewer.token, org.id)).data?.orgAiSettings.viewerKeys).toEqual([
      { provider: 'ANTHROPIC', hint: 'sk-ant-…5Ff6', status: 'UNTESTED' },
    ]);
  });

  it('answers nothing from memory once its listener is lost, sees a change made meanwhile, and caches again once it is back', async () => {
    const { org, admin } = await one.seed.org({ plan: 'GROWTH' });
    const provider = async () => (await settingsOn(two, admin.token, org.id)).data?.orgAiSettings.provider;
    const setProvider = (p: string) =>
      sql(`UPDATE orgs SET ai_provider = $2::"AiProvider" WHERE id = $1::uuid`, org.id, p);
    expect(await provider()).toBe('INTERVY_CREDITS');
    // Proof that instance two answers from memory: a change that notifies no one is not seen.
    await silently('orgs', 'orgs_notify_cache_settings', () => setProvider('OPENAI'));
    expect(await provider()).toBe('INTERVY_CREDITS');

    const feed = caches(two).feed;
    const lost = new Promise<void>((resolve) => feed.events.once('lost', () => resolve()));
    await sql('SELECT pg_terminate_backend($1)', feed.pid);
    await lost;
    // Made while the listener is down (or coming back): its notification may reach no one, yet it is seen, as is
    // the change two never heard of.
    await setProvider('ANTHROPIC');
    expect(await provider()).toBe('ANTHROPIC');

    await feed.whenListening();
    expect(await provider()).toBe('ANTHROPIC');
    expect(caches(two).orgs.peek(cacheKeys.org(org.id))).toBeDefined();
    await silently('orgs', 'orgs_notify_cache_settings', () => setProvider('OPENAI'));
    expect(await provider()).toBe('ANTHROPIC');
    const changed = applied(cacheKeys.org(org.id), two);
    await setProvider('INTERVY_CREDITS');
    await changed;
    expect(await provider()).toBe('INTERVY_CREDITS');
  });

  it('hears nothing from the ledger: holds and settlements move the balance without invalidating the org', async () => {
    const { org, interviewer } = await one.seed.org({ credits: 1_000_000 });
    const listener = new pg.Client({ connectionString: one.config.databaseUrl });
    await listener.connect();
    try {
      const heard: string[] = [];
      const marker = new Promise<void>((resolve) =>
        listener.on('notification', (n) => {
          heard.push(n.payload ?? '');
          if (n.payload === 'marker') resolve();
        }),
      );
      await listener.query('LISTEN ivy_cache');
      const run = await runLedgerLoad(one.app.services, {
        orgId: org.id,
        memberIds: [interviewer.id],
        total: 40,
        inFlight: 8,
        seed: 3,
      });
      expect(run.settled).toBeGreaterThan(0);
      // Notifications arrive in commit order: everything the ledger sent comes before the marker.
      await sql(`NOTIFY ivy_cache, 'marker'`);
      await marker;
      expect(heard).toEqual(['marker']);
    } finally {
      await listener.end();
    }
  });
});
