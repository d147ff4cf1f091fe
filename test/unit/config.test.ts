import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadDotEnv, type Config } from '../../src/config.ts';
import { Keyring } from '../../src/lib/crypto.ts';
import { loadLegacyByokKey, loadSecrets } from '../../src/lib/secrets.ts';

const DB = 'postgresql://postgres@127.0.0.1:5432/ivy';
const SECRET = randomBytes(32).toString('base64url');
const RING = Keyring.generateEntry('k1');
const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-config-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected loadConfig to refuse');
}

describe('loadConfig with DATABASE_URL set (production)', () => {
  it('refuses to start without AUTH_JWT_SECRET and KEY_ENCRYPTION_KEYS, naming both and how to generate each', () => {
    const found = problems({ DATABASE_URL: DB });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^AUTH_JWT_SECRET is required with DATABASE_URL.*generate one with: node -e/);
    expect(found[1]).toMatch(/^KEY_ENCRYPTION_KEYS is required with DATABASE_URL.*generate one with: node -e .*k1:/);
  });

  it('reports every problem at once, each naming its variable', () => {
    const found = problems({
      DATABASE_URL: 'mysql://x',
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'localhost:6379',
      SHUTDOWN_GRACE_MS: '-1',
      KEY_ENCRYPTION_KEYS: 'k1:short',
    });
    expect(found.map((p) => p.split(' ')[0]).sort()).toEqual([
      'DATABASE_URL',
      'KEY_ENCRYPTION_KEYS',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'SHUTDOWN_GRACE_MS',
    ]);
  });

  it('starts with both secrets given, and takes the production defaults', () => {
    const config = loadConfig({ DATABASE_URL: DB, AUTH_JWT_SECRET: SECRET, KEY_ENCRYPTION_KEYS: RING });
    expect(config).toMatchObject({
      databaseUrl: DB,
      port: 4000,
      migrateOnStart: false,
      shutdownGraceMs: 10_000,
      metricsEnabled: false,
      logFormat: 'json',
    });
  });

  it('lets db:migrate run without the secrets, which it never uses', () => {
    expect(loadConfig({ DATABASE_URL: DB }, { requireSecrets: false }).databaseUrl).toBe(DB);
  });

  it('refuses a JWT secret too short to be safe', () => {
    expect(problems({ DATABASE_URL: DB, AUTH_JWT_SECRET: 'short', KEY_ENCRYPTION_KEYS: RING })[0]).toMatch(
      /^AUTH_JWT_SECRET must be at least 32 characters/,
    );
  });
});

describe('the keyring', () => {
  it('accepts one entry per line (as appended to DATA_DIR/key-encryption-keys) or comma-separated, newest last', () => {
    const [a, b, c] = [Keyring.generateEntry('a'), Keyring.generateEntry('b'), Keyring.generateEntry('c')];
    expect(Keyring.parse(`${a}\n${b}\r\n\n${c}\n`).keys.map((k) => k.id)).toEqual(['a', 'b', 'c']);
    expect(Keyring.parse(`${a}, ${b},${c}`).current.id).toBe('c');
  });

  it('refuses a malformed entry loudly instead of skipping it', () => {
    const good = Keyring.generateEntry('a');
    expect(() => Keyring.parse(`${good}\nb:${randomBytes(16).toString('base64')}`)).toThrow(
      /master key "b" \(entry 2\) must be 32 bytes/,
    );
    expect(() => Keyring.parse(`${good}\nnot-an-entry`)).toThrow(/entry 2 does not look like/);
    expect(problems({ KEY_ENCRYPTION_KEYS: `${good},b:!!!` })[0]).toMatch(
      /^KEY_ENCRYPTION_KEYS .*entry 2.*generate an entry with/,
    );
  });

  it('refuses a malformed file in DATA_DIR on the embedded default, naming the file', () => {
    const dataDir = tmp();
    fs.writeFileSync(path.join(dataDir, 'key-encryption-keys'), `${Keyring.generateEntry('a')}\noops\n`);
    expect(() => loadSecrets(loadConfig({ DATA_DIR: dataDir }))).toThrow(/key-encryption-keys: keyring entry 2/);
  });
});

describe('secrets that are never invented', () => {
  it('generates a JWT secret and keyring only on the embedded default, once, mode 0600', () => {
    const dataDir = tmp();
    const first = loadSecrets(loadConfig({ DATA_DIR: dataDir }));
    const again = loadSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(again.keyring.current.key.equals(first.keyring.current.key)).toBe(true);
    expect(fs.statSync(path.join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
  });

  it('generates nothing when DATABASE_URL is set, even for a Config built by hand', () => {
    const dataDir = tmp();
    const config: Config = { ...loadConfig({ DATA_DIR: dataDir }), databaseUrl: DB };
    expect(() => loadSecrets(config)).toThrow(/AUTH_JWT_SECRET must be set when DATABASE_URL is set/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('never generates LEGACY_BYOK_KEY: without it the move is refused with what to set', () => {
    const dataDir = tmp();
    expect(() => loadLegacyByokKey(loadConfig({ DATA_DIR: dataDir }))).toThrow(/Set LEGACY_BYOK_KEY/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    const key = randomBytes(32);
    expect(
      loadLegacyByokKey(loadConfig({ DATA_DIR: dataDir, LEGACY_BYOK_KEY: key.toString('base64') })).equals(key),
    ).toBe(true);
  });
});

describe('a .env file', () => {
  it('is read when present, and variables already set in the environment win', () => {
    const file = path.join(tmp(), '.env');
    fs.writeFileSync(file, 'IVY_TEST_FROM_DOTENV=file\nIVY_TEST_ALREADY_SET=file\n');
    process.env.IVY_TEST_ALREADY_SET = 'environment';
    try {
      loadDotEnv(file);
      expect(process.env.IVY_TEST_FROM_DOTENV).toBe('file');
      expect(process.env.IVY_TEST_ALREADY_SET).toBe('environment');
    } finally {
      delete process.env.IVY_TEST_FROM_DOTENV;
      delete process.env.IVY_TEST_ALREADY_SET;
    }
  });

  it('is optional', () => {
    expect(() => loadDotEnv(path.join(tmp(), 'absent.env'))).not.toThrow();
  });
});
