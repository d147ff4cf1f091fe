// The process's Redis connections (REDIS_URL), built so that Redis going away never takes the process with it:
// commands fail fast while it is unreachable (callers catch and fall back), reconnection is automatic, and the
// link's state is watched for /healthz and logged once per change, not once per failed retry.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

export type RedisState = 'connected' | 'unreachable';

export interface RedisLink {
  /** For commands (publish, rate limits). Fails at once while Redis is unreachable: nothing queues up. */
  commands: Redis;
  /** In subscriber mode; its subscriptions are restored by ioredis after each reconnection. */
  subscriber: Redis;
  state(): RedisState;
  /** Resolves once the link is in `state` (test hook and shutdown aid). */
  whenState(state: RedisState): Promise<void>;
  close(): Promise<void>;
}

// Reconnect quickly and keep trying forever: an outage ends when Redis is back, not when we give up.
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1000);

export function connectRedis(url: string, log: Logger): RedisLink {
  const commands = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy });
  // The subscriber's own SUBSCRIBE may wait in the offline queue for as long as Redis is away.
  const subscriber = new Redis(url, { maxRetriesPerRequest: null, retryStrategy, autoResubscribe: true });
  const changes = new EventEmitter();
  let current: RedisState = 'unreachable';
  let everConnected = false;
  let closing = false;

  const update = () => {
    if (closing) return;
    const next: RedisState = commands.status === 'ready' && subscriber.status === 'ready' ? 'connected' : 'unreachable';
    if (next === current) return;
    current = next;
    if (next === 'connected') {
      log[everConnected ? 'warn' : 'info'](everConnected ? 'redis reachable again: events cross instances again' : 'redis connected');
      everConnected = true;
    } else {
      log.warn('redis unreachable: events reach this instance only, and rate limits fall back as configured');
    }
    changes.emit(next);
  };
  for (const client of [commands, subscriber]) {
    for (const event of ['ready', 'close', 'end', 'reconnecting']) client.on(event, update);
    // Without a listener ioredis prints every failed reconnection; the state change above is logged instead.
    client.on('error', () => update());
  }

  return {
    commands,
    subscriber,
    state: () => current,
    whenState: (state) => (current === state ? Promise.resolve() : new Promise((r) => changes.once(state, () => r()))),
    async close() {
      closing = true;
      changes.removeAllListeners();
      subscriber.disconnect();
      // QUIT lets publishes already written go out first; it fails at once if Redis is unreachable.
      await commands.quit().catch(() => commands.disconnect());
    },
  };
}
