// npm run --silent token -- <email>   Prints a bearer token for that user, and nothing else.
// The command lives in src/commands/token.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/token.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
