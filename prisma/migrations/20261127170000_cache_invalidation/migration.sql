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
  -- Every column but those two, by name of the two: a column added later notifies without touching this trigger.
  FOR EACH ROW WHEN (to_jsonb(OLD) - 'credit_balance' - 'overage_owed' IS DISTINCT FROM
                     to_jsonb(NEW) - 'credit_balance' - 'overage_owed')
  EXECUTE FUNCTION ivy_notify_cache();

-- Personal keys: saved, deleted, tested, re-encrypted; not last_used_at, written by every BYOK completion.
CREATE TRIGGER personal_api_keys_notify_cache AFTER INSERT OR DELETE ON personal_api_keys
  FOR EACH ROW EXECUTE FUNCTION ivy_notify_cache();
CREATE TRIGGER personal_api_keys_notify_cache_changed AFTER UPDATE ON personal_api_keys
  FOR EACH ROW WHEN (to_jsonb(OLD) - 'last_used_at' IS DISTINCT FROM to_jsonb(NEW) - 'last_used_at')
  EXECUTE FUNCTION ivy_notify_cache();
