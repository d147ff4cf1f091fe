-- A legacy ciphertext is nulled in the transaction that moves its row (src/domain/legacy-byok-move.ts), so the old
-- AES-CBC copy of a member's key does not outlive the move, nor deletePersonalKey.
ALTER TABLE "legacy_byok_settings" ALTER COLUMN "encrypted_key" DROP NOT NULL;

-- Rows moved before this migration still hold their ciphertext: shred them now.
UPDATE "legacy_byok_settings" SET "encrypted_key" = NULL WHERE "migrated_at" IS NOT NULL;
