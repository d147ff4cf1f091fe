import { describe, expect, it } from 'vitest';
import { checkKeyFormat, keyHint, VENDORS, vendorName, type Vendor } from '../../src/domain/vendors.ts';
import { DomainError } from '../../src/lib/errors.ts';

const refusal = (fn: () => void): DomainError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
};

// One well-formed key per vendor, and the shapes that must be refused for it.
// `other`: well-formed keys of the other vendor, refused as such.
const SHAPES: Record<
  Vendor,
  { good: string[]; bad: string[]; other: string[]; prefix: string; name: string; dashboard: string }
> = {
  ANTHROPIC: {
    good: [`sk-ant-api03-${'a'.repeat(16)}`, `sk-ant-${'Z9_-'.repeat(4)}`],
    bad: [`sk-ant-${'a'.repeat(15)}`, `sk-ant-${'a'.repeat(241)}`, `ant-${'a'.repeat(20)}`],
    other: [`sk-${'a'.repeat(20)}`, `sk-proj-${'a'.repeat(20)}`],
    prefix: 'sk-ant-',
    name: 'Anthropic',
    dashboard: 'https://console.anthropic.com/settings/usage',
  },
  OPENAI: {
    good: [`sk-${'a'.repeat(16)}`, `sk-proj-${'b'.repeat(20)}`],
    bad: [`sk-${'a'.repeat(15)}`, `pk-${'a'.repeat(20)}`, `sk-${'a'.repeat(20)}!`],
    other: [`sk-ant-${'a'.repeat(20)}`],
    prefix: 'sk-',
    name: 'OpenAI',
    dashboard: 'https://platform.openai.com/usage',
  },
};

describe('vendor facts', () => {
  for (const [vendor, shape] of Object.entries(SHAPES) as [Vendor, (typeof SHAPES)[Vendor]][]) {
    it(`accepts ${shape.name} keys of the ${shape.name} shape only`, () => {
      for (const key of shape.good) expect(() => checkKeyFormat(vendor, key), key).not.toThrow();
      for (const key of shape.bad) {
        const { code, message } = refusal(() => checkKeyFormat(vendor, key));
        expect(code, key).toBe('INVALID_API_KEY_FORMAT');
        expect(message).toContain(`${shape.name} keys start with "${shape.prefix}"`);
        expect(message).not.toContain(key);
      }
      for (const key of shape.other) {
        const { code, message } = refusal(() => checkKeyFormat(vendor, key));
        expect(code, key).toBe('INVALID_API_KEY_FORMAT');
        expect(message).toMatch(new RegExp(`^That is an \\w+ API key, not an ${shape.name} one`));
        expect(message).not.toContain(key);
      }
    });

    it(`names ${shape.name} and points at its own usage dashboard`, () => {
      expect(vendorName(vendor)).toBe(shape.name);
      expect(VENDORS[vendor].keyPrefix).toBe(shape.prefix);
      expect(VENDORS[vendor].dashboard.url).toBe(shape.dashboard);
      expect(keyHint(shape.good[0])).toMatch(new RegExp(`^${shape.prefix}`));
    });
  }

  it('covers exactly the two BYOK vendors', () => {
    expect(Object.keys(VENDORS).sort()).toEqual(['ANTHROPIC', 'OPENAI']);
  });
});
