// npm run migrate:legacy-byok [-- --dry-run]
// Moves each org's legacy per-admin BYOK setting to the org (src/domain/legacy-byok-move.ts): one line per org on
// stdout, a count on stderr. --dry-run reads and checks every row, says what it would do, and writes nothing.
// Re-running is safe: moved rows are marked and left alone. Needs LEGACY_BYOK_KEY (or DATA_DIR/legacy-byok-key).
// Exit 0: every row moved (or none left); 1: some org was skipped (its line says why) after all others were moved;
// 2: usage error.
import { parseArgs } from 'node:util';
import { describeLegacyMove, migrateLegacyByok } from '../src/domain/legacy-byok-move.ts';
import { runOperatorCommand, UsageError } from '../src/lib/operator.ts';
import { loadLegacyByokKey } from '../src/lib/secrets.ts';

const USAGE = 'Usage: npm run migrate:legacy-byok [-- --dry-run]';

await runOperatorCommand(async ({ config, db, keyring, clock, pubsub }) => {
  let dryRun: boolean;
  try {
    dryRun = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } }, strict: true }).values['dry-run'] === true;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const reports = await migrateLegacyByok({ db, keyring, clock, pubsub, legacyKey: loadLegacyByokKey(config) }, { dryRun });
  for (const r of reports) process.stdout.write(describeLegacyMove(r) + '\n');
  const skipped = reports.filter((r) => r.outcome === 'skipped').length;
  const done = reports.filter((r) => r.outcome === 'moved' || r.outcome === 'would-move').length;
  process.stderr.write(
    reports.length === 0
      ? 'No legacy BYOK settings left to move.\n'
      : `${dryRun ? 'Would move' : 'Moved'} ${done} org(s); skipped ${skipped}.${dryRun ? ' Nothing was written (dry run).' : ''}\n`,
  );
  if (skipped) process.exitCode = 1;
});
