-- 018_quotas.sql - per-tenant quotas: how many projects, applications (and,
-- once that section exists, databases) a tenant may have.
--
-- A limit is a tenant's row in quotas (set by an operator with
-- `launcher-admin quota set`; max_count NULL = no limit), else the
-- installation's default: the pool's config keys quota_projects,
-- quota_applications, quota_databases, which every pool session carries
-- as the setting launcher.quota_defaults (fcgi/core/db.c; 0 = no limit).
-- A session without that setting (the owner's, launcher-admin's) is held
-- only to the tenant's own rows.
--
-- Enforced by one trigger function on every counted table, before each
-- insert: under a transaction-level advisory lock per (tenant, kind) it
-- counts the tenant's rows and refuses the insert when the limit is
-- reached.  Concurrent creates of one tenant queue on the lock, and each
-- statement of a PL/pgSQL function takes a fresh snapshot under READ
-- COMMITTED (the isolation of txn_run), so the count includes every
-- committed create: no two transactions can both take the last slot.
-- The refusal is SQLSTATE LN403: 403 FORBIDDEN with the message below.
-- A later section counts its table with one line:
--   CREATE TRIGGER databases_quota BEFORE INSERT ON databases
--       FOR EACH ROW EXECUTE FUNCTION quota_enforce('databases');

SET search_path = launcher;

CREATE TABLE quotas (
	tenant_id  uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
	kind       text NOT NULL CHECK (kind IN ('projects', 'applications', 'databases')),
	max_count  integer CHECK (max_count >= 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, kind)
);
-- The API reads its own tenant's limits (the trigger runs as the caller);
-- only operators change them.
SELECT tenant_owned('quotas');
REVOKE INSERT, UPDATE, DELETE ON quotas FROM launcher_api;

CREATE FUNCTION quota_enforce() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	v_kind text := TG_ARGV[0];
	v_max  integer;
	v_used bigint;
BEGIN
	SELECT q.max_count INTO v_max FROM quotas q
	 WHERE q.tenant_id = NEW.tenant_id AND q.kind = v_kind;
	IF NOT FOUND THEN
		v_max := nullif(nullif(current_setting('launcher.quota_defaults', true), '')::jsonb
		                ->> v_kind, '')::integer;
		IF v_max = 0 THEN
			v_max := NULL;
		END IF;
	END IF;
	IF v_max IS NULL THEN
		RETURN NEW;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended('quota/' || NEW.tenant_id || '/' || v_kind, 0));
	EXECUTE format('SELECT count(*) FROM %I.%I WHERE tenant_id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
	   INTO v_used USING NEW.tenant_id;
	IF v_used >= v_max THEN
		RAISE EXCEPTION 'quota_exceeded: this tenant may have at most % %; delete one or ask the operator to raise the quota',
			v_max, v_kind
			USING ERRCODE = 'LN403';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER projects_quota BEFORE INSERT ON projects
	FOR EACH ROW EXECUTE FUNCTION quota_enforce('projects');
CREATE TRIGGER applications_quota BEFORE INSERT ON applications
	FOR EACH ROW EXECUTE FUNCTION quota_enforce('applications');

-- For launcher-admin's `quota list`: rows of KIND (its table has the same
-- name) the tenant has; NULL when that table does not exist (yet).
CREATE FUNCTION quota_usage(p_tenant uuid, p_kind text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	v_used bigint;
BEGIN
	IF to_regclass(format('launcher.%I', p_kind)) IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE format('SELECT count(*) FROM launcher.%I WHERE tenant_id = $1', p_kind)
	   INTO v_used USING p_tenant;
	RETURN v_used;
END
$$;
REVOKE ALL ON FUNCTION quota_usage(uuid, text) FROM PUBLIC;
