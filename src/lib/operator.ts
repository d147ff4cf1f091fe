// The runtime behind every operator command (token, credits, plan, sweeps, migrations): the same database as the
// server (embedded or DATABASE_URL), whether or not the server is running, and nothing printed but the command's own output.
import { loadConfig, type Config } from '../config.ts';
import { isEmpty, seedDemo } from '../domain/demo-seed.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Db } from './database.ts';
import { createLogger, type Logger } from './logger.ts';
import { loadSecrets, type Secrets } from './secrets.ts';
import type { Keyring } from './crypto.ts';

export interface OperatorRuntime {
  config: Config;
  db: Db;
  keyring: Keyring;
  secrets: Secrets;
  clock: Clock;
  log: Logger;
}

export class UsageError extends Error {}

export async function runOperatorCommand(fn: (rt: OperatorRuntime) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  try {
    const secrets = loadSecrets(config);
    database = await openDatabase(config, log);
    // The same rule as the server: a fresh embedded database gets the demo data.
    if (config.seedDemo || (database.embedded && (await isEmpty(database.db)))) await seedDemo(database.db, secrets.keyring, systemClock);
    await fn({ config, db: database.db, keyring: secrets.keyring, secrets, clock: systemClock, log });
  } catch (err) {
    process.exitCode = err instanceof UsageError ? 2 : 1;
    process.stderr.write(`${(err as Error).message}\n`);
  } finally {
    await database?.close();
  }
}
