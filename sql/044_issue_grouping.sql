-- 044_issue_grouping.sql - launcher-issues' way into the error tracking
-- tables of sql/043 (README "Error tracking: grouping"), and the crashes
-- the agent sees as events of the application.
--
--   - issue_raw_take: a batch of the raw queue, locked (FOR UPDATE SKIP
--     LOCKED: several consumers never take one row twice); the caller holds
--     the transaction open while it fingerprints them (core/fingerprint.c).
--   - issue_raw_group: the batch's fingerprints, in the same transaction:
--     per event, the issue upserted (UNIQUE tenant/project/application/
--     fingerprint), the occurrence recorded (a second event_id in the
--     project is an SDK's retry: nothing counted), the raw row deleted;
--     'issue.new' for a new issue, 'issue.regressed' (and unresolved again)
--     for a resolved one that recurs; an ignored issue counts silently.
--   - issue_raw_drop: the one way out of the queue for an event that cannot
--     be recorded (launcher-issues logs it): the queue never wedges.
--   Executed by launcher_maint only; no privilege on the tables goes to it
--   (the rule of sql/040's alert_delivery_take).
--
--   - application_crashed (sql/041, where application.crashed is raised)
--     also queues a Sentry-shaped event (source 'crash', level fatal) with
--     the application's last runtime log lines, which launcher-issues groups
--     like an SDK's: its fingerprint ["launcher-crash", <kind>] makes one
--     issue per crash kind and application.

SET search_path = launcher;

-- ------------------------------------------------------------ the consumer

CREATE FUNCTION issue_raw_take(p_limit integer)
RETURNS TABLE (id bigint, tenant_id uuid, project_id uuid, application_id uuid, source text,
               event_id text, payload text)
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT r.id, r.tenant_id, r.project_id, r.application_id, r.source, r.event_id, r.payload
	  FROM error_events_raw r
	 ORDER BY r.id
	 LIMIT p_limit FOR UPDATE SKIP LOCKED
$$;

-- p_items: [{raw_id, fingerprint, title, culprit, level, occurred_at (unix
-- seconds or null: received_at), message, release, environment, data}].
-- Returns the occurrences recorded.
CREATE FUNCTION issue_raw_group(p_items jsonb)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	x       record;
	r       error_events_raw;
	iss     issues;
	created boolean;
	was     text;
	n       integer := 0;
BEGIN
	FOR x IN SELECT * FROM jsonb_to_recordset(p_items) AS j(raw_id bigint, fingerprint text,
	         title text, culprit text, level text, occurred_at double precision, message text,
	         release text, environment text, data jsonb) LOOP
		DELETE FROM error_events_raw e WHERE e.id = x.raw_id RETURNING * INTO r;
		CONTINUE WHEN NOT FOUND;
		CONTINUE WHEN EXISTS (SELECT 1 FROM issue_events e WHERE e.tenant_id = r.tenant_id
		                       AND e.project_id = r.project_id AND e.event_id = r.event_id);
		created := false;
		SELECT * INTO iss FROM issues i
		 WHERE i.tenant_id = r.tenant_id AND i.project_id = r.project_id
		   AND i.application_id IS NOT DISTINCT FROM r.application_id
		   AND i.fingerprint = x.fingerprint FOR UPDATE;
		IF NOT FOUND THEN
			INSERT INTO issues (tenant_id, project_id, application_id, fingerprint, title,
			                    culprit, level, first_seen, last_seen, event_count)
			VALUES (r.tenant_id, r.project_id, r.application_id, x.fingerprint, x.title,
			        coalesce(x.culprit, ''), x.level, r.received_at, r.received_at, 1)
			ON CONFLICT ON CONSTRAINT issues_fingerprint_key DO NOTHING
			RETURNING * INTO iss;
			created := FOUND;
			IF NOT created THEN	-- another consumer created it meanwhile
				SELECT * INTO iss FROM issues i
				 WHERE i.tenant_id = r.tenant_id AND i.project_id = r.project_id
				   AND i.application_id IS NOT DISTINCT FROM r.application_id
				   AND i.fingerprint = x.fingerprint FOR UPDATE;
			END IF;
		END IF;
		was := iss.status;
		IF NOT created THEN
			UPDATE issues i SET event_count = i.event_count + 1,
			       last_seen = greatest(i.last_seen, r.received_at),
			       status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END,
			       resolved_at = CASE WHEN i.status = 'resolved' THEN NULL ELSE i.resolved_at END,
			       updated_at = now()
			 WHERE i.id = iss.id;
		END IF;
		INSERT INTO issue_events (tenant_id, issue_id, project_id, event_id, received_at,
		                          occurred_at, level, message, release, environment, data)
		SELECT r.tenant_id, iss.id, r.project_id, r.event_id, r.received_at,
		       coalesce(to_timestamp(x.occurred_at), r.received_at), x.level, x.message,
		       x.release, x.environment,
		       CASE WHEN r.attachments IS NULL THEN x.data
		            ELSE x.data || jsonb_build_object('attachments', r.attachments) END
		ON CONFLICT ON CONSTRAINT issue_events_event_key DO NOTHING;
		IF NOT FOUND THEN
			-- Another consumer recorded this event id first (an SDK retry
			-- taken in parallel): not a second occurrence.
			IF created THEN
				DELETE FROM issues WHERE id = iss.id;
			ELSE
				UPDATE issues i SET event_count = i.event_count - 1 WHERE i.id = iss.id;
			END IF;
			CONTINUE;
		END IF;
		n := n + 1;
		IF created OR was = 'resolved' THEN
			PERFORM alert_raise(r.tenant_id, r.project_id,
				CASE WHEN created THEN 'issue.new' ELSE 'issue.regressed' END, 'issue', iss.id,
				format(CASE WHEN created THEN 'New issue in %s%s: %s'
				            ELSE 'Resolved issue in %s%s occurred again: %s' END,
				       p.name, coalesce(' / ' || a.name, ''), left(iss.title, 200)),
				jsonb_build_object('issue_id', iss.id, 'project_id', r.project_id,
				                   'project_name', p.name, 'application_id', r.application_id,
				                   'application_name', a.name, 'title', iss.title,
				                   'culprit', iss.culprit, 'level', iss.level,
				                   'event_id', r.event_id, 'source', r.source))
			  FROM projects p LEFT JOIN applications a ON a.id = r.application_id
			 WHERE p.id = r.project_id;
		END IF;
	END LOOP;
	RETURN n;
END $$;

-- An event launcher-issues could not record (it logs why): out of the
-- queue.  Whether it was there.
CREATE FUNCTION issue_raw_drop(p_id bigint)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	WITH d AS (DELETE FROM error_events_raw WHERE id = p_id RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM d)
$$;

REVOKE ALL ON FUNCTION issue_raw_take(integer), issue_raw_group(jsonb), issue_raw_drop(bigint)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION issue_raw_take(integer), issue_raw_group(jsonb), issue_raw_drop(bigint)
	TO launcher_maint;

-- ------------------------------------------------------------ crashes
-- The crash event of application p_app: its instance i restarted by itself
-- (i.id NULL: every container of the release stopped by itself).  Kinds:
-- ContainerKilled (exit code 137, SIGKILL: most often the kernel's OOM
-- killer; the engine's report carries no OOM flag), CrashLoop (a container
-- the engine restarted), ContainerExited (the application stopped).  The
-- event carries the application's last 50 runtime log lines (1000 bytes of
-- each) as breadcrumbs and in extra.log_lines.
CREATE FUNCTION application_crash_issue(p_app uuid, i instances) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	a    applications;
	code integer;
	kind text;
	val  text;
	logs jsonb;
	eid  text := replace(gen_random_uuid()::text, '-', '');
BEGIN
	SELECT * INTO a FROM applications WHERE id = p_app;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	code := coalesce(i.exit_code,
	                 (SELECT x.exit_code FROM instances x WHERE x.application_id = p_app
	                   AND x.exit_code IS NOT NULL ORDER BY x.updated_at DESC LIMIT 1));
	kind := CASE WHEN code = 137 THEN 'ContainerKilled'
	             WHEN i.id IS NOT NULL THEN 'CrashLoop' ELSE 'ContainerExited' END;
	val := CASE kind
	       WHEN 'ContainerKilled' THEN 'The container was killed (exit code 137, SIGKILL: most often out of memory)'
	       WHEN 'CrashLoop' THEN format('The container exited%s and was restarted by the engine',
	                                    coalesce(format(' with code %s', code), ''))
	       ELSE format('Every container of the application stopped by itself%s',
	                   coalesce(format(' (exit code %s)', code), '')) END;
	SELECT coalesce(jsonb_agg(jsonb_build_object('timestamp', extract(epoch FROM l.ts),
	                'type', 'default', 'category', 'log.' || l.stream,
	                'level', CASE l.stream WHEN 'stderr' THEN 'error' ELSE 'info' END,
	                'message', left(l.message, 1000)) ORDER BY l.ts, l.id), '[]')
	  INTO logs
	  FROM (SELECT * FROM runtime_logs l WHERE l.application_id = p_app
	         ORDER BY l.ts DESC, l.id DESC LIMIT 50) l;
	INSERT INTO error_events_raw (tenant_id, project_id, application_id, dsn_id, source,
	                              event_id, payload)
	SELECT a.tenant_id, a.project_id, a.id, NULL, 'crash', eid,
	       jsonb_build_object(
	           'event_id', eid, 'timestamp', extract(epoch FROM clock_timestamp()),
	           'platform', 'other', 'level', 'fatal', 'logger', 'launcher.agent',
	           'server_name', (SELECT s.name FROM servers s WHERE s.id = a.server_id),
	           'release', d.commit_sha,
	           'fingerprint', jsonb_build_array('launcher-crash', kind),
	           'exception', jsonb_build_object('values', jsonb_build_array(jsonb_build_object(
	               'type', kind, 'value', val,
	               'mechanism', jsonb_build_object('type', 'launcher.crash', 'handled', false)))),
	           'tags', jsonb_strip_nulls(jsonb_build_object('crash_kind', kind,
	               'container', i.name, 'deployment_id', a.current_deployment_id,
	               'exit_code', code::text)),
	           'extra', jsonb_build_object('exit_code', code, 'restart_count', i.restart_count,
	               'container_name', i.name, 'instance_id', i.id,
	               'deployment_id', a.current_deployment_id,
	               'log_lines', (SELECT coalesce(jsonb_agg(b->>'message'), '[]')
	                               FROM jsonb_array_elements(logs) b)),
	           'breadcrumbs', jsonb_build_object('values', logs))::text
	  FROM (SELECT NULL) one
	  LEFT JOIN deployments d ON d.id = a.current_deployment_id;
	PERFORM pg_notify('launcher_issues', '');
END $$;

-- application_crashed (sql/041, called by its triggers where
-- application.crashed is raised) now raises the alert and queues the event.
ALTER FUNCTION application_crashed(uuid, instances) RENAME TO application_crashed_alert;
CREATE FUNCTION application_crashed(p_app uuid, i instances) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM application_crashed_alert(p_app, i);
	PERFORM application_crash_issue(p_app, i);
END $$;

REVOKE ALL ON FUNCTION application_crash_issue(uuid, instances),
	application_crashed(uuid, instances) FROM PUBLIC;
