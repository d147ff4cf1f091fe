// Two instances on one database and one Redis: a re-test round runs on one of them at a time, and the member hears
// the status change it found on whichever instance their subscription lives.
import { randomUUID } from 'node:crypto';
import { graphql } from '../../src/generated/graphql/index.ts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyRetestScheduler } from '../../src/domain/key-retests.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { memberKey } from '../../src/lib/pubsub.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';

// Needs Redis: runs in CI's second pass (REDIS_URL=redis://127.0.0.1:6379), skipped where there is none.
const redisUrl = process.env.REDIS_URL;

const FLEET_KEY_STATUS = graphql(`
  subscription FleetKeyStatus($o: ID!) {
    viewerKeyStatusChanged(orgId: $o) {
      provider
      status
      previousStatus
    }
  }
`);

let one: TestServer, two: TestServer, anthropic: FakeVendorServer;
beforeAll(async () => {
  if (!redisUrl) return;
  anthropic = await startFakeAnthropic();
  const shared = {
    databaseUrl: await createTestDatabase(),
    jwtSecret: 'shared-secret-for-both-instances-000',
    keyEncryptionKeys: Keyring.generateEntry('k1'),
    env: { ANTHROPIC_BASE_URL: anthropic.url },
  };
  one = await startTestServer(shared);
  two = await startTestServer(shared);
});
afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await anthropic?.close();
});

it.skipIf(!redisUrl)(
  'runs a round on one instance at a time and pushes what it finds to the member on the other',
  async () => {
    const { org, interviewer } = await one.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC' });
    const key = `sk-ant-api03-member-${randomUUID().replace(/-/g, '')}`;
    await one.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'VALID');
    anthropic.revoke(key);
    const topic = `viewerKeyStatusChanged:${memberKey(org.id, interviewer.id)}`;
    const watch = two.client(interviewer.token).subscribeWs(FLEET_KEY_STATUS, { o: org.id });
    await two.waitForSubscribers(topic, 1);

    // While instance one holds the fleet's lock, instance two's round does nothing.
    const release = await one.app.services.locks.tryAcquire('key-retests', 60_000);
    expect(release).not.toBeNull();
    expect(await keyRetestScheduler(two.app.services).runRound()).toMatchObject({ ran: false, tested: 0 });
    expect(anthropic.requests.filter((r) => r.path === '/v1/models')).toHaveLength(0);
    await release!();

    expect(await keyRetestScheduler(one.app.services).runRound()).toMatchObject({ ran: true, tested: 1, changed: 1 });
    const [event] = await watch.waitFor(1);
    expect(event.data).toEqual({
      viewerKeyStatusChanged: { provider: 'ANTHROPIC', status: 'INVALID', previousStatus: 'VALID' },
    });
    watch.stop();
  },
);
