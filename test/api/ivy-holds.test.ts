// A hold exists only while something can settle it: whatever the client does, and when the server itself stops,
// the completion is settled within the same code path, not left for the expiry sweep.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import { lockOrgRow, rawIvySocket, waitForSettlement } from '../support/billing.ts';
import { balanceOf, ledgerAddsUp, subscribeIvy, ask } from '../support/ivy.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { TestServer } from '../support/server.ts';

let env: ServerWithVendors, server: TestServer;
beforeAll(async () => {
  // Twelve completions at once on one socket: above the default per-socket and per-member limits. A client that
  // goes away detaches; with no resume window it is cancelled as soon as it is detached, as a window's end would.
  env = await startServerWithVendors({
    env: { MAX_COMPLETIONS_PER_SOCKET: '20', MAX_COMPLETIONS_PER_MEMBER: '20', RESUME_WINDOW_MS: '0' },
  });
  server = env.server;
});
afterAll(() => env?.stop());

const BIG = { maxTokens: 8192 };

describe('a hold placed for a client that leaves before the first event', () => {
  it.each([
    ['sends complete', 'complete-early'],
    ['drops the socket', 'drop-early'],
  ] as const)('is released when the client %s while the hold is being placed (graphql-ws)', async (_how, requestId) => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const socket = await rawIvySocket(server, interviewer.token);
    const lock = await lockOrgRow(server, org.id);
    socket.subscribe('1', { orgId: org.id, messages: ask('hi'), requestId, ...BIG });
    await lock.untilBlocked();
    if (requestId === 'complete-early') socket.complete('1');
    else socket.drop();
    await lock.release();
    expect(await waitForSettlement(server, org.id, requestId)).toMatchObject({
      status: 'CANCELLED',
      creditsCharged: 0,
    });
    expect(await balanceOf(server, org.id)).toBe(500);
    expect(env.anthropic.requests.filter((r) => JSON.stringify(r.body).includes(requestId))).toHaveLength(0);
    socket.drop();
    await ledgerAddsUp(server, org.id);
  });

  it('is released when the SSE request is aborted while the hold is being placed', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const lock = await lockOrgRow(server, org.id);
    const sub = subscribeIvy(server.client(interviewer.token), 'sse', {
      orgId: org.id,
      messages: ask('hi'),
      requestId: 'sse-early',
      ...BIG,
    });
    await lock.untilBlocked();
    sub.stop();
    await lock.release();
    expect(await waitForSettlement(server, org.id, 'sse-early')).toMatchObject({
      status: 'CANCELLED',
      creditsCharged: 0,
    });
    expect(await balanceOf(server, org.id)).toBe(500);
    await ledgerAddsUp(server, org.id);
  });

  it('leaves nothing held after twelve subscribe-then-complete calls, so a real request still runs', async () => {
    // Enough credits for all twelve holds at once, so each one is placed (and must then be released).
    const { org, interviewer } = await server.seed.org({ credits: 1000 });
    const socket = await rawIvySocket(server, interviewer.token);
    for (let i = 0; i < 12; i++) {
      socket.subscribe(`s${i}`, { orgId: org.id, messages: ask('hi [[slow:50]]'), requestId: `starve-${i}`, ...BIG });
      socket.complete(`s${i}`);
    }
    const rows = await Promise.all(
      Array.from({ length: 12 }, (_, i) => waitForSettlement(server, org.id, `starve-${i}`)),
    );
    expect(rows.every((r) => r.status === 'CANCELLED')).toBe(true);
    expect(await balanceOf(server, org.id)).toBe(1000 - rows.reduce((n, r) => n + r.creditsCharged, 0));
    expect(await server.app.services.db.completion.count({ where: { orgId: org.id, status: 'RUNNING' } })).toBe(0);
    socket.drop();
    const events = await subscribeIvy(server.client(interviewer.token), 'ws', {
      orgId: org.id,
      messages: ask('real question'),
      ...BIG,
    }).done;
    expect(events.at(-1)?.data?.ivyCompletion.__typename).toBe('IvyCompletionFinished');
    await ledgerAddsUp(server, org.id);
  });
});

describe('a hold whose client leaves mid-answer', () => {
  it('is settled, for what was delivered, when the socket drops after two deltas', async () => {
    const { org, interviewer } = await server.seed.org({ credits: 500 });
    const socket = await rawIvySocket(server, interviewer.token);
    socket.subscribe('1', {
      orgId: org.id,
      messages: ask('go [[deltas:50]] [[slow:30]]'),
      requestId: 'drop-mid',
      ...BIG,
    });
    await socket.events('1', 3); // started + two deltas
    const aborted = env.anthropic.waitForAborts(env.anthropic.aborts.length + 1);
    socket.drop();
    await aborted;
    const row = await waitForSettlement(server, org.id, 'drop-mid');
    expect(row.status).toBe('CANCELLED');
    expect(row.deliveredChars).toBeGreaterThanOrEqual('t1 t2 '.length);
    // message_start reported the input; the output is estimated from the delivered text, so the charge is not 0.
    expect(row.creditsCharged).toBeGreaterThan(0);
    expect(row.outputTokensEstimated).toBe(true);
    expect(await balanceOf(server, org.id)).toBe(500 - row.creditsCharged);
    await ledgerAddsUp(server, org.id);
  });
});

describe('stopping the server', () => {
  it('settles every completion still streaming, over both transports, before its database closes', async () => {
    const own = await startServerWithVendors();
    const url = own.server.config.databaseUrl!;
    const { org, interviewer } = await own.server.seed.org({ credits: 500 });
    const c = own.server.client(interviewer.token);
    const input = (requestId: string) => ({
      orgId: org.id,
      messages: ask('long [[deltas:200]] [[slow:30]]'),
      requestId,
      ...BIG,
    });
    const ws = subscribeIvy(c, 'ws', input('stop-ws'));
    const sse = subscribeIvy(c, 'sse', input('stop-sse'));
    await Promise.all([ws.waitFor(2), sse.waitFor(2)]);
    await own.stop();
    const db = new pg.Client(pgConfigFromUrl(url));
    await db.connect();
    try {
      const { rows } = await db.query(
        `SELECT request_id, status, error_code, credits_charged FROM completions WHERE org_id = $1 ORDER BY request_id`,
        [org.id],
      );
      // Cut by the server, not the client: the stream says SERVER_SHUTTING_DOWN (retry), billed like any cut stream.
      expect(rows.map((r) => [r.request_id, r.status, r.error_code])).toEqual([
        ['stop-sse', 'FAILED', 'SERVER_SHUTTING_DOWN'],
        ['stop-ws', 'FAILED', 'SERVER_SHUTTING_DOWN'],
      ]);
      const charged = rows.reduce((n, r) => n + r.credits_charged, 0);
      const {
        rows: [o],
      } = await db.query('SELECT credit_balance FROM orgs WHERE id = $1', [org.id]);
      expect(o.credit_balance).toBe(500 - charged);
      const {
        rows: [l],
      } = await db.query('SELECT sum(amount)::int AS s FROM credit_ledger WHERE org_id = $1', [org.id]);
      expect(l.s).toBe(o.credit_balance);
    } finally {
      await db.end();
    }
  });
});
