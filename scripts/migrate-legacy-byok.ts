// npm run migrate:legacy-byok [-- --dry-run]
// The command lives in src/commands/migrate-legacy-byok.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/migrate-legacy-byok.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
