import { describe, expect, it } from 'vitest';
import { Keyring, DecryptionError } from '../../src/lib/crypto.ts';
import { DomainError } from '../../src/lib/errors.ts';
import { openPersonalKey, sealPersonalKey } from '../../src/domain/key-vault.ts';
import { asVendor, checkKeyFormat, keyHint } from '../../src/domain/vendors.ts';

const ring = Keyring.parse(Keyring.generateEntry('k1'));
const ORG = '11111111-1111-4111-8111-111111111111';
const USER = '22222222-2222-4222-8222-222222222222';
const OTHER = '33333333-3333-4333-8333-333333333333';
const ANTHROPIC_KEY = 'sk-ant-api03-Xy7PqR2sT9uV4wZ1aB3cD5eF';
const OPENAI_KEY = 'sk-proj-Ab12Cd34Ef56Gh78Ij90KlMn';

function refusal(fn: () => void): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('checkKeyFormat', () => {
  it('accepts keys shaped like each vendor’s', () => {
    expect(() => checkKeyFormat('ANTHROPIC', ANTHROPIC_KEY)).not.toThrow();
    expect(() => checkKeyFormat('OPENAI', OPENAI_KEY)).not.toThrow();
    expect(() => checkKeyFormat('OPENAI', 'sk-Ab12Cd34Ef56Gh78Ij90KlMn')).not.toThrow();
  });

  it('refuses another vendor’s key, saying whose it is and where to save it', () => {
    const a = refusal(() => checkKeyFormat('ANTHROPIC', OPENAI_KEY));
    expect(a.code).toBe('INVALID_API_KEY_FORMAT');
    expect(a.message).toBe(
      'That is an OpenAI API key, not an Anthropic one: save it under OpenAI, or paste your Anthropic key here.',
    );
    const o = refusal(() => checkKeyFormat('OPENAI', ANTHROPIC_KEY));
    expect(o.code).toBe('INVALID_API_KEY_FORMAT');
    expect(o.message).toBe(
      'That is an Anthropic API key, not an OpenAI one: save it under Anthropic, or paste your OpenAI key here.',
    );
  });

  it('refuses whitespace anywhere, including a pasted trailing newline', () => {
    for (const bad of [
      `${ANTHROPIC_KEY}\n`,
      ` ${ANTHROPIC_KEY}`,
      ANTHROPIC_KEY.replace('Xy7', 'Xy 7'),
      ANTHROPIC_KEY.replace('Xy7', 'Xy\t7'),
    ]) {
      expect(refusal(() => checkKeyFormat('ANTHROPIC', bad)).code).toBe('INVALID_API_KEY_FORMAT');
    }
  });

  it('refuses keys that are too short, too long or carry other characters', () => {
    for (const bad of ['sk-ant-short', `sk-ant-${'a'.repeat(241)}`, 'sk-ant-abcdefghijklmnop$qrstu', 'sk-ant-', '']) {
      expect(refusal(() => checkKeyFormat('ANTHROPIC', bad)).code).toBe('INVALID_API_KEY_FORMAT');
    }
    expect(refusal(() => checkKeyFormat('OPENAI', `sk-${'a'.repeat(241)}`)).code).toBe('INVALID_API_KEY_FORMAT');
  });

  it('never echoes the refused key', () => {
    for (const [vendor, bad] of [
      ['ANTHROPIC', OPENAI_KEY],
      ['OPENAI', ANTHROPIC_KEY],
      ['ANTHROPIC', `${ANTHROPIC_KEY} `],
    ] as const) {
      const { message } = refusal(() => checkKeyFormat(vendor, bad));
      expect(message).not.toContain(bad.trim());
      expect(message).not.toContain(bad.trim().slice(-4));
    }
  });
});

describe('keyHint', () => {
  it('shows the prefix and the last four characters only', () => {
    expect(keyHint(ANTHROPIC_KEY)).toBe('sk-ant-…D5eF');
    expect(keyHint(OPENAI_KEY)).toBe('sk-proj-…KlMn');
    expect(keyHint('sk-Ab12Cd34Ef56Gh78Ij90KlMn')).toBe('sk-…KlMn');
  });
});

describe('personal key sealing', () => {
  it('opens only on the row it was sealed for: same org, user and provider', () => {
    const sealed = sealPersonalKey(ring, ORG, USER, 'ANTHROPIC', ANTHROPIC_KEY);
    const row = { orgId: ORG, userId: USER, provider: 'ANTHROPIC' as const, ...sealed };
    expect(openPersonalKey(ring, row)).toBe(ANTHROPIC_KEY);
    expect(() => openPersonalKey(ring, { ...row, userId: OTHER })).toThrow(DecryptionError);
    expect(() => openPersonalKey(ring, { ...row, orgId: OTHER })).toThrow(DecryptionError);
    expect(() => openPersonalKey(ring, { ...row, provider: 'OPENAI' })).toThrow(DecryptionError);
  });

  it('stores only ciphertext: the key’s bytes do not appear in what is stored', () => {
    const sealed = sealPersonalKey(ring, ORG, USER, 'OPENAI', OPENAI_KEY);
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from(OPENAI_KEY))).toBe(false);
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from(OPENAI_KEY.slice(8, 20)))).toBe(false);
    expect(sealed.encKeyId).toBe('k1');
  });
});

describe('asVendor', () => {
  it('refuses Intervy Credits, which takes no personal key', () => {
    expect(refusal(() => asVendor('INTERVY_CREDITS')).code).toBe('BAD_USER_INPUT');
    expect(asVendor('OPENAI')).toBe('OPENAI');
  });
});
