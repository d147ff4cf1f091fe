-- A credit hold commits without waiting for its WAL flush (issue 10: the time to first text delta).
--
-- Before a credits completion is sent upstream its hold must be decided (refusals come first), and the hold's commit
-- waited for the disk to flush the WAL: ~1.3-3.5 ms on this machine's disk (pgbench, one-row insert), most of the
-- 2 ms the whole API may add before the first text. The hold batch now commits with synchronous_commit = off: its
-- effects are visible to every other transaction at once, and reach the disk within the WAL writer's next rounds
-- (wal_writer_delay, 200 ms by default) or with the next synchronous commit, whichever comes first.
--
-- Why that is safe for the books:
-- - A crash of the API process loses nothing: PostgreSQL committed the hold and flushes it by itself.
-- - A crash of PostgreSQL itself within those few hundred milliseconds can lose the hold, and only as a whole: the
--   completion row, its HOLD ledger row, the balance debit and the member's spend are one transaction. The balance
--   it leaves still equals GRANTs + HOLDs + RELEASEs + OVERAGEs, and no row refers to the lost completion.
-- - WAL is one ordered log: a commit that did reach the disk (synchronous or not) carries every commit before it.
--   The settlement of a hold is a synchronous commit of a transaction that updated the hold's completion row, so it
--   comes after the hold in the log: once a settlement is durable, so is its hold, and no durable row can refer to a
--   lost hold (the same holds for later holds of the org that read the balance it left).
-- - What such a crash can cost: the completions whose holds were lost ran without a record. Their settlement finds
--   no row, charges nothing and says so (INTERNAL_SERVER_ERROR: "Nothing was charged"), and their requestIds can be
--   used again. Revenue of at most the completions accepted in the last few hundred milliseconds before a database
--   crash, never a ledger that does not add up.
-- Settlements, grants, overages and fallback holds keep synchronous commits.

CREATE OR REPLACE FUNCTION ivy_reserve_credits(p_items JSONB)
RETURNS TABLE (idx INTEGER, verdict TEXT, balance INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
  r RECORD;
  v_claimed INTEGER[] := '{}';
  v_balance INTEGER;
  v_cap INTEGER;
BEGIN
  -- This statement's transaction (the hold batch) commits without waiting for its WAL flush (see above).
  -- set_config(..., true) lasts to the end of the transaction, past this function's return.
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR r IN
    SELECT * FROM jsonb_to_recordset(p_items) AS x(idx INTEGER, completion_id UUID, org_id UUID, user_id UUID,
      request_id TEXT, vendor "AiProvider", model TEXT, hold INTEGER, hold_expires_at TIMESTAMPTZ, spend_month DATE,
      fallback_reason TEXT, created_at TIMESTAMPTZ, ledger_id UUID)
    ORDER BY x.org_id, x.request_id, x.idx
  LOOP
    INSERT INTO completions (id, org_id, user_id, request_id, vendor, model, hold_amount, hold_expires_at,
                             spend_month, fallback_reason, created_at)
    VALUES (r.completion_id, r.org_id, r.user_id, r.request_id, r.vendor, r.model, r.hold, r.hold_expires_at,
            r.spend_month, r.fallback_reason, COALESCE(r.created_at, now()))
    ON CONFLICT (org_id, request_id) DO NOTHING;
    IF FOUND THEN
      v_claimed := v_claimed || r.idx;
    ELSE
      RETURN QUERY SELECT r.idx, 'DUPLICATE_REQUEST'::TEXT, NULL::INTEGER;
    END IF;
  END LOOP;

  FOR r IN
    SELECT * FROM jsonb_to_recordset(p_items) AS x(idx INTEGER, completion_id UUID, org_id UUID, user_id UUID,
      hold INTEGER, spend_month DATE, ledger_id UUID)
    WHERE x.idx = ANY (v_claimed)
    ORDER BY x.org_id, x.idx
  LOOP
    UPDATE orgs SET credit_balance = credit_balance - r.hold
    WHERE id = r.org_id AND credit_balance >= r.hold
    RETURNING credit_balance INTO v_balance;
    IF NOT FOUND THEN
      DELETE FROM completions WHERE id = r.completion_id;
      RETURN QUERY SELECT r.idx, 'INSUFFICIENT_CREDITS'::TEXT, (SELECT o.credit_balance FROM orgs o WHERE o.id = r.org_id);
      CONTINUE;
    END IF;
    -- The member's cap (their own, else the org's default; none: no limit), checked in the upsert that counts the
    -- hold, which locks the member's spend row: no number of concurrent holds takes a member past it.
    SELECT COALESCE(m.credit_cap, o.member_cap_default) INTO v_cap
    FROM memberships m JOIN orgs o ON o.id = m.org_id
    WHERE m.org_id = r.org_id AND m.user_id = r.user_id;
    INSERT INTO member_spend AS s (org_id, user_id, month, spent)
    SELECT r.org_id, r.user_id, r.spend_month, r.hold
    WHERE v_cap IS NULL OR r.hold <= v_cap
    ON CONFLICT (org_id, user_id, month) DO UPDATE SET spent = s.spent + EXCLUDED.spent
    WHERE v_cap IS NULL OR s.spent + EXCLUDED.spent <= v_cap;
    IF NOT FOUND THEN
      UPDATE orgs SET credit_balance = credit_balance + r.hold WHERE id = r.org_id;
      DELETE FROM completions WHERE id = r.completion_id;
      RETURN QUERY SELECT r.idx, 'MEMBER_CAP_REACHED'::TEXT, NULL::INTEGER;
      CONTINUE;
    END IF;
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id)
    VALUES (r.ledger_id, r.org_id, 'HOLD', -r.hold, v_balance, r.completion_id);
    RETURN QUERY SELECT r.idx, 'HELD'::TEXT, v_balance;
  END LOOP;
END;
$$;
