// A credits completion's upstream request leaves while its hold is placed, when this instance expects the hold to
// succeed (issue 10: the hold's round trip no longer comes before the upstream one). Each test freezes the hold on
// the org's row lock and asks the loopback stand-in whether the request arrived while the hold was still waiting.
// Nothing of the answer reaches the client, and nothing is billed, before the hold; a refused hold cuts the request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../dev/vendors/common.ts';
import { graphql } from '../../src/generated/graphql/index.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { cacheKeys } from '../../src/domain/read-caches.ts';
import { grantCredits } from '../../src/domain/credits.ts';
import { MAX_TOKENS_LIMIT } from '../../src/domain/ivy.ts';
import { holdFor } from '../../src/domain/pricing.ts';
import { lockCompletionsTable, lockOrgRow, rawIvySocket, waitForSettlement } from '../support/billing.ts';
import { ask, ledgerAddsUp, runCompletion } from '../support/ivy.ts';
import { createTestDatabase, startTestServer, type TestServer } from '../support/server.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';

let env: ServerWithVendors;
/** A second instance on the same database, with EARLY_UPSTREAM_START=false. */
let other: TestServer;
beforeAll(async () => {
  const shared = {
    databaseUrl: await createTestDatabase(),
    jwtSecret: 'shared-secret-for-both-instances-000',
    keyEncryptionKeys: Keyring.generateEntry('k1'),
  };
  // No provider timeout inside a test's time: a request left running ends only when something aborts it.
  env = await startServerWithVendors({
    ...shared,
    env: { RESUME_WINDOW_MS: '0', METRICS: '1', PROVIDER_TIMEOUT_MS: '600000' },
  });
  other = await startTestServer({ ...shared, env: { ...env.vendorEnv, EARLY_UPSTREAM_START: 'false' } });
});
afterAll(async () => {
  await other?.stop();
  await env?.stop();
});

const SET_CAP = graphql(`
  mutation EarlyUpstreamSetCap($input: SetMemberCapInput!) {
    setMemberCap(input: $input) {
      monthlyCap
    }
  }
`);

let asked = 0;
/**
 * Asks with the org's row locked, so the hold waits on it. Resolves once the hold waits and, when `early`, once the
 * stand-in has the request too; then `release()` lets the hold through. `arrivedWhileHeld` says, per upstream
 * request of this question, whether it reached the stand-in before the lock was released.
 */
async function askWithHoldFrozen(
  server: TestServer,
  token: string,
  orgId: string,
  requestId: string,
  {
    content = '',
    maxTokens,
    lock = 'org',
  }: {
    content?: string;
    maxTokens?: number;
    /** The org's row (the default) or, for a repeated requestId (its refusal never takes the org's row), the table. */
    lock?: 'org' | 'completions';
  } = {},
) {
  const marker = `early-upstream-${++asked}`;
  const arrivedWhileHeld: boolean[] = [];
  let held = true;
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  const onRequest = (r: RecordedRequest) => {
    if (!JSON.stringify(r.body).includes(marker)) return;
    arrivedWhileHeld.push(held);
    arrived();
  };
  env.anthropic.events.on('request', onRequest);
  const frozen = lock === 'org' ? await lockOrgRow(server, orgId) : await lockCompletionsTable(server);
  const socket = await rawIvySocket(server, token);
  socket.subscribe(requestId, { orgId, messages: ask(`${marker} ${content}`), requestId, maxTokens });
  await frozen.untilBlocked();
  return {
    socket,
    arrivedWhileHeld,
    /** The request reached the stand-in (only ever while the hold waits when it started early). */
    arrival,
    release: async () => {
      held = false;
      await frozen.release();
    },
    done: () => env.anthropic.events.off('request', onRequest),
  };
}

/** ivy_early_upstream_requests_total{outcome} as GET /metrics reads it now. */
async function earlyRequests(outcome: 'kept' | 'cut'): Promise<number> {
  const text = await (await fetch(`${env.server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`ivy_early_upstream_requests_total{outcome="${outcome}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/**
 * One answer asked with its hold frozen, then let through and settled: whether its upstream request reached the
 * stand-in while the hold waited. When the test expects it early, the hold is let through only once it arrived (a
 * request that never leaves early fails the test by its timeout).
 */
async function askedThroughFrozenHold(
  server: TestServer,
  token: string,
  orgId: string,
  requestId: string,
  expectEarly: boolean,
  maxTokens?: number,
) {
  const q = await askWithHoldFrozen(server, token, orgId, requestId, { maxTokens });
  if (expectEarly) await q.arrival;
  await q.release();
  const row = await waitForSettlement(server, orgId, requestId);
  q.done();
  q.socket.drop();
  return { arrivedWhileHeld: q.arrivedWhileHeld, row };
}

/**
 * A question asked with an answer that never ends by itself, whose hold is then refused: its request left while the hold waited, the
 * stand-in saw it aborted (the `abortsBefore + 1`th abort), and the client got the refusal `code` and no Ivy event.
 */
async function expectCut(
  q: Awaited<ReturnType<typeof askWithHoldFrozen>>,
  requestId: string,
  abortsBefore: number,
  code: string,
) {
  await q.arrival;
  await q.release();
  await env.anthropic.waitForAborts(abortsBefore + 1);
  await q.socket.eventsOrEnd(requestId, 100);
  expect(q.socket.eventsOf(requestId)).toEqual([]);
  expect(JSON.stringify(q.socket.of(requestId))).toContain(code);
  expect(q.arrivedWhileHeld).toEqual([true]);
}

/** One completion to its end, so that this instance knows the org's balance from its own hold and settlement. */
async function warmUp(server: TestServer, token: string, orgId: string, requestId: string) {
  await runCompletion(server.client(token), 'ws', { orgId, messages: ask('warm up'), requestId });
}

describe('the upstream request of a credits completion', () => {
  it('leaves while the hold is placed, and nothing of the answer reaches the client before the hold', async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 10_000 });
    await warmUp(server, interviewer.token, org.id, 'warm-1');
    const q = await askWithHoldFrozen(server, interviewer.token, org.id, 'early-1', { content: '[[deltas:4]]' });
    const keptBefore = await earlyRequests('kept');
    await q.arrival;
    // The whole answer may be at the server by now: the client has had nothing, and no completion row exists.
    expect(q.socket.of('early-1')).toEqual([]);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id, requestId: 'early-1' } })).toBe(0);
    await q.release();
    await q.socket.eventsOrEnd('early-1', 100);
    const events = q.socket.eventsOf('early-1');
    expect(events.map((e) => e.__typename)).toEqual([
      'IvyCompletionStarted',
      ...Array(4).fill('IvyTextDelta'),
      'IvyCompletionFinished',
    ]);
    expect(q.arrivedWhileHeld).toEqual([true]);
    expect(await waitForSettlement(server, org.id, 'early-1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await earlyRequests('kept')).toBe(keptBefore + 1);
    await ledgerAddsUp(server, org.id);
    q.done();
    q.socket.drop();
  });

  it("waits for the org's first hold on an instance (its balance is not known there yet), then starts early", async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 10_000 });
    const first = await askedThroughFrozenHold(server, interviewer.token, org.id, 'first-1', false);
    expect(first.arrivedWhileHeld).toEqual([false]);
    const second = await askedThroughFrozenHold(server, interviewer.token, org.id, 'second-1', true);
    expect(second.arrivedWhileHeld).toEqual([true]);
    await ledgerAddsUp(server, org.id);
  });

  it("waits for the hold when the balance known here does not cover the request's worst case", async () => {
    const { server } = env;
    const services = server.app.services;
    // An 8,192-token answer's worst case; the org starts with half of it (a default answer's hold is an eighth).
    const worst = holdFor(services.models.house, undefined, ask('early-upstream-00 '), MAX_TOKENS_LIMIT);
    const { org, interviewer } = await server.seed.org({ credits: Math.floor(worst / 2) });
    await warmUp(server, interviewer.token, org.id, 'warm-3');
    // A grant this instance's hold and settlement did not see: the balance now covers it, the one known here not.
    await grantCredits(services, org.slug, worst * 4, 'top-up');
    const q = await askedThroughFrozenHold(server, interviewer.token, org.id, 'big-1', false, MAX_TOKENS_LIMIT);
    expect(q.row).toMatchObject({ status: 'SUCCEEDED' });
    expect(q.arrivedWhileHeld).toEqual([false]);
    await ledgerAddsUp(server, org.id);
  });

  it('waits for the hold of a member under a monthly cap (the ledger counts the cap)', async () => {
    const { server } = env;
    const { org, admin, interviewer } = await server.seed.org({ credits: 10_000 });
    const invalidated = server.app.services.caches.feed.whenApplied(cacheKeys.membership(org.id, interviewer.id));
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: 5_000 } });
    await invalidated;
    await warmUp(server, interviewer.token, org.id, 'warm-4');
    const q = await askedThroughFrozenHold(server, interviewer.token, org.id, 'capped-1', false);
    expect(q.arrivedWhileHeld).toEqual([false]);
    await ledgerAddsUp(server, org.id);
  });

  it('waits for the hold on an instance with EARLY_UPSTREAM_START=false', async () => {
    const { org, interviewer } = await env.server.seed.org({ credits: 10_000 });
    await warmUp(other, interviewer.token, org.id, 'warm-5');
    const q = await askedThroughFrozenHold(other, interviewer.token, org.id, 'off-1', false);
    expect(q.arrivedWhileHeld).toEqual([false]);
  });

  it('is cut when the hold is refused (a requestId another instance took): the client gets only the refusal', async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 10_000 });
    await warmUp(other, interviewer.token, org.id, 'taken-1');
    await warmUp(server, interviewer.token, org.id, 'warm-6');
    const abortsBefore = env.anthropic.aborts.length;
    const [cutBefore, keptBefore] = [await earlyRequests('cut'), await earlyRequests('kept')];
    // The stand-in answers nothing, not even headers, until the request goes away: only aborting the request ends it
    // (the spent-balance test below covers a request refused after its first event, ended by returning its stream).
    const q = await askWithHoldFrozen(server, interviewer.token, org.id, 'taken-1', {
      content: '[[silent]]',
      lock: 'completions',
    });
    await expectCut(q, 'taken-1', abortsBefore, 'DUPLICATE_REQUEST');
    // Billed once, by the instance that took it first; nothing held or charged for the cut request.
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(2);
    // Operators see the house key's cut request on /metrics.
    expect([await earlyRequests('cut'), await earlyRequests('kept')]).toEqual([cutBefore + 1, keptBefore]);
    await ledgerAddsUp(server, org.id);
    q.done();
    q.socket.drop();
  });

  it('is cut when the balance known here was spent elsewhere; the org then waits for its next hold, once', async () => {
    const { server } = env;
    const services = server.app.services;
    const worst = holdFor(services.models.house, undefined, ask('early-upstream-00 [[hang]]'), MAX_TOKENS_LIMIT);
    const { org, interviewer } = await server.seed.org({ credits: Math.ceil(worst * 1.5) });
    await warmUp(server, interviewer.token, org.id, 'warm-7');
    // The other instance holds an answer's worst case and keeps it (its answer hangs): what is left cannot cover a
    // second one, though the balance this instance saw last could.
    const elsewhere = await rawIvySocket(other, interviewer.token);
    elsewhere.subscribe('elsewhere-1', {
      orgId: org.id,
      messages: ask('elsewhere [[hang]]'),
      requestId: 'elsewhere-1',
      maxTokens: MAX_TOKENS_LIMIT,
    });
    await elsewhere.events('elsewhere-1', 1);
    const abortsBefore = env.anthropic.aborts.length;
    const q = await askWithHoldFrozen(server, interviewer.token, org.id, 'spent-1', {
      content: '[[hang]]',
      maxTokens: MAX_TOKENS_LIMIT,
    });
    await expectCut(q, 'spent-1', abortsBefore, 'INSUFFICIENT_CREDITS');
    elsewhere.complete('elsewhere-1');
    await waitForSettlement(other, org.id, 'elsewhere-1');
    // The refusal said the balance known here was wrong: the next answer waits for its hold, the one after does not.
    const next = await askedThroughFrozenHold(server, interviewer.token, org.id, 'after-1', false);
    expect(next.arrivedWhileHeld).toEqual([false]);
    const again = await askedThroughFrozenHold(server, interviewer.token, org.id, 'after-2', true);
    expect(again.arrivedWhileHeld).toEqual([true]);
    await ledgerAddsUp(server, org.id);
    q.done();
    q.socket.drop();
    elsewhere.drop();
  });

  it('waits for the hold of a requestId this instance has seen in the org', async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 10_000 });
    await warmUp(server, interviewer.token, org.id, 'seen-1');
    const q = await askWithHoldFrozen(server, interviewer.token, org.id, 'seen-1', { lock: 'completions' });
    await q.release();
    await q.socket.eventsOrEnd('seen-1', 100);
    expect(JSON.stringify(q.socket.of('seen-1'))).toContain('DUPLICATE_REQUEST');
    // Never sent upstream (an early request leaves in the turn the hold is sent, long before the lock is let go).
    expect(q.arrivedWhileHeld).toEqual([]);
    q.done();
    q.socket.drop();
  });

  it('is cut by a Stop sent while the hold waits, and the completion settles CANCELLED with the books to the credit', async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 10_000 });
    await warmUp(server, interviewer.token, org.id, 'warm-8');
    const abortsBefore = env.anthropic.aborts.length;
    const q = await askWithHoldFrozen(server, interviewer.token, org.id, 'stopped-1', { content: '[[hang]]' });
    await q.arrival;
    q.socket.complete('stopped-1');
    await q.release();
    await env.anthropic.waitForAborts(abortsBefore + 1);
    expect(await waitForSettlement(server, org.id, 'stopped-1')).toMatchObject({ status: 'CANCELLED' });
    await ledgerAddsUp(server, org.id);
    q.done();
    q.socket.drop();
  });
});
