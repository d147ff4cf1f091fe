// npm run keys:rotate   Re-encrypts every stored personal API key under the newest master key in the keyring.
// The command lives in src/commands/rotate-keys.ts (its main() is what the tests run); this only wires it to the terminal.
import { main } from '../src/commands/rotate-keys.ts';
import { runFromCommandLine } from '../src/lib/operator.ts';

await runFromCommandLine(main);
