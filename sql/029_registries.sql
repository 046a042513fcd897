-- 029_registries.sql - container registries (API.md §14): the tenant's
-- credentials for private images, used by its applications' pulls (and
-- the push of a built image), and checked by a registry.test job.
--
-- A registry belongs to the tenant (like a server), not to a project:
-- every project of the tenant may name it in an application's registry_id.
-- The password is write-only and sealed (purpose 'registry-password',
-- core/secret.h SECRET_REGISTRY_PASSWORD), listed in
-- sealed_columns for the key rotation.  It leaves the database only in the
-- claim of a job that needs it (fcgi/api/agent.c), never in a job's stored
-- payload.
--
-- applications.registry_id now references a registry (composite key, the
-- rule of sql/016); NO ACTION: deleting a registry that applications use
-- is refused (api_registry_delete answers first with a 409 that lists
-- them; the key is the guarantee under concurrency).

SET search_path = launcher;

CREATE TABLE registries (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id       uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	type            text NOT NULL CHECK (type IN ('docker_hub', 'ghcr', 'gitlab', 'custom')),
	-- scheme://host[:port][/path], no credentials, query or fragment (the
	-- handler normalises it; the check is the database's last word).
	url             text NOT NULL CHECK (url ~ '^https?://[^/?#@\s]+(/[^?#@\s]*)?$'
	                                     AND length(url) <= 2048),
	username        text CHECK (length(username) <= 255),
	password_sealed text,
	row_version     bigint NOT NULL DEFAULT 1,
	created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT registries_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT registries_tenant_id_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX registries_list ON registries (tenant_id, created_at, id);
SELECT tenant_owned('registries');

INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
VALUES ('registries', 'id', 'password_sealed', 'tenant_id', '''registry-password''');

CREATE FUNCTION bump_registry_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.type, NEW.url, NEW.username, NEW.password_sealed)
	   IS DISTINCT FROM (OLD.name, OLD.type, OLD.url, OLD.username, OLD.password_sealed) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER registries_version BEFORE UPDATE ON registries
	FOR EACH ROW EXECUTE FUNCTION bump_registry_version();

-- The check of sql/016 goes; the key it announced comes.
ALTER TABLE applications DROP CONSTRAINT applications_registry_id_check;
ALTER TABLE applications ADD CONSTRAINT applications_registry_id_fkey
	FOREIGN KEY (tenant_id, registry_id) REFERENCES registries (tenant_id, id);
CREATE INDEX applications_registry ON applications (registry_id);

-- The applications using a registry, for the 409 of a delete.
CREATE FUNCTION registry_used_by(p_registry uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT string_agg(a.name || ' (' || a.id || ')', ', ' ORDER BY a.name, a.id)
	  FROM applications a WHERE a.registry_id = p_registry
$$;

-- DELETE /registries/:id (db_delete): 404 (P0002) for no such row, false
-- when p_version no longer matches; 409 while applications use it, naming
-- them.  The row lock orders it after a concurrent application write
-- naming it (whose key check locks the row KEY SHARE), which the check
-- then sees.
CREATE FUNCTION api_registry_delete(p_registry uuid, p_version bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE r registries; users text;
BEGIN
	SELECT * INTO r FROM registries WHERE id = p_registry FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'registry not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_version IS NOT NULL AND r.row_version <> p_version THEN
		RETURN false;
	END IF;
	users := registry_used_by(p_registry);
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'registry % is used by: %; point them at another registry (registry_id) first',
			r.name, users USING ERRCODE = 'LN409';
	END IF;
	DELETE FROM registries WHERE id = p_registry;
	RETURN true;
END $$;

-- POST /registries/:id/test: a job on check_server() (sql/025).  The
-- payload names the registry only; the claim adds its url and
-- credentials (fcgi/api/agent.c).  Not retried: a check that failed said
-- why, and the caller may ask again.
INSERT INTO job_kinds VALUES ('registry.test', 15, 120, 1);
