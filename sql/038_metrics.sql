-- Monitoring (API.md §16): the agent's batched 10 s points (POST
-- /agent/metrics) for hosts (server_metrics, sql/004) and application
-- containers (app_metrics), their 1 min and 1 h rollups, and the
-- downsampling + retention run by launcher-scheduler (metrics_rollup):
-- 10 s points kept 24 h, 1 min 7 days, 1 h 90 days.
--
-- Plain tables, not partitions: the README ("Monitoring") has the
-- measurement.  The raw series are idempotent on their point's time (a
-- batch the agent resends never doubles: ON CONFLICT DO NOTHING).
SET search_path = launcher;

-- server_metrics: one point per server and time.  Older rows from the
-- heartbeat (one path now: the batch) may collide on a same timestamp.
DELETE FROM server_metrics a USING server_metrics b
 WHERE a.server_id = b.server_id AND a.ts = b.ts AND a.id > b.id;
DROP INDEX server_metrics_series;
CREATE UNIQUE INDEX server_metrics_series ON server_metrics (tenant_id, server_id, ts);
-- metrics_rollup reads the points after its watermark (id) and deletes
-- the aged ones (ts): both grow with time, so a BRIN index serves the
-- retention for a few pages.
CREATE INDEX server_metrics_id ON server_metrics (id);
CREATE INDEX server_metrics_age ON server_metrics USING brin (ts);

-- One 10 s point of one instance (container) of an application:
-- instance_id is the container's name; cpu_percent 100 = one core;
-- restarts the engine's restart count of the container.
CREATE TABLE app_metrics (
	id             bigserial,
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id uuid NOT NULL,
	server_id      uuid NOT NULL,
	instance_id    text NOT NULL CHECK (length(instance_id) BETWEEN 1 AND 255),
	ts             timestamptz NOT NULL,
	cpu_percent    double precision,
	memory_bytes   bigint,
	restarts       integer,
	CONSTRAINT app_metrics_application_id_fkey FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_metrics_server_id_fkey FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX app_metrics_series ON app_metrics (tenant_id, application_id, instance_id, ts);
CREATE INDEX app_metrics_server ON app_metrics (tenant_id, server_id);
CREATE INDEX app_metrics_id ON app_metrics (id);
CREATE INDEX app_metrics_age ON app_metrics USING brin (ts);
GRANT USAGE ON SEQUENCE app_metrics_id_seq TO launcher_api;

-- Rollups: the same columns; gauges averaged (cpu_percent_max the
-- highest 10 s cpu of the bucket), totals and cumulative counters
-- (net_*_bytes, restarts) their maximum; samples = the 10 s points in it.
CREATE TABLE server_metrics_1m (
	tenant_id          uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id          uuid NOT NULL,
	ts                 timestamptz NOT NULL,
	samples            integer NOT NULL,
	cpu_percent        double precision,
	cpu_percent_max    double precision,
	memory_used_bytes  bigint,
	memory_total_bytes bigint,
	disk_used_bytes    bigint,
	disk_total_bytes   bigint,
	load1              double precision,
	net_rx_bytes       bigint,
	net_tx_bytes       bigint,
	PRIMARY KEY (tenant_id, server_id, ts),
	CONSTRAINT server_metrics_1m_server_id_fkey FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
CREATE TABLE server_metrics_1h (LIKE server_metrics_1m INCLUDING DEFAULTS,
	PRIMARY KEY (tenant_id, server_id, ts),
	CONSTRAINT server_metrics_1h_server_id_fkey FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE);
ALTER TABLE server_metrics_1h ADD FOREIGN KEY (tenant_id) REFERENCES tenants ON DELETE CASCADE;

CREATE TABLE app_metrics_1m (
	tenant_id       uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id  uuid NOT NULL,
	server_id       uuid NOT NULL,
	instance_id     text NOT NULL,
	ts              timestamptz NOT NULL,
	samples         integer NOT NULL,
	cpu_percent     double precision,
	cpu_percent_max double precision,
	memory_bytes    bigint,
	restarts        integer,
	PRIMARY KEY (tenant_id, application_id, instance_id, ts),
	CONSTRAINT app_metrics_1m_application_id_fkey FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_metrics_1m_server_id_fkey FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX app_metrics_1m_server ON app_metrics_1m (tenant_id, server_id);
CREATE TABLE app_metrics_1h (LIKE app_metrics_1m INCLUDING DEFAULTS,
	PRIMARY KEY (tenant_id, application_id, instance_id, ts),
	CONSTRAINT app_metrics_1h_application_id_fkey FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_metrics_1h_server_id_fkey FOREIGN KEY (tenant_id, server_id) REFERENCES servers (tenant_id, id) ON DELETE CASCADE);
ALTER TABLE app_metrics_1h ADD FOREIGN KEY (tenant_id) REFERENCES tenants ON DELETE CASCADE;
CREATE INDEX app_metrics_1h_server ON app_metrics_1h (tenant_id, server_id);
CREATE INDEX server_metrics_1m_age ON server_metrics_1m USING brin (ts);
CREATE INDEX server_metrics_1h_age ON server_metrics_1h USING brin (ts);
CREATE INDEX app_metrics_1m_age ON app_metrics_1m USING brin (ts);
CREATE INDEX app_metrics_1h_age ON app_metrics_1h USING brin (ts);

SELECT tenant_owned('app_metrics', 'server_metrics_1m', 'server_metrics_1h',
	'app_metrics_1m', 'app_metrics_1h');

-- How far each raw series (named after its table: server_metrics,
-- app_metrics, and app_traffic of sql/039) has been rolled up: the id of
-- its last point seen.  A tick reads only the points inserted since, so a
-- batch resent late (after an outage) still lands in its minute and hour.
-- Not tenant data: only the rollup functions (the maintenance role's,
-- SECURITY DEFINER) touch it, through rollup_claim.
CREATE TABLE rollup_marks (
	series  text PRIMARY KEY,
	last_id bigint NOT NULL DEFAULT 0
);
INSERT INTO rollup_marks (series) VALUES ('server_metrics'), ('app_metrics');
REVOKE ALL ON rollup_marks FROM PUBLIC;

-- Claims the next points of the raw series p_series (a table with an id
-- and a ts; its rollups are p_series_1m and p_series_1h): the ids in
-- (from_id, to_id], at most p_batch of them.  The mark moves to to_id at
-- once; its row stays locked until the caller's transaction ends, so two
-- schedulers at once serialise.
CREATE FUNCTION rollup_claim(p_series text, p_batch integer, OUT from_id bigint, OUT to_id bigint)
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	SELECT last_id INTO STRICT from_id FROM rollup_marks WHERE series = p_series FOR UPDATE;
	EXECUTE format('SELECT coalesce(max(id), $1) FROM (SELECT id FROM %I WHERE id > $1'
	               ' ORDER BY id LIMIT $2) x', p_series) INTO to_id USING from_id, p_batch;
	UPDATE rollup_marks SET last_id = to_id WHERE series = p_series;
END $$;
REVOKE ALL ON FUNCTION rollup_claim(text, integer) FROM PUBLIC;

-- The retention of a raw series and its rollups (API.md §16): raw points
-- older than 24 h once rolled up (id <= p_upto), minutes older than 7
-- days, hours older than 90 days.  Returns the rows removed.
CREATE FUNCTION rollup_retention(p_series text, p_upto bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE n integer; k integer;
BEGIN
	EXECUTE format('DELETE FROM %I WHERE ts < now() - interval ''24 hours'' AND id <= $1',
	               p_series) USING p_upto;
	GET DIAGNOSTICS n = ROW_COUNT;
	EXECUTE format('DELETE FROM %I WHERE ts < now() - interval ''7 days''', p_series || '_1m');
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;
	EXECUTE format('DELETE FROM %I WHERE ts < now() - interval ''90 days''', p_series || '_1h');
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN n + k;
END $$;
REVOKE ALL ON FUNCTION rollup_retention(text, bigint) FROM PUBLIC;

-- One tick of downsampling and retention, across tenants: the buckets
-- (minute, then hour) touched by at most p_batch new points of each raw
-- series are recomputed from their source (so running it twice, or after
-- a late point, gives the same rows), then the points past their
-- retention are removed (raw ones only once rolled up).  Returns the
-- rollup rows written plus the rows removed.
CREATE FUNCTION metrics_rollup(p_batch integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE
	s_from bigint; s_to bigint; a_from bigint; a_to bigint;
	n integer := 0; k integer;
BEGIN
	SELECT * INTO s_from, s_to FROM rollup_claim('server_metrics', p_batch);
	SELECT * INTO a_from, a_to FROM rollup_claim('app_metrics', p_batch);

	-- Servers: minutes, then the hours of those minutes.
	INSERT INTO server_metrics_1m AS r (tenant_id, server_id, ts, samples, cpu_percent,
		cpu_percent_max, memory_used_bytes, memory_total_bytes, disk_used_bytes,
		disk_total_bytes, load1, net_rx_bytes, net_tx_bytes)
	SELECT m.tenant_id, m.server_id, t.b, count(*), avg(m.cpu_percent), max(m.cpu_percent),
		avg(m.memory_used_bytes)::bigint, max(m.memory_total_bytes),
		avg(m.disk_used_bytes)::bigint, max(m.disk_total_bytes), avg(m.load1),
		max(m.net_rx_bytes), max(m.net_tx_bytes)
	  FROM (SELECT DISTINCT tenant_id, server_id, date_trunc('minute', ts) AS b FROM server_metrics
	         WHERE id > s_from AND id <= s_to) t
	  JOIN server_metrics m ON m.tenant_id = t.tenant_id AND m.server_id = t.server_id
	   AND m.ts >= t.b AND m.ts < t.b + interval '1 minute'
	 GROUP BY 1, 2, 3
	ON CONFLICT (tenant_id, server_id, ts) DO UPDATE SET samples = EXCLUDED.samples,
		cpu_percent = EXCLUDED.cpu_percent, cpu_percent_max = EXCLUDED.cpu_percent_max,
		memory_used_bytes = EXCLUDED.memory_used_bytes, memory_total_bytes = EXCLUDED.memory_total_bytes,
		disk_used_bytes = EXCLUDED.disk_used_bytes, disk_total_bytes = EXCLUDED.disk_total_bytes,
		load1 = EXCLUDED.load1, net_rx_bytes = EXCLUDED.net_rx_bytes, net_tx_bytes = EXCLUDED.net_tx_bytes;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;
	INSERT INTO server_metrics_1h AS r (tenant_id, server_id, ts, samples, cpu_percent,
		cpu_percent_max, memory_used_bytes, memory_total_bytes, disk_used_bytes,
		disk_total_bytes, load1, net_rx_bytes, net_tx_bytes)
	SELECT m.tenant_id, m.server_id, t.b, sum(m.samples),
		sum(m.cpu_percent * m.samples) / nullif(sum(m.samples) FILTER (WHERE m.cpu_percent IS NOT NULL), 0),
		max(m.cpu_percent_max), avg(m.memory_used_bytes)::bigint, max(m.memory_total_bytes),
		avg(m.disk_used_bytes)::bigint, max(m.disk_total_bytes), avg(m.load1),
		max(m.net_rx_bytes), max(m.net_tx_bytes)
	  FROM (SELECT DISTINCT tenant_id, server_id, date_trunc('hour', ts) AS b FROM server_metrics
	         WHERE id > s_from AND id <= s_to) t
	  JOIN server_metrics_1m m ON m.tenant_id = t.tenant_id AND m.server_id = t.server_id
	   AND m.ts >= t.b AND m.ts < t.b + interval '1 hour'
	 GROUP BY 1, 2, 3
	ON CONFLICT (tenant_id, server_id, ts) DO UPDATE SET samples = EXCLUDED.samples,
		cpu_percent = EXCLUDED.cpu_percent, cpu_percent_max = EXCLUDED.cpu_percent_max,
		memory_used_bytes = EXCLUDED.memory_used_bytes, memory_total_bytes = EXCLUDED.memory_total_bytes,
		disk_used_bytes = EXCLUDED.disk_used_bytes, disk_total_bytes = EXCLUDED.disk_total_bytes,
		load1 = EXCLUDED.load1, net_rx_bytes = EXCLUDED.net_rx_bytes, net_tx_bytes = EXCLUDED.net_tx_bytes;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;

	-- Application instances: the same.
	INSERT INTO app_metrics_1m (tenant_id, application_id, server_id, instance_id, ts, samples,
		cpu_percent, cpu_percent_max, memory_bytes, restarts)
	SELECT m.tenant_id, m.application_id, (array_agg(m.server_id ORDER BY m.ts DESC))[1],
		m.instance_id, t.b, count(*), avg(m.cpu_percent), max(m.cpu_percent),
		avg(m.memory_bytes)::bigint, max(m.restarts)
	  FROM (SELECT DISTINCT tenant_id, application_id, instance_id, date_trunc('minute', ts) AS b
	          FROM app_metrics WHERE id > a_from AND id <= a_to) t
	  JOIN app_metrics m ON m.tenant_id = t.tenant_id AND m.application_id = t.application_id
	   AND m.instance_id = t.instance_id AND m.ts >= t.b AND m.ts < t.b + interval '1 minute'
	 GROUP BY m.tenant_id, m.application_id, m.instance_id, t.b
	ON CONFLICT (tenant_id, application_id, instance_id, ts) DO UPDATE SET
		server_id = EXCLUDED.server_id, samples = EXCLUDED.samples,
		cpu_percent = EXCLUDED.cpu_percent, cpu_percent_max = EXCLUDED.cpu_percent_max,
		memory_bytes = EXCLUDED.memory_bytes, restarts = EXCLUDED.restarts;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;
	INSERT INTO app_metrics_1h (tenant_id, application_id, server_id, instance_id, ts, samples,
		cpu_percent, cpu_percent_max, memory_bytes, restarts)
	SELECT m.tenant_id, m.application_id, (array_agg(m.server_id ORDER BY m.ts DESC))[1],
		m.instance_id, t.b, sum(m.samples),
		sum(m.cpu_percent * m.samples) / nullif(sum(m.samples) FILTER (WHERE m.cpu_percent IS NOT NULL), 0),
		max(m.cpu_percent_max),
		(sum(m.memory_bytes * m.samples) / nullif(sum(m.samples) FILTER (WHERE m.memory_bytes IS NOT NULL), 0))::bigint,
		max(m.restarts)
	  FROM (SELECT DISTINCT tenant_id, application_id, instance_id, date_trunc('hour', ts) AS b
	          FROM app_metrics WHERE id > a_from AND id <= a_to) t
	  JOIN app_metrics_1m m ON m.tenant_id = t.tenant_id AND m.application_id = t.application_id
	   AND m.instance_id = t.instance_id AND m.ts >= t.b AND m.ts < t.b + interval '1 hour'
	 GROUP BY m.tenant_id, m.application_id, m.instance_id, t.b
	ON CONFLICT (tenant_id, application_id, instance_id, ts) DO UPDATE SET
		server_id = EXCLUDED.server_id, samples = EXCLUDED.samples,
		cpu_percent = EXCLUDED.cpu_percent, cpu_percent_max = EXCLUDED.cpu_percent_max,
		memory_bytes = EXCLUDED.memory_bytes, restarts = EXCLUDED.restarts;
	GET DIAGNOSTICS k = ROW_COUNT;
	n := n + k;

	RETURN n + rollup_retention('server_metrics', s_to) + rollup_retention('app_metrics', a_to);
END $$;
REVOKE ALL ON FUNCTION metrics_rollup(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION metrics_rollup(integer) TO launcher_maint;

-- The window of every monitoring read (API.md §16 ?from=&to=&step=, each
-- optional): GET /monitoring/servers/:id/metrics, /applications/:id/metrics
-- and /applications/:id/traffic.  to defaults to now, from to an hour
-- before to.  res (seconds) is the series read: the 10 s points whenever
-- from is within their 24 h (fresh to the last point, whatever the step);
-- else the 1-minute rollups when step < 3600 and from is within 7 days;
-- else the hourly ones.  step (seconds, 1 to 86400) defaults to the span /
-- 360 (at least 10) and is rounded up to a multiple of res; the points are
-- the series' rows aggregated over buckets of step.  At most 90 days and
-- 10,000 buckets; LN400 names the field (from, to, step) otherwise.
CREATE FUNCTION monitoring_window(p_from text, p_to text, p_step text,
	OUT t_from timestamptz, OUT t_to timestamptz, OUT step integer, OUT res integer)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_temp AS $$
DECLARE
	re constant text := '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$';
	span double precision;
BEGIN
	IF p_to IS NULL THEN
		t_to := now();
	ELSIF p_to !~ re THEN
		RAISE EXCEPTION 'must be an RFC 3339 time like 2026-01-15T10:30:00Z'
			USING ERRCODE = 'LN400', COLUMN = 'to';
	ELSE
		BEGIN
			t_to := p_to::timestamptz;
		EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
			RAISE EXCEPTION 'not a valid time' USING ERRCODE = 'LN400', COLUMN = 'to';
		END;
	END IF;
	IF p_from IS NULL THEN
		t_from := t_to - interval '1 hour';
	ELSIF p_from !~ re THEN
		RAISE EXCEPTION 'must be an RFC 3339 time like 2026-01-15T10:30:00Z'
			USING ERRCODE = 'LN400', COLUMN = 'from';
	ELSE
		BEGIN
			t_from := p_from::timestamptz;
		EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
			RAISE EXCEPTION 'not a valid time' USING ERRCODE = 'LN400', COLUMN = 'from';
		END;
	END IF;
	IF t_from >= t_to THEN
		RAISE EXCEPTION 'must be before to' USING ERRCODE = 'LN400', COLUMN = 'from';
	END IF;
	IF t_to - t_from > interval '90 days' THEN
		RAISE EXCEPTION 'the range may span at most 90 days (the retention)'
			USING ERRCODE = 'LN400', COLUMN = 'from';
	END IF;
	span := extract(epoch FROM t_to - t_from);
	IF p_step IS NULL THEN
		step := greatest(10, ceil(span / 360))::integer;
	ELSIF p_step !~ '^[0-9]{1,6}$' OR p_step::integer NOT BETWEEN 1 AND 86400 THEN
		RAISE EXCEPTION 'must be a whole number of seconds from 1 to 86400'
			USING ERRCODE = 'LN400', COLUMN = 'step';
	ELSE
		step := p_step::integer;
	END IF;
	res := CASE WHEN t_from >= now() - interval '24 hours' THEN 10
	            WHEN step < 3600 AND t_from >= now() - interval '7 days' THEN 60
	            ELSE 3600 END;
	step := (step + res - 1) / res * res;
	IF span / step > 10000 THEN
		RAISE EXCEPTION 'gives more than 10000 buckets over this range: use a larger step'
			USING ERRCODE = 'LN400', COLUMN = 'step';
	END IF;
END $$;
GRANT EXECUTE ON FUNCTION monitoring_window(text, text, text) TO launcher_api;
