// Reads config (and .env), builds the app, listens. SIGTERM drains gracefully (rolling deploys); Ctrl-C stops at once.
// Any start-up failure is one line on stderr (what is wrong, what to do) and exit code 1.
import { buildApp, type App } from './app.ts';
import { loadConfig, loadDotEnv, type Config } from './config.ts';
import { seedDemoIfWanted } from './domain/demo-seed.ts';
import { takeSignalsFromEmbeddedPostgres } from './lib/embedded-pg.ts';
import { describeStartupFailure } from './lib/startup-errors.ts';

let config: Config | undefined;
let app: App | undefined;
try {
  loadDotEnv();
  config = loadConfig();
  app = await buildApp(config);
  const { keyring, clock, log } = app.services;
  if (await seedDemoIfWanted(config.seedDemo, app.database, keyring, clock)) {
    log.info('seeded the demo orgs (acme, globex, initech, umbrella)');
  }
  await app.listen(config.port);
} catch (err) {
  process.stderr.write(`${describeStartupFailure(err, config?.port)}\n`);
  await app?.database.close().catch(() => {}); // stops an embedded PostgreSQL this process started
  process.exit(1);
}

const running = app!;
if (running.database.embedded) takeSignalsFromEmbeddedPostgres();
const port = (running.httpServer.address() as { port: number }).port;
const stopOn = (signal: NodeJS.Signals, graceMs: number) =>
  process.once(signal, async () => {
    running.services.log.info('stopping', { signal, graceMs });
    await running.shutdown(graceMs);
    process.exit(0);
  });
stopOn('SIGTERM', config.shutdownGraceMs);
stopOn('SIGINT', process.stdin.isTTY ? 0 : config.shutdownGraceMs);

process.stdout.write(
  [
    '',
    `Ivy platform API ready: GraphiQL at http://localhost:${port}/graphql`,
    `Database: ${running.database.embedded ? `embedded PostgreSQL in ${config.dataDir}/pg` : 'DATABASE_URL'}`,
    'Get a token:  npm run --silent token -- admin@acme.test',
    'then add the header  { "Authorization": "Bearer <token>" }  in GraphiQL. Ctrl-C stops the server.',
    '',
  ].join('\n') + '\n',
);
