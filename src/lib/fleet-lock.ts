// "One instance at a time across the fleet" for background work: a Redis lock with an expiry (SET NX PX), released
// only by its holder. Without REDIS_URL there is one instance, so the lock is always granted. With Redis configured
// but unreachable it is refused: skipping a round is safe, running it on every instance at once is not.
import { randomUUID } from 'node:crypto';
import type { Logger } from './logger.ts';
import type { RedisLink } from './redis.ts';

export interface FleetLock {
  /** Resolves with a release function when this instance holds `name` for up to `ttlMs`, or null when it does not. */
  tryAcquire(name: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
}

// Deletes the key only if it still holds our token: a lock that expired and was taken by another instance stays theirs.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export function createFleetLock(redis: RedisLink | null, log: Logger): FleetLock {
  if (!redis) return { tryAcquire: () => Promise.resolve(async () => {}) };
  return {
    async tryAcquire(name, ttlMs) {
      const key = `ivy:lock:${name}`;
      const token = randomUUID();
      try {
        const ok = await redis.commands.set(key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
        if (ok !== 'OK') return null;
      } catch (err) {
        log.debug('fleet lock not taken: redis unreachable; the work waits for the next round', { name, error: err });
        return null;
      }
      return async () => {
        await redis.commands.eval(RELEASE, 1, key, token).catch(() => undefined);
      };
    },
  };
}
