// Subscription events: in memory by default, across server instances over Redis when REDIS_URL is set.
import { createPubSub } from 'graphql-yoga';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import { observePubSub, type PubSubObserver } from './pubsub-observer.ts';

export interface OrgSettingsChangedEvent {
  orgId: string;
}

type AppEvents = { orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent] };

export interface AppPubSub {
  publish(routingKey: 'orgAiSettingsChanged', orgId: string, event: OrgSettingsChangedEvent): void;
  subscribe(routingKey: 'orgAiSettingsChanged', orgId: string): AsyncIterableIterator<OrgSettingsChangedEvent>;
}

/** `observer` (tests, metrics) hears each publish, each subscriber going live or away, and each event delivered. */
export function createAppPubSub(redisUrl?: string, observer?: PubSubObserver): { pubsub: AppPubSub; close(): Promise<void> } {
  if (!redisUrl) {
    const pubsub = createPubSub<AppEvents>();
    return { pubsub: observer ? observePubSub(pubsub, observer, async () => {}) : pubsub, close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const pubsub = createPubSub<AppEvents>({ eventTarget: createRedisEventTarget({ publishClient, subscribeClient }) });
  return {
    // Redis answers commands on one connection in order: once a PING sent after a SUBSCRIBE is answered, the
    // subscription is in place and hears every later PUBLISH, from any instance.
    pubsub: observer ? observePubSub(pubsub, observer, () => subscribeClient.ping()) : pubsub,
    close: async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
