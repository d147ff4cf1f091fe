// npm run schema:print   Writes schema.graphql from the code. With --check: fails if the committed file differs.
import fs from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from '../src/app.ts';

const file = new URL('../schema.graphql', import.meta.url);
const printed = printSchema(schema) + '\n';
if (process.argv.includes('--check')) {
  const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (committed !== printed) {
    process.stderr.write('schema.graphql is out of date: run `npm run schema:print` and commit it.\n');
    process.exit(1);
  }
  process.stdout.write('schema.graphql matches the code.\n');
} else {
  fs.writeFileSync(file, printed);
  process.stdout.write('wrote schema.graphql\n');
}
process.exit(0);
