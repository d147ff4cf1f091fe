// npm run credits -- grant <org-slug> <amount> [note]   Tops up an org's prepaid credits (there is no API for it).
// The command lives in src/commands/credits.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/credits.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
