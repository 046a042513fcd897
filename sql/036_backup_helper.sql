-- 036_backup_helper.sql - the rules of launcher-backup beside the data
-- (fcgi/bin/launcher_backup.c computes only the cron clock):
--   - a due schedule is taken FOR UPDATE SKIP LOCKED, so helpers on several
--     machines queue each due run once; its backup goes through the one
--     queuing function (backup_queue, sql/035) and its next_run_at moves on
--     in the same transaction;
--   - retention queues backup.delete jobs (their success removes the row,
--     sql/035) and never touches the newest succeeded backup of a schedule
--     or of a resource;
--   - stale: the helper says which schedules went two intervals without a
--     success; the first report of an episode raises backup.stale (a
--     success ends the episode: stale_since is cleared by sql/035's trigger);
--   - the plane's own database backups are recorded in plane_backups
--     (the plane's, not a tenant's: no tenant_id, maintenance role only).
-- All functions cross tenants: SECURITY DEFINER, executable by the
-- maintenance role only (launcher_maint), like 033's.

SET search_path = launcher;

-- The next due schedule at p_now (oldest due first), locked for this
-- transaction; none when every due one is locked by another helper.
CREATE FUNCTION backup_schedule_take(p_now timestamptz)
RETURNS TABLE (id uuid, cron text, timezone text, next_run_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT s.id, s.cron, s.timezone, s.next_run_at
	  FROM backup_schedules s
	 WHERE s.enabled AND s.next_run_at <= p_now AND s.resource_type <> 'bucket'
	 ORDER BY s.next_run_at, s.id
	 LIMIT 1
	   FOR UPDATE SKIP LOCKED
$$;

-- Runs taken schedule p_id: queues its backup (backup_queue) and sets
-- next_run_at to p_next (NULL: the expression has no further run).  A
-- run that cannot be queued (a stopped database: LN409; anything else
-- backup_queue refuses) is skipped, recorded as failed with a
-- backup.failed event, and the schedule moves on: one bad schedule never
-- holds up the others due after it.  Returns the backup id or NULL.
CREATE FUNCTION backup_schedule_run(p_id uuid, p_next timestamptz)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE s backup_schedules; bid uuid; why text;
BEGIN
	SELECT * INTO s FROM backup_schedules WHERE backup_schedules.id = p_id;
	UPDATE backup_schedules SET next_run_at = p_next WHERE backup_schedules.id = p_id;
	BEGIN
		bid := backup_queue(s.resource_type, coalesce(s.database_id, s.volume_id),
		                    s.destination_id, s.id, 'schedule', NULL);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
		UPDATE backup_schedules SET last_status = 'failed', last_run_at = now()
		 WHERE backup_schedules.id = p_id;
		PERFORM alert_raise(s.tenant_id, s.project_id, 'backup.failed', s.resource_type,
			coalesce(s.database_id, s.volume_id),
			format('scheduled backup of %s %s not started: %s', s.resource_type,
			       coalesce(s.database_id, s.volume_id), why),
			jsonb_build_object('schedule_id', s.id));
	END;
	RETURN bid;
END $$;

-- Retention at p_now: for every schedule with keep_last or keep_days, its
-- succeeded backups that no rule keeps get a backup.delete job (unless one
-- is queued or running already).  A backup is kept when it is among the
-- keep_last newest, or younger than keep_days, or the newest succeeded
-- backup of its schedule or of its resource.  Returns how many jobs.
CREATE FUNCTION backup_retention(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE b record; n integer := 0;
BEGIN
	FOR b IN
		SELECT x.* FROM (
			SELECT k.*, s.keep_last, s.keep_days,
			       row_number() OVER (PARTITION BY k.schedule_id
			                          ORDER BY k.created_at DESC, k.id DESC) AS nth,
			       k.id = (SELECT r.id FROM backups r
			                WHERE r.resource_id = k.resource_id AND r.status = 'succeeded'
			                ORDER BY r.created_at DESC, r.id DESC LIMIT 1) AS newest_of_resource
			  FROM backups k JOIN backup_schedules s
			    ON s.tenant_id = k.tenant_id AND s.id = k.schedule_id
			 WHERE k.status = 'succeeded'
			   AND (s.keep_last IS NOT NULL OR s.keep_days IS NOT NULL)) x
		 WHERE x.nth > 1 AND NOT x.newest_of_resource
		   AND NOT coalesce(x.nth <= x.keep_last, false)
		   AND NOT coalesce(x.created_at > p_now - make_interval(days => x.keep_days), false)
		   AND NOT EXISTS (SELECT 1 FROM jobs j
		                    WHERE j.server_id = x.server_id AND j.kind = 'backup.delete'
		                      AND j.status IN ('queued', 'running')
		                      AND j.payload ->> 'backup_id' = x.id::text)
		 ORDER BY x.created_at
	LOOP
		PERFORM job_enqueue(b.tenant_id, b.server_id, b.project_id, 'backup.delete',
			jsonb_build_object('backup_id', b.id, 'tenant_id', b.tenant_id,
				'object_key', b.object_key,
				'destination', (SELECT backup_destination_payload(d) FROM backup_destinations d
				                 WHERE d.tenant_id = b.tenant_id AND d.id = b.destination_id)),
			NULL);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- The enabled schedules not stale yet, with the instant their
-- "no success since" counts from (the last success, else the creation).
CREATE FUNCTION backup_stale_candidates()
RETURNS TABLE (id uuid, cron text, timezone text, since timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT s.id, s.cron, s.timezone, coalesce(s.last_success_at, s.created_at)
	  FROM backup_schedules s
	 WHERE s.enabled AND s.stale_since IS NULL AND s.resource_type <> 'bucket'
	 ORDER BY s.id
$$;

-- Schedule p_id had no success within two intervals (p_interval, the gap
-- between its runs around p_now): marks it stale and raises backup.stale,
-- once per episode (false when it is stale already or succeeded since).
CREATE FUNCTION backup_mark_stale(p_id uuid, p_now timestamptz, p_interval interval)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE s backup_schedules;
BEGIN
	UPDATE backup_schedules SET stale_since = p_now, last_status = 'stale'
	 WHERE backup_schedules.id = p_id AND enabled AND stale_since IS NULL
	   AND coalesce(last_success_at, created_at) < p_now - 2 * p_interval
	RETURNING * INTO s;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM alert_raise(s.tenant_id, s.project_id, 'backup.stale', s.resource_type,
		coalesce(s.database_id, s.volume_id),
		format('no successful backup of %s %s since %s (schedule "%s" %s runs every %s)',
		       s.resource_type, coalesce(s.database_id, s.volume_id),
		       coalesce(s.last_success_at::text, 'the schedule was created'), s.cron, s.timezone,
		       p_interval),
		jsonb_build_object('schedule_id', s.id, 'last_success_at', s.last_success_at,
		                   'interval_seconds', extract(epoch FROM p_interval)::bigint));
	RETURN true;
END $$;

-- The plane's own database backups (launcher.conf plane_backup_*): one
-- row per attempt; no tenant.
CREATE TABLE plane_backups (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	object_key  text NOT NULL CHECK (length(object_key) BETWEEN 1 AND 1024),
	status      text NOT NULL DEFAULT 'running'
	            CHECK (status IN ('running', 'succeeded', 'failed', 'deleted')),
	size_bytes  bigint CHECK (size_bytes >= 0),
	sha256      text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	error       text,
	started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at timestamptz,
	verified_at timestamptz,
	CONSTRAINT plane_backups_succeeded_check CHECK (status <> 'succeeded'
		OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND verified_at IS NOT NULL))
);
CREATE INDEX plane_backups_started ON plane_backups (started_at);
-- One run at a time across machines.
CREATE UNIQUE INDEX plane_backups_one_running ON plane_backups ((true)) WHERE status = 'running';

-- Starts a plane backup due at p_due (the cron run the helper computed from
-- the last start it saw, p_last; NULL: none yet) with object key p_key:
-- the row's id, or NULL when another run started since p_last or is
-- running.  A run left 'running' for six hours (a crashed helper) is
-- marked failed first.
CREATE FUNCTION plane_backup_start(p_last timestamptz, p_key text)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE r uuid;
BEGIN
	UPDATE plane_backups SET status = 'failed', error = 'abandoned (no result within 6 hours)',
	       finished_at = now()
	 WHERE status = 'running' AND started_at < now() - interval '6 hours';
	IF (SELECT max(started_at) FROM plane_backups) IS DISTINCT FROM p_last THEN
		RETURN NULL;
	END IF;
	INSERT INTO plane_backups (object_key) VALUES (p_key)
	ON CONFLICT DO NOTHING RETURNING id INTO r;
	RETURN r;
END $$;

-- The end of plane backup p_id: succeeded with its read-back facts, or
-- failed with p_error.  Returns the object keys of succeeded backups
-- beyond the p_keep_last newest (NULL: keep all), marked 'deleted': the
-- helper removes their objects (never the newest success).
CREATE FUNCTION plane_backup_finish(p_id uuid, p_size bigint, p_sha256 text, p_error text,
	p_keep_last integer)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
BEGIN
	UPDATE plane_backups SET
	       status = CASE WHEN p_error IS NULL THEN 'succeeded' ELSE 'failed' END,
	       size_bytes = CASE WHEN p_error IS NULL THEN p_size END,
	       sha256 = CASE WHEN p_error IS NULL THEN p_sha256 END,
	       verified_at = CASE WHEN p_error IS NULL THEN clock_timestamp() END,
	       error = p_error, finished_at = clock_timestamp()
	 WHERE id = p_id AND status = 'running';
	IF p_keep_last IS NULL OR p_keep_last < 1 THEN
		RETURN;
	END IF;
	RETURN QUERY
	UPDATE plane_backups p SET status = 'deleted'
	  FROM (SELECT b.id FROM plane_backups b WHERE b.status = 'succeeded'
	         ORDER BY b.started_at DESC, b.id DESC OFFSET p_keep_last) old
	 WHERE p.id = old.id
	RETURNING p.object_key;
END $$;

-- The last start the helper compares against (plane_backup_start's p_last).
CREATE FUNCTION plane_backup_last()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT max(started_at) FROM plane_backups
$$;

-- Of the staged import uploads p_uploads (file names under imports_dir),
-- those a db.import job still waits for or reads (queued or running).
CREATE FUNCTION backup_imports_in_use(p_uploads text[])
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT j.payload ->> 'upload_id' FROM jobs j
	 WHERE j.kind = 'db.import' AND j.status IN ('queued', 'running')
	   AND j.payload ->> 'upload_id' = ANY (p_uploads)
$$;

REVOKE ALL ON FUNCTION backup_imports_in_use(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_imports_in_use(text[]) TO launcher_maint;

REVOKE ALL ON FUNCTION backup_schedule_take(timestamptz), backup_schedule_run(uuid, timestamptz),
	backup_retention(timestamptz), backup_stale_candidates(),
	backup_mark_stale(uuid, timestamptz, interval), plane_backup_start(timestamptz, text),
	plane_backup_finish(uuid, bigint, text, text, integer), plane_backup_last() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_schedule_take(timestamptz), backup_schedule_run(uuid, timestamptz),
	backup_retention(timestamptz), backup_stale_candidates(),
	backup_mark_stale(uuid, timestamptz, interval), plane_backup_start(timestamptz, text),
	plane_backup_finish(uuid, bigint, text, text, integer), plane_backup_last() TO launcher_maint;
GRANT SELECT ON plane_backups TO launcher_maint;

-- POST /backup-schedules (fcgi/api/backup_schedules.c): the caller checked
-- the resource's project (p_project), the cron expression and the time
-- zone, and computed next_run_at (p_body.next_run_at, epoch seconds).
CREATE FUNCTION api_backup_schedule_create(p_project uuid, p_body jsonb)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE rt text := p_body ->> 'resource_type'; rid uuid := (p_body ->> 'resource_id')::uuid;
	dest uuid := (p_body ->> 'destination_id')::uuid; r uuid;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM backup_destinations WHERE id = dest) THEN
		RAISE EXCEPTION 'no such backup destination' USING ERRCODE = 'LN400',
			COLUMN = 'destination_id';
	END IF;
	-- A type no dump exists for (MongoDB) would fail every run.
	IF rt = 'database' AND (SELECT format FROM backup_format(
	       (SELECT type FROM databases WHERE id = rid))) IS NULL THEN
		RAISE EXCEPTION 'a database of this type cannot be backed up yet' USING ERRCODE = 'LN400',
			COLUMN = 'resource_id';
	END IF;
	INSERT INTO backup_schedules (project_id, resource_type, database_id, volume_id,
	                              destination_id, cron, timezone, keep_last, keep_days, enabled,
	                              next_run_at)
	VALUES (p_project, rt, CASE WHEN rt = 'database' THEN rid END,
	        CASE WHEN rt = 'volume' THEN rid END, dest, p_body ->> 'cron',
	        coalesce(p_body ->> 'timezone', 'UTC'),
	        (p_body -> 'retention' ->> 'keep_last')::integer,
	        (p_body -> 'retention' ->> 'keep_days')::integer,
	        coalesce((p_body ->> 'enabled')::boolean, true),
	        to_timestamp((p_body ->> 'next_run_at')::double precision))
	RETURNING id INTO r;
	-- launcher-backup --loop runs at once (its next_run_at may be near).
	PERFORM pg_notify('launcher_backup', '');
	RETURN r;
END $$;

-- PUT /backup-schedules/:id: the given fields change (retention's keys
-- one by one; null clears), next_run_at always (computed by the caller
-- from now).  The id, or NULL when p_version does not match.
CREATE FUNCTION api_backup_schedule_update(p_id uuid, p_body jsonb, p_version bigint)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE ret jsonb := coalesce(p_body -> 'retention', '{}'); dest uuid; r uuid;
BEGIN
	IF p_body ? 'destination_id' THEN
		dest := (p_body ->> 'destination_id')::uuid;
		IF NOT EXISTS (SELECT 1 FROM backup_destinations WHERE id = dest) THEN
			RAISE EXCEPTION 'no such backup destination' USING ERRCODE = 'LN400',
				COLUMN = 'destination_id';
		END IF;
	END IF;
	UPDATE backup_schedules SET
	       destination_id = coalesce(dest, destination_id),
	       cron = coalesce(p_body ->> 'cron', cron),
	       timezone = coalesce(p_body ->> 'timezone', timezone),
	       keep_last = CASE WHEN ret ? 'keep_last' THEN (ret ->> 'keep_last')::integer ELSE keep_last END,
	       keep_days = CASE WHEN ret ? 'keep_days' THEN (ret ->> 'keep_days')::integer ELSE keep_days END,
	       enabled = coalesce((p_body ->> 'enabled')::boolean, enabled),
	       next_run_at = to_timestamp((p_body ->> 'next_run_at')::double precision)
	 WHERE id = p_id AND (p_version IS NULL OR row_version = p_version)
	RETURNING id INTO r;
	PERFORM pg_notify('launcher_backup', '');
	RETURN r;
END $$;

GRANT EXECUTE ON FUNCTION api_backup_schedule_create(uuid, jsonb),
	api_backup_schedule_update(uuid, jsonb, bigint) TO launcher_api;
