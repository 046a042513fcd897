-- 023_databases.sql - managed databases (API.md §5): one engine container
-- per database, run by its server's agent from the image table of the
-- plane's configuration (conf/database-images.conf), its data on a row of
-- volumes (sql/021) created with it.
--
-- The database keeps the rules:
--   - a name is unique in its project's environment (409);
--   - the password is sealed (purpose "db-password:<id>", listed in
--     sealed_columns); a rotation seals the new one into
--     pending_password_sealed, and the success of its job moves it;
--   - every change of state is a job (job_kinds below); a trigger moves the
--     row's status as the jobs end, however they end (agent, lease rules,
--     cancel), so that no row stays `provisioning` for ever;
--   - deleting a database (or its project) queues db.remove and cancels
--     its queued jobs; its volume stays unless the delete asked for the
--     data to go (api_database_delete), and a volume that holds a
--     database cannot be deleted on its own (volume_mounted_by);
--   - the agent's instance report covers database containers (item field
--     database_id): a running database whose container exited or restarted
--     by itself becomes `crashed`, with the reason.
-- Runtime log lines name an application or a database (runtime_logs).

SET search_path = launcher;

CREATE TABLE databases (
	id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id               uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id              uuid NOT NULL,
	environment_id          uuid NOT NULL,
	server_id               uuid NOT NULL,
	-- 48 at most: the volume db-<name>[-<8 hex>] and the host
	-- db-<name>-<8 hex> stay engine names (63).
	name                    text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$'),
	type                    text NOT NULL CHECK (type IN ('postgres', 'mysql', 'redis', 'mongodb')),
	version                 text NOT NULL CHECK (length(version) BETWEEN 1 AND 32),
	image                   text NOT NULL,	-- what it was provisioned from
	status                  text NOT NULL DEFAULT 'provisioning'
	                        CHECK (status IN ('provisioning', 'running', 'stopped', 'failed',
	                                          'crashed', 'restoring')),
	status_reason           text,
	pending_action          text CHECK (pending_action IN ('start', 'stop', 'restart',
	                                                       'rotate_password')),
	internal_host           text NOT NULL,
	port                    integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
	public                  boolean NOT NULL DEFAULT false,
	public_port             integer CHECK (public_port BETWEEN 1 AND 65535),
	pitr_enabled            boolean NOT NULL DEFAULT false,
	volume_id               uuid NOT NULL,
	cpu_limit               numeric(6, 3) CHECK (cpu_limit > 0 AND cpu_limit <= 256),
	memory_limit            bigint CHECK (memory_limit >= 6291456),
	db_user                 text NOT NULL,
	db_name                 text NOT NULL,
	password_sealed         text NOT NULL,
	pending_password_sealed text,
	container_id            text CHECK (container_id ~ '^[0-9a-f]{12,64}$'),
	restart_count           integer NOT NULL DEFAULT 0,
	row_version             bigint NOT NULL DEFAULT 1,
	created_at              timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at              timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT databases_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT databases_name_key UNIQUE (project_id, environment_id, name),
	CONSTRAINT databases_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	-- NO ACTION: an environment or server that holds databases cannot be
	-- deleted alone (the project's cascade takes all).
	CONSTRAINT databases_environment_id_fkey FOREIGN KEY (tenant_id, environment_id)
		REFERENCES environments (tenant_id, id),
	CONSTRAINT databases_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id),
	CONSTRAINT databases_volume_id_fkey FOREIGN KEY (tenant_id, volume_id)
		REFERENCES volumes (tenant_id, id)
);
CREATE INDEX databases_list ON databases (tenant_id, created_at, id);
CREATE INDEX databases_environment ON databases (environment_id, name);
CREATE INDEX databases_server ON databases (server_id);
CREATE INDEX databases_volume ON databases (volume_id);

SELECT tenant_owned('databases');
CREATE TRIGGER databases_quota BEFORE INSERT ON databases
	FOR EACH ROW EXECUTE FUNCTION quota_enforce('databases');

-- The password and the one a rotation is applying (sql/022).
INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose) VALUES
	('databases', 'id', 'password_sealed', 'tenant_id', '''db-password:'' || id'),
	('databases', 'id', 'pending_password_sealed', 'tenant_id', '''db-password:'' || id');

-- Only what users edit bumps the ETag; statuses are the agent's.
CREATE FUNCTION bump_database_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.version, NEW.public, NEW.cpu_limit, NEW.memory_limit, NEW.pitr_enabled,
	    NEW.password_sealed)
	   IS DISTINCT FROM
	   (OLD.name, OLD.version, OLD.public, OLD.cpu_limit, OLD.memory_limit, OLD.pitr_enabled,
	    OLD.password_sealed) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER databases_version BEFORE UPDATE ON databases
	FOR EACH ROW EXECUTE FUNCTION bump_database_version();

-- Every db.* job: lease, deadline, attempts.  A provision is retried once
-- (the agent's container name is fixed: a second attempt finds or replaces
-- the first one's); a removal outlives the database for a day.
INSERT INTO job_kinds VALUES
	('db.provision',       30,   900,  2),
	('db.start',           30,   300,  2),
	('db.stop',            30,   300,  2),
	('db.restart',         30,   300,  2),
	('db.rotate_password', 30,   300,  2),
	('db.remove',          30, 86400, 10);

-- The stored payload of a job on d (no secret: the claim adds the
-- password, fcgi/api/agent.c).  p_image: the image table's line for
-- d.type and d.version as the handler read it from the configuration
-- {image, data_path, readiness, env_names}.
CREATE FUNCTION database_job_payload(d databases, p_image jsonb)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'database_id', d.id, 'tenant_id', d.tenant_id, 'project_id', d.project_id,
		'name', d.name, 'type', d.type, 'version', d.version,
		'image', coalesce(p_image ->> 'image', d.image), 'port', d.port,
		'data_path', p_image -> 'data_path', 'readiness', p_image -> 'readiness',
		'env_names', p_image -> 'env_names', 'db_user', d.db_user, 'db_name', d.db_name,
		'internal_host', d.internal_host, 'network', 'lnchr-net-' || d.project_id,
		'volume', 'lnchr-vol-' || d.volume_id, 'volume_id', d.volume_id,
		'public', d.public, 'cpu_limit', d.cpu_limit, 'memory_limit', d.memory_limit,
		'container_id', d.container_id)
$$;

-- Queues kind on database p_db and shows p_pending as its pending action.
CREATE FUNCTION database_job(p_db uuid, p_kind text, p_image jsonb, p_pending text,
	p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE d databases; jid uuid;
BEGIN
	SELECT * INTO d FROM databases WHERE id = p_db FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'database not found' USING ERRCODE = 'P0002';
	END IF;
	jid := job_enqueue(d.tenant_id, d.server_id, d.project_id, p_kind,
	                   database_job_payload(d, p_image), p_user);
	IF p_pending IS NOT NULL THEN
		UPDATE databases SET pending_action = p_pending WHERE id = p_db;
	END IF;
	RETURN jid;
END $$;

-- The environment of a new resource of p_project: the one given (of this
-- project, else 400 naming environment_id), else the project's default;
-- the rule of applications (019).
CREATE FUNCTION project_environment(p_project uuid, p_given uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE env uuid;
BEGIN
	SELECT id INTO env FROM environments
	 WHERE project_id = p_project AND CASE WHEN p_given IS NULL THEN is_default ELSE id = p_given END;
	IF env IS NULL THEN
		RAISE EXCEPTION 'is not an environment of this project'
			USING ERRCODE = 'LN400', COLUMN = 'environment_id';
	END IF;
	RETURN env;
END $$;

-- POST /databases.  p_id: the id the handler sealed the password for;
-- p_body as the handler's field table validated it; p_image: the image
-- line (database_job_payload) plus its version (the type's default when
-- the body has none) and default port.  Placement as an
-- application's (environment given or the default, project_server());
-- the data volume is db-<name>, or db-<name>-<8 hex of the id> when the
-- project has that name already (same name in another environment).
CREATE FUNCTION api_database_create(p_id uuid, p_project uuid, p_body jsonb, p_image jsonb,
	p_password_sealed text, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE env uuid; srv uuid; vid uuid; nm text := p_body ->> 'name'; ty text := p_body ->> 'type';
	d databases;
BEGIN
	env := project_environment(p_project, (p_body ->> 'environment_id')::uuid);
	srv := project_server(p_project, (p_body ->> 'server_id')::uuid);
	IF EXISTS (SELECT 1 FROM databases WHERE project_id = p_project AND environment_id = env
	            AND name = nm) THEN
		RAISE EXCEPTION 'name: a database named % already exists in this environment', nm
			USING ERRCODE = 'LN409';
	END IF;
	INSERT INTO volumes (project_id, server_id, name, status)
	VALUES (p_project, srv, 'db-' || nm, 'pending')
	ON CONFLICT (project_id, name) DO NOTHING RETURNING id INTO vid;
	IF vid IS NULL THEN
		INSERT INTO volumes (project_id, server_id, name, status)
		VALUES (p_project, srv, 'db-' || nm || '-' || left(p_id::text, 8), 'pending')
		RETURNING id INTO vid;
	END IF;
	INSERT INTO databases (id, project_id, environment_id, server_id, name, type, version, image,
	                       internal_host, port, public, pitr_enabled, volume_id, cpu_limit,
	                       memory_limit, db_user, db_name, password_sealed)
	VALUES (p_id, p_project, env, srv, nm, ty, p_image ->> 'version', p_image ->> 'image',
	        'db-' || nm || '-' || left(replace(p_id::text, '-', ''), 8),
	        (p_image ->> 'port')::int, coalesce((p_body ->> 'public')::boolean, false),
	        coalesce((p_body ->> 'pitr_enabled')::boolean, false), vid,
	        (p_body ->> 'cpu_limit')::numeric, (p_body ->> 'memory_limit')::numeric::bigint,
	        CASE ty WHEN 'redis' THEN 'default' ELSE 'app' END,
	        CASE ty WHEN 'redis' THEN '0' ELSE replace(nm, '-', '_') END,
	        p_password_sealed)
	RETURNING * INTO d;
	PERFORM job_enqueue(d.tenant_id, d.server_id, d.project_id, 'db.provision',
	                    database_job_payload(d, p_image), p_user);
	RETURN d.id;
END $$;

-- DELETE /databases/:id: false when p_version no longer matches.  The
-- handler has checked the references first (409 listing applications).
-- p_delete_data: the volume goes too (its volume.remove job runs after
-- db.remove, and retries while the container still holds it).
CREATE FUNCTION api_database_delete(p_db uuid, p_version bigint, p_delete_data boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE d databases;
BEGIN
	SELECT * INTO d FROM databases WHERE id = p_db FOR UPDATE;
	IF NOT FOUND OR (p_version IS NOT NULL AND d.row_version <> p_version) THEN
		RETURN false;
	END IF;
	PERFORM set_config('launcher.db_delete_data', CASE WHEN p_delete_data THEN 'on' ELSE '' END,
	                   true);
	DELETE FROM databases WHERE id = p_db;
	PERFORM set_config('launcher.db_delete_data', '', true);
	IF p_delete_data THEN
		DELETE FROM volumes WHERE id = d.volume_id;
	END IF;
	RETURN true;
END $$;

-- A removed database (its own delete or its project's): the agent removes
-- its container; its queued jobs will not run, and a running one is
-- refused at the agent's next lease renewal or completion (005).  AFTER: the row is gone, so
-- the cancels' own trigger finds nothing to move.  The job belongs to no
-- project, so that it outlives it.
CREATE FUNCTION database_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
	       error = 'the database was deleted'
	 WHERE status IN ('queued', 'running') AND kind LIKE 'db.%' AND kind <> 'db.remove'
	   AND server_id = OLD.server_id AND payload ->> 'database_id' = OLD.id::text;
	PERFORM job_enqueue(OLD.tenant_id, OLD.server_id, NULL, 'db.remove',
		database_job_payload(OLD, NULL) || jsonb_build_object('delete_data',
			coalesce(current_setting('launcher.db_delete_data', true), '') = 'on'),
		NULL);
	RETURN NULL;
END $$;
CREATE TRIGGER databases_removed AFTER DELETE ON databases
	FOR EACH ROW EXECUTE FUNCTION database_removed();

-- A finished db.* job moves its database, whatever ended it.  Results of
-- db.provision, db.start, db.restart: {status: "running", container_id,
-- public_port}; a failure's reason is the job's error (the agent puts the
-- engine's last log lines there).  db.stop: stopped.  db.rotate_password:
-- the pending password becomes the password; a failed one is dropped.
CREATE FUNCTION database_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE res jsonb := coalesce(NEW.result, '{}'); db uuid; ok boolean := NEW.status = 'succeeded';
	why text := coalesce(NEW.error, CASE NEW.status WHEN 'cancelled' THEN 'cancelled' END);
	cid text; pport integer;
BEGIN
	IF NEW.payload ->> 'database_id' !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		RETURN NULL;
	END IF;
	db := (NEW.payload ->> 'database_id')::uuid;
	cid := CASE WHEN res ->> 'container_id' ~ '^[0-9a-f]{12,64}$' THEN res ->> 'container_id' END;
	pport := CASE WHEN jsonb_typeof(res -> 'public_port') = 'number'
	              AND (res ->> 'public_port')::numeric BETWEEN 1 AND 65535
	              THEN (res ->> 'public_port')::numeric::int END;
	IF NEW.kind IN ('db.provision', 'db.start', 'db.restart') THEN
		UPDATE databases SET pending_action = NULL,
		       status = CASE WHEN ok THEN 'running' ELSE 'failed' END,
		       status_reason = CASE WHEN ok THEN NULL ELSE why END,
		       container_id = coalesce(cid, container_id),
		       public_port = CASE WHEN ok THEN pport ELSE public_port END
		 WHERE id = db AND server_id = NEW.server_id;
		IF ok AND NEW.kind = 'db.provision' THEN
			UPDATE volumes SET status = 'ready'
			 WHERE id = (SELECT volume_id FROM databases WHERE id = db);
		END IF;
	ELSIF NEW.kind = 'db.stop' THEN
		UPDATE databases SET pending_action = NULL,
		       status = CASE WHEN ok THEN 'stopped' ELSE status END,
		       status_reason = CASE WHEN ok THEN NULL ELSE 'stop failed: ' || why END,
		       public_port = CASE WHEN ok THEN NULL ELSE public_port END
		 WHERE id = db AND server_id = NEW.server_id;
	ELSIF NEW.kind = 'db.rotate_password' THEN
		UPDATE databases SET pending_action = NULL,
		       password_sealed = CASE WHEN ok AND pending_password_sealed IS NOT NULL
		                         THEN pending_password_sealed ELSE password_sealed END,
		       pending_password_sealed = NULL,
		       status_reason = CASE WHEN ok THEN status_reason
		                       ELSE 'password rotation failed: ' || why END
		 WHERE id = db AND server_id = NEW.server_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_db_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind LIKE 'db.%')
	EXECUTE FUNCTION database_job_finished();

-- The applications (021) and now databases that hold a volume, for the
-- 409 of its delete.
CREATE OR REPLACE FUNCTION volume_mounted_by(p_volume uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT string_agg(x, ', ' ORDER BY x) FROM (
		SELECT DISTINCT a.name || ' (' || a.id || ')' AS x
		  FROM volume_mounts m JOIN applications a ON a.id = m.application_id
		 WHERE m.volume_id = p_volume
		UNION ALL
		SELECT 'database ' || d.name || ' (' || d.id || ')' FROM databases d
		 WHERE d.volume_id = p_volume) t
$$;

-- The agent's instance report (POST /agent/instances: agent_instances of
-- 006 and this, one statement) also carries database containers (item
-- database_id instead of app_id; instances keeps applications' alone).  A
-- database of this server that should run (status running, no action
-- pending, no job of it queued or running) crashes when its container is
-- not running or restarted on its own since the last report
-- (restart_count: the engine's count as last reported; a recreated
-- container starts again from 0); a crashed one whose container runs again
-- without restarting is running.
CREATE FUNCTION database_instances(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	WITH rep AS (
		SELECT DISTINCT ON (d.id) d.id, d.status AS was, d.restart_count AS known,
		       coalesce(x.state, x.status, 'unknown') AS state,
		       coalesce(x.restart_count, 0) AS restarts, x.exit_code,
		       CASE WHEN x.container_id ~ '^[0-9a-f]{12,64}$' THEN x.container_id END AS cid
		  FROM jsonb_to_recordset(p_items) AS x(database_id text, container_id text,
		       state text, status text, restart_count integer, exit_code integer)
		  JOIN databases d ON d.id = CASE WHEN x.database_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
		                                  THEN x.database_id::uuid END
		 WHERE d.server_id = p_server AND d.status IN ('running', 'crashed')
		   AND d.pending_action IS NULL
		   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = p_server
		                    AND j.status IN ('queued', 'running') AND j.kind LIKE 'db.%'
		                    AND j.payload ->> 'database_id' = d.id::text)
		 ORDER BY d.id, x.restart_count DESC NULLS LAST)
	UPDATE databases d SET
	       status = CASE WHEN x.crash THEN 'crashed' WHEN x.back THEN 'running' ELSE d.status END,
	       status_reason = CASE
	           WHEN x.crash AND x.state <> 'running' THEN format('the container is %s%s', x.state,
	                coalesce(' (exit code ' || x.exit_code || ')', ''))
	           WHEN x.crash THEN format('the container restarted by itself (%s restarts)', x.restarts)
	           WHEN x.back THEN NULL ELSE d.status_reason END,
	       restart_count = x.restarts, container_id = coalesce(x.cid, d.container_id)
	  FROM (SELECT rep.*,
	               rep.was = 'running' AND (rep.state <> 'running' OR rep.restarts > rep.known) AS crash,
	               rep.was = 'crashed' AND rep.state = 'running' AND rep.restarts <= rep.known AS back
	          FROM rep) x
	 WHERE d.id = x.id AND (x.crash OR x.back OR x.restarts <> x.known);
END $$;

-- Runtime log lines of database containers: a line names an application
-- or a database (GET /databases/:id/logs reads them as runtime-logs does).
ALTER TABLE runtime_logs ALTER COLUMN application_id DROP NOT NULL,
	ADD COLUMN database_id uuid,
	ADD CONSTRAINT runtime_logs_database_id_fkey FOREIGN KEY (tenant_id, database_id)
		REFERENCES databases (tenant_id, id) ON DELETE CASCADE,
	ADD CONSTRAINT runtime_logs_source_check CHECK (num_nonnulls(application_id, database_id) = 1);
CREATE INDEX runtime_logs_database ON runtime_logs (database_id, ts, id);

-- A terminal session (POST /databases/:id/terminal): what the WebSocket
-- endpoint will attach to /ws/terminal/:sessionId once, within
-- expires_at: the database's container and the client's argv from the
-- image table; the credentials are injected from the row at attach time,
-- never stored here.  A later application or server terminal adds its
-- own target column (exactly one is set).
CREATE TABLE terminal_sessions (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id  uuid NOT NULL,
	server_id   uuid NOT NULL,
	database_id uuid,
	command     jsonb NOT NULL CHECK (jsonb_typeof(command) = 'array'),
	created_by  uuid,	-- the user (a service key acts as its creator; the audit log names the key)
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at  timestamptz NOT NULL,
	attached_at timestamptz,
	CONSTRAINT terminal_sessions_target_check CHECK (num_nonnulls(database_id) = 1),
	CONSTRAINT terminal_sessions_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT terminal_sessions_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT terminal_sessions_database_id_fkey FOREIGN KEY (tenant_id, database_id)
		REFERENCES databases (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT terminal_sessions_created_by_fkey FOREIGN KEY (tenant_id, created_by)
		REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX terminal_sessions_project ON terminal_sessions (project_id);
CREATE INDEX terminal_sessions_server ON terminal_sessions (server_id);
CREATE INDEX terminal_sessions_database ON terminal_sessions (database_id);
CREATE INDEX terminal_sessions_created_by ON terminal_sessions (tenant_id, created_by);
SELECT tenant_owned('terminal_sessions');

GRANT EXECUTE ON FUNCTION project_environment(uuid, uuid), database_job_payload(databases, jsonb),
	database_job(uuid, text, jsonb, text, uuid),
	api_database_create(uuid, uuid, jsonb, jsonb, text, uuid),
	api_database_delete(uuid, bigint, boolean), database_instances(uuid, jsonb) TO launcher_api;
