// npm run keys:rotate   Re-encrypts every stored personal API key under the newest master key in the keyring.
// Rotation: append a new "<id>:<base64>" entry to KEY_ENCRYPTION_KEYS (or DATA_DIR/key-encryption-keys), run this,
// then the older entries may be removed. Exit 1 if some key could not be read (each is reported).
import { reencryptAllKeys } from '../domain/key-rotation.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, keyring, out }) => {
    if (argv.length) throw new UsageError('Usage: npm run keys:rotate   (takes no arguments)');
    const { rewritten, alreadyCurrent, unreadable } = await reencryptAllKeys(db, keyring);
    out(`Re-encrypted ${rewritten} key(s) under master key "${keyring.current.id}"; ${alreadyCurrent} already used it.`);
    for (const row of unreadable) {
      out(`Could not read key ${row.id} (org ${row.orgId}, user ${row.userId}, ${row.provider}): left as is; its owner must save it again.`);
    }
    return unreadable.length ? 1 : 0;
  });
}
