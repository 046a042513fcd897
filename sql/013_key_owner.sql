-- 013_key_owner.sql - a service key carries its creator's current role and
-- whether the account is active, so that a key request that does not need
-- the user object (all but /auth/me) finds its principal in one index
-- probe of service_keys instead of a join with users.  The copies are
-- kept in the same transaction as the change: set when a key is made,
-- and rewritten on every key of a user whose role or active flag changes.

SET search_path = launcher;

ALTER TABLE service_keys ADD COLUMN owner_role text, ADD COLUMN owner_active boolean;
UPDATE service_keys k SET owner_role = u.role, owner_active = u.active
  FROM users u WHERE u.id = k.created_by;
ALTER TABLE service_keys ALTER COLUMN owner_role SET NOT NULL,
	ALTER COLUMN owner_active SET NOT NULL;

CREATE FUNCTION service_keys_owner() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	SELECT u.role, u.active INTO NEW.owner_role, NEW.owner_active
	  FROM users u WHERE u.id = NEW.created_by;
	RETURN NEW;
END
$$;
CREATE TRIGGER service_keys_owner BEFORE INSERT OR UPDATE OF created_by ON service_keys
	FOR EACH ROW EXECUTE FUNCTION service_keys_owner();

CREATE FUNCTION users_keys_owner() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	UPDATE service_keys SET owner_role = NEW.role, owner_active = NEW.active
	 WHERE created_by = NEW.id;
	RETURN NULL;
END
$$;
CREATE TRIGGER users_keys_owner AFTER UPDATE OF role, active ON users
	FOR EACH ROW WHEN (NEW.role IS DISTINCT FROM OLD.role OR NEW.active IS DISTINCT FROM OLD.active)
	EXECUTE FUNCTION users_keys_owner();
CREATE INDEX service_keys_created_by ON service_keys (created_by);
