// npm run keys:rotate   Re-encrypts every stored personal API key under the newest master key in the keyring.
// Rotation: prepend nothing, append a new "<id>:<base64>" entry to KEY_ENCRYPTION_KEYS (or DATA_DIR/key-encryption-keys),
// run this, then the older entries may be removed.
import { reencryptAllKeys } from '../src/domain/key-rotation.ts';
import { runOperatorCommand } from '../src/lib/operator.ts';

await runOperatorCommand(async ({ db, keyring }) => {
  const { rewritten, alreadyCurrent, unreadable } = await reencryptAllKeys(db, keyring);
  process.stdout.write(`Re-encrypted ${rewritten} key(s) under master key "${keyring.current.id}"; ${alreadyCurrent} already used it.\n`);
  for (const row of unreadable) {
    process.stdout.write(`Could not read key ${row.id} (org ${row.orgId}, user ${row.userId}, ${row.provider}): left as is; its owner must save it again.\n`);
  }
  if (unreadable.length) process.exitCode = 1;
});
