// Answers that survive a lost connection, on one instance: a drop detaches (Stop cancels, see ivy-failures.test.ts),
// a resume replays after the last index seen and then goes live, a finished answer replays to its end, another
// member's requestId is refused like an unknown one, and a detached answer nobody resumes is cancelled at the window.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditsFor, TextTokenEstimate } from '../../src/domain/pricing.ts';
import { rawIvySocket, waitForSettlement } from '../support/billing.ts';
import { STOP_IVY } from '../../dev/documents.ts';
import type { IvyCompletionInput } from '../../src/generated/graphql/graphql.ts';
import {
  ask,
  balanceOf,
  endOf,
  ledgerAddsUp,
  runCompletion,
  subscribeIvy,
  type IvyEvent,
  type Transport,
} from '../support/ivy.ts';
import { deltasText, expectWhole, lastIndex, textOf, whenAnswer } from '../support/resume.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let env: ServerWithVendors, server: TestServer, shortWindow: TestServer;
const WINDOW_MS = 300;
beforeAll(async () => {
  env = await startServerWithVendors();
  server = env.server;
  shortWindow = await startTestServer({
    env: { ...env.vendorEnv, RESUME_WINDOW_MS: String(WINDOW_MS), MAX_COMPLETIONS_PER_MEMBER: '1' },
  });
});
afterAll(async () => {
  await shortWindow?.stop();
  await env?.stop();
});

/** Starts an answer, loses the connection after `seen` events, and returns what the client had by then. */
async function startAndLose(
  s: TestServer,
  transport: Transport,
  token: string,
  input: IvyCompletionInput,
  seen = 3,
): Promise<IvyEvent[]> {
  const detached = whenAnswer(s, 'detached', String(input.requestId));
  if (transport === 'ws') {
    const socket = await rawIvySocket(s, token);
    socket.subscribe('1', input);
    await socket.events('1', seen);
    socket.drop();
    await detached;
    return socket.eventsOf('1');
  }
  const sub = subscribeIvy(s.client(token), 'sse', input);
  await sub.waitFor(seen);
  sub.stop();
  await detached;
  return sub.results.map((r) => r.data!.ivyCompletion);
}

describe.each<Transport>(['ws', 'sse'])('a lost connection over %s', (transport) => {
  it('detaches instead of cancelling: the answer goes on upstream, and a resume gets the exact text once, billed once', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const requestId = `lost-${transport}`;
    const aborts = env.anthropic.aborts.length;
    const input = {
      orgId: org.id,
      messages: ask(`${requestId} [[deltas:40]] [[slow:20]] [[usage:400:120]]`),
      requestId,
    };
    const before = await startAndLose(server, transport, interviewer.token, input);
    const resumed = await runCompletion(server.client(interviewer.token), transport, {
      ...input,
      resumeFrom: lastIndex(before),
    });
    const all = expectWhole(before, resumed);
    expect(textOf(all)).toBe(deltasText(40));
    expect(endOf(all)).toMatchObject({ __typename: 'IvyCompletionFinished', finishReason: 'END_TURN' });
    // Never cut upstream, sent upstream once, billed once for what the provider reported.
    expect(env.anthropic.aborts.length).toBe(aborts);
    expect(env.anthropic.requests.filter((r) => JSON.stringify(r.body).includes(requestId))).toHaveLength(1);
    const row = await waitForSettlement(server, org.id, requestId);
    expect(row).toMatchObject({
      status: 'SUCCEEDED',
      creditsCharged: creditsFor({ creditsPer1kInput: 1, creditsPer1kOutput: 5 }, 400, 120),
    });
    expect(await balanceOf(server, org.id)).toBe(1000 - row.creditsCharged);
    await ledgerAddsUp(server, org.id);
  });
});

describe('resume', () => {
  it('replays a finished answer to its end from any index, sending nothing upstream and billing nothing again', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const input = { orgId: org.id, messages: ask('[[deltas:5]] [[max-tokens]]'), requestId: 'done-then-resumed' };
    const client = server.client(interviewer.token);
    const first = await runCompletion(client, 'ws', input);
    const requests = env.anthropic.requests.length;
    const balance = await balanceOf(server, org.id);
    expect(await runCompletion(client, 'sse', { ...input, resumeFrom: 0 })).toEqual(first);
    expect(await runCompletion(client, 'ws', { ...input, resumeFrom: 4 })).toEqual(first.slice(4));
    expect(endOf(first)).toMatchObject({ index: 7, finishReason: 'MAX_TOKENS' });
    expect(env.anthropic.requests.length).toBe(requests);
    expect(await balanceOf(server, org.id)).toBe(balance);
  });

  it('refuses another member’s requestId with FORBIDDEN, exactly as an unknown one, for resume and for Stop', async () => {
    const { org, interviewer, staffing } = await server.seed.org({ credits: 1000 });
    const input = { orgId: org.id, messages: ask('[[deltas:2]]'), requestId: 'mine' };
    await runCompletion(server.client(interviewer.token), 'ws', input);
    const other = server.client(staffing.token);
    const refusal = async (requestId: string) => {
      const [result] = await subscribeIvy(other, 'sse', { ...input, requestId, resumeFrom: 0 }).done;
      const stop = await other.request(STOP_IVY, { input: { orgId: org.id, requestId } });
      return [
        result.errors?.map((e) => [e.message, e.extensions?.code]),
        stop.errors?.map((e) => [e.message, e.extensions?.code]),
      ];
    };
    const theirs = await refusal('mine');
    expect(theirs[0]).toEqual([[expect.any(String), 'FORBIDDEN']]);
    expect(theirs[1]).toEqual([[expect.any(String), 'FORBIDDEN']]);
    expect(await refusal('nobody-used-this')).toEqual(theirs);
  });

  it('refuses a negative resumeFrom, and a resume without a requestId, with BAD_USER_INPUT', async () => {
    const { org, interviewer } = await server.seed.org();
    const client = server.client(interviewer.token);
    for (const input of [
      { orgId: org.id, messages: ask('x'), requestId: 'r', resumeFrom: -1 },
      { orgId: org.id, messages: ask('x'), resumeFrom: 0 },
    ]) {
      const [result] = await subscribeIvy(client, 'sse', input).done;
      expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('the resume window', () => {
  it('cancels a detached answer nobody resumed once it ends, and bills what was generated into the log', async () => {
    const { org, interviewer } = await shortWindow.seed.org({ credits: 500 });
    const requestId = 'nobody-came-back';
    const abortsBefore = env.anthropic.aborts.length;
    const aborted = env.anthropic.waitForAborts(abortsBefore + 1, 10_000);
    const detached = whenAnswer(shortWindow, 'detached', requestId);
    const input = { orgId: org.id, messages: ask('[[deltas:6]] [[hang-after:6]] [[usage:1000:1]]'), requestId };
    // The client leaves after the first event; the stand-in produces six deltas in all, then hangs.
    const socket = await rawIvySocket(shortWindow, interviewer.token);
    socket.subscribe('1', { ...input, maxTokens: 2000 });
    await socket.events('1', 1);
    socket.drop();
    const detachedAt = await detached;
    const abort = await aborted;
    expect(abort.at - detachedAt).toBeGreaterThanOrEqual(WINDOW_MS - 2);
    const row = await waitForSettlement(shortWindow, org.id, requestId);
    expect(row).toMatchObject({ status: 'CANCELLED', errorCode: 'CANCELLED', deliveredChars: deltasText(6).length });
    expect(row.creditsCharged).toBeGreaterThanOrEqual(
      creditsFor({ creditsPer1kInput: 1, creditsPer1kOutput: 5 }, 1000, TextTokenEstimate.of(deltasText(6))),
    );
    // Within retention it still replays, to its end: IvyCompletionFailed CANCELLED.
    const replay = await runCompletion(shortWindow.client(interviewer.token), 'ws', { ...input, resumeFrom: 0 });
    expect(textOf(replay)).toBe(deltasText(6));
    expect(endOf(replay)).toMatchObject({
      __typename: 'IvyCompletionFailed',
      code: 'CANCELLED',
      creditsCharged: row.creditsCharged,
    });
    await ledgerAddsUp(shortWindow, org.id);
  });

  it('keeps a detached answer’s concurrency slot until it settles, so dropped connections cannot run more at once', async () => {
    const { org, interviewer } = await shortWindow.seed.org({ credits: 500 });
    const client = shortWindow.client(interviewer.token);
    const detached = whenAnswer(shortWindow, 'detached', 'slot-held');
    const socket = await rawIvySocket(shortWindow, interviewer.token);
    socket.subscribe('1', { orgId: org.id, messages: ask('[[hang]]'), requestId: 'slot-held' });
    await socket.events('1', 2);
    socket.drop();
    await detached;
    const [refused] = await subscribeIvy(client, 'sse', { orgId: org.id, messages: ask('hi') }).done;
    expect(refused.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    const freed = shortWindow.app.services.limits.whenReleased('completions-member', interviewer.id, 1);
    expect(await waitForSettlement(shortWindow, org.id, 'slot-held')).toMatchObject({ status: 'CANCELLED' });
    await freed;
    const events = await runCompletion(client, 'sse', { orgId: org.id, messages: ask('hi') });
    expect(endOf(events).__typename).toBe('IvyCompletionFinished');
  });

  it('lets a detached answer finish during a drain’s grace period instead of cancelling it', async () => {
    const draining = await startTestServer({ env: { ...env.vendorEnv, SHUTDOWN_GRACE_MS: '20000' } });
    try {
      const { org, interviewer } = await draining.seed.org({ credits: 500 });
      const requestId = 'detached-at-deploy';
      const detached = whenAnswer(draining, 'detached', requestId);
      const socket = await rawIvySocket(draining, interviewer.token);
      socket.subscribe('1', { orgId: org.id, messages: ask('[[deltas:20]] [[slow:20]]'), requestId });
      await socket.events('1', 2);
      socket.drop();
      await detached;
      const settled = waitForSettlement(draining, org.id, requestId);
      const timeline = draining.app.shutdown();
      expect(await settled).toMatchObject({ status: 'SUCCEEDED', deliveredChars: deltasText(20).length });
      expect((await timeline).map((t) => t.step)).not.toContainEqual(expect.stringMatching(/^grace period over/));
    } finally {
      await draining.stop();
    }
  });

  it('keeps an ended answer resumable for RESUME_RETENTION_MS only, then says RESUME_EXPIRED', async () => {
    const brief = await startTestServer({ env: { ...env.vendorEnv, RESUME_RETENTION_MS: '50' } });
    try {
      const { org, interviewer } = await brief.seed.org({ credits: 500 });
      const requestId = 'kept-briefly';
      const { answers, events } = brief.app.services;
      // Without Redis the log leaves memory (the server says when); with Redis its stream expires (Redis says when).
      const forgotten = new Promise<void>((resolve) =>
        events.on('answer-forgotten', (e) => e.requestId === requestId && resolve()),
      );
      const input = { orgId: org.id, messages: ask('[[deltas:2]]'), requestId };
      await runCompletion(brief.client(interviewer.token), 'ws', input);
      if (answers.redis) {
        const row = await brief.app.services.db.completion.findFirstOrThrow({ where: { orgId: org.id, requestId } });
        while (await brief.app.redis!.commands.exists(`ivy:answer:${row.id}`));
      } else await forgotten;
      const [result] = await subscribeIvy(brief.client(interviewer.token), 'sse', { ...input, resumeFrom: 0 }).done;
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['RESUME_EXPIRED']);
    } finally {
      await brief.stop();
    }
  });
});
