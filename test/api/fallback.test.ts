// Fallback to Intervy Credits, only with an Org Admin's consent: for each trigger (no key, a key marked INVALID, a
// 401 before any text) it runs on credits when on, and behaves exactly as before when off. Never after text.
import { randomUUID } from 'node:crypto';
import { graphql } from '../../src/generated/graphql/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceOf, endOf, ledgerAddsUp, subscribeIvy } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { TestServer } from '../support/server.ts';
import { installSqlCounter, sqlPerOp, sqlSnapshot } from '../../bench/sql-probe.ts';

let env: ServerWithVendors, server: TestServer;
beforeAll(async () => {
  env = await startServerWithVendors();
  server = env.server;
});
afterAll(() => env?.stop());

const SET_FALLBACK = graphql(`
  mutation FallbackSet($input: SetFallbackToCreditsInput!) {
    setFallbackToCredits(input: $input) {
      fallbackToCredits
    }
  }
`);
const DIALOG = graphql(`
  query FallbackDialog($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      fallbackToCredits
    }
    providerChangeImpact(orgId: $orgId, provider: ANTHROPIC) {
      fallbackToCredits
    }
  }
`);
const USAGE = graphql(`
  query FallbackUsage($orgId: ID!) {
    usage(orgId: $orgId) {
      entries(first: 5) {
        edges {
          node {
            requestId
            fallbackReason
            creditsCharged
          }
        }
      }
    }
  }
`);

const SET_CAP = graphql(`
  mutation FallbackSetCap($input: SetMemberCapInput!) {
    setMemberCap(input: $input) {
      monthlyCap
    }
  }
`);

const BALANCE_CHANGED = graphql(`
  subscription FallbackBalance($orgId: ID!) {
    creditBalanceChanged(orgId: $orgId) {
      balance
    }
  }
`);
const balanceTopic = (orgId: string) => `creditBalanceChanged:${orgId}`;

const HOUSE_LAST4 = '0000'; // the test servers' house Anthropic key ends so
const memberKey = () => `sk-ant-api03-member-${randomUUID().replace(/-/g, '')}`;

/** A BYOK (Anthropic) org with credits, one interviewer, and fallback on or off. */
async function byokOrg(fallback: boolean, credits = 1000) {
  const seeded = await server.seed.org({ plan: 'GROWTH', provider: 'ANTHROPIC', credits });
  if (fallback)
    await server.client(seeded.admin.token).data(SET_FALLBACK, { input: { orgId: seeded.org.id, enabled: true } });
  return seeded;
}

/** Runs one completion over graphql-ws; returns its events (or its refusal) and the stand-in requests it made. */
async function ask(token: string, orgId: string, text = 'hello') {
  const marker = randomUUID();
  const results = await subscribeIvy(server.client(token), 'ws', {
    orgId,
    requestId: marker,
    messages: [{ role: 'USER', content: `${text} ${marker}` }],
    maxTokens: 300,
  }).done;
  const requests = env.anthropic.requests.filter((r) => JSON.stringify(r.body ?? '').includes(marker));
  return {
    refusal: results[0]?.errors?.[0]?.extensions?.code as string | undefined,
    events: results.flatMap((r) => (r.data ? [r.data.ivyCompletion] : [])),
    keysUsed: requests.map((r) => r.authKeyLast4),
    requestId: marker,
  };
}

const keyStatus = async (orgId: string, userId: string) =>
  (await server.app.services.db.personalApiKey.findFirstOrThrow({ where: { orgId, userId } })).status;

/** The member's own key, which the stand-in refuses (401), then one completion asked with it. */
async function askWithRefusedKey(orgId: string, member: { id: string; token: string }) {
  const key = memberKey();
  await server.seed.key(orgId, member.id, 'ANTHROPIC', key, 'VALID');
  env.anthropic.revoke(key);
  return { key, run: await ask(member.token, orgId) };
}

/** The answer failed on the member's key and credits could not take over, saying why; nothing was charged. */
function expectTakeOverRefused(run: Awaited<ReturnType<typeof ask>>, key: string, why: RegExp) {
  expect(run.events[0]).toMatchObject({ billing: 'BYOK', fallbackReason: null });
  const failed = endOf(run.events);
  expect(failed).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'PROVIDER_AUTH_FAILED', creditsCharged: 0 });
  expect(failed.__typename === 'IvyCompletionFailed' && failed.message).toMatch(why);
  expect(run.keysUsed).toEqual([key.slice(-4)]);
}

describe('the fallback setting', () => {
  it('is off by default, only Org Admins change it, every change is audited, and the confirmation dialog shows it', async () => {
    const { org, admin, staffing } = await server.seed.org({ plan: 'GROWTH' });
    expect((await server.client(admin.token).data(DIALOG, { orgId: org.id })).providerChangeImpact).toEqual({
      fallbackToCredits: false,
    });
    expect(
      await server.client(staffing.token).errorCode(SET_FALLBACK, { input: { orgId: org.id, enabled: true } }),
    ).toBe('FORBIDDEN');
    await server.client(admin.token).data(SET_FALLBACK, { input: { orgId: org.id, enabled: true } });
    expect(await server.client(admin.token).data(DIALOG, { orgId: org.id })).toEqual({
      orgAiSettings: { fallbackToCredits: true },
      providerChangeImpact: { fallbackToCredits: true },
    });
    const audit = await server.app.services.db.auditEvent.findMany({
      where: { orgId: org.id, action: 'ai_settings.fallback_changed' },
    });
    expect(audit.map((a) => [a.actorId, a.detail])).toEqual([[admin.id, { fallbackToCredits: true }]]);
  });
});

describe('a member with no key', () => {
  it('is refused NO_API_KEY with fallback off, as before', async () => {
    const { org, interviewer } = await byokOrg(false);
    const run = await ask(interviewer.token, org.id);
    expect(run.refusal).toBe('NO_API_KEY');
    expect(run.keysUsed).toEqual([]);
    expect(await balanceOf(server, org.id)).toBe(1000);
  });

  it('runs on Intervy Credits with fallback on, marked NO_API_KEY, and the Usage page marks it a fallback', async () => {
    const { org, admin, interviewer } = await byokOrg(true);
    const run = await ask(interviewer.token, org.id);
    expect(run.events[0]).toMatchObject({
      provider: 'INTERVY_CREDITS',
      billing: 'CREDITS',
      fallbackReason: 'NO_API_KEY',
    });
    const finished = endOf(run.events);
    expect(finished.__typename).toBe('IvyCompletionFinished');
    expect(finished.creditsCharged).toBeGreaterThan(0);
    expect(run.keysUsed).toEqual([HOUSE_LAST4]);
    expect(await balanceOf(server, org.id)).toBe(1000 - finished.creditsCharged);
    const entries = (await server.client(admin.token).data(USAGE, { orgId: org.id })).usage!.entries.edges;
    expect(entries.map((e: { node: unknown }) => e.node)).toEqual([
      { requestId: run.requestId, fallbackReason: 'NO_API_KEY', creditsCharged: finished.creditsCharged },
    ]);
    await ledgerAddsUp(server, org.id);
  });
});

describe('a member whose key is marked INVALID', () => {
  it('still tries the key with fallback off, as before', async () => {
    const { org, interviewer } = await byokOrg(false);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'INVALID');
    const run = await ask(interviewer.token, org.id);
    expect(run.events[0]).toMatchObject({ billing: 'BYOK', provider: 'ANTHROPIC', fallbackReason: null });
    expect(run.keysUsed).toEqual([key.slice(-4)]);
    expect(await balanceOf(server, org.id)).toBe(1000);
  });

  it('runs on Intervy Credits with fallback on, marked KEY_INVALID, without sending the key anywhere', async () => {
    const { org, interviewer } = await byokOrg(true);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'INVALID');
    const run = await ask(interviewer.token, org.id);
    expect(run.events[0]).toMatchObject({ billing: 'CREDITS', fallbackReason: 'KEY_INVALID' });
    expect(endOf(run.events).__typename).toBe('IvyCompletionFinished');
    expect(run.keysUsed).toEqual([HOUSE_LAST4]);
    await ledgerAddsUp(server, org.id);
  });
});

describe('a key the provider refuses (401) before any text', () => {
  it('fails PROVIDER_AUTH_FAILED with fallback off and marks the key INVALID, as before; no credits move', async () => {
    const { org, interviewer } = await byokOrg(false);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'VALID');
    env.anthropic.revoke(key);
    const run = await ask(interviewer.token, org.id);
    expect(run.events[0]).toMatchObject({ billing: 'BYOK', fallbackReason: null });
    expect(run.events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'PROVIDER_AUTH_FAILED' });
    expect(run.keysUsed).toEqual([key.slice(-4)]);
    expect(await keyStatus(org.id, interviewer.id)).toBe('INVALID');
    expect(await balanceOf(server, org.id)).toBe(1000);
    // A BYOK answer moves no credits, so nothing is pushed to the live balance.
    expect(server.probe.publishedOn(balanceTopic(org.id))).toEqual([]);
  });

  it('moves the same completion to Intervy Credits with fallback on, marked PROVIDER_AUTH_FAILED, and marks the key INVALID', async () => {
    const { org, interviewer } = await byokOrg(true);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'VALID');
    env.anthropic.revoke(key);
    const live = server.client(interviewer.token).subscribeWs(BALANCE_CHANGED, { orgId: org.id });
    await server.waitForSubscribers(balanceTopic(org.id), 1);
    const run = await ask(interviewer.token, org.id);
    expect(run.events[0]).toMatchObject({
      provider: 'INTERVY_CREDITS',
      billing: 'CREDITS',
      fallbackReason: 'PROVIDER_AUTH_FAILED',
    });
    const finished = endOf(run.events);
    expect(finished.__typename).toBe('IvyCompletionFinished');
    expect(run.events.filter((e) => e.__typename === 'IvyCompletionStarted')).toHaveLength(1);
    expect(run.keysUsed).toEqual([key.slice(-4), HOUSE_LAST4]);
    expect(await keyStatus(org.id, interviewer.id)).toBe('INVALID');
    const row = await server.app.services.db.completion.findUniqueOrThrow({
      where: { orgId_requestId: { orgId: org.id, requestId: run.requestId } },
    });
    expect(row).toMatchObject({ billing: 'CREDITS', fallbackReason: 'PROVIDER_AUTH_FAILED', status: 'SUCCEEDED' });
    expect(await balanceOf(server, org.id)).toBe(1000 - finished.creditsCharged);
    await ledgerAddsUp(server, org.id);
    // The live balance saw the fallback's hold, then its settlement.
    await live.waitFor(2);
    expect(live.results.map((r) => r.data?.creditBalanceChanged.balance)).toEqual([
      1000 - row.holdAmount,
      1000 - finished.creditsCharged,
    ]);
    live.stop();
  });

  it('says why when credits cannot take over either, and charges nothing', async () => {
    const { org, interviewer } = await byokOrg(true, 0);
    const { key, run } = await askWithRefusedKey(org.id, interviewer);
    expectTakeOverRefused(run, key, /Intervy Credits could not take over/);
    expect(await balanceOf(server, org.id)).toBe(0);
  });
});

describe('the fallback hold', () => {
  it('is refused by the member’s monthly cap like any hold: the answer fails on the key, says why, and nothing moves', async () => {
    const { org, admin, interviewer } = await byokOrg(true);
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: 1 } });
    const { key, run } = await askWithRefusedKey(org.id, interviewer);
    expectTakeOverRefused(run, key, /Intervy Credits could not take over: .*monthly cap of 1 credits/);
    const row = await server.app.services.db.completion.findUniqueOrThrow({
      where: { orgId_requestId: { orgId: org.id, requestId: run.requestId } },
    });
    // The conversion was undone with the refusal: the completion stayed BYOK, held nothing, and settled as such.
    expect(row).toMatchObject({ billing: 'BYOK', holdAmount: 0, fallbackReason: null, status: 'FAILED' });
    expect(await balanceOf(server, org.id)).toBe(1000);
    expect(await server.app.services.db.memberSpend.findMany({ where: { orgId: org.id } })).toEqual([]);
    expect(await server.app.services.db.creditLedgerEntry.count({ where: { orgId: org.id, kind: 'HOLD' } })).toBe(0);
    await ledgerAddsUp(server, org.id);
  });

  it('is one statement, in no transaction of its own: the org’s row is never held across a round trip', async () => {
    const { org, interviewer } = await byokOrg(true);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'VALID');
    env.anthropic.revoke(key);
    installSqlCounter();
    const before = sqlSnapshot(); // counted from the ask on
    const run = await ask(interviewer.token, org.id);
    const made = sqlPerOp(before, sqlSnapshot(), 1).byKind;
    expect(run.events[0]).toMatchObject({ billing: 'CREDITS', fallbackReason: 'PROVIDER_AUTH_FAILED' });
    expect(endOf(run.events).__typename).toBe('IvyCompletionFinished');
    expect(made['SELECT verdict']).toBe(1); // ivy_hold_for_fallback
    // The path's one transaction is the key's INVALID mark with its audit event, after the hold; none around the hold.
    expect(made.BEGIN).toBe(1);
    expect(made['UPDATE "public"."personal_api_keys" SET']).toBe(1);
    await ledgerAddsUp(server, org.id);
  });
});

describe('after text has streamed', () => {
  it('never falls back: a BYOK answer cut mid-text fails on the member’s key and no credits move', async () => {
    const { org, interviewer } = await byokOrg(true);
    const key = memberKey();
    await server.seed.key(org.id, interviewer.id, 'ANTHROPIC', key, 'VALID');
    const run = await ask(interviewer.token, org.id, '[[overloaded]] tell me more');
    expect(run.events[0]).toMatchObject({ billing: 'BYOK', fallbackReason: null });
    expect(run.events.some((e) => e.__typename === 'IvyTextDelta')).toBe(true);
    expect(run.events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'PROVIDER_UNAVAILABLE' });
    expect(run.keysUsed).toEqual([key.slice(-4)]);
    expect(await balanceOf(server, org.id)).toBe(1000);
    expect(await keyStatus(org.id, interviewer.id)).toBe('VALID');
  });
});
