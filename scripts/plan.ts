// npm run plan -- set <org slug> <FREE|GROWTH|ENTERPRISE>
// The command lives in src/commands/plan.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/plan.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
