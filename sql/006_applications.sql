-- 006_applications.sql - applications, their deployments (immutable
-- releases), the containers that run them (instances), runtime logs, and
-- the job kinds table that every job's lease and deadline come from.

SET search_path = launcher;

-- One place for each job kind's lease, deadline and attempts: job_enqueue()
-- reads it, whether the job is queued by a handler or by a trigger.
CREATE TABLE job_kinds (
	kind             text PRIMARY KEY,
	lease_seconds    integer NOT NULL CHECK (lease_seconds BETWEEN 5 AND 3600),
	deadline_seconds integer NOT NULL CHECK (deadline_seconds > 0),
	max_attempts     integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 10)
);
INSERT INTO job_kinds VALUES
	('diagnostics',  30,  120, 2),
	('noop',         10,  900, 2),	-- queue tests and health checks
	-- A deploy is not retried behind the user's back: a lost agent fails it.
	('app.deploy',   30, 1800, 1),
	('app.scale',    30,  600, 1),
	('app.start',    30,  300, 2),
	('app.stop',     30,  300, 2),
	('app.restart',  30,  300, 2),
	-- Clean-up outlives the application: retried for a day.
	('app.remove',   30, 86400, 10),
	('app.exec',     30,  660, 1);
GRANT SELECT ON job_kinds TO launcher_api;

CREATE FUNCTION job_enqueue(p_tenant uuid, p_server uuid, p_project uuid, p_kind text,
	p_payload jsonb, p_created_by uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE k job_kinds; jid uuid;
BEGIN
	SELECT * INTO k FROM job_kinds WHERE kind = p_kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown job kind %', p_kind;
	END IF;
	INSERT INTO jobs (tenant_id, server_id, project_id, kind, payload, lease_seconds,
	                  max_attempts, deadline_at, created_by)
	VALUES (p_tenant, p_server, p_project, p_kind, coalesce(p_payload, '{}'), k.lease_seconds,
	        k.max_attempts, now() + make_interval(secs => k.deadline_seconds), p_created_by)
	RETURNING id INTO jid;
	RETURN jid;
END $$;

CREATE TABLE applications (
	id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id                   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id                  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
	-- NO ACTION (checked at the end of the statement): deleting the
	-- environment alone is refused; the project's cascade takes both.
	environment_id              uuid NOT NULL REFERENCES environments,
	server_id                   uuid NOT NULL REFERENCES servers,
	registry_id                 uuid,
	git_provider_id             uuid,
	name                        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	app_type                    text NOT NULL DEFAULT 'web' CHECK (app_type IN ('web', 'worker', 'api')),
	source_type                 text NOT NULL CHECK (source_type IN ('git', 'docker_image', 'docker_compose')),
	-- Without credentials: a user:token@ given in the URL is split off and
	-- sealed (crypto_seal, purpose "app-repo-credential"); the agent gets it
	-- back only in the claim of a deploy job.
	repository_url              text CHECK (length(repository_url) <= 2048 AND repository_url !~ '^[a-z]+://[^/]*@'),
	repository_credential_sealed text,
	branch                      text NOT NULL DEFAULT 'main' CHECK (length(branch) BETWEEN 1 AND 255),
	dockerfile_path             text NOT NULL DEFAULT 'Dockerfile' CHECK (length(dockerfile_path) BETWEEN 1 AND 1024),
	build_context               text NOT NULL DEFAULT '.' CHECK (length(build_context) BETWEEN 1 AND 1024),
	build_args                  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(build_args) = 'object'),
	image_url                   text CHECK (length(image_url) <= 1024),
	compose                     text,
	replicas                    integer NOT NULL DEFAULT 1 CHECK (replicas BETWEEN 0 AND 50),
	exposed_port                integer CHECK (exposed_port BETWEEN 1 AND 65535),
	autodeploy                  boolean NOT NULL DEFAULT false,
	watch_paths                 text[] NOT NULL DEFAULT '{}',
	healthcheck_path            text CHECK (healthcheck_path ~ '^/'),
	healthcheck_timeout_seconds integer NOT NULL DEFAULT 60 CHECK (healthcheck_timeout_seconds BETWEEN 1 AND 900),
	restart_policy              text NOT NULL DEFAULT 'always'
	                            CHECK (restart_policy IN ('always', 'on-failure', 'unless-stopped', 'no')),
	start_command               text CHECK (length(start_command) <= 4096),
	cpu_limit                   numeric(6, 3) CHECK (cpu_limit > 0 AND cpu_limit <= 256),
	memory_limit                bigint CHECK (memory_limit >= 6291456),
	volumes                     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(volumes) = 'array'),
	depends_on                  uuid[] NOT NULL DEFAULT '{}',
	-- The app's own env map as sealed JSON (crypto_seal, purpose "app-env").
	env_sealed                  text,
	env_version                 integer NOT NULL DEFAULT 0,
	-- Git push webhooks (the Webhooks issue adds the receiving endpoint).
	webhook_token               text UNIQUE,
	webhook_secret_sealed       text,
	status                      text NOT NULL DEFAULT 'created'
	                            CHECK (status IN ('created', 'deploying', 'running', 'stopped', 'failed', 'crashed')),
	pending_action              text CHECK (pending_action IN ('start', 'stop', 'restart', 'scale', 'remove')),
	current_deployment_id       uuid,
	row_version                 bigint NOT NULL DEFAULT 1,
	created_at                  timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at                  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, environment_id, name)
);
CREATE INDEX applications_list ON applications (tenant_id, created_at, id);
CREATE INDEX applications_project ON applications (project_id, created_at, id);
CREATE INDEX applications_server ON applications (server_id);
-- Status changes driven by agents do not change what users edit: only user
-- fields bump the ETag.
CREATE FUNCTION bump_app_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.app_type, NEW.repository_url, NEW.branch, NEW.dockerfile_path,
	    NEW.build_context, NEW.build_args, NEW.image_url, NEW.replicas, NEW.exposed_port,
	    NEW.autodeploy, NEW.watch_paths, NEW.healthcheck_path, NEW.healthcheck_timeout_seconds,
	    NEW.restart_policy, NEW.start_command, NEW.cpu_limit, NEW.memory_limit, NEW.volumes,
	    NEW.depends_on, NEW.env_version, NEW.registry_id, NEW.server_id, NEW.environment_id)
	   IS DISTINCT FROM
	   (OLD.name, OLD.app_type, OLD.repository_url, OLD.branch, OLD.dockerfile_path,
	    OLD.build_context, OLD.build_args, OLD.image_url, OLD.replicas, OLD.exposed_port,
	    OLD.autodeploy, OLD.watch_paths, OLD.healthcheck_path, OLD.healthcheck_timeout_seconds,
	    OLD.restart_policy, OLD.start_command, OLD.cpu_limit, OLD.memory_limit, OLD.volumes,
	    OLD.depends_on, OLD.env_version, OLD.registry_id, OLD.server_id, OLD.environment_id) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER applications_version BEFORE UPDATE ON applications
	FOR EACH ROW EXECUTE FUNCTION bump_app_version();

-- A deployment is one release of an application: what runs (image, env
-- snapshot, replicas) never changes once it has succeeded.
CREATE TABLE deployments (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id       uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id      uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
	environment_id  uuid NOT NULL,
	application_id  uuid NOT NULL REFERENCES applications ON DELETE CASCADE,
	server_id       uuid NOT NULL,
	status          text NOT NULL DEFAULT 'queued'
	                CHECK (status IN ('queued', 'building', 'deploying', 'succeeded', 'failed',
	                                  'cancelled', 'superseded')),
	trigger         text NOT NULL DEFAULT 'api'
	                CHECK (trigger IN ('manual', 'api', 'webhook', 'rollback', 'template', 'config')),
	source          jsonb NOT NULL,		-- what the agent pulls or builds
	commit_sha      text,
	commit_message  text,
	branch          text,
	image           text,
	image_digest    text,
	env_sealed      text,			-- the resolved env snapshot (crypto_seal, "app-env")
	env_version     integer NOT NULL DEFAULT 0,
	strategy        text CHECK (strategy IN ('rolling', 'recreate')),
	strategy_reason text,
	replicas        integer NOT NULL,
	rollback_of     uuid REFERENCES deployments ON DELETE SET NULL,
	error           text,
	job_id          uuid REFERENCES jobs ON DELETE SET NULL,
	created_by      uuid,
	created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	started_at      timestamptz,
	finished_at     timestamptz
);
-- One active and at most one queued deployment per application, enforced
-- here and not by a check-then-insert in a handler.
CREATE UNIQUE INDEX deployments_one_active ON deployments (application_id)
	WHERE status IN ('building', 'deploying');
CREATE UNIQUE INDEX deployments_one_queued ON deployments (application_id) WHERE status = 'queued';
CREATE INDEX deployments_list ON deployments (tenant_id, created_at, id);
CREATE INDEX deployments_app ON deployments (application_id, created_at, id);
CREATE INDEX deployments_project ON deployments (project_id, created_at, id);
CREATE INDEX deployments_job ON deployments (job_id);

ALTER TABLE applications ADD FOREIGN KEY (current_deployment_id) REFERENCES deployments
	ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;

-- The containers of applications as their server's agent last reported them.
CREATE TABLE instances (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id      uuid NOT NULL REFERENCES servers ON DELETE CASCADE,
	application_id uuid NOT NULL REFERENCES applications ON DELETE CASCADE,
	deployment_id  uuid,
	container_id   text NOT NULL CHECK (container_id ~ '^[0-9a-f]{12,64}$'),
	name           text NOT NULL DEFAULT '',
	status         text NOT NULL,
	health         text NOT NULL DEFAULT 'none',
	host_port      integer,
	started_at     timestamptz,
	restart_count  integer NOT NULL DEFAULT 0,
	exit_code      integer,
	cpu_percent    double precision,
	memory_bytes   bigint,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (server_id, container_id)
);
CREATE INDEX instances_app ON instances (application_id, created_at, id);

CREATE TABLE runtime_logs (
	id             bigserial PRIMARY KEY,
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id uuid NOT NULL REFERENCES applications ON DELETE CASCADE,
	deployment_id  uuid,
	container_id   text NOT NULL,
	instance_name  text NOT NULL DEFAULT '',
	ts             timestamptz NOT NULL,
	stream         text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
	message        text NOT NULL
);
CREATE INDEX runtime_logs_app ON runtime_logs (application_id, ts, id);
CREATE INDEX runtime_logs_age ON runtime_logs (ts);

SELECT tenant_owned('applications', 'deployments', 'instances', 'runtime_logs');
GRANT USAGE ON SEQUENCE runtime_logs_id_seq TO launcher_api;

-- <app>-<project>.<server base_domain> for web and api apps; NULL for workers.
CREATE FUNCTION app_hostname(a applications)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN a.app_type = 'worker' THEN NULL
	       ELSE a.name || '-' || p.name || '.' || coalesce(nullif(s.base_domain, ''), 'localhost') END
	  FROM projects p, servers s WHERE p.id = a.project_id AND s.id = a.server_id
$$;

-- The job an application's deployment runs: everything the agent needs
-- but the env values, which the plane adds (decrypted) when the job is
-- claimed and never stores in the clear.
CREATE FUNCTION app_job_payload(a applications, p_deployment uuid, p_source jsonb)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'tenant_id', a.tenant_id, 'project_id', a.project_id, 'app_id', a.id,
		'deployment_id', p_deployment,
		'app', jsonb_build_object(
			'name', a.name, 'app_type', a.app_type, 'exposed_port', a.exposed_port,
			'replicas', a.replicas, 'restart_policy', a.restart_policy,
			'start_command', a.start_command, 'cpu_limit', a.cpu_limit,
			'memory_limit', a.memory_limit, 'healthcheck_path', a.healthcheck_path,
			'healthcheck_timeout_seconds', a.healthcheck_timeout_seconds,
			'hostname', app_hostname(a)),
		'source', p_source)
$$;

-- Starts a queued deployment: its status, and the job that runs it.
CREATE FUNCTION deployment_start(p_deployment uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE d deployments; a applications; jid uuid;
BEGIN
	SELECT * INTO d FROM deployments WHERE id = p_deployment FOR UPDATE;
	SELECT * INTO a FROM applications WHERE id = d.application_id;
	jid := job_enqueue(d.tenant_id, d.server_id, d.project_id, 'app.deploy',
	                   app_job_payload(a, d.id, d.source) || jsonb_build_object('replicas', d.replicas),
	                   d.created_by);
	UPDATE deployments SET status = CASE WHEN source->>'type' = 'git' THEN 'building' ELSE 'deploying' END,
	       started_at = now(), job_id = jid
	 WHERE id = d.id;
	UPDATE applications SET status = 'deploying' WHERE id = a.id AND status <> 'running';
END $$;

-- POST /applications/:id/deploy and /rollback.  Serialised per application
-- by the row lock; the unique indexes are the guarantee.  A deploy while
-- one is queued returns the queued one when it asks for the same thing;
-- asking for something else (another commit or image) supersedes it.
-- p_env/p_env_version: the resolved env snapshot the handler built (sealed)
-- and the app's env_version it was built from; a newer env_version (a
-- concurrent change) is refused with 409 so that a release never records
-- a version its snapshot does not hold.
CREATE FUNCTION api_deploy(p_app uuid, p_trigger text, p_commit text, p_branch text,
	p_image text, p_rollback_of uuid, p_user uuid, p_env text, p_env_version integer,
	OUT deployment_id uuid, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE a applications; q deployments; old deployments; src jsonb; env text;
	envv integer; img text; br text; com text;
BEGIN
	SELECT * INTO a FROM applications WHERE id = p_app FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'application not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_rollback_of IS NOT NULL THEN
		SELECT * INTO old FROM deployments WHERE id = p_rollback_of AND application_id = p_app;
		IF NOT FOUND OR old.image_digest IS NULL OR old.status NOT IN ('succeeded', 'superseded') THEN
			RAISE EXCEPTION 'deployment_id: not a successful deployment of this application'
				USING ERRCODE = 'LN400';
		END IF;
		src := jsonb_build_object('type', 'release', 'image_id', old.image_digest);
		env := old.env_sealed; envv := old.env_version;
		img := old.image; br := old.branch; com := old.commit_sha;
	ELSE
		IF a.source_type = 'docker_image' THEN
			IF p_image IS NOT NULL THEN
				UPDATE applications SET image_url = p_image WHERE id = p_app;
				a.image_url := p_image;
			END IF;
			src := jsonb_build_object('type', 'docker_image', 'image', a.image_url);
			img := a.image_url;
		ELSE
			br := coalesce(p_branch, a.branch); com := p_commit;
			src := jsonb_build_object('type', 'git', 'repository_url', a.repository_url,
			        'branch', br, 'commit_sha', com, 'dockerfile_path', a.dockerfile_path,
			        'build_context', a.build_context, 'build_args', a.build_args);
		END IF;
		IF p_env_version IS DISTINCT FROM a.env_version THEN
			RAISE EXCEPTION 'the environment variables changed while deploying; retry'
				USING ERRCODE = 'LN409';
		END IF;
		env := p_env; envv := p_env_version;
	END IF;
	SELECT * INTO q FROM deployments WHERE application_id = p_app AND status = 'queued';
	IF FOUND THEN
		IF q.source = src AND q.env_version = envv AND q.replicas = a.replicas THEN
			deployment_id := q.id; created := false;
			RETURN;
		END IF;
		UPDATE deployments SET status = 'superseded', finished_at = now(),
		       error = 'superseded by a newer deployment before it started'
		 WHERE id = q.id;
	END IF;
	INSERT INTO deployments (tenant_id, project_id, environment_id, application_id, server_id,
	                         trigger, source, commit_sha, branch, image, env_sealed, env_version,
	                         replicas, rollback_of, created_by)
	VALUES (a.tenant_id, a.project_id, a.environment_id, a.id, a.server_id, p_trigger, src,
	        com, br, img, env, envv, a.replicas, p_rollback_of, p_user)
	RETURNING id INTO deployment_id;
	created := true;
	IF NOT EXISTS (SELECT 1 FROM deployments WHERE application_id = p_app
	                AND status IN ('building', 'deploying')) THEN
		PERFORM deployment_start(deployment_id);
	END IF;
END $$;

-- Instances from a job result or an agent report: upserted by container.
-- Only containers of this tenant's applications are taken (the policy of
-- applications hides the rest), whatever labels a container carries.
CREATE FUNCTION instances_upsert(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE sql AS $$
	INSERT INTO instances AS i (tenant_id, server_id, application_id, deployment_id, container_id,
	                       name, status, health, host_port, started_at, restart_count, exit_code)
	SELECT a.tenant_id, p_server, a.id,
	       CASE WHEN x.deployment_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	            THEN x.deployment_id::uuid END,
	       x.container_id, coalesce(x.name, ''),
	       coalesce(x.state, x.status, 'unknown'), coalesce(x.health, 'none'), x.host_port,
	       x.started_at, coalesce(x.restart_count, 0), x.exit_code
	  FROM jsonb_to_recordset(p_items) AS x(app_id text, deployment_id text, container_id text,
	       name text, state text, status text, health text, host_port integer,
	       started_at timestamptz, restart_count integer, exit_code integer)
	  -- Containers without our labels (empty ids) or of other tenants match nothing.
	  JOIN applications a ON a.id = CASE WHEN x.app_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	                                     THEN x.app_id::uuid END
	 WHERE x.container_id ~ '^[0-9a-f]{12,64}$'
	ON CONFLICT (server_id, container_id) DO UPDATE SET
	       deployment_id = excluded.deployment_id, name = excluded.name, status = excluded.status,
	       health = excluded.health, host_port = excluded.host_port,
	       started_at = excluded.started_at, restart_count = excluded.restart_count,
	       exit_code = excluded.exit_code, updated_at = now()
$$;

-- The agent's complete report of a server's containers: the server's view
-- is replaced, and application statuses follow the containers (a running
-- application whose containers all stopped by themselves has crashed).
CREATE FUNCTION agent_instances(p_server uuid, p_items jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
	DELETE FROM instances WHERE server_id = p_server AND container_id NOT IN
		(SELECT x->>'container_id' FROM jsonb_array_elements(p_items) x);
	PERFORM instances_upsert(p_server, p_items);
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE applications a SET status = 'crashed'
	 WHERE a.server_id = p_server AND a.status = 'running' AND a.pending_action IS NULL
	   AND a.replicas > 0 AND a.current_deployment_id IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.application_id = a.id
	                    AND d.status IN ('building', 'deploying'))
	   AND EXISTS (SELECT 1 FROM instances i WHERE i.application_id = a.id
	                AND i.deployment_id = a.current_deployment_id)
	   AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.application_id = a.id
	                    AND i.deployment_id = a.current_deployment_id AND i.status = 'running');
	UPDATE applications a SET status = 'running'
	 WHERE a.server_id = p_server AND a.status = 'crashed'
	   AND EXISTS (SELECT 1 FROM instances i WHERE i.application_id = a.id
	                AND i.deployment_id = a.current_deployment_id AND i.status = 'running');
	RETURN (SELECT count(*) FROM instances WHERE server_id = p_server);
END $$;

-- A finished job moves what it worked for: deployments and application
-- statuses follow app.* jobs however they end (agent, cancel, scheduler).
CREATE FUNCTION app_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE d deployments; app uuid; nxt uuid; res jsonb := coalesce(NEW.result, '{}');
BEGIN
	app := (NEW.payload->>'app_id')::uuid;
	IF res ? 'instances' AND jsonb_typeof(res->'instances') = 'array' THEN
		PERFORM instances_upsert(NEW.server_id,
			(SELECT coalesce(jsonb_agg(x || jsonb_build_object('app_id', app)), '[]')
			   FROM jsonb_array_elements(res->'instances') x));
	END IF;
	IF NEW.kind = 'app.deploy' THEN
		SELECT * INTO d FROM deployments WHERE job_id = NEW.id FOR UPDATE;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
		UPDATE deployments SET
		       status = CASE NEW.status WHEN 'succeeded' THEN 'succeeded'
		                WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
		       error = CASE WHEN NEW.status = 'succeeded' THEN NULL
		               ELSE coalesce(NEW.error, 'cancelled') END,
		       image = coalesce(res->>'image', image),
		       image_digest = coalesce(res->>'image_id', image_digest),
		       commit_sha = coalesce(res->>'commit_sha', commit_sha),
		       commit_message = coalesce(res->>'commit_message', commit_message),
		       strategy = coalesce(res->>'strategy', strategy),
		       strategy_reason = coalesce(res->>'strategy_reason', strategy_reason),
		       finished_at = now()
		 WHERE id = d.id;
		IF NEW.status = 'succeeded' THEN
			UPDATE applications SET current_deployment_id = d.id,
			       status = CASE WHEN d.replicas = 0 THEN 'stopped' ELSE 'running' END,
			       pending_action = NULL
			 WHERE id = d.application_id;
		ELSE
			UPDATE applications SET status = CASE WHEN current_deployment_id IS NULL
			       THEN 'failed' ELSE 'running' END
			 WHERE id = d.application_id AND status = 'deploying';
		END IF;
		SELECT id INTO nxt FROM deployments WHERE application_id = d.application_id
		   AND status = 'queued';
		IF FOUND THEN
			PERFORM deployment_start(nxt);
		END IF;
	ELSIF NEW.kind IN ('app.start', 'app.stop', 'app.restart', 'app.scale') THEN
		UPDATE applications SET pending_action = NULL,
		       status = CASE WHEN NEW.status <> 'succeeded' THEN status
		                WHEN NEW.kind = 'app.stop' THEN 'stopped'
		                WHEN NEW.kind = 'app.scale' AND replicas = 0 THEN 'stopped'
		                ELSE 'running' END
		 WHERE id = app;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_app_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind LIKE 'app.%')
	EXECUTE FUNCTION app_job_finished();

-- A deploy whose build is done shows "deploying": the agent's progress
-- line for its first new container marks the moment.
CREATE FUNCTION app_job_progress() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.line LIKE 'starting container %' THEN
		UPDATE deployments SET status = 'deploying'
		 WHERE job_id = NEW.job_id AND status = 'building';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER job_logs_app_progress AFTER INSERT ON job_logs
	FOR EACH ROW WHEN (NEW.line LIKE 'starting container %')
	EXECUTE FUNCTION app_job_progress();

-- Removing an application (or its project) queues the removal of its
-- containers and edge route; the job belongs to no project, so that the
-- project's own deletion does not take it along.
CREATE FUNCTION app_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM job_enqueue(OLD.tenant_id, OLD.server_id, NULL, 'app.remove',
		jsonb_build_object('tenant_id', OLD.tenant_id, 'project_id', OLD.project_id,
		                   'app_id', OLD.id, 'deployment_id', NULL,
		                   'app', jsonb_build_object('name', OLD.name, 'app_type', OLD.app_type)),
		NULL);
	RETURN OLD;
END $$;
CREATE TRIGGER applications_removed BEFORE DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION app_removed();

-- Runtime log retention (launcher-scheduler, config runtime_log_retention_days).
CREATE FUNCTION runtime_logs_prune(p_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE n integer;
BEGIN
	DELETE FROM runtime_logs WHERE ts < now() - make_interval(days => p_days);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION runtime_logs_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION job_enqueue(uuid, uuid, uuid, text, jsonb, uuid),
	api_deploy(uuid, text, text, text, text, uuid, uuid, text, integer), deployment_start(uuid),
	instances_upsert(uuid, jsonb), agent_instances(uuid, jsonb),
	runtime_logs_prune(integer), app_hostname(applications),
	app_job_payload(applications, uuid, jsonb) TO launcher_api;
