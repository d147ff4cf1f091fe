// Calls per time window (rate-limiter-flexible): in Redis when REDIS_URL is set, so every instance counts together;
// in memory otherwise.
//
// While Redis is unreachable each rule does what its `whenRedisDown` says:
// - 'refuse' (fail closed): key saves and key tests. Together they are a stolen-key oracle and each test is an
//   upstream call; a few seconds without them during an outage costs a member little, while per-instance counting
//   would multiply the allowance by the number of instances.
// - 'count-locally' (fail open, to this instance's own memory counters): settings changes. Refusing an admin's
//   provider change because our Redis is down would be our failure, not theirs; events are coalesced anyway.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimit } from '../../config.ts';
import { RateLimited } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RedisLink } from '../redis.ts';

export interface RateRule {
  name: string;
  limit: RateLimit;
  /** What the caller is told, e.g. "key tests" → "Too many key tests: at most 5 per 60 s." */
  what: string;
  whenRedisDown: 'refuse' | 'count-locally';
}

/** Seconds a fail-closed rule asks callers to wait while Redis is unreachable. */
const RETRY_WHILE_REDIS_DOWN_S = 5;

export class RateRuleLimiter {
  private readonly shared: RateLimiterAbstract | null;
  private readonly local: RateLimiterMemory;

  constructor(
    private readonly rule: RateRule,
    redis: RedisLink | null,
    private readonly log: Logger,
  ) {
    const base = { keyPrefix: `ivy:rl:${rule.name}`, points: rule.limit.points, duration: rule.limit.seconds };
    this.local = new RateLimiterMemory(base);
    this.shared = redis
      ? new RateLimiterRedis({ ...base, storeClient: redis.commands, rejectIfRedisNotReady: true })
      : null;
  }

  /** Counts one call for `key`; throws RateLimited when over the limit. */
  async consume(key: string): Promise<void> {
    try {
      await (this.shared ?? this.local).consume(key);
      return;
    } catch (err) {
      if (err instanceof RateLimiterRes) throw this.refusal(err);
      this.log.warn('rate limiter store unreachable', {
        rule: this.rule.name,
        fallback: this.rule.whenRedisDown,
        error: err,
      });
    }
    if (this.rule.whenRedisDown === 'refuse') {
      throw new RateLimited(
        `${capitalise(this.rule.what)} are paused for a moment: try again in ${RETRY_WHILE_REDIS_DOWN_S} s.`,
        RETRY_WHILE_REDIS_DOWN_S,
      );
    }
    try {
      await this.local.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw this.refusal(err);
      throw err;
    }
  }

  private refusal(res: RateLimiterRes): RateLimited {
    const retryAfter = Math.ceil(res.msBeforeNext / 1000);
    const { points, seconds } = this.rule.limit;
    return new RateLimited(
      `Too many ${this.rule.what}: at most ${points} per ${seconds} s. Try again in ${Math.max(1, retryAfter)} s.`,
      retryAfter,
    );
  }
}

const capitalise = (s: string) => s[0].toUpperCase() + s.slice(1);
