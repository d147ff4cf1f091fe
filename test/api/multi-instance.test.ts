import { afterAll, beforeAll, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { settingsTopic } from '../support/server-probe.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
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
