-- Credit holds and settlements in one statement each, and many of them in one statement (issue 10).
--
-- A hold was an interactive transaction of three statements (claim the requestId, debit the balance with its HOLD
-- row, count it against the member's cap), so the org's row stayed locked across three client round trips and the
-- COMMIT's. And every hold and every settlement of one org updates that org's row: they run one after another, each
-- holding the row until its commit is flushed to disk, so the busiest org could not move faster than one WAL flush
-- per hold and one per settlement (about 100 completions a second here). These functions take a batch: the API
-- process sends the holds (and the settlements) that arrive while the previous batch is in flight as one statement,
-- one transaction and one flush (group commit; src/domain/ledger-batches.ts). A batch of one is the unloaded case.
--
-- Lock order, the same in every ledger write: completion rows first (a hold's requestId claims, in requestId order;
-- a settlement's claims, in id order), then org rows (in id order), then members' spend rows. Claims come before any
-- org lock, so waiting on another transaction's uncommitted claim of a repeated requestId never holds an org lock (a
-- deadlock with that request's settlement, 40P01, before).
--
-- Nothing of a refused item is left: its claim is deleted and its debit undone in the same transaction (an item is
-- refused before its ledger row is written). Refusals are values, never PostgreSQL errors.

-- p_items: [{ idx, completion_id, org_id, user_id, request_id, vendor, model, hold, hold_expires_at, spend_month,
--             fallback_reason, created_at (null: the database's now), ledger_id }], all of one org or not.
-- verdict: HELD (balance: the balance right after this hold), DUPLICATE_REQUEST, INSUFFICIENT_CREDITS (balance: the
-- balance found) or MEMBER_CAP_REACHED.
CREATE FUNCTION ivy_reserve_credits(p_items JSONB)
RETURNS TABLE (idx INTEGER, verdict TEXT, balance INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
  r RECORD;
  v_claimed INTEGER[] := '{}';
  v_balance INTEGER;
  v_cap INTEGER;
BEGIN
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

-- The common settlement: a credits completion, still running, charged no more than it held. The charge stays
-- deducted, the rest is released (a RELEASE row), and the member's month moves from the hold to the charge.
-- p_items: [{ idx, completion_id, status, settled_at, charge, input_tokens, output_tokens, input_estimated,
--             output_estimated, delivered_chars, error_code, cached_input_tokens, cache_saving, note, ledger_id }]
-- settled: false for anything else (already settled, BYOK, or charged above its hold): the caller settles those one
-- by one in a transaction of their own. balance: the org's balance right after this RELEASE; org: that org.
CREATE FUNCTION ivy_settle_completions(p_items JSONB)
RETURNS TABLE (idx INTEGER, settled BOOLEAN, balance INTEGER, org UUID)
LANGUAGE plpgsql AS $$
DECLARE
  r RECORD;
  c RECORD;
  v_claimed JSONB := '[]';
  v_balance INTEGER;
BEGIN
  FOR r IN
    SELECT * FROM jsonb_to_recordset(p_items) AS x(idx INTEGER, completion_id UUID, status "CompletionStatus",
      settled_at TIMESTAMPTZ, charge INTEGER, input_tokens INTEGER, output_tokens INTEGER, input_estimated BOOLEAN,
      output_estimated BOOLEAN, delivered_chars INTEGER, error_code TEXT, cached_input_tokens INTEGER,
      cache_saving INTEGER, note TEXT, ledger_id UUID)
    ORDER BY x.completion_id, x.idx
  LOOP
    UPDATE completions SET status = r.status, settled_at = r.settled_at, credits_charged = r.charge,
      input_tokens = r.input_tokens, output_tokens = r.output_tokens, input_tokens_estimated = r.input_estimated,
      output_tokens_estimated = r.output_estimated, delivered_chars = r.delivered_chars, error_code = r.error_code,
      cached_input_tokens = r.cached_input_tokens, cache_saving_credits = r.cache_saving
    WHERE id = r.completion_id AND status = 'RUNNING' AND billing = 'CREDITS' AND hold_amount >= r.charge
    RETURNING org_id, user_id, hold_amount, spend_month INTO c;
    IF FOUND THEN
      v_claimed := v_claimed || jsonb_build_object('idx', r.idx, 'completion_id', r.completion_id, 'org_id', c.org_id,
        'user_id', c.user_id, 'month', c.spend_month, 'released', c.hold_amount - r.charge,
        'note', 'charged ' || r.charge || ' of ' || c.hold_amount || ' held; ' || r.note, 'ledger_id', r.ledger_id);
    ELSE
      RETURN QUERY SELECT r.idx, false, NULL::INTEGER, NULL::UUID;
    END IF;
  END LOOP;

  FOR r IN
    SELECT * FROM jsonb_to_recordset(v_claimed) AS x(idx INTEGER, completion_id UUID, org_id UUID, user_id UUID,
      month DATE, released INTEGER, note TEXT, ledger_id UUID)
    ORDER BY x.org_id, x.idx
  LOOP
    UPDATE orgs SET credit_balance = credit_balance + r.released WHERE id = r.org_id
    RETURNING credit_balance INTO v_balance;
    UPDATE member_spend SET spent = spent - r.released
    WHERE org_id = r.org_id AND user_id = r.user_id AND month = r.month;
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, completion_id, note)
    VALUES (r.ledger_id, r.org_id, 'RELEASE', r.released, v_balance, r.completion_id, r.note);
    RETURN QUERY SELECT r.idx, true, v_balance, r.org_id;
  END LOOP;
END;
$$;
