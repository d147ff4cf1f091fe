import { describe, expect, it } from 'vitest';
import { whileAllowed } from '../../src/lib/subscriptions.ts';

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
