-- 016_tenant_keys.sql - schema integrity: every reference from one
-- tenant's row to another row carries the tenant, every reference has a
-- foreign key, every foreign key has an index.
--
-- Why the tenant is in the key: PostgreSQL checks a foreign key without
-- row-level security, so `project_id REFERENCES projects` accepted another
-- tenant's project (a service key bound to it was then deleted when that
-- tenant deleted its project).  A row's own tenant_id is forced to the
-- request's tenant by the policies' WITH CHECK, so a key
-- (tenant_id, x_id) -> x (tenant_id, id) can only find a row of the same
-- tenant: the database refuses every cross-tenant reference by itself.
--
-- The rules (tests/api/test_schema.py checks them against the catalog):
--   1. a foreign key between two tenant-owned tables includes tenant_id on
--      both sides; the referenced table has UNIQUE (tenant_id, id);
--   2. each foreign key is named <table>_<column>_fkey after the column it
--      guards, so that a violation (SQLSTATE 23503) names the request's
--      field (fcgi/core/db.c, db_field);
--   3. each foreign key's columns lead some index (for a composite tenant
--      key its id column alone suffices: ids are unique on their own), so
--      that a cascade or a check on delete is an index probe, not a scan;
--   4. a uuid column named *_id (or created_by) has a foreign key unless
--      the test's list says why not (the audit log outlives what it names).
-- On delete each key keeps what the old one did; SET NULL of a composite
-- key nulls the id column only (PostgreSQL 15's SET NULL (column)).
--
-- Existing rows are cleaned where the reference can be dropped safely and
-- refused otherwise (below, per table).  A refused row stops the migration
-- with PostgreSQL's own message, which names the constraint and the key;
-- such a row cannot be made through the API, so it was made by hand and is
-- for whoever made it to fix (or delete) before running the migration again.

SET search_path = launcher;

DO $$
BEGIN
	IF current_setting('server_version_num')::integer < 150000 THEN
		RAISE EXCEPTION 'PostgreSQL 15 or later is required (ON DELETE SET NULL (column))';
	END IF;
END $$;

-- Every old key except those to tenants goes; the new ones replace them.
DO $$
DECLARE c record;
BEGIN
	FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
	          WHERE contype = 'f' AND connamespace = 'launcher'::regnamespace
	            AND confrelid <> 'launcher.tenants'::regclass LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
	END LOOP;
END $$;

-- Referenced tables: the target of (tenant_id, x_id).  Each of these
-- indexes also serves the table's own tenant_id key.
ALTER TABLE users        ADD CONSTRAINT users_tenant_id_id_key        UNIQUE (tenant_id, id);
ALTER TABLE projects     ADD CONSTRAINT projects_tenant_id_id_key     UNIQUE (tenant_id, id);
ALTER TABLE environments ADD CONSTRAINT environments_tenant_id_id_key UNIQUE (tenant_id, id);
ALTER TABLE servers      ADD CONSTRAINT servers_tenant_id_id_key      UNIQUE (tenant_id, id);
ALTER TABLE jobs         ADD CONSTRAINT jobs_tenant_id_id_key         UNIQUE (tenant_id, id);
ALTER TABLE applications ADD CONSTRAINT applications_tenant_id_id_key UNIQUE (tenant_id, id);
ALTER TABLE deployments  ADD CONSTRAINT deployments_tenant_id_id_key  UNIQUE (tenant_id, id);

-- Cleaning.  Cleaned, because the API let them in and the reference can go:
--   service keys bound to a project that is not one of their tenant's: the
--   key could never reach it (row-level security hides it) and nulling its
--   project_id would widen it to the whole tenant, so the key is deleted;
DELETE FROM service_keys k WHERE k.project_id IS NOT NULL AND NOT EXISTS
	(SELECT 1 FROM projects p WHERE p.tenant_id = k.tenant_id AND p.id = k.project_id);
--   a project's default_server_id that is not one of its tenant's servers
--   (it had no key at all): nulled, as deleting that server now does;
UPDATE projects p SET default_server_id = NULL WHERE default_server_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM servers s WHERE s.tenant_id = p.tenant_id
                    AND s.id = p.default_server_id);
--   registry_id and git_provider_id: there are no registries or git
--   providers yet, so every value named nothing; nulled (below, the check
--   that keeps them null until those sections add their tables);
UPDATE applications SET registry_id = NULL, git_provider_id = NULL
 WHERE registry_id IS NOT NULL OR git_provider_id IS NOT NULL;
--   an instance's deployment_id is the label an agent read off a container,
--   not a reference the API checked: one that is not a deployment of the
--   instance's application is nulled (the trigger below does the same for
--   every report from now on).
UPDATE instances i SET deployment_id = NULL WHERE deployment_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.tenant_id = i.tenant_id
                    AND d.id = i.deployment_id AND d.application_id = i.application_id);
-- Refused (the ADD CONSTRAINT below fails): every other violating row,
-- i.e. a reference to a row of another tenant or to no row at all, in a
-- column that the API only ever fills from a row of the request's own
-- tenant (deployments.server_id and .environment_id copy their
-- application's, which can be neither moved nor left behind).

-- users
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey
	FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE service_keys ADD CONSTRAINT service_keys_created_by_fkey
	FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE projects ADD CONSTRAINT projects_owner_id_fkey
	FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id);
ALTER TABLE project_members ADD CONSTRAINT project_members_user_id_fkey
	FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE project_invites ADD CONSTRAINT project_invites_created_by_fkey
	FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
	ON DELETE SET NULL (created_by);
-- Who queued a job or a deployment (new keys; users are deactivated, not
-- deleted, so these only act when the tenant goes).
ALTER TABLE jobs ADD CONSTRAINT jobs_created_by_fkey
	FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
	ON DELETE SET NULL (created_by);
ALTER TABLE deployments ADD CONSTRAINT deployments_created_by_fkey
	FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
	ON DELETE SET NULL (created_by);

-- projects
ALTER TABLE service_keys ADD CONSTRAINT service_keys_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE environments ADD CONSTRAINT environments_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE project_members ADD CONSTRAINT project_members_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE project_invites ADD CONSTRAINT project_invites_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE jobs ADD CONSTRAINT jobs_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE applications ADD CONSTRAINT applications_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE deployments ADD CONSTRAINT deployments_project_id_fkey
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE;

-- environments: NO ACTION (checked at the end of the statement): deleting
-- an environment that still holds an application is refused; the
-- project's cascade takes all of them.
ALTER TABLE applications ADD CONSTRAINT applications_environment_id_fkey
	FOREIGN KEY (tenant_id, environment_id) REFERENCES environments (tenant_id, id);
ALTER TABLE deployments ADD CONSTRAINT deployments_environment_id_fkey
	FOREIGN KEY (tenant_id, environment_id) REFERENCES environments (tenant_id, id);

-- servers: deleting a server with applications on it is refused (NO
-- ACTION, for deployments as for their applications); its metrics, jobs
-- and instances go with it; a project that named it as its default server
-- has none (new key).
ALTER TABLE projects ADD CONSTRAINT projects_default_server_id_fkey
	FOREIGN KEY (tenant_id, default_server_id) REFERENCES servers (tenant_id, id)
	ON DELETE SET NULL (default_server_id);
ALTER TABLE server_metrics ADD CONSTRAINT server_metrics_server_id_fkey
	FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE jobs ADD CONSTRAINT jobs_server_id_fkey
	FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE applications ADD CONSTRAINT applications_server_id_fkey
	FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id);
ALTER TABLE deployments ADD CONSTRAINT deployments_server_id_fkey
	FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id);
ALTER TABLE instances ADD CONSTRAINT instances_server_id_fkey
	FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE;

-- jobs
ALTER TABLE job_logs ADD CONSTRAINT job_logs_job_id_fkey
	FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE deployments ADD CONSTRAINT deployments_job_id_fkey
	FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE SET NULL (job_id);

-- applications
ALTER TABLE deployments ADD CONSTRAINT deployments_application_id_fkey
	FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id)
	ON DELETE CASCADE;
ALTER TABLE instances ADD CONSTRAINT instances_application_id_fkey
	FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id)
	ON DELETE CASCADE;
ALTER TABLE runtime_logs ADD CONSTRAINT runtime_logs_application_id_fkey
	FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id)
	ON DELETE CASCADE;

-- deployments
ALTER TABLE applications ADD CONSTRAINT applications_current_deployment_id_fkey
	FOREIGN KEY (tenant_id, current_deployment_id) REFERENCES deployments (tenant_id, id)
	ON DELETE SET NULL (current_deployment_id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE deployments ADD CONSTRAINT deployments_rollback_of_fkey
	FOREIGN KEY (tenant_id, rollback_of) REFERENCES deployments (tenant_id, id)
	ON DELETE SET NULL (rollback_of);
ALTER TABLE instances ADD CONSTRAINT instances_deployment_id_fkey
	FOREIGN KEY (tenant_id, deployment_id) REFERENCES deployments (tenant_id, id)
	ON DELETE SET NULL (deployment_id);

-- An agent's report names a container's deployment by its label: a label
-- that is not a deployment of the container's application is kept as no
-- deployment, rather than failing the whole report on the key above.
CREATE FUNCTION instances_deployment_known() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM deployments d WHERE d.tenant_id = NEW.tenant_id
	                AND d.id = NEW.deployment_id AND d.application_id = NEW.application_id) THEN
		NEW.deployment_id := NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER instances_deployment_known BEFORE INSERT OR UPDATE OF deployment_id ON instances
	FOR EACH ROW WHEN (NEW.deployment_id IS NOT NULL)
	EXECUTE FUNCTION instances_deployment_known();

-- Registries (API.md section 14) and git providers (section 15) have no
-- table yet, so no id can name one: the API refuses any value (SQLSTATE
-- 23514 on these checks, answered as 400 naming the field).  The section
-- that creates `registries` (or `git_providers`, tenant-owned, with
-- UNIQUE (tenant_id, id)) drops its check here and adds
--   applications_registry_id_fkey FOREIGN KEY (tenant_id, registry_id)
--     REFERENCES registries (tenant_id, id)          -- NO ACTION: "delete
--                                                    -- refuses while apps use it"
-- (and applications_git_provider_id_fkey likewise) with an index on it.
ALTER TABLE applications
	ADD CONSTRAINT applications_registry_id_check CHECK (registry_id IS NULL),
	ADD CONSTRAINT applications_git_provider_id_check CHECK (git_provider_id IS NULL);

-- Indexes.  A table whose only tenant-leading index was missing gets its
-- per-parent list index rebuilt with tenant_id in front (row-level
-- security puts tenant_id = the request's tenant into every API query, so
-- the index serves the same reads) rather than a second index to write.
DROP INDEX sessions_user;		-- was (user_id) WHERE revoked_at IS NULL
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
CREATE INDEX service_keys_project ON service_keys (tenant_id, project_id);
DROP INDEX project_members_list;
CREATE INDEX project_members_list ON project_members (tenant_id, project_id, created_at, id);
DROP INDEX project_invites_list;
CREATE INDEX project_invites_list ON project_invites (tenant_id, project_id, created_at, id);
CREATE INDEX project_invites_created_by ON project_invites (created_by);
DROP INDEX server_metrics_series;
CREATE INDEX server_metrics_series ON server_metrics (tenant_id, server_id, ts);
DROP INDEX job_logs_job;
CREATE INDEX job_logs_job ON job_logs (tenant_id, job_id, id);
DROP INDEX instances_app;
CREATE INDEX instances_app ON instances (tenant_id, application_id, created_at, id);
CREATE INDEX instances_deployment ON instances (deployment_id);
DROP INDEX runtime_logs_app;
CREATE INDEX runtime_logs_app ON runtime_logs (tenant_id, application_id, ts, id);
CREATE INDEX projects_owner ON projects (owner_id);
CREATE INDEX projects_default_server ON projects (default_server_id);
CREATE INDEX jobs_project ON jobs (project_id);
CREATE INDEX jobs_created_by ON jobs (created_by);
CREATE INDEX applications_environment ON applications (environment_id);
CREATE INDEX applications_current_deployment ON applications (current_deployment_id);
CREATE INDEX deployments_environment ON deployments (environment_id);
CREATE INDEX deployments_server ON deployments (server_id);
CREATE INDEX deployments_rollback_of ON deployments (rollback_of);
CREATE INDEX deployments_created_by ON deployments (created_by);
