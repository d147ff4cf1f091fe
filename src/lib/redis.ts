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
  /**
   * Listens on `channel`, now and after every reconnection. The link counts as connected only once every channel's
   * SUBSCRIBE has been acknowledged, so "connected" means events flow both ways.
   */
  listen(channel: string, onMessage: (message: string) => void): void;
  state(): RedisState;
  /** Resolves once the link is in `state` (test hook and shutdown aid). */
  whenState(state: RedisState): Promise<void>;
  close(): Promise<void>;
}

// Reconnect quickly and keep trying forever: an outage ends when Redis is back, not when we give up.
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1000);

export function connectRedis(url: string, log: Logger): RedisLink {
  // Commands issued in one turn of the event loop (every completion's slots and their releases) leave in one write,
  // not one syscall each (ioredis's auto-pipelining; order per connection is kept). Through the whole stack, three
  // alternated pairs (publishes still pipelined then): 5.39–5.85 against 5.68–6.05 ms of server CPU a completion,
  // 180–194 against 170–185/s, with no change in the time to first text (issue 10, bench/FINDINGS.md › Round 6).
  const commands = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    enableAutoPipelining: true,
    // A publish leaves at once: the other instances start delivering an event while this one still delivers it (in a
    // pipeline it waited for the end of the turn, behind this instance's own delivery to its subscribers).
    autoPipeliningIgnoredCommands: ['publish'],
  });
  // Subscriptions are made again by resubscribe() at each 'ready', so that we know when they are acknowledged.
  const subscriber = new Redis(url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy,
    autoResubscribe: false,
  });
  const listeners = new Map<string, (message: string) => void>();
  let subscribed = false;
  const changes = new EventEmitter();
  let current: RedisState = 'unreachable';
  let everConnected = false;
  let closing = false;

  const update = () => {
    if (closing) return;
    if (subscriber.status !== 'ready') subscribed = false;
    const next: RedisState = commands.status === 'ready' && subscribed ? 'connected' : 'unreachable';
    if (next === current) return;
    current = next;
    if (next === 'connected') {
      log[everConnected ? 'warn' : 'info'](
        everConnected ? 'redis reachable again: events cross instances again' : 'redis connected',
      );
      everConnected = true;
    } else {
      log.warn('redis unreachable: events reach this instance only, and rate limits fall back as configured');
    }
    changes.emit(next);
  };
  const resubscribe = async () => {
    try {
      if (listeners.size) await subscriber.subscribe(...listeners.keys());
      subscribed = true;
    } catch (err) {
      log.debug('redis subscribe failed; retried at the next reconnection', { error: err });
    }
    update();
  };
  subscriber.on('ready', () => void resubscribe());
  subscriber.on('message', (channel: string, message: string) => listeners.get(channel)?.(message));
  for (const client of [commands, subscriber]) {
    for (const event of ['ready', 'close', 'end', 'reconnecting']) client.on(event, update);
    // Without a listener ioredis prints every failed reconnection; the state change above is logged instead.
    client.on('error', () => update());
  }

  return {
    commands,
    listen(channel, onMessage) {
      listeners.set(channel, onMessage);
      if (subscriber.status === 'ready') {
        subscribed = false;
        void resubscribe();
      }
    },
    state: () => current,
    whenState: (state) => (current === state ? Promise.resolve() : new Promise((r) => changes.once(state, () => r()))),
    async close() {
      closing = true;
      changes.removeAllListeners();
      subscriber.disconnect();
      // Commands of this turn wait in the auto-pipeline (a slot's release, say) and QUIT does not: a PING joins them
      // and is answered after them. QUIT then closes; both fail at once if Redis is unreachable.
      await commands.ping().catch(() => undefined);
      await commands.quit().catch(() => commands.disconnect());
    },
  };
}
