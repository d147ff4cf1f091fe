// An in-memory copy of rows another process may change, kept only while their invalidations are known to reach it.
import { LRUCache } from 'lru-cache';

/** Whether invalidations are reaching this process, and since when (InvalidationFeed; a stand-in in unit tests). */
export interface FeedState {
  /** True while the listener is connected and LISTENing: only then may a cache answer. */
  readonly live: boolean;
  /** Changes each time the listener is lost or comes back: an entry loaded under another epoch is never used. */
  readonly epoch: number;
}

interface Entry<V> {
  value: V;
  epoch: number;
}

/** Loads that are running for one key, and how many invalidations of it arrived since the first of them started. */
interface Loading {
  version: number;
  loads: number;
}

/**
 * A bounded (LRU) cache with a TTL as a backstop, that answers only while its feed is live and drops a key when the
 * feed says its row changed. A load racing an invalidation is not kept: each key's version moves on invalidation,
 * and a load's result is stored only if the version it started under is still the key's (and the feed's epoch too).
 * Values are shared between callers: never mutate one.
 */
export class InvalidatedCache<V extends object | null> {
  private readonly entries: LRUCache<string, Entry<V>>;
  private readonly loading = new Map<string, Loading>();

  constructor(
    private readonly feed: FeedState,
    options: { max: number; ttlMs: number },
  ) {
    this.entries = new LRUCache({ max: options.max, ttl: options.ttlMs });
  }

  /**
   * The cached value of `key`, or `load()`'s (stored when nothing invalidated the key while it ran). A hit is
   * answered as it is, not in a promise: every authenticated request reads two or three of these before it runs
   * (issue 10), and a caller that awaits it reads it the same.
   */
  get(key: string, load: () => Promise<V>): V | Promise<V> {
    const hit = this.peek(key);
    return hit ? hit.value : this.load(key, load);
  }

  private async load(key: string, load: () => Promise<V>): Promise<V> {
    if (!this.feed.live) return load(); // read through until invalidations reach us again
    const epoch = this.feed.epoch;
    const loading = this.loading.get(key) ?? { version: 0, loads: 0 };
    this.loading.set(key, loading);
    loading.loads++;
    const version = loading.version;
    try {
      const value = await load();
      if (this.feed.live && this.feed.epoch === epoch && loading.version === version)
        this.entries.set(key, { value, epoch });
      return value;
    } finally {
      if (--loading.loads === 0) this.loading.delete(key);
    }
  }

  /** The entry of `key` if the cache may answer with it now. */
  peek(key: string): Entry<V> | undefined {
    if (!this.feed.live) return undefined;
    const hit = this.entries.get(key);
    return hit && hit.epoch === this.feed.epoch ? hit : undefined;
  }

  /** Replaces a present entry with `change(value)` (a write this process made and knows the result of). */
  update(key: string, change: (value: V) => V): void {
    const hit = this.peek(key);
    if (hit) this.entries.set(key, { value: change(hit.value), epoch: hit.epoch });
  }

  /** The row behind `key` changed: forget it, and keep no load that was already running for it. */
  invalidate(key: string): void {
    this.entries.delete(key);
    const loading = this.loading.get(key);
    if (loading) loading.version++;
  }

  /** Every key at once (the feed was lost: invalidations may have been missed). */
  clear(): void {
    this.entries.clear();
    for (const loading of this.loading.values()) loading.version++;
  }

  get size(): number {
    return this.entries.size;
  }
}
