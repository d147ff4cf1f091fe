// The cache's own rules: a load racing an invalidation is not kept (a version per key), nothing is answered while
// the feed is down or from before it was lost, and it stays within its bound.
import { describe, expect, it } from 'vitest';
import { InvalidatedCache, type FeedState } from '../../src/lib/invalidated-cache.ts';

class Feed implements FeedState {
  live = true;
  epoch = 1;
  lose() {
    this.live = false;
    this.epoch++;
  }
  listen() {
    this.live = true;
    this.epoch++;
  }
}

/** A load the test finishes when it chooses, counting how many times the cache called it. */
function loader<V>() {
  const pending: ((v: V) => void)[] = [];
  let calls = 0;
  return {
    load: () => {
      calls++;
      return new Promise<V>((resolve) => pending.push(resolve));
    },
    finish: (v: V) => pending.shift()!(v),
    get calls() {
      return calls;
    },
  };
}

const cacheOf = (feed: FeedState, max = 100) => new InvalidatedCache<{ v: number }>(feed, { max, ttlMs: 60_000 });

describe('InvalidatedCache', () => {
  it('answers from memory after the first load', async () => {
    const cache = cacheOf(new Feed());
    let calls = 0;
    const load = async () => ({ v: ++calls });
    expect(await cache.get('a', load)).toEqual({ v: 1 });
    expect(await cache.get('a', load)).toEqual({ v: 1 });
    expect(calls).toBe(1);
  });

  it('does not keep a load that an invalidation of its key overtook, and keeps the next one', async () => {
    const cache = cacheOf(new Feed());
    const l = loader<{ v: number }>();
    const racing = cache.get('a', l.load);
    cache.invalidate('a'); // the row changed while the old value was on its way
    l.finish({ v: 1 });
    expect(await racing).toEqual({ v: 1 }); // the caller that asked before the change gets what it read
    const next = cache.get('a', l.load);
    expect(l.calls).toBe(2); // but it was not kept
    l.finish({ v: 2 });
    expect(await next).toEqual({ v: 2 });
    expect(await cache.get('a', l.load)).toEqual({ v: 2 });
    expect(l.calls).toBe(2);
  });

  it('does not keep an overtaken load even when a later load of the same key started before it ended', async () => {
    const cache = cacheOf(new Feed());
    const l = loader<{ v: number }>();
    const first = cache.get('a', l.load);
    cache.invalidate('a');
    const second = cache.get('a', l.load);
    l.finish({ v: 1 });
    await first;
    expect(cache.peek('a')).toBeUndefined();
    l.finish({ v: 2 });
    await second;
    // The second started after the invalidation, yet shares the key's version: conservative, not kept either.
    expect(l.calls).toBe(2);
  });

  it('is not disturbed by an invalidation of another key', async () => {
    const cache = cacheOf(new Feed());
    const l = loader<{ v: number }>();
    const a = cache.get('a', l.load);
    cache.invalidate('b');
    l.finish({ v: 1 });
    await a;
    expect(cache.peek('a')?.value).toEqual({ v: 1 });
  });

  it('reads through while the feed is down, and keeps nothing loaded across a loss', async () => {
    const feed = new Feed();
    const cache = cacheOf(feed);
    let calls = 0;
    const load = async () => ({ v: ++calls });
    await cache.get('a', load);
    feed.lose();
    expect(await cache.get('a', load)).toEqual({ v: 2 });
    expect(await cache.get('a', load)).toEqual({ v: 3 });
    feed.listen();
    // An entry from before the loss is never answered, even if nobody cleared it.
    expect(await cache.get('a', load)).toEqual({ v: 4 });
    expect(await cache.get('a', load)).toEqual({ v: 4 });

    const l = loader<{ v: number }>();
    const racing = cache.get('b', l.load);
    feed.lose();
    feed.listen();
    l.finish({ v: 9 });
    await racing;
    expect(cache.peek('b')).toBeUndefined(); // loaded under the old epoch
  });

  it('forgets everything on clear, including loads under way', async () => {
    const cache = cacheOf(new Feed());
    const l = loader<{ v: number }>();
    await cache.get('a', async () => ({ v: 1 }));
    const racing = cache.get('b', l.load);
    cache.clear();
    l.finish({ v: 2 });
    await racing;
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBeUndefined();
  });

  it('keeps at most its bound, dropping the least recently used', async () => {
    const cache = cacheOf(new Feed(), 2);
    for (const k of ['a', 'b']) await cache.get(k, async () => ({ v: 1 }));
    cache.peek('a');
    await cache.get('c', async () => ({ v: 1 }));
    expect(cache.size).toBe(2);
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBeDefined();
  });

  it('updates a present entry in place of a reload, and nothing when absent', async () => {
    const cache = cacheOf(new Feed());
    await cache.get('a', async () => ({ v: 1 }));
    cache.update('a', (x) => ({ v: x.v + 1 }));
    cache.update('b', () => ({ v: 7 }));
    expect(cache.peek('a')?.value).toEqual({ v: 2 });
    expect(cache.peek('b')).toBeUndefined();
  });
});
