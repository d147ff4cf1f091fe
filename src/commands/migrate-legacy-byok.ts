// npm run migrate:legacy-byok [-- --dry-run]
// Moves each org's legacy per-admin BYOK setting to the org (src/domain/legacy-byok-move.ts): one line per org on
// stdout, a count on stderr. --dry-run reads and checks every row, says what it would do, and writes nothing.
// Re-running is safe: moved rows are marked and left alone. Needs LEGACY_BYOK_KEY (or DATA_DIR/legacy-byok-key).
// Exit 0: every row moved (or none left); 1: some org was skipped (its line says why) after all others were moved;
// 2: usage error.
import { parseArgs } from 'node:util';
import { describeLegacyMove, migrateLegacyByok } from '../domain/legacy-byok-move.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';
import { loadLegacyByokKey } from '../lib/secrets.ts';

const USAGE = 'Usage: npm run migrate:legacy-byok [-- --dry-run]';

function parseDryRun(argv: string[]): boolean {
  try {
    return parseArgs({ args: argv, options: { 'dry-run': { type: 'boolean', default: false } }, strict: true }).values['dry-run'] === true;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
}

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ config, db, keyring, clock, pubsub, out, err }) => {
    const dryRun = parseDryRun(argv);
    const reports = await migrateLegacyByok({ db, keyring, clock, pubsub, legacyKey: loadLegacyByokKey(config) }, { dryRun });
    for (const r of reports) out(describeLegacyMove(r));
    const skipped = reports.filter((r) => r.outcome === 'skipped').length;
    const done = reports.filter((r) => r.outcome === 'moved' || r.outcome === 'would-move').length;
    err(
      reports.length === 0
        ? 'No legacy BYOK settings left to move.'
        : `${dryRun ? 'Would move' : 'Moved'} ${done} org(s); skipped ${skipped}.${dryRun ? ' Nothing was written (dry run).' : ''}`,
    );
    return skipped ? 1 : 0;
  });
}
