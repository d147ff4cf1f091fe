import { describe, expect, it } from 'vitest';
import { whileAllowed } from '../../src/lib/subscriptions.ts';
import { LocalRoutes } from '../../src/lib/local-routes.ts';

function source() {
  const state = { released: false };
  async function* gen() {
    try {
      for (let i = 1; ; i++) yield i;
    } finally {
      state.released = true;
    }
  }
  return { state, it: gen() };
}

describe('whileAllowed', () => {
  it('passes events through while access holds', async () => {
    const { it: src } = source();
    const s = whileAllowed(src, async () => true, 'revoked');
    expect([(await s.next()).value, (await s.next()).value]).toEqual([1, 2]);
  });

  it('emits the revocation once, ends the stream and releases the source when access is lost', async () => {
    const { state, it: src } = source();
    let allowed = true;
    const s = whileAllowed(src, async () => allowed, 'revoked');
    expect((await s.next()).value).toBe(1);
    allowed = false;
    expect(await s.next()).toEqual({ done: false, value: 'revoked' });
    expect(state.released).toBe(true);
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  it('releases the source when the client unsubscribes', async () => {
    const { state, it: src } = source();
    const s = whileAllowed(src, async () => true, 'revoked');
    await s.next();
    expect(await s.return!()).toEqual({ done: true, value: undefined });
    expect(state.released).toBe(true);
    expect((await s.next()).done).toBe(true);
  });
});

describe('LocalRoutes', () => {
  it('hands every live subscriber of a route each event, in order, and nothing of another route', async () => {
    const counts: Record<string, number> = {};
    const routes = new LocalRoutes((id, delta) => (counts[id] = (counts[id] ?? 0) + delta));
    const a = routes.subscribe<number>('t', 'org-1');
    const b = routes.subscribe<number>('t', 'org-1');
    const other = routes.subscribe<number>('t', 'org-2');
    const firstA = a.next();
    const firstB = b.next();
    const firstOther = other.next();
    expect(counts).toEqual({ 'org-1': 2, 'org-2': 1 });
    routes.publish('t', 'org-1', 1);
    routes.publish('t', 'org-1', 2);
    expect([(await firstA).value, (await a.next()).value]).toEqual([1, 2]);
    expect([(await firstB).value, (await b.next()).value]).toEqual([1, 2]);
    routes.publish('t', 'org-2', 3);
    expect((await firstOther).value).toBe(3);
  });

  it('forgets a subscriber that stopped: it hears nothing more, its pending next() ends, and it is no longer counted', async () => {
    const counts: Record<string, number> = {};
    const routes = new LocalRoutes((id, delta) => (counts[id] = (counts[id] ?? 0) + delta));
    const s = routes.subscribe<number>('t', 'org-1');
    const pending = s.next();
    await s.return!();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(counts).toEqual({ 'org-1': 0 });
    routes.publish('t', 'org-1', 1);
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });
});
