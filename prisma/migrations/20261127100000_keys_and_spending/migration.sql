-- Keys and spending that look after themselves (issue 14): member caps, fallback to credits, cached input tokens,
-- and when each key was last used.

-- Monthly caps in credits: a default for every member of the org, and a member's own cap that overrides it.
-- NULL means no cap.
ALTER TABLE "orgs" ADD COLUMN "member_cap_default" INTEGER;
ALTER TABLE "orgs" ADD CONSTRAINT "orgs_member_cap_default_nonnegative" CHECK ("member_cap_default" >= 0);
ALTER TABLE "memberships" ADD COLUMN "credit_cap" INTEGER;
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_credit_cap_nonnegative" CHECK ("credit_cap" >= 0);

-- An admin's consent: a BYOK completion whose member has no usable key runs on Intervy Credits instead.
ALTER TABLE "orgs" ADD COLUMN "fallback_to_credits" BOOLEAN NOT NULL DEFAULT false;

-- What each member has spent (held or charged) in a calendar month (UTC): a hold counts against it in the same
-- transaction that debits the balance, and settlement moves it to the charge, like the balance.
CREATE TABLE "member_spend" (
    "org_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "month" DATE NOT NULL,
    "spent" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "member_spend_pkey" PRIMARY KEY ("org_id", "user_id", "month"),
    CONSTRAINT "member_spend_spent_nonnegative" CHECK ("spent" >= 0),
    CONSTRAINT "member_spend_month_is_first_day" CHECK (EXTRACT(DAY FROM "month") = 1)
);
ALTER TABLE "member_spend" ADD CONSTRAINT "member_spend_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "member_spend" ADD CONSTRAINT "member_spend_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The month a credits completion's hold counted against (settlement corrects that month's spend).
ALTER TABLE "completions" ADD COLUMN "spend_month" DATE;
-- Input tokens the provider served from its prompt cache (part of input_tokens), billed at the cached price, and
-- what that saved against the full input price.
ALTER TABLE "completions" ADD COLUMN "cached_input_tokens" INTEGER;
ALTER TABLE "completions" ADD COLUMN "cache_saving_credits" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "completions" ADD CONSTRAINT "completions_cache_figures_valid"
  CHECK ("cache_saving_credits" >= 0 AND ("cached_input_tokens" IS NULL OR "cached_input_tokens" >= 0));
-- Why a BYOK org's completion ran on credits: NO_API_KEY, KEY_INVALID or PROVIDER_AUTH_FAILED.
ALTER TABLE "completions" ADD COLUMN "fallback_reason" TEXT;
ALTER TABLE "completions" ADD CONSTRAINT "completions_fallback_is_credits"
  CHECK ("fallback_reason" IS NULL OR "billing" = 'CREDITS');

-- When a completion last used the key; the scheduled re-test picks the keys tested longest ago.
ALTER TABLE "personal_api_keys" ADD COLUMN "last_used_at" TIMESTAMPTZ(3);
CREATE INDEX "personal_api_keys_last_tested_at_idx" ON "personal_api_keys"("last_tested_at" ASC NULLS FIRST);
