// Secrets the server needs: from the environment, or generated once into DATA_DIR (mode 0600) on the embedded default.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { Keyring } from './crypto.ts';
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
  const jwt =
    config.jwtSecret ?? readOrCreate(path.join(config.dataDir, 'jwt-secret'), () => randomBytes(32).toString('base64url'));
  const ring =
    config.keyEncryptionKeys ??
    readOrCreate(path.join(config.dataDir, 'key-encryption-keys'), () => Keyring.generateEntry('k1'));
  const jwtSecret = new TextEncoder().encode(jwt);
  assertStrongSecret(jwtSecret);
  return { jwtSecret, keyring: Keyring.parse(ring) };
}

/**
 * The single master key of the legacy per-admin BYOK scheme. Loaded only by the move (npm run migrate:legacy-byok);
 * the server never needs it.
 */
export function loadLegacyByokKey(config: Config): Buffer {
  const spec = config.legacyByokKey ?? readOrCreate(path.join(config.dataDir, 'legacy-byok-key'), () => randomBytes(32).toString('base64'));
  const key = Buffer.from(spec, 'base64');
  if (key.length !== 32) throw new Error('LEGACY_BYOK_KEY must be a base64-encoded 32-byte key.');
  return key;
}
