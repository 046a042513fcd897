-- 035_backups.sql - backups (API.md §12): the tenant's destinations, the
-- schedules launcher-backup runs, the backups themselves, and the event log
-- alerts will be delivered from.
--
-- The database keeps the rules:
--   - a destination's keys are sealed (purpose "backup-destination:<id>",
--     core/secret.h SECRET_BACKUP_DESTINATION, listed in sealed_columns);
--     they leave the database only in the claim of a job that needs them
--     (fcgi/api/agent.c), never in a job's stored payload;
--   - a destination that schedules or backups still name cannot be deleted
--     (409 naming them; the NO ACTION keys are the guarantee);
--   - one function queues a backup, for the API and for launcher-backup
--     (backup_queue); a backup's row moves with its job whatever ends it
--     (backup_job_event), and is `succeeded` only when the agent reported
--     the object read back from the destination (size, sha256, verified_at);
--   - a backup outlives its resource (resource_id carries no key: a restore
--     into a new database needs the backup of a deleted one); it goes with
--     its project.

SET search_path = launcher;

CREATE TABLE backup_destinations (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id          uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name               text NOT NULL CHECK (name ~ '^[a-z0-9 ._-]+$' AND length(name) <= 64),
	provider           text NOT NULL
	                   CHECK (provider IN ('s3', 'r2', 'backblaze', 'minio', 'custom', 'local')),
	bucket             text CHECK (length(bucket) BETWEEN 3 AND 63),
	region             text CHECK (length(region) BETWEEN 1 AND 64),
	endpoint           text CHECK (endpoint ~ '^https?://[^/?#@\s]+/?$' AND length(endpoint) <= 2048),
	account_id         text CHECK (account_id ~ '^[A-Za-z0-9]{1,64}$'),
	jurisdiction       text CHECK (jurisdiction ~ '^[a-z]{2,8}$'),
	-- A prefix in the bucket; for local the directory under
	-- <backup_local_root>/<tenant_id>/: relative, no ".." (the API checks it
	-- with the object store layer's objstore_dest_check; this is the last word).
	path               text CHECK (path ~ '^[A-Za-z0-9._~/-]+$' AND length(path) <= 512 AND path !~ '^/'
	                               AND path !~ '(^|/)\.\.(/|$)'),
	url_style          text NOT NULL DEFAULT 'path' CHECK (url_style IN ('path', 'virtual')),
	-- {"access_key", "secret_key"}; NULL for local.
	credentials_sealed text,
	access_key_hint    text CHECK (length(access_key_hint) <= 4),
	row_version        bigint NOT NULL DEFAULT 1,
	created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at         timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT backup_destinations_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT backup_destinations_tenant_id_name_key UNIQUE (tenant_id, name),
	CONSTRAINT backup_destinations_local_check CHECK (
		CASE WHEN provider = 'local' THEN bucket IS NULL AND credentials_sealed IS NULL
		     ELSE bucket IS NOT NULL END)
);
CREATE INDEX backup_destinations_list ON backup_destinations (tenant_id, created_at, id);
SELECT tenant_owned('backup_destinations');

INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
VALUES ('backup_destinations', 'id', 'credentials_sealed', 'tenant_id',
        '''backup-destination:'' || id');

CREATE FUNCTION bump_backup_destination_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.provider, NEW.bucket, NEW.region, NEW.endpoint, NEW.account_id,
	    NEW.jurisdiction, NEW.path, NEW.url_style, NEW.credentials_sealed)
	   IS DISTINCT FROM
	   (OLD.name, OLD.provider, OLD.bucket, OLD.region, OLD.endpoint, OLD.account_id,
	    OLD.jurisdiction, OLD.path, OLD.url_style, OLD.credentials_sealed) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER backup_destinations_version BEFORE UPDATE ON backup_destinations
	FOR EACH ROW EXECUTE FUNCTION bump_backup_destination_version();

CREATE TABLE backup_schedules (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id       uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id      uuid NOT NULL,
	resource_type   text NOT NULL CHECK (resource_type IN ('database', 'volume', 'bucket')),
	database_id     uuid,
	volume_id       uuid,
	destination_id  uuid NOT NULL,
	cron            text NOT NULL CHECK (length(cron) BETWEEN 9 AND 200),
	timezone        text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
	keep_last       integer CHECK (keep_last >= 1),
	keep_days       integer CHECK (keep_days >= 1),
	enabled         boolean NOT NULL DEFAULT true,
	next_run_at     timestamptz,
	last_run_at     timestamptz,
	last_success_at timestamptz,
	last_status     text CHECK (last_status IN ('queued', 'running', 'succeeded', 'failed', 'stale')),
	stale_since     timestamptz,
	row_version     bigint NOT NULL DEFAULT 1,
	created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT backup_schedules_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT backup_schedules_resource_check CHECK (CASE resource_type
		WHEN 'database' THEN database_id IS NOT NULL AND volume_id IS NULL
		WHEN 'volume' THEN volume_id IS NOT NULL AND database_id IS NULL
		ELSE database_id IS NULL AND volume_id IS NULL END),
	CONSTRAINT backup_schedules_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT backup_schedules_database_id_fkey FOREIGN KEY (tenant_id, database_id)
		REFERENCES databases (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT backup_schedules_volume_id_fkey FOREIGN KEY (tenant_id, volume_id)
		REFERENCES volumes (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT backup_schedules_destination_id_fkey FOREIGN KEY (tenant_id, destination_id)
		REFERENCES backup_destinations (tenant_id, id)
);
CREATE INDEX backup_schedules_list ON backup_schedules (tenant_id, created_at, id);
CREATE INDEX backup_schedules_project ON backup_schedules (project_id);
CREATE INDEX backup_schedules_database ON backup_schedules (database_id);
CREATE INDEX backup_schedules_volume ON backup_schedules (volume_id);
CREATE INDEX backup_schedules_destination ON backup_schedules (destination_id);
CREATE INDEX backup_schedules_due ON backup_schedules (next_run_at) WHERE enabled;
SELECT tenant_owned('backup_schedules');

CREATE FUNCTION bump_backup_schedule_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.destination_id, NEW.cron, NEW.timezone, NEW.keep_last, NEW.keep_days, NEW.enabled)
	   IS DISTINCT FROM
	   (OLD.destination_id, OLD.cron, OLD.timezone, OLD.keep_last, OLD.keep_days, OLD.enabled) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER backup_schedules_version BEFORE UPDATE ON backup_schedules
	FOR EACH ROW EXECUTE FUNCTION bump_backup_schedule_version();

CREATE TABLE backups (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	server_id      uuid NOT NULL,
	resource_type  text NOT NULL CHECK (resource_type IN ('database', 'volume', 'bucket')),
	resource_id    uuid NOT NULL,
	resource_name  text NOT NULL,
	engine         text CHECK (engine IN ('postgres', 'mysql', 'redis')),
	engine_version text,
	format         text NOT NULL CHECK (format IN ('pg_dump', 'mariadb-dump', 'redis-rdb', 'tar')),
	schedule_id    uuid,
	destination_id uuid NOT NULL,
	trigger        text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'safety')),
	status         text NOT NULL DEFAULT 'pending'
	               CHECK (status IN ('pending', 'running', 'verifying', 'succeeded', 'failed')),
	object_key     text NOT NULL CHECK (length(object_key) BETWEEN 1 AND 1024),
	size_bytes     bigint CHECK (size_bytes >= 0),
	sha256         text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	error          text,
	job_id         uuid,
	started_at     timestamptz,
	finished_at    timestamptz,
	verified_at    timestamptz,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT backups_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT backups_succeeded_check CHECK (status <> 'succeeded'
		OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND verified_at IS NOT NULL)),
	CONSTRAINT backups_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	-- NO ACTION: a backup outlives its resource, and its server keeps it
	-- (a server that ran backups cannot be deleted while they exist).
	CONSTRAINT backups_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id),
	CONSTRAINT backups_schedule_id_fkey FOREIGN KEY (tenant_id, schedule_id)
		REFERENCES backup_schedules (tenant_id, id) ON DELETE SET NULL (schedule_id),
	-- NO ACTION: a destination that holds backups cannot be deleted.
	CONSTRAINT backups_destination_id_fkey FOREIGN KEY (tenant_id, destination_id)
		REFERENCES backup_destinations (tenant_id, id)
);
CREATE INDEX backups_list ON backups (tenant_id, created_at, id);
CREATE INDEX backups_resource ON backups (resource_id, created_at, id);
CREATE INDEX backups_project ON backups (project_id);
CREATE INDEX backups_server ON backups (server_id);
CREATE INDEX backups_schedule ON backups (schedule_id);
CREATE INDEX backups_destination ON backups (destination_id);
CREATE INDEX backups_job ON backups (job_id);
SELECT tenant_owned('backups');

CREATE TABLE alert_events (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id    uuid,
	event         text NOT NULL CHECK (event ~ '^[a-z][a-z0-9_]*\.[a-z0-9_.]+$' AND length(event) <= 64),
	resource_type text NOT NULL,
	resource_id   uuid,
	message       text NOT NULL,
	payload       jsonb NOT NULL DEFAULT '{}',
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT alert_events_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_events_list ON alert_events (tenant_id, created_at, id);
CREATE INDEX alert_events_project ON alert_events (project_id);
CREATE INDEX alert_events_resource ON alert_events (resource_id, created_at);
SELECT tenant_owned('alert_events');

-- One event; the Alerts issue delivers from this log.
CREATE FUNCTION alert_raise(p_tenant uuid, p_project uuid, p_event text, p_resource_type text,
	p_resource_id uuid, p_message text, p_payload jsonb)
RETURNS uuid
LANGUAGE sql AS $$
	INSERT INTO alert_events (tenant_id, project_id, event, resource_type, resource_id, message,
	                          payload)
	VALUES (p_tenant, p_project, p_event, p_resource_type, p_resource_id, p_message,
	        coalesce(p_payload, '{}'))
	RETURNING id
$$;

INSERT INTO job_kinds VALUES
	('backup.run',       60, 21600, 1),
	('backup.restore',   60, 21600, 1),
	('backup.delete',    30,  3600, 5),
	('backup.dest_test', 30,   300, 1),
	('db.import',        60, 21600, 1);

-- The "destination" object of a job payload (no secret: the claim adds
-- access_key and secret_key, fcgi/api/agent.c).
CREATE FUNCTION backup_destination_payload(d backup_destinations)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', d.id, 'provider', d.provider, 'bucket', d.bucket,
		'region', d.region, 'endpoint', d.endpoint, 'account_id', d.account_id,
		'jurisdiction', d.jurisdiction, 'path', d.path, 'url_style', d.url_style)
$$;

-- The "database" object of a backup/restore/import payload (the claim adds
-- the password).  env_names: the image table's, as the database's last
-- provision carried them (the pool's configuration is not SQL's to read).
CREATE FUNCTION backup_database_payload(d databases)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('database_id', d.id, 'type', d.type, 'version', d.version,
		'db_user', d.db_user, 'db_name', d.db_name, 'container', 'lnchr-db-' || d.id,
		'env_names', (SELECT j.payload -> 'env_names' FROM jobs j
		               WHERE j.server_id = d.server_id AND j.kind = 'db.provision'
		                 AND j.payload ->> 'database_id' = d.id::text
		               ORDER BY j.created_at DESC LIMIT 1))
$$;

CREATE FUNCTION backup_volume_payload(v volumes)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('volume_id', v.id, 'name', v.name,
	                          'engine_name', 'lnchr-vol-' || v.id)
$$;

-- A database's dump format and object extension.
CREATE FUNCTION backup_format(p_engine text, OUT format text, OUT ext text)
LANGUAGE sql IMMUTABLE AS $$
	SELECT f, e FROM (VALUES ('postgres', 'pg_dump', 'pgdump'), ('mysql', 'mariadb-dump', 'sql'),
	                         ('redis', 'redis-rdb', 'rdb'), (NULL, 'tar', 'tar')) t(k, f, e)
	 WHERE k IS NOT DISTINCT FROM p_engine
$$;

-- Inserts a pending backups row of resource (p_resource_type, p_resource_id)
-- at destination p_dest for trigger p_trigger; the row (its job not set).
-- Raises LN400 (COLUMN resource_id / destination_id) for no such
-- resource or destination, LN409 when the database is not running.
CREATE FUNCTION backup_row(p_resource_type text, p_resource_id uuid, p_dest uuid, p_schedule uuid,
	p_trigger text, OUT b backups, OUT resource jsonb)
LANGUAGE plpgsql AS $$
DECLARE d databases; v volumes; f record;
BEGIN
	b.id := gen_random_uuid();
	b.resource_type := p_resource_type;
	b.resource_id := p_resource_id;
	b.schedule_id := p_schedule;
	b.trigger := p_trigger;
	b.status := 'pending';
	b.created_at := clock_timestamp();
	IF p_resource_type = 'database' THEN
		SELECT * INTO d FROM databases WHERE id = p_resource_id;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no such database' USING ERRCODE = 'LN400', COLUMN = 'resource_id';
		END IF;
		IF d.status <> 'running' THEN
			RAISE EXCEPTION 'database % is %: only a running database can be backed up', d.name,
				d.status USING ERRCODE = 'LN409';
		END IF;
		SELECT * INTO f FROM backup_format(d.type);
		IF f.format IS NULL THEN
			RAISE EXCEPTION 'a % database cannot be backed up yet', d.type USING ERRCODE = 'LN409';
		END IF;
		b.tenant_id := d.tenant_id; b.project_id := d.project_id; b.server_id := d.server_id;
		b.resource_name := d.name;
		b.engine := d.type; b.engine_version := d.version;
		resource := jsonb_build_object('database', backup_database_payload(d));
	ELSIF p_resource_type = 'volume' THEN
		SELECT * INTO v FROM volumes WHERE id = p_resource_id;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no such volume' USING ERRCODE = 'LN400', COLUMN = 'resource_id';
		END IF;
		SELECT * INTO f FROM backup_format(NULL);
		b.tenant_id := v.tenant_id; b.project_id := v.project_id; b.server_id := v.server_id;
		b.resource_name := v.name;
		resource := jsonb_build_object('volume', backup_volume_payload(v));
	ELSE
		RAISE EXCEPTION 'buckets are not available yet' USING ERRCODE = 'LN400',
			COLUMN = 'resource_type';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM backup_destinations WHERE id = p_dest AND tenant_id = b.tenant_id) THEN
		RAISE EXCEPTION 'no such backup destination' USING ERRCODE = 'LN400',
			COLUMN = 'destination_id';
	END IF;
	b.destination_id := p_dest;
	b.format := f.format;
	b.object_key := format('launcher/%s/%s/%s-%s.%s', p_resource_type, p_resource_id,
		to_char(b.created_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'), b.id, f.ext);
	-- tenant_id explicit: launcher-backup's SECURITY DEFINER callers have no session tenant.
	INSERT INTO backups (id, tenant_id, project_id, server_id, resource_type, resource_id,
	                     resource_name, engine, engine_version, format, schedule_id, destination_id,
	                     trigger, status, object_key, created_at)
	VALUES (b.id, b.tenant_id, b.project_id, b.server_id, b.resource_type, b.resource_id, b.resource_name,
	        b.engine, b.engine_version, b.format, b.schedule_id, b.destination_id, b.trigger,
	        b.status, b.object_key, b.created_at)
	RETURNING * INTO b;
END $$;

-- The one way to queue a backup (API and launcher-backup): a pending
-- backups row and its backup.run job on the resource's server; the
-- backup's id.  A schedule's backup shows the schedule as queued.
CREATE FUNCTION backup_queue(p_resource_type text, p_resource_id uuid, p_destination uuid,
	p_schedule uuid, p_trigger text, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE r record; jid uuid;
BEGIN
	SELECT * INTO r FROM backup_row(p_resource_type, p_resource_id, p_destination, p_schedule,
	                                p_trigger);
	jid := job_enqueue((r.b).tenant_id, (r.b).server_id, (r.b).project_id, 'backup.run',
		jsonb_build_object('backup_id', (r.b).id, 'tenant_id', (r.b).tenant_id,
			'resource_type', p_resource_type, 'object_key', (r.b).object_key,
			'format', (r.b).format,
			'destination', (SELECT backup_destination_payload(x) FROM backup_destinations x
			                 WHERE x.id = p_destination)) || r.resource,
		p_user);
	UPDATE backups SET job_id = jid WHERE id = (r.b).id;
	IF p_schedule IS NOT NULL THEN
		UPDATE backup_schedules SET last_status = 'queued' WHERE id = p_schedule;
	END IF;
	RETURN (r.b).id;
END $$;

-- The applications running with volume p_volume mounted, for the 409 of
-- its restore.
CREATE FUNCTION volume_running_mounts(p_volume uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT string_agg(a.name || ' (' || a.id || ')', ', ' ORDER BY a.name, a.id)
	  FROM volume_mounts m JOIN applications a ON a.id = m.application_id
	 WHERE m.volume_id = p_volume AND a.status IN ('running', 'deploying', 'crashed')
$$;

-- The "restore" fields of backup p_backup (a backup.restore payload, or
-- the db.provision payload's "restore" of a restore into a new database);
-- LN409 unless the backup succeeded.
CREATE FUNCTION backup_restore_fields(p_backup uuid)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE b backups;
BEGIN
	SELECT * INTO b FROM backups WHERE id = p_backup;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such backup' USING ERRCODE = 'LN400', COLUMN = 'backup_id';
	END IF;
	IF b.status <> 'succeeded' THEN
		RAISE EXCEPTION 'backup % is %: only a succeeded backup can be restored', b.id, b.status
			USING ERRCODE = 'LN409';
	END IF;
	RETURN jsonb_build_object('backup_id', b.id, 'tenant_id', b.tenant_id,
		'resource_type', b.resource_type, 'object_key', b.object_key, 'format', b.format,
		'expected_size', b.size_bytes, 'expected_sha256', b.sha256,
		'destination', (SELECT backup_destination_payload(x) FROM backup_destinations x
		                 WHERE x.id = b.destination_id));
END $$;

-- A backup.restore job of p_restore (backup_restore_fields, or those of a
-- restore from a path) into the resource (p_type, p_id): first a verified
-- safety backup of it to the same destination.  Refused (409) for a
-- database that is not running, or a volume a running application mounts.
CREATE FUNCTION backup_restore_queue(p_type text, p_id uuid, p_restore jsonb, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE r record; users text; d databases;
BEGIN
	IF p_type = 'database' THEN
		SELECT * INTO d FROM databases WHERE id = p_id FOR UPDATE;
		IF FOUND AND d.pending_action IS NOT NULL THEN
			RAISE EXCEPTION 'database % is busy (%)', d.name, d.pending_action
				USING ERRCODE = 'LN409';
		END IF;
		IF FOUND AND EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = d.server_id
		                      AND j.status IN ('queued', 'running')
		                      AND j.kind IN ('backup.restore', 'db.import')
		                      AND j.payload -> 'database' ->> 'database_id' = d.id::text) THEN
			RAISE EXCEPTION 'database % has a restore or import under way', d.name
				USING ERRCODE = 'LN409';
		END IF;
		IF FOUND AND (SELECT format FROM backup_format(d.type)) IS DISTINCT FROM p_restore ->> 'format' THEN
			RAISE EXCEPTION 'a % backup cannot be restored into a % database',
				p_restore ->> 'format', d.type USING ERRCODE = 'LN409';
		END IF;
	ELSIF p_type = 'volume' THEN
		users := volume_running_mounts(p_id);
		IF users IS NOT NULL THEN
			RAISE EXCEPTION 'the volume is mounted by running applications: %; stop them first',
				users USING ERRCODE = 'LN409';
		END IF;
	END IF;
	SELECT * INTO r FROM backup_row(p_type, p_id, (p_restore -> 'destination' ->> 'id')::uuid,
	                                NULL, 'safety');
	RETURN job_enqueue((r.b).tenant_id, (r.b).server_id, (r.b).project_id, 'backup.restore',
		p_restore || r.resource || jsonb_build_object('safety',
			jsonb_build_object('backup_id', (r.b).id, 'object_key', (r.b).object_key)),
		p_user);
END $$;

-- A backup.restore claimed or ended moves its safety backup (the agent's
-- result "safety": {size_bytes, sha256, verified_at}) like a backup.run.
CREATE FUNCTION backup_job_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE res jsonb := coalesce(NEW.result, '{}'); bid uuid; b backups; ok boolean;
	why text := coalesce(NEW.error, CASE NEW.status WHEN 'cancelled' THEN 'cancelled' END);
	db uuid; safety backups;
BEGIN
	IF NEW.kind = 'backup.run' OR NEW.kind = 'backup.restore' THEN
		bid := CASE NEW.kind WHEN 'backup.run' THEN NEW.payload ->> 'backup_id'
		                     ELSE NEW.payload -> 'safety' ->> 'backup_id' END;
		IF NEW.kind = 'backup.restore' THEN
			res := coalesce(res -> 'safety', '{}');
		END IF;
		IF NEW.status = 'running' THEN
			UPDATE backups SET status = 'running', started_at = coalesce(started_at, now()),
			       job_id = NEW.id
			 WHERE id = bid AND status = 'pending' RETURNING * INTO b;
			UPDATE backup_schedules SET last_status = 'running', last_run_at = now()
			 WHERE id = b.schedule_id;
		ELSE
			-- A restore's safety backup may have succeeded whatever became of
			-- the restore itself.
			ok := coalesce((NEW.status = 'succeeded' OR NEW.kind = 'backup.restore')
			      AND jsonb_typeof(res -> 'size_bytes') = 'number'
			      AND (res ->> 'size_bytes')::numeric >= 0 AND res ->> 'sha256' ~ '^[0-9a-f]{64}$'
			      AND res ->> 'verified_at' ~ '^\d{4}-\d\d-\d\dT', false);
			IF NOT ok AND NEW.kind = 'backup.restore' THEN
				why := 'the restore ended before its safety backup was verified';
			ELSIF NOT ok AND NEW.status = 'succeeded' THEN
				why := 'the agent reported no verified size and checksum';
			END IF;
			UPDATE backups SET
			       status = CASE WHEN ok THEN 'succeeded' ELSE 'failed' END,
			       size_bytes = CASE WHEN ok THEN (res ->> 'size_bytes')::numeric::bigint END,
			       sha256 = CASE WHEN ok THEN res ->> 'sha256' END,
			       verified_at = CASE WHEN ok THEN (res ->> 'verified_at')::timestamptz END,
			       error = CASE WHEN ok THEN NULL ELSE coalesce(why, 'failed') END,
			       finished_at = now(), job_id = NEW.id
			 WHERE id = bid AND status IN ('pending', 'running', 'verifying') RETURNING * INTO b;
			IF b.id IS NOT NULL THEN
				UPDATE backup_schedules SET last_status = CASE WHEN ok THEN 'succeeded' ELSE 'failed' END,
				       last_run_at = coalesce(b.started_at, now()),
				       last_success_at = CASE WHEN ok THEN b.finished_at ELSE last_success_at END,
				       stale_since = CASE WHEN ok THEN NULL ELSE stale_since END
				 WHERE id = b.schedule_id;
				IF NOT ok AND b.trigger <> 'safety' THEN
					PERFORM alert_raise(b.tenant_id, b.project_id, 'backup.failed', b.resource_type,
						b.resource_id, format('backup of %s %s failed: %s', b.resource_type,
						                      b.resource_name, b.error),
						jsonb_build_object('backup_id', b.id, 'schedule_id', b.schedule_id,
						                   'job_id', NEW.id));
				END IF;
			END IF;
		END IF;
	END IF;
	IF NEW.kind = 'backup.restore' AND NEW.payload -> 'database' ->> 'database_id'
	   ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		db := (NEW.payload -> 'database' ->> 'database_id')::uuid;
		IF NEW.status = 'running' THEN
			UPDATE databases SET status = 'restoring', status_reason = NULL
			 WHERE id = db AND server_id = NEW.server_id;
		ELSE
			-- Only a restore that began moves the database: one cancelled or
			-- expired in the queue, or stopped before it changed anything
			-- (its safety backup failed: result restored = false), leaves it
			-- running.
			SELECT * INTO safety FROM backups WHERE id = bid;
			UPDATE databases SET
			       status = CASE WHEN NEW.status = 'succeeded'
			                       OR NEW.result ->> 'restored' = 'false' THEN 'running'
			                     ELSE 'failed' END,
			       status_reason = CASE WHEN NEW.status = 'succeeded' THEN NULL
			           WHEN NEW.result ->> 'restored' = 'false'
			           THEN format('restore not done, nothing was changed: %s', coalesce(why, 'failed'))
			           ELSE format('restore failed: %s; %s', coalesce(why, 'failed'),
			                       CASE WHEN safety.status = 'succeeded'
			                            THEN format('the safety backup %s holds the data from before the restore', safety.id)
			                            ELSE 'no safety backup was completed' END) END
			 WHERE id = db AND server_id = NEW.server_id AND status = 'restoring';
		END IF;
	END IF;
	IF NEW.kind = 'backup.delete' AND NEW.status = 'succeeded' THEN
		DELETE FROM backups WHERE id::text = NEW.payload ->> 'backup_id'
		   AND server_id = NEW.server_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_backup_event AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (NEW.kind IN ('backup.run', 'backup.restore', 'backup.delete')
	                   AND ((OLD.status = 'queued' AND NEW.status = 'running')
	                        OR (OLD.status IN ('queued', 'running')
	                            AND NEW.status IN ('succeeded', 'failed', 'cancelled'))))
	EXECUTE FUNCTION backup_job_event();

-- POST /agent/jobs/:id/progress {"phase": "verifying"}: the backup of a
-- running backup.run of server p_server is being read back.  False when
-- the job is not that server's running backup.run.
CREATE FUNCTION backup_job_phase(p_job uuid, p_server uuid, p_phase text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE j jobs;
BEGIN
	SELECT * INTO j FROM jobs WHERE id = p_job AND server_id = p_server AND status = 'running';
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF p_phase = 'verifying' AND j.kind = 'backup.run' THEN
		UPDATE backups SET status = 'verifying'
		 WHERE id::text = j.payload ->> 'backup_id' AND status IN ('pending', 'running');
	END IF;
	RETURN true;
END $$;

-- What a destination still serves, for the 409 of its delete.
CREATE FUNCTION backup_destination_used_by(p_dest uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT nullif(concat_ws('; ',
		(SELECT 'schedules ' || string_agg(s.id::text, ', ' ORDER BY s.created_at, s.id)
		   FROM backup_schedules s WHERE s.destination_id = p_dest),
		(SELECT count(*) || ' backups (' || string_agg(b.id::text, ', ' ORDER BY b.created_at, b.id)
		        FILTER (WHERE b.n <= 5) || CASE WHEN count(*) > 5 THEN ', ...' ELSE '' END || ')'
		   FROM (SELECT b.*, row_number() OVER (ORDER BY b.created_at, b.id) AS n
		           FROM backups b WHERE b.destination_id = p_dest) b HAVING count(*) > 0)), '')
$$;

GRANT EXECUTE ON FUNCTION alert_raise(uuid, uuid, text, text, uuid, text, jsonb),
	backup_destination_payload(backup_destinations), backup_database_payload(databases),
	backup_volume_payload(volumes), backup_format(text),
	backup_row(text, uuid, uuid, uuid, text),
	backup_queue(text, uuid, uuid, uuid, text, uuid), volume_running_mounts(uuid),
	backup_restore_fields(uuid), backup_restore_queue(text, uuid, jsonb, uuid),
	backup_job_phase(uuid, uuid, text), backup_destination_used_by(uuid) TO launcher_api;
-- launcher-backup (launcher_maint) works across tenants through SECURITY
-- DEFINER functions of its own (sql/036, the rule of 033), which call
-- backup_queue and alert_raise as the owner; it needs to read the job
-- kinds to name them.
GRANT SELECT ON job_kinds TO launcher_maint;

-- The restore fields of an object at p_path of destination p_dest that no
-- backups row describes (POST /databases/:id/restore-from-path): nothing
-- to check it against.
CREATE FUNCTION backup_path_fields(p_dest uuid, p_path text, p_format text)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE x backup_destinations;
BEGIN
	SELECT * INTO x FROM backup_destinations WHERE id = p_dest;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such backup destination' USING ERRCODE = 'LN400',
			COLUMN = 'destination_id';
	END IF;
	RETURN jsonb_build_object('backup_id', NULL, 'tenant_id', x.tenant_id,
		'resource_type', 'database', 'object_key', p_path, 'format', p_format,
		'expected_size', NULL, 'expected_sha256', NULL,
		'destination', backup_destination_payload(x));
END $$;

-- A restore into the new database p_db (created by the handler like POST
-- /databases): its queued db.provision carries "restore", which the agent
-- applies right after the engine is ready.
CREATE FUNCTION backup_restore_new(p_db uuid, p_restore jsonb)
RETURNS uuid
LANGUAGE sql AS $$
	UPDATE jobs SET payload = payload || jsonb_build_object('restore', p_restore)
	 WHERE kind = 'db.provision' AND status = 'queued' AND payload ->> 'database_id' = p_db::text
	RETURNING id
$$;
GRANT EXECUTE ON FUNCTION backup_path_fields(uuid, text, text), backup_restore_new(uuid, jsonb)
	TO launcher_api;

-- The destination of a manual backup of (p_type, p_id) that names none:
-- its enabled schedule's, else the tenant's only destination; else 400
-- naming destination_id.
CREATE FUNCTION backup_default_destination(p_type text, p_id uuid)
RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE dest uuid; n integer;
BEGIN
	SELECT s.destination_id INTO dest FROM backup_schedules s
	 WHERE s.enabled AND CASE p_type WHEN 'database' THEN s.database_id = p_id
	                                 WHEN 'volume' THEN s.volume_id = p_id ELSE false END
	 ORDER BY s.created_at, s.id LIMIT 1;
	IF dest IS NOT NULL THEN
		RETURN dest;
	END IF;
	SELECT count(*), min(id::text)::uuid INTO n, dest FROM backup_destinations;
	IF n <> 1 THEN
		RAISE EXCEPTION 'is required: no enabled schedule of this % names one, and the tenant has % backup destinations',
			p_type, n USING ERRCODE = 'LN400', COLUMN = 'destination_id';
	END IF;
	RETURN dest;
END $$;

-- POST /databases/:id/import: a db.import job of the staged upload
-- p_upload (<imports_dir>/<p_upload>, p_size bytes) into database p_db,
-- which must run and not be restoring or importing already.
CREATE FUNCTION db_import_queue(p_db uuid, p_upload uuid, p_size bigint, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE d databases;
BEGIN
	SELECT * INTO d FROM databases WHERE id = p_db FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'database not found' USING ERRCODE = 'P0002';
	END IF;
	IF d.type NOT IN ('postgres', 'mysql', 'redis') THEN
		RAISE EXCEPTION 'a % database cannot import an SQL dump', d.type USING ERRCODE = 'LN409';
	END IF;
	IF d.status <> 'running' OR d.pending_action IS NOT NULL THEN
		RAISE EXCEPTION 'database % is %: only a running database can import', d.name,
			coalesce(d.pending_action, d.status) USING ERRCODE = 'LN409';
	END IF;
	IF EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = d.server_id
	            AND j.status IN ('queued', 'running') AND j.kind IN ('backup.restore', 'db.import')
	            AND j.payload -> 'database' ->> 'database_id' = d.id::text) THEN
		RAISE EXCEPTION 'database % has a restore or import under way', d.name
			USING ERRCODE = 'LN409';
	END IF;
	RETURN job_enqueue(d.tenant_id, d.server_id, d.project_id, 'db.import',
		jsonb_build_object('database', backup_database_payload(d), 'tenant_id', d.tenant_id,
		                   'upload_id', p_upload, 'size_bytes', p_size, 'format', 'sql'),
		p_user);
END $$;

-- GET /agent/imports/:jobId: the upload of server p_server's running
-- db.import p_job, or none.
CREATE FUNCTION db_import_upload(p_job uuid, p_server uuid)
RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT (payload ->> 'upload_id')::uuid FROM jobs
	 WHERE id = p_job AND server_id = p_server AND kind = 'db.import' AND status = 'running'
$$;
GRANT EXECUTE ON FUNCTION backup_default_destination(text, uuid),
	db_import_queue(uuid, uuid, bigint, uuid), db_import_upload(uuid, uuid) TO launcher_api;
