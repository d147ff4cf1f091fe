import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditsFor } from '../../src/domain/pricing.ts';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import {
  balanceOf,
  ledgerAddsUp,
  type Transport,
  runCompletion,
  subscribeIvy,
  ask,
  endOf,
  startedOf,
} from '../support/ivy.ts';
import type { AiProvider, IvyCompletionInput } from '../../src/generated/graphql/graphql.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

let server: TestServer, anthropic: FakeVendorServer, openai: FakeVendorServer, stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, anthropic, openai, stop } = await startServerWithVendors());
});
afterAll(() => stop?.());

describe.each<Transport>(['ws', 'sse'])('ivyCompletion over %s', (transport) => {
  it('streams a credits-mode answer in order and charges the reported usage to the org', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const events = await runCompletion(server.client(interviewer.token), transport, {
      orgId: org.id,
      messages: ask('Summarise the loop [[deltas:5]] [[usage:4000:150]]'),
      maxTokens: 2000,
    });
    const [started, ...rest] = events;
    expect(started).toMatchObject({
      __typename: 'IvyCompletionStarted',
      provider: 'INTERVY_CREDITS',
      model: 'claude-haiku-5-5',
      billing: 'CREDITS',
    });
    const deltas = rest.filter((e) => e.__typename === 'IvyTextDelta').map((e) => e.text);
    expect(deltas).toEqual(['t1 ', 't2 ', 't3 ', 't4 ', 't5 ']);
    const finished = rest[rest.length - 1];
    // Haiku: 1 credit per 1k input, 5 per 1k output. The hold covered 2000 output tokens; only 150 were used.
    const expected = creditsFor({ creditsPer1kInput: 1, creditsPer1kOutput: 5 }, 4000, 150);
    expect(expected).toBe(5);
    expect(finished).toEqual({
      __typename: 'IvyCompletionFinished',
      index: 7,
      finishReason: 'END_TURN',
      inputTokens: 4000,
      outputTokens: 150,
      creditsCharged: 5,
      creditBalance: 995,
    });
    expect(await balanceOf(server, org.id)).toBe(995);
    expect(anthropic.requests.at(-1)).toMatchObject({ model: 'claude-haiku-5-5', maxTokens: 2000 });
    const [completion] = await server.app.services.db.completion.findMany({ where: { orgId: org.id } });
    expect(completion).toMatchObject({ status: 'SUCCEEDED', creditsCharged: 5 });
    expect(completion.holdAmount).toBeGreaterThanOrEqual(11);
    const ledger = await server.app.services.db.creditLedgerEntry.findMany({
      where: { orgId: org.id, completionId: completion.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(ledger.map((e) => [e.kind, e.amount, e.balanceAfter])).toEqual([
      ['HOLD', -completion.holdAmount, 1000 - completion.holdAmount],
      ['RELEASE', completion.holdAmount - 5, 995],
    ]);
    await ledgerAddsUp(server, org.id);
  });

  it('says why the answer ended: the vendor’s stop reason, MAX_TOKENS when it was cut at maxTokens', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const reasons: string[] = [];
    for (const directive of ['', '[[max-tokens]]', '[[refusal]]']) {
      const events = await runCompletion(server.client(interviewer.token), transport, {
        orgId: org.id,
        messages: ask(`why [[deltas:3]] ${directive}`),
      });
      expect(events.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
      const end = endOf(events);
      reasons.push(end.__typename === 'IvyCompletionFinished' ? end.finishReason : end.code);
    }
    expect(reasons).toEqual(['END_TURN', 'MAX_TOKENS', 'REFUSAL']);
  });

  it('runs BYOK on the member’s own key and the org’s model, deducting nothing and keeping it off the Usage page', async () => {
    const { org, staffing } = await server.seed.org({ provider: 'ANTHROPIC', model: 'claude-opus-5-5', credits: 700 });
    await server.seed.key(org.id, staffing.id, 'ANTHROPIC', 'sk-ant-member-own-key-abcdefghij-WXYZ');
    const events = await runCompletion(server.client(staffing.token), transport, {
      orgId: org.id,
      messages: ask('hello [[deltas:2]]'),
    });
    expect(events[0]).toMatchObject({ provider: 'ANTHROPIC', model: 'claude-opus-5-5', billing: 'BYOK' });
    expect(events.at(-1)).toMatchObject({ __typename: 'IvyCompletionFinished', creditsCharged: 0, creditBalance: 700 });
    expect(anthropic.requests.at(-1)).toMatchObject({ model: 'claude-opus-5-5', authKeyLast4: 'WXYZ' });
    expect(await balanceOf(server, org.id)).toBe(700);
    // A row without a hold makes requestId idempotent; it stays off the Usage page (BYOK shows the notice instead).
    expect(
      await server.app.services.db.completion.findMany({
        where: { orgId: org.id },
        select: { billing: true, holdAmount: true, creditsCharged: true, status: true },
      }),
    ).toEqual([{ billing: 'BYOK', holdAmount: 0, creditsCharged: 0, status: 'SUCCEEDED' }]);
    expect(
      await server.app.services.db.creditLedgerEntry.count({ where: { orgId: org.id, kind: { not: 'GRANT' } } }),
    ).toBe(0);
  });

  it('refuses BYOK without a saved key with NO_API_KEY, sending nothing upstream', async () => {
    const { org, admin } = await server.seed.org({ provider: 'OPENAI' });
    const before = openai.requests.length;
    const events = await subscribeIvy(server.client(admin.token), transport, { orgId: org.id, messages: ask('hi') })
      .done;
    expect(events[0].errors?.[0].extensions?.code).toBe('NO_API_KEY');
    expect(events[0].errors?.[0].message).toMatch(/^No API key/);
    expect(events[0].errors?.[0].message).toMatch(/Org Settings → AI/);
    expect(openai.requests.length).toBe(before);
  });

  it('refuses with INSUFFICIENT_CREDITS when the balance cannot cover the hold, sending nothing upstream', async () => {
    const { org, admin } = await server.seed.org({ credits: 5 });
    const before = anthropic.requests.length;
    const events = await subscribeIvy(server.client(admin.token), transport, {
      orgId: org.id,
      messages: ask('hi'),
      maxTokens: 4000,
    }).done;
    expect(events[0].errors?.[0].extensions?.code).toBe('INSUFFICIENT_CREDITS');
    expect(anthropic.requests.length).toBe(before);
    expect(await balanceOf(server, org.id)).toBe(5);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(0);
  });

  it('never bills the same requestId twice', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    const input = { orgId: org.id, messages: ask('once [[usage:3000:100]]'), requestId: `req-${transport}-1` };
    const first = await runCompletion(server.client(admin.token), transport, input);
    const second = await subscribeIvy(server.client(admin.token), transport, input).done;
    expect(second[0].errors?.[0].extensions?.code).toBe('DUPLICATE_REQUEST');
    expect(endOf(first).creditsCharged).toBe(4);
    expect(await balanceOf(server, org.id)).toBe(996);
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(1);
  });
});

describe('who may ask Ivy', () => {
  it('refuses without a token and outside the org, sending nothing upstream', async () => {
    const { org } = await server.seed.org();
    const outsider = await server.seed.outsider();
    const before = anthropic.requests.length;
    const anon = await subscribeIvy(server.client(), 'ws', { orgId: org.id, messages: ask('hi') }).done;
    const stranger = await subscribeIvy(server.client(outsider.token), 'sse', { orgId: org.id, messages: ask('hi') })
      .done;
    expect(anon[0].errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(stranger[0].errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(anthropic.requests.length).toBe(before);
  });

  it('refuses bad input with BAD_USER_INPUT', async () => {
    const { org, admin } = await server.seed.org();
    const c = server.client(admin.token);
    const inputs: IvyCompletionInput[] = [
      { orgId: org.id, messages: [] },
      { orgId: org.id, messages: ask('hi'), maxTokens: 0 },
      { orgId: org.id, messages: ask('hi'), maxTokens: 100_000 },
      { orgId: org.id, messages: [{ role: 'ASSISTANT', content: 'last word' }] },
      { orgId: org.id, messages: ask('   ') },
      { orgId: org.id, messages: ask('hi'), requestId: 'has spaces in it' },
    ];
    for (const input of inputs) {
      const r = await subscribeIvy(c, 'ws', input).done;
      expect(r[0].errors?.[0].extensions?.code, JSON.stringify(input)).toBe('BAD_USER_INPUT');
    }
  });
});

describe.each<Transport>(['ws', 'sse'])('switching provider, over %s', (transport) => {
  it('stops deducting on the very next request after a switch to BYOK, and resumes after switching back', async () => {
    const { org, admin } = await server.seed.org({ credits: 1000 });
    await server.seed.key(org.id, admin.id, 'OPENAI', 'sk-admin-openai-key-0123456789abcdef');
    const c = server.client(admin.token);
    const ivy = () => runCompletion(c, transport, { orgId: org.id, messages: ask('q [[usage:2000:200]]') });
    const setProvider = (provider: AiProvider) =>
      c.data(
        graphql(`
          mutation IvyCompletionSetProvider($i: UpdateProviderInput!) {
            updateProvider(input: $i) {
              effectiveProvider
            }
          }
        `),
        { i: { orgId: org.id, provider } },
      );

    const a = await ivy();
    expect(startedOf(a).billing).toBe('CREDITS');
    const afterA = await balanceOf(server, org.id);
    expect(afterA).toBeLessThan(1000);
    await setProvider('OPENAI');
    const b = await ivy();
    expect(b[0]).toMatchObject({ billing: 'BYOK', provider: 'OPENAI', model: 'gpt-5' });
    expect(await balanceOf(server, org.id)).toBe(afterA);
    await setProvider('INTERVY_CREDITS');
    const c2 = await ivy();
    expect(startedOf(c2).billing).toBe('CREDITS');
    expect(await balanceOf(server, org.id)).toBe(afterA - endOf(c2).creditsCharged);
    expect(endOf(c2).creditsCharged).toBeGreaterThan(0);
  });
});

describe('the demo stand-ins (npm run demo)', () => {
  it('answer by echoing the whole question, its [[switches]] removed, so a demo answer reads as a whole', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const question =
      'Who is waiting on feedback from the panel for the senior backend role this week, and who should nudge them?';
    const events = await runCompletion(server.client(interviewer.token), 'ws', {
      orgId: org.id,
      messages: ask(`${question} [[usage:30:60]]`),
      maxTokens: 2000,
    });
    const text = events.map((e) => (e.__typename === 'IvyTextDelta' ? e.text : '')).join('');
    expect(question.length).toBeGreaterThan(100);
    expect(text).toBe(`Ivy here. You asked: ${question}`);
    expect(endOf(events)).toMatchObject({ __typename: 'IvyCompletionFinished', finishReason: 'END_TURN' });
  });
});
