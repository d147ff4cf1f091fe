// Subscription events: in memory by default, across server instances over Redis when REDIS_URL is set.
import { createPubSub } from 'graphql-yoga';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';

export interface OrgSettingsChangedEvent {
  orgId: string;
}

export type AppPubSub = ReturnType<typeof createAppPubSub>['pubsub'];

export function createAppPubSub(redisUrl?: string) {
  if (!redisUrl) {
    return { pubsub: createPubSub<{ orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent] }>(), close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const pubsub = createPubSub<{ orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent] }>({
    eventTarget: createRedisEventTarget({ publishClient, subscribeClient }),
  });
  return {
    pubsub,
    close: async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
