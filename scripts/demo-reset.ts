// npm run demo:reset   Puts the demo data back as the first start seeded it (see src/commands/demo-reset.ts).
// The command lives in src/commands/demo-reset.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/demo-reset.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
