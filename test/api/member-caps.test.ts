// Per-member monthly credit caps: counted with the hold (never overshot, even by 50 requests at once), refused with
// MEMBER_CAP_REACHED saying when the cap resets, set by Org Admins only, and shown on the Usage page; and the
// estimate, which equals the hold the request then places and places nothing itself.
import { graphql } from '../../src/generated/graphql/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForSettlement } from '../support/billing.ts';
import { IVY } from '../../dev/documents.ts';
import { balanceOf, endOf, ledgerAddsUp } from '../support/ivy.ts';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';

let server: TestServer, stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, stop } = await startServerWithVendors({
    env: {
      MAX_COMPLETIONS_PER_MEMBER: '100',
      MAX_COMPLETIONS_PER_ORG: '100',
      MAX_COMPLETIONS_PER_SOCKET: '100',
      MAX_SUBSCRIPTIONS_PER_SOCKET: '100',
      // A closed SSE request cancels its answer at once here (no resume window): these tests are about holds.
      RESUME_WINDOW_MS: '0',
    },
  }));
});
afterAll(() => stop?.());

const SET_CAP = graphql(`
  mutation CapsSetMember($input: SetMemberCapInput!) {
    setMemberCap(input: $input) {
      monthlyCap
      capSource
      spentThisMonth
      remaining
      resetsAt
    }
  }
`);
const SET_DEFAULT = graphql(`
  mutation CapsSetDefault($input: SetDefaultMemberCapInput!) {
    setDefaultMemberCap(input: $input) {
      member {
        id
      }
      monthlyCap
      capSource
    }
  }
`);
const ESTIMATE = graphql(`
  query CapsEstimate($input: IvyCompletionInput!) {
    ivyCompletionEstimate(input: $input) {
      billing
      holdCredits
      creditBalance
      memberCap
      spentThisMonth
      remainingCap
      capResetsAt
      refusal
    }
  }
`);
const MY_SPEND = graphql(`
  query CapsMySpend($orgId: ID!) {
    viewerSpend(orgId: $orgId) {
      spentThisMonth
      monthlyCap
      remaining
    }
  }
`);
const USAGE_SPEND = graphql(`
  query CapsUsageSpend($orgId: ID!) {
    usage(orgId: $orgId) {
      memberSpend {
        member {
          id
        }
        spentThisMonth
        monthlyCap
        capSource
        remaining
      }
    }
  }
`);

const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'USER' as const, content }],
  maxTokens: 1000,
  ...extra,
});

describe('a member cap under concurrency', () => {
  it('is never overshot by 50 simultaneous requests: exactly as many holds as fit are placed, the rest are MEMBER_CAP_REACHED', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 100_000 });
    const input = (i: number) => ({ orgId: org.id, requestId: `cap-${i}`, ...ask(`[[hang-after:1]] q${i}`) });
    const { ivyCompletionEstimate: estimate } = await server
      .client(interviewer.token)
      .data(ESTIMATE, { input: input(0) });
    const hold = estimate.holdCredits;
    expect(hold).toBeGreaterThan(1);
    const cap = 10 * hold + hold - 1; // room for ten holds, not eleven
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: cap } });

    const ws = server.client(interviewer.token).ws();
    const subs = Array.from({ length: 50 }, (_, i) =>
      server.client(interviewer.token).subscribeWs(IVY, { input: input(i) }, ws),
    );
    const firsts = await Promise.all(subs.map((s) => s.waitFor(1, 30_000).then((r) => r[0])));
    const accepted = firsts.filter((r) => r.data?.ivyCompletion?.__typename === 'IvyCompletionStarted');
    const refused = firsts.filter((r) => r.errors?.[0]?.extensions?.code === 'MEMBER_CAP_REACHED');
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(40);

    // While the ten stream, their holds are the member's spend: within the cap.
    const during = (await server.client(interviewer.token).data(MY_SPEND, { orgId: org.id })).viewerSpend;
    expect(during).toMatchObject({ spentThisMonth: 10 * hold, monthlyCap: cap, remaining: cap - 10 * hold });

    subs.forEach((s) => s.stop());
    void ws.dispose();
    const ids = firsts.flatMap((r, i) => (r.data?.ivyCompletion ? [`cap-${i}`] : []));
    const rows = await Promise.all(ids.map((id) => waitForSettlement(server, org.id, id)));
    const charged = rows.reduce((n, r) => n + r.creditsCharged, 0);
    const after = (await server.client(interviewer.token).data(MY_SPEND, { orgId: org.id })).viewerSpend;
    expect(after.spentThisMonth).toBe(charged);
    expect(after.spentThisMonth).toBeLessThanOrEqual(cap);
    expect(await balanceOf(server, org.id)).toBe(100_000 - charged);
    await ledgerAddsUp(server, org.id);
  });
});

describe('the refusal', () => {
  it('is MEMBER_CAP_REACHED, says the cap resets at the start of next month UTC, and writes nothing', async () => {
    const { org, admin, staffing } = await server.seed.org({ credits: 1000 });
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: staffing.id, monthlyCredits: 3 } });
    const sub = server.client(staffing.token).subscribeSse(IVY, { input: { orgId: org.id, ...ask('hello') } });
    const [result] = await sub.done;
    const error = result.errors![0];
    expect(error.extensions).toMatchObject({
      code: 'MEMBER_CAP_REACHED',
      resetsAt: '2026-12-01T00:00:00.000Z',
      cap: 3,
    });
    expect(error.message).toContain('2026-12-01 00:00 UTC');
    expect(await balanceOf(server, org.id)).toBe(1000);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(0);
  });

  it('lifts at the start of the next calendar month (UTC)', async () => {
    const { org, admin, staffing } = await server.seed.org({ credits: 1000 });
    const { ivyCompletionEstimate: e } = await server
      .client(staffing.token)
      .data(ESTIMATE, { input: { orgId: org.id, ...ask('[[usage:100:10]] hello') } });
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: staffing.id, monthlyCredits: e.holdCredits } });
    const run = (requestId: string) =>
      server
        .client(staffing.token)
        .subscribeSse(IVY, { input: { orgId: org.id, requestId, ...ask('[[usage:100:10]] hello') } }).done;
    const first = await run('m1');
    expect(first.at(-1)?.data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
    expect((await run('m2'))[0].errors?.[0]?.extensions?.code).toBe('MEMBER_CAP_REACHED');
    const before = server.clock.now();
    try {
      server.clock.set('2026-12-01T00:00:00.000Z');
      expect((await run('m3')).at(-1)?.data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
    } finally {
      server.clock.set(before);
    }
  });
});

describe('setting caps', () => {
  it('is for Org Admins only, audited, and a member cap overrides the org default', async () => {
    const { org, admin, staffing, interviewer } = await server.seed.org();
    expect(
      await server.client(staffing.token).errorCode(SET_DEFAULT, { input: { orgId: org.id, monthlyCredits: 50 } }),
    ).toBe('FORBIDDEN');
    expect(
      await server
        .client(staffing.token)
        .errorCode(SET_CAP, { input: { orgId: org.id, userId: staffing.id, monthlyCredits: 5000 } }),
    ).toBe('FORBIDDEN');
    expect(
      await server.client(admin.token).errorCode(SET_CAP, {
        input: { orgId: org.id, userId: interviewer.id, monthlyCredits: -1 },
      }),
    ).toBe('BAD_USER_INPUT');
    const all = (await server.client(admin.token).data(SET_DEFAULT, { input: { orgId: org.id, monthlyCredits: 50 } }))
      .setDefaultMemberCap;
    expect(all).toHaveLength(3);
    expect(
      all.every(
        (m: { monthlyCap: number | null; capSource: string }) => m.monthlyCap === 50 && m.capSource === 'ORG_DEFAULT',
      ),
    ).toBe(true);
    const own = (
      await server
        .client(admin.token)
        .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: 200 } })
    ).setMemberCap;
    expect(own).toMatchObject({ monthlyCap: 200, capSource: 'MEMBER', remaining: 200 });
    const audit = await server.app.services.db.auditEvent.findMany({
      where: { orgId: org.id, action: { startsWith: 'credits.' } },
      orderBy: { seq: 'asc' },
    });
    expect(audit.map((a) => [a.action, a.actorId, a.detail])).toEqual([
      ['credits.default_member_cap_set', admin.id, { monthlyCredits: 50 }],
      ['credits.member_cap_set', admin.id, { memberId: interviewer.id, monthlyCredits: 200 }],
    ]);
  });

  it('shows each member’s spend against their cap on the Usage page (org:view), and each member their own', async () => {
    const { org, admin, staffing, interviewer } = await server.seed.org({ credits: 1000 });
    await server.client(admin.token).data(SET_DEFAULT, { input: { orgId: org.id, monthlyCredits: 100 } });
    const events = await server
      .client(interviewer.token)
      .subscribeSse(IVY, { input: { orgId: org.id, ...ask('[[usage:1000:200]] hi') } }).done;
    const charged = endOf(events.map((r) => r.data!.ivyCompletion)).creditsCharged;
    expect(charged).toBe(2);
    const rows = (await server.client(staffing.token).data(USAGE_SPEND, { orgId: org.id })).usage!.memberSpend;
    const byId = new Map(rows.map((r: { member: { id: string } }) => [r.member.id, r]));
    expect(byId.get(interviewer.id)).toMatchObject({ spentThisMonth: 2, monthlyCap: 100, remaining: 98 });
    expect(byId.get(admin.id)).toMatchObject({ spentThisMonth: 0, remaining: 100, capSource: 'ORG_DEFAULT' });
    expect(await server.client(interviewer.token).errorCode(USAGE_SPEND, { orgId: org.id })).toBe('FORBIDDEN');
    expect((await server.client(interviewer.token).data(MY_SPEND, { orgId: org.id })).viewerSpend).toEqual({
      spentThisMonth: 2,
      monthlyCap: 100,
      remaining: 98,
    });
  });
});

describe('the estimate', () => {
  it('equals the hold the request then places, with the balance and remaining cap, and places nothing itself', async () => {
    const { org, admin, interviewer } = await server.seed.org({ credits: 777 });
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: 500 } });
    const input = {
      orgId: org.id,
      requestId: 'estimated',
      system: 'Be brief. 面接',
      ...ask('[[hang-after:1]] How do I judge a candidate’s system design answer?', { maxTokens: 3000 }),
    };
    const e = (await server.client(interviewer.token).data(ESTIMATE, { input })).ivyCompletionEstimate;
    expect(e).toMatchObject({
      billing: 'CREDITS',
      creditBalance: 777,
      memberCap: 500,
      spentThisMonth: 0,
      remainingCap: 500,
      capResetsAt: '2026-12-01T00:00:00.000Z',
      refusal: null,
    });
    expect(await balanceOf(server, org.id)).toBe(777);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(0);

    const sub = server.client(interviewer.token).subscribeSse(IVY, { input });
    await sub.waitFor(2);
    const row = await server.app.services.db.completion.findUniqueOrThrow({
      where: { orgId_requestId: { orgId: org.id, requestId: 'estimated' } },
    });
    expect(row.holdAmount).toBe(e.holdCredits);
    expect(await balanceOf(server, org.id)).toBe(777 - e.holdCredits);
    sub.stop();
    await waitForSettlement(server, org.id, 'estimated');

    // It also says which refusal the request would meet now.
    await server
      .client(admin.token)
      .data(SET_CAP, { input: { orgId: org.id, userId: interviewer.id, monthlyCredits: 1 } });
    const capped = (await server.client(interviewer.token).data(ESTIMATE, { input })).ivyCompletionEstimate;
    expect(capped).toMatchObject({ refusal: 'MEMBER_CAP_REACHED', memberCap: 1, remainingCap: 0 });
    const poor = await server.seed.org({ credits: 1 });
    const broke = (
      await server.client(poor.interviewer.token).data(ESTIMATE, { input: { ...input, orgId: poor.org.id } })
    ).ivyCompletionEstimate;
    expect(broke).toMatchObject({ refusal: 'INSUFFICIENT_CREDITS', creditBalance: 1, memberCap: null });
  });
});
