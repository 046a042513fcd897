-- 037_pitr.sql - point-in-time recovery of PostgreSQL databases with
-- pgBackRest (API.md §12, README "Point-in-time recovery (PostgreSQL)").
--
-- A database with pitr_enabled archives every WAL segment to the
-- repository of its pitr_destination_id (a backup destination of sql/035:
-- local, or S3) and gets base backups there; the repository of database d
-- is <destination path>/launcher/pitr/<d.id>, one pgBackRest stanza "db".
--   - pitr_tick() (launcher-backup, every run) queues, per pitr database
--     that runs with nothing else in progress: a full backup when there is
--     none or the last is a week old, else a differential one when the last
--     backup is a day old, else db.pitr_info when the stored window was
--     checked more than a minute ago;
--   - the recovery window (pitr_earliest .. pitr_latest, pitr_checked_at)
--     is stored from the results of db.provision, db.pitr_backup and
--     db.pitr_info: GET /databases/:id/recovery-window reads it, no wait;
--   - POST .../pitr restores in place (db.pitr_restore; status restoring),
--     POST .../pitr-clone makes a new database whose db.provision restores
--     first (payload "pitr_restore"), POST .../switch swaps a clone in
--     under its source's name and network alias (db.restart of the clone,
--     db.stop with remove_container of the source: kept, stopped, its
--     container made again from its new name at its next start).
-- The base backups are pgBackRest's own (its repository and retention:
-- two full backups); they are not rows of `backups`, whose objects are
-- single verified dumps (README says why).

SET search_path = launcher;

ALTER TABLE databases
	ADD COLUMN pitr_destination_id uuid,
	ADD COLUMN pitr_earliest       timestamptz,
	ADD COLUMN pitr_latest         timestamptz,
	ADD COLUMN pitr_checked_at     timestamptz,
	ADD COLUMN pitr_full_at        timestamptz,	-- the last full base backup's end
	ADD COLUMN pitr_backup_at      timestamptz,	-- the last base backup's (full or diff)
	-- A clone (pitr-clone) names its source until it is switched in; the
	-- source may go first (then NULL: nothing to switch into).
	ADD COLUMN restored_from_id    uuid,
	ADD CONSTRAINT databases_pitr_destination_id_fkey FOREIGN KEY (tenant_id, pitr_destination_id)
		REFERENCES backup_destinations (tenant_id, id),
	ADD CONSTRAINT databases_restored_from_id_fkey FOREIGN KEY (tenant_id, restored_from_id)
		REFERENCES databases (tenant_id, id) ON DELETE SET NULL (restored_from_id);
CREATE INDEX databases_pitr_destination ON databases (tenant_id, pitr_destination_id);
CREATE INDEX databases_restored_from ON databases (tenant_id, restored_from_id);

-- pitr_destination_id is a user's edit (ETag), like pitr_enabled.
CREATE OR REPLACE FUNCTION bump_database_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.version, NEW.public, NEW.cpu_limit, NEW.memory_limit, NEW.pitr_enabled,
	    NEW.pitr_destination_id, NEW.password_sealed)
	   IS DISTINCT FROM
	   (OLD.name, OLD.version, OLD.public, OLD.cpu_limit, OLD.memory_limit, OLD.pitr_enabled,
	    OLD.pitr_destination_id, OLD.password_sealed) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;

INSERT INTO job_kinds VALUES
	('db.pitr_backup',  60, 21600, 1),
	('db.pitr_info',    30,   300, 1),
	('db.pitr_restore', 60, 21600, 1);

-- The repository of database p_db at destination p_dest, as the agent
-- reads it (fcgi/agent/pitr.h): {stanza, repo_path, archive_timeout,
-- destination: the §3 object of CONTRACT (no secret; the claim adds the
-- keys of an S3 one)}.  NULL when the destination is not there.
CREATE FUNCTION pitr_repo(p_db uuid, p_dest uuid, p_archive_timeout integer)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('stanza', 'db', 'repo_path', 'launcher/pitr/' || p_db,
		'archive_timeout', coalesce(p_archive_timeout, 60),
		'destination', jsonb_build_object('id', x.id, 'provider', x.provider,
			'bucket', x.bucket, 'region', x.region, 'endpoint', x.endpoint,
			'account_id', x.account_id, 'jurisdiction', x.jurisdiction, 'path', x.path,
			'url_style', x.url_style))
	  FROM backup_destinations x WHERE x.id = p_dest
$$;

-- Every db.* payload of a pitr database carries "pitr" (pitr_repo): its
-- container is made with the archive settings, whatever job makes it.
-- p_image may carry "pitr_archive_timeout" (the plane's configuration).
ALTER FUNCTION database_job_payload(databases, jsonb) RENAME TO database_job_payload_base;
CREATE FUNCTION database_job_payload(d databases, p_image jsonb)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT database_job_payload_base(d, p_image) ||
	       CASE WHEN d.pitr_enabled AND d.type = 'postgres' AND d.pitr_destination_id IS NOT NULL
	            THEN jsonb_build_object('pitr', pitr_repo(d.id, d.pitr_destination_id,
	                 (p_image ->> 'pitr_archive_timeout')::integer))
	            ELSE '{}' END
$$;

-- The destination of a pitr database: the one given (of this tenant: the
-- key checks), else the tenant's only one, else 400 naming
-- pitr_destination_id.  Only postgres; only local and S3-compatible
-- providers (all of sql/035's are).
CREATE FUNCTION pitr_destination(p_type text, p_enabled boolean, p_given uuid)
RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE n integer; one uuid;
BEGIN
	IF NOT coalesce(p_enabled, false) THEN
		RETURN p_given;
	END IF;
	IF p_type <> 'postgres' THEN
		RAISE EXCEPTION 'point-in-time recovery is only for postgres databases'
			USING ERRCODE = 'LN400', COLUMN = 'pitr_enabled';
	END IF;
	IF p_given IS NOT NULL THEN
		RETURN p_given;
	END IF;
	SELECT count(*), min(id::text)::uuid INTO n, one FROM backup_destinations;
	IF n <> 1 THEN
		RAISE EXCEPTION 'is required with pitr_enabled: the tenant has % backup destinations', n
			USING ERRCODE = 'LN400', COLUMN = 'pitr_destination_id';
	END IF;
	RETURN one;
END $$;

-- Sets a created or updated database's destination by that rule (the
-- API's create and PUT run through it).
CREATE FUNCTION databases_pitr_destination() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.pitr_destination_id := coalesce(NEW.pitr_destination_id,
			nullif(current_setting('launcher.pitr_destination', true), '')::uuid);
	END IF;
	IF TG_OP = 'INSERT' OR NEW.pitr_enabled IS DISTINCT FROM OLD.pitr_enabled
	   OR NEW.pitr_destination_id IS DISTINCT FROM OLD.pitr_destination_id THEN
		NEW.pitr_destination_id := pitr_destination(NEW.type, NEW.pitr_enabled,
		                                              NEW.pitr_destination_id);
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.pitr_destination_id IS DISTINCT FROM OLD.pitr_destination_id THEN
		-- Another repository: its window is not known yet.
		NEW.pitr_earliest := NULL; NEW.pitr_latest := NULL; NEW.pitr_checked_at := NULL;
		NEW.pitr_full_at := NULL; NEW.pitr_backup_at := NULL;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER databases_pitr BEFORE INSERT OR UPDATE OF pitr_enabled, pitr_destination_id
	ON databases FOR EACH ROW EXECUTE FUNCTION databases_pitr_destination();

-- POST /databases: api_database_create (023) with the body's
-- pitr_destination_id handed to the insert's trigger above (its INSERT
-- names the columns of 023).
CREATE FUNCTION api_database_new(p_id uuid, p_project uuid, p_body jsonb, p_image jsonb,
	p_password_sealed text, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE id uuid;
BEGIN
	PERFORM set_config('launcher.pitr_destination', coalesce(p_body ->> 'pitr_destination_id', ''),
	                   true);
	id := api_database_create(p_id, p_project, p_body, p_image, p_password_sealed, p_user);
	PERFORM set_config('launcher.pitr_destination', '', true);
	RETURN id;
END $$;

-- Whether database p_db has a db.* job queued or running.
CREATE FUNCTION database_busy(p_server uuid, p_db uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = p_server
	                AND j.status IN ('queued', 'running') AND j.kind LIKE 'db.%'
	                AND j.payload ->> 'database_id' = p_db::text)
$$;

-- launcher-backup's step (CONTRACT §6 (4)): what is due for every pitr
-- database, across tenants.  Returns how many jobs it queued.
CREATE FUNCTION pitr_tick()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE d databases; kind text; extra jsonb; n integer := 0;
BEGIN
	FOR d IN SELECT * FROM databases
	          WHERE pitr_enabled AND type = 'postgres' AND pitr_destination_id IS NOT NULL
	            AND status = 'running' AND pending_action IS NULL
	          FOR UPDATE SKIP LOCKED LOOP
		CONTINUE WHEN database_busy(d.server_id, d.id);
		kind := 'db.pitr_backup';
		IF d.pitr_full_at IS NULL OR d.pitr_full_at < now() - interval '7 days' THEN
			extra := '{"backup_type": "full"}';
		ELSIF d.pitr_backup_at < now() - interval '1 day' THEN
			extra := '{"backup_type": "diff"}';
		ELSIF d.pitr_checked_at IS NULL OR d.pitr_checked_at < now() - interval '1 minute' THEN
			kind := 'db.pitr_info';
			extra := '{}';
		ELSE
			CONTINUE;
		END IF;
		PERFORM job_enqueue(d.tenant_id, d.server_id, d.project_id, kind,
		                    database_job_payload(d, NULL) || extra, NULL);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION pitr_tick() FROM PUBLIC;

-- "2026-12-06T01:02:03Z" (or with fractions) of a result, or NULL.
CREATE FUNCTION pitr_time(p text)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$' THEN p::timestamptz END
$$;

-- The window and the base backups from a finished job's result
-- {"pitr": {"earliest", "latest", "backup_type"?, "backup_at"?}}
-- (db.provision, db.pitr_backup, db.pitr_info, db.pitr_restore), and a
-- pitr_restore's end: running again, or failed with the job's error.
CREATE FUNCTION database_pitr_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r jsonb := NEW.result -> 'pitr'; db uuid := (NEW.payload ->> 'database_id')::uuid;
	ok boolean := NEW.status = 'succeeded'; bt text := r ->> 'backup_type';
	bat timestamptz := pitr_time(r ->> 'backup_at');
BEGIN
	IF ok AND jsonb_typeof(r) = 'object' THEN
		UPDATE databases SET pitr_earliest = coalesce(pitr_time(r ->> 'earliest'), pitr_earliest),
		       pitr_latest = coalesce(pitr_time(r ->> 'latest'), pitr_latest),
		       pitr_checked_at = now(),
		       pitr_full_at = CASE WHEN bt = 'full' THEN coalesce(bat, now()) ELSE pitr_full_at END,
		       pitr_backup_at = CASE WHEN bt IN ('full', 'diff') THEN coalesce(bat, now())
		                        ELSE pitr_backup_at END
		 WHERE id = db AND server_id = NEW.server_id;
	END IF;
	IF NEW.kind = 'db.pitr_restore' THEN
		-- One that never started (cancelled or expired in the queue) changed
		-- nothing: the database runs on.
		UPDATE databases SET status = CASE WHEN ok OR NEW.started_at IS NULL THEN 'running'
		                                   ELSE 'failed' END,
		       status_reason = CASE WHEN ok THEN NULL
		                       WHEN NEW.started_at IS NULL
		                       THEN 'point-in-time restore ' || NEW.status ||
		                            ' before it started: nothing was changed'
		                       ELSE 'point-in-time restore failed: ' ||
		                            coalesce(NEW.error, NEW.status) END,
		       container_id = CASE WHEN NEW.result ->> 'container_id' ~ '^[0-9a-f]{12,64}$'
		                      THEN NEW.result ->> 'container_id' ELSE container_id END
		 WHERE id = db AND server_id = NEW.server_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_pitr_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind IN ('db.provision', 'db.pitr_backup', 'db.pitr_info',
	                                    'db.pitr_restore')
	                   AND NEW.payload ->> 'database_id' ~
	                       '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
	EXECUTE FUNCTION database_pitr_finished();

-- 400 naming target_time unless p_target lies in d's stored window; the
-- message and the details give the window.
CREATE FUNCTION pitr_check_target(d databases, p_target timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT d.pitr_enabled OR d.pitr_destination_id IS NULL THEN
		RAISE EXCEPTION 'point-in-time recovery is not enabled for database %', d.name
			USING ERRCODE = 'LN409';
	END IF;
	IF d.pitr_earliest IS NULL OR d.pitr_latest IS NULL THEN
		RAISE EXCEPTION 'no recovery window yet: the first base backup has not finished'
			USING ERRCODE = 'LN400', COLUMN = 'target_time';
	END IF;
	IF p_target < d.pitr_earliest OR p_target > d.pitr_latest THEN
		RAISE EXCEPTION 'must be within the recovery window % .. % (checked %)',
			to_char(d.pitr_earliest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			to_char(d.pitr_latest AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			to_char(d.pitr_checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
			USING ERRCODE = 'LN400', COLUMN = 'target_time';
	END IF;
END $$;

-- The source of a pitr action, locked; p_target (when given) inside its
-- window (a 400 says more than a 409 would), then running with no action
-- and no job in progress but those of p_ignore (a window refresh does not
-- hold a restore up; a base backup does not hold up a clone).
CREATE FUNCTION pitr_source(p_db uuid, p_target timestamptz, p_ignore text[])
RETURNS databases
LANGUAGE plpgsql AS $$
DECLARE d databases;
BEGIN
	SELECT * INTO d FROM databases WHERE id = p_db FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'database not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_target IS NOT NULL THEN
		PERFORM pitr_check_target(d, p_target);
	END IF;
	IF d.status <> 'running' OR d.pending_action IS NOT NULL OR EXISTS (
	       SELECT 1 FROM jobs j WHERE j.server_id = d.server_id
	          AND j.status IN ('queued', 'running') AND j.kind LIKE 'db.%'
	          AND j.payload ->> 'database_id' = d.id::text AND j.kind <> ALL (p_ignore)) THEN
		RAISE EXCEPTION 'the database is % with %: retry when it runs with nothing in progress',
			d.status, coalesce(d.pending_action, 'a job in progress')
			USING ERRCODE = 'LN409';
	END IF;
	RETURN d;
END $$;

-- A target as pgBackRest's --target takes it: "2026-12-06 01:30:00.000000+00".
CREATE FUNCTION pitr_target(p timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'
$$;

-- POST /databases/:id/pitr: in place.  The job id.
CREATE FUNCTION api_database_pitr(p_db uuid, p_target timestamptz, p_image jsonb, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE d databases := pitr_source(p_db, p_target, '{db.pitr_info}');
BEGIN
	UPDATE databases SET status = 'restoring', status_reason = NULL WHERE id = p_db;
	RETURN job_enqueue(d.tenant_id, d.server_id, d.project_id, 'db.pitr_restore',
		database_job_payload(d, p_image) || jsonb_build_object('pitr_restore',
			jsonb_build_object('target_time', pitr_target(p_target), 'source', pitr_repo(d.id,
				d.pitr_destination_id, (p_image ->> 'pitr_archive_timeout')::integer))),
		p_user);
END $$;

-- POST /databases/:id/pitr-clone: a new database p_id (the handler sealed
-- the source's password again for it; user and database names are the
-- source's, those of the restored cluster), created as POST /databases does in
-- the source's project, environment and server, without PITR; its
-- db.provision restores the source's repository to p_target before the
-- first start ("pitr_restore").
CREATE FUNCTION api_database_pitr_clone(p_db uuid, p_id uuid, p_target timestamptz, p_name text,
	p_image jsonb, p_password_sealed text, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE d databases := pitr_source(p_db, p_target, '{db.pitr_info,db.pitr_backup}');
BEGIN
	PERFORM api_database_create(p_id, d.project_id, jsonb_build_object('name', p_name,
		'type', d.type, 'environment_id', d.environment_id, 'server_id', d.server_id,
		'cpu_limit', d.cpu_limit, 'memory_limit', d.memory_limit), p_image, p_password_sealed,
		p_user);
	-- The restored cluster is the source's: its user and database names.
	UPDATE databases SET restored_from_id = d.id, db_user = d.db_user, db_name = d.db_name
	 WHERE id = p_id;
	UPDATE jobs SET payload = payload || jsonb_build_object('db_user', d.db_user,
		'db_name', d.db_name, 'pitr_restore',
		jsonb_build_object('target_time', pitr_target(p_target), 'source', pitr_repo(d.id,
			d.pitr_destination_id, NULL)))
	 WHERE kind = 'db.provision' AND status = 'queued' AND payload ->> 'database_id' = p_id::text;
	RETURN p_id;
END $$;

-- POST /databases/:id/switch: the clone p_restored takes p_db's name,
-- network alias and PITR settings, p_db the clone's name and alias (one
-- transaction; p_db goes through a free name so that the names' unique key
-- holds at every row).  The clone's container is made again with its new
-- alias and the archive settings (db.restart; pitr_tick then makes its
-- first base backup), p_db's is stopped and removed (db.stop with
-- remove_container: its row and volume stay, a start makes it again with
-- its new alias).  Returns the clone's job.
CREATE FUNCTION api_database_switch(p_db uuid, p_restored uuid, p_image jsonb, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE a databases := pitr_source(p_db, NULL, '{db.pitr_info,db.pitr_backup}'); b databases;
BEGIN
	SELECT * INTO b FROM databases WHERE id = p_restored FOR UPDATE;
	IF NOT FOUND OR b.restored_from_id IS DISTINCT FROM a.id THEN
		RAISE EXCEPTION 'is not a point-in-time clone of this database'
			USING ERRCODE = 'LN400', COLUMN = 'restored_database_id';
	END IF;
	IF b.status <> 'running' OR b.pending_action IS NOT NULL OR database_busy(b.server_id, b.id) THEN
		RAISE EXCEPTION 'the restored database is %: retry when it runs with nothing in progress',
			b.status USING ERRCODE = 'LN409';
	END IF;
	UPDATE databases SET name = 'switch-' || left(replace(a.id::text, '-', ''), 16) WHERE id = a.id;
	UPDATE databases SET name = a.name, internal_host = a.internal_host, restored_from_id = NULL,
	       pitr_enabled = a.pitr_enabled, pitr_destination_id = a.pitr_destination_id
	 WHERE id = b.id;
	UPDATE databases SET name = b.name, internal_host = b.internal_host WHERE id = a.id
	RETURNING * INTO a;
	PERFORM job_enqueue(a.tenant_id, a.server_id, a.project_id, 'db.stop',
		database_job_payload(a, p_image) || '{"remove_container": true}', p_user);
	UPDATE databases SET pending_action = 'stop' WHERE id = a.id;
	RETURN database_job(b.id, 'db.restart', p_image, 'restart', p_user);
END $$;

GRANT EXECUTE ON FUNCTION pitr_repo(uuid, uuid, integer),
	api_database_new(uuid, uuid, jsonb, jsonb, text, uuid), database_job_payload(databases, jsonb),
	pitr_destination(text, boolean, uuid), database_busy(uuid, uuid), pitr_time(text), pitr_target(timestamptz),
	pitr_check_target(databases, timestamptz), pitr_source(uuid, timestamptz, text[]),
	api_database_pitr(uuid, timestamptz, jsonb, uuid),
	api_database_pitr_clone(uuid, uuid, timestamptz, text, jsonb, text, uuid),
	api_database_switch(uuid, uuid, jsonb, uuid) TO launcher_api;
GRANT EXECUTE ON FUNCTION pitr_tick() TO launcher_maint;

-- A destination used as a PITR repository is in use too: its delete is
-- refused (409) naming those databases (sql/035's function, with them).
CREATE OR REPLACE FUNCTION backup_destination_used_by(p_dest uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT nullif(concat_ws('; ',
		(SELECT 'schedules ' || string_agg(s.id::text, ', ' ORDER BY s.created_at, s.id)
		   FROM backup_schedules s WHERE s.destination_id = p_dest),
		(SELECT 'the PITR repositories of databases ' || string_agg(d.name, ', ' ORDER BY d.name)
		   FROM databases d WHERE d.pitr_destination_id = p_dest),
		(SELECT count(*) || ' backups (' || string_agg(b.id::text, ', ' ORDER BY b.created_at, b.id)
		        FILTER (WHERE b.n <= 5) || CASE WHEN count(*) > 5 THEN ', ...' ELSE '' END || ')'
		   FROM (SELECT b.*, row_number() OVER (ORDER BY b.created_at, b.id) AS n
		           FROM backups b WHERE b.destination_id = p_dest) b HAVING count(*) > 0)), '')
$$;
