// npm run migrate:legacy-byok [-- --dry-run | --purge]
// Moves each org's legacy per-admin BYOK setting to the org (src/domain/legacy-byok-move.ts): one line per org on
// stdout, a count on stderr. --dry-run reads and checks every row, says what it would do, and writes nothing.
// Re-running is safe: moved rows are marked, their legacy ciphertext already shredded, and left alone.
// Needs LEGACY_BYOK_KEY (or DATA_DIR/legacy-byok-key).
// --purge deletes the moved rows once none is left unmoved (refuses otherwise); then destroy LEGACY_BYOK_KEY.
// Exit 0: every row moved (or none left) / purged; 1: some org was skipped (its line says why) after all others were
// moved, or a purge was refused; 2: usage error.
import { parseArgs } from 'node:util';
import { describeLegacyMove, migrateLegacyByok, purgeMovedLegacyByok } from '../domain/legacy-byok-move.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';
import { loadLegacyByokKey } from '../lib/secrets.ts';

const USAGE = 'Usage: npm run migrate:legacy-byok [-- --dry-run | --purge]';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ config, db, keyring, clock, pubsub, out, err }) => {
    let dryRun: boolean;
    let purge: boolean;
    try {
      const { values } = parseArgs({
        args: argv,
        options: { 'dry-run': { type: 'boolean', default: false }, purge: { type: 'boolean', default: false } },
        strict: true,
      });
      dryRun = values['dry-run'] === true;
      purge = values.purge === true;
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n${USAGE}`);
    }
    if (dryRun && purge) throw new UsageError(`--dry-run and --purge cannot be combined.\n${USAGE}`);

    if (purge) {
      const r = await purgeMovedLegacyByok(db);
      if (r.outcome === 'refused') {
        err(
          `Refused: ${r.unmoved.length} legacy BYOK setting(s) not moved yet (${r.unmoved.join(', ')}). ` +
            'Run npm run migrate:legacy-byok and resolve every skipped org first. Nothing was purged.',
        );
        return 1;
      }
      err(
        `Purged ${r.rows} moved legacy BYOK row(s); no legacy ciphertext is left. ` +
          'Now destroy LEGACY_BYOK_KEY (and DATA_DIR/legacy-byok-key) wherever it is kept.',
      );
      return 0;
    }

    const reports = await migrateLegacyByok(
      { db, keyring, clock, pubsub, legacyKey: loadLegacyByokKey(config) },
      { dryRun },
    );
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
