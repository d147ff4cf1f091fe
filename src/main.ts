// Reads config, builds the app, listens; stops cleanly (database included) on Ctrl-C.
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { seedDemoIfWanted } from './domain/demo-seed.ts';

const config = loadConfig();
const app = await buildApp(config);
const { keyring, clock, log } = app.services;

if (await seedDemoIfWanted(config.seedDemo, app.database, keyring, clock)) {
  log.info('seeded the demo orgs (acme, globex, initech, umbrella)');
}

const port = await app.listen(config.port);
const shutdown = async (signal: string) => {
  log.info('stopping', { signal });
  await app.stop();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));

process.stdout.write(
  [
    '',
    `Ivy platform API ready: GraphiQL at http://localhost:${port}/graphql`,
    `Database: ${app.database.embedded ? `embedded PostgreSQL in ${config.dataDir}/pg` : 'DATABASE_URL'}`,
    'Get a token:  npm run --silent token -- admin@acme.test',
    'then add the header  { "Authorization": "Bearer <token>" }  in GraphiQL. Ctrl-C stops the server.',
    '',
  ].join('\n') + '\n',
);
