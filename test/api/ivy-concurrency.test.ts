import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestServer } from '../support/server.ts';
import { startServerWithVendors } from '../support/server-with-vendors.ts';
import { IVY } from '../../dev/documents.ts';
import { balanceOf, ledgerAddsUp } from '../support/ivy.ts';

let server: TestServer, stop: () => Promise<void>;
// This file is about the ledger under load, not about concurrency limits (test/api/abuse-rates.test.ts): lift them.
const NO_CONCURRENCY_LIMITS = {
  MAX_COMPLETIONS_PER_MEMBER: '1000',
  MAX_COMPLETIONS_PER_ORG: '1000',
  MAX_COMPLETIONS_PER_SOCKET: '1000',
  MAX_SUBSCRIPTIONS_PER_SOCKET: '1000',
};
beforeAll(async () => {
  ({ server, stop } = await startServerWithVendors({ env: NO_CONCURRENCY_LIMITS }));
});
afterAll(() => stop?.());

it('keeps the balance exact and never negative under 50 simultaneous completions, billing repeated requestIds once', async () => {
  // Each completion holds ceil((~30 input + 1000 output * 5) / 1000) = 6 credits and is charged
  // ceil((1000 + 200 * 5) / 1000) = 2; 60 credits cover about ten at a time.
  const START = 60;
  const { org, admin, staffing, interviewer } = await server.seed.org({ credits: START });
  const members = [admin, staffing, interviewer];
  const clients = members.map((m) => server.client(m.token).ws());
  const subs = Array.from({ length: 50 }, (_, i) => {
    const requestId = i < 10 ? `dup-${i % 5}` : `req-${i}`; // five ids sent twice each
    const client = clients[i % clients.length];
    return server
      .client(members[i % members.length].token)
      .subscribeWs(
        IVY,
        {
          input: {
            orgId: org.id,
            requestId,
            maxTokens: 1000,
            messages: [{ role: 'USER', content: `[[slow:20]] [[deltas:5]] [[usage:1000:200]] q${i}` }],
          },
        },
        client,
      )
      .done.then((results) => ({ requestId, results }));
  });
  const outcomes = await Promise.all(subs);
  clients.forEach((c) => c.dispose());

  let charged = 0;
  const tally = { finished: 0, INSUFFICIENT_CREDITS: 0, DUPLICATE_REQUEST: 0 };
  const others: unknown[] = []; // anything else, kept whole so a failure shows what it was
  const finishedIds: string[] = [];
  for (const { requestId, results } of outcomes) {
    const code = results[0]?.errors?.[0]?.extensions?.code as string | undefined;
    if (code === 'INSUFFICIENT_CREDITS' || code === 'DUPLICATE_REQUEST') {
      tally[code]++;
      continue;
    }
    const events = results.map((r) => r.data?.ivyCompletion);
    const last = events.at(-1);
    if (last?.__typename === 'IvyCompletionFinished') {
      tally.finished++;
      charged += last.creditsCharged;
      finishedIds.push(requestId);
    } else others.push({ requestId, errors: results[0]?.errors, last });
  }
  expect(others).toEqual([]);
  expect(tally.finished).toBeGreaterThan(0);
  expect(tally.INSUFFICIENT_CREDITS).toBeGreaterThan(0);
  expect(tally.finished + tally.INSUFFICIENT_CREDITS + tally.DUPLICATE_REQUEST).toBe(50);
  expect(charged).toBe(tally.finished * 2);
  expect(await balanceOf(server, org.id)).toBe(START - charged);
  await ledgerAddsUp(server, org.id);

  // A repeated requestId runs and bills at most once.
  const db = server.app.services.db;
  for (let k = 0; k < 5; k++) {
    expect(finishedIds.filter((id) => id === `dup-${k}`).length).toBeLessThanOrEqual(1);
    expect(await db.completion.count({ where: { orgId: org.id, requestId: `dup-${k}` } })).toBeLessThanOrEqual(1);
  }
  expect(await db.completion.count({ where: { orgId: org.id, status: 'RUNNING' } })).toBe(0);
});
