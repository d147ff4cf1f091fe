// Scheduled re-tests of saved personal keys, so a key revoked, out of quota or rotated at the provider shows up
// as INVALID before a candidate sees a failed answer. Each round (one per SWEEP_INTERVAL_MS, on one instance of the
// fleet at a time) tests the keys whose last test is older than KEY_RETEST_INTERVAL, oldest first:
// - spread: a round takes at most twice its share of the keys (keys x round / interval), so a thousand keys saved
//   in one hour are re-tested across the day rather than in one burst, and stay spread afterwards;
// - bounded: at most KEY_RETEST_CONCURRENCY checks in flight, and KEY_RETEST_RATE checks per vendor per window;
// - no retry storm: an unreachable provider leaves statuses as they are and pauses that vendor's re-tests with an
//   exponential back-off (one round, doubling, at most a quarter of the interval); a 429 ends that vendor's round.
import { DecryptionError } from '../lib/crypto.ts';
import type { KeyStatus } from '../generated/prisma/enums.ts';
import { recordAudit } from './audit.ts';
import { openPersonalKey, pushKeyStatus } from './key-vault.ts';
import type { Vendor } from './vendors.ts';
import type { Services } from './services.ts';

export interface RetestRound {
  /** False when another instance holds the fleet lock (or Redis is unreachable). */
  ran: boolean;
  tested: number;
  changed: number;
  perVendor: Record<Vendor, { tested: number; unreachable: boolean; paused: boolean; rateLimited: boolean }>;
}

const VENDORS: Vendor[] = ['ANTHROPIC', 'OPENAI'];

export class KeyRetestScheduler {
  private readonly pausedUntil = new Map<Vendor, number>();
  private readonly backoff = new Map<Vendor, number>();

  constructor(private readonly s: Services) {}

  /** One round; never throws for a key or a provider (those are logged and left for the next round). */
  async runRound(): Promise<RetestRound> {
    const { s } = this;
    const { sweepIntervalMs, keyCheckTimeoutMs } = s.config;
    const round: RetestRound = {
      ran: false,
      tested: 0,
      changed: 0,
      perVendor: Object.fromEntries(
        VENDORS.map((v) => [v, { tested: 0, unreachable: false, paused: false, rateLimited: false }]),
      ) as RetestRound['perVendor'],
    };
    // Held at most as long as a round can take, so a crashed holder blocks the fleet for one round only.
    const release = await s.locks.tryAcquire('key-retests', sweepIntervalMs + keyCheckTimeoutMs);
    if (!release) return round;
    round.ran = true;
    try {
      const now = s.clock.now();
      for (const vendor of VENDORS) {
        if ((this.pausedUntil.get(vendor) ?? 0) > now.getTime()) {
          round.perVendor[vendor].paused = true;
          continue;
        }
        await this.runVendor(vendor, now, round);
      }
    } finally {
      await release();
    }
    s.events.emit('key-retest-round', round);
    return round;
  }

  private async budget(vendor: Vendor): Promise<number> {
    const { keyRetest, sweepIntervalMs } = this.s.config;
    const keys = await this.s.db.personalApiKey.count({ where: { provider: vendor } });
    const share = Math.ceil((2 * keys * sweepIntervalMs) / keyRetest.intervalMs);
    const rate = Math.floor((keyRetest.perVendor.points * sweepIntervalMs) / (keyRetest.perVendor.seconds * 1000));
    return Math.max(1, Math.min(share, Math.max(1, rate)));
  }

  private async runVendor(vendor: Vendor, now: Date, round: RetestRound): Promise<void> {
    const { s } = this;
    const dueBefore = new Date(now.getTime() - s.config.keyRetest.intervalMs);
    const due = await s.db.personalApiKey.findMany({
      where: { provider: vendor, OR: [{ lastTestedAt: null }, { lastTestedAt: { lte: dueBefore } }] },
      orderBy: [{ lastTestedAt: { sort: 'asc', nulls: 'first' } }, { id: 'asc' }],
      take: await this.budget(vendor),
    });
    let stop = false;
    const queue = [...due];
    const worker = async () => {
      for (let row = queue.shift(); row && !stop; row = queue.shift()) {
        const outcome = await this.retest(row);
        const stats = round.perVendor[vendor];
        if (outcome === 'skipped') continue;
        if (outcome === 'unreachable') {
          stop = stats.unreachable = true;
          continue;
        }
        stats.tested++;
        round.tested++;
        if (outcome === 'rate_limited') stop = stats.rateLimited = true;
        if (outcome === 'changed') round.changed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(s.config.keyRetest.concurrency, due.length) }, worker));
    const stats = round.perVendor[vendor];
    if (stats.unreachable) {
      const next = Math.min(
        (this.backoff.get(vendor) ?? 0) * 2 || s.config.sweepIntervalMs,
        s.config.keyRetest.intervalMs / 4,
      );
      this.backoff.set(vendor, next);
      this.pausedUntil.set(vendor, now.getTime() + next);
      s.log.warn('key re-tests paused: the provider is unreachable; statuses are left as they are', {
        vendor,
        retryInMs: next,
      });
    } else if (stats.tested > 0) {
      this.backoff.delete(vendor);
    }
  }

  private async retest(row: Awaited<ReturnType<Services['db']['personalApiKey']['findFirstOrThrow']>>) {
    const { s } = this;
    const vendor = row.provider as Vendor;
    let apiKey: string;
    try {
      apiKey = openPersonalKey(s.keyring, row);
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      return 'skipped' as const; // unreadable: the member is told NO_API_KEY when they use it
    }
    const check = await s.providers[vendor].checkKey(apiKey);
    s.metrics?.keyTests.inc({ provider: vendor, result: `retest_${check.outcome}` });
    if (check.outcome === 'unreachable') return 'unreachable' as const;
    const status: KeyStatus = check.outcome === 'invalid' ? 'INVALID' : 'VALID';
    const testedAt = s.clock.now();
    const changed = await s.db.$transaction(async (tx) => {
      // Only the key that was tested: if the member saved a new one meanwhile (new nonce), leave it alone.
      const updated = await tx.$executeRaw`
        UPDATE personal_api_keys SET status = ${status}::"KeyStatus", last_tested_at = ${testedAt}
        WHERE id = ${row.id}::uuid AND nonce = ${Buffer.from(row.nonce)}`;
      if (updated === 0 || status === row.status) return false;
      await recordAudit(tx, {
        orgId: row.orgId,
        actorId: null,
        action: 'personal_key.status_changed',
        detail: { provider: vendor, from: row.status, to: status, by: 'scheduled re-test' },
      });
      return true;
    });
    if (!changed) return check.outcome === 'rate_limited' ? ('rate_limited' as const) : ('tested' as const);
    pushKeyStatus(s, { orgId: row.orgId, userId: row.userId, vendor }, row.status, status, testedAt);
    return check.outcome === 'rate_limited' ? ('rate_limited' as const) : ('changed' as const);
  }
}

const schedulers = new WeakMap<Services, KeyRetestScheduler>();

/** The process's scheduler (its back-off state lives as long as the process). */
export function keyRetestScheduler(s: Services): KeyRetestScheduler {
  let scheduler = schedulers.get(s);
  if (!scheduler) schedulers.set(s, (scheduler = new KeyRetestScheduler(s)));
  return scheduler;
}
