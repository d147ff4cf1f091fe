-- A settlement above its hold (an overage) joins the settlement batch (issue 10).
--
-- ivy_settle_completions (migration 20261127140000) settled the common case in one statement and left an overage to a
-- transaction of its own: seven statements from the API process, the org's row locked from the fourth to the COMMIT's
-- WAL flush, while every other hold and settlement of the org waited. In the bench's one-org load, where 3 % of
-- completions are charged above their hold, those transactions halved the busiest org's throughput (368–453 against
-- 802–905 completions a second with no overages, alternated runs). An overage is now one more kind of item in the same
-- batch: the same statement, the same lock order (completion rows first, then org rows in id order, then members'
-- spend rows), one commit for the batch.
--
-- What an overage records is unchanged: nothing is released (a RELEASE row of 0, so every settlement has one); what
-- the balance covers is taken (an OVERAGE row, the balance after it) and counted in the member's month in full; what
-- it cannot cover is recorded as owed (orgs.overage_owed, completions.overage_uncovered); a credits.overage audit event
-- says by whom and how much.
--
-- p_items: [{ idx, completion_id, status, settled_at, charge, input_tokens, output_tokens, input_estimated,
--             output_estimated, delivered_chars, error_code, cached_input_tokens, cache_saving, note, ledger_id }]
-- settled: false for an item already settled or BYOK (the caller settles those without a ledger movement).
-- charged: what the completion was charged (its charge, or less when the balance could not cover an overage).
-- balance: the org's balance right after this settlement; org: that org.
DROP FUNCTION ivy_settle_completions(JSONB);
CREATE FUNCTION ivy_settle_completions(p_items JSONB)
RETURNS TABLE (idx INTEGER, settled BOOLEAN, charged INTEGER, balance INTEGER, org UUID)
LANGUAGE plpgsql AS $$
DECLARE
  r RECORD;
  c RECORD;
  v_claimed JSONB := '[]';
  v_balance INTEGER;
  v_taken INTEGER;
  v_owed INTEGER;
BEGIN
  FOR r IN
    SELECT * FROM jsonb_to_recordset(p_items) AS x(idx INTEGER, completion_id UUID, status "CompletionStatus",
      settled_at TIMESTAMPTZ, charge INTEGER, input_tokens INTEGER, output_tokens INTEGER, input_estimated BOOLEAN,
      output_estimated BOOLEAN, delivered_chars INTEGER, error_code TEXT, cached_input_tokens INTEGER,
      cache_saving INTEGER, note TEXT, ledger_id UUID)
    ORDER BY x.completion_id, x.idx
  LOOP
    -- credits_charged: the part the hold covers; an overage adds what the balance gives it, below.
    UPDATE completions SET status = r.status, settled_at = r.settled_at, credits_charged = LEAST(r.charge, hold_amount),
      input_tokens = r.input_tokens, output_tokens = r.output_tokens, input_tokens_estimated = r.input_estimated,
      output_tokens_estimated = r.output_estimated, delivered_chars = r.delivered_chars, error_code = r.error_code,
      cached_input_tokens = r.cached_input_tokens, cache_saving_credits = r.cache_saving
    WHERE id = r.completion_id AND status = 'RUNNING' AND billing = 'CREDITS'
    RETURNING org_id, user_id, request_id, hold_amount, spend_month INTO c;
    IF FOUND THEN
      v_claimed := v_claimed || jsonb_build_object('idx', r.idx, 'completion_id', r.completion_id, 'org_id', c.org_id,
        'user_id', c.user_id, 'request_id', c.request_id, 'month', c.spend_month, 'hold', c.hold_amount,
        'charge', r.charge, 'note', 'charged ' || r.charge || ' of ' || c.hold_amount || ' held; ' || r.note,
        'ledger_id', r.ledger_id);
    ELSE
      RETURN QUERY SELECT r.idx, false, NULL::INTEGER, NULL::INTEGER, NULL::UUID;
    END IF;
  END LOOP;

  FOR r IN
    SELECT * FROM jsonb_to_recordset(v_claimed) AS x(idx INTEGER, completion_id UUID, org_id UUID, user_id UUID,
      request_id TEXT, month DATE, hold INTEGER, charge INTEGER, note TEXT, ledger_id UUID)
    ORDER BY x.org_id, x.idx
  LOOP
    IF r.charge <= r.hold THEN
      -- The charge stays deducted, the rest is released, and the member's month moves from the hold to the charge.
      UPDATE orgs SET credit_balance = credit_balance + (r.hold - r.charge) WHERE id = r.org_id
      RETURNING credit_balance INTO v_balance;
      UPDATE member_spend SET spent = spent - (r.hold - r.charge)
      WHERE org_id = r.org_id AND user_id = r.user_id AND month = r.month;
      INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id, note)
      VALUES (r.ledger_id, r.org_id, 'RELEASE', r.hold - r.charge, v_balance, r.completion_id, r.note);
      RETURN QUERY SELECT r.idx, true, r.charge, v_balance, r.org_id;
    ELSE
      SELECT o.credit_balance INTO v_balance FROM orgs o WHERE o.id = r.org_id FOR NO KEY UPDATE;
      v_taken := LEAST(r.charge - r.hold, v_balance);
      v_owed := r.charge - r.hold - v_taken;
      UPDATE orgs SET credit_balance = v_balance - v_taken, overage_owed = overage_owed + v_owed WHERE id = r.org_id;
      UPDATE completions SET credits_charged = r.hold + v_taken, overage_uncovered = v_owed WHERE id = r.completion_id;
      UPDATE member_spend SET spent = spent + v_taken
      WHERE org_id = r.org_id AND user_id = r.user_id AND month = r.month;
      INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id, note)
      VALUES (r.ledger_id, r.org_id, 'RELEASE', 0, v_balance, r.completion_id, r.note);
      IF v_taken > 0 THEN
        INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id, note)
        VALUES (gen_random_uuid(), r.org_id, 'OVERAGE', -v_taken, v_balance - v_taken, r.completion_id,
                (r.charge - r.hold) || ' credits above the hold');
      END IF;
      INSERT INTO audit_events (id, org_id, actor_id, action, detail)
      VALUES (gen_random_uuid(), r.org_id, r.user_id, 'credits.overage', jsonb_build_object('requestId', r.request_id,
        'held', r.hold, 'charged', r.hold + v_taken, 'aboveHold', r.charge - r.hold, 'takenFromBalance', v_taken,
        'owed', v_owed));
      RETURN QUERY SELECT r.idx, true, r.hold + v_taken, v_balance - v_taken, r.org_id;
    END IF;
  END LOOP;
END;
$$;
