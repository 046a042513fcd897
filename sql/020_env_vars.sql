-- 020_env_vars.sql - environment variables as one encrypted store
-- (API.md section 9): one row per variable of a scope (project,
-- environment or application), its value sealed by the plane.
--
-- Sealing (fcgi/core/secret.h, SECRET_ENV_VAR): value_sealed is the value
-- sealed with the tenant's key and the associated data
--   'env-var:' || scope || ':' || <scope id> || ':' || key
-- where <scope id> = coalesce(application_id, environment_id, project_id)
-- (env_var_purpose below), so a ciphertext copied to another row (another
-- key, scope or tenant) does not open.  The database never sees a value.
--
-- Writers bump row_version themselves (the API's every change of a
-- variable: `row_version = row_version + 1, updated_at = now()`); a
-- re-encryption that keeps the value (master-key rotation) updates
-- value_sealed alone: the ETag stays valid and no application is marked
-- pending.
--
-- pending_deploy: every change of what a deploy would read (a row added or
-- removed, a key renamed, a value changed with a new row_version) bumps
-- applications.env_version of each application the scope covers (project:
-- all of the project's; environment: that environment's; application:
-- itself), once per statement.  An application is pending while its
-- env_version is above that of its current deployment.
--
-- Limits: at most 1000 variables per scope (ENV_VARS_MAX_PER_SCOPE in
-- fcgi/api/api.h), values at most 65536 bytes (ENV_VARS_MAX_VALUE).  The
-- count is enforced here after each insert statement, under a
-- transaction-level advisory lock per scope (env_scope_lock): concurrent
-- writers of one scope queue on it and each counts what the others
-- committed (READ COMMITTED takes a fresh snapshot per statement), so no
-- two can both take the last slot.  The API takes the same lock before it
-- writes (env_scope_lock), so a bulk write is serialised as a whole.
--
-- applications.env_sealed (the map of the previous version) is no longer
-- written; `launcher-admin migrate` moves each one into application-scope
-- rows after the SQL migrations (fcgi/bin/launcher_admin.c, env_migrate),
-- since only the plane can open it.  The column is dropped by a later
-- migration once every installation has run that step.

SET search_path = launcher;

CREATE TABLE env_vars (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	environment_id uuid,
	application_id uuid,
	scope          text NOT NULL DEFAULT 'project',
	key            text NOT NULL,
	value_sealed   text NOT NULL,
	value_length   integer NOT NULL,
	is_secret      boolean NOT NULL DEFAULT false,
	description    text,
	row_version    bigint NOT NULL DEFAULT 1,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT env_vars_scope_check CHECK (
		(scope = 'project' AND environment_id IS NULL AND application_id IS NULL) OR
		(scope = 'environment' AND environment_id IS NOT NULL AND application_id IS NULL) OR
		(scope = 'application' AND application_id IS NOT NULL AND environment_id IS NULL)),
	CONSTRAINT env_vars_key_check CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]*$' AND length(key) <= 255),
	CONSTRAINT env_vars_value_check CHECK (value_length BETWEEN 0 AND 65536),
	CONSTRAINT env_vars_description_check CHECK (length(description) <= 1000),
	CONSTRAINT env_vars_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT env_vars_environment_id_fkey FOREIGN KEY (tenant_id, environment_id)
		REFERENCES environments (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT env_vars_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT env_vars_key_key UNIQUE NULLS NOT DISTINCT (project_id, environment_id, application_id, key)
);
-- Lists of a project (and its key, tenant_id + project_id); the scopes'
-- own reads and the keys of environments and applications.
CREATE INDEX env_vars_list ON env_vars (tenant_id, project_id, created_at, id);
CREATE INDEX env_vars_environment ON env_vars (environment_id);
CREATE INDEX env_vars_application ON env_vars (application_id);
SELECT tenant_owned('env_vars');

-- The associated data of a variable's value (secret_bound_purpose in C).
CREATE FUNCTION env_var_purpose(p_scope text, p_scope_id uuid, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT 'env-var:' || p_scope || ':' || p_scope_id::text || ':' || p_key
$$;

-- Checks that the scope belongs to the project (LN400 naming scope_id) and
-- takes the scope's lock until the end of the transaction.  Returns the
-- scope id (the project's own for scope project).
CREATE FUNCTION env_scope_lock(p_project uuid, p_scope text, p_scope_id uuid)
RETURNS uuid
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	sid uuid := coalesce(p_scope_id, CASE WHEN p_scope = 'project' THEN p_project END);
	ok  boolean;
BEGIN
	IF sid IS NULL THEN
		RAISE EXCEPTION 'is required for scope %', p_scope USING ERRCODE = 'LN400', COLUMN = 'scope_id';
	END IF;
	ok := CASE p_scope
	      WHEN 'project' THEN sid = p_project AND EXISTS (SELECT 1 FROM projects WHERE id = p_project)
	      WHEN 'environment' THEN EXISTS (SELECT 1 FROM environments WHERE id = sid AND project_id = p_project)
	      WHEN 'application' THEN EXISTS (SELECT 1 FROM applications WHERE id = sid AND project_id = p_project)
	      ELSE false END;
	IF NOT ok THEN
		RAISE EXCEPTION 'is not %', CASE p_scope WHEN 'project' THEN 'this project''s id'
			WHEN 'environment' THEN 'an environment of this project'
			WHEN 'application' THEN 'an application of this project'
			ELSE 'a scope (project, environment or application)' END
			USING ERRCODE = 'LN400', COLUMN = CASE WHEN p_scope IN ('project', 'environment',
			'application') THEN 'scope_id' ELSE 'scope' END;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended('env_vars/' || sid::text, 0));
	RETURN sid;
END $$;

-- After each insert statement: every scope it added to belongs to its
-- project, and holds at most 1000 variables.
CREATE FUNCTION env_vars_added() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	s record;
	n bigint;
BEGIN
	FOR s IN SELECT DISTINCT project_id, scope, coalesce(application_id, environment_id, project_id) AS sid
	           FROM new_rows ORDER BY 3 LOOP
		PERFORM env_scope_lock(s.project_id, s.scope, s.sid);
		n := CASE s.scope
		     WHEN 'project' THEN (SELECT count(*) FROM env_vars WHERE project_id = s.sid AND scope = 'project')
		     WHEN 'environment' THEN (SELECT count(*) FROM env_vars WHERE environment_id = s.sid)
		     ELSE (SELECT count(*) FROM env_vars WHERE application_id = s.sid) END;
		IF n > 1000 THEN
			RAISE EXCEPTION 'a scope holds at most 1000 variables (this one would hold %)', n
				USING ERRCODE = 'LN400', COLUMN = 'key';
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER env_vars_added AFTER INSERT ON env_vars
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION env_vars_added();

-- A variable stays in its scope (its value is bound to it).
CREATE FUNCTION env_vars_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'a variable cannot move to another scope' USING ERRCODE = 'LN400', COLUMN = 'scope';
END $$;
CREATE TRIGGER env_vars_fixed BEFORE UPDATE ON env_vars
	FOR EACH ROW WHEN ((OLD.tenant_id, OLD.project_id, OLD.environment_id, OLD.application_id, OLD.scope)
	                   IS DISTINCT FROM
	                   (NEW.tenant_id, NEW.project_id, NEW.environment_id, NEW.application_id, NEW.scope))
	EXECUTE FUNCTION env_vars_fixed();

-- pending_deploy (see the top): the applications each changed scope covers.
CREATE FUNCTION env_vars_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	ids uuid[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		ids := ARRAY(SELECT DISTINCT coalesce(application_id, environment_id, project_id) FROM new_rows);
	ELSIF TG_OP = 'DELETE' THEN
		ids := ARRAY(SELECT DISTINCT coalesce(application_id, environment_id, project_id) FROM old_rows);
	ELSE
		ids := ARRAY(SELECT DISTINCT coalesce(n.application_id, n.environment_id, n.project_id)
		               FROM new_rows n JOIN old_rows o ON o.id = n.id
		              WHERE n.key <> o.key
		                 OR (n.value_sealed <> o.value_sealed AND n.row_version <> o.row_version));
	END IF;
	IF cardinality(ids) > 0 THEN
		-- Scope ids are UUIDs of distinct rows: one id is one scope.  Rows
		-- are locked in id order, so that two statements touching
		-- overlapping sets of applications cannot deadlock.
		UPDATE applications SET env_version = env_version + 1
		 WHERE id IN (SELECT id FROM applications
		               WHERE id = ANY (ids) OR environment_id = ANY (ids) OR project_id = ANY (ids)
		               ORDER BY id FOR UPDATE);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER env_vars_touch_insert AFTER INSERT ON env_vars
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION env_vars_touch();
CREATE TRIGGER env_vars_touch_update AFTER UPDATE ON env_vars
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION env_vars_touch();
CREATE TRIGGER env_vars_touch_delete AFTER DELETE ON env_vars
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION env_vars_touch();

-- An application that moves to another environment takes that
-- environment's variables on its next deploy: pending as well.
CREATE FUNCTION app_environment_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.env_version := NEW.env_version + 1;
	RETURN NEW;
END $$;
CREATE TRIGGER applications_environment_moved BEFORE UPDATE OF environment_id ON applications
	FOR EACH ROW WHEN (OLD.environment_id IS DISTINCT FROM NEW.environment_id)
	EXECUTE FUNCTION app_environment_moved();

-- The server a new resource of p_project is placed on: the one given,
-- else the project's default, else the tenant's only server; errors name
-- server_id.  Applications (below) and volumes (021) are placed by it.
CREATE FUNCTION project_server(p_project uuid, p_given uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE srv uuid; n bigint;
BEGIN
	srv := coalesce(p_given, (SELECT default_server_id FROM projects WHERE id = p_project));
	IF srv IS NULL THEN
		SELECT count(*), min(id::text)::uuid INTO n, srv FROM servers;
		IF n <> 1 THEN
			RAISE EXCEPTION '%', CASE WHEN n = 0 THEN 'no server is registered yet'
				ELSE 'is required: the project has no default server and there are several' END
				USING ERRCODE = 'LN400', COLUMN = 'server_id';
		END IF;
	ELSIF NOT EXISTS (SELECT 1 FROM servers WHERE id = srv) THEN
		RAISE EXCEPTION 'server not found' USING ERRCODE = 'LN400', COLUMN = 'server_id';
	END IF;
	RETURN srv;
END $$;

-- An application's create no longer takes a sealed env map: the handler
-- writes its env as application-scope variables (bound to the new id) in
-- the same transaction.  Otherwise as in 019.
DROP FUNCTION api_application_create(uuid, jsonb, text, text, text);
CREATE FUNCTION api_application_create(p_project uuid, p_body jsonb, p_repo_url text,
	p_repo_cred text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	env uuid;
	srv uuid;
	aid uuid;
BEGIN
	SELECT id INTO env FROM environments
	 WHERE project_id = p_project
	   AND CASE WHEN body_value(p_body, 'environment_id') IS NULL THEN is_default
	            ELSE id = (p_body ->> 'environment_id')::uuid END;
	IF env IS NULL THEN
		RAISE EXCEPTION 'is not an environment of this project'
			USING ERRCODE = 'LN400', COLUMN = 'environment_id';
	END IF;
	srv := project_server(p_project, (p_body ->> 'server_id')::uuid);
	INSERT INTO applications (project_id, environment_id, server_id, registry_id,
		git_provider_id, name, app_type, source_type, repository_url, branch,
		dockerfile_path, build_context, build_args, image_url, compose, replicas,
		exposed_port, autodeploy, watch_paths, healthcheck_path,
		healthcheck_timeout_seconds, restart_policy, start_command, cpu_limit,
		memory_limit, volumes, depends_on, repository_credential_sealed)
	VALUES (p_project, env, srv, (p_body ->> 'registry_id')::uuid,
		(p_body ->> 'git_provider_id')::uuid, p_body ->> 'name',
		coalesce(p_body ->> 'app_type', 'web'), p_body ->> 'source_type', p_repo_url,
		coalesce(p_body ->> 'branch', 'main'), coalesce(p_body ->> 'dockerfile_path', 'Dockerfile'),
		coalesce(p_body ->> 'build_context', '.'), coalesce(body_value(p_body, 'build_args'), '{}'),
		p_body ->> 'image_url', p_body ->> 'compose',
		coalesce((p_body ->> 'replicas')::numeric::int, 1),
		(p_body ->> 'exposed_port')::numeric::int,
		coalesce((p_body ->> 'autodeploy')::boolean, false),
		coalesce(ARRAY(SELECT jsonb_array_elements_text(body_value(p_body, 'watch_paths'))), '{}'),
		p_body ->> 'healthcheck_path',
		coalesce((p_body ->> 'healthcheck_timeout_seconds')::numeric::int, 60),
		coalesce(p_body ->> 'restart_policy', 'always'), p_body ->> 'start_command',
		(p_body ->> 'cpu_limit')::numeric, (p_body ->> 'memory_limit')::numeric::bigint,
		coalesce(body_value(p_body, 'volumes'), '[]'),
		coalesce(ARRAY(SELECT jsonb_array_elements_text(body_value(p_body, 'depends_on'))::uuid),
		         '{}'),
		p_repo_cred)
	RETURNING id INTO aid;
	RETURN aid;
END $$;

-- What a reveal showed (GET /env-vars/values, /env-vars/:id/value): the
-- scope and the keys, never a value (fcgi/core/txn.h, txn_audit).
ALTER TABLE audit_log ADD COLUMN detail jsonb;

GRANT EXECUTE ON FUNCTION project_server(uuid, uuid), env_var_purpose(text, uuid, text),
	env_scope_lock(uuid, text, uuid),
	api_application_create(uuid, jsonb, text, text) TO launcher_api;
