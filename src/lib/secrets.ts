// Secrets the server needs: from the environment, or (on the embedded default only, DATABASE_URL unset) generated once
// into DATA_DIR, mode 0600. With DATABASE_URL, loadConfig has already refused to start without them.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { KEYRING_FORMAT, Keyring } from './crypto.ts';
import { assertStrongSecret } from './tokens.ts';

export interface Secrets {
  jwtSecret: Uint8Array;
  keyring: Keyring;
}

function readOrCreate(file: string, create: () => string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const value = create();
  try {
    // 'wx' so two processes starting at once cannot both write: the loser reads the winner's file.
    fs.writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw err;
  }
}

export function loadSecrets(config: Config): Secrets {
  const generate = (name: string, create: () => string) => {
    // loadConfig refuses DATABASE_URL without the secrets; this guards any caller that built a Config by hand.
    if (config.databaseUrl) throw new Error(`${name} must be set when DATABASE_URL is set.`);
    return readOrCreate(
      path.join(config.dataDir, name === 'AUTH_JWT_SECRET' ? 'jwt-secret' : 'key-encryption-keys'),
      create,
    );
  };
  const jwt = config.jwtSecret ?? generate('AUTH_JWT_SECRET', () => randomBytes(32).toString('base64url'));
  const ring = config.keyEncryptionKeys ?? generate('KEY_ENCRYPTION_KEYS', () => Keyring.generateEntry('k1'));
  let keyring: Keyring;
  try {
    keyring = Keyring.parse(ring);
  } catch (err) {
    throw new Error(
      `${config.keyEncryptionKeys ? 'KEY_ENCRYPTION_KEYS' : path.join(config.dataDir, 'key-encryption-keys')}: ${(err as Error).message} (${KEYRING_FORMAT}).`,
      { cause: err },
    );
  }
  const jwtSecret = new TextEncoder().encode(jwt);
  assertStrongSecret(jwtSecret);
  return { jwtSecret, keyring };
}

/**
 * The single master key of the legacy per-admin BYOK scheme, loaded only by the move (npm run migrate:legacy-byok).
 * Never generated: a new key could not decrypt the old rows. Read from LEGACY_BYOK_KEY, or from
 * DATA_DIR/legacy-byok-key where an older embedded install left one.
 */
export function loadLegacyByokKey(config: Config): Buffer {
  let spec = config.legacyByokKey;
  if (!spec && !config.databaseUrl) {
    try {
      spec = fs.readFileSync(path.join(config.dataDir, 'legacy-byok-key'), 'utf8').trim();
    } catch {
      // fall through to the refusal below
    }
  }
  if (!spec)
    throw new Error(
      'Set LEGACY_BYOK_KEY to the base64 master key of the old per-admin BYOK scheme (the one that encrypted those rows).',
    );
  const key = Buffer.from(spec, 'base64');
  if (key.length !== 32) throw new Error('LEGACY_BYOK_KEY must be a base64-encoded 32-byte key.');
  return key;
}
