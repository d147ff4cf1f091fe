// Helpers for tests of the ivyCompletion subscription.
import { expect } from 'vitest';
import type { GraphQLClient, Subscription } from '../../dev/client.ts';
import { IVY, STOP_IVY } from '../../dev/documents.ts';
import type { IvyCompletionInput, IvyMessageInput, IvySubscription } from '../../src/generated/graphql/graphql.ts';
import type { TestServer } from './server.ts';

export type Transport = 'ws' | 'sse';
/** One event of the stream: started, a text delta, finished or failed (narrow on `__typename`). */
export type IvyEvent = IvySubscription['ivyCompletion'];
type Of<K extends IvyEvent['__typename']> = Extract<IvyEvent, { __typename: K }>;

/** A one-message conversation: the USER's question. */
export const ask = (content: string): IvyMessageInput[] => [{ role: 'USER', content }];

/** The stream's first event, which is IvyCompletionStarted (throws with the events otherwise). */
export function startedOf(events: IvyEvent[]): Of<'IvyCompletionStarted'> {
  const first = events[0];
  if (first?.__typename !== 'IvyCompletionStarted') throw new Error(`no started event: ${JSON.stringify(events)}`);
  return first;
}

/** The stream's last event, which finishes or fails it (throws with the events otherwise). */
export function endOf(events: IvyEvent[]): Of<'IvyCompletionFinished' | 'IvyCompletionFailed'> {
  const last = events.at(-1);
  if (last?.__typename !== 'IvyCompletionFinished' && last?.__typename !== 'IvyCompletionFailed')
    throw new Error(`the stream did not end: ${JSON.stringify(events)}`);
  return last;
}

export function subscribeIvy(
  client: GraphQLClient,
  transport: Transport,
  input: IvyCompletionInput,
): Subscription<IvySubscription> {
  return transport === 'ws' ? client.subscribeWs(IVY, { input }) : client.subscribeSse(IVY, { input });
}

/** Stop, as a client presses it: graphql-ws `complete`; over SSE, where a closed request only detaches, the mutation. */
export async function stopIvy(
  client: GraphQLClient,
  transport: Transport,
  sub: Subscription<IvySubscription>,
  orgId: string,
  requestId: string,
): Promise<void> {
  if (transport === 'sse') await client.data(STOP_IVY, { input: { orgId, requestId } });
  sub.stop();
}

/** Runs a completion to its end and returns its events; fails the test on a GraphQL error. */
export async function runCompletion(
  client: GraphQLClient,
  transport: Transport,
  input: IvyCompletionInput,
): Promise<IvyEvent[]> {
  const results = await subscribeIvy(client, transport, input).done;
  const errors = results.flatMap((r) => r.errors ?? []);
  if (errors.length) throw new Error(`ivyCompletion failed: ${JSON.stringify(errors)}`);
  return results.map((r) => r.data!.ivyCompletion);
}

export async function balanceOf(server: TestServer, orgId: string): Promise<number> {
  const org = await server.app.services.db.org.findUniqueOrThrow({ where: { id: orgId } });
  return org.creditBalance;
}

/** The ledger's movements sum to the balance, each row's balanceAfter chains, and the balance never went negative. */
export async function ledgerAddsUp(server: TestServer, orgId: string): Promise<void> {
  const db = server.app.services.db;
  const entries = await db.creditLedgerEntry.findMany({ where: { orgId }, orderBy: [{ createdAt: 'asc' }] });
  const sum = entries.reduce((n, e) => n + e.amount, 0);
  expect(sum).toBe(await balanceOf(server, orgId));
  expect(Math.min(...entries.map((e) => e.balanceAfter))).toBeGreaterThanOrEqual(0);
  const charged = await db.completion.aggregate({ where: { orgId }, _sum: { creditsCharged: true } });
  const grants = entries.filter((e) => e.kind === 'GRANT').reduce((n, e) => n + e.amount, 0);
  // Open overages paid off by a grant are the only movement not tied to a completion.
  const overagePaid = entries
    .filter((e) => e.kind === 'OVERAGE' && e.completionId === null)
    .reduce((n, e) => n - e.amount, 0);
  const running = await db.completion.aggregate({ where: { orgId, status: 'RUNNING' }, _sum: { holdAmount: true } });
  expect(grants - overagePaid - (charged._sum.creditsCharged ?? 0) - (running._sum.holdAmount ?? 0)).toBe(sum);
}
