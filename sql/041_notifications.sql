-- 041_notifications.sql - the events of what already exists, and in-app
-- notifications (API.md §19).
--
-- 1. Events, raised through alert_raise() (sql/035) where the state is set:
--      deployment.succeeded / deployment.failed  a deployment reaches it
--      application.crashed  every container of the release stopped by itself
--                           (agent_instances sets 'crashed'), or a container
--                           restarted by itself (its restart_count grew; at
--                           most one such event per application in 5 minutes)
--      server.offline       scheduler_tick's three missed heartbeats
--      server.disk_high     a server_metrics point at >= 90 % disk; once,
--                           until a point below 85 % re-arms it
-- 2. notifications: one row per event and user who can see its resource,
--    as core/perm decides it: a project's resource is seen by the
--    project's members (any role: read) and by tenant admins and
--    superadmins (owners of every project); a tenant-wide one (a server) by
--    every active user of the tenant (GET /servers needs no role).  A user
--    who turned the event off in notification_preferences gets none
--    (metric.resolved follows the metric.threshold preference).
-- 3. launcher-ws: topic n (user id) announces notification rows by seq,
--    the /ws/notifications stream's cursor (sql/030 scheme).
-- 4. alert_rules_evaluate: launcher-scheduler's metric threshold rules
--    (at the end).

SET search_path = launcher;

-- ------------------------------------------------------------- streams
-- stream_rows() reads the ids of the new rows from n.id unless a third
-- argument names another column (notifications: seq; the id is a UUID).
CREATE OR REPLACE FUNCTION stream_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE idcol text := coalesce(TG_ARGV[2], 'n.id');
BEGIN
	EXECUTE format('SELECT count(pg_notify(''launcher_stream'','
	               ' concat_ws('' '', x.topic, x.tenant_id, x.res, x.lo, x.hi)))'
	               ' FROM (SELECT %s AS topic, n.tenant_id, %s AS res, min(%s) AS lo, max(%s) AS hi'
	               ' FROM new_rows n GROUP BY 1, 2, 3) x', TG_ARGV[0], TG_ARGV[1], idcol, idcol);
	RETURN NULL;
END
$$;

-- ------------------------------------------------------- notifications
DO $$
BEGIN
	-- alert_events (tenant_id, id) for composite keys; 040 may have made it.
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint
	                WHERE conrelid = 'launcher.alert_events'::regclass AND contype IN ('u', 'p')
	                  AND conkey::int2[] = ARRAY(SELECT attnum FROM pg_catalog.pg_attribute
	                        WHERE attrelid = 'launcher.alert_events'::regclass
	                          AND attname IN ('tenant_id', 'id') ORDER BY attname = 'id')) THEN
		ALTER TABLE alert_events ADD CONSTRAINT alert_events_tenant_id_id_key UNIQUE (tenant_id, id);
	END IF;
END $$;

CREATE TABLE notifications (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	user_id    uuid NOT NULL,
	event_id   uuid NOT NULL,
	seq        bigserial NOT NULL,	-- the stream's cursor
	read_at    timestamptz,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT notifications_user_id_fkey FOREIGN KEY (tenant_id, user_id)
		REFERENCES users (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT notifications_event_id_fkey FOREIGN KEY (tenant_id, event_id)
		REFERENCES alert_events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notifications_list ON notifications (tenant_id, user_id, created_at, id);
CREATE INDEX notifications_unread ON notifications (user_id, created_at, id) WHERE read_at IS NULL;
CREATE UNIQUE INDEX notifications_stream ON notifications (user_id, seq);
CREATE INDEX notifications_event ON notifications (event_id);
SELECT tenant_owned('notifications');
GRANT USAGE ON SEQUENCE notifications_seq_seq TO launcher_api;

-- Per user and event; no row = on.
CREATE TABLE notification_preferences (
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	user_id    uuid NOT NULL,
	event      text NOT NULL CHECK (event ~ '^[a-z][a-z0-9_]*\.[a-z0-9_.]+$' AND length(event) <= 64),
	in_app     boolean NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, user_id, event),
	CONSTRAINT notification_preferences_user_id_fkey FOREIGN KEY (tenant_id, user_id)
		REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT tenant_owned('notification_preferences');

-- A notification as the API and the stream show it (under the caller's RLS).
CREATE FUNCTION notification_object(n notifications) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', n.id, 'event', e.event, 'resource_type', e.resource_type,
	       'resource_id', e.resource_id, 'project_id', e.project_id, 'message', e.message,
	       'payload', e.payload, 'read', n.read_at IS NOT NULL, 'read_at', n.read_at,
	       'cursor', n.seq::text, 'created_at', n.created_at)
	  FROM alert_events e WHERE e.id = n.event_id
$$;

-- Who sees a resource of p_project (NULL: a tenant-wide one), as core/perm.
CREATE FUNCTION notification_recipients(p_tenant uuid, p_project uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
	SELECT u.id FROM users u
	 WHERE u.tenant_id = p_tenant AND u.active
	   AND (p_project IS NULL OR role_rank(u.role) >= role_rank('admin')
	        OR EXISTS (SELECT 1 FROM project_members m
	                    WHERE m.project_id = p_project AND m.user_id = u.id))
$$;

CREATE FUNCTION notifications_from_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO notifications (tenant_id, user_id, event_id)
	SELECT NEW.tenant_id, r.id, NEW.id
	  FROM notification_recipients(NEW.tenant_id, NEW.project_id) AS r(id)
	 WHERE NOT EXISTS (SELECT 1 FROM notification_preferences p
	                    WHERE p.tenant_id = NEW.tenant_id AND p.user_id = r.id AND NOT p.in_app
	                      AND p.event = CASE NEW.event WHEN 'metric.resolved' THEN 'metric.threshold'
	                                                   ELSE NEW.event END);
	RETURN NULL;
END $$;
CREATE TRIGGER alert_events_notify_users AFTER INSERT ON alert_events
	FOR EACH ROW EXECUTE FUNCTION notifications_from_event();

CREATE TRIGGER notifications_stream AFTER INSERT ON notifications
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION stream_rows('''n''', 'n.user_id', 'n.seq');

-- -------------------------------------------------------------- events
CREATE FUNCTION deployment_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE a applications; p projects;
BEGIN
	SELECT * INTO a FROM applications WHERE id = NEW.application_id;
	SELECT * INTO p FROM projects WHERE id = NEW.project_id;
	PERFORM alert_raise(NEW.tenant_id, NEW.project_id, 'deployment.' || NEW.status, 'deployment',
		NEW.id,
		CASE NEW.status WHEN 'failed'
		     THEN format('Deployment of %s in project %s failed%s.', a.name, p.name,
		                 CASE WHEN NEW.error IS NOT NULL THEN ': ' || left(NEW.error, 200) ELSE '' END)
		     ELSE format('Deployment of %s in project %s succeeded.', a.name, p.name) END,
		jsonb_build_object('deployment_id', NEW.id, 'application_id', NEW.application_id,
		                   'application_name', a.name, 'project_id', NEW.project_id,
		                   'project_name', p.name, 'server_id', NEW.server_id,
		                   'status', NEW.status, 'trigger', NEW.trigger,
		                   'commit_sha', NEW.commit_sha, 'error', NEW.error));
	RETURN NULL;
END $$;
CREATE TRIGGER deployments_event AFTER UPDATE OF status ON deployments
	FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed') AND NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION deployment_event();

-- One application.crashed: its instance (NULL: the whole application).
CREATE FUNCTION application_crashed(p_app uuid, i instances) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT alert_raise(a.tenant_id, a.project_id, 'application.crashed', 'application', a.id,
		CASE WHEN i.id IS NULL
		     THEN format('Application %s in project %s crashed: its containers stopped by themselves.',
		                 a.name, p.name)
		     ELSE format('Application %s in project %s restarted after its container %s exited%s.',
		                 a.name, p.name, i.name,
		                 CASE WHEN i.exit_code IS NOT NULL THEN format(' (exit code %s)', i.exit_code)
		                      ELSE '' END) END,
		jsonb_build_object('application_id', a.id, 'application_name', a.name,
		                   'project_id', a.project_id, 'project_name', p.name,
		                   'server_id', a.server_id, 'deployment_id', a.current_deployment_id,
		                   'instance_id', i.id, 'container_name', i.name,
		                   'restart_count', i.restart_count, 'exit_code', i.exit_code))
	  FROM applications a JOIN projects p ON p.id = a.project_id WHERE a.id = p_app
$$;

CREATE FUNCTION application_crash_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	IF TG_TABLE_NAME = 'applications' THEN
		PERFORM application_crashed(NEW.id, NULL::instances);
	ELSIF NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.resource_id = NEW.application_id
	                   AND e.created_at > now() - interval '5 minutes'
	                   AND e.event = 'application.crashed') THEN
		PERFORM application_crashed(NEW.application_id, NEW);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER applications_crash_event AFTER UPDATE OF status ON applications
	FOR EACH ROW WHEN (NEW.status = 'crashed' AND OLD.status IS DISTINCT FROM 'crashed')
	EXECUTE FUNCTION application_crash_event();
CREATE TRIGGER instances_restart_event AFTER UPDATE OF restart_count ON instances
	FOR EACH ROW WHEN (NEW.restart_count > OLD.restart_count)
	EXECUTE FUNCTION application_crash_event();

CREATE FUNCTION server_offline_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM alert_raise(NEW.tenant_id, NULL, 'server.offline', 'server', NEW.id,
		format('Server %s went offline: no heartbeat since %s.', NEW.name,
		       to_char(NEW.last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
		jsonb_build_object('server_id', NEW.id, 'server_name', NEW.name, 'host', NEW.host,
		                   'last_seen_at', NEW.last_seen_at, 'status', NEW.status));
	RETURN NULL;
END $$;
CREATE TRIGGER servers_offline_event AFTER UPDATE OF status ON servers
	FOR EACH ROW WHEN (NEW.status = 'offline' AND OLD.status IS DISTINCT FROM 'offline')
	EXECUTE FUNCTION server_offline_event();

-- Servers whose disk is high (>= 90 %): raised once, cleared below 85 %.
CREATE TABLE server_disk_alerts (
	tenant_id uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id uuid NOT NULL,
	since     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, server_id),
	CONSTRAINT server_disk_alerts_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
SELECT tenant_owned('server_disk_alerts');

CREATE FUNCTION server_disk_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
	-- The last point of each server in the statement decides.
	FOR r IN SELECT DISTINCT ON (n.server_id) n.tenant_id, n.server_id, s.name,
	                100.0 * n.disk_used_bytes / n.disk_total_bytes AS pct,
	                n.disk_used_bytes, n.disk_total_bytes
	           FROM new_rows n JOIN servers s ON s.id = n.server_id
	          WHERE n.disk_total_bytes > 0 AND n.disk_used_bytes IS NOT NULL
	            -- a batch resent late (older points) decides nothing
	            AND NOT EXISTS (SELECT 1 FROM server_metrics o WHERE o.tenant_id = n.tenant_id
	                             AND o.server_id = n.server_id AND o.ts > n.ts)
	          ORDER BY n.server_id, n.ts DESC LOOP
		IF r.pct >= 90 THEN
			INSERT INTO server_disk_alerts (tenant_id, server_id) VALUES (r.tenant_id, r.server_id)
			ON CONFLICT DO NOTHING;
			IF FOUND THEN
				PERFORM alert_raise(r.tenant_id, NULL, 'server.disk_high', 'server', r.server_id,
					format('Server %s has its disk %s %% full.', r.name, round(r.pct, 1)),
					jsonb_build_object('server_id', r.server_id, 'server_name', r.name,
					                   'disk_percent', round(r.pct, 1),
					                   'disk_used_bytes', r.disk_used_bytes,
					                   'disk_total_bytes', r.disk_total_bytes));
			END IF;
		ELSIF r.pct < 85 THEN
			DELETE FROM server_disk_alerts WHERE tenant_id = r.tenant_id AND server_id = r.server_id;
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER server_metrics_disk_event AFTER INSERT ON server_metrics
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION server_disk_event();

REVOKE ALL ON FUNCTION notifications_from_event(), deployment_event(), application_crash_event(),
	application_crashed(uuid, instances), server_offline_event(), server_disk_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notification_object(notifications) TO launcher_api;

-- ------------------------------------------------- metric threshold rules
-- launcher-scheduler's evaluator of alert_rules (sql/040) whose event is
-- metric.threshold, condition {metric, op, threshold, for_seconds,
-- resource_id?}, over the raw 10 s series, per resource in the rule's
-- scope (a server metric: the tenant's servers; an application metric:
-- the applications of the rule's project, or of the tenant), or the one
-- resource_id names.  With p_interval the series' point interval (10 s):
--   fires   (metric.threshold, once) when the newest point is fresh (at
--           most 3 intervals old) and every point since now - for_seconds
--           breaches, the run of breaching points reaching back to that
--           instant within one interval (points must cover it: a series
--           that starts breaching 20 s ago does not fire a 60 s rule);
--           not again within the rule's cooldown_seconds of its last fire
--           (the breach is then still pending, and fires once it is over);
--   resolves (metric.resolved) when the value is back on the good side the
--           same way: every point of the last for_seconds (at least one)
--           is good.  Hysteresis is that symmetric hold time: a value that
--           crosses back and forth within for_seconds changes nothing.
-- A resource without a fresh point changes nothing either way.  State per
-- rule and resource in alert_rule_state; the events carry rule_id so that
-- sql/040's routing sends them to that rule's channels only.
CREATE TABLE alert_rule_state (
	tenant_id    uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	rule_id      uuid NOT NULL,
	resource_id  uuid NOT NULL,
	firing       boolean NOT NULL DEFAULT false,
	breach_since timestamptz,
	fired_at     timestamptz,
	resolved_at  timestamptz,
	value        double precision,
	evaluated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, rule_id, resource_id),
	CONSTRAINT alert_rule_state_rule_id_fkey FOREIGN KEY (tenant_id, rule_id)
		REFERENCES alert_rules (tenant_id, id) ON DELETE CASCADE
);
SELECT tenant_owned('alert_rule_state');

-- One metric of one resource since p_since, a point per 10 s bucket:
-- application metrics summed over instances (restarts: the increase of
-- each container's count), traffic summed over servers (p95: the highest
-- server's).  Nothing for an unknown metric.
CREATE FUNCTION alert_metric_series(p_tenant uuid, p_metric text, p_resource uuid,
	p_since timestamptz, p_interval integer)
RETURNS TABLE (ts timestamptz, value double precision)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE step interval := make_interval(secs => p_interval);
BEGIN
	CASE p_metric
	WHEN 'server.cpu_percent', 'server.memory_percent', 'server.disk_percent', 'server.load1' THEN
		RETURN QUERY SELECT m.ts, CASE p_metric
			WHEN 'server.cpu_percent' THEN m.cpu_percent
			WHEN 'server.memory_percent' THEN 100.0 * m.memory_used_bytes / nullif(m.memory_total_bytes, 0)
			WHEN 'server.disk_percent' THEN 100.0 * m.disk_used_bytes / nullif(m.disk_total_bytes, 0)
			ELSE m.load1 END
		  FROM server_metrics m
		 WHERE m.tenant_id = p_tenant AND m.server_id = p_resource AND m.ts >= p_since;
	WHEN 'application.cpu_percent', 'application.memory_bytes' THEN
		-- each instance's mean over the bucket (an agent may sample faster), summed
		RETURN QUERY SELECT x.b, sum(x.v)
		  FROM (SELECT date_bin(step, m.ts, timestamptz 'epoch') AS b, m.instance_id,
		               avg(CASE p_metric WHEN 'application.cpu_percent' THEN m.cpu_percent
		                                 ELSE m.memory_bytes::double precision END) AS v
		          FROM app_metrics m
		         WHERE m.tenant_id = p_tenant AND m.application_id = p_resource AND m.ts >= p_since
		         GROUP BY 1, 2) x
		 GROUP BY 1;
	WHEN 'application.restarts' THEN
		RETURN QUERY SELECT x.b, sum(x.d)::double precision
		  FROM (SELECT date_bin(step, m.ts, timestamptz 'epoch') AS b,
		               greatest(m.restarts - lag(m.restarts) OVER (PARTITION BY m.instance_id
		                                                          ORDER BY m.ts), 0) AS d
		          FROM app_metrics m
		         WHERE m.tenant_id = p_tenant AND m.application_id = p_resource
		           AND m.ts >= p_since - step) x
		 WHERE x.b >= p_since AND x.d IS NOT NULL
		 GROUP BY 1;
	WHEN 'application.requests', 'application.status_5xx_percent', 'application.latency_p95_ms' THEN
		RETURN QUERY EXECUTE
			'SELECT t.ts, CASE $2 WHEN ''application.requests'' THEN sum(t.requests)::double precision'
			'  WHEN ''application.status_5xx_percent'' THEN 100.0 * sum(t.status_5xx) / nullif(sum(t.requests), 0)'
			'  ELSE max(t.latency_p95_ms) END'
			'  FROM app_traffic t WHERE t.tenant_id = $1 AND t.application_id = $3 AND t.ts >= $4'
			'  GROUP BY 1'
			USING p_tenant, p_metric, p_resource, p_since;
	ELSE
		RETURN;
	END CASE;
END $$;

CREATE FUNCTION alert_breaches(p_value double precision, p_op text, p_threshold double precision)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_op WHEN '>' THEN p_value > p_threshold WHEN '>=' THEN p_value >= p_threshold
	                 WHEN '<' THEN p_value < p_threshold WHEN '<=' THEN p_value <= p_threshold END
$$;

-- One tick; p_interval is the series' point interval in seconds (10).
-- Returns the events raised.
CREATE FUNCTION alert_rules_evaluate(p_interval integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	r        alert_rules;
	res      record;
	s        alert_rule_state;
	metric   text; op text; thr double precision; hold integer; cond jsonb;
	step     interval := make_interval(secs => greatest(p_interval, 1));
	t_now    timestamptz := now();
	newest   timestamptz; newest_v double precision; newest_bad boolean;
	run_from timestamptz;
	n        integer := 0;
BEGIN
	FOR r IN SELECT * FROM alert_rules WHERE enabled AND event = 'metric.threshold'
	          ORDER BY tenant_id, id LOOP
		cond := r.condition;
		metric := cond ->> 'metric';
		op := cond ->> 'op';
		thr := (cond ->> 'threshold')::double precision;
		hold := coalesce((cond ->> 'for_seconds')::integer, 0);
		FOR res IN
			SELECT v.id, v.name, r.project_id AS project_id FROM servers v
			 WHERE metric LIKE 'server.%' AND v.tenant_id = r.tenant_id
			   AND (cond ->> 'resource_id' IS NULL OR v.id::text = cond ->> 'resource_id')
			UNION ALL
			SELECT a.id, a.name, a.project_id FROM applications a
			 WHERE metric LIKE 'application.%' AND a.tenant_id = r.tenant_id
			   AND (r.project_id IS NULL OR a.project_id = r.project_id)
			   AND (cond ->> 'resource_id' IS NULL OR a.id::text = cond ->> 'resource_id')
		LOOP
			-- The newest point, and where the run of points on its side
			-- began (within the hold time and two intervals before it).
			BEGIN
				WITH p AS (SELECT x.ts, x.value, alert_breaches(x.value, op, thr) AS bad
				             FROM alert_metric_series(r.tenant_id, metric, res.id,
				                  t_now - make_interval(secs => hold) - 2 * step, p_interval) x
				            WHERE x.value IS NOT NULL),
				     nw AS (SELECT p.ts, p.value, p.bad FROM p ORDER BY p.ts DESC LIMIT 1)
				SELECT nw.ts, nw.value, nw.bad,
				       (SELECT min(p.ts) FROM p WHERE p.ts > coalesce((SELECT max(q.ts) FROM p q
				                                  WHERE q.bad IS DISTINCT FROM nw.bad), '-infinity'))
				  INTO newest, newest_v, newest_bad, run_from FROM nw;
			EXCEPTION WHEN undefined_table THEN
				CONTINUE;	-- a series whose table this plane does not have (yet)
			END;
			IF newest IS NULL OR newest < t_now - 3 * step OR newest_bad IS NULL THEN
				CONTINUE;	-- no fresh point: no decision
			END IF;
			SELECT * INTO s FROM alert_rule_state
			 WHERE tenant_id = r.tenant_id AND rule_id = r.id AND resource_id = res.id FOR UPDATE;
			IF NOT FOUND THEN
				INSERT INTO alert_rule_state (tenant_id, rule_id, resource_id)
				VALUES (r.tenant_id, r.id, res.id) RETURNING * INTO s;
			END IF;
			UPDATE alert_rule_state SET value = newest_v, evaluated_at = t_now,
			       breach_since = CASE WHEN newest_bad THEN run_from END
			 WHERE tenant_id = r.tenant_id AND rule_id = r.id AND resource_id = res.id;
			-- Held long enough on its side (one interval of slack: points are discrete).
			CONTINUE WHEN run_from > t_now - make_interval(secs => hold) + step;
			IF newest_bad AND NOT s.firing
			   AND (s.fired_at IS NULL OR s.fired_at <= t_now - make_interval(secs => r.cooldown_seconds)) THEN
				PERFORM alert_raise(r.tenant_id, res.project_id, 'metric.threshold',
					split_part(metric, '.', 1), res.id,
					format('%s of %s %s is %s, %s %s for %s s (rule %s).', metric, split_part(metric, '.', 1),
					       res.name, round(newest_v::numeric, 2), op, thr, hold, r.name),
					jsonb_build_object('rule_id', r.id, 'rule_name', r.name, 'metric', metric,
					                   'value', round(newest_v::numeric, 2), 'threshold', thr, 'op', op,
					                   'for_seconds', hold, 'resource_name', res.name,
					                   'breach_since', run_from));
				UPDATE alert_rule_state SET firing = true, fired_at = t_now
				 WHERE tenant_id = r.tenant_id AND rule_id = r.id AND resource_id = res.id;
				n := n + 1;
			ELSIF NOT newest_bad AND s.firing THEN
				PERFORM alert_raise(r.tenant_id, res.project_id, 'metric.resolved',
					split_part(metric, '.', 1), res.id,
					format('%s of %s %s is back at %s (rule %s: %s %s).', metric,
					       split_part(metric, '.', 1), res.name, round(newest_v::numeric, 2), r.name, op, thr),
					jsonb_build_object('rule_id', r.id, 'rule_name', r.name, 'metric', metric,
					                   'value', round(newest_v::numeric, 2), 'threshold', thr, 'op', op,
					                   'for_seconds', hold, 'resource_name', res.name,
					                   'fired_at', s.fired_at));
				UPDATE alert_rule_state SET firing = false, resolved_at = t_now
				 WHERE tenant_id = r.tenant_id AND rule_id = r.id AND resource_id = res.id;
				n := n + 1;
			END IF;
		END LOOP;
	END LOOP;
	-- The state of a resource that is gone (no key: a server or an application).
	DELETE FROM alert_rule_state g
	 WHERE NOT EXISTS (SELECT 1 FROM servers v WHERE v.id = g.resource_id)
	   AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = g.resource_id);
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION alert_rules_evaluate(integer), alert_metric_series(uuid, text, uuid, timestamptz,
	integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alert_rules_evaluate(integer) TO launcher_maint;

-- A rule whose condition changes, or that is disabled or enabled again,
-- starts over: the state of what it watched before (firing, its cooldown)
-- belongs to the old condition, and a fire long past must not be
-- "resolved" when it is enabled again.  The rule's own tenant: RLS on the
-- caller's update already holds the row to it.
CREATE FUNCTION alert_rule_state_reset() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
BEGIN
	DELETE FROM alert_rule_state WHERE tenant_id = NEW.tenant_id AND rule_id = NEW.id;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION alert_rule_state_reset() FROM PUBLIC;
CREATE TRIGGER alert_rules_state_reset AFTER UPDATE OF condition, enabled ON alert_rules
	FOR EACH ROW WHEN (OLD.condition IS DISTINCT FROM NEW.condition OR OLD.enabled <> NEW.enabled)
	EXECUTE FUNCTION alert_rule_state_reset();
