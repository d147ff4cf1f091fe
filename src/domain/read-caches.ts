// What every request reads before it does anything (issue 10): who the token signs in, the viewer's membership, the
// org's settings, the member's keys. Kept in memory per instance and dropped by the `ivy_cache` notifications of the
// rows' own triggers (src/lib/invalidation-feed.ts), which reach every instance whatever wrote the row. While the
// listener is down nothing is answered from memory.
import { LRUCache } from 'lru-cache';
import type { Membership, Org, PersonalApiKey } from '../generated/prisma/client.ts';
import type { Db } from '../lib/database.ts';
import { forbidden } from '../lib/errors.ts';
import { InvalidatedCache } from '../lib/invalidated-cache.ts';
import { InvalidationFeed } from '../lib/invalidation-feed.ts';
import type { Logger } from '../lib/logger.ts';

/** An org's settings: every column but the balance's, which moves on every hold and is always read fresh. */
export type OrgSettings = Omit<Org, 'creditBalance' | 'overageOwed'>;

/** A verified token's claims (a pure function of the token and the secret: nothing to invalidate, exp honoured). */
export interface TokenClaims {
  userId: string;
  issuedAt: number;
  expiresAt: number;
}

/** A backstop: a notification missed without the connection noticing it (which the feed cannot see) lives this long. */
export const CACHE_TTL_MS = 60_000;

export const cacheKeys = {
  user: (userId: string) => `user:${userId}`,
  membership: (orgId: string, userId: string) => `member:${orgId}:${userId}`,
  org: (orgId: string) => `org:${orgId}`,
  keys: (orgId: string, userId: string) => `keys:${orgId}:${userId}`,
};

const ORG_SETTINGS_SELECT = {
  id: true,
  slug: true,
  name: true,
  plan: true,
  aiProvider: true,
  aiModel: true,
  graceWindowEndsAt: true,
  memberCapDefault: true,
  fallbackToCredits: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Record<keyof OrgSettings, true>;

export class ReadCaches {
  readonly feed: InvalidationFeed;
  readonly tokens = new LRUCache<string, TokenClaims>({ max: 10_000 });
  readonly users: InvalidatedCache<{ tokensValidAfter: Date | null } | null>;
  readonly memberships: InvalidatedCache<Membership | null>;
  readonly orgs: InvalidatedCache<OrgSettings | null>;
  readonly keys: InvalidatedCache<PersonalApiKey[]>;
  private readonly byPrefix: Map<string, Pick<InvalidatedCache<null>, 'invalidate' | 'clear'>>;

  constructor(
    private readonly db: Db,
    databaseUrl: string,
    log: Logger,
  ) {
    this.feed = new InvalidationFeed(
      databaseUrl,
      log,
      (key) => this.invalidate(key),
      () => this.clear(),
    );
    const ttlMs = CACHE_TTL_MS;
    this.users = new InvalidatedCache(this.feed, { max: 10_000, ttlMs });
    this.memberships = new InvalidatedCache(this.feed, { max: 20_000, ttlMs });
    this.orgs = new InvalidatedCache(this.feed, { max: 5_000, ttlMs });
    this.keys = new InvalidatedCache(this.feed, { max: 20_000, ttlMs });
    this.byPrefix = new Map<string, Pick<InvalidatedCache<null>, 'invalidate' | 'clear'>>([
      ['user', this.users],
      ['member', this.memberships],
      ['org', this.orgs],
      ['keys', this.keys],
    ]);
  }

  /**
   * The row behind `key` (a cacheKeys key, the triggers' payload) changed. Writers on this instance also call it
   * right after their commit, so their own next read never waits for the notification to come back.
   */
  invalidate(key: string): void {
    this.byPrefix.get(key.slice(0, key.indexOf(':')))?.invalidate(key);
  }

  clear(): void {
    for (const cache of this.byPrefix.values()) cache.clear();
  }

  user(userId: string) {
    return this.users.get(cacheKeys.user(userId), () =>
      this.db.user.findUnique({ where: { id: userId }, select: { tokensValidAfter: true } }),
    );
  }

  membership(orgId: string, userId: string) {
    return this.memberships.get(cacheKeys.membership(orgId, userId), () =>
      this.db.membership.findUnique({ where: { orgId_userId: { orgId, userId } } }),
    );
  }

  /** The org's settings for a caller whose membership the schema has proved; FORBIDDEN if it vanished. */
  async org(orgId: string): Promise<OrgSettings> {
    const org = await this.orgs.get(cacheKeys.org(orgId), () =>
      this.db.org.findUnique({ where: { id: orgId }, select: ORG_SETTINGS_SELECT }),
    );
    return org ?? forbidden();
  }

  /** The member's own keys in the org, by provider, as ciphertext: decrypted only for a call, never kept in clear. */
  keysOf(orgId: string, userId: string) {
    return this.keys.get(cacheKeys.keys(orgId, userId), () =>
      this.db.personalApiKey.findMany({ where: { orgId, userId }, orderBy: { provider: 'asc' } }),
    );
  }

  start(): Promise<void> {
    return this.feed.start();
  }

  stop(): Promise<void> {
    return this.feed.stop();
  }
}
