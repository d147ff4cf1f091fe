// npm run bench   Measures, against the loopback provider stand-ins and a real PostgreSQL (embedded unless
// DATABASE_URL is set): time to first delta through GraphQL (graphql-ws and SSE, credits and BYOK) next to a direct
// SDK call in the same run, cancellation latency, resume latency (reconnect to first replayed event; with REDIS_URL
// also on a second instance, from the Redis Stream), a 50-completion burst, and memory across many completions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { Keyring } from '../src/lib/crypto.ts';
import { startEmbeddedPostgres } from '../src/lib/embedded-pg.ts';
import { createLogger } from '../src/lib/logger.ts';
import { signUserToken } from '../src/lib/tokens.ts';
import { GraphQLClient } from '../dev/client.ts';
import { IVY, STOP_IVY } from '../dev/documents.ts';
import { rawIvySocket } from '../test/support/billing.ts';
import type { IvyMessageInput } from '../src/generated/graphql/graphql.ts';
import { Seeder } from '../dev/seed.ts';
import { startFakeAnthropic } from '../dev/vendors/anthropic-server.ts';

const N = Number(process.env.BENCH_N ?? 100);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: +q(0.5).toFixed(2), p95: +q(0.95).toFixed(2), max: +s[s.length - 1].toFixed(2) };
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-bench-'));
const embedded = process.env.DATABASE_URL
  ? null
  : await startEmbeddedPostgres({ dataDir, port: await freePort(), log: createLogger('silent') });
const anthropic = await startFakeAnthropic();
const config = loadConfig({
  DATABASE_URL: process.env.DATABASE_URL ?? embedded!.url,
  DATA_DIR: dataDir,
  AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: Keyring.generateEntry('bench'),
  ANTHROPIC_BASE_URL: anthropic.url,
  INTERVY_ANTHROPIC_API_KEY: 'sk-ant-bench-house-key-000000000000',
  PROVIDER_MAX_RETRIES: '0',
  LOG_LEVEL: 'error',
  // The burst runs 50 completions for one member on one socket: measure throughput, not the abuse limits.
  MAX_COMPLETIONS_PER_MEMBER: '1000',
  MAX_COMPLETIONS_PER_ORG: '1000',
  MAX_COMPLETIONS_PER_SOCKET: '1000',
  MAX_SUBSCRIPTIONS_PER_SOCKET: '1000',
  MAX_SOCKETS_PER_MEMBER: '1000',
  REDIS_URL: process.env.REDIS_URL,
  // A fresh database each run (DATABASE_URL counts as production, which does not migrate at start).
  MIGRATE_ON_START: '1',
});
const app = await buildApp(config, { backgroundJobs: false });
const port = await app.listen(0, '127.0.0.1');
const seed = new Seeder(app.services, (id) => signUserToken(app.jwtSecret, id));
const credits = await seed.org({ credits: 100_000_000 });
const byok = await seed.org({ provider: 'ANTHROPIC' });
await seed.key(byok.org.id, byok.admin.id, 'ANTHROPIC', 'sk-ant-bench-member-key-00000000000');
const url = `http://127.0.0.1:${port}`;
const messages: IvyMessageInput[] = [
  { role: 'USER', content: 'Which candidates are waiting on feedback? [[deltas:8]]' },
];

async function directSdk(): Promise<number> {
  const client = new Anthropic({
    apiKey: 'sk-ant-bench-direct-000000000000000',
    baseURL: anthropic.url,
    maxRetries: 0,
  });
  const t0 = performance.now();
  const stream = await client.messages.create({
    model: 'claude-haiku-5-5',
    max_tokens: 256,
    messages: [{ role: 'user', content: messages[0].content }],
    stream: true,
  });
  let first = 0;
  for await (const ev of stream) if (!first && ev.type === 'content_block_delta') first = performance.now() - t0;
  return first;
}

async function viaGraphql(
  token: string,
  orgId: string,
  transport: 'ws' | 'sse',
  ws?: ReturnType<GraphQLClient['ws']>,
): Promise<number> {
  const c = new GraphQLClient(url, token);
  const t0 = performance.now();
  const input = { orgId, messages, maxTokens: 256 };
  const sub = transport === 'ws' ? c.subscribeWs(IVY, { input }, ws) : c.subscribeSse(IVY, { input });
  await sub.waitFor(2, 10_000);
  const first = performance.now() - t0;
  const results = await sub.done;
  if (results.some((r) => r.errors)) throw new Error(JSON.stringify(results[0].errors));
  return first;
}

async function series(fn: () => Promise<number>) {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < N; i++) out.push(await fn());
  return stats(out);
}

const wsCredits = new GraphQLClient(url, credits.admin.token).ws();
const wsByok = new GraphQLClient(url, byok.admin.token).ws();
const report: Record<string, unknown> = {};
const progress = (what: string) => process.stderr.write(`bench: ${what}\n`);
progress('first delta, direct SDK call (ms)');
report['first delta, direct SDK call (ms)'] = await series(directSdk);
progress('first delta, GraphQL ws, credits (ms)');
report['first delta, GraphQL ws, credits (ms)'] = await series(() =>
  viaGraphql(credits.admin.token, credits.org.id, 'ws', wsCredits),
);
progress('first delta, GraphQL ws, BYOK (ms)');
report['first delta, GraphQL ws, BYOK (ms)'] = await series(() =>
  viaGraphql(byok.admin.token, byok.org.id, 'ws', wsByok),
);
progress('first delta, GraphQL SSE, credits (ms)');
report['first delta, GraphQL SSE, credits (ms)'] = await series(() =>
  viaGraphql(credits.admin.token, credits.org.id, 'sse'),
);

// Cancellation: unsubscribe after the first delta of an answer that never ends; time until upstream sees the abort.
progress('cancellation');
const cancel: number[] = [];
for (let i = 0; i < Math.min(N, 50); i++) {
  const sub = new GraphQLClient(url, credits.admin.token).subscribeWs(
    IVY,
    { input: { orgId: credits.org.id, messages: [{ role: 'USER', content: '[[hang]]' }] } },
    wsCredits,
  );
  await sub.waitFor(2, 10_000);
  const before = anthropic.aborts.length;
  const t0 = performance.now();
  sub.stop();
  await anthropic.waitForAborts(before + 1, 5000);
  cancel.push(anthropic.aborts[before].at - t0);
}
report['cancel → upstream abort (ms)'] = stats(cancel);

// Resume: an answer's socket drops after three events; once the server has detached it, a new connection resumes
// from index 3. Measured from opening that connection to the first replayed event.
async function resumeLatency(resumeUrl: string): Promise<number> {
  const requestId = `bench-resume-${randomBytes(6).toString('hex')}`;
  const input = {
    orgId: credits.org.id,
    messages: [{ role: 'USER', content: '[[deltas:20]] [[hang-after:20]]' }] satisfies IvyMessageInput[],
    requestId,
  };
  const detached = new Promise<void>((resolve) => {
    const on = (e: { requestId: string }) => {
      if (e.requestId !== requestId) return;
      app.services.events.off('answer-detached', on);
      resolve();
    };
    app.services.events.on('answer-detached', on);
  });
  const socket = await rawIvySocket({ url }, credits.admin.token);
  socket.subscribe('1', input);
  await socket.events('1', 3);
  socket.drop();
  await detached;
  const t0 = performance.now();
  const sub = new GraphQLClient(resumeUrl, credits.admin.token).subscribeWs(IVY, {
    input: { ...input, resumeFrom: 3 },
  });
  await sub.waitFor(1, 10_000);
  const first = performance.now() - t0;
  await new GraphQLClient(url, credits.admin.token).data(STOP_IVY, { input: { orgId: credits.org.id, requestId } });
  await sub.done;
  sub.stop();
  return first;
}
progress('resume');
const resumes: number[] = [];
for (let i = 0; i < Math.min(N, 50); i++) resumes.push(await resumeLatency(url));
report['resume: reconnect → first replayed event, same instance (ms)'] = stats(resumes);
if (process.env.REDIS_URL) {
  const other = await buildApp(config, { backgroundJobs: false });
  const otherUrl = `http://127.0.0.1:${await other.listen(0, '127.0.0.1')}`;
  const across: number[] = [];
  for (let i = 0; i < Math.min(N, 50); i++) across.push(await resumeLatency(otherUrl));
  report['resume: reconnect → first replayed event, other instance via Redis (ms)'] = stats(across);
  await other.stop();
}

// Burst: 50 completions at once on one org.
progress('burst');
const burstClient = new GraphQLClient(url, credits.admin.token).ws();
const t0 = performance.now();
await Promise.all(
  Array.from(
    { length: 50 },
    () =>
      new GraphQLClient(url, credits.admin.token).subscribeWs(
        IVY,
        { input: { orgId: credits.org.id, messages, maxTokens: 256 } },
        burstClient,
      ).done,
  ),
);
report['50 concurrent completions, wall time (ms)'] = +(performance.now() - t0).toFixed(1);
await burstClient.dispose();

// Memory: RSS and heap after a long run of completions (a leak would grow with the count).
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
for (let i = 0; i < 500; i++) await viaGraphql(credits.admin.token, credits.org.id, 'ws', wsCredits);
global.gc?.();
const mem = process.memoryUsage();
report['heap growth over 500 more completions (MB)'] = +((mem.heapUsed - heapBefore) / 1e6).toFixed(1);
report['RSS after (MB)'] = +(mem.rss / 1e6).toFixed(1);

await wsCredits.dispose();
await wsByok.dispose();
await app.stop();
await anthropic.close();
await embedded?.stop();
fs.rmSync(dataDir, { recursive: true, force: true });

const direct = report['first delta, direct SDK call (ms)'] as ReturnType<typeof stats>;
const ws = report['first delta, GraphQL ws, credits (ms)'] as ReturnType<typeof stats>;
const c = report['cancel → upstream abort (ms)'] as ReturnType<typeof stats>;
console.log(JSON.stringify(report, null, 2));
const targets = [
  [`cancellation p95 ${c.p95} ms < 100 ms`, c.p95 < 100],
  [
    `GraphQL (credits, ws) adds ${(ws.p50 - direct.p50).toFixed(2)} ms at p50 over a direct SDK call (< 50 ms)`,
    ws.p50 - direct.p50 < 50,
  ],
] as const;
for (const [what, ok] of targets) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
process.exit(targets.every(([, ok]) => ok) ? 0 : 1);
