// A verified token's claims are kept in memory, but never past the token's exp or the allowed lifetime: from then
// on the token is verified again (and refused by then).
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { verifiedClaims } from '../../src/context.ts';
import type { ReadCaches, TokenClaims } from '../../src/domain/read-caches.ts';
import { signUserToken } from '../../src/lib/tokens.ts';
import type { Config } from '../../src/config.ts';

const USER = '7c0d3a5e-55a1-4d4f-9a59-1f3c1f1f0a01';

describe('verifiedClaims', () => {
  const services = () => ({
    caches: { tokens: new LRUCache<string, TokenClaims>({ max: 10 }) } as unknown as ReadCaches,
    config: { tokenMaxTtlSeconds: 12 * 3600 } as Config,
  });
  const secret = randomBytes(32);
  // Another secret: a token verified again under it is refused, so an answer with claims came from memory.
  const other = randomBytes(32);

  it('verifies a token once, then answers from memory until the token expires, and verifies it again after', async () => {
    const s = services();
    const now = Date.now();
    const token = await signUserToken(secret, USER, 3600, Math.floor(now / 1000));
    expect(await verifiedClaims(s, secret, token, now)).toMatchObject({ userId: USER });
    expect(await verifiedClaims(s, other, token, now + 3599_000)).toMatchObject({ userId: USER });
    expect(await verifiedClaims(s, other, token, now + 3600_000)).toEqual({ reason: 'invalid' });
  });

  it('verifies again a token older than the allowed lifetime, even before its exp', async () => {
    const s = { ...services(), config: { tokenMaxTtlSeconds: 600 } as Config };
    const now = Date.now();
    const token = await signUserToken(secret, USER, 600, Math.floor(now / 1000));
    await verifiedClaims(s, secret, token, now);
    s.caches.tokens.set(token, { ...s.caches.tokens.get(token)!, expiresAt: Math.floor(now / 1000) + 3600 });
    expect(await verifiedClaims(s, other, token, now + 599_000)).toMatchObject({ userId: USER });
    expect(await verifiedClaims(s, other, token, now + 601_000)).toEqual({ reason: 'invalid' });
  });

  it('keeps no refused token', async () => {
    const s = services();
    const token = await signUserToken(other, USER, 3600);
    expect(await verifiedClaims(s, secret, token)).toEqual({ reason: 'invalid' });
    expect(s.caches.tokens.size).toBe(0);
  });
});
