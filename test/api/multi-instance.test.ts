import { afterAll, beforeAll, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { settingsTopic } from '../support/server-probe.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { SCALE_SETTINGS_WATCH, SCALE_UPDATE_PROVIDER } from '../../dev/documents.ts';
import { main as creditsCommand } from '../../src/commands/credits.ts';
import { runCommand } from '../support/operator-command.ts';

// Needs Redis: runs in CI's second pass (REDIS_URL=redis://127.0.0.1:6379), skipped where there is none.
const redisUrl = process.env.REDIS_URL;

let one: TestServer;
let two: TestServer;

beforeAll(async () => {
  if (!redisUrl) return;
  const databaseUrl = await createTestDatabase();
  const shared = {
    databaseUrl,
    jwtSecret: 'shared-secret-for-both-instances-000',
    keyEncryptionKeys: Keyring.generateEntry('k1'),
  };
  one = await startTestServer(shared);
  two = await startTestServer(shared);
});
afterAll(async () => {
  await one?.stop();
  await two?.stop();
});

it.skipIf(!redisUrl)('delivers a change made on one instance to a subscriber on the other, over Redis', async () => {
  const { org, admin, interviewer } = await one.seed.org({ plan: 'GROWTH' });
  const watch = two.client(interviewer.token).subscribeWs(
    graphql(`
      subscription MultiInstanceWatch($o: ID!) {
        orgAiSettingsChanged(orgId: $o) {
          provider
          model {
            modelId
          }
          viewerCanManage
        }
      }
    `),
    { o: org.id },
  );
  // Instance two says when its subscriber is live, Redis SUBSCRIBE acknowledged: a change on instance one now reaches it.
  await two.waitForSubscribers(settingsTopic(org.id), 1);
  await one.client(admin.token).data(
    graphql(`
      mutation MultiInstanceSwitch($o: ID!) {
        updateProvider(input: { orgId: $o, provider: OPENAI, model: "o3" }) {
          provider
        }
      }
    `),
    { o: org.id },
  );
  const [event] = await watch.waitFor(1);
  expect(event.data).toEqual({
    orgAiSettingsChanged: { provider: 'OPENAI', model: { modelId: 'o3' }, viewerCanManage: false },
  });
  expect(one.probe.publishedOn(settingsTopic(org.id))).toEqual([{ orgId: org.id }]);
  expect(two.probe.publishedOn(settingsTopic(org.id))).toEqual([]);
  watch.stop();
});

it.skipIf(!redisUrl)(
  'reads access afresh for each event on every instance: a member removed or demoted elsewhere is refused or sees the new role at the next event',
  async () => {
    const { org, admin, staffing, interviewer } = await one.seed.org({ plan: 'GROWTH' });
    await one.seed.key(org.id, staffing.id, 'ANTHROPIC', 'sk-ant-api03-multi-staffing-Zz9Yy8Xx7');
    // The staffing member and the interviewer listen on both instances; the events' shared reads are per instance.
    const subs = [one, two].flatMap((server) =>
      [staffing, interviewer].map((m) => server.client(m.token).subscribeWs(SCALE_SETTINGS_WATCH, { orgId: org.id })),
    );
    await one.waitForSubscribers(settingsTopic(org.id), 2);
    await two.waitForSubscribers(settingsTopic(org.id), 2);
    const change = (provider: 'OPENAI' | 'ANTHROPIC') =>
      one.client(admin.token).data(SCALE_UPDATE_PROVIDER, { input: { orgId: org.id, provider } });
    await change('OPENAI');
    for (const s of subs) await s.waitFor(1);
    // Between two events: the staffing member becomes an admin, the interviewer leaves the org.
    await one.app.services.db.membership.update({
      where: { orgId_userId: { orgId: org.id, userId: staffing.id } },
      data: { role: 'ADMIN' },
    });
    await one.app.services.db.membership.delete({ where: { orgId_userId: { orgId: org.id, userId: interviewer.id } } });
    await change('ANTHROPIC');
    const [staffingOnOne, leaverOnOne, staffingOnTwo, leaverOnTwo] = subs;
    for (const s of [staffingOnOne, staffingOnTwo]) {
      await s.waitFor(2);
      expect(s.results.map((r) => r.data?.orgAiSettingsChanged.viewerCanManage)).toEqual([false, true]);
      expect(s.results[1].data?.orgAiSettingsChanged.viewerKeys).toEqual([
        { provider: 'ANTHROPIC', hint: 'sk-ant-…8Xx7', status: 'VALID' },
      ]);
    }
    for (const s of [leaverOnOne, leaverOnTwo]) {
      const received = await s.done;
      expect(received.map((r) => r.data?.orgAiSettingsChanged.provider ?? r.errors?.[0]?.extensions?.code)).toEqual([
        'OPENAI',
        'FORBIDDEN',
      ]);
    }
    for (const s of subs) s.stop();
  },
);

it.skipIf(!redisUrl)(
  'pushes the balance an operator’s grant (another process) moved to a balance subscriber on each instance, over Redis',
  async () => {
    const { org, admin, interviewer } = await one.seed.org({ credits: 100 });
    const BALANCE = graphql(`
      subscription MultiInstanceBalance($o: ID!) {
        creditBalanceChanged(orgId: $o) {
          balance
        }
      }
    `);
    const onOne = one.client(admin.token).subscribeWs(BALANCE, { o: org.id });
    const onTwo = two.client(interviewer.token).subscribeWs(BALANCE, { o: org.id });
    await one.waitForSubscribers(`creditBalanceChanged:${org.id}`, 1);
    await two.waitForSubscribers(`creditBalanceChanged:${org.id}`, 1);
    const slug = (await one.app.services.db.org.findUniqueOrThrow({ where: { id: org.id } })).slug;
    const granted = await runCommand(creditsCommand, ['grant', slug, '250'], {
      DATABASE_URL: one.config.databaseUrl,
      AUTH_JWT_SECRET: one.config.jwtSecret,
      KEY_ENCRYPTION_KEYS: one.config.keyEncryptionKeys,
      REDIS_URL: redisUrl,
    });
    expect(granted.code, granted.stderr).toBe(0);
    const [a] = await onOne.waitFor(1);
    const [b] = await onTwo.waitFor(1);
    expect(a.data).toEqual({ creditBalanceChanged: { balance: 350 } });
    expect(b.data).toEqual({ creditBalanceChanged: { balance: 350 } });
    onOne.stop();
    onTwo.stop();
  },
);
