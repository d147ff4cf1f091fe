-- A credit hold in one statement (issue 10). It was an interactive transaction of three statements (claim the
-- requestId, debit the balance with its HOLD row, count it against the member's cap), so the org's row stayed locked
-- across three client round trips and the COMMIT's: on the busiest org every other hold queued behind them. Called as
-- one statement, the row is locked from the debit to the commit of that statement only.
--
-- The order of the steps is the one the interactive transaction had, and the one settlement uses: the completion row
-- (the requestId claim) first, then the org row, then the member's spend row. A repeated requestId is claimed before
-- the org row is locked, so waiting on another request's uncommitted claim never holds the org lock (40P01 before).
--
-- Nothing is half-written: a refusal raised inside the block rolls back every write of the block (its savepoint), and
-- the function returns the refusal as a value, so no PostgreSQL error reaches the client at all.
-- verdict: HELD (balance is the balance after the hold), DUPLICATE_REQUEST, INSUFFICIENT_CREDITS (balance
-- is the balance found), or MEMBER_CAP_REACHED.
CREATE FUNCTION ivy_reserve_credits(
  p_completion_id UUID,
  p_org_id UUID,
  p_user_id UUID,
  p_request_id TEXT,
  p_vendor "AiProvider",
  p_model TEXT,
  p_hold INTEGER,
  p_hold_expires_at TIMESTAMPTZ,
  p_spend_month DATE,
  p_fallback_reason TEXT,
  p_ledger_id UUID
) RETURNS TABLE (verdict TEXT, balance INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
  v_balance INTEGER;
  v_cap INTEGER;
BEGIN
  BEGIN
    INSERT INTO completions (id, org_id, user_id, request_id, vendor, model, hold_amount, hold_expires_at,
                             spend_month, fallback_reason)
    VALUES (p_completion_id, p_org_id, p_user_id, p_request_id, p_vendor, p_model, p_hold, p_hold_expires_at,
            p_spend_month, p_fallback_reason)
    ON CONFLICT (org_id, request_id) DO NOTHING;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'DUPLICATE_REQUEST'::TEXT, NULL::INTEGER;
      RETURN;
    END IF;

    UPDATE orgs SET credit_balance = credit_balance - p_hold
    WHERE id = p_org_id AND credit_balance >= p_hold
    RETURNING credit_balance INTO v_balance;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'IV001', MESSAGE = 'INSUFFICIENT_CREDITS';
    END IF;
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id)
    VALUES (p_ledger_id, p_org_id, 'HOLD', -p_hold, v_balance, p_completion_id);

    -- The member's cap (their own, else the org's default; none: no limit), checked in the upsert that counts the
    -- hold, which locks the member's spend row: no number of concurrent holds takes a member past it.
    SELECT COALESCE(m.credit_cap, o.member_cap_default) INTO v_cap
    FROM memberships m JOIN orgs o ON o.id = m.org_id
    WHERE m.org_id = p_org_id AND m.user_id = p_user_id;
    INSERT INTO member_spend AS s (org_id, user_id, month, spent)
    SELECT p_org_id, p_user_id, p_spend_month, p_hold
    WHERE v_cap IS NULL OR p_hold <= v_cap
    ON CONFLICT (org_id, user_id, month) DO UPDATE SET spent = s.spent + EXCLUDED.spent
    WHERE v_cap IS NULL OR s.spent + EXCLUDED.spent <= v_cap;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'IV002', MESSAGE = 'MEMBER_CAP_REACHED';
    END IF;

    RETURN QUERY SELECT 'HELD'::TEXT, v_balance;
  EXCEPTION
    WHEN SQLSTATE 'IV001' THEN
      RETURN QUERY SELECT 'INSUFFICIENT_CREDITS'::TEXT, (SELECT o.credit_balance FROM orgs o WHERE o.id = p_org_id);
    WHEN SQLSTATE 'IV002' THEN
      RETURN QUERY SELECT 'MEMBER_CAP_REACHED'::TEXT, NULL::INTEGER;
  END;
END;
$$;
