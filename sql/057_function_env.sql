-- 057_function_env.sql - a function's env is the env store's, as an
-- application's (API.md §7, §9): scope `function` (scope_id = the
-- function's id), merged project < environment < function, its references
-- resolved at POST /functions/:id/deploy by the one resolver.
--
--   - env_vars.function_id: the function scope's rows (deleted with the
--     function).  The scope id of a row is now
--     coalesce(function_id, application_id, environment_id, project_id)
--     everywhere it was coalesce(application_id, environment_id,
--     project_id): the sealing purpose (sealed_columns), the scope lock and
--     count, the pending-deploy bump and the search document.  These
--     functions of 020 and 046 are replaced for that reason alone:
--     env_scope_lock, env_vars_added, env_vars_touch (a function-scope row
--     would otherwise count as a project-scope one: every application of
--     the project marked pending), search_doc_env_var.
--   - functions.release_env_sealed: the env of the function's latest
--     deploy, every reference resolved (the deployments.env_sealed of an
--     application), sealed as an application's snapshot (SECRET_APP_ENV);
--     the claim of fn.deploy opens it, the runtime-log redaction reads it.
--   - functions.env_sealed (054: the map as written, never resolved) is no
--     longer written: `launcher-admin migrate` moves each one into
--     function-scope rows (env_migrate, as for applications' in 020);
--     a later migration drops the column.
--   - bucket keys: a function's successful fn.deploy and its delete end
--     the wait of every retiring key for it (bucket_keys_release, 056).

SET search_path = launcher;

ALTER TABLE env_vars ADD COLUMN function_id uuid,
	ADD CONSTRAINT env_vars_function_id_fkey FOREIGN KEY (tenant_id, function_id)
		REFERENCES functions (tenant_id, id) ON DELETE CASCADE,
	DROP CONSTRAINT env_vars_scope_check,
	ADD CONSTRAINT env_vars_scope_check CHECK (
		(scope = 'project' AND environment_id IS NULL AND application_id IS NULL
		 AND function_id IS NULL) OR
		(scope = 'environment' AND environment_id IS NOT NULL AND application_id IS NULL
		 AND function_id IS NULL) OR
		(scope = 'application' AND application_id IS NOT NULL AND environment_id IS NULL
		 AND function_id IS NULL) OR
		(scope = 'function' AND function_id IS NOT NULL AND environment_id IS NULL
		 AND application_id IS NULL)),
	DROP CONSTRAINT env_vars_key_key,
	ADD CONSTRAINT env_vars_key_key
		UNIQUE NULLS NOT DISTINCT (project_id, environment_id, application_id, function_id, key);
CREATE INDEX env_vars_function ON env_vars (function_id);

UPDATE sealed_columns
   SET purpose = '''env-var:'' || scope || '':'' || coalesce(function_id, application_id,'
                 ' environment_id, project_id) || '':'' || key'
 WHERE table_name = 'env_vars' AND column_name = 'value_sealed';

-- A variable stays in its scope (its value is bound to it): function_id too.
DROP TRIGGER env_vars_fixed ON env_vars;
CREATE TRIGGER env_vars_fixed BEFORE UPDATE ON env_vars
	FOR EACH ROW WHEN ((OLD.tenant_id, OLD.project_id, OLD.environment_id, OLD.application_id,
	                    OLD.function_id, OLD.scope)
	                   IS DISTINCT FROM
	                   (NEW.tenant_id, NEW.project_id, NEW.environment_id, NEW.application_id,
	                    NEW.function_id, NEW.scope))
	EXECUTE FUNCTION env_vars_fixed();

-- As in 020, with scope function.
CREATE OR REPLACE FUNCTION env_scope_lock(p_project uuid, p_scope text, p_scope_id uuid)
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
	      WHEN 'function' THEN EXISTS (SELECT 1 FROM functions WHERE id = sid AND project_id = p_project)
	      ELSE false END;
	IF NOT ok THEN
		RAISE EXCEPTION 'is not %', CASE p_scope WHEN 'project' THEN 'this project''s id'
			WHEN 'environment' THEN 'an environment of this project'
			WHEN 'application' THEN 'an application of this project'
			WHEN 'function' THEN 'a function of this project'
			ELSE 'a scope (project, environment, application or function)' END
			USING ERRCODE = 'LN400', COLUMN = CASE WHEN p_scope IN ('project', 'environment',
			'application', 'function') THEN 'scope_id' ELSE 'scope' END;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended('env_vars/' || sid::text, 0));
	RETURN sid;
END $$;

-- As in 020, with scope function.
CREATE OR REPLACE FUNCTION env_vars_added() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	s record;
	n bigint;
BEGIN
	FOR s IN SELECT DISTINCT project_id, scope,
	                coalesce(function_id, application_id, environment_id, project_id) AS sid
	           FROM new_rows ORDER BY 3 LOOP
		PERFORM env_scope_lock(s.project_id, s.scope, s.sid);
		n := CASE s.scope
		     WHEN 'project' THEN (SELECT count(*) FROM env_vars WHERE project_id = s.sid AND scope = 'project')
		     WHEN 'environment' THEN (SELECT count(*) FROM env_vars WHERE environment_id = s.sid)
		     WHEN 'function' THEN (SELECT count(*) FROM env_vars WHERE function_id = s.sid)
		     ELSE (SELECT count(*) FROM env_vars WHERE application_id = s.sid) END;
		IF n > 1000 THEN
			RAISE EXCEPTION 'a scope holds at most 1000 variables (this one would hold %)', n
				USING ERRCODE = 'LN400', COLUMN = 'key';
		END IF;
	END LOOP;
	RETURN NULL;
END $$;

-- As in 020: a function-scope row covers no application (its scope id is
-- the function's, which no application has).
CREATE OR REPLACE FUNCTION env_vars_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	ids uuid[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		ids := ARRAY(SELECT DISTINCT coalesce(function_id, application_id, environment_id, project_id)
		               FROM new_rows);
	ELSIF TG_OP = 'DELETE' THEN
		ids := ARRAY(SELECT DISTINCT coalesce(function_id, application_id, environment_id, project_id)
		               FROM old_rows);
	ELSE
		ids := ARRAY(SELECT DISTINCT coalesce(n.function_id, n.application_id, n.environment_id,
		                                      n.project_id)
		               FROM new_rows n JOIN old_rows o ON o.id = n.id
		              WHERE n.key <> o.key
		                 OR (n.value_sealed <> o.value_sealed AND n.row_version <> o.row_version));
	END IF;
	IF cardinality(ids) > 0 THEN
		UPDATE applications SET env_version = env_version + 1
		 WHERE id IN (SELECT id FROM applications
		               WHERE id = ANY (ids) OR environment_id = ANY (ids) OR project_id = ANY (ids)
		               ORDER BY id FOR UPDATE);
	END IF;
	RETURN NULL;
END $$;

-- As in 046: a function's variable is found under its function.
CREATE OR REPLACE FUNCTION search_doc_env_var(e env_vars) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(e.tenant_id, 'env_var', e.id, e.project_id,
	                  coalesce(e.function_id, e.application_id, e.environment_id), e.key, e.key,
	                  e.scope || ' ' || replace(e.key, '_', ' '))
$$;

-- The resolved env of the latest deploy (see the top).
ALTER TABLE functions ADD COLUMN release_env_sealed text;
INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose) VALUES
	('functions', 'id', 'release_env_sealed', 'tenant_id', '''app-env''');

-- A function that deployed (its fn.deploy succeeded) runs with the
-- bucket keys of now: the retiring keys that waited for it stop waiting.
CREATE FUNCTION fn_bucket_keys_after_deploy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ->> 'function_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		PERFORM bucket_keys_release((NEW.payload ->> 'function_id')::uuid);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_fn_bucket_keys AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running') AND NEW.status = 'succeeded'
	                   AND NEW.kind = 'fn.deploy')
	EXECUTE FUNCTION fn_bucket_keys_after_deploy();

-- A deleted function uses no key any more.
CREATE FUNCTION fn_bucket_keys_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bucket_keys_release(OLD.id);
	RETURN NULL;
END $$;
CREATE TRIGGER functions_bucket_keys AFTER DELETE ON functions
	FOR EACH ROW EXECUTE FUNCTION fn_bucket_keys_after_delete();
