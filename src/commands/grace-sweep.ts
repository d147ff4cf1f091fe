// npm run grace:sweep   Switches every org whose legacy grace window has ended back to Intervy Credits (the same
// sweep every server runs periodically; src/domain/grace-window.ts). One line per org on stdout, a count on stderr.
// Safe to run at any time, twice, or alongside running servers.
import { sweepEndedGraceWindows } from '../domain/grace-window.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, clock, pubsub, out, err }) => {
    if (argv.length) throw new UsageError('Usage: npm run grace:sweep   (takes no arguments)');
    const ended = await sweepEndedGraceWindows({ db, clock, pubsub });
    for (const e of ended) {
      out(
        `${e.slug}: grace window ended ${e.endedAt.toISOString()}; switched from ${e.from.provider} to INTERVY_CREDITS`,
      );
    }
    err(`Ended ${ended.length} grace window(s).`);
  });
}
