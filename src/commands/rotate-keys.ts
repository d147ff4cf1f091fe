// npm run keys:rotate [-- --skip-unreadable]   Re-encrypts every stored personal API key under the newest master key.
// Rotation: append a new "<id>:<base64>" entry to KEY_ENCRYPTION_KEYS (or DATA_DIR/key-encryption-keys), run this,
// then the older entries may be removed. Refuses (exit 1, nothing written) while any stored key uses a master key the
// ring lacks, since dropping that entry was almost certainly a mistake; --skip-unreadable rotates the rest anyway.
import { parseArgs } from 'node:util';
import { masterKeysMissingFromRing, reencryptAllKeys } from '../domain/key-rotation.ts';
import { runOperatorCommand, UsageError, type CommandIO } from '../lib/operator.ts';

const USAGE = 'Usage: npm run keys:rotate [-- --skip-unreadable]';

export function main(argv: string[], io: CommandIO): Promise<number> {
  return runOperatorCommand(io, async ({ db, keyring, out }) => {
    let skipUnreadable: boolean;
    try {
      skipUnreadable =
        parseArgs({ args: argv, options: { 'skip-unreadable': { type: 'boolean', default: false } }, strict: true })
          .values['skip-unreadable'] === true;
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\n${USAGE}`);
    }
    const missing = await masterKeysMissingFromRing(db, keyring);
    if (missing.length && !skipUnreadable) {
      const list = missing.map((m) => `"${m.keyId}" (${m.keys} key(s))`).join(', ');
      throw new Error(
        `Stored keys use master key(s) missing from KEY_ENCRYPTION_KEYS: ${list}. Nothing was rotated. Put those entries back in the ring, ` +
          'or run with --skip-unreadable to rotate the rest and leave those keys unreadable (their owners must save them again).',
      );
    }
    const { rewritten, alreadyCurrent, unreadable } = await reencryptAllKeys(db, keyring);
    out(
      `Re-encrypted ${rewritten} key(s) under master key "${keyring.current.id}"; ${alreadyCurrent} already used it.`,
    );
    for (const row of unreadable) {
      out(
        `Could not read key ${row.id} (org ${row.orgId}, user ${row.userId}, ${row.provider}): left as is; its owner must save it again.`,
      );
    }
    return unreadable.length ? 1 : 0;
  });
}
