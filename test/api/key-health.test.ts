// Keys that look after themselves: readiness counts for admins (counts only), lastUsedAt, and the scheduled re-test
// driven by the injectable clock: due keys only, oldest first and spread, a status change audited and pushed to
// that member alone, an unreachable provider leaving statuses alone with a back-off, and one instance at a time.
import { randomUUID } from 'node:crypto';
import { graphql } from '../../src/generated/graphql/index.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keyRetestScheduler } from '../../src/domain/key-retests.ts';
import { memberKey } from '../../src/lib/pubsub.ts';
import { runCompletion } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { TestServer } from '../support/server.ts';

let env: ServerWithVendors, server: TestServer;
beforeAll(async () => {
  env = await startServerWithVendors({ env: { KEY_RETEST_INTERVAL: '24h', SWEEP_INTERVAL_MS: '60000' } });
  server = env.server;
});
afterAll(() => env?.stop());

const HOUR = 3_600_000;
const db = () => server.app.services.db;
const goodKey = () => `sk-ant-api03-good-${randomUUID().replace(/-/g, '')}`;
const testedAgo = (orgId: string, userId: string, ms: number | null) =>
  db().personalApiKey.updateMany({
    where: { orgId, userId },
    data: { lastTestedAt: ms == null ? null : new Date(server.clock.now().getTime() - ms) },
  });
const statusOf = async (orgId: string, userId: string) =>
  db().personalApiKey.findFirstOrThrow({ where: { orgId, userId } });

const READINESS = graphql(`
  query KeyHealthReadiness($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      keyReadiness {
        provider
        membersTotal
        valid
        invalid
        untested
        notSaved
        notTestedWithinInterval
        intervalSeconds
      }
    }
    providerChangeImpact(orgId: $orgId, provider: ANTHROPIC) {
      membersTotal
      membersWithKey
      membersWithValidKey
      membersWithInvalidKey
      membersWithUntestedKey
      membersWithoutKey
      keysNotTestedWithinInterval
    }
  }
`);
const STAFF_READINESS = graphql(`
  query KeyHealthStaffReadiness($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      keyReadiness {
        valid
      }
    }
  }
`);
const MY_KEYS = graphql(`
  query KeyHealthMyKeys($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      viewerKeys {
        status
        lastTestedAt
        lastUsedAt
        updatedAt
      }
    }
  }
`);
const KEY_STATUS = graphql(`
  subscription KeyHealthStatus($orgId: ID!) {
    viewerKeyStatusChanged(orgId: $orgId) {
      provider
      status
      previousStatus
      testedAt
    }
  }
`);

describe('key readiness', () => {
  it('counts, per provider, keys VALID, INVALID, UNTESTED, not saved and not re-tested in the interval, for admins only', async () => {
    const { org, admin, staffing, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    const [m4, m5] = [await server.seed.member(org.id, 'INTERVIEWER'), await server.seed.member(org.id, 'INTERVIEWER')];
    await server.seed.key(org.id, admin.id, 'ANTHROPIC', goodKey(), 'VALID');
    await testedAgo(org.id, admin.id, HOUR);
    await server.seed.key(org.id, staffing.id, 'ANTHROPIC', goodKey(), 'INVALID');
    await testedAgo(org.id, staffing.id, 25 * HOUR);
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', goodKey(), 'UNTESTED');
    await server.seed.key(org.id, m4.id, 'OPENAI', 'sk-proj-good-Bn4Wc8Lq2Zx6Rv0Ty', 'VALID');
    await testedAgo(org.id, m4.id, HOUR);

    const res = await server.client(admin.token).data(READINESS, { orgId: org.id });
    const anthropic = { membersTotal: 5, valid: 1, invalid: 1, untested: 1, notSaved: 2, notTestedWithinInterval: 2 };
    expect(res.orgAiSettings.keyReadiness).toEqual([
      { provider: 'ANTHROPIC', ...anthropic, intervalSeconds: 86_400 },
      {
        provider: 'OPENAI',
        membersTotal: 5,
        valid: 1,
        invalid: 0,
        untested: 0,
        notSaved: 4,
        notTestedWithinInterval: 0,
        intervalSeconds: 86_400,
      },
    ]);
    // The confirmation dialog uses the same figures.
    expect(res.providerChangeImpact).toEqual({
      membersTotal: anthropic.membersTotal,
      membersWithKey: anthropic.valid + anthropic.invalid + anthropic.untested,
      membersWithValidKey: anthropic.valid,
      membersWithInvalidKey: anthropic.invalid,
      membersWithUntestedKey: anthropic.untested,
      membersWithoutKey: anthropic.notSaved,
      keysNotTestedWithinInterval: anthropic.notTestedWithinInterval,
    });
    // Counts only: nothing in the answer names a member.
    for (const id of [admin.id, staffing.id, interviewer.id, m4.id, m5.id])
      expect(JSON.stringify(res)).not.toContain(id);

    const refused = await server.client(staffing.token).request(STAFF_READINESS, {
      orgId: org.id,
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.data?.orgAiSettings?.keyReadiness ?? null).toBeNull();
  });
});

describe('lastUsedAt', () => {
  it('is when an Ivy answer last used the key, and leaves updatedAt (when it was saved) alone', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', goodKey(), 'VALID');
    const before = (await server.client(interviewer.token).data(MY_KEYS, { orgId: org.id })).orgAiSettings
      .viewerKeys[0];
    expect(before.lastUsedAt).toBeNull();
    await runCompletion(server.client(interviewer.token), 'sse', {
      orgId: org.id,
      messages: [{ role: 'USER', content: 'hi' }],
    });
    const after = (await server.client(interviewer.token).data(MY_KEYS, { orgId: org.id })).orgAiSettings.viewerKeys[0];
    expect(after.lastUsedAt).toBe(server.clock.now().toISOString());
    expect(after.updatedAt).toBe(before.updatedAt);
  });
});

describe('scheduled re-tests', () => {
  // The scheduler looks at every key in the database: each test starts from none.
  beforeEach(async () => {
    await db().personalApiKey.deleteMany({});
    env.anthropic.outage = false;
  });
  const round = () => keyRetestScheduler(server.app.services).runRound();
  const checksSent = () => env.anthropic.requests.filter((r) => r.path === '/v1/models').length;

  it('re-tests only keys due (tested over KEY_RETEST_INTERVAL ago), oldest first, and pushes a change to that member alone', async () => {
    const { org, admin, staffing, interviewer } = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    const revoked = goodKey();
    await server.seed.key(org.id, admin.id, 'ANTHROPIC', goodKey(), 'VALID');
    await testedAgo(org.id, admin.id, HOUR); // not due
    await server.seed.key(org.id, staffing.id, 'ANTHROPIC', goodKey(), 'VALID');
    await testedAgo(org.id, staffing.id, 26 * HOUR); // due first
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', revoked, 'VALID');
    await testedAgo(org.id, interviewer.id, 25 * HOUR); // due second
    env.anthropic.revoke(revoked);

    const subs = [admin, staffing, interviewer].map((m) =>
      server.client(m.token).subscribeWs(KEY_STATUS, { orgId: org.id }),
    );
    const topic = (userId: string) => `viewerKeyStatusChanged:${memberKey(org.id, userId)}`;
    for (const m of [admin, staffing, interviewer]) await server.waitForSubscribers(topic(m.id), 1);

    // Three keys at 24 h: a round's share is one key, so the two due keys take two rounds, oldest first.
    const sent = checksSent();
    expect(await round()).toMatchObject({ ran: true, tested: 1, changed: 0 });
    expect((await statusOf(org.id, staffing.id)).lastTestedAt).toEqual(server.clock.now());
    server.clock.advance(60_000);
    expect(await round()).toMatchObject({ tested: 1, changed: 1 });
    expect(await statusOf(org.id, interviewer.id)).toMatchObject({
      status: 'INVALID',
      lastTestedAt: server.clock.now(),
    });
    server.clock.advance(60_000);
    expect(await round()).toMatchObject({ tested: 0 });
    expect(checksSent() - sent).toBe(2);

    // Wait for the client to have it: the server's "delivered" is the hand-off to the socket, not its arrival.
    expect((await subs[2].waitFor(1)).map((r) => r.data?.viewerKeyStatusChanged)).toEqual([
      {
        provider: 'ANTHROPIC',
        status: 'INVALID',
        previousStatus: 'VALID',
        testedAt: new Date(server.clock.now().getTime() - 60_000).toISOString(),
      },
    ]);
    // Published for that member only: nobody else in the org heard a thing.
    expect(server.probe.publishedOn(topic(admin.id))).toEqual([]);
    expect(server.probe.publishedOn(topic(staffing.id))).toEqual([]);
    expect(subs[0].results).toEqual([]);
    expect(subs[1].results).toEqual([]);
    subs.forEach((s) => s.stop());

    const audit = await db().auditEvent.findMany({ where: { orgId: org.id, action: 'personal_key.status_changed' } });
    expect(audit.map((a) => [a.actorId, a.detail])).toEqual([
      [null, { provider: 'ANTHROPIC', from: 'VALID', to: 'INVALID', by: 'scheduled re-test' }],
    ]);

    // A day later the admin's key is due too.
    server.clock.advance(24 * HOUR);
    const next = await round();
    expect(next.tested).toBe(1);
    expect((await statusOf(org.id, admin.id)).lastTestedAt).toEqual(server.clock.now());
  });

  it('leaves statuses alone while the provider is unreachable and backs off instead of retrying every round', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', goodKey(), 'INVALID');
    await testedAgo(org.id, interviewer.id, 30 * HOUR);
    const testedAt = (await statusOf(org.id, interviewer.id)).lastTestedAt;
    env.anthropic.outage = true;
    const sent = checksSent();
    const tries: number[] = [];
    for (let minute = 0; minute < 16; minute++) {
      const r = await round();
      if (!r.perVendor.ANTHROPIC.paused) tries.push(minute);
      server.clock.advance(60_000);
    }
    // Back-off doubles from one round: tries at minutes 0, 1, 3, 7 and 15, not sixteen.
    expect(tries).toEqual([0, 1, 3, 7, 15]);
    expect(checksSent() - sent).toBe(5);
    expect(await statusOf(org.id, interviewer.id)).toMatchObject({ status: 'INVALID', lastTestedAt: testedAt });

    env.anthropic.outage = false;
    server.clock.advance(16 * 60_000);
    expect(await round()).toMatchObject({ tested: 1, changed: 1 });
    expect((await statusOf(org.id, interviewer.id)).status).toBe('VALID');
  });

  it('marks a throttled key VALID (the provider authenticated it) and stops that vendor’s round', async () => {
    const { org, admin, interviewer } = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', 'sk-ant-api03-ratelimited-Pm5Ta2XgK8rLz0Cv', 'UNTESTED');
    await server.seed.key(org.id, admin.id, 'OPENAI', 'sk-proj-invalid-Fj3Kd9Mp5Hs1Ga7Qe', 'VALID');
    const r = await round();
    expect(r.perVendor.ANTHROPIC).toMatchObject({ tested: 1, rateLimited: true });
    expect(r.perVendor.OPENAI).toMatchObject({ tested: 1 });
    expect((await statusOf(org.id, interviewer.id)).status).toBe('VALID');
    expect((await statusOf(org.id, admin.id)).status).toBe('INVALID');
  });

  it.runIf(process.env.REDIS_URL)('runs on one instance of the fleet at a time (Redis lock)', async () => {
    const { org, interviewer } = await server.seed.org({ plan: 'GROWTH' });
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', goodKey(), 'UNTESTED');
    const release = await server.app.services.locks.tryAcquire('key-retests', 60_000);
    expect(release).not.toBeNull();
    expect(await round()).toMatchObject({ ran: false, tested: 0 });
    await release!();
    expect(await round()).toMatchObject({ ran: true, tested: 1 });
  });
});

describe('scheduled re-tests within a vendor’s rate limit', () => {
  it('send no more than KEY_RETEST_RATE checks per vendor per round, however many keys are due', async () => {
    const tight = await startServerWithVendors({
      env: { KEY_RETEST_INTERVAL: '5m', KEY_RETEST_RATE: '2/60', SWEEP_INTERVAL_MS: '60000' },
    });
    try {
      const { org } = await tight.server.seed.org({ plan: 'GROWTH' });
      for (let i = 0; i < 10; i++) {
        const m = await tight.server.seed.member(org.id, 'INTERVIEWER');
        await tight.server.seed.key(org.id, m.id, 'ANTHROPIC', goodKey(), 'UNTESTED');
      }
      const scheduler = keyRetestScheduler(tight.server.app.services);
      const perRound: number[] = [];
      for (let i = 0; i < 6; i++) {
        perRound.push((await scheduler.runRound()).tested);
        tight.server.clock.advance(60_000);
      }
      expect(perRound).toEqual([2, 2, 2, 2, 2, 2]); // the 5-minute interval makes the first keys due again
      expect(tight.anthropic.requests.filter((r) => r.path === '/v1/models')).toHaveLength(12);
    } finally {
      await tight.stop();
    }
  });
});
