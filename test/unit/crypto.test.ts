import { describe, expect, it } from 'vitest';
import { DecryptionError, Keyring, open, seal } from '../../src/lib/crypto.ts';

const ringA = Keyring.parse(Keyring.generateEntry('a'));
const ringAB = Keyring.parse(
  `${ringA.keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',')},${Keyring.generateEntry('b')}`,
);
const AAD = 'ivy/test|org=1|user=2|provider=ANTHROPIC';

describe('the AES-256-GCM envelope', () => {
  it('round-trips a secret and never stores its bytes in the ciphertext', () => {
    const sealed = seal(ringA, 'sk-ant-secret-value-0123456789', AAD);
    expect(sealed.keyId).toBe('a');
    expect(sealed.ciphertext.includes(Buffer.from('secret-value'))).toBe(false);
    expect(open(ringA, sealed, AAD)).toBe('sk-ant-secret-value-0123456789');
  });

  it('uses a fresh random 96-bit nonce for every write', () => {
    const a = seal(ringA, 'same plaintext', AAD);
    const b = seal(ringA, 'same plaintext', AAD);
    expect(a.nonce).toHaveLength(12);
    expect(b.nonce).toHaveLength(12);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('refuses to decrypt under any other additional authenticated data', () => {
    const sealed = seal(ringA, 'secret', AAD);
    expect(() => open(ringA, sealed, AAD.replace('user=2', 'user=3'))).toThrow(DecryptionError);
    expect(() => open(ringA, sealed, '')).toThrow(DecryptionError);
  });

  it('refuses a tampered ciphertext, nonce or tag', () => {
    const sealed = seal(ringA, 'secret', AAD);
    const flip = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i] ^= 1;
      return c;
    };
    expect(() => open(ringA, { ...sealed, ciphertext: flip(sealed.ciphertext, 0) }, AAD)).toThrow(DecryptionError);
    expect(() =>
      open(ringA, { ...sealed, ciphertext: flip(sealed.ciphertext, sealed.ciphertext.length - 1) }, AAD),
    ).toThrow(DecryptionError);
    expect(() => open(ringA, { ...sealed, nonce: flip(sealed.nonce, 0) }, AAD)).toThrow(DecryptionError);
    expect(() => open(ringA, { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 8) }, AAD)).toThrow(
      DecryptionError,
    );
  });

  it('binds the master key id: relabelling a ciphertext with another key id fails even when that key is in the ring', () => {
    const sealed = seal(ringA, 'secret', AAD);
    expect(() => open(ringAB, { ...sealed, keyId: 'b' }, AAD)).toThrow(DecryptionError);
    expect(() => open(ringAB, { ...sealed, keyId: 'missing' }, AAD)).toThrow(DecryptionError);
  });

  it('the decryption error says nothing about the secret or the key', () => {
    const sealed = seal(ringA, 'sk-ant-very-secret-9999', AAD);
    try {
      open(ringA, sealed, 'other');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toMatch(/sk-ant|9999/);
    }
  });
});

describe('the keyring', () => {
  it('writes with the newest key and still opens what older keys sealed', () => {
    const old = seal(ringA, 'secret', AAD);
    const fresh = seal(ringAB, 'secret', AAD);
    expect(ringAB.current.id).toBe('b');
    expect(fresh.keyId).toBe('b');
    expect(open(ringAB, old, AAD)).toBe('secret');
    expect(() => open(ringA, fresh, AAD)).toThrow(DecryptionError);
  });

  it('rejects malformed, short and duplicate entries', () => {
    expect(() => Keyring.parse('')).toThrow(/at least one/);
    expect(() => Keyring.parse('nocolon')).toThrow(/<id>:<base64/);
    expect(() => Keyring.parse(`a:${Buffer.alloc(16).toString('base64')}`)).toThrow(/32 bytes/);
    const entry = Keyring.generateEntry('a');
    expect(() => Keyring.parse(`${entry},${entry}`)).toThrow(/unique/);
  });
});
