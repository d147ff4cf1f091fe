// The path from a subscribe to the upstream request (issue 10): the hold commits without waiting for its WAL flush,
// settlements still wait for theirs, and a burst of completions on one socket leaves the books to the credit and
// nothing listening on the process's shutdown signal.
import { getEventListeners } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import { startCompletion } from '../../src/domain/ivy-stream.ts';
import { rawIvySocket, waitForSettlement } from '../support/billing.ts';
import { ask, ledgerAddsUp } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';

let env: ServerWithVendors;
beforeAll(async () => {
  env = await startServerWithVendors({
    env: { MAX_COMPLETIONS_PER_SOCKET: '20', MAX_COMPLETIONS_PER_MEMBER: '20', RESUME_WINDOW_MS: '0' },
  });
});
afterAll(() => env?.stop());

describe('the credit hold on the way upstream', () => {
  it('commits a hold batch without waiting for the WAL flush, and a settlement batch waiting for it', async () => {
    // The setting is the transaction's (set inside ivy_reserve_credits): asked in the same transaction, right after.
    const client = new pg.Client(pgConfigFromUrl(env.server.config.databaseUrl!));
    await client.connect();
    try {
      const before = (await client.query<{ s: string }>(`SELECT current_setting('synchronous_commit') AS s`)).rows[0].s;
      // The embedded test database runs with synchronous_commit = off throughout: each transaction starts at 'on'.
      const settingAfter = async (call: string) => {
        await client.query('BEGIN');
        await client.query('SET LOCAL synchronous_commit = on');
        await client.query(call);
        const { rows } = await client.query<{ s: string }>(`SELECT current_setting('synchronous_commit') AS s`);
        await client.query('ROLLBACK');
        return rows[0].s;
      };
      expect(await settingAfter(`SELECT * FROM ivy_reserve_credits('[]'::jsonb)`)).toBe('off');
      expect(await settingAfter(`SELECT * FROM ivy_settle_completions('[]'::jsonb)`)).toBe('on');
      // Nothing leaks to the connection's next transaction (a pooled connection serves settlements too).
      expect((await client.query<{ s: string }>(`SELECT current_setting('synchronous_commit') AS s`)).rows[0].s).toBe(
        before,
      );
    } finally {
      await client.end();
    }
  });

  it('keeps the books to the credit after 20 completions at once on one socket (its most), twelve of them stopped mid-answer', async () => {
    const { server } = env;
    const lifecycle = server.app.services.lifecycle!;
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { org, interviewer } = await server.seed.org({ credits: 100_000 });
      const socket = await rawIvySocket(server, interviewer.token);
      const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      // The first twelve stream one delta, then wait for the client's Stop; the others run to their end.
      ids.forEach((id, i) => {
        const content = i < 12 ? 'burst [[hang-after:1]]' : 'burst [[deltas:6]] [[slow:20]]';
        socket.subscribe(id, { orgId: org.id, messages: ask(content), requestId: id });
      });
      // Each one to stop has its hold and has started streaming: its settlement must find the hold.
      await Promise.all(ids.slice(0, 12).map((id) => socket.events(id, 2)));
      // Every completion still running listens on the shutdown signal: more than Node's default warning level.
      expect(getEventListeners(lifecycle.shutdownSignal, 'abort').length).toBeGreaterThan(10);
      for (const id of ids.slice(0, 12)) socket.complete(id);
      const rows = await Promise.all(ids.map((id) => waitForSettlement(server, org.id, id)));
      expect(rows.slice(0, 12).map((r) => r.status)).toEqual(Array(12).fill('CANCELLED'));
      expect(rows.slice(12).map((r) => r.status)).toEqual(Array(8).fill('SUCCEEDED'));
      await ledgerAddsUp(server, org.id);
      // Settled completions stop listening: what is left on the process-long signal is nothing.
      expect(getEventListeners(lifecycle.shutdownSignal, 'abort')).toHaveLength(0);
      socket.drop();
    } finally {
      process.off('warning', onWarning);
    }
    // (The test's own 20 waits on the settlement events warn about that emitter; the signal must not.)
    expect(warnings.filter((w) => /AbortSignal/.test(w.message))).toEqual([]);
  });
});

describe('an acceptance that starts once a shutdown has begun', () => {
  // The shutdown settles what is in flight at one point of its course; a subscribe still on its way then (its checks,
  // its slots) must not place a hold afterwards, which would outlive the process (the ledger checker caught one).
  it('is refused with SERVER_SHUTTING_DOWN and places no hold', async () => {
    const { server } = env;
    const { org, interviewer } = await server.seed.org({ credits: 1_000 });
    const draining = Object.assign(Object.create(server.app.services.lifecycle!) as object, { draining: true });
    const services = { ...server.app.services, lifecycle: draining as typeof server.app.services.lifecycle };
    const input = { orgId: org.id, messages: [{ role: 'USER' as const, content: 'Hi' }], requestId: 'late-accept' };
    await expect(startCompletion(services, { userId: interviewer.id }, input)).rejects.toMatchObject({
      code: 'SERVER_SHUTTING_DOWN',
    });
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(0);
    expect(server.app.services.inflight.size).toBe(0);
    // The same request on a server that is not draining is accepted (the refusal was the drain's).
    const stream = await startCompletion(server.app.services, { userId: interviewer.id }, input);
    for await (const event of stream) if (event.kind === 'finished' || event.kind === 'failed') break;
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id } })).toBe(1);
  });
});
