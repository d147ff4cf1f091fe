// Members' personal API keys: format checks, encryption at rest bound to org/user/provider, tests, rotation.
import type { AiProvider, KeyStatus } from '../generated/prisma/enums.ts';
import { DecryptionError, open, seal, type Keyring } from '../lib/crypto.ts';
import { refuse } from '../lib/errors.ts';
import { memberKey } from '../lib/pubsub.ts';
import { recordAudit } from './audit.ts';
import { asVendor, checkKeyFormat, keyHint, vendorName, type Vendor } from './vendors.ts';
import { cacheKeys } from './read-caches.ts';
import type { Actor, Services } from './services.ts';

const binding = (orgId: string, userId: string, provider: AiProvider) =>
  `ivy/personal-api-key/v1|org=${orgId}|user=${userId}|provider=${provider}`;

export function sealPersonalKey(ring: Keyring, orgId: string, userId: string, provider: AiProvider, apiKey: string) {
  const sealed = seal(ring, apiKey, binding(orgId, userId, provider));
  return { ciphertext: new Uint8Array(sealed.ciphertext), nonce: new Uint8Array(sealed.nonce), encKeyId: sealed.keyId };
}

interface StoredKey {
  orgId: string;
  userId: string;
  provider: AiProvider;
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  encKeyId: string;
}

export function openPersonalKey(ring: Keyring, row: StoredKey): string {
  return open(
    ring,
    { ciphertext: Buffer.from(row.ciphertext), nonce: Buffer.from(row.nonce), keyId: row.encKeyId },
    binding(row.orgId, row.userId, row.provider),
  );
}

export async function setPersonalKey(
  s: Services,
  actor: Actor,
  input: { orgId: string; provider: AiProvider; apiKey: string },
) {
  const vendor = asVendor(input.provider);
  checkKeyFormat(vendor, input.apiKey);
  const sealed = sealPersonalKey(s.keyring, input.orgId, actor.userId, vendor, input.apiKey);
  const data = { ...sealed, hint: keyHint(input.apiKey), status: 'UNTESTED' as const, lastTestedAt: null };
  const saved = await s.db.$transaction(async (tx) => {
    const row = await tx.personalApiKey.upsert({
      where: { orgId_userId_provider: { orgId: input.orgId, userId: actor.userId, provider: vendor } },
      create: { orgId: input.orgId, userId: actor.userId, provider: vendor, ...data },
      update: data,
    });
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'personal_key.saved',
      detail: { provider: vendor },
    });
    return row;
  });
  s.caches.invalidate(cacheKeys.keys(input.orgId, actor.userId));
  s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
  return saved;
}

export async function deletePersonalKey(s: Services, actor: Actor, input: { orgId: string; provider: AiProvider }) {
  const vendor = asVendor(input.provider);
  const deleted = await s.db.$transaction(async (tx) => {
    const { count } = await tx.personalApiKey.deleteMany({
      where: { orgId: input.orgId, userId: actor.userId, provider: vendor },
    });
    if (count)
      await recordAudit(tx, {
        orgId: input.orgId,
        actorId: actor.userId,
        action: 'personal_key.deleted',
        detail: { provider: vendor },
      });
    return count > 0;
  });
  s.caches.invalidate(cacheKeys.keys(input.orgId, actor.userId));
  if (deleted) s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
  return deleted;
}

/**
 * The member's key in clear, for a provider call; NO_API_KEY when none is saved. The row comes from the instance's
 * cache of the member's keys (ciphertext, as stored); it is decrypted here, for this call only, and never kept.
 */
export async function personalKeyForCall(s: Services, orgId: string, userId: string, vendor: Vendor) {
  const row = (await s.caches.keysOf(orgId, userId)).find((k) => k.provider === vendor);
  if (!row) {
    return refuse(
      'NO_API_KEY',
      `No API key: you have no personal ${vendorName(vendor)} API key for this org. Add one under Org Settings → AI → Personal API key.`,
    );
  }
  try {
    return { row, apiKey: openPersonalKey(s.keyring, row) };
  } catch (err) {
    if (!(err instanceof DecryptionError)) throw err;
    // Sealed for another row (copied), or under a master key no longer in the keyring: unusable, and nothing to retry.
    s.log.warn('a saved personal API key could not be decrypted', {
      orgId,
      userId,
      provider: vendor,
      encKeyId: row.encKeyId,
    });
    return refuse(
      'NO_API_KEY',
      `No API key: your saved ${vendorName(vendor)} API key can no longer be read. Save it again under Org Settings → AI → Personal API key.`,
    );
  }
}

export interface KeyTestResult {
  ok: boolean;
  status: KeyStatus;
  message: string;
}

/** Calls the provider with the saved key (cheapest authenticated call) and records what it said. */
export async function testPersonalKey(
  s: Services,
  actor: Actor,
  input: { orgId: string; provider: AiProvider },
): Promise<KeyTestResult> {
  const vendor = asVendor(input.provider);
  const { row, apiKey } = await personalKeyForCall(s, input.orgId, actor.userId, vendor);
  const check = await s.providers[vendor].checkKey(apiKey);
  if (check.outcome === 'unreachable') return { ok: false, status: row.status, message: check.message };
  // 429 comes after authentication: the key is genuine, but it cannot serve Ivy right now.
  const status: KeyStatus = check.outcome === 'invalid' ? 'INVALID' : 'VALID';
  const testedAt = s.clock.now();
  await s.db.$transaction(async (tx) => {
    await tx.personalApiKey.update({ where: { id: row.id }, data: { status, lastTestedAt: testedAt } });
    await recordAudit(tx, {
      orgId: input.orgId,
      actorId: actor.userId,
      action: 'personal_key.tested',
      detail: { provider: vendor, status },
    });
  });
  s.caches.invalidate(cacheKeys.keys(input.orgId, actor.userId));
  s.pubsub.publish('orgAiSettingsChanged', input.orgId, { orgId: input.orgId });
  if (status !== row.status) pushKeyStatus(s, { ...input, userId: actor.userId, vendor }, row.status, status, testedAt);
  return { ok: check.outcome === 'valid', status, message: check.message };
}

/** Tells the member (and no one else) that their key's status changed. Published after commit. */
export function pushKeyStatus(
  s: Services,
  key: { orgId: string; userId: string; vendor: Vendor },
  previousStatus: KeyStatus,
  status: KeyStatus,
  testedAt: Date | null,
): void {
  s.pubsub.publish('viewerKeyStatusChanged', memberKey(key.orgId, key.userId), {
    orgId: key.orgId,
    userId: key.userId,
    provider: key.vendor,
    status,
    previousStatus,
    testedAt: testedAt?.toISOString() ?? null,
  });
}

/** Marks a key INVALID after the provider refused it mid-use (a 401 during an Ivy completion). */
export async function markKeyInvalid(s: Services, orgId: string, userId: string, vendor: Vendor): Promise<void> {
  const before = await s.db.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<{ status: KeyStatus }[]>`
      SELECT status::text AS status FROM personal_api_keys
      WHERE org_id = ${orgId}::uuid AND user_id = ${userId}::uuid AND provider = ${vendor}::"AiProvider" FOR UPDATE`;
    const { count } = await tx.personalApiKey.updateMany({
      where: { orgId, userId, provider: vendor },
      data: { status: 'INVALID' },
    });
    if (count)
      await recordAudit(tx, {
        orgId,
        actorId: userId,
        action: 'personal_key.invalidated',
        detail: { provider: vendor },
      });
    return row?.status;
  });
  s.caches.invalidate(cacheKeys.keys(orgId, userId));
  s.pubsub.publish('orgAiSettingsChanged', orgId, { orgId });
  if (before && before !== 'INVALID') pushKeyStatus(s, { orgId, userId, vendor }, before, 'INVALID', null);
}
