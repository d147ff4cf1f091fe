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
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  limits: OperationLimits;
  transport: TransportConfig;
  /** Longest lifetime (exp - iat) a bearer token may have, in seconds; also the default of `npm run token`. */
  tokenMaxTtlSeconds: number;
}

/** Checked on every transport before execution; the size ones before parsing. Defaults at least as strict as graphql-armor's. */
export interface OperationLimits {
  documentBytes: number;
  tokens: number;
  depth: number;
  aliases: number;
  directives: number;
  /** graphql-armor's structural cost (objects 2, scalars 1, x1.5 per level). */
  structuralCost: number;
  /** What the operation would spend: provider calls, writes, list sizes (src/lib/operation-cost.ts). */
  cost: number;
}

export interface TransportConfig {
  /** Largest HTTP body and WebSocket frame, in bytes. */
  maxRequestBytes: number;
  /** Browser origins allowed for CORS and WebSocket upgrades, besides the server's own; "*" is refused. */
  allowedOrigins: string[];
  /** Also allow http(s)://localhost:* and 127.0.0.1:* (the embedded default). */
  allowLocalhostOrigins: boolean;
  graphiql: boolean;
  introspection: boolean;
  /** graphql-ws keep-alive ping period. */
  wsKeepAliveMs: number;
  /** An acknowledged socket with no running operation is closed after this long. */
  wsIdleTimeoutMs: number;
  /** How often each open socket re-checks that its token is still valid (revocation). */
  wsTokenRecheckMs: number;
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got "${env[name]}")`);
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
    logLevel,
    ...hostileTrafficConfig(env, !databaseUrl),
  };
}

/**
 * Operation limits, tokens and transports (issue 8). Each default is at least as strict as graphql-armor's; the
 * embedded default (no DATABASE_URL) turns GraphiQL and introspection on and allows localhost origins.
 */
function hostileTrafficConfig(env: NodeJS.ProcessEnv, embedded: boolean) {
  const allowedOrigins = (optional(env, 'ALLOWED_ORIGINS') ?? '').split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean);
  if (allowedOrigins.includes('*')) throw new ConfigError('ALLOWED_ORIGINS must list origins; "*" is not allowed');
  for (const o of allowedOrigins) if (!/^https?:\/\/[^/]+$/.test(o)) throw new ConfigError(`ALLOWED_ORIGINS entries look like https://app.example.com (got "${o}")`);
  return {
    limits: {
      documentBytes: int(env, 'LIMIT_DOCUMENT_BYTES', 32 * 1024, 1),
      tokens: int(env, 'LIMIT_TOKENS', 1000, 1),
      depth: int(env, 'LIMIT_DEPTH', 6, 1),
      aliases: int(env, 'LIMIT_ALIASES', 15, 0),
      directives: int(env, 'LIMIT_DIRECTIVES', 50, 0),
      structuralCost: int(env, 'LIMIT_STRUCTURAL_COST', 5000, 1),
      cost: int(env, 'LIMIT_COST', 2500, 1),
    },
    transport: {
      maxRequestBytes: int(env, 'MAX_REQUEST_BYTES', 1024 * 1024, 1024),
      allowedOrigins,
      allowLocalhostOrigins: bool(env, 'ALLOW_LOCALHOST_ORIGINS', embedded),
      graphiql: bool(env, 'GRAPHIQL', embedded),
      introspection: bool(env, 'INTROSPECTION', embedded),
      wsKeepAliveMs: int(env, 'WS_KEEPALIVE_MS', 12_000, 1),
      wsIdleTimeoutMs: int(env, 'WS_IDLE_TIMEOUT_MS', 5 * 60_000, 1),
      wsTokenRecheckMs: int(env, 'WS_TOKEN_RECHECK_MS', 30_000, 1),
    },
    tokenMaxTtlSeconds: int(env, 'AUTH_TOKEN_MAX_TTL_SECONDS', 12 * 3600, 60),
  };
}
