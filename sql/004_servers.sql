-- 004_servers.sql - servers and their agents, host metrics, the job queue.

SET search_path = launcher;

CREATE TABLE servers (
	id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id                 uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name                      text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	description               text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	host                      text CHECK (length(host) <= 255),
	base_domain               text CHECK (length(base_domain) <= 253),
	labels                    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
	status                    text NOT NULL DEFAULT 'pending'
	                          CHECK (status IN ('pending', 'online', 'offline', 'degraded')),
	agent_token_hash          bytea NOT NULL UNIQUE,
	agent_version             text,
	engine                    text CHECK (engine IN ('docker', 'podman')),
	engine_version            text,
	engine_reachable          boolean,
	os                        text,
	cpus                      integer,
	memory_bytes              bigint,
	disk_bytes                bigint,
	heartbeat_interval_seconds integer NOT NULL DEFAULT 10 CHECK (heartbeat_interval_seconds BETWEEN 1 AND 3600),
	last_heartbeat            jsonb,
	last_seen_at              timestamptz,
	row_version               bigint NOT NULL DEFAULT 1,
	created_at                timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at                timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, name)
);
CREATE INDEX servers_list ON servers (tenant_id, created_at, id);
CREATE INDEX servers_seen ON servers (last_seen_at) WHERE status IN ('online', 'degraded');
-- Heartbeats update the server row every few seconds: they must not bump
-- the version (ETag) of what users edit, so the trigger looks at user fields.
CREATE FUNCTION bump_server_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.description, NEW.host, NEW.base_domain, NEW.labels, NEW.heartbeat_interval_seconds)
	   IS DISTINCT FROM (OLD.name, OLD.description, OLD.host, OLD.base_domain, OLD.labels,
	                     OLD.heartbeat_interval_seconds) THEN
		NEW.row_version := OLD.row_version + 1;
		NEW.updated_at := now();
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER servers_version BEFORE UPDATE ON servers
	FOR EACH ROW EXECUTE FUNCTION bump_server_version();

-- Host metrics as heartbeats bring them (Monitoring reads and downsamples them).
CREATE TABLE server_metrics (
	tenant_id          uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id          uuid NOT NULL REFERENCES servers ON DELETE CASCADE,
	ts                 timestamptz NOT NULL DEFAULT now(),
	cpu_percent        double precision,
	memory_used_bytes  bigint,
	memory_total_bytes bigint,
	disk_used_bytes    bigint,
	disk_total_bytes   bigint,
	load1              double precision,
	net_rx_bytes       bigint,
	net_tx_bytes       bigint
);
CREATE INDEX server_metrics_series ON server_metrics (server_id, ts);

-- Work for a server.  Every job has a deadline; a running job has a lease
-- the agent renews; launcher-scheduler retries or fails expired leases.
CREATE TABLE jobs (
	id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id        uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id        uuid NOT NULL REFERENCES servers ON DELETE CASCADE,
	project_id       uuid REFERENCES projects ON DELETE CASCADE,
	kind             text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
	payload          jsonb NOT NULL DEFAULT '{}',
	status           text NOT NULL DEFAULT 'queued'
	                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	attempts         integer NOT NULL DEFAULT 0,
	max_attempts     integer NOT NULL DEFAULT 2 CHECK (max_attempts BETWEEN 1 AND 10),
	lease_seconds    integer NOT NULL DEFAULT 30 CHECK (lease_seconds BETWEEN 5 AND 3600),
	lease_expires_at timestamptz,
	deadline_at      timestamptz NOT NULL,
	result           jsonb,
	error            text,
	created_by       uuid,
	created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
	started_at       timestamptz,
	finished_at      timestamptz
);
CREATE INDEX jobs_queue ON jobs (server_id, created_at) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_deadline ON jobs (deadline_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_list ON jobs (server_id, created_at, id);

CREATE TABLE job_logs (
	id         bigserial PRIMARY KEY,
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	job_id     uuid NOT NULL REFERENCES jobs ON DELETE CASCADE,
	line       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

SELECT tenant_owned('servers', 'server_metrics', 'jobs', 'job_logs');
GRANT USAGE ON SEQUENCE job_logs_id_seq TO launcher_api;

-- Claims the oldest queued job of a server: concurrent agents never get the
-- same job (SKIP LOCKED), and a job past its deadline is never handed out.
CREATE FUNCTION job_claim(p_server uuid)
RETURNS SETOF jobs
LANGUAGE sql AS $$
	UPDATE jobs SET status = 'running', attempts = attempts + 1,
	       started_at = coalesce(started_at, now()),
	       lease_expires_at = now() + make_interval(secs => lease_seconds)
	 WHERE id = (SELECT id FROM jobs WHERE server_id = p_server AND status = 'queued'
	              AND deadline_at > now() ORDER BY created_at, id LIMIT 1
	              FOR UPDATE SKIP LOCKED)
	RETURNING *
$$;

-- launcher-scheduler's tick, across tenants (a system process with no
-- tenant of its own): it applies the queue's time rules and nothing else.
-- SECURITY DEFINER so that the API role may run it without seeing rows.
CREATE FUNCTION scheduler_tick(OUT requeued integer, OUT failed_leases integer,
	OUT failed_deadlines integer, OUT servers_offline integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
BEGIN
	-- Expired lease: the agent stopped reporting. Retry while attempts remain.
	UPDATE jobs SET status = 'queued', lease_expires_at = NULL
	 WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts
	   AND deadline_at > now();
	GET DIAGNOSTICS requeued = ROW_COUNT;
	UPDATE jobs SET status = 'failed', finished_at = now(), lease_expires_at = NULL,
	       error = format('the agent stopped reporting while running this job (lease expired on attempt %s of %s)',
	                      attempts, max_attempts)
	 WHERE status = 'running' AND lease_expires_at < now();
	GET DIAGNOSTICS failed_leases = ROW_COUNT;
	UPDATE jobs SET status = 'failed', finished_at = now(), lease_expires_at = NULL,
	       error = format('deadline exceeded at %s (job was %s)', deadline_at, status)
	 WHERE status IN ('queued', 'running') AND deadline_at <= now();
	GET DIAGNOSTICS failed_deadlines = ROW_COUNT;
	-- Three missed heartbeats: offline.
	UPDATE servers SET status = 'offline'
	 WHERE status IN ('online', 'degraded')
	   AND last_seen_at < now() - make_interval(secs => 3 * heartbeat_interval_seconds);
	GET DIAGNOSTICS servers_offline = ROW_COUNT;
	-- Housekeeping of short-lived rows.
	DELETE FROM idempotency_keys WHERE created_at < now() - interval '25 hours';
	DELETE FROM sessions WHERE expires_at < now() - interval '1 day';
	DELETE FROM login_codes WHERE created_at < now() - interval '1 day';
END $$;
REVOKE ALL ON FUNCTION scheduler_tick() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION job_claim(uuid), scheduler_tick() TO launcher_api;
