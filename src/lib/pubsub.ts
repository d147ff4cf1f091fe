// Subscription events. Always delivered to this instance's subscribers in memory; with Redis (REDIS_URL) also
// relayed to the other instances. Redis is optional at run time: a failed relay is logged and dropped, local
// delivery never waits for it, and relaying resumes by itself when Redis is back.
// Settings events are coalesced per org (lib/coalesce.ts): one event per burst of changes.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Coalescer, type CoalesceOptions } from './coalesce.ts';
import { LocalRoutes } from './local-routes.ts';
import type { Logger } from './logger.ts';
import type { RedisLink } from './redis.ts';
import { Redis } from 'ioredis';
import { StartupError } from './startup-errors.ts';
import { observePubSub, type PubSubObserver } from './pubsub-observer.ts';

export interface OrgSettingsChangedEvent {
  orgId: string;
}

/** A member's own key changed status (a test, a scheduled re-test, or a provider refusing it mid-answer). */
export interface KeyStatusChangedEvent {
  orgId: string;
  userId: string;
  provider: 'ANTHROPIC' | 'OPENAI';
  status: 'UNTESTED' | 'VALID' | 'INVALID';
  previousStatus: 'UNTESTED' | 'VALID' | 'INVALID';
  testedAt: string | null;
}

/** An org's credit balance moved (a hold, a settlement, an expired hold's release, a grant): the balance after it. */
export interface CreditBalanceChangedEvent {
  orgId: string;
  balance: number;
}

export type Topics = {
  orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent];
  /** Keyed by orgId; every movement, at once (never coalesced: each one is a balance the Ivy panel shows). */
  creditBalanceChanged: [orgId: string, event: CreditBalanceChangedEvent];
  /** Keyed by memberKey(orgId, userId): only that member hears it. */
  viewerKeyStatusChanged: [memberKey: string, event: KeyStatusChangedEvent];
};
export type TopicName = keyof Topics;

/** The routing id of one member's own events. */
export const memberKey = (orgId: string, userId: string) => `${orgId}:${userId}`;

export interface AppPubSub {
  /**
   * orgAiSettingsChanged ("this org's AI settings changed"): subscribers hear it once per burst, shortly after.
   * viewerKeyStatusChanged: delivered at once, to that member only.
   * creditBalanceChanged: delivered at the end of the turn it was published in, to the org's subscribers: balances
   * moved in one turn (a batch of holds or settlements committing together) are one event per org, the last.
   */
  publish<K extends TopicName>(topic: K, id: string, event: Topics[K][1]): void;
  subscribe<K extends TopicName>(topic: K, id: string): AsyncIterable<Topics[K][1]>;
  /** Runs one GraphQL operation so that all its settings changes count as one burst. */
  batch<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Test hook: the coalescer (pending bursts, deliveries per org). */
  readonly settingsEvents: Coalescer;
  /** Test hook: resolves once at least `count` subscribers on this instance listen to `orgId`. */
  whenSubscribed(orgId: string, count: number): Promise<void>;
  /** Test hook: how many subscribers on this instance listen to `orgId` now. */
  subscribers(orgId: string): number;
}

const CHANNEL = 'ivy:events:v1';

type Relayed =
  | { origin: string; topic: 'orgAiSettingsChanged'; orgId: string }
  | { origin: string; topic: 'viewerKeyStatusChanged'; id: string; event: KeyStatusChangedEvent }
  | { origin: string; topic: 'creditBalanceChanged'; event: CreditBalanceChangedEvent };

/** `observer` (tests, metrics) hears each publish, each subscriber going live or away, and each event delivered. */
export function createAppPubSub(opts: {
  redis?: RedisLink | null;
  log: Logger;
  coalesce: CoalesceOptions;
  observer?: PubSubObserver;
}) {
  // An org's Settings page is open for every member at once: one route per topic and id, walked once per event
  // (lib/local-routes.ts), each subscriber counted per id while it listens (whenSubscribed).
  const listening = new Listening();
  const local = new LocalRoutes((id, delta) => listening.add(id, delta));
  const instanceId = randomUUID();
  const { redis, log } = opts;

  const relay = (message: Relayed) => {
    if (!redis) return;
    const orgId = message.topic === 'orgAiSettingsChanged' ? message.orgId : message.event.orgId;
    redis.commands.publish(CHANNEL, JSON.stringify(message)).catch((err: unknown) => {
      // The state change is logged by the link; this is the per-event detail.
      log.debug('a settings event was not relayed to other instances (redis unreachable)', { orgId, error: err });
    });
  };

  redis?.listen(CHANNEL, (raw) => {
    let m: Relayed;
    try {
      m = JSON.parse(raw) as Relayed;
    } catch {
      return;
    }
    // Our own events were delivered locally already.
    if (m.origin === instanceId) return;
    if (m.topic === 'orgAiSettingsChanged' && typeof m.orgId === 'string')
      local.publish('orgAiSettingsChanged', m.orgId, { orgId: m.orgId });
    if (m.topic === 'viewerKeyStatusChanged' && typeof m.id === 'string' && m.event)
      local.publish('viewerKeyStatusChanged', m.id, m.event);
    if (m.topic === 'creditBalanceChanged' && typeof m.event?.orgId === 'string' && Number.isInteger(m.event.balance))
      local.publish('creditBalanceChanged', m.event.orgId, { orgId: m.event.orgId, balance: m.event.balance });
  });

  const settingsEvents = new Coalescer((orgId) => {
    local.publish('orgAiSettingsChanged', orgId, { orgId });
    relay({ origin: instanceId, topic: 'orgAiSettingsChanged', orgId });
  }, opts.coalesce);

  // A ledger batch resolves its holds (or settlements) in one turn, each publishing the org's balance after it: at 64
  // answers in flight that was a Redis PUBLISH per movement, the busiest Redis caller of a completion (2.2 % of the
  // whole stack's CPU, issue 10). Within a turn only the last balance per org goes out, locally and to Redis; every
  // balance delivered is still one that committed, and movements in different turns are each delivered.
  const balances = new Map<string, CreditBalanceChangedEvent>();
  const flushBalances = () => {
    for (const [id, moved] of balances) {
      local.publish('creditBalanceChanged', id, moved);
      relay({ origin: instanceId, topic: 'creditBalanceChanged', event: moved });
    }
    balances.clear();
  };

  const pubsub: AppPubSub = {
    publish: (topic, id, event) => {
      if (topic === 'orgAiSettingsChanged') return settingsEvents.changed(id);
      if (topic === 'creditBalanceChanged') {
        if (balances.size === 0) process.nextTick(flushBalances);
        balances.set(id, event as CreditBalanceChangedEvent);
        return;
      }
      const keyEvent = event as KeyStatusChangedEvent;
      local.publish('viewerKeyStatusChanged', id, keyEvent);
      relay({ origin: instanceId, topic: 'viewerKeyStatusChanged', id, event: keyEvent });
    },
    subscribe: <K extends TopicName>(topic: K, id: string) => local.subscribe<Topics[K][1]>(topic, id),
    whenSubscribed: (orgId, count) => listening.when(orgId, count),
    subscribers: (orgId) => listening.count(orgId),
    batch: (fn) => settingsEvents.batch(fn),
    settingsEvents,
  };
  if (opts.observer) {
    // Local delivery needs nothing more than the listener (relays from Redis arrive through the same local pubsub).
    const observed = observePubSub(
      { publish: pubsub.publish, subscribe: pubsub.subscribe },
      opts.observer,
      async () => {},
    );
    pubsub.publish = observed.publish;
    pubsub.subscribe = observed.subscribe;
  }
  return {
    pubsub,
    /** Sends what is still pending (a relay already sent is on the wire before the link closes). */
    close: async () => {
      settingsEvents.flushAll();
      flushBalances();
    },
  };
}

/** Counts this instance's live subscribers per routing id: a subscriber counts from its first next() until it ends. */
class Listening {
  private readonly counts = new Map<string, number>();
  private readonly changes = new EventEmitter();

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  when(key: string, count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if ((this.counts.get(key) ?? 0) < count) return false;
        this.changes.off(key, check);
        resolve();
        return true;
      };
      if (!check()) this.changes.on(key, check);
    });
  }

  add(key: string, delta: number) {
    const n = (this.counts.get(key) ?? 0) + delta;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
    this.changes.emit(key);
  }
}

/** Connects once, pings, and disconnects: a wrong REDIS_URL fails start-up in seconds instead of retrying forever. */
export async function verifyRedis(redisUrl: string, timeoutMs = 5000): Promise<void> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined; // the socket's own error (ECONNREFUSED…); connect() only says the connection closed
  probe.on('error', (err) => (cause ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    const u = URL.canParse(redisUrl) ? new URL(redisUrl) : null;
    const first = cause ?? (err as Error);
    const reason = (first as { code?: string }).code ?? first.message;
    throw new StartupError(
      `Cannot reach Redis at ${u ? `${u.hostname}:${u.port || 6379}` : 'REDIS_URL'} (${reason}): check REDIS_URL, or unset it to keep subscription events in memory (one instance only).`,
    );
  } finally {
    probe.disconnect();
  }
}
