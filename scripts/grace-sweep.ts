// npm run grace:sweep   Switches every org whose legacy grace window has ended back to Intervy Credits (the same
// The command lives in src/commands/grace-sweep.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/grace-sweep.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
