-- 054_functions.sql - functions (API.md §7): code run by a small HTTP
-- shim per runtime (conf/functions/, fcgi/agent/fnshim.h) in one
-- long-lived container on a server, triggered over HTTP through the edge,
-- by cron (launcher-scheduler) or by POST /functions/:id/invoke; and the
-- record of every invocation.
--
-- The database keeps the rules:
--   - a function's jobs (fn.deploy, fn.invoke, fn.remove) carry what the
--     agent needs but the env, which the claim opens (fcgi/api/agent.c);
--   - a finished fn.deploy moves the function to running (with its
--     container) or failed; a finished fn.invoke fills its invocation row
--     from the job's result ({status, body, duration_ms, invocation}),
--     a failed one records the job's error;
--   - invocations of the http trigger come from the shim's
--     `LAUNCHER-INVOCATION {json}` lines in the runtime log the agent
--     ships (function containers are followed like applications': label
--     launcher.function); a line names its invocation's id, which for
--     invoke and cron is the row the plane made, so each call is one row;
--   - cron: exactly one invocation per (function, minute) by the unique
--     key (function_id, scheduled_for); launcher-scheduler asks for the
--     latest due minute only, so a missed window runs once, not N times
--     (fn_cron_fire);
--   - deleting a function (or its project) queues fn.remove, which
--     outlives it.
-- env: the function's env map is sealed with the application env's
-- purpose (SECRET_APP_ENV, apps_env_seal) in env_sealed; the env store
-- (sql/020) has no function scope yet.

SET search_path = launcher;

CREATE TABLE functions (
	id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id            uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id           uuid NOT NULL,
	environment_id       uuid NOT NULL,
	server_id            uuid NOT NULL,
	name                 text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	runtime              text NOT NULL CHECK (runtime IN ('node20', 'python3')),
	handler              text NOT NULL DEFAULT 'index.handler'
	                     CHECK (handler ~ '^[A-Za-z0-9_][A-Za-z0-9_/-]{0,127}\.[A-Za-z_][A-Za-z0-9_]{0,127}$'),
	-- {code} | {files: {path: content}} | {type: "git", repository_url, branch, path}
	source               jsonb NOT NULL CHECK (jsonb_typeof(source) = 'object'),
	triggers             jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(triggers) = 'array'),
	env_sealed           text,
	timeout_seconds      integer NOT NULL DEFAULT 30 CHECK (timeout_seconds BETWEEN 1 AND 900),
	memory_limit         bigint NOT NULL DEFAULT 134217728 CHECK (memory_limit >= 6291456),
	idle_timeout_seconds integer CHECK (idle_timeout_seconds > 0),
	-- created: never deployed; deploying; running; failed (status_reason).
	status               text NOT NULL DEFAULT 'created'
	                     CHECK (status IN ('created', 'deploying', 'running', 'failed')),
	status_reason        text,
	container_id         text,
	image_id             text,
	-- The last cron minute fired (fn_cron_fire); NULL = none yet.
	cron_last_at         timestamptz,
	row_version          bigint NOT NULL DEFAULT 1,
	created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at           timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT functions_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT functions_name_key UNIQUE (project_id, environment_id, name),
	CONSTRAINT functions_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT functions_environment_id_fkey FOREIGN KEY (tenant_id, environment_id)
		REFERENCES environments (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT functions_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id)
);
CREATE INDEX functions_list ON functions (tenant_id, created_at, id);
CREATE INDEX functions_server ON functions (server_id);
CREATE INDEX functions_environment ON functions (environment_id);

CREATE TABLE function_invocations (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	function_id   uuid NOT NULL,
	trigger       text NOT NULL CHECK (trigger IN ('http', 'cron', 'invoke')),
	status        text NOT NULL DEFAULT 'queued'
	              CHECK (status IN ('queued', 'running', 'ok', 'error', 'timeout', 'oom')),
	http_status   integer CHECK (http_status BETWEEN 100 AND 599),
	duration_ms   integer CHECK (duration_ms >= 0),
	started_at    timestamptz,
	finished_at   timestamptz,
	-- The cron minute this run is for (NULL for http and invoke).
	scheduled_for timestamptz,
	error         text CHECK (length(error) <= 8192),
	job_id        uuid,
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT function_invocations_minute_key UNIQUE (function_id, scheduled_for),
	CONSTRAINT function_invocations_function_id_fkey FOREIGN KEY (tenant_id, function_id)
		REFERENCES functions (tenant_id, id) ON DELETE CASCADE,
	-- The job that ran it (invoke, cron); a label once jobs expire.
	CONSTRAINT function_invocations_job_id_fkey FOREIGN KEY (tenant_id, job_id)
		REFERENCES jobs (tenant_id, id) ON DELETE SET NULL (job_id)
);
-- The list's keyset order, per function.
CREATE INDEX function_invocations_list ON function_invocations (function_id, created_at, id);
CREATE INDEX function_invocations_tenant ON function_invocations (tenant_id, created_at, id);
CREATE INDEX function_invocations_job ON function_invocations (job_id);

SELECT tenant_owned('functions', 'function_invocations');

-- The function's env map is sealed as an application's (SECRET_APP_ENV):
-- listed here, so a master-key rotation re-seals it with the rest.
INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose) VALUES
	('functions', 'id', 'env_sealed', 'tenant_id', '''app-env''');

-- A new ETag when what the user set changes (not on status moves).
CREATE FUNCTION bump_function_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.handler, NEW.source, NEW.triggers, NEW.env_sealed, NEW.timeout_seconds,
	    NEW.memory_limit, NEW.idle_timeout_seconds) IS DISTINCT FROM
	   (OLD.name, OLD.handler, OLD.source, OLD.triggers, OLD.env_sealed, OLD.timeout_seconds,
	    OLD.memory_limit, OLD.idle_timeout_seconds) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER functions_version BEFORE UPDATE ON functions
	FOR EACH ROW EXECUTE FUNCTION bump_function_version();

INSERT INTO job_kinds VALUES
	-- A build is not retried behind the user's back (like app.deploy).
	('fn.deploy', 30, 1800, 1),
	-- An invocation runs once: the timeout (<= 900 s) plus the start.
	('fn.invoke', 30,  960, 1),
	-- Clean-up outlives the function: retried for a day.
	('fn.remove', 30, 86400, 10);

-- <function>-<project>.<server base_domain>: the application convention
-- (app_hostname, sql/006).
CREATE FUNCTION fn_hostname(f functions)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT lower(f.name || '-' || p.name || '.' || coalesce(nullif(s.base_domain, ''), 'localhost'))
	  FROM projects p, servers s WHERE p.id = f.project_id AND s.id = f.server_id
$$;

-- What every fn.* job of f carries (no env: the claim adds it opened).
CREATE FUNCTION fn_job_payload(f functions)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'tenant_id', f.tenant_id, 'project_id', f.project_id, 'function_id', f.id,
		'name', f.name, 'runtime', f.runtime, 'handler', f.handler, 'source', f.source,
		'triggers', f.triggers, 'timeout_seconds', f.timeout_seconds,
		'memory_limit', f.memory_limit, 'hostname', fn_hostname(f),
		'network', 'lnchr-net-' || f.project_id)
$$;

-- POST /functions: p_body as the handler's field table validated it, its
-- env replaced by env_sealed (the map sealed, or null).  Placement as an
-- application's (environment given or the default, project_server()).
CREATE FUNCTION api_function_create(p_project uuid, p_body jsonb)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE fid uuid;
BEGIN
	INSERT INTO functions (project_id, environment_id, server_id, name, runtime, handler, source,
	                       triggers, env_sealed, timeout_seconds, memory_limit,
	                       idle_timeout_seconds)
	VALUES (p_project, project_environment(p_project, (p_body ->> 'environment_id')::uuid),
	        project_server(p_project, (p_body ->> 'server_id')::uuid), p_body ->> 'name',
	        p_body ->> 'runtime', coalesce(p_body ->> 'handler', 'index.handler'), p_body -> 'source',
	        coalesce(p_body -> 'triggers', '[]'), p_body ->> 'env_sealed',
	        coalesce((p_body ->> 'timeout_seconds')::int, 30),
	        coalesce((p_body ->> 'memory_limit')::numeric::bigint, 134217728),
	        (p_body ->> 'idle_timeout_seconds')::int)
	RETURNING id INTO fid;
	RETURN fid;
END $$;

-- POST /functions/:id/deploy: the build and the switch, one job.
CREATE FUNCTION fn_deploy(p_fn uuid, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE f functions; jid uuid;
BEGIN
	SELECT * INTO f FROM functions WHERE id = p_fn FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'function not found' USING ERRCODE = 'P0002';
	END IF;
	jid := job_enqueue(f.tenant_id, f.server_id, f.project_id, 'fn.deploy', fn_job_payload(f), p_user);
	UPDATE functions SET status = 'deploying', status_reason = NULL WHERE id = p_fn;
	RETURN jid;
END $$;

-- One invocation of f: its row (queued) and its fn.invoke job, which
-- names the row (the shim's invocation id).  p_minute: the cron minute
-- (NULL for invoke); a minute already recorded gives NULL, nothing queued.
CREATE FUNCTION fn_invocation_queue(f functions, p_trigger text, p_payload jsonb,
	p_minute timestamptz, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE inv uuid; jid uuid;
BEGIN
	INSERT INTO function_invocations (tenant_id, function_id, trigger, scheduled_for)
	VALUES (f.tenant_id, f.id, p_trigger, p_minute)
	ON CONFLICT (function_id, scheduled_for) DO NOTHING
	RETURNING id INTO inv;
	IF inv IS NULL THEN
		RETURN NULL;
	END IF;
	jid := job_enqueue(f.tenant_id, f.server_id, f.project_id, 'fn.invoke',
		fn_job_payload(f) || jsonb_build_object('invocation_id', inv, 'trigger', p_trigger,
			'payload', p_payload, 'container_id', f.container_id), p_user);
	UPDATE function_invocations SET job_id = jid WHERE id = inv;
	RETURN jid;
END $$;

-- POST /functions/:id/invoke: the job the answer waits for.  A function
-- never deployed is a 409.
CREATE FUNCTION fn_invoke(p_fn uuid, p_payload jsonb, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE f functions;
BEGIN
	SELECT * INTO f FROM functions WHERE id = p_fn;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'function not found' USING ERRCODE = 'P0002';
	END IF;
	IF f.status = 'created' THEN
		RAISE EXCEPTION 'the function was never deployed: POST /functions/%/deploy first', p_fn
			USING ERRCODE = 'LN409';
	END IF;
	RETURN fn_invocation_queue(f, 'invoke', p_payload, NULL, p_user);
END $$;

-- A finished fn.* job moves its function or fills its invocation.
CREATE FUNCTION fn_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE res jsonb := coalesce(NEW.result, '{}'); fid uuid; ok boolean := NEW.status = 'succeeded';
	why text := left(coalesce(NEW.error, CASE NEW.status WHEN 'cancelled' THEN 'cancelled' END), 8192);
	inv jsonb := coalesce(res -> 'invocation', '{}'); st text;
BEGIN
	IF NEW.payload ->> 'function_id' !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		RETURN NULL;
	END IF;
	fid := (NEW.payload ->> 'function_id')::uuid;
	IF NEW.kind = 'fn.deploy' THEN
		UPDATE functions SET status = CASE WHEN ok THEN 'running' ELSE 'failed' END,
		       status_reason = CASE WHEN ok THEN NULL ELSE why END,
		       container_id = CASE WHEN ok THEN coalesce(res ->> 'container_id', container_id)
		                      ELSE container_id END,
		       image_id = CASE WHEN ok THEN coalesce(res ->> 'image_id', image_id) ELSE image_id END
		 WHERE id = fid AND server_id = NEW.server_id;
	ELSIF NEW.kind = 'fn.invoke' AND NEW.payload ->> 'invocation_id' ~ '^[0-9a-f-]{36}$' THEN
		st := CASE WHEN NOT ok THEN 'error'
		           WHEN inv ->> 'status' IN ('ok', 'error', 'timeout', 'oom') THEN inv ->> 'status'
		           WHEN (res ->> 'status') ~ '^[0-9]{3}$' AND (res ->> 'status')::int < 500 THEN 'ok'
		           ELSE 'error' END;
		UPDATE function_invocations
		   SET status = st,
		       http_status = CASE WHEN (res ->> 'status') ~ '^[1-5][0-9]{2}$'
		                          THEN (res ->> 'status')::int END,
		       duration_ms = CASE WHEN jsonb_typeof(res -> 'duration_ms') = 'number'
		                          THEN greatest(0, (res ->> 'duration_ms')::numeric)::int END,
		       started_at = coalesce(NEW.started_at, started_at),
		       finished_at = coalesce(NEW.finished_at, now()),
		       error = CASE WHEN NOT ok THEN why ELSE left(nullif(inv ->> 'error', ''), 8192) END
		 WHERE id = (NEW.payload ->> 'invocation_id')::uuid AND function_id = fid;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_fn_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind LIKE 'fn.%')
	EXECUTE FUNCTION fn_job_finished();

-- An fn.invoke the agent claimed: its invocation is running from then.
CREATE FUNCTION fn_job_started() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ->> 'invocation_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		UPDATE function_invocations SET status = 'running', started_at = coalesce(NEW.started_at, now())
		 WHERE id = (NEW.payload ->> 'invocation_id')::uuid AND status = 'queued';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_fn_started AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status = 'queued' AND NEW.status = 'running' AND NEW.kind = 'fn.invoke')
	EXECUTE FUNCTION fn_job_started();

-- Removing a function (or its project) cancels its queued jobs and removes
-- its container and edge site (fn.remove); the job belongs to no project,
-- so that it outlives it.
CREATE FUNCTION fn_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobs SET status = 'cancelled', finished_at = now()
	 WHERE status = 'queued' AND kind IN ('fn.deploy', 'fn.invoke')
	   AND server_id = OLD.server_id AND payload ->> 'function_id' = OLD.id::text;
	PERFORM job_enqueue(OLD.tenant_id, OLD.server_id, NULL, 'fn.remove',
		jsonb_build_object('tenant_id', OLD.tenant_id, 'function_id', OLD.id, 'name', OLD.name),
		NULL);
	RETURN NULL;
END $$;
-- AFTER: the cancelled jobs' completion (fn_job_finished) finds no row to move.
CREATE TRIGGER functions_removed AFTER DELETE ON functions
	FOR EACH ROW EXECUTE FUNCTION fn_removed();

-- Runtime log lines of function containers (GET /functions/:id/logs), and
-- the shim's invocation lines, which record http-trigger calls.
ALTER TABLE runtime_logs ADD COLUMN function_id uuid,
	ADD CONSTRAINT runtime_logs_function_id_fkey FOREIGN KEY (tenant_id, function_id)
		REFERENCES functions (tenant_id, id) ON DELETE CASCADE,
	DROP CONSTRAINT runtime_logs_source_check,
	ADD CONSTRAINT runtime_logs_source_check
		CHECK (num_nonnulls(application_id, database_id, function_id) = 1);
CREATE INDEX runtime_logs_function ON runtime_logs (function_id, ts, id);

-- `LAUNCHER-INVOCATION {"id","trigger","status","http_status",
-- "duration_ms","started_at","error"}` (CONTRACT §5): a row per id; the
-- row the plane made for invoke and cron keeps what the job reports, and
-- a line fills only what is still empty.  A malformed line is left alone.
CREATE FUNCTION fn_log_invocation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE j jsonb;
BEGIN
	BEGIN
		j := substr(NEW.message, length('LAUNCHER-INVOCATION ') + 1)::jsonb;
	EXCEPTION WHEN others THEN
		RETURN NULL;
	END;
	IF jsonb_typeof(j) <> 'object' OR j ->> 'id' !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	   OR coalesce(j ->> 'status', '') NOT IN ('ok', 'error', 'timeout', 'oom') THEN
		RETURN NULL;
	END IF;
	INSERT INTO function_invocations (id, tenant_id, function_id, trigger, status, http_status,
	                                  duration_ms, started_at, finished_at, error)
	VALUES ((j ->> 'id')::uuid, NEW.tenant_id, NEW.function_id,
	        'http',	-- a line makes only http rows: invoke and cron rows are the plane's
	        j ->> 'status',
	        CASE WHEN (j ->> 'http_status') ~ '^[1-5][0-9]{2}$' THEN (j ->> 'http_status')::int END,
	        CASE WHEN (j ->> 'duration_ms') ~ '^[0-9]{1,9}(\.[0-9]*)?$'
	             THEN (j ->> 'duration_ms')::numeric::int END,
	        CASE WHEN (j ->> 'started_at') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' THEN (j ->> 'started_at')::timestamptz END,
	        NEW.ts, left(nullif(j ->> 'error', ''), 8192))
	ON CONFLICT (id) DO UPDATE
	   SET status = CASE WHEN function_invocations.status IN ('queued', 'running')
	                     THEN EXCLUDED.status ELSE function_invocations.status END,
	       http_status = coalesce(function_invocations.http_status, EXCLUDED.http_status),
	       duration_ms = coalesce(function_invocations.duration_ms, EXCLUDED.duration_ms),
	       started_at = coalesce(function_invocations.started_at, EXCLUDED.started_at),
	       error = coalesce(function_invocations.error, EXCLUDED.error)
	 WHERE function_invocations.function_id = EXCLUDED.function_id;
	RETURN NULL;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR numeric_value_out_of_range
	OR check_violation THEN
	RETURN NULL;
END $$;
CREATE TRIGGER runtime_logs_fn_invocation AFTER INSERT ON runtime_logs
	FOR EACH ROW WHEN (NEW.function_id IS NOT NULL AND NEW.message LIKE 'LAUNCHER-INVOCATION {%')
	EXECUTE FUNCTION fn_log_invocation();

-- ---------------------------------------------------------------- cron
-- launcher-scheduler (launcher_maint) across tenants: the cron triggers of
-- deployed functions, and the firing of one minute.

CREATE FUNCTION fn_cron_triggers()
RETURNS TABLE (function_id uuid, schedule text, timezone text, last_at timestamptz,
	created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT f.id, t ->> 'schedule', coalesce(nullif(t ->> 'timezone', ''), 'UTC'), f.cron_last_at,
	       f.created_at
	  FROM functions f, jsonb_array_elements(f.triggers) t
	 WHERE f.status IN ('deploying', 'running') AND t ->> 'type' = 'cron'
	 ORDER BY f.id
$$;

-- Fires minute p_minute of function p_fn: one invocation row and its
-- fn.invoke job, exactly once per (function, minute) by the unique key;
-- the scheduler passes only the latest due minute after p_fn's
-- cron_last_at, so a missed window runs once.  true when it queued.
CREATE FUNCTION fn_cron_fire(p_fn uuid, p_minute timestamptz)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE f functions; jid uuid;
BEGIN
	SELECT * INTO f FROM functions WHERE id = p_fn FOR UPDATE;
	IF NOT FOUND OR f.status NOT IN ('deploying', 'running') THEN
		RETURN false;
	END IF;
	jid := fn_invocation_queue(f, 'cron', jsonb_build_object('scheduled_for', p_minute), p_minute,
	                           NULL);
	UPDATE functions SET cron_last_at = greatest(cron_last_at, p_minute) WHERE id = p_fn;
	RETURN jid IS NOT NULL;
END $$;
REVOKE ALL ON FUNCTION fn_cron_triggers(), fn_cron_fire(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fn_cron_triggers(), fn_cron_fire(uuid, timestamptz) TO launcher_maint;
