// The per-admin BYOK setting from before BYOK became an org setting, and how its key was encrypted ("v0").
//
// The legacy scheme, kept only so rows can be read once and moved: AES-256-CBC with PKCS#7 padding under a single
// master key (LEGACY_BYOK_KEY, base64 of 32 bytes), a random 16-byte IV per row, stored as
// "v0:<iv base64>:<ciphertext base64>". It has no integrity check and binds the key to no org or user, which is why
// the move re-encrypts each key into the key vault (AES-256-GCM bound to org, user and provider).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AiProvider } from '../generated/prisma/enums.ts';
import type { Db } from '../lib/database.ts';

const VERSION = 'v0';

export class LegacyKeyUnreadable extends Error {
  constructor(reason: string) {
    super(`the legacy key could not be decrypted (${reason})`);
    this.name = 'LegacyKeyUnreadable';
  }
}

export function encryptLegacyKey(masterKey: Buffer, apiKey: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', masterKey, iv);
  const ct = Buffer.concat([cipher.update(apiKey, 'utf8'), cipher.final()]);
  return `${VERSION}:${iv.toString('base64')}:${ct.toString('base64')}`;
}

/** The key in clear. Throws LegacyKeyUnreadable for another version, a malformed value or the wrong master key. */
export function decryptLegacyKey(masterKey: Buffer, stored: string): string {
  const [version, ivB64, ctB64, ...rest] = stored.split(':');
  if (version !== VERSION || rest.length) throw new LegacyKeyUnreadable('not a "v0:<iv>:<ciphertext>" value');
  const iv = Buffer.from(ivB64 ?? '', 'base64');
  const ct = Buffer.from(ctB64 ?? '', 'base64');
  if (iv.length !== 16 || ct.length === 0 || ct.length % 16 !== 0)
    throw new LegacyKeyUnreadable('malformed IV or ciphertext');
  try {
    const decipher = createDecipheriv('aes-256-cbc', masterKey, iv);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    // CBC carries no tag: a wrong key usually shows as bad padding; the rare survivor fails the key-format check later.
    throw new LegacyKeyUnreadable('wrong LEGACY_BYOK_KEY or damaged ciphertext');
  }
}

export interface LegacyByokInput {
  orgId: string;
  adminUserId: string;
  provider: AiProvider;
  model: string;
  apiKey: string;
}

/** Writes an admin's legacy setting as the old code did (tests and the demo seed stand in for the old data). */
export async function writeLegacyByokSetting(
  db: Pick<Db, 'legacyByokSetting'>,
  masterKey: Buffer,
  input: LegacyByokInput,
) {
  const { apiKey, ...rest } = input;
  return db.legacyByokSetting.create({ data: { ...rest, encryptedKey: encryptLegacyKey(masterKey, apiKey) } });
}
