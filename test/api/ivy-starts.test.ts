// COMPLETIONS_STARTING_AT_ONCE: a burst of new answers starts a few at a time (their hold, their upstream
// request), in arrival order, so the answers already streaming are not held up behind it; a client that left while
// its answer waited for its turn starts nothing, and is charged nothing.
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import { ask, endOf, ledgerAddsUp, subscribeIvy } from '../support/ivy.ts';
import { IVY } from '../../dev/documents.ts';

let env: ServerWithVendors;
beforeAll(async () => {
  env = await startServerWithVendors({ env: { COMPLETIONS_STARTING_AT_ONCE: '1' } });
});
afterAll(() => env?.stop());

it('starts one answer at a time here; one whose client left while it waited its turn starts nothing', async () => {
  const { server, anthropic } = env;
  const { services } = server.app;
  const { org, admin, interviewer } = await server.seed.org({ credits: 500 });
  const sentUpstream = (marker: string) =>
    anthropic.requests.filter((r) => JSON.stringify(r.body ?? '').includes(marker)).length;

  // The first answer's hold waits on the org's row, locked here: its start stays under way.
  const lock = new pg.Client({ connectionString: server.config.databaseUrl });
  await lock.connect();
  let first;
  let slotsFreed: number;
  const secondClient = server.client(interviewer.token).ws({ keepOpen: true });
  try {
    await lock.query('BEGIN');
    await lock.query('SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE', [org.id]);
    const accepting = once(services.events, 'inflight-changed');
    first = subscribeIvy(server.client(admin.token), 'ws', { orgId: org.id, messages: ask('first [[deltas:2]]') });
    await accepting; // the first answer's start is under way (tracked for a shutdown), its hold waiting on the lock

    // The second waits for its turn: nothing of it has happened yet.
    const second = server
      .client(interviewer.token)
      .subscribeWs(IVY, { input: { orgId: org.id, messages: ask('second [[deltas:2]]') } }, secondClient);
    void second.done.catch(() => {});
    await services.limits.whenStartsWaiting(1);
    expect(sentUpstream('first')).toBe(0);
    expect(sentUpstream('second')).toBe(0);

    // Its client leaves while it waits (the server sees the socket close), then the first start goes on.
    const socketsFreed = services.limits.released('sockets-member', interviewer.id);
    slotsFreed = services.limits.released('completions-member', interviewer.id);
    await secondClient.dispose();
    await services.limits.whenReleased('sockets-member', interviewer.id, socketsFreed + 1);
  } finally {
    await lock.query('ROLLBACK').catch(() => {});
    await lock.end();
  }
  const events = (await first.done).map((r) => r.data!.ivyCompletion);
  expect(endOf(events)).toMatchObject({ __typename: 'IvyCompletionFinished' });

  // The second's turn came once the first had started: it found its client gone, started nothing and gave back the
  // member's slot it took before waiting (a request over a limit is refused at once and never waits).
  await services.limits.whenReleased('completions-member', interviewer.id, slotsFreed + 1);
  expect(sentUpstream('first')).toBe(1);
  expect(sentUpstream('second')).toBe(0);
  expect(await services.db.completion.count({ where: { orgId: org.id, userId: interviewer.id } })).toBe(0);
  await ledgerAddsUp(server, org.id);
});
