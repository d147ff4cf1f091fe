// Resumable answers across instances (two on one database and one Redis): resume on the other instance, a reader
// there keeps a detached answer alive, Stop from the other instance, and the instance producing an answer dying.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseExpiredHolds } from '../../src/domain/credits.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { rawIvySocket, waitForSettlement } from '../support/billing.ts';
import { spawnServer, type ChildServer } from '../support/child-server.ts';
import { GraphQLClient } from '../../dev/client.ts';
import { STOP_IVY } from '../../dev/documents.ts';
import { ask, balanceOf, endOf, ledgerAddsUp, runCompletion, subscribeIvy } from '../support/ivy.ts';
import { deltasText, expectWhole, lastIndex, textOf, whenAnswer } from '../support/resume.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';

// Needs Redis: runs in CI's second pass (REDIS_URL=redis://127.0.0.1:6379), skipped where there is none.
const redisUrl = process.env.REDIS_URL;
const WINDOW_MS = 300;

let env: ServerWithVendors, one: TestServer, two: TestServer;
const shared = { jwtSecret: 'shared-secret-for-both-instances-000', keyEncryptionKeys: Keyring.generateEntry('k1') };
beforeAll(async () => {
  if (!redisUrl) return;
  const databaseUrl = await createTestDatabase();
  // One: a short resume window. Two: reads other instances' answers and checks their owner often.
  env = await startServerWithVendors({ ...shared, databaseUrl, env: { RESUME_WINDOW_MS: String(WINDOW_MS) } });
  one = env.server;
  two = await startTestServer({ ...shared, databaseUrl, env: { ...env.vendorEnv, RESUME_OWNER_CHECK_MS: '50' } });
});
afterAll(async () => {
  await two?.stop();
  await env?.stop();
});

describe.skipIf(!redisUrl)('across instances', () => {
  it('resumes on another instance after the socket dropped: the exact text once, never cut upstream', async () => {
    const { org, interviewer } = await one.seed.org({ credits: 1000 });
    const requestId = 'across';
    const input = { orgId: org.id, messages: ask(`${requestId} [[deltas:40]] [[slow:20]]`), requestId };
    const aborts = env.anthropic.aborts.length;
    const socket = await rawIvySocket(one, interviewer.token);
    const detached = whenAnswer(one, 'detached', requestId);
    socket.subscribe('1', input);
    await socket.events('1', 3);
    // A second tab on instance two, attached before the first one drops: its reading keeps the answer alive on one
    // past one's short window, while one has no listener of its own.
    const tab = subscribeIvy(two.client(interviewer.token), 'ws', { ...input, resumeFrom: 0 });
    await tab.waitFor(3);
    socket.drop();
    await detached;
    const before = socket.eventsOf('1');
    const resumed = await runCompletion(two.client(interviewer.token), 'sse', {
      ...input,
      resumeFrom: lastIndex(before),
    });
    const all = expectWhole(before, resumed);
    expect(textOf(all)).toBe(deltasText(40));
    expect(endOf(all).__typename).toBe('IvyCompletionFinished');
    expect((await tab.done).map((r) => r.data!.ivyCompletion)).toEqual(all);
    expect(env.anthropic.aborts.length).toBe(aborts);
    expect(await waitForSettlement(one, org.id, requestId)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('mirrors answers running at once in a few batched writes, each answer whole and in order on the other instance', async () => {
    const { org, interviewer } = await one.seed.org({ credits: 1000 });
    const redis = one.app.redis!.commands;
    const counts = { pipelines: 0, multis: 0 };
    const { pipeline, multi } = redis;
    redis.pipeline = ((...a: Parameters<typeof pipeline>) => (counts.pipelines++, pipeline.apply(redis, a))) as never;
    redis.multi = ((...a: Parameters<typeof multi>) => (counts.multis++, multi.apply(redis, a))) as never;
    // Four: a member's limit of answers streaming at once.
    const inputs = Array.from({ length: 4 }, (_, i) => ({
      orgId: org.id,
      messages: ask(`burst ${i} [[deltas:30]]`),
      requestId: `burst-${i}`,
    }));
    try {
      const local = await Promise.all(inputs.map((input) => runCompletion(one.client(interviewer.token), 'ws', input)));
      for (const [i, input] of inputs.entries()) {
        const replayed = await runCompletion(two.client(interviewer.token), 'sse', { ...input, resumeFrom: 0 });
        expect(replayed).toEqual(local[i]);
        expect(replayed.map((e) => e.index)).toEqual(replayed.map((_, k) => k + 1));
        expect(textOf(replayed)).toBe(deltasText(30));
      }
    } finally {
      Object.assign(redis, { pipeline, multi });
    }
    // 4 × 32 events: one MULTI/EXEC each before; now one pipeline per turn of the event loop that produced events.
    expect(counts.multis).toBe(0);
    expect(counts.pipelines).toBeLessThan((4 * 32) / 2);
  });

  it('stops an answer from the other instance: upstream aborted at once, billed for what was produced', async () => {
    const { org, interviewer } = await one.seed.org({ credits: 1000 });
    const requestId = 'stop-across';
    const sub = subscribeIvy(one.client(interviewer.token), 'sse', {
      orgId: org.id,
      messages: ask('[[hang]] [[usage:2000:1]]'),
      requestId,
    });
    await sub.waitFor(2);
    const aborts = env.anthropic.aborts.length;
    const asked = performance.now();
    const stopped = await two.client(interviewer.token).data(STOP_IVY, { input: { orgId: org.id, requestId } });
    expect(stopped.stopIvyCompletion).toEqual({ requestId, stopping: true });
    const abort = await env.anthropic.waitForAborts(aborts + 1);
    expect(abort.at - asked).toBeLessThan(one.config.providerTimeoutMs / 5); // not the stall timer
    const events = (await sub.done).map((r) => r.data!.ivyCompletion);
    expect(endOf(events)).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'CANCELLED', creditsCharged: 3 });
    expect(await waitForSettlement(one, org.id, requestId)).toMatchObject({ status: 'CANCELLED', creditsCharged: 3 });
    await ledgerAddsUp(one, org.id);
  });

  it('takes graphql-ws complete on a stream resumed on the other instance as Stop', async () => {
    const { org, interviewer } = await one.seed.org({ credits: 1000 });
    const requestId = 'complete-across';
    const input = { orgId: org.id, messages: ask('[[hang]]'), requestId };
    const first = subscribeIvy(one.client(interviewer.token), 'sse', input);
    await first.waitFor(2);
    const resumed = subscribeIvy(two.client(interviewer.token), 'ws', { ...input, resumeFrom: 0 });
    await resumed.waitFor(2);
    const aborts = env.anthropic.aborts.length;
    resumed.stop();
    await env.anthropic.waitForAborts(aborts + 1);
    expect(await waitForSettlement(one, org.id, requestId)).toMatchObject({ status: 'CANCELLED' });
    expect(endOf((await first.done).map((r) => r.data!.ivyCompletion))).toMatchObject({ code: 'CANCELLED' });
  });

  describe('the instance producing an answer dies', () => {
    let child: ChildServer | undefined;
    afterAll(() => child?.kill('SIGKILL'));

    it('ends the stream resumed elsewhere with ANSWER_INTERRUPTED, and the expiry sweep releases the hold in full', async () => {
      const { org, interviewer } = await one.seed.org({ credits: 1000 });
      child = await spawnServer({
        DATABASE_URL: one.config.databaseUrl,
        AUTH_JWT_SECRET: shared.jwtSecret,
        KEY_ENCRYPTION_KEYS: shared.keyEncryptionKeys,
        REDIS_URL: redisUrl,
        INTERVY_ANTHROPIC_API_KEY: one.config.intervyAnthropicApiKey,
        PROVIDER_MAX_RETRIES: '0',
        ...env.vendorEnv,
      });
      const requestId = 'owner-dies';
      const input = { orgId: org.id, messages: ask('[[deltas:50]] [[hang-after:4]]'), requestId };
      const socket = await rawIvySocket(child, interviewer.token);
      socket.subscribe('1', input);
      await socket.events('1', 2);
      socket.drop();
      const resumed = subscribeIvy(two.client(interviewer.token), 'ws', { ...input, resumeFrom: 1 });
      await resumed.waitFor(4); // the four deltas, replayed from Redis
      await child.kill('SIGKILL');
      const events = (await resumed.done).map((r) => r.data!.ivyCompletion);
      expect(textOf(events)).toBe(deltasText(4));
      expect(endOf(events)).toMatchObject({
        __typename: 'IvyCompletionFailed',
        index: 6,
        code: 'ANSWER_INTERRUPTED',
        creditsCharged: 0,
      });
      const db = one.app.services.db;
      const row = await db.completion.findFirstOrThrow({ where: { orgId: org.id, requestId } });
      expect(row.status).toBe('RUNNING');
      await releaseExpiredHolds(one.app.services, new Date(Date.now() + one.config.holdTimeoutMs + 1));
      expect(await db.completion.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
        status: 'EXPIRED',
        creditsCharged: 0,
      });
      expect(await balanceOf(one, org.id)).toBe(1000);
      await ledgerAddsUp(one, org.id);
      // It is over: a new resume says so, the same way.
      const again = await runCompletion(new GraphQLClient(two.url, interviewer.token), 'sse', {
        ...input,
        resumeFrom: 5,
      });
      expect(endOf(again)).toMatchObject({ code: 'ANSWER_INTERRUPTED' });
    });
  });
});
