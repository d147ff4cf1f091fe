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
      const setKey = `ivy:slots:${this.name}:${key}`;
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
}
