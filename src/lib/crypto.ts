// AES-256-GCM envelope for secrets at rest, with a keyring so master keys can be rotated.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface MasterKey {
  id: string;
  key: Buffer;
}

/** How a keyring is written, for error messages. */
export const KEYRING_FORMAT = 'entries "<id>:<base64 32-byte key>", newest last, one per line or comma-separated';

/** Master keys, oldest first. New writes use the newest; any key in the ring still decrypts. */
export class Keyring {
  private readonly byId: Map<string, MasterKey>;
  constructor(readonly keys: MasterKey[]) {
    if (keys.length === 0) throw new Error('the keyring needs at least one master key');
    this.byId = new Map(keys.map((k) => [k.id, k]));
    if (this.byId.size !== keys.length) throw new Error('keyring ids must be unique');
  }

  get current(): MasterKey {
    return this.keys[this.keys.length - 1];
  }

  get(id: string): MasterKey | undefined {
    return this.byId.get(id);
  }

  /**
   * Parses the keyring: entries "<id>:<base64 32-byte key>", newest last, one per line or comma-separated (so a key
   * appended on a new line of DATA_DIR/key-encryption-keys counts). Any malformed entry is refused, never skipped.
   */
  static parse(spec: string): Keyring {
    const keys = spec
      .split(/[,\r\n]+/)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry, i) => {
        const sep = entry.indexOf(':');
        const id = entry.slice(0, sep);
        const b64 = entry.slice(sep + 1);
        if (sep <= 0 || !/^[A-Za-z0-9_.-]+$/.test(id))
          throw new Error(`keyring entry ${i + 1} does not look like "<id>:<base64 key>"`);
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || Buffer.from(b64, 'base64').length !== 32) {
          throw new Error(`master key "${id}" (entry ${i + 1}) must be 32 bytes, base64 encoded`);
        }
        return { id, key: Buffer.from(b64, 'base64') };
      });
    return new Keyring(keys);
  }

  static generateEntry(id: string): string {
    return `${id}:${randomBytes(32).toString('base64')}`;
  }
}

export interface Sealed {
  ciphertext: Buffer; // encrypted bytes followed by the 16-byte GCM tag
  nonce: Buffer; // 96 bits, random per write
  keyId: string;
}

const TAG_BYTES = 16;

/** Encrypts with the newest master key. `aad` binds the ciphertext to where it is stored. */
export function seal(ring: Keyring, plaintext: string, aad: string): Sealed {
  const { id, key } = ring.current;
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(`${aad}|kid=${id}`));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { ciphertext: Buffer.concat([body, cipher.getAuthTag()]), nonce, keyId: id };
}

export class DecryptionError extends Error {
  constructor() {
    super('The stored secret could not be decrypted with the given binding.');
    this.name = 'DecryptionError';
  }
}

/** Decrypts, failing unless the ciphertext was sealed for exactly this `aad` under a key in the ring. */
export function open(ring: Keyring, sealed: Sealed, aad: string): string {
  const master = ring.get(sealed.keyId);
  if (!master || sealed.ciphertext.length < TAG_BYTES) throw new DecryptionError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', master.key, sealed.nonce);
    decipher.setAAD(Buffer.from(`${aad}|kid=${sealed.keyId}`));
    decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES));
    const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionError();
  }
}
