-- 044_issue_grouping.sql - launcher-issues' way into the error tracking
-- tables of sql/043 (README "Error tracking: grouping"), and the crashes
-- the agent sees as events of the application.
--
--   - issue_raw_take: a batch of the raw queue, locked (FOR UPDATE SKIP
--     LOCKED: several consumers never take one row twice) and cut at a byte
--     budget of payload; the caller holds the transaction open while it
--     fingerprints them (core/fingerprint.c).
--   - issue_raw_group: the batch's fingerprints, in the same transaction:
--     per event in the order of the issues' key (so that two consumers lock
--     issues in one order and never deadlock), the issue found or created
--     (UNIQUE tenant/project/application/fingerprint), the occurrence
--     recorded (a second event_id in the project is an SDK's retry: nothing
--     counted), the raw row deleted; then each issue of the batch updated
--     once (count, last_seen); 'issue.new' for a new issue,
--     'issue.regressed' (and unresolved again) for a resolved one that
--     recurs (an event received after it was resolved: a backlog event
--     received before counts, the issue stays resolved); an ignored issue
--     counts silently.
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

-- The oldest p_limit rows nobody else holds, locked, cut where their
-- payloads pass p_max_bytes (the first row always: a row is at most 1 MB);
-- the rows past the cut stay queued (their locks end with the transaction).
-- octet_length reads a stored value's size without decompressing it.
CREATE FUNCTION issue_raw_take(p_limit integer, p_max_bytes bigint)
RETURNS TABLE (id bigint, tenant_id uuid, project_id uuid, application_id uuid, source text,
               event_id text, payload text)
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	WITH t AS (SELECT r.id, octet_length(r.payload) AS len
	             FROM error_events_raw r
	            ORDER BY r.id
	            LIMIT p_limit FOR UPDATE SKIP LOCKED),
	     s AS (SELECT t.id, sum(t.len) OVER (ORDER BY t.id) - t.len AS before FROM t)
	SELECT r.id, r.tenant_id, r.project_id, r.application_id, r.source, r.event_id, r.payload
	  FROM s JOIN error_events_raw r ON r.id = s.id
	 WHERE s.before = 0 OR s.before < p_max_bytes
	 ORDER BY r.id
$$;

-- p_items: [{raw_id, fingerprint, title, culprit, level, occurred_at (unix
-- seconds or null: received_at), message, release, environment, data}].
-- Returns the occurrences recorded.  The events are taken in the order of
-- their issue's key (tenant, project, application, fingerprint), then of
-- their raw id: every consumer locks issues in that one order, so two never
-- wait on each other in a cycle.  An issue is read (and locked) once per
-- batch and updated once at its end with the batch's count: one exception
-- repeated 500 times in a batch is one row version of its issue, not 500
-- (each version of a row whose indexed last_seen changes is a new index
-- entry that the next lookup of the batch would walk).
CREATE FUNCTION issue_raw_group(p_items jsonb)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	x      record;
	r      error_events_raw;
	iss    issues;
	k      text;
	iid    uuid;
	-- issue key (tenant/project/application/fingerprint) -> issue id
	seen   jsonb := '{}';
	-- issue id -> {n: occurrences, last: latest receive time, was: status
	-- before the batch, resolved_at: when it was resolved, created,
	-- event_id and source of its first one}
	agg    jsonb := '{}';
	n      integer := 0;
BEGIN
	FOR x IN SELECT j.* FROM jsonb_to_recordset(p_items) AS j(raw_id bigint, fingerprint text,
	         title text, culprit text, level text, occurred_at double precision, message text,
	         release text, environment text, data jsonb)
	         JOIN error_events_raw e ON e.id = j.raw_id
	         ORDER BY e.tenant_id, e.project_id, e.application_id NULLS FIRST, j.fingerprint, e.id
	LOOP
		DELETE FROM error_events_raw e WHERE e.id = x.raw_id RETURNING * INTO r;
		CONTINUE WHEN NOT FOUND;
		k := concat_ws('/', r.tenant_id, r.project_id, r.application_id, x.fingerprint);
		iid := seen ->> k;
		IF iid IS NULL THEN
			SELECT * INTO iss FROM issues i
			 WHERE i.tenant_id = r.tenant_id AND i.project_id = r.project_id
			   AND i.application_id IS NOT DISTINCT FROM r.application_id
			   AND i.fingerprint = x.fingerprint FOR UPDATE;
			IF FOUND THEN
				agg := agg || jsonb_build_object(iss.id, jsonb_build_object('n', 0,
					'was', iss.status, 'resolved_at', iss.resolved_at, 'created', false));
			ELSE
				INSERT INTO issues (tenant_id, project_id, application_id, fingerprint, title,
				                    culprit, level, first_seen, last_seen, event_count)
				VALUES (r.tenant_id, r.project_id, r.application_id, x.fingerprint, x.title,
				        coalesce(x.culprit, ''), x.level, r.received_at, r.received_at, 0)
				ON CONFLICT ON CONSTRAINT issues_fingerprint_key DO NOTHING
				RETURNING * INTO iss;
				IF FOUND THEN
					agg := agg || jsonb_build_object(iss.id, jsonb_build_object('n', 0,
						'was', 'unresolved', 'created', true));
				ELSE	-- another consumer created it meanwhile
					SELECT * INTO iss FROM issues i
					 WHERE i.tenant_id = r.tenant_id AND i.project_id = r.project_id
					   AND i.application_id IS NOT DISTINCT FROM r.application_id
					   AND i.fingerprint = x.fingerprint FOR UPDATE;
					agg := agg || jsonb_build_object(iss.id, jsonb_build_object('n', 0,
						'was', iss.status, 'resolved_at', iss.resolved_at, 'created', false));
				END IF;
			END IF;
			iid := iss.id;
			seen := seen || jsonb_build_object(k, iid);
		END IF;
		-- An event id the project already has is an SDK's retry: no
		-- second occurrence.
		INSERT INTO issue_events (tenant_id, issue_id, project_id, event_id, received_at,
		                          occurred_at, level, message, release, environment, data)
		SELECT r.tenant_id, iid, r.project_id, r.event_id, r.received_at,
		       coalesce(to_timestamp(x.occurred_at), r.received_at), x.level, x.message,
		       x.release, x.environment,
		       CASE WHEN r.attachments IS NULL THEN x.data
		            ELSE x.data || jsonb_build_object('attachments', r.attachments) END
		ON CONFLICT ON CONSTRAINT issue_events_event_key DO NOTHING;
		CONTINUE WHEN NOT FOUND;
		n := n + 1;
		agg := jsonb_set(agg, ARRAY[iid::text], (agg -> iid::text) || jsonb_build_object(
			'n', (agg -> iid::text ->> 'n')::integer + 1,
			'last', greatest((agg -> iid::text ->> 'last')::timestamptz, r.received_at),
			'event_id', coalesce(agg -> iid::text -> 'event_id', to_jsonb(r.event_id)),
			'source', coalesce(agg -> iid::text -> 'source', to_jsonb(r.source))));
	END LOOP;

	-- Each issue once: its count and last time; a resolved one recurring (an
	-- event received after it was resolved: not a backlog event received
	-- before and grouped after) is unresolved again; an ignored one stays
	-- ignored.  The issues are locked: status and resolved_at are still
	-- those agg recorded.
	UPDATE issues i SET event_count = i.event_count + (a.value ->> 'n')::integer,
	       last_seen = greatest(i.last_seen, (a.value ->> 'last')::timestamptz),
	       status = CASE WHEN i.status = 'resolved' AND (a.value ->> 'last')::timestamptz >
	                          coalesce(i.resolved_at, '-infinity') THEN 'unresolved'
	                     ELSE i.status END,
	       resolved_at = CASE WHEN i.status = 'resolved' AND (a.value ->> 'last')::timestamptz >
	                               coalesce(i.resolved_at, '-infinity') THEN NULL
	                          ELSE i.resolved_at END,
	       updated_at = now()
	  FROM jsonb_each(agg) a
	 WHERE i.id = a.key::uuid AND (a.value ->> 'n')::integer > 0;
	-- An issue created for events that all turned out to be retries.
	DELETE FROM issues i USING jsonb_each(agg) a
	 WHERE i.id = a.key::uuid AND (a.value ->> 'created')::boolean
	   AND (a.value ->> 'n')::integer = 0;
	PERFORM alert_raise(i.tenant_id, i.project_id,
		CASE WHEN (a.value ->> 'created')::boolean THEN 'issue.new' ELSE 'issue.regressed' END,
		'issue', i.id,
		format(CASE WHEN (a.value ->> 'created')::boolean THEN 'New issue in %s%s: %s'
		            ELSE 'Resolved issue in %s%s occurred again: %s' END,
		       p.name, coalesce(' / ' || ap.name, ''), left(i.title, 200)),
		jsonb_build_object('issue_id', i.id, 'project_id', i.project_id, 'project_name', p.name,
		                   'application_id', i.application_id, 'application_name', ap.name,
		                   'title', i.title, 'culprit', i.culprit, 'level', i.level,
		                   'event_id', a.value ->> 'event_id', 'source', a.value ->> 'source'))
	  FROM jsonb_each(agg) a
	  JOIN issues i ON i.id = a.key::uuid
	  JOIN projects p ON p.id = i.project_id
	  LEFT JOIN applications ap ON ap.id = i.application_id
	 WHERE (a.value ->> 'n')::integer > 0
	   AND ((a.value ->> 'created')::boolean
	        OR (a.value ->> 'was' = 'resolved' AND (a.value ->> 'last')::timestamptz >
	            coalesce((a.value ->> 'resolved_at')::timestamptz, '-infinity')));
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

REVOKE ALL ON FUNCTION issue_raw_take(integer, bigint), issue_raw_group(jsonb),
	issue_raw_drop(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION issue_raw_take(integer, bigint), issue_raw_group(jsonb),
	issue_raw_drop(bigint) TO launcher_maint;

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
