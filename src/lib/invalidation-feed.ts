// One dedicated PostgreSQL connection LISTENing on `ivy_cache`, where the triggers of migration
// 20261127170000_cache_invalidation notify the key of every cached row that changed, at commit, whoever wrote it:
// this instance, another one, an operator command or SQL typed by hand. Every instance sharing the database hears
// it, with or without Redis.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { FeedState } from './invalidated-cache.ts';
import type { Logger } from './logger.ts';
import { pgConfigFromUrl } from './pg-url.ts';

export const CACHE_CHANNEL = 'ivy_cache';
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

export interface FeedEvents {
  /** A notification was applied to this process's caches (its payload, e.g. "org:<uuid>"). */
  applied: [key: string];
  /** LISTEN is acknowledged: the caches may answer again (after a loss, starting empty). */
  listening: [];
  /** The connection was lost: every cache was cleared and reads go to the database until `listening`. */
  lost: [];
}

export class InvalidationFeed implements FeedState {
  readonly events = new EventEmitter<FeedEvents>();
  private client: pg.Client | null = null;
  private connected = false;
  private currentEpoch = 0;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The listener's backend pid while connected (tests terminate it to prove a lost listener is safe). */
  pid: number | null = null;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly apply: (key: string) => void,
    private readonly clearAll: () => void,
  ) {}

  get live(): boolean {
    return this.connected;
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  /** Connects and LISTENs; resolves once the first attempt ended (caches stay bypassed if it failed, then retry). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.markLost();
    await this.client?.end().catch(() => {});
    this.client = null;
  }

  /** Resolves when this instance has applied the invalidation of `key` (register before the write). */
  whenApplied(key: string): Promise<void> {
    return new Promise((resolve) => {
      const on = (applied: string) => {
        if (applied !== key) return;
        this.events.off('applied', on);
        resolve();
      };
      this.events.on('applied', on);
    });
  }

  /** Resolves when the listener is (again) LISTENing. */
  whenListening(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((resolve) => this.events.once('listening', resolve));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      ...pgConfigFromUrl(this.url),
      application_name: 'ivy-cache-listener',
      // A peer that vanished without a FIN is noticed by TCP keepalive rather than never (the TTL bounds the rest).
      keepAlive: true,
    });
    this.client = client;
    client.on('notification', (msg) => {
      if (msg.channel !== CACHE_CHANNEL || !msg.payload) return;
      this.apply(msg.payload);
      this.events.emit('applied', msg.payload);
    });
    const onGone = (err?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      if (err && !this.stopped) this.log.warn('cache listener lost; reading through until it is back', { err });
      client.end().catch(() => {});
      this.markLost();
      this.scheduleRetry();
    };
    client.on('error', onGone);
    client.on('end', () => onGone());
    try {
      await client.connect();
      await client.query(`LISTEN ${CACHE_CHANNEL}`);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (this.client !== client || this.stopped) return;
      this.pid = rows[0]?.pid ?? null;
      // Everything loaded before this point may have missed an invalidation: start from empty, under a new epoch.
      this.clearAll();
      this.currentEpoch++;
      this.connected = true;
      this.retryMs = RETRY_MIN_MS;
      this.events.emit('listening');
    } catch (err) {
      onGone(err as Error);
    }
  }

  private markLost(): void {
    const was = this.connected;
    this.connected = false;
    this.pid = null;
    this.currentEpoch++;
    this.clearAll();
    if (was) this.events.emit('lost');
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
