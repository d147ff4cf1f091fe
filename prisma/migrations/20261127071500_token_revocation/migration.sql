-- Revocation: every bearer token of a user issued at or before this instant is refused (npm run token -- revoke).
ALTER TABLE "users" ADD COLUMN "tokens_valid_after" TIMESTAMPTZ(3);
