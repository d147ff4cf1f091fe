// Concurrency slots ("at most N at once"): a lease per holder, released when the holder ends. In Redis (a sorted set
// of lease ids scored by expiry, so a crashed instance's leases lapse after the lease time) when REDIS_URL is set;
// in memory otherwise.
//
// While Redis is unreachable, slots fail open to this instance's memory: Ivy and sockets keep working with
// per-instance limits (refusing every completion during an outage would be our failure, not the member's). A slot
// is released in the store that granted it; a release Redis misses lapses with its lease.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { RedisLink } from '../redis.ts';

/** KEYS[1]: the set; ARGV: now, expiry, limit, lease id, ttl ms. Returns 1 when the lease was granted. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * The same for several sets at once, all or none, in one round trip (a completion takes the member's slot and the
 * org's on its way upstream). KEYS: the sets; ARGV: now, expiry, lease id, ttl ms, then each set's limit. Returns 0
 * when a lease was added to every set, else the (1-based) index of the first set that was full.
 */
const ACQUIRE_ALL = `
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
end
return 0`;

/** Frees the slot; calling it again does nothing. Resolves once the slot is free in its store. */
export type Release = () => Promise<void>;

export class SlotPool {
  private readonly local = new Map<string, Set<string>>();

  constructor(
    private readonly name: string,
    private readonly redis: RedisLink | null,
    private readonly leaseMs: number,
    private readonly log: Logger,
    private readonly onRelease: (pool: string, key: string) => void,
  ) {}

  /** A release function when a slot under `key` was free (at most `limit` held at once), else null. */
  async acquire(key: string, limit: number): Promise<Release | null> {
    const lease = randomUUID();
    if (this.redis) {
      const setKey = this.setKey(key);
      const now = Date.now();
      try {
        const granted = await this.redis.commands.eval(
          ACQUIRE,
          1,
          setKey,
          now,
          now + this.leaseMs,
          limit,
          lease,
          this.leaseMs,
        );
        if (granted !== 1) return null;
        return this.once(key, () =>
          this.redis!.commands.zrem(setKey, lease).catch((err: unknown) =>
            this.log.warn('a concurrency slot could not be released in redis; it lapses with its lease', {
              pool: this.name,
              error: err,
            }),
          ),
        );
      } catch (err) {
        this.log.warn('concurrency slots store unreachable: counting on this instance only', {
          pool: this.name,
          error: err,
        });
      }
    }
    return this.acquireLocally(key, limit, lease);
  }

  private setKey(key: string) {
    return `ivy:slots:${this.name}:${key}`;
  }

  private acquireLocally(key: string, limit: number, lease: string): Release | null {
    const held = this.local.get(key) ?? new Set<string>();
    if (held.size >= limit) return null;
    held.add(lease);
    this.local.set(key, held);
    return this.once(key, () => {
      held.delete(lease);
      if (held.size === 0 && this.local.get(key) === held) this.local.delete(key);
    });
  }

  private once(key: string, release: () => unknown): Release {
    let freed: Promise<void> | undefined;
    return () =>
      (freed ??= Promise.resolve(release()).then(() => {
        this.onRelease(this.name, key);
      }));
  }

  /**
   * A slot in each pool at once, all or none: the release of them all, or the index of the first claim refused
   * (nothing held then). With Redis, one script takes every slot in one round trip (one ZREM each to release, sent
   * together); without it, or while it is unreachable, each pool counts in this instance's memory, in claim order.
   * The pools must share one Redis and lease time (those of one Limits).
   */
  static async acquireAll(claims: { pool: SlotPool; key: string; limit: number }[]): Promise<Release | number> {
    const [{ pool: first }] = claims;
    const lease = randomUUID();
    if (first.redis) {
      const keys = claims.map((c) => c.pool.setKey(c.key));
      const now = Date.now();
      try {
        const refused = (await first.redis.commands.eval(
          ACQUIRE_ALL,
          keys.length,
          ...keys,
          now,
          now + first.leaseMs,
          lease,
          first.leaseMs,
          ...claims.map((c) => c.limit),
        )) as number;
        if (refused !== 0) return refused - 1;
        const redis = first.redis;
        let freed: Promise<void> | undefined;
        return () =>
          (freed ??= (async () => {
            try {
              const pipeline = redis.commands.pipeline();
              for (const key of keys) pipeline.zrem(key, lease);
              const results = (await pipeline.exec()) ?? [];
              const failed = results.find(([err]) => err)?.[0];
              if (failed) throw failed;
            } catch (err) {
              first.log.warn('a concurrency slot could not be released in redis; it lapses with its lease', {
                pool: claims.map((c) => c.pool.name).join(','),
                error: err,
              });
            }
            for (const c of claims) c.pool.onRelease(c.pool.name, c.key);
          })());
      } catch (err) {
        first.log.warn('concurrency slots store unreachable: counting on this instance only', {
          pool: claims.map((c) => c.pool.name).join(','),
          error: err,
        });
      }
    }
    const held: Release[] = [];
    for (const [i, c] of claims.entries()) {
      const release = c.pool.acquireLocally(c.key, c.limit, lease);
      if (!release) {
        await Promise.all(held.map((r) => r()));
        return i;
      }
      held.push(release);
    }
    let freed: Promise<void> | undefined;
    return () => (freed ??= Promise.all(held.map((r) => r())).then(() => undefined));
  }
}
