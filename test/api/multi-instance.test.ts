import { afterAll, beforeAll, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';

// Needs Redis: runs in CI's second pass (REDIS_URL=redis://127.0.0.1:6379), skipped where there is none.
const redisUrl = process.env.REDIS_URL;

let one: TestServer;
let two: TestServer;

beforeAll(async () => {
  if (!redisUrl) return;
  const databaseUrl = await createTestDatabase();
  const shared = { databaseUrl, jwtSecret: 'shared-secret-for-both-instances-000', keyEncryptionKeys: Keyring.generateEntry('k1') };
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
    `subscription($o: ID!) { orgAiSettingsChanged(orgId: $o) { provider model { id } viewerCanManage } }`,
    { o: org.id },
  );
  // Prime through instance one until instance two's subscriber hears it: the Redis path is then live both ways.
  for (let attempt = 0; watch.results.length === 0; attempt++) {
    if (attempt > 40) throw new Error('the subscription on instance two never heard instance one');
    one.app.services.pubsub.publish('orgAiSettingsChanged', org.id, { orgId: org.id });
    await watch.waitFor(1, 250).catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 250)); // let any extra priming events arrive, then forget them
  watch.results.length = 0;
  await one.client(admin.token).data(`mutation($o: ID!) { updateProvider(input: { orgId: $o, provider: OPENAI, model: "o3" }) { provider } }`, { o: org.id });
  await expect
    .poll(() => watch.results.at(-1)?.data, { timeout: 5000 })
    .toEqual({ orgAiSettingsChanged: { provider: 'OPENAI', model: { id: 'o3' }, viewerCanManage: false } });
  watch.stop();
});
