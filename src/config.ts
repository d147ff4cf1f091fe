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

  // --- Abuse limits and Redis outages (issue 8). Each limit is shared across instances through Redis when
  // REDIS_URL is set, in memory otherwise; src/lib/limits/ says what each does while Redis is unreachable. ---
  /** Settings events: an org's burst is delivered once quiet this long, and never later than the max delay. */
  settingsEventsQuietMs: number;
  settingsEventsMaxDelayMs: number;
  rateLimits: {
    /** testPersonalKey calls per member (each is an upstream call; with saves, a stolen-key oracle). */
    keyTests: RateLimit;
    /** setPersonalKey calls per member. */
    keySaves: RateLimit;
    /** updateProvider calls per org. */
    settingsChanges: RateLimit;
  };
  concurrency: {
    completionsPerMember: number;
    completionsPerOrg: number;
    completionsPerSocket: number;
    /** Operations in flight on one graphql-ws socket (subscriptions, and queries sent over it). */
    subscriptionsPerSocket: number;
    /** Open graphql-ws sockets per signed-in user. */
    socketsPerMember: number;
    /** A slot not released by then (its process crashed) is freed: longer than any stream should last. */
    slotLeaseMs: number;
  };
}

/** At most `points` calls per `seconds`. Written "points/seconds" in the environment, e.g. "5/60". */
export interface RateLimit {
  points: number;
  seconds: number;
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

function rate(env: NodeJS.ProcessEnv, name: string, fallback: RateLimit): RateLimit {
  const raw = optional(env, name);
  if (!raw) return fallback;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new ConfigError(`${name} must be "calls/seconds" with both >= 1, e.g. "5/60" (got "${raw}")`);
  return { points: Number(m[1]), seconds: Number(m[2]) };
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

    // Abuse limits and Redis outages (issue 8); defaults and reasons in the README.
    settingsEventsQuietMs: int(env, 'SETTINGS_EVENTS_QUIET_MS', 50),
    settingsEventsMaxDelayMs: int(env, 'SETTINGS_EVENTS_MAX_DELAY_MS', 500),
    rateLimits: {
      keyTests: rate(env, 'RATE_LIMIT_KEY_TESTS', { points: 5, seconds: 60 }),
      keySaves: rate(env, 'RATE_LIMIT_KEY_SAVES', { points: 5, seconds: 60 }),
      settingsChanges: rate(env, 'RATE_LIMIT_SETTINGS_CHANGES', { points: 10, seconds: 60 }),
    },
    concurrency: {
      completionsPerMember: int(env, 'MAX_COMPLETIONS_PER_MEMBER', 4, 1),
      completionsPerOrg: int(env, 'MAX_COMPLETIONS_PER_ORG', 50, 1),
      completionsPerSocket: int(env, 'MAX_COMPLETIONS_PER_SOCKET', 3, 1),
      subscriptionsPerSocket: int(env, 'MAX_SUBSCRIPTIONS_PER_SOCKET', 20, 1),
      socketsPerMember: int(env, 'MAX_SOCKETS_PER_MEMBER', 10, 1),
      slotLeaseMs: int(env, 'CONCURRENCY_SLOT_LEASE_MS', 15 * 60_000, 1000),
    },
  };
}
