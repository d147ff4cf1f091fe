// `prisma db seed` / SEED_DEMO=1: the demo orgs. The server also seeds an empty embedded database on start.
import { seedDemo } from '../src/domain/demo-seed.ts';
import { runOperatorCommand } from '../src/lib/operator.ts';

await runOperatorCommand(async ({ db, keyring, clock }) => {
  await seedDemo(db, keyring, clock);
  process.stdout.write('Demo orgs seeded (acme, globex, initech, umbrella).\n');
});
