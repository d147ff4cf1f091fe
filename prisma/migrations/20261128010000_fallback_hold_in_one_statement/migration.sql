-- A fallback hold in one statement (issue 10: no transaction holds the org's row across round trips).
--
-- When a member's key is refused before any text and the org allows it, the running BYOK completion becomes a credits
-- one with a hold. That was an interactive transaction: the conversion and the org's debit in one statement, then the
-- member's cap in a second, then COMMIT, the org row locked from the first statement to the COMMIT's WAL flush, so
-- every other hold and settlement of the org waited behind two more round trips to the API process. A burst of
-- revoked keys in one org (a vendor revoking a leaked batch, say) would have serialized the org on them, as the
-- overages did before 20261127230000. The same checks now run in one function call, in the same lock order as a
-- reserve (the completion's row, then the org's, then the member's spend); a refusal undoes the conversion and the
-- debit inside the call (the block's subtransaction). The commit stays synchronous, as for every ledger movement
-- but the first hold (20261127160000).

CREATE OR REPLACE FUNCTION ivy_hold_for_fallback(p_completion_id UUID, p_org_id UUID, p_user_id UUID,
  p_vendor "AiProvider", p_model TEXT, p_hold INTEGER, p_spend_month DATE, p_fallback_reason TEXT, p_ledger_id UUID)
RETURNS TABLE (verdict TEXT, balance INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
  v_balance INTEGER;
  v_cap INTEGER;
BEGIN
  -- One block: a refusal raised in it undoes everything the block wrote (its subtransaction).
  BEGIN
    UPDATE completions SET billing = 'CREDITS', vendor = p_vendor, model = p_model, hold_amount = p_hold,
      spend_month = p_spend_month, fallback_reason = p_fallback_reason
    WHERE id = p_completion_id AND status = 'RUNNING' AND billing = 'BYOK';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'GONE'; -- settled meanwhile (the client pressed Stop): nothing to hold
    END IF;
    UPDATE orgs SET credit_balance = credit_balance - p_hold
    WHERE id = p_org_id AND credit_balance >= p_hold
    RETURNING credit_balance INTO v_balance;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'INSUFFICIENT_CREDITS';
    END IF;
    -- The member's cap (their own, else the org's default; none: no limit), as in ivy_reserve_credits.
    SELECT COALESCE(m.credit_cap, o.member_cap_default) INTO v_cap
    FROM memberships m JOIN orgs o ON o.id = m.org_id
    WHERE m.org_id = p_org_id AND m.user_id = p_user_id;
    INSERT INTO member_spend AS s (org_id, user_id, month, spent)
    SELECT p_org_id, p_user_id, p_spend_month, p_hold
    WHERE v_cap IS NULL OR p_hold <= v_cap
    ON CONFLICT (org_id, user_id, month) DO UPDATE SET spent = s.spent + EXCLUDED.spent
    WHERE v_cap IS NULL OR s.spent + EXCLUDED.spent <= v_cap;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'MEMBER_CAP_REACHED';
    END IF;
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id)
    VALUES (p_ledger_id, p_org_id, 'HOLD', -p_hold, v_balance, p_completion_id);
    RETURN QUERY SELECT 'HELD'::TEXT, v_balance;
  EXCEPTION WHEN raise_exception THEN
    -- Undone; the balance is read after that.
    RETURN QUERY SELECT SQLERRM, (SELECT o.credit_balance FROM orgs o WHERE o.id = p_org_id);
  END;
END;
$$;
