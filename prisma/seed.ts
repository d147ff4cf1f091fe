// `prisma db seed` / SEED_DEMO=1: the demo orgs. The server also seeds an empty embedded database on start.
import { seedDemo } from '../src/domain/demo-seed.ts';
import { runFromCommandLine, runOperatorCommand } from '../src/lib/operator.ts';

await runFromCommandLine((_argv, io) =>
  runOperatorCommand(io, async ({ db, keyring, clock, out }) => {
    await seedDemo(db, keyring, clock);
    out('Demo orgs seeded (acme, globex, initech, umbrella).');
  }),
);
