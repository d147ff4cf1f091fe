import { afterAll, describe, expect, it } from 'vitest';
import type { ShutdownTimeline } from '../../src/app.ts';
import { createPrismaClient } from '../../src/lib/database.ts';
import { startServerWithVendors, type ServerWithVendors } from '../support/server-with-vendors.ts';
import type { GqlResult } from '../../dev/client.ts';
import type { IvySubscription } from '../../src/generated/graphql/graphql.ts';
import { subscribeIvy, type Transport, ask, endOf } from '../support/ivy.ts';
import { graphql } from '../../src/generated/graphql/index.ts';

const GRACE_MS = 1500;
const WATCH = graphql(`
  subscription ShutdownWatch($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      provider
    }
  }
`);
const SETTINGS = graphql(`
  query ShutdownSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
    }
  }
`);
const typenames = (results: GqlResult<IvySubscription>[]) => results.map((r) => r.data?.ivyCompletion?.__typename);

const started: ServerWithVendors[] = [];
afterAll(() => Promise.all(started.map((s) => s.stop())));

describe.each<Transport>(['ws', 'sse'])(
  'a graceful shutdown (SIGTERM) with completions in flight over %s',
  (transport) => {
    it('drains at once, lets a short answer finish, ends a long one with SERVER_SHUTTING_DOWN billed for what streamed, and closes', async () => {
      const env = await startServerWithVendors({ env: { SHUTDOWN_GRACE_MS: String(GRACE_MS) } });
      started.push(env);
      const { server } = env;
      const { org, admin } = await server.seed.org({ credits: 5000 });
      const client = server.client(admin.token);
      // One graphql-ws connection that stays open (a settings watch) to see how the server closes it.
      const socket = client.ws();
      const closeCode = new Promise<number>((resolve) =>
        socket.on('closed', (e) => resolve((e as { code: number }).code)),
      );
      const watch = client.subscribeWs(WATCH, { orgId: org.id }, socket);

      const short = subscribeIvy(client, transport, {
        orgId: org.id,
        messages: ask('[[slow:100]] [[deltas:5]]'),
        requestId: 'short',
      });
      const long = subscribeIvy(client, transport, {
        orgId: org.id,
        messages: ask('[[hang]] [[usage:5000:100]]'),
        maxTokens: 2000,
        requestId: 'long',
      });
      // The watch is live on the server before the shutdown starts (else the drain refuses it, as it should).
      await Promise.all([short.waitFor(2), long.waitFor(2), server.app.services.pubsub.whenSubscribed(org.id, 1)]);
      expect(server.app.lifecycle.inFlight).toBe(2);

      const shutdown: Promise<ShutdownTimeline> = server.app.shutdown();
      // At once: not ready, and new operations are refused on every transport.
      const health = await fetch(`${server.url}/healthz`);
      expect([health.status, await health.json()]).toEqual([503, expect.objectContaining({ status: 'shutting down' })]);
      expect(await client.errorCode(SETTINGS, { orgId: org.id })).toBe('SERVER_SHUTTING_DOWN');
      const refused = await subscribeIvy(client, transport, { orgId: org.id, messages: ask('hi') }).done;
      expect(refused[0].errors?.[0]?.extensions?.code).toBe('SERVER_SHUTTING_DOWN');

      const shortEvents = await short.done;
      expect(typenames(shortEvents).at(-1)).toBe('IvyCompletionFinished');
      const longEvents = await long.done;
      const last = endOf([longEvents.at(-1)!.data!.ivyCompletion]);
      expect(last).toMatchObject({ __typename: 'IvyCompletionFailed', code: 'SERVER_SHUTTING_DOWN' });
      // message_start reported 5000 input tokens and 1 output token: ceil((5000*1 + 1*5)/1000) = 6.
      expect(last.creditsCharged).toBe(6);

      const timeline = await shutdown;
      const at = (step: RegExp) => timeline.find((t) => step.test(t.step))?.atMs;
      expect(at(/^grace period over: ending 1 completion/)).toBeGreaterThanOrEqual(GRACE_MS - 50);
      expect(timeline.map((t) => t.step.split(':')[0])).toEqual([
        'draining',
        'grace period over',
        'completions ended and settled',
        'sockets closed (graphql-ws',
        'database connections closed',
      ]);
      expect(await closeCode).toBe(1001);
      // The watch did not complete: its socket went away, which graphql-ws clients treat as a reason to reconnect.
      await expect(watch.done).rejects.toThrow();

      const db = createPrismaClient(server.config.databaseUrl!, 1);
      try {
        const rows = await db.completion.findMany({ where: { orgId: org.id }, orderBy: { requestId: 'asc' } });
        expect(rows.map((r) => [r.requestId, r.status, r.errorCode])).toEqual([
          ['long', 'FAILED', 'SERVER_SHUTTING_DOWN'],
          ['short', 'SUCCEEDED', null],
        ]);
        const balance = (await db.org.findUniqueOrThrow({ where: { id: org.id } })).creditBalance;
        expect(balance).toBe(5000 - rows.reduce((n, r) => n + r.creditsCharged, 0));
      } finally {
        await db.$disconnect();
      }
    });
  },
);
