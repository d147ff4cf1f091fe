-- Cache invalidation (issue 10): every instance keeps in-memory copies of the rows a request reads before anything
-- else (a user's token revocation instant, a membership, an org's settings, a member's keys) and LISTENs on
-- `ivy_cache`. Each write to those rows, whoever makes it (the API, an operator command, SQL typed by hand),
-- notifies the key of what changed; the notification is sent at commit, to every instance sharing the database.
-- Payloads: user:<user id>, member:<org id>:<user id>, org:<org id>, keys:<org id>:<user id>.

-- The key of a row of one of those tables (the row as jsonb: plpgsql resolves every field a CASE names on any row).
CREATE FUNCTION ivy_cache_key(tbl text, r jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE tbl
    WHEN 'users' THEN 'user:' || (r->>'id')
    WHEN 'orgs' THEN 'org:' || (r->>'id')
    WHEN 'memberships' THEN 'member:' || (r->>'org_id') || ':' || (r->>'user_id')
    WHEN 'personal_api_keys' THEN 'keys:' || (r->>'org_id') || ':' || (r->>'user_id')
  END
$$;

-- An update notifies the old row's key and the new one's (the same one unless a key column moved); PostgreSQL
-- sends one notification per distinct payload per transaction, at commit.
CREATE FUNCTION ivy_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('ivy_cache', ivy_cache_key(TG_TABLE_NAME, to_jsonb(OLD)));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('ivy_cache', ivy_cache_key(TG_TABLE_NAME, to_jsonb(NEW)));
  END IF;
  RETURN NULL;
END
$$;

-- Users: revocation and deletion (and creation, so a "no such user" answer is never kept past it).
CREATE TRIGGER users_notify_cache AFTER INSERT OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION ivy_notify_cache();
CREATE TRIGGER users_notify_cache_revoked AFTER UPDATE OF tokens_valid_after ON users
  FOR EACH ROW WHEN (OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after)
  EXECUTE FUNCTION ivy_notify_cache();

-- Memberships: every change (added, removed, role, cap).
CREATE TRIGGER memberships_notify_cache AFTER INSERT OR UPDATE OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION ivy_notify_cache();

-- Orgs: every column but the balance's two, which move on every hold and are never cached.
CREATE TRIGGER orgs_notify_cache AFTER INSERT OR DELETE ON orgs
  FOR EACH ROW EXECUTE FUNCTION ivy_notify_cache();
CREATE TRIGGER orgs_notify_cache_settings AFTER UPDATE ON orgs
  FOR EACH ROW WHEN (
    (OLD.slug, OLD.name, OLD.plan, OLD.ai_provider, OLD.ai_model, OLD.grace_window_ends_at, OLD.member_cap_default,
     OLD.fallback_to_credits, OLD.created_at, OLD.updated_at)
    IS DISTINCT FROM
    (NEW.slug, NEW.name, NEW.plan, NEW.ai_provider, NEW.ai_model, NEW.grace_window_ends_at, NEW.member_cap_default,
     NEW.fallback_to_credits, NEW.created_at, NEW.updated_at))
  EXECUTE FUNCTION ivy_notify_cache();

-- Personal keys: saved, deleted, tested, re-encrypted; not last_used_at, written by every BYOK completion.
CREATE TRIGGER personal_api_keys_notify_cache AFTER INSERT OR DELETE ON personal_api_keys
  FOR EACH ROW EXECUTE FUNCTION ivy_notify_cache();
CREATE TRIGGER personal_api_keys_notify_cache_changed AFTER UPDATE ON personal_api_keys
  FOR EACH ROW WHEN (
    (OLD.org_id, OLD.user_id, OLD.provider, OLD.ciphertext, OLD.nonce, OLD.enc_key_id, OLD.hint, OLD.status,
     OLD.last_tested_at, OLD.created_at, OLD.updated_at)
    IS DISTINCT FROM
    (NEW.org_id, NEW.user_id, NEW.provider, NEW.ciphertext, NEW.nonce, NEW.enc_key_id, NEW.hint, NEW.status,
     NEW.last_tested_at, NEW.created_at, NEW.updated_at))
  EXECUTE FUNCTION ivy_notify_cache();
