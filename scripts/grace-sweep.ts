// npm run grace:sweep   Switches every org whose legacy grace window has ended back to Intervy Credits (the same
// sweep every server runs periodically; src/domain/grace-window.ts). One line per org on stdout, a count on stderr.
// Safe to run at any time, twice, or alongside running servers.
import { sweepEndedGraceWindows } from '../src/domain/grace-window.ts';
import { runOperatorCommand, UsageError } from '../src/lib/operator.ts';

await runOperatorCommand(async ({ db, clock, pubsub }) => {
  if (process.argv.length > 2) throw new UsageError('Usage: npm run grace:sweep   (takes no arguments)');
  const ended = await sweepEndedGraceWindows({ db, clock, pubsub });
  for (const e of ended) {
    process.stdout.write(`${e.slug}: grace window ended ${e.endedAt.toISOString()}; switched from ${e.from.provider} to INTERVY_CREDITS\n`);
  }
  process.stderr.write(`Ended ${ended.length} grace window(s).\n`);
});
