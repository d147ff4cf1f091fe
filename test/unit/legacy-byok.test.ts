import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptLegacyKey, encryptLegacyKey, LegacyKeyUnreadable } from '../../src/domain/legacy-byok.ts';
import { describeLegacyMove } from '../../src/domain/legacy-byok-move.ts';

const KEY = randomBytes(32);
const API_KEY = 'sk-ant-api03-unit-Aa1Bb2Cc3Dd4Ee5';

describe('the legacy key encryption (v0)', () => {
  it('round-trips a key as "v0:<iv>:<ciphertext>" with a fresh IV each time', () => {
    const a = encryptLegacyKey(KEY, API_KEY);
    const b = encryptLegacyKey(KEY, API_KEY);
    expect(a).toMatch(/^v0:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('Aa1Bb2');
    expect(decryptLegacyKey(KEY, a)).toBe(API_KEY);
    expect(decryptLegacyKey(KEY, b)).toBe(API_KEY);
  });

  it('refuses another version, a malformed value or a truncated ciphertext as unreadable', () => {
    const good = encryptLegacyKey(KEY, API_KEY);
    const [, iv, ct] = good.split(':');
    for (const bad of [
      '',
      'v1:' + iv + ':' + ct,
      `v0:${iv}`,
      `v0:${iv}:${ct}:extra`,
      'v0:AAAA:BBBB',
      `v0:${iv}:${ct.slice(0, 10)}`,
    ]) {
      expect(() => decryptLegacyKey(KEY, bad), bad).toThrow(LegacyKeyUnreadable);
    }
  });

  it('never returns the key under the wrong master key', () => {
    for (let i = 0; i < 50; i++) {
      const stored = encryptLegacyKey(randomBytes(32), API_KEY);
      let clear: string | undefined;
      try {
        clear = decryptLegacyKey(KEY, stored);
      } catch (err) {
        expect(err).toBeInstanceOf(LegacyKeyUnreadable);
      }
      expect(clear).not.toBe(API_KEY);
    }
  });
});

describe('the move report', () => {
  const base = {
    orgId: 'o',
    slug: 'initech',
    provider: 'ANTHROPIC' as const,
    model: 'claude-sonnet-5-5',
    adminEmail: 'admin@initech.test',
  };

  it('says in one line what was moved, kept and until when', () => {
    expect(
      describeLegacyMove({
        ...base,
        outcome: 'moved',
        orgSetting: 'adopted',
        personalKey: 'created',
        graceWindowEndsAt: new Date('2026-12-26T12:00:00.000Z'),
      }),
    ).toBe(
      'initech: moved; org setting ANTHROPIC claude-sonnet-5-5; personal Anthropic key for admin@initech.test; grace window ends 2026-12-26T12:00:00.000Z',
    );
    expect(
      describeLegacyMove({
        ...base,
        outcome: 'would-move',
        orgSetting: 'kept',
        personalKey: 'kept',
        graceWindowEndsAt: null,
      }),
    ).toBe(
      'initech: would move; org setting kept (the org already chose its own provider); personal key kept (admin@initech.test already saved one); no grace window',
    );
    expect(describeLegacyMove({ orgId: 'o', slug: 'umbrella', outcome: 'skipped', reason: 'why' })).toBe(
      'umbrella: skipped: why',
    );
  });
});
