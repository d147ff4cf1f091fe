// Subscription events. Always delivered to this instance's subscribers in memory; with Redis (REDIS_URL) also
// relayed to the other instances. Redis is optional at run time: a failed relay is logged and dropped, local
// delivery never waits for it, and relaying resumes by itself when Redis is back.
// Settings events are coalesced per org (lib/coalesce.ts): one event per burst of changes.
import { randomUUID } from 'node:crypto';
import { createPubSub } from 'graphql-yoga';
import { Coalescer, type CoalesceOptions } from './coalesce.ts';
import type { Logger } from './logger.ts';
import type { RedisLink } from './redis.ts';

export interface OrgSettingsChangedEvent {
  orgId: string;
}

type Topics = { orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent] };

export interface AppPubSub {
  /** "This org's AI settings changed": subscribers hear it once per burst, shortly after. */
  publish(topic: 'orgAiSettingsChanged', orgId: string, event: OrgSettingsChangedEvent): void;
  subscribe(topic: 'orgAiSettingsChanged', orgId: string): AsyncIterable<OrgSettingsChangedEvent>;
  /** Runs one GraphQL operation so that all its settings changes count as one burst. */
  batch<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Test hook: the coalescer (pending bursts, deliveries per org). */
  readonly settingsEvents: Coalescer;
}

const CHANNEL = 'ivy:events:v1';

interface Relayed {
  origin: string;
  topic: 'orgAiSettingsChanged';
  orgId: string;
}

export function createAppPubSub(opts: { redis?: RedisLink | null; log: Logger; coalesce: CoalesceOptions }) {
  const local = createPubSub<Topics>();
  const instanceId = randomUUID();
  const { redis, log } = opts;

  const relay = (orgId: string) => {
    if (!redis) return;
    const message: Relayed = { origin: instanceId, topic: 'orgAiSettingsChanged', orgId };
    redis.commands.publish(CHANNEL, JSON.stringify(message)).catch((err: unknown) => {
      // The state change is logged by the link; this is the per-event detail.
      log.debug('a settings event was not relayed to other instances (redis unreachable)', { orgId, error: err });
    });
  };

  if (redis) {
    redis.subscriber.subscribe(CHANNEL).catch((err: unknown) => log.warn('could not subscribe to redis events', { error: err }));
    redis.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== CHANNEL) return;
      let m: Relayed;
      try {
        m = JSON.parse(raw) as Relayed;
      } catch {
        return;
      }
      // Our own events were delivered locally already.
      if (m.origin === instanceId || m.topic !== 'orgAiSettingsChanged' || typeof m.orgId !== 'string') return;
      local.publish('orgAiSettingsChanged', m.orgId, { orgId: m.orgId });
    });
  }

  const settingsEvents = new Coalescer((orgId) => {
    local.publish('orgAiSettingsChanged', orgId, { orgId });
    relay(orgId);
  }, opts.coalesce);

  const pubsub: AppPubSub = {
    publish: (_topic, orgId) => settingsEvents.changed(orgId),
    subscribe: (topic, orgId) => local.subscribe(topic, orgId),
    batch: (fn) => settingsEvents.batch(fn),
    settingsEvents,
  };
  return {
    pubsub,
    /** Sends what is still pending (a relay already sent is on the wire before the link closes). */
    close: async () => {
      settingsEvents.flushAll();
    },
  };
}
