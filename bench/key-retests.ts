// npm run bench:key-retests   A simulated week of scheduled key re-tests for an org of 500 members, on the injectable
// clock, against the Anthropic stand-in and a real PostgreSQL (embedded unless DATABASE_URL is set). One round per
// SWEEP_INTERVAL_MS (60 s) with the production defaults (KEY_RETEST_INTERVAL 24h, KEY_RETEST_CONCURRENCY 4,
// KEY_RETEST_RATE 60/60). The week: 450 members save an Anthropic key on Monday morning (400 tested by them, 40 never
// tested, 10 on a throttled account), 50 save none; Tuesday 10:00 the provider revokes 20 keys; Wednesday
// 14:00-16:00 the provider is down. Prints per day: checks sent, the busiest minute, statuses, staleness, and
// how long each revocation took to show.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { keyReadiness } from '../src/domain/key-readiness.ts';
import { keyRetestScheduler } from '../src/domain/key-retests.ts';
import { sealPersonalKey } from '../src/domain/key-vault.ts';
import { keyHint } from '../src/domain/vendors.ts';
import { ManualClock } from '../src/lib/clock.ts';
import { Keyring } from '../src/lib/crypto.ts';
import { startEmbeddedPostgres } from '../src/lib/embedded-pg.ts';
import { createLogger } from '../src/lib/logger.ts';
import { startFakeAnthropic } from '../dev/vendors/anthropic-server.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const START = new Date('2026-11-30T08:00:00.000Z'); // a Monday morning

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-bench-retests-'));
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
  MIGRATE_ON_START: '1',
  LOG_LEVEL: 'error',
  PROVIDER_MAX_RETRIES: '0',
});
const clock = new ManualClock(START);
const app = await buildApp(config, { backgroundJobs: false, clock });
const s = app.services;

// The org: 500 members; 450 save a key on Monday morning between 08:00 and 09:00.
const org = await s.db.org.create({ data: { slug: `week-${randomUUID().slice(0, 8)}`, name: 'week', plan: 'GROWTH' } });
const users = Array.from({ length: 500 }, (_, i) => ({ id: randomUUID(), email: `m${i}@week.test`, name: `m${i}` }));
await s.db.user.createMany({ data: users });
await s.db.membership.createMany({ data: users.map((u) => ({ orgId: org.id, userId: u.id, role: 'INTERVIEWER' })) });
const keys = users.slice(0, 450).map((u, i) => {
  const apiKey = `sk-ant-api03-${i >= 440 ? 'ratelimited' : 'member'}-${randomUUID().replace(/-/g, '')}`;
  const untested = i >= 400 && i < 440;
  return {
    apiKey,
    row: {
      orgId: org.id,
      userId: u.id,
      provider: 'ANTHROPIC' as const,
      hint: keyHint(apiKey),
      status: untested ? ('UNTESTED' as const) : ('VALID' as const),
      lastTestedAt: untested ? null : new Date(START.getTime() + Math.floor((i / 400) * HOUR)),
      ...sealPersonalKey(s.keyring, org.id, u.id, 'ANTHROPIC', apiKey),
    },
  };
});
await s.db.personalApiKey.createMany({ data: keys.map((k) => k.row) });
const revokeAt = START.getTime() + DAY + 2 * HOUR; // Tuesday 10:00
const revoked = keys.slice(0, 400).filter((_, i) => i % 20 === 7); // 20 keys
const outage = [START.getTime() + 2 * DAY + 6 * HOUR, START.getTime() + 2 * DAY + 8 * HOUR]; // Wednesday 14:00-16:00

const scheduler = keyRetestScheduler(s);
const checks = () => anthropic.requests.filter((r) => r.path === '/v1/models').length;
const detectedAt = new Map<string, number>();
const days: string[][] = [];
let dayChecks = 0;
let busiestMinute = 0;
let outageChecks = 0;
let outagePaused = 0;
let resumedAt: number | null = null;
let peakStaleMs = 0;
const wall = Date.now();

for (let t = START.getTime(); t < START.getTime() + 7 * DAY; t += config.sweepIntervalMs) {
  clock.set(new Date(t));
  if (t === revokeAt) revoked.forEach((k) => anthropic.revoke(k.apiKey));
  anthropic.outage = t >= outage[0] && t < outage[1];
  const before = checks();
  const round = await scheduler.runRound();
  const sent = checks() - before;
  dayChecks += sent;
  busiestMinute = Math.max(busiestMinute, sent);
  if (anthropic.outage) outageChecks += sent;
  if (anthropic.outage && round.perVendor.ANTHROPIC.paused) outagePaused++;
  if (t >= outage[1] && resumedAt === null && round.perVendor.ANTHROPIC.tested > 0) resumedAt = t;
  if ((t - START.getTime()) % (10 * MIN) === 0) {
    const oldest = await s.db.personalApiKey.findFirst({
      where: { lastTestedAt: { not: null } },
      orderBy: { lastTestedAt: 'asc' },
    });
    if (oldest?.lastTestedAt) peakStaleMs = Math.max(peakStaleMs, t - oldest.lastTestedAt.getTime());
  }
  if (t >= revokeAt && detectedAt.size < revoked.length) {
    const found = await s.db.personalApiKey.findMany({
      where: { userId: { in: revoked.map((k) => k.row.userId) }, status: 'INVALID' },
      select: { userId: true },
    });
    for (const { userId } of found) if (!detectedAt.has(userId)) detectedAt.set(userId, t - revokeAt);
  }
  if ((t - START.getTime() + config.sweepIntervalMs) % DAY === 0) {
    const [r] = (await keyReadiness(s, org.id)).filter((x) => x.provider === 'ANTHROPIC');
    const oldest = await s.db.personalApiKey.findFirst({ orderBy: { lastTestedAt: 'asc' } });
    const staleH = oldest?.lastTestedAt ? ((t - oldest.lastTestedAt.getTime()) / HOUR).toFixed(1) : 'never';
    days.push([
      new Date(t + config.sweepIntervalMs - DAY).toUTCString().slice(0, 16),
      String(dayChecks),
      String(busiestMinute),
      `${r.valid}/${r.invalid}/${r.untested}/${r.notSaved}`,
      String(r.notTestedWithinInterval),
      staleH,
    ]);
    dayChecks = 0;
    busiestMinute = 0;
  }
}

const lat = [...detectedAt.values()].sort((a, b) => a - b).map((ms) => ms / HOUR);
console.log(`Simulated week: 500 members, 450 Anthropic keys, one round every ${config.sweepIntervalMs / 1000} s,`);
console.log(
  `KEY_RETEST_INTERVAL ${config.keyRetest.intervalMs / HOUR} h, concurrency ${config.keyRetest.concurrency}, rate ${config.keyRetest.perVendor.points}/${config.keyRetest.perVendor.seconds}s per vendor.`,
);
console.log(
  '\nday from 08:00 UTC  checks  busiest-minute  valid/invalid/untested/none  not-retested-in-24h  oldest-test-h',
);
for (const d of days)
  console.log(
    `${d[0]}   ${d[1].padStart(6)}  ${d[2].padStart(14)}  ${d[3].padStart(27)}  ${d[4].padStart(19)}  ${d[5].padStart(13)}`,
  );
console.log(
  `\nrevoked on Tue 10:00: ${detectedAt.size}/${revoked.length} found INVALID; hours to detect: min ${lat[0]?.toFixed(1)}, median ${lat[Math.floor(lat.length / 2)]?.toFixed(1)}, max ${lat.at(-1)?.toFixed(1)}`,
);
console.log(
  `provider down Wed 14:00-16:00 (120 rounds): ${outageChecks} checks sent, ${outagePaused} rounds paused, statuses left alone; re-tests resumed at ${resumedAt ? new Date(resumedAt).toISOString().slice(11, 16) : 'never'}`,
);
console.log(
  `longest any key went without a test during the week: ${(peakStaleMs / HOUR).toFixed(1)} h (sampled every 10 min)`,
);
const audits = await s.db.auditEvent.count({ where: { orgId: org.id, action: 'personal_key.status_changed' } });
console.log(
  `status changes audited (and pushed to their member): ${audits}; wall time ${((Date.now() - wall) / 1000).toFixed(1)} s`,
);

await app.stop();
await anthropic.close();
await embedded?.stop();
