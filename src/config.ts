// Every environment variable the server and the operator commands read, parsed and validated once, with zod.
// loadConfig() reports every problem at once (ConfigError), each naming the variable and how to fix it.
import path from 'node:path';
import { z } from 'zod';
import { KEYRING_FORMAT, Keyring } from './lib/crypto.ts';

export interface Config {
  port: number;
  /** Where the embedded database and its generated secrets live. */
  dataDir: string;
  /** Unset: run an embedded PostgreSQL under dataDir (the developer default). Set: production rules apply. */
  databaseUrl?: string;
  /** Port for the embedded PostgreSQL (the machine's own may hold 5432). */
  embeddedPgPort: number;
  redisUrl?: string;
  /** HS256 secret. Required with DATABASE_URL; on the embedded default, generated once into dataDir. */
  jwtSecret?: string;
  /** Keyring, newest last. Required with DATABASE_URL; on the embedded default, generated once into dataDir. */
  keyEncryptionKeys?: string;
  /** Base64 32-byte key of the pre-org-settings BYOK scheme (src/domain/legacy-byok.ts). Never generated. */
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
  /** Credits: send the upstream request while the hold is placed, when it is expected to succeed (early-upstream.ts). */
  earlyUpstreamStart: boolean;
  /** How often the server sweeps expired holds and ended grace windows. */
  sweepIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** json (production default) or pretty (development default when stderr is a terminal). */
  logFormat: 'json' | 'pretty';
  /** With DATABASE_URL, apply pending migrations at start (otherwise `npm run db:migrate` is a release step). */
  migrateOnStart: boolean;
  /** On SIGTERM, how long in-flight completions may run before they are ended with SERVER_SHUTTING_DOWN. */
  shutdownGraceMs: number;
  /** Serve GET /metrics (Prometheus). */
  metricsEnabled: boolean;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** How often a streaming completion re-checks that its member still belongs to the org. */
  membershipRecheckMs: number;
  /** Resumable answers: how long a run whose client went away goes on with no listener before it is cancelled. */
  resumeWindowMs: number;
  /** How long an answer's events stay readable (resume) after it ended. */
  resumeRetentionMs: number;
  /** How often a resumed stream read from another instance checks that the instance producing it is still alive. */
  resumeOwnerCheckMs: number;

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
    /**
     * Completions being started at once on this instance (their hold, their upstream request); the rest wait their
     * turn in arrival order, so a burst of new answers does not hold up the ones already streaming.
     */
    completionsStartingAtOnce: number;
  };
  // --- Operation limits, tokens and transports (issue 8). Each default is at least as strict as graphql-armor's; the
  // embedded default (no DATABASE_URL) turns GraphiQL and introspection on and allows localhost origins. ---
  limits: OperationLimits;
  transport: TransportConfig;
  /** Longest lifetime (exp - iat) a bearer token may have, in seconds; also the default of `npm run token`. */
  tokenMaxTtlSeconds: number;
  /** Scheduled re-tests of saved personal keys (issue 14). */
  keyRetest: {
    /** Each key is re-tested about this long after its last test. */
    intervalMs: number;
    /** Key checks in flight at once, per round. */
    concurrency: number;
    /** Key checks sent to one vendor, at most, per window (spread over the fleet: one instance runs them). */
    perVendor: RateLimit;
  };
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
  /**
   * A socket that has not sent connection_init this long after opening is closed (4408). graphql-ws's own 3 s counts
   * from the opening, so a server busy for 3 s cut healthy clients whose init sat unread (issue 10).
   */
  wsConnectionInitTimeoutMs: number;
}

/** At most `points` calls per `seconds`. Written "points/seconds" in the environment, e.g. "5/60". */
export interface RateLimit {
  points: number;
  seconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const GENERATE_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;
const GENERATE_KEY = `node -e "console.log('k1:' + require('crypto').randomBytes(32).toString('base64'))"`;

/** Empty or whitespace-only counts as unset, as a blank line in a .env file would. */
const opt = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined),
  z.string().optional(),
);
const int = (fallback: number, min: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : fallback),
    z
      .number({ error: `must be an integer >= ${min}` })
      .int(`must be an integer >= ${min}`)
      .min(min, `must be an integer >= ${min}`),
  );
const rate = (points: number, seconds: number) =>
  opt.transform((v, ctx): RateLimit => {
    if (v === undefined) return { points, seconds };
    const m = /^(\d+)\/(\d+)$/.exec(v);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
      ctx.addIssue({ code: 'custom', message: `must be "calls/seconds" with both >= 1, e.g. "5/60" (got "${v}")` });
      return z.NEVER;
    }
    return { points: Number(m[1]), seconds: Number(m[2]) };
  });
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration like "24h", "90m", "30s", "500ms" or "1d" (a bare number is milliseconds). */
const duration = (fallbackMs: number, minMs: number) =>
  opt.transform((v, ctx): number => {
    if (v === undefined) return fallbackMs;
    const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(v);
    const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms'] : NaN;
    if (!(ms >= minMs)) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "24h", "90m" or "30s", at least ${minMs} ms` });
      return z.NEVER;
    }
    return ms;
  });
const flag = z.preprocess((v) => v === '1' || v === 'true', z.boolean());
/** A switch whose default depends on the setup (embedded or production): unset stays undefined. */
const onOff = z.preprocess(
  (v) => {
    const raw = typeof v === 'string' ? v.trim().toLowerCase() : '';
    if (raw === '') return undefined;
    if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'off', 'no'].includes(raw)) return false;
    return raw;
  },
  z.boolean({ error: 'must be true or false' }).optional(),
);
const origins = opt.transform((v, ctx) => {
  const list = (v ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  for (const o of list) {
    if (o === '*') ctx.addIssue({ code: 'custom', message: 'must list origins; "*" is not allowed' });
    else if (!/^https?:\/\/[^/]+$/.test(o))
      ctx.addIssue({ code: 'custom', message: `entries look like https://app.example.com (got "${o}")` });
  }
  return list;
});
const url = (protocols: RegExp, example: string) =>
  opt.refine((v) => v === undefined || (protocols.test(v) && URL.canParse(v)), `must be a URL like ${example}`);

const EnvSchema = z.object({
  PORT: int(4000, 0),
  DATA_DIR: opt,
  DATABASE_URL: url(/^postgres(ql)?:\/\//, 'postgresql://user:password@host:5432/ivy'),
  EMBEDDED_PG_PORT: int(54329, 1),
  REDIS_URL: url(/^rediss?:\/\//, 'redis://host:6379'),
  AUTH_JWT_SECRET: opt.refine(
    (v) => v === undefined || v.length >= 32,
    `must be at least 32 characters; generate one with: ${GENERATE_SECRET}`,
  ),
  KEY_ENCRYPTION_KEYS: opt.superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      Keyring.parse(v);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `${(err as Error).message} (${KEYRING_FORMAT}); generate an entry with: ${GENERATE_KEY}`,
      });
    }
  }),
  LEGACY_BYOK_KEY: opt.refine(
    (v) => v === undefined || Buffer.from(v, 'base64').length === 32,
    'must be a base64-encoded 32-byte key',
  ),
  SEED_DEMO: flag,
  ANTHROPIC_BASE_URL: url(/^https?:\/\//, 'https://api.anthropic.com'),
  OPENAI_BASE_URL: url(/^https?:\/\//, 'https://api.openai.com/v1'),
  INTERVY_ANTHROPIC_API_KEY: opt,
  INTERVY_OPENAI_API_KEY: opt,
  INTERVY_HOUSE_MODEL: opt,
  PROVIDER_TIMEOUT_MS: int(60_000, 1),
  PROVIDER_MAX_RETRIES: int(1, 0),
  KEY_CHECK_TIMEOUT_MS: int(10_000, 1),
  HOLD_TIMEOUT_MS: int(15 * 60_000, 1),
  EARLY_UPSTREAM_START: onOff,
  SWEEP_INTERVAL_MS: int(60_000, 1),
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() ? v.trim() : 'info'),
    z.enum(['debug', 'info', 'warn', 'error', 'silent']),
  ),
  LOG_FORMAT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() ? v.trim() : undefined),
    z.enum(['json', 'pretty']).optional(),
  ),
  NODE_ENV: opt,
  MIGRATE_ON_START: flag,
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  METRICS: flag,
  METRICS_TOKEN: opt,
  MEMBERSHIP_RECHECK_MS: int(2_000, 0),
  RESUME_WINDOW_MS: int(60_000, 0),
  RESUME_RETENTION_MS: int(10 * 60_000, 1),
  RESUME_OWNER_CHECK_MS: int(1_000, 10),
  SETTINGS_EVENTS_QUIET_MS: int(50, 0),
  SETTINGS_EVENTS_MAX_DELAY_MS: int(500, 0),
  RATE_LIMIT_KEY_TESTS: rate(5, 60),
  RATE_LIMIT_KEY_SAVES: rate(5, 60),
  RATE_LIMIT_SETTINGS_CHANGES: rate(10, 60),
  MAX_COMPLETIONS_PER_MEMBER: int(4, 1),
  MAX_COMPLETIONS_PER_ORG: int(50, 1),
  MAX_COMPLETIONS_PER_SOCKET: int(3, 1),
  MAX_SUBSCRIPTIONS_PER_SOCKET: int(20, 1),
  MAX_SOCKETS_PER_MEMBER: int(10, 1),
  CONCURRENCY_SLOT_LEASE_MS: int(15 * 60_000, 1000),
  COMPLETIONS_STARTING_AT_ONCE: int(16, 1),
  LIMIT_DOCUMENT_BYTES: int(32 * 1024, 1),
  LIMIT_TOKENS: int(1000, 1),
  LIMIT_DEPTH: int(6, 1),
  LIMIT_ALIASES: int(15, 0),
  LIMIT_DIRECTIVES: int(50, 0),
  LIMIT_STRUCTURAL_COST: int(5000, 1),
  LIMIT_COST: int(2500, 1),
  MAX_REQUEST_BYTES: int(1024 * 1024, 1024),
  ALLOWED_ORIGINS: origins,
  ALLOW_LOCALHOST_ORIGINS: onOff,
  GRAPHIQL: onOff,
  INTROSPECTION: onOff,
  WS_KEEPALIVE_MS: int(12_000, 1),
  WS_IDLE_TIMEOUT_MS: int(5 * 60_000, 1),
  WS_TOKEN_RECHECK_MS: int(30_000, 1),
  WS_CONNECTION_INIT_TIMEOUT_MS: int(10_000, 1),
  AUTH_TOKEN_MAX_TTL_SECONDS: int(12 * 3600, 60),
  KEY_RETEST_INTERVAL: duration(24 * 3_600_000, 1000),
  KEY_RETEST_CONCURRENCY: int(4, 1),
  KEY_RETEST_RATE: rate(60, 60),
});

/** Production (DATABASE_URL set): every instance must share these, so none may invent its own. */
function missingProductionSecrets(env: z.infer<typeof EnvSchema>): string[] {
  if (!env.DATABASE_URL) return [];
  const problems: string[] = [];
  if (!env.AUTH_JWT_SECRET) {
    problems.push(
      `AUTH_JWT_SECRET is required with DATABASE_URL (every instance must verify the same tokens); generate one with: ${GENERATE_SECRET}`,
    );
  }
  if (!env.KEY_ENCRYPTION_KEYS) {
    problems.push(
      `KEY_ENCRYPTION_KEYS is required with DATABASE_URL (every instance must read the same saved keys); generate one with: ${GENERATE_KEY}`,
    );
  }
  return problems;
}

export interface LoadConfigOptions {
  /** False for commands that never touch tokens or keys (npm run db:migrate). Default true. */
  requireSecrets?: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${String(i.path[0] ?? 'environment')} ${i.message}`);
  if (parsed.success && opts.requireSecrets !== false) problems.push(...missingProductionSecrets(parsed.data));
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR ?? './data'),
    databaseUrl: e.DATABASE_URL,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    redisUrl: e.REDIS_URL,
    jwtSecret: e.AUTH_JWT_SECRET,
    keyEncryptionKeys: e.KEY_ENCRYPTION_KEYS,
    legacyByokKey: e.LEGACY_BYOK_KEY,
    seedDemo: e.SEED_DEMO,
    anthropicBaseUrl: e.ANTHROPIC_BASE_URL,
    openaiBaseUrl: e.OPENAI_BASE_URL,
    intervyAnthropicApiKey: e.INTERVY_ANTHROPIC_API_KEY,
    intervyOpenaiApiKey: e.INTERVY_OPENAI_API_KEY,
    houseModel: e.INTERVY_HOUSE_MODEL ?? 'claude-haiku-5-5',
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    providerMaxRetries: e.PROVIDER_MAX_RETRIES,
    keyCheckTimeoutMs: e.KEY_CHECK_TIMEOUT_MS,
    holdTimeoutMs: e.HOLD_TIMEOUT_MS,
    earlyUpstreamStart: e.EARLY_UPSTREAM_START ?? true,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV !== 'production' && process.stderr.isTTY ? 'pretty' : 'json'),
    migrateOnStart: e.MIGRATE_ON_START,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    metricsEnabled: e.METRICS,
    metricsToken: e.METRICS_TOKEN,
    membershipRecheckMs: e.MEMBERSHIP_RECHECK_MS,
    resumeWindowMs: e.RESUME_WINDOW_MS,
    resumeRetentionMs: e.RESUME_RETENTION_MS,
    resumeOwnerCheckMs: e.RESUME_OWNER_CHECK_MS,
    // Abuse limits and Redis outages (issue 8); defaults and reasons in the README.
    settingsEventsQuietMs: e.SETTINGS_EVENTS_QUIET_MS,
    settingsEventsMaxDelayMs: e.SETTINGS_EVENTS_MAX_DELAY_MS,
    rateLimits: {
      keyTests: e.RATE_LIMIT_KEY_TESTS,
      keySaves: e.RATE_LIMIT_KEY_SAVES,
      settingsChanges: e.RATE_LIMIT_SETTINGS_CHANGES,
    },
    concurrency: {
      completionsPerMember: e.MAX_COMPLETIONS_PER_MEMBER,
      completionsPerOrg: e.MAX_COMPLETIONS_PER_ORG,
      completionsPerSocket: e.MAX_COMPLETIONS_PER_SOCKET,
      subscriptionsPerSocket: e.MAX_SUBSCRIPTIONS_PER_SOCKET,
      socketsPerMember: e.MAX_SOCKETS_PER_MEMBER,
      slotLeaseMs: e.CONCURRENCY_SLOT_LEASE_MS,
      completionsStartingAtOnce: e.COMPLETIONS_STARTING_AT_ONCE,
    },
    limits: {
      documentBytes: e.LIMIT_DOCUMENT_BYTES,
      tokens: e.LIMIT_TOKENS,
      depth: e.LIMIT_DEPTH,
      aliases: e.LIMIT_ALIASES,
      directives: e.LIMIT_DIRECTIVES,
      structuralCost: e.LIMIT_STRUCTURAL_COST,
      cost: e.LIMIT_COST,
    },
    transport: {
      maxRequestBytes: e.MAX_REQUEST_BYTES,
      allowedOrigins: e.ALLOWED_ORIGINS,
      allowLocalhostOrigins: e.ALLOW_LOCALHOST_ORIGINS ?? !e.DATABASE_URL,
      graphiql: e.GRAPHIQL ?? !e.DATABASE_URL,
      introspection: e.INTROSPECTION ?? !e.DATABASE_URL,
      wsKeepAliveMs: e.WS_KEEPALIVE_MS,
      wsIdleTimeoutMs: e.WS_IDLE_TIMEOUT_MS,
      wsTokenRecheckMs: e.WS_TOKEN_RECHECK_MS,
      wsConnectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    },
    tokenMaxTtlSeconds: e.AUTH_TOKEN_MAX_TTL_SECONDS,
    keyRetest: {
      intervalMs: e.KEY_RETEST_INTERVAL,
      concurrency: e.KEY_RETEST_CONCURRENCY,
      perVendor: e.KEY_RETEST_RATE,
    },
  };
}

/** Reads ./.env (or ENV_FILE) into process.env when present; variables already set win. Node's own parser. */
export function loadDotEnv(file = process.env.ENV_FILE ?? '.env'): void {
  try {
    process.loadEnvFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
