// Every rate and concurrency limit of the API, configured from Config (RATE_LIMIT_*, MAX_*), built once per process.
// A refusal is RateLimited (RATE_LIMITED, extensions.retryAfter). See rates.ts and slots.ts for Redis outages.
import { EventEmitter, once } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Config } from '../../config.ts';
import { RateLimited } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RedisLink } from '../redis.ts';
import { RateRuleLimiter } from './rates.ts';
import { SlotPool, type Release } from './slots.ts';

/** Seconds we suggest waiting when a concurrency limit refuses: about the length of a short Ivy answer. */
const RETRY_AFTER_CONCURRENCY_S = 5;

export type RateRuleName = 'keyTests' | 'keySaves' | 'settingsChanges';
type PoolName = 'completionsPerMember' | 'completionsPerOrg' | 'socketsPerMember';

export class Limits {
  private readonly rates: Record<RateRuleName, RateRuleLimiter>;
  private readonly pools: Record<PoolName, SlotPool>;
  private readonly perSocket = new WeakMap<object, number>();
  private readonly releases = new EventEmitter();
  private readonly releaseCounts = new Map<string, number>();
  private readonly starts: LimitFunction;

  constructor(
    private readonly config: Config,
    redis: RedisLink | null,
    log: Logger,
  ) {
    const r = config.rateLimits;
    this.rates = {
      keyTests: new RateRuleLimiter(
        { name: 'key-tests', limit: r.keyTests, what: 'key tests', whenRedisDown: 'refuse' },
        redis,
        log,
      ),
      keySaves: new RateRuleLimiter(
        { name: 'key-saves', limit: r.keySaves, what: 'key saves', whenRedisDown: 'refuse' },
        redis,
        log,
      ),
      settingsChanges: new RateRuleLimiter(
        {
          name: 'settings-changes',
          limit: r.settingsChanges,
          what: 'settings changes for this org',
          whenRedisDown: 'count-locally',
        },
        redis,
        log,
      ),
    };
    this.starts = pLimit(config.concurrency.completionsStartingAtOnce);
    const pool = (name: string) =>
      new SlotPool(name, redis, config.concurrency.slotLeaseMs, log, (p, key) => this.countRelease(p, key));
    this.pools = {
      completionsPerMember: pool('completions-member'),
      completionsPerOrg: pool('completions-org'),
      socketsPerMember: pool('sockets-member'),
    };
  }

  /** Counts one call against a rate rule; throws RATE_LIMITED over the limit. Aliases count one each. */
  consume(rule: RateRuleName, key: string): Promise<void> {
    return this.rates[rule].consume(key);
  }

  /**
   * Takes a completion slot for the member, the org and (over graphql-ws) the socket, or throws RATE_LIMITED and
   * holds nothing. The caller must call the release it gets exactly when the stream ends, whichever way.
   */
  async acquireCompletion(who: { userId: string; orgId: string; socket?: object }): Promise<Release> {
    const c = this.config.concurrency;
    const held: Release[] = [];
    let released: Promise<void> | undefined;
    const releaseAll: Release = () => (released ??= Promise.all(held.map((r) => r())).then(() => undefined));
    try {
      if (who.socket) held.push(this.takeSocketSlot(who.socket, c.completionsPerSocket));
      // The member's slot and the org's together: one Redis round trip on the way upstream, not one each.
      const taken = await SlotPool.acquireAll([
        { pool: this.pools.completionsPerMember, key: who.userId, limit: c.completionsPerMember },
        { pool: this.pools.completionsPerOrg, key: who.orgId, limit: c.completionsPerOrg },
      ]);
      if (typeof taken === 'number') {
        const what = [
          `You already have ${c.completionsPerMember} Ivy answers streaming`,
          `This org already has ${c.completionsPerOrg} Ivy answers streaming`,
        ][taken];
        throw new RateLimited(`${what}: wait for one to finish, then try again.`, RETRY_AFTER_CONCURRENCY_S);
      }
      held.push(taken);
    } catch (err) {
      await releaseAll();
      throw err;
    }
    return releaseAll;
  }

  /** A graphql-ws socket for a signed-in user; throws RATE_LIMITED when they hold the maximum already. */
  acquireSocket(userId: string): Promise<Release> {
    const max = this.config.concurrency.socketsPerMember;
    return this.take('socketsPerMember', userId, max, `You already have ${max} live connections open`);
  }

  /**
   * Test hook: slots released so far in a pool ('completions-member', 'completions-org', 'completions-socket',
   * 'sockets-member'), or only those under one key (a user or org id) of it.
   */
  released(pool: string, key?: string): number {
    return this.releaseCounts.get(key === undefined ? pool : `${pool}|${key}`) ?? 0;
  }

  /**
   * Runs a completion's start (its hold and the setting up of its upstream request; its slots are taken before, so a
   * request over a limit is refused at once and never waits) once fewer than COMPLETIONS_STARTING_AT_ONCE are
   * starting on this instance; the others wait their turn, in arrival order. 1,000 answers asked for at once had
   * their holds placed in batches of up to 256, and each batch's completions then started upstream together: the
   * answers already streaming waited behind them, p99 409–1,381 ms between two of their deltas; 190–217 ms with 16
   * at once (issue 10, bench:scale). A turn is nothing but the start: the wait is what a burst's later answers pay
   * in their time to first text.
   */
  starting<T>(start: () => Promise<T>): Promise<T> {
    const turn = this.starts(start);
    this.releases.emit('start-waiting');
    return turn;
  }

  /** Test hook: resolves once at least `count` completion starts wait for their turn. */
  async whenStartsWaiting(count: number): Promise<void> {
    while (this.starts.pendingCount < count) await once(this.releases, 'start-waiting');
  }

  /** Test hook: resolves once `released(pool, key)` reaches `count`. */
  async whenReleased(pool: string, key: string | undefined, count: number): Promise<void> {
    while (this.released(pool, key) < count) await once(this.releases, 'release');
  }

  private async take(pool: PoolName, key: string, limit: number, what: string): Promise<Release> {
    const release = await this.pools[pool].acquire(key, limit);
    if (!release) throw new RateLimited(`${what}: wait for one to finish, then try again.`, RETRY_AFTER_CONCURRENCY_S);
    return release;
  }

  private takeSocketSlot(socket: object, limit: number): Release {
    const n = this.perSocket.get(socket) ?? 0;
    if (n >= limit)
      throw new RateLimited(
        `This connection already has ${limit} Ivy answers streaming: wait for one to finish, then try again.`,
        RETRY_AFTER_CONCURRENCY_S,
      );
    this.perSocket.set(socket, n + 1);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.perSocket.set(socket, (this.perSocket.get(socket) ?? 1) - 1);
      this.countRelease('completions-socket', undefined);
    };
  }

  // Per-key counts grow with the keys seen; fine for the hook's use (tests), and a few bytes per member otherwise.
  private countRelease(pool: string, key: string | undefined) {
    this.releaseCounts.set(pool, this.released(pool) + 1);
    if (key !== undefined) this.releaseCounts.set(`${pool}|${key}`, this.released(pool, key) + 1);
    this.releases.emit('release', pool);
  }
}
