// Every environment variable the server reads, parsed and validated in one place.
import path from 'node:path';

export interface Config {
  port: number;
  /** Where the embedded database and generated secrets live. */
  dataDir: string;
  /** Unset: run an embedded PostgreSQL under dataDir. */
  databaseUrl?: string;
  /** Port for the embedded PostgreSQL (the machine's own may hold 5432). */
  embeddedPgPort: number;
  redisUrl?: string;
  /** HS256 secret; unset on the embedded default: generated once into dataDir. */
  jwtSecret?: string;
  /** Keyring "id1:base64key,id2:base64key", newest last; unset on the embedded default: generated into dataDir. */
  keyEncryptionKeys?: string;
  /** Base64 32-byte key of the pre-org-settings BYOK scheme (src/domain/legacy-byok.ts); unset on the embedded default: generated into dataDir. */
  legacyByokKey?: string;
  seedDemo: boolean;
  anthropicBaseUrl?: string;
  openaiBaseUrl?: string;
  intervyAnthropicApiKey?: string;
  intervyOpenaiApiKey?: string;
  /** The vendor model behind Intervy Credits. */
  houseModel: string;
  providerTimeoutMs: number;
  providerMaxRetries: number;
  keyCheckTimeoutMs: number;
  /** A hold older than this is presumed abandoned by a crashed process and released. */
  holdTimeoutMs: number;
  /** How often the server sweeps expired holds and ended grace windows. */
  sweepIntervalMs: number;
  /** How often a streaming completion re-checks that its member still belongs to the org. */
  membershipRecheckMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of debug, info, warn, error, silent (got "${logLevel}")`);
  }
  const databaseUrl = optional(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgresql://');
  }
  return {
    port: int(env, 'PORT', 4000),
    dataDir: path.resolve(optional(env, 'DATA_DIR') ?? './data'),
    databaseUrl,
    embeddedPgPort: int(env, 'EMBEDDED_PG_PORT', 54329, 1),
    redisUrl: optional(env, 'REDIS_URL'),
    jwtSecret: optional(env, 'AUTH_JWT_SECRET'),
    keyEncryptionKeys: optional(env, 'KEY_ENCRYPTION_KEYS'),
    legacyByokKey: optional(env, 'LEGACY_BYOK_KEY'),
    seedDemo: env.SEED_DEMO === '1' || env.SEED_DEMO === 'true',
    anthropicBaseUrl: optional(env, 'ANTHROPIC_BASE_URL'),
    openaiBaseUrl: optional(env, 'OPENAI_BASE_URL'),
    intervyAnthropicApiKey: optional(env, 'INTERVY_ANTHROPIC_API_KEY'),
    intervyOpenaiApiKey: optional(env, 'INTERVY_OPENAI_API_KEY'),
    houseModel: optional(env, 'INTERVY_HOUSE_MODEL') ?? 'claude-haiku-5-5',
    providerTimeoutMs: int(env, 'PROVIDER_TIMEOUT_MS', 60_000, 1),
    providerMaxRetries: int(env, 'PROVIDER_MAX_RETRIES', 1),
    keyCheckTimeoutMs: int(env, 'KEY_CHECK_TIMEOUT_MS', 10_000, 1),
    holdTimeoutMs: int(env, 'HOLD_TIMEOUT_MS', 15 * 60_000, 1),
    sweepIntervalMs: int(env, 'SWEEP_INTERVAL_MS', 60_000, 1),
    membershipRecheckMs: int(env, 'MEMBERSHIP_RECHECK_MS', 2_000, 0),
    logLevel,
  };
}
