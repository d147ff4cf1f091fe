// Re-encrypting stored personal keys under the keyring's newest master key (npm run keys:rotate).
import type { AiProvider } from '../generated/prisma/enums.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/database.ts';
import { openPersonalKey, sealPersonalKey } from './key-vault.ts';

export interface RotationReport {
  rewritten: number;
  alreadyCurrent: number;
  /** Rows no key in the ring can open (ids only): left as they are, and their owners must save the key again. */
  unreadable: { id: string; orgId: string; userId: string; provider: AiProvider }[];
}

/** Re-encrypts every stored key under the keyring's newest master key. A row that cannot be read is skipped and reported. */
export async function reencryptAllKeys(db: Db, ring: Keyring): Promise<RotationReport> {
  const rows = await db.personalApiKey.findMany();
  const report: RotationReport = { rewritten: 0, alreadyCurrent: 0, unreadable: [] };
  for (const row of rows) {
    if (row.encKeyId === ring.current.id) {
      report.alreadyCurrent++;
      continue;
    }
    let clear: string;
    try {
      clear = openPersonalKey(ring, row);
    } catch {
      report.unreadable.push({ id: row.id, orgId: row.orgId, userId: row.userId, provider: row.provider });
      continue;
    }
    const sealed = sealPersonalKey(ring, row.orgId, row.userId, row.provider, clear);
    // Compare-and-set on the old key id, so a concurrent save is never overwritten with a stale key.
    const { count } = await db.personalApiKey.updateMany({
      where: { id: row.id, encKeyId: row.encKeyId, updatedAt: row.updatedAt },
      data: sealed,
    });
    report.rewritten += count;
  }
  return report;
}

/** Master key ids that stored keys were sealed with but the ring lacks, with how many keys use each. */
export async function masterKeysMissingFromRing(db: Db, ring: Keyring): Promise<{ keyId: string; keys: number }[]> {
  const groups = await db.personalApiKey.groupBy({ by: ['encKeyId'], _count: { _all: true } });
  return groups.filter((g) => !ring.get(g.encKeyId)).map((g) => ({ keyId: g.encKeyId, keys: g._count._all }));
}
