// Helpers for tests of the money path: wait for a completion's settlement (the server's own event, never a timer),
// hold an org's row lock (or the completions table's) to freeze a request mid-acceptance, and drop a graphql-ws
// socket without a goodbye.
import { print } from 'graphql';
import type { Message } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import type { Completion } from '../../src/generated/prisma/client.ts';
import { pgConfigFromUrl } from '../../src/lib/pg-url.ts';
import type { TestServer } from './server.ts';
import { IVY } from '../../dev/documents.ts';
import type { IvyCompletionInput, IvySubscription } from '../../src/generated/graphql/graphql.ts';
import type { IvyEvent } from './ivy.ts';

/** Resolves with the completion row once it is settled (already, or when the server says it just was). */
export function waitForSettlement(server: TestServer, orgId: string, requestId: string): Promise<Completion> {
  const { db, events } = server.app.services;
  return new Promise((resolve, reject) => {
    const check = () =>
      db.completion.findUnique({ where: { orgId_requestId: { orgId, requestId } } }).then((row) => {
        if (row && row.status !== 'RUNNING') {
          events.off('completion-settled', onSettled);
          resolve(row);
        }
      }, reject);
    const onSettled = (e: { orgId: string; requestId: string }) => {
      if (e.orgId === orgId && e.requestId === requestId) void check();
    };
    events.on('completion-settled', onSettled);
    void check();
  });
}

/**
 * Locks the org's row in a transaction of its own, so that a completion being accepted waits on it while placing its
 * hold. `untilBlocked()` resolves once a server query is waiting on that lock; `release()` lets it through.
 */
export function lockOrgRow(server: TestServer, orgId: string) {
  return holdLock(server, 'SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE', [orgId]);
}

/**
 * Locks the completions table against writes (SHARE mode), so that every hold waits, a repeated requestId's too
 * (whose refusal never takes the org's row). The same `untilBlocked()` and `release()`.
 */
export function lockCompletionsTable(server: TestServer) {
  return holdLock(server, 'LOCK TABLE completions IN SHARE MODE', []);
}

async function holdLock(server: TestServer, lockSql: string, params: unknown[]) {
  const client = new pg.Client(pgConfigFromUrl(server.config.databaseUrl!));
  await client.connect();
  await client.query('BEGIN');
  await client.query(lockSql, params);
  const me = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  return {
    async untilBlocked(): Promise<void> {
      // Asks PostgreSQL who waits on this session's lock, once per round trip, until someone does.
      for (;;) {
        const { rows } = await client.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [
          me,
        ]);
        if (rows.length) return;
      }
    },
    async release(): Promise<void> {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** A raw graphql-transport-ws connection, so a test can cut the socket at any moment with no `complete` sent. */
export async function rawIvySocket(server: { url: string }, token: string) {
  const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: Message[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Message);
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => {});
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  const until = (pred: (m: Message[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () =>
        pred(messages) ? resolve() : closed ? reject(new Error('socket closed')) : waiters.push(check);
      check();
    });
  await until((m) => m.some((x) => x.type === 'connection_ack'));
  const of = (id: string) => messages.filter((x) => 'id' in x && x.id === id);
  const query = print(IVY);
  return {
    messages,
    subscribe(id: string, input: IvyCompletionInput) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables: { input } } }));
    },
    complete(id: string) {
      socket.send(JSON.stringify({ id, type: 'complete' }));
    },
    /** Resolves once `n` next-messages of the operation have arrived. */
    events: (id: string, n: number) => until(() => of(id).filter((x) => x.type === 'next').length >= n),
    /** Resolves once `n` events arrived, the operation ended (complete or error), or the socket closed. */
    eventsOrEnd: (id: string, n: number) =>
      until(() => closed || of(id).some((x) => x.type !== 'next') || of(id).length >= n).catch(() => undefined),
    /** The operation's messages so far. */
    of,
    /** The Ivy events the operation has received so far (this socket only ever sends the IVY document). */
    eventsOf: (id: string): IvyEvent[] =>
      of(id).flatMap((x) => {
        const event = x.type === 'next' ? (x.payload.data as IvySubscription | null | undefined)?.ivyCompletion : null;
        return event ? [event] : [];
      }),
    get closed() {
      return closed;
    },
    /** Cuts the TCP connection with no close frame, as a lost network would. */
    drop: () => socket.terminate(),
  };
}
