// Subscription events: in memory by default, across server instances over Redis when REDIS_URL is set.
import { createPubSub } from 'graphql-yoga';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import { StartupError } from './startup-errors.ts';

export interface OrgSettingsChangedEvent {
  orgId: string;
}

export type AppPubSub = ReturnType<typeof createAppPubSub>['pubsub'];

/** Connects once, pings, and disconnects: a wrong REDIS_URL fails start-up in seconds instead of retrying forever. */
export async function verifyRedis(redisUrl: string, timeoutMs = 5000): Promise<void> {
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  let cause: Error | undefined; // the socket's own error (ECONNREFUSED…); connect() only says the connection closed
  probe.on('error', (err) => (cause ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    const u = URL.canParse(redisUrl) ? new URL(redisUrl) : null;
    const first = cause ?? (err as Error);
    const reason = (first as { code?: string }).code ?? first.message;
    throw new StartupError(`Cannot reach Redis at ${u ? `${u.hostname}:${u.port || 6379}` : 'REDIS_URL'} (${reason}): check REDIS_URL, or unset it to keep subscription events in memory (one instance only).`);
  } finally {
    probe.disconnect();
  }
}

export function createAppPubSub(redisUrl?: string, onError: (err: Error) => void = () => {}) {
  if (!redisUrl) {
    return { pubsub: createPubSub<{ orgAiSettingsChanged: [orgId: string, event: OrgSettingsChangedEvent] }>(), close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  // ioredis reconnects on its own; without a listener each failed attempt prints an "Unhandled error event".
  publishClient.on('error', onError);
  subscribeClient.on('error', onError);
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
