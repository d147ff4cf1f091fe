import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BYOK_MODELS, ModelCatalogue } from '../../src/domain/models.ts';
import { daysRemaining, effectiveProvider, graceWindowOpen, mayChooseProvider } from '../../src/domain/grace-window.ts';
import { planAllowsByok } from '../../src/domain/plans.ts';
import { DAY_MS } from '../../src/lib/clock.ts';

const NOW = new Date('2026-11-26T12:00:00.000Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

describe('effectiveProvider', () => {
  it('keeps Intervy Credits on every plan', () => {
    for (const plan of ['FREE', 'GROWTH', 'ENTERPRISE'] as const) {
      expect(effectiveProvider({ plan, aiProvider: 'INTERVY_CREDITS', graceWindowEndsAt: null }, NOW)).toBe(
        'INTERVY_CREDITS',
      );
    }
  });

  it('uses the saved BYOK provider on Growth and Enterprise, and credits on Free', () => {
    for (const aiProvider of ['ANTHROPIC', 'OPENAI'] as const) {
      expect(effectiveProvider({ plan: 'GROWTH', aiProvider, graceWindowEndsAt: null }, NOW)).toBe(aiProvider);
      expect(effectiveProvider({ plan: 'ENTERPRISE', aiProvider, graceWindowEndsAt: null }, NOW)).toBe(aiProvider);
      expect(effectiveProvider({ plan: 'FREE', aiProvider, graceWindowEndsAt: null }, NOW)).toBe('INTERVY_CREDITS');
    }
  });

  it('honours an open grace window on Free, up to (not including) its end', () => {
    const org = { plan: 'FREE' as const, aiProvider: 'ANTHROPIC' as const, graceWindowEndsAt: later(DAY_MS) };
    expect(effectiveProvider(org, NOW)).toBe('ANTHROPIC');
    expect(effectiveProvider(org, later(DAY_MS - 1))).toBe('ANTHROPIC');
    expect(effectiveProvider(org, later(DAY_MS))).toBe('INTERVY_CREDITS');
    expect(graceWindowOpen(org, later(DAY_MS))).toBe(false);
  });

  it('allows BYOK by plan only on Growth and Enterprise', () => {
    expect([planAllowsByok('FREE'), planAllowsByok('GROWTH'), planAllowsByok('ENTERPRISE')]).toEqual([
      false,
      true,
      true,
    ]);
  });

  it('counts grace days rounded up, never below zero', () => {
    expect(daysRemaining(later(DAY_MS + 1), NOW)).toBe(2);
    expect(daysRemaining(later(1), NOW)).toBe(1);
    expect(daysRemaining(later(-DAY_MS), NOW)).toBe(0);
  });
});

describe('the model catalogue', () => {
  const catalogue = new ModelCatalogue('claude-haiku-5-5');

  it('offers exactly the help-center models, in its order, with its descriptions', () => {
    expect(BYOK_MODELS.map((m) => [m.provider, m.label, m.description])).toEqual([
      ['ANTHROPIC', 'Haiku', 'Fastest and cheapest.'],
      ['ANTHROPIC', 'Sonnet', 'Balanced speed and capability.'],
      ['ANTHROPIC', 'Opus', 'Highest reasoning capability.'],
      ['OPENAI', 'GPT-5 Nano', 'Fastest and cheapest.'],
      ['OPENAI', 'GPT-5 Mini', 'Fast and affordable.'],
      ['OPENAI', 'GPT-5', 'Balanced.'],
      ['OPENAI', 'o4-mini', 'Reasoning, affordable.'],
      ['OPENAI', 'o3', 'Reasoning, most capable.'],
    ]);
  });

  it('recommends exactly one model per provider: Sonnet, GPT-5 and the house model', () => {
    for (const provider of ['INTERVY_CREDITS', 'ANTHROPIC', 'OPENAI'] as const) {
      expect(catalogue.forProvider(provider).filter((m) => m.recommended)).toHaveLength(1);
    }
    expect(catalogue.recommended('ANTHROPIC').id).toBe('claude-sonnet-5-5');
    expect(catalogue.recommended('OPENAI').id).toBe('gpt-5');
    expect(catalogue.recommended('INTERVY_CREDITS')).toBe(catalogue.house);
  });

  it('uses model ids that the official SDKs list as current models', () => {
    const sdkFile = (file: string) => fs.readFileSync(new URL(`../../node_modules/${file}`, import.meta.url), 'utf8');
    const anthropic = /export type Model = ([^;]+);/.exec(
      sdkFile('@anthropic-ai/sdk/resources/messages/messages.d.ts'),
    )![1];
    const openai = /export type ChatModel = ([^;]+);/.exec(sdkFile('openai/resources/shared.d.ts'))![1];
    const deprecated = sdkFile('@anthropic-ai/sdk/internal/data/deprecated-models.js');
    for (const m of BYOK_MODELS) {
      expect(m.provider === 'ANTHROPIC' ? anthropic : openai, m.id).toContain(`'${m.id}'`);
      expect(deprecated, m.id).not.toContain(`'${m.id}'`);
      expect(m.id).not.toMatch(/preview/);
    }
  });

  it('serves Intervy Credits with the configured house model and refuses an unknown one', () => {
    expect(catalogue.house).toMatchObject({ id: 'claude-haiku-5-5', provider: 'INTERVY_CREDITS', vendor: 'ANTHROPIC' });
    expect(new ModelCatalogue('gpt-5-mini').house).toMatchObject({ id: 'gpt-5-mini', vendor: 'OPENAI' });
    expect(() => new ModelCatalogue('gpt-4')).toThrow(/INTERVY_HOUSE_MODEL/);
  });

  it('resolves a saved model only within its provider, falling back to the recommended one', () => {
    expect(catalogue.resolve('OPENAI', 'o3').id).toBe('o3');
    expect(catalogue.resolve('OPENAI', 'claude-opus-5-5').id).toBe('gpt-5');
    expect(catalogue.resolve('ANTHROPIC', null).id).toBe('claude-sonnet-5-5');
    expect(catalogue.find('ANTHROPIC', 'gpt-5')).toBeUndefined();
  });
});

describe('mayChooseProvider', () => {
  const free = { plan: 'FREE' as const, aiProvider: 'ANTHROPIC' as const, graceWindowEndsAt: later(DAY_MS) };

  it('always allows Intervy Credits, and any provider on Growth and above', () => {
    expect(mayChooseProvider({ ...free, graceWindowEndsAt: null }, 'INTERVY_CREDITS', NOW)).toBe(true);
    for (const plan of ['GROWTH', 'ENTERPRISE'] as const) {
      expect(mayChooseProvider({ ...free, plan, graceWindowEndsAt: null }, 'OPENAI', NOW)).toBe(true);
    }
  });

  it('below Growth allows only the legacy provider, and only while the window is open', () => {
    expect(mayChooseProvider(free, 'ANTHROPIC', NOW)).toBe(true);
    expect(mayChooseProvider(free, 'OPENAI', NOW)).toBe(false);
    expect(mayChooseProvider(free, 'ANTHROPIC', later(DAY_MS))).toBe(false);
    expect(mayChooseProvider({ ...free, graceWindowEndsAt: null }, 'ANTHROPIC', NOW)).toBe(false);
  });
});
