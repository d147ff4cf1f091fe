// Billed for what was delivered, no silent write-off, long streams keep their hold, requestId idempotent in both
// modes, and a member removed mid-answer is cut.
import { cacheKeys } from '../../src/domain/read-caches.ts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseExpiredHolds, reserveCredits } from '../../src/domain/credits.ts';
import { spendMonth } from '../../src/domain/member-caps.ts';
import type { GqlError } from '../../dev/client.ts';
import { creditsFor, inputTokenBound, TextTokenEstimate } from '../../src/domain/pricing.ts';
import { waitForSettlement } from '../support/billing.ts';
import {
  balanceOf,
  ledgerAddsUp,
  runCompletion,
  stopIvy,
  subscribeIvy,
  type Transport,
  type IvyEvent,
  ask,
  endOf,
} from '../support/ivy.ts';
import { runCommand } from '../support/operator-command.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { main as creditsCommand } from '../../src/commands/credits.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

let env: ServerWithVendors, server: TestServer, openaiHouse: TestServer;
const HOLD_TIMEOUT_MS = 60_000;
beforeAll(async () => {
  env = await startServerWithVendors({
    env: { HOLD_TIMEOUT_MS: String(HOLD_TIMEOUT_MS), MEMBERSHIP_RECHECK_MS: '1000' },
  });
  server = env.server;
  openaiHouse = await startTestServer({ env: { ...env.vendorEnv, INTERVY_HOUSE_MODEL: 'gpt-5-mini' } });
});
afterAll(async () => {
  await openaiHouse?.stop();
  await env?.stop();
});

const HAIKU = { creditsPer1kInput: 1, creditsPer1kOutput: 5 };
const GPT5_MINI = { creditsPer1kInput: 1, creditsPer1kOutput: 2 };
const textOf = (events: IvyEvent[]) =>
  events
    .filter((e) => e.__typename === 'IvyTextDelta')
    .map((e) => e.text)
    .join('');

describe.each<Transport>(['ws', 'sse'])('billed for what was delivered, over %s', (transport) => {
  it('charges a stream cancelled after 399 of 400 deltas for the reported input and the delivered output (Anthropic house model)', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const requestId = `cancel-399-${transport}`;
    const sub = subscribeIvy(server.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask('[[deltas:400]] [[hang-after:399]] [[usage:300:1200]]'),
      maxTokens: 2000,
      requestId,
    });
    await sub.waitFor(1 + 399, 30_000);
    await stopIvy(server.client(interviewer.token), transport, sub, org.id, requestId);
    const row = await waitForSettlement(server, org.id, requestId);
    const received = textOf(sub.results.map((r) => r.data!.ivyCompletion));
    expect(row.status).toBe('CANCELLED');
    expect(row.deliveredChars).toBeGreaterThanOrEqual(received.length);
    // message_start reported 300 input tokens; the output is at least the estimate of what reached the client.
    const atLeast = creditsFor(HAIKU, 300, TextTokenEstimate.of(received));
    expect(row.creditsCharged).toBeGreaterThanOrEqual(atLeast);
    expect(atLeast).toBeGreaterThan(1); // main charged 1 credit here
    expect(row).toMatchObject({ inputTokens: 300, inputTokensEstimated: false, outputTokensEstimated: true });
    expect(await balanceOf(server, org.id)).toBe(500 - row.creditsCharged);
    await ledgerAddsUp(server, org.id);
  });

  it('charges a cancelled OpenAI stream, which reports nothing until the end, for an estimate of input and delivered output', async () => {
    const { org, interviewer } = await openaiHouse.seed.org({ credits: 500 });
    const requestId = `cancel-openai-${transport}`;
    const prompt = '[[deltas:1000]] [[hang-after:999]]';
    const sub = subscribeIvy(openaiHouse.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask(prompt),
      maxTokens: 8000,
      requestId,
    });
    await sub.waitFor(1 + 999, 30_000);
    await stopIvy(openaiHouse.client(interviewer.token), transport, sub, org.id, requestId);
    const row = await waitForSettlement(openaiHouse, org.id, requestId);
    const received = textOf(sub.results.map((r) => r.data!.ivyCompletion));
    expect(row.creditsCharged).toBeGreaterThanOrEqual(
      creditsFor(GPT5_MINI, TextTokenEstimate.of(prompt), TextTokenEstimate.of(received)),
    );
    expect(row.creditsCharged).toBeGreaterThan(3); // main charged 0 here
    expect(row).toMatchObject({ status: 'CANCELLED', inputTokensEstimated: true, outputTokensEstimated: true });
    await ledgerAddsUp(openaiHouse, org.id);
  });

  it('charges a finished stream exactly what the provider reported, even when the delivered text suggests more', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const events = await runCompletion(server.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask('[[deltas:300]] [[usage:100:10]]'),
      maxTokens: 2000,
    });
    expect(events.at(-1)).toMatchObject({
      __typename: 'IvyCompletionFinished',
      inputTokens: 100,
      outputTokens: 10,
      creditsCharged: creditsFor(HAIKU, 100, 10),
    });
  });
});

describe('no silent write-off', () => {
  it('holds enough for any UTF-8 prompt: 20,000 CJK characters reported as 40,000 tokens are charged in full', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const cjk = '面'.repeat(20_000);
    const messages = ask(`${cjk} [[usage:40000:100]]`);
    expect(inputTokenBound(null, messages)).toBeGreaterThan(40_000);
    const events = await runCompletion(server.client(interviewer.token), 'ws', {
      orgId: org.id,
      messages,
      maxTokens: 200,
    });
    expect(events.at(-1)).toMatchObject({
      __typename: 'IvyCompletionFinished',
      creditsCharged: creditsFor(HAIKU, 40_000, 100),
    });
    const row = await server.app.services.db.completion.findFirstOrThrow({
      where: { orgId: org.id },
      include: { ledgerEntries: true },
    });
    expect(row.ledgerEntries.map((e) => e.kind).sort()).toEqual(['HOLD', 'RELEASE']);
  });

  it('takes a charge above the hold from the balance as an OVERAGE entry, audited and shown on the Usage page', async () => {
    const { org, admin } = await server.seed.org({ credits: 500 });
    // A 2-token prompt reported as 199,000 input tokens: far above the hold, and the balance covers the rest.
    const events = await runCompletion(server.client(admin.token), 'ws', {
      orgId: org.id,
      messages: ask('[[usage:199000:10]]'),
      maxTokens: 100,
      requestId: 'over',
    });
    const full = creditsFor(HAIKU, 199_000, 10);
    expect(events.at(-1)).toMatchObject({
      __typename: 'IvyCompletionFinished',
      creditsCharged: full,
      creditBalance: 500 - full,
    });
    const db = server.app.services.db;
    const row = await db.completion.findFirstOrThrow({
      where: { orgId: org.id, requestId: 'over' },
      include: { ledgerEntries: true },
    });
    expect(row.ledgerEntries.map((e) => e.kind).sort()).toEqual(['HOLD', 'OVERAGE', 'RELEASE']);
    expect(row.ledgerEntries.find((e) => e.kind === 'OVERAGE')!.amount).toBe(-(full - row.holdAmount));
    const audit = await db.auditEvent.findFirstOrThrow({ where: { orgId: org.id, action: 'credits.overage' } });
    expect(audit.detail).toMatchObject({ requestId: 'over', held: row.holdAmount, charged: full, owed: 0 });
    await ledgerAddsUp(server, org.id);
  });

  it('records what the balance cannot cover as an open overage, shown by the Usage page and the credits command, paid off by the next grant', async () => {
    const { org, admin } = await server.seed.org({ credits: 60 });
    const events = await runCompletion(server.client(admin.token), 'sse', {
      orgId: org.id,
      messages: ask('[[usage:199000:10]]'),
      maxTokens: 100,
    });
    const full = creditsFor(HAIKU, 199_000, 10);
    expect(events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFinished', creditsCharged: 60, creditBalance: 0 });
    const usage = await server.client(admin.token).data(
      graphql(`
        query IvyBillingOverage($o: ID!) {
          usage(orgId: $o) {
            openOverageCredits
            entries(first: 1) {
              edges {
                node {
                  creditsCharged
                  overageOwed
                }
              }
            }
          }
        }
      `),
      { o: org.id },
    );
    expect(usage.usage!.openOverageCredits).toBe(full - 60);
    expect(usage.usage!.entries.edges[0].node).toEqual({ creditsCharged: 60, overageOwed: full - 60 });
    const audit = await server.app.services.db.auditEvent.findFirstOrThrow({
      where: { orgId: org.id, action: 'credits.overage' },
    });
    expect(audit.detail).toMatchObject({ owed: full - 60 });
    const cmdEnv = {
      DATABASE_URL: server.config.databaseUrl,
      AUTH_JWT_SECRET: server.config.jwtSecret,
      KEY_ENCRYPTION_KEYS: server.config.keyEncryptionKeys,
    };
    const balance = await runCommand(creditsCommand, ['balance', org.slug], cmdEnv);
    expect(balance.stdout).toContain(`open overage: ${full - 60} credits owed`);
    const grant = await runCommand(creditsCommand, ['grant', org.slug, '1000'], cmdEnv);
    expect(grant.stdout).toContain(`${full - 60} of it paid off an open overage`);
    expect(await balanceOf(server, org.id)).toBe(1000 - (full - 60));
    expect((await server.app.services.db.org.findUniqueOrThrow({ where: { id: org.id } })).overageOwed).toBe(0);
    await ledgerAddsUp(server, org.id);
  });
});

describe('a long stream', () => {
  it('keeps its hold alive while it makes progress, so the expiry sweep leaves it and the finish bills it in full', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const requestId = 'long-stream';
    const sub = subscribeIvy(server.client(interviewer.token), 'ws', {
      orgId: org.id,
      messages: ask('[[deltas:8]] [[slow:150]] [[usage:100:2000]]'),
      maxTokens: 2000,
      requestId,
    });
    // Each delta the client sees moves the server's clock on by 25 s: 150 s in all, well past the 60 s hold timeout.
    for (let n = 2; n <= 7; n++) {
      await sub.waitFor(n);
      server.clock.advance(25_000);
    }
    await sub.waitFor(8);
    expect(await releaseExpiredHolds(server.app.services, server.clock.now())).toBe(0);
    const events = (await sub.done).map((r) => r.data!.ivyCompletion);
    expect(events.at(-1)).toMatchObject({
      __typename: 'IvyCompletionFinished',
      creditsCharged: creditsFor(HAIKU, 100, 2000),
    });
    expect(await waitForSettlement(server, org.id, requestId)).toMatchObject({ status: 'SUCCEEDED' });
    await ledgerAddsUp(server, org.id);
  });
});

describe.each<Transport>(['ws', 'sse'])('requestId in BYOK mode, over %s', (transport) => {
  it('refuses a repeat while the first runs and after it finished with DUPLICATE_REQUEST, sending nothing upstream again', async () => {
    const { org, staffing } = await server.seed.org({ provider: 'ANTHROPIC', credits: 300 });
    await server.seed.key(
      org.id,
      staffing.id,
      'ANTHROPIC',
      `sk-ant-member-own-key-abcdefghij-ID${transport.slice(0, 2).toUpperCase()}`,
    );
    const c = server.client(staffing.token);
    const input = { orgId: org.id, messages: ask('once [[deltas:6]] [[slow:40]]'), requestId: `byok-${transport}` };
    const upstream = () =>
      env.anthropic.requests.filter((r) => r.authKeyLast4 === `ID${transport.slice(0, 2).toUpperCase()}`).length;
    const first = subscribeIvy(c, transport, input);
    await first.waitFor(2);
    const whileRunning = await subscribeIvy(c, transport, input).done;
    expect(whileRunning[0].errors?.[0].extensions?.code).toBe('DUPLICATE_REQUEST');
    const events = (await first.done).map((r) => r.data!.ivyCompletion);
    expect(events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFinished', creditsCharged: 0, creditBalance: 300 });
    const afterwards = await subscribeIvy(c, transport, input).done;
    expect(afterwards[0].errors?.[0].extensions?.code).toBe('DUPLICATE_REQUEST');
    expect(upstream()).toBe(1);
    expect(await balanceOf(server, org.id)).toBe(300);
    expect(
      await server.app.services.db.creditLedgerEntry.count({ where: { orgId: org.id, kind: { not: 'GRANT' } } }),
    ).toBe(0);
  });
});

describe.each<Transport>(['ws', 'sse'])('a member removed mid-answer, over %s', (transport) => {
  it('is cut with FORBIDDEN at the next delta once the re-check is due, and billed for what was delivered', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const requestId = `removed-${transport}`;
    const sub = subscribeIvy(server.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask('[[deltas:200]] [[slow:20]]'),
      maxTokens: 2000,
      requestId,
    });
    await sub.waitFor(3);
    // The answer's re-check is on a timer and reads through the shared cache: the removal counts once its
    // invalidation has reached this instance (milliseconds after the commit, well inside MEMBERSHIP_RECHECK_MS).
    const invalidated = server.app.services.caches.feed.whenApplied(cacheKeys.membership(org.id, interviewer.id));
    await server.app.services.db.membership.delete({
      where: { orgId_userId: { orgId: org.id, userId: interviewer.id } },
    });
    await invalidated;
    server.clock.advance(1_000);
    const events = (await sub.done).map((r) => r.data!.ivyCompletion);
    const failed = endOf(events);
    expect(failed).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'FORBIDDEN' });
    expect(events.filter((e) => e.__typename === 'IvyTextDelta').length).toBeLessThan(200);
    const row = await waitForSettlement(server, org.id, requestId);
    expect(row).toMatchObject({ status: 'FAILED', errorCode: 'FORBIDDEN', creditsCharged: failed.creditsCharged });
    expect(row.creditsCharged).toBeGreaterThanOrEqual(creditsFor(HAIKU, 0, TextTokenEstimate.of(textOf(events))));
    await ledgerAddsUp(server, org.id);
  });
});

describe('a membership re-check the database is slow to answer', () => {
  it('holds back no delta: the answer streams on while the check waits, and ends whole', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const sub = subscribeIvy(server.client(interviewer.token), 'ws', {
      orgId: org.id,
      messages: ask('[[deltas:12]] [[slow:20]]'),
      maxTokens: 2000,
    });
    await sub.waitFor(2);
    // Every read of the memberships table now waits until the rollback, the re-check's among them.
    const lock = new pg.Client({ connectionString: server.config.databaseUrl });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE');
      server.clock.advance(1_000); // the re-check is due at the next delta
      await sub.waitFor(13); // started and all twelve deltas, while the check is still waiting
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      await lock.end();
    }
    const events = (await sub.done).map((r) => r.data!.ivyCompletion);
    expect(endOf(events)).toMatchObject({ __typename: 'IvyCompletionFinished' });
    expect(events.filter((e) => e.__typename === 'IvyTextDelta')).toHaveLength(12);
  });
});

const BALANCE_CHANGED = graphql(`
  subscription BillingBalanceChanged($orgId: ID!) {
    creditBalanceChanged(orgId: $orgId) {
      orgId
      balance
    }
  }
`);
const BALANCE = graphql(`
  query BillingBalance($orgId: ID!) {
    creditBalance(orgId: $orgId) {
      balance
    }
  }
`);
const balanceTopic = (orgId: string) => `creditBalanceChanged:${orgId}`;

/** Subscribes each token to the org's balance and resolves once the server counts them all as listening. */
async function watchBalance(on: TestServer, orgId: string, ...tokens: string[]) {
  const before = on.probe.subscribers(balanceTopic(orgId));
  const subs = tokens.map((token) => on.client(token).subscribeWs(BALANCE_CHANGED, { orgId }));
  await on.waitForSubscribers(balanceTopic(orgId), before + subs.length);
  return subs;
}
const pushed = (sub: { results: { data?: { creditBalanceChanged: { balance: number } } | null }[] }) =>
  sub.results.map((r) => r.data?.creditBalanceChanged.balance);

describe.each<Transport>(['ws', 'sse'])('the Ivy panel’s live balance, answers over %s', (transport) => {
  it('pushes the balance on the hold and again on the settlement; the final event carries the balance queried after it', async () => {
    const { org, staffing, interviewer } = await server.seed.org({ credits: 1000 });
    const [watcher] = await watchBalance(server, org.id, staffing.token);
    const requestId = `live-balance-finished-${transport}`;
    const events = await runCompletion(server.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask('[[deltas:3]] [[usage:100:30]]'),
      maxTokens: 600,
      requestId,
    });
    const end = endOf(events);
    expect(end.__typename).toBe('IvyCompletionFinished');
    const row = await waitForSettlement(server, org.id, requestId);
    await watcher.waitFor(2);
    const after = await server.client(staffing.token).data(BALANCE, { orgId: org.id });
    expect(pushed(watcher)).toEqual([1000 - row.holdAmount, 1000 - row.creditsCharged]);
    expect(end.creditBalance).toBe(after.creditBalance.balance);
    expect(after.creditBalance.balance).toBe(1000 - row.creditsCharged);
    expect(watcher.results[0].data!.creditBalanceChanged.orgId).toBe(org.id);
    watcher.stop();
  });
});

describe('creditBalanceChanged', () => {
  it('pushes the settlement of a stopped answer, whose CANCELLED event carries the balance queried after it', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 1000 });
    const [watcher] = await watchBalance(server, org.id, admin.token);
    const requestId = 'live-balance-stopped';
    const client = server.client(interviewer.token);
    const sub = subscribeIvy(client, 'ws', {
      orgId: org.id,
      messages: ask('[[deltas:10]] [[hang-after:2]] [[usage:100:30]]'),
      maxTokens: 600,
      requestId,
    });
    await sub.waitFor(1 + 2);
    await watcher.waitFor(1); // the hold
    await stopIvy(client, 'ws', sub, org.id, requestId);
    const row = await waitForSettlement(server, org.id, requestId);
    await watcher.waitFor(2);
    const after = (await server.client(admin.token).data(BALANCE, { orgId: org.id })).creditBalance.balance;
    expect(pushed(watcher)).toEqual([1000 - row.holdAmount, after]);
    // The stopped answer's last event, read again by resuming it: CANCELLED, with that same balance.
    const replay = await runCompletion(client, 'ws', { orgId: org.id, messages: [], requestId, resumeFrom: 0 });
    expect(endOf(replay)).toMatchObject({ code: 'CANCELLED', creditBalance: after });
    watcher.stop();
  });
  it('pushes a crashed process’s hold and its release by the expiry sweep', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 300 });
    const [watcher] = await watchBalance(server, org.id, interviewer.token);
    await reserveCredits(server.app.services, {
      orgId: org.id,
      userId: interviewer.id,
      requestId: 'live-balance-orphan',
      vendor: 'ANTHROPIC',
      model: 'claude-haiku-5-5',
      holdAmount: 40,
      holdExpiresAt: new Date(server.clock.now().getTime() + 1000),
      spendMonth: spendMonth(server.clock.now()),
    });
    await watcher.waitFor(1);
    expect(await releaseExpiredHolds(server.app.services, new Date(server.clock.now().getTime() + 1001))).toBe(1);
    await watcher.waitFor(2);
    expect(pushed(watcher)).toEqual([260, 300]);
    watcher.stop();
  });

  it('stops pushing to a member removed while subscribed: FORBIDDEN once, then the stream ends', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 1000 });
    const [stays, leaver] = await watchBalance(server, org.id, admin.token, interviewer.token);
    await server.app.services.db.membership.delete({
      where: { orgId_userId: { orgId: org.id, userId: interviewer.id } },
    });
    await runCompletion(server.client(admin.token), 'ws', { orgId: org.id, messages: ask('[[deltas:2]]') });
    await stays.waitFor(2);
    const received = await leaver.done;
    expect(received.filter((r) => r.data)).toEqual([]);
    expect(received.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN']);
    await server.waitForSubscribers(balanceTopic(org.id), 1);
    stays.stop();
  });

  it('refuses a non-member with FORBIDDEN and an anonymous client with UNAUTHENTICATED', async () => {
    const { org } = await server.seed.org({ credits: 100 });
    const outsider = await server.seed.outsider();
    for (const [token, code] of [
      [outsider.token, 'FORBIDDEN'],
      [null, 'UNAUTHENTICATED'],
    ] as const) {
      const sub = server.client(token).subscribeWs(BALANCE_CHANGED, { orgId: org.id });
      const outcome = await sub.done.then(
        (results) => results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code)),
        (error: unknown) => (Array.isArray(error) ? error.map((e: GqlError) => e.extensions?.code) : [String(error)]),
      );
      expect(outcome, String(token)).toEqual([code]);
    }
  });
});
