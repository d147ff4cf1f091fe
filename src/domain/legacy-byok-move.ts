// Moves each org's legacy per-admin BYOK setting to the org (npm run migrate:legacy-byok): the provider and model
// become the org's, the admin's key becomes their personal key, and an org below Growth gets the grace window.
import type { LegacyByokSetting, Prisma } from '../generated/prisma/client.ts';
import { checkKeyFormat, keyHint, vendorName, type Vendor } from './vendors.ts';
import type { Clock } from '../lib/clock.ts';
import type { Keyring } from '../lib/crypto.ts';
import type { Db } from '../lib/database.ts';
import type { AppPubSub } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { sealPersonalKey } from './key-vault.ts';
import { decryptLegacyKey, LegacyKeyUnreadable } from './legacy-byok.ts';
import { BYOK_MODELS } from './models.ts';
import { openGraceWindow } from './grace-window.ts';
import { lockOrg } from './orgs.ts';

type Tx = Prisma.TransactionClient;

export interface LegacyMoveDeps {
  db: Db;
  keyring: Keyring;
  /** The legacy scheme's master key (LEGACY_BYOK_KEY). */
  legacyKey: Buffer;
  clock: Clock;
  pubsub?: Pick<AppPubSub, 'publish'>;
}

/** What the move did, or would do, for one org. Never carries key material. */
export type LegacyMoveReport = { orgId: string; slug: string } & (
  | {
      outcome: 'moved' | 'would-move';
      provider: Vendor;
      model: string;
      adminEmail: string;
      /** 'kept' when an admin had already chosen a BYOK provider at the org level: that choice wins. */
      orgSetting: 'adopted' | 'kept';
      /** 'kept' when the admin had already saved a personal key for that provider: the newer key wins. */
      personalKey: 'created' | 'kept';
      graceWindowEndsAt: Date | null;
    }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'already-moved' }
);

class Unreadable extends Error {}

// Prisma puts the cause on the last line of a multi-line message.
const lastLine = (err: unknown) =>
  String((err as Error)?.message ?? err)
    .trim()
    .split('\n')
    .pop();

type MovePlan = Extract<LegacyMoveReport, { outcome: 'moved' | 'would-move' }> & {
  row: LegacyByokSetting;
  apiKey: string;
  adminUserId: string;
};

/** Reads and checks one legacy row; throws Unreadable (or LegacyKeyUnreadable) with a reason an operator can act on. */
async function planMove(db: Tx, row: LegacyByokSetting, legacyKey: Buffer, now: Date): Promise<MovePlan> {
  const org = await db.org.findUniqueOrThrow({ where: { id: row.orgId } });
  const admin = await db.membership.findUnique({
    where: { orgId_userId: { orgId: row.orgId, userId: row.adminUserId } },
    include: { user: true },
  });
  if (!admin) throw new Unreadable(`the admin (user ${row.adminUserId}) is no longer a member of the org`);
  if (row.provider === 'INTERVY_CREDITS')
    throw new Unreadable('the legacy provider is INTERVY_CREDITS, which takes no key');
  const provider = row.provider;
  if (!BYOK_MODELS.some((m) => m.provider === provider && m.id === row.model)) {
    throw new Unreadable(`"${row.model}" is not an ${vendorName(provider)} model Ivy offers`);
  }
  if (row.encryptedKey === null) throw new Unreadable('the legacy row holds no key (already shredded)');
  const apiKey = decryptLegacyKey(legacyKey, row.encryptedKey);
  try {
    checkKeyFormat(provider, apiKey);
  } catch {
    throw new Unreadable(
      `the decrypted key is not an ${vendorName(provider)} API key (wrong LEGACY_BYOK_KEY or damaged row)`,
    );
  }
  const existingKey = await db.personalApiKey.findUnique({
    where: { orgId_userId_provider: { orgId: org.id, userId: row.adminUserId, provider } },
  });
  const adopts = org.aiProvider === 'INTERVY_CREDITS';
  return {
    orgId: org.id,
    slug: org.slug,
    outcome: 'would-move',
    provider,
    model: row.model,
    adminEmail: admin.user.email,
    adminUserId: row.adminUserId,
    orgSetting: adopts ? 'adopted' : 'kept',
    personalKey: existingKey ? 'kept' : 'created',
    graceWindowEndsAt: adopts ? openGraceWindow(org.plan, now) : null,
    row,
    apiKey,
  };
}

async function applyMove(tx: Tx, keyring: Keyring, p: MovePlan, now: Date): Promise<void> {
  if (p.orgSetting === 'adopted') {
    await tx.org.update({
      where: { id: p.orgId },
      data: { aiProvider: p.provider, aiModel: p.model, graceWindowEndsAt: p.graceWindowEndsAt },
    });
  }
  if (p.personalKey === 'created') {
    await tx.personalApiKey.create({
      data: {
        orgId: p.orgId,
        userId: p.adminUserId,
        provider: p.provider,
        hint: keyHint(p.apiKey),
        ...sealPersonalKey(keyring, p.orgId, p.adminUserId, p.provider, p.apiKey),
      },
    });
  }
  // Shredded in the same transaction as the move: once the key lives in the vault, no legacy copy remains.
  await tx.legacyByokSetting.update({ where: { id: p.row.id }, data: { migratedAt: now, encryptedKey: null } });
  await recordAudit(tx, {
    orgId: p.orgId,
    actorId: null,
    action: 'ai_settings.legacy_byok_migrated',
    detail: {
      adminUserId: p.adminUserId,
      provider: p.provider,
      model: p.model,
      orgSetting: p.orgSetting,
      personalKey: p.personalKey,
      graceWindowEndsAt: p.graceWindowEndsAt?.toISOString() ?? null,
    },
  });
}

const report = (
  { row: _r, apiKey: _k, adminUserId: _a, ...rest }: MovePlan,
  outcome: 'moved' | 'would-move',
): LegacyMoveReport => ({ ...rest, outcome });

/**
 * Moves one legacy row inside the caller's transaction, as of `now`. Locks the row and its org, so a concurrent run or
 * provider change waits; a row another run already moved comes back as 'already-moved'.
 */
export async function moveLegacyByokSetting(
  tx: Tx,
  deps: Pick<LegacyMoveDeps, 'keyring' | 'legacyKey'>,
  rowId: string,
  now: Date,
): Promise<LegacyMoveReport> {
  const [locked] = await tx.$queryRaw<{ org_id: string }[]>`
    SELECT org_id FROM legacy_byok_settings WHERE id = ${rowId}::uuid AND migrated_at IS NULL FOR UPDATE`;
  const row = await tx.legacyByokSetting.findUniqueOrThrow({
    where: { id: rowId },
    include: { org: { select: { slug: true } } },
  });
  if (!locked) return { orgId: row.orgId, slug: row.org.slug, outcome: 'already-moved' };
  await lockOrg(tx, { id: row.orgId });
  const plan = await planMove(tx, row, deps.legacyKey, now);
  await applyMove(tx, deps.keyring, plan, now);
  return report(plan, 'moved');
}

/** Every org's unmoved legacy row, one transaction each; an unreadable row is reported and skipped, never fatal. */
export async function migrateLegacyByok(deps: LegacyMoveDeps, opts: { dryRun: boolean }): Promise<LegacyMoveReport[]> {
  const now = deps.clock.now();
  const rows = await deps.db.legacyByokSetting.findMany({
    where: { migratedAt: null },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    include: { org: { select: { slug: true } } },
  });
  const reports: LegacyMoveReport[] = [];
  for (const row of rows) {
    try {
      const r = opts.dryRun
        ? report(await planMove(deps.db, row, deps.legacyKey, now), 'would-move')
        : await deps.db.$transaction((tx) => moveLegacyByokSetting(tx, deps, row.id, now));
      if (r.outcome === 'moved') deps.pubsub?.publish('orgAiSettingsChanged', r.orgId, { orgId: r.orgId });
      reports.push(r);
    } catch (err) {
      const reason =
        err instanceof Unreadable || err instanceof LegacyKeyUnreadable
          ? err.message
          : `unexpected error: ${lastLine(err)}`;
      reports.push({ orgId: row.orgId, slug: row.org.slug, outcome: 'skipped', reason });
    }
  }
  return reports;
}

export type LegacyPurge = { outcome: 'purged'; rows: number } | { outcome: 'refused'; unmoved: string[] };

/**
 * Deletes every moved legacy row (npm run migrate:legacy-byok -- --purge), only once no row is left unmoved: an
 * unmoved row still holds the only copy of an admin's key. Refuses, deleting nothing, otherwise.
 */
export async function purgeMovedLegacyByok(db: Db): Promise<LegacyPurge> {
  return db.$transaction(async (tx) => {
    // Locks the table against a concurrent move or purge for the rest of this transaction.
    await tx.$executeRaw`LOCK TABLE legacy_byok_settings IN SHARE ROW EXCLUSIVE MODE`;
    const unmoved = await tx.legacyByokSetting.findMany({
      where: { migratedAt: null },
      select: { org: { select: { slug: true } } },
      orderBy: { createdAt: 'asc' },
    });
    if (unmoved.length) return { outcome: 'refused', unmoved: unmoved.map((r) => r.org.slug) };
    const { count } = await tx.legacyByokSetting.deleteMany({ where: { migratedAt: { not: null } } });
    return { outcome: 'purged', rows: count };
  });
}

/** One line per org for the command's stdout. */
export function describeLegacyMove(r: LegacyMoveReport): string {
  if (r.outcome === 'skipped') return `${r.slug}: skipped: ${r.reason}`;
  if (r.outcome === 'already-moved') return `${r.slug}: already moved by another run`;
  return [
    `${r.slug}: ${r.outcome === 'moved' ? 'moved' : 'would move'}`,
    r.orgSetting === 'adopted'
      ? `org setting ${r.provider} ${r.model}`
      : `org setting kept (the org already chose its own provider)`,
    r.personalKey === 'created'
      ? `personal ${vendorName(r.provider)} key for ${r.adminEmail}`
      : `personal key kept (${r.adminEmail} already saved one)`,
    r.graceWindowEndsAt ? `grace window ends ${r.graceWindowEndsAt.toISOString()}` : 'no grace window',
  ].join('; ');
}
