-- 039_traffic.sql - what the edge nginx served for each application
-- (API.md §16 traffic, §22 /ws/applications/:id/traffic).
--
-- The agent tails the edge's traffic log (fcgi/agent/traffic.h) and sends
-- one point per application and 10-second bucket (POST /agent/traffic):
-- app_traffic, kept 24 h.  launcher-scheduler rolls them up
-- (traffic_rollup) into app_traffic_1m (kept 7 days) and app_traffic_1h
-- (kept 90 days), histograms summed, so the percentiles of any bucket come
-- from its summed histogram, never from an average of percentiles.
--
-- Latency histogram: fixed buckets, geometric with ratio 1.1 from 1 ms
-- (interpolation inside a bucket then errs by at most 5 %, within the 10 %
-- the acceptance asks of p99):
--   index 0          [0, 1) ms
--   index k (1..116) [1.1^(k-1), 1.1^k) ms
--   index 117        [1.1^116 ms ≈ 62 s, ∞)
-- TRAFFIC_BUCKETS = 118 (fcgi/agent/traffic.h keeps the same bounds).  An
-- array may end early: missing trailing buckets are zero.
--
-- Streams: NOTIFY topic 't' <tenant> <application id> <first id> <last id>
-- in the sql/030 scheme (app_traffic.id is the stream's cursor).

SET search_path = launcher;

CREATE TABLE app_traffic (
	id             bigserial NOT NULL,
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id uuid NOT NULL,
	server_id      uuid NOT NULL,
	ts             timestamptz NOT NULL,	-- start of the 10 s bucket
	requests       bigint NOT NULL CHECK (requests >= 0),
	status_2xx     bigint NOT NULL CHECK (status_2xx >= 0),
	status_3xx     bigint NOT NULL CHECK (status_3xx >= 0),
	status_4xx     bigint NOT NULL CHECK (status_4xx >= 0),
	status_5xx     bigint NOT NULL CHECK (status_5xx >= 0),
	bytes_out      bigint NOT NULL CHECK (bytes_out >= 0),
	latency_hist   int[] NOT NULL CHECK (cardinality(latency_hist) <= 118),
	latency_p50_ms double precision,
	latency_p95_ms double precision,
	latency_p99_ms double precision,
	-- One point per (application, server, bucket): a resent batch replaces.
	PRIMARY KEY (tenant_id, application_id, ts, server_id),
	CONSTRAINT app_traffic_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_traffic_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX app_traffic_server ON app_traffic (server_id);
CREATE INDEX app_traffic_stream ON app_traffic (application_id, id);
CREATE INDEX app_traffic_age ON app_traffic (ts);
CREATE INDEX app_traffic_rollup ON app_traffic (id);

-- The rollups: the same figures per minute and per hour (histograms as
-- bigint[]: an hour of a busy application exceeds an int per bucket).
CREATE TABLE app_traffic_1m (
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id uuid NOT NULL,
	server_id      uuid NOT NULL,
	ts             timestamptz NOT NULL,
	requests       bigint NOT NULL,
	status_2xx     bigint NOT NULL,
	status_3xx     bigint NOT NULL,
	status_4xx     bigint NOT NULL,
	status_5xx     bigint NOT NULL,
	bytes_out      bigint NOT NULL,
	latency_hist   bigint[] NOT NULL,
	latency_p50_ms double precision,
	latency_p95_ms double precision,
	latency_p99_ms double precision,
	PRIMARY KEY (tenant_id, application_id, ts, server_id),
	CONSTRAINT app_traffic_1m_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_traffic_1m_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX app_traffic_1m_server ON app_traffic_1m (server_id);
CREATE INDEX app_traffic_1m_age ON app_traffic_1m (ts);

CREATE TABLE app_traffic_1h (LIKE app_traffic_1m INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
	PRIMARY KEY (tenant_id, application_id, ts, server_id),
	CONSTRAINT app_traffic_1h_tenant_id_fkey FOREIGN KEY (tenant_id)
		REFERENCES tenants ON DELETE CASCADE,
	CONSTRAINT app_traffic_1h_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT app_traffic_1h_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE);
CREATE INDEX app_traffic_1h_server ON app_traffic_1h (server_id);
CREATE INDEX app_traffic_1h_age ON app_traffic_1h (ts);

SELECT tenant_owned('app_traffic', 'app_traffic_1m', 'app_traffic_1h');
GRANT USAGE ON SEQUENCE app_traffic_id_seq TO launcher_api;

-- ------------------------------------------------------------ histograms

-- a + b bucket by bucket (either may be shorter, or NULL).
CREATE FUNCTION traffic_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
	       ARRAY(SELECT coalesce(a[i], 0) + coalesce(b[i], 0)
	             FROM generate_series(1, greatest(cardinality(a), cardinality(b))) i)
	       END
$$;
CREATE AGGREGATE traffic_hist_sum(bigint[]) (SFUNC = traffic_hist_add, STYPE = bigint[]);

-- The q-quantile (0..1) in ms of a histogram, interpolated linearly inside
-- its bucket (the open last bucket answers its lower bound); NULL if empty.
-- The agent's traffic_quantile (fcgi/agent/traffic.c) computes the same.
CREATE FUNCTION traffic_quantile(h bigint[], q double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	total numeric := 0;
	cum   numeric := 0;
	rank  numeric;
	c     bigint;
	lo    double precision;
BEGIN
	FOR k IN 1 .. coalesce(cardinality(h), 0) LOOP
		total := total + coalesce(h[k], 0);
	END LOOP;
	IF total = 0 THEN
		RETURN NULL;
	END IF;
	rank := q * total;
	FOR k IN 1 .. cardinality(h) LOOP
		c := coalesce(h[k], 0);
		IF c > 0 AND cum + c >= rank THEN
			lo := CASE WHEN k = 1 THEN 0 ELSE power(1.1, k - 2) END;
			IF k = 118 THEN
				RETURN lo;
			END IF;
			RETURN lo + (power(1.1, k - 1) - lo) * greatest(rank - cum, 0) / c;
		END IF;
		cum := cum + c;
	END LOOP;
	RETURN NULL;
END $$;

-- ------------------------------------------------------------ ingest

-- POST /agent/traffic: p_points [{app_id, ts, requests, status_2xx..5xx,
-- bytes_out, latency_hist, latency_p50/95/99_ms?}] of server p_server (the
-- agent's percentiles of the histogram, else traffic_quantile's: the same
-- rule).  Only applications placed
-- on that server (others are skipped, not refused: an application moved
-- or deleted meanwhile loses its last points).  Idempotent on (application,
-- server, ts): a point sent again replaces itself, and of two points of one
-- key in one batch (the same instant, whatever its offset) the later one is
-- stored (two would make ON CONFLICT DO UPDATE fail).  Returns how many were
-- stored.
CREATE FUNCTION agent_traffic(p_server uuid, p_points jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE n integer;
BEGIN
	INSERT INTO app_traffic AS t (application_id, server_id, ts, requests, status_2xx,
	                              status_3xx, status_4xx, status_5xx, bytes_out, latency_hist,
	                              latency_p50_ms, latency_p95_ms, latency_p99_ms)
	SELECT a.id, p_server, x.ts, x.requests, x.status_2xx, x.status_3xx, x.status_4xx,
	       x.status_5xx, x.bytes_out, x.hist,
	       coalesce(x.p50, traffic_quantile(x.hist::bigint[], 0.50)),
	       coalesce(x.p95, traffic_quantile(x.hist::bigint[], 0.95)),
	       coalesce(x.p99, traffic_quantile(x.hist::bigint[], 0.99))
	  FROM (SELECT DISTINCT ON (y.app_id, y.ts)
	               y.app_id, y.ts, y.requests, y.status_2xx, y.status_3xx, y.status_4xx,
	               y.status_5xx, y.bytes_out, y.latency_p50_ms AS p50, y.latency_p95_ms AS p95,
	               y.latency_p99_ms AS p99,
	               ARRAY(SELECT jsonb_array_elements_text(y.latency_hist)::int) AS hist
	          FROM ROWS FROM (jsonb_to_recordset(p_points) AS (app_id uuid, ts timestamptz,
	               requests bigint, status_2xx bigint, status_3xx bigint, status_4xx bigint,
	               status_5xx bigint, bytes_out bigint, latency_hist jsonb, latency_p50_ms float8,
	               latency_p95_ms float8, latency_p99_ms float8)) WITH ORDINALITY
	               AS y(app_id, ts, requests, status_2xx, status_3xx, status_4xx, status_5xx,
	               bytes_out, latency_hist, latency_p50_ms, latency_p95_ms, latency_p99_ms, i)
	         ORDER BY y.app_id, y.ts, y.i DESC) x
	  JOIN applications a ON a.id = x.app_id AND a.server_id = p_server
	ON CONFLICT (tenant_id, application_id, ts, server_id) DO UPDATE SET
	       requests = excluded.requests, status_2xx = excluded.status_2xx,
	       status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx,
	       status_5xx = excluded.status_5xx, bytes_out = excluded.bytes_out,
	       latency_hist = excluded.latency_hist, latency_p50_ms = excluded.latency_p50_ms,
	       latency_p95_ms = excluded.latency_p95_ms, latency_p99_ms = excluded.latency_p99_ms
	 WHERE (t.requests, t.bytes_out, t.latency_hist)
	       IS DISTINCT FROM (excluded.requests, excluded.bytes_out, excluded.latency_hist);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION agent_traffic(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agent_traffic(uuid, jsonb) TO launcher_api;

CREATE TRIGGER app_traffic_stream AFTER INSERT ON app_traffic
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION stream_rows('''t''', 'n.application_id');

-- ------------------------------------------------------------ reading

-- GET /monitoring/applications/:id/traffic?from=&to=&step= (API.md §16):
-- buckets of step seconds between from (default: to - 1 hour) and to
-- (default: now), every server summed; buckets without traffic are absent.
-- The resolution read: the 10 s points whenever from is within their 24 h
-- (fresh to the last bucket sent, whatever the step: at most 8,640 rows per
-- server); else minutes when step < 3600 and from is within 7 days; else
-- hours (the rollups lag the points by up to one scheduler tick).  step (default: the span / 360, so about 360 points) is rounded up
-- to a multiple of it.  At most 90 days and 10,000 buckets; LN400 names the
-- field otherwise.
CREATE FUNCTION app_traffic_series(p_app uuid, p_from timestamptz, p_to timestamptz,
                                   p_step integer)
RETURNS TABLE (ts timestamptz, requests bigint, status_2xx bigint, status_3xx bigint,
               status_4xx bigint, status_5xx bigint, bytes_out bigint,
               latency_p50_ms double precision, latency_p95_ms double precision,
               latency_p99_ms double precision)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	t_to   timestamptz := coalesce(p_to, now());
	t_from timestamptz := coalesce(p_from, coalesce(p_to, now()) - interval '1 hour');
	span   double precision;
	step   integer;
	res    integer;
BEGIN
	span := extract(epoch FROM t_to - t_from);
	IF span <= 0 THEN
		RAISE EXCEPTION 'must be later than from' USING ERRCODE = 'LN400', COLUMN = 'to';
	END IF;
	IF span > 90 * 86400 THEN
		RAISE EXCEPTION 'must be at most 90 days before to' USING ERRCODE = 'LN400', COLUMN = 'from';
	END IF;
	step := coalesce(p_step, greatest(10, ceil(span / 360)::integer));
	res := CASE WHEN t_from >= now() - interval '24 hours' THEN 10
	            WHEN step < 3600 AND t_from >= now() - interval '7 days' THEN 60
	            ELSE 3600 END;
	step := ((step + res - 1) / res) * res;
	IF span / step > 10000 THEN
		RAISE EXCEPTION 'too small for the range: at most 10000 buckets' USING ERRCODE = 'LN400',
			COLUMN = 'step';
	END IF;
	RETURN QUERY
	WITH src AS (
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist::bigint[] AS h
		  FROM app_traffic t
		 WHERE res = 10 AND t.application_id = p_app AND t.ts >= t_from AND t.ts < t_to
		UNION ALL
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist
		  FROM app_traffic_1m t
		 WHERE res = 60 AND t.application_id = p_app AND t.ts >= t_from AND t.ts < t_to
		UNION ALL
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist
		  FROM app_traffic_1h t
		 WHERE res = 3600 AND t.application_id = p_app AND t.ts >= t_from AND t.ts < t_to),
	b AS (
		SELECT to_timestamp(floor(extract(epoch FROM s.ts) / step) * step) AS bts,
		       sum(s.requests)::bigint AS n, sum(s.status_2xx)::bigint AS s2,
		       sum(s.status_3xx)::bigint AS s3, sum(s.status_4xx)::bigint AS s4,
		       sum(s.status_5xx)::bigint AS s5, sum(s.bytes_out)::bigint AS bytes,
		       traffic_hist_sum(s.h) AS h
		  FROM src s GROUP BY 1)
	SELECT b.bts, b.n, b.s2, b.s3, b.s4, b.s5, b.bytes,
	       traffic_quantile(b.h, 0.50), traffic_quantile(b.h, 0.95), traffic_quantile(b.h, 0.99)
	  FROM b ORDER BY b.bts;
END $$;
GRANT EXECUTE ON FUNCTION app_traffic_series(uuid, timestamptz, timestamptz, integer)
	TO launcher_api;

-- ------------------------------------------------------------ rollups

-- How far the rollups have read app_traffic (by id).
CREATE TABLE traffic_rollup_mark (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	last_id bigint NOT NULL
);
INSERT INTO traffic_rollup_mark VALUES (true, 0);
REVOKE ALL ON traffic_rollup_mark FROM PUBLIC;

-- launcher-scheduler, every tick (CONTRACT §1): recomputes the minutes
-- (app_traffic_1m) and then the hours (app_traffic_1h) that received points
-- since the last run (ids past the mark) or in the last 2 minutes (a
-- point whose transaction committed after a later id was read), then
-- applies the retention: 10 s points older than p_raw_hours hours, 1 min
-- older than 7 days, 1 h older than 90 days.  Recomputing a whole bucket
-- from its sources makes a run idempotent; two schedulers at once
-- serialise on the mark.  Across tenants: the maintenance role's alone.
-- Returns rows written plus rows removed.
CREATE FUNCTION traffic_rollup(p_raw_hours integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	mark  bigint;
	top   bigint;
	n     integer;
	total integer := 0;
BEGIN
	SELECT last_id INTO mark FROM traffic_rollup_mark FOR UPDATE;
	SELECT coalesce(max(id), mark) INTO top FROM app_traffic;
	CREATE TEMP TABLE traffic_dirty ON COMMIT DROP AS
		SELECT DISTINCT tenant_id, application_id, server_id, date_trunc('minute', ts) AS m
		  FROM app_traffic
		 WHERE (id > mark AND id <= top) OR ts >= now() - interval '2 minutes';
	INSERT INTO app_traffic_1m AS r (tenant_id, application_id, server_id, ts, requests,
	       status_2xx, status_3xx, status_4xx, status_5xx, bytes_out, latency_hist,
	       latency_p50_ms, latency_p95_ms, latency_p99_ms)
	SELECT x.*, traffic_quantile(x.h, 0.50), traffic_quantile(x.h, 0.95),
	       traffic_quantile(x.h, 0.99)
	  FROM (SELECT d.tenant_id, d.application_id, d.server_id, d.m, sum(t.requests)::bigint,
	               sum(t.status_2xx)::bigint, sum(t.status_3xx)::bigint,
	               sum(t.status_4xx)::bigint, sum(t.status_5xx)::bigint,
	               sum(t.bytes_out)::bigint, traffic_hist_sum(t.latency_hist::bigint[]) AS h
	          FROM traffic_dirty d
	          JOIN app_traffic t ON t.tenant_id = d.tenant_id AND t.application_id = d.application_id
	           AND t.server_id = d.server_id AND t.ts >= d.m AND t.ts < d.m + interval '1 minute'
	         GROUP BY 1, 2, 3, 4) x
	ON CONFLICT (tenant_id, application_id, ts, server_id) DO UPDATE SET
	       requests = excluded.requests, status_2xx = excluded.status_2xx,
	       status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx,
	       status_5xx = excluded.status_5xx, bytes_out = excluded.bytes_out,
	       latency_hist = excluded.latency_hist, latency_p50_ms = excluded.latency_p50_ms,
	       latency_p95_ms = excluded.latency_p95_ms, latency_p99_ms = excluded.latency_p99_ms;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;
	INSERT INTO app_traffic_1h AS r (tenant_id, application_id, server_id, ts, requests,
	       status_2xx, status_3xx, status_4xx, status_5xx, bytes_out, latency_hist,
	       latency_p50_ms, latency_p95_ms, latency_p99_ms)
	SELECT x.*, traffic_quantile(x.h, 0.50), traffic_quantile(x.h, 0.95),
	       traffic_quantile(x.h, 0.99)
	  FROM (SELECT d.tenant_id, d.application_id, d.server_id, d.h AS hts, sum(t.requests)::bigint,
	               sum(t.status_2xx)::bigint, sum(t.status_3xx)::bigint,
	               sum(t.status_4xx)::bigint, sum(t.status_5xx)::bigint,
	               sum(t.bytes_out)::bigint, traffic_hist_sum(t.latency_hist) AS h
	          FROM (SELECT DISTINCT tenant_id, application_id, server_id,
	                       date_trunc('hour', m) AS h FROM traffic_dirty) d
	          JOIN app_traffic_1m t ON t.tenant_id = d.tenant_id
	           AND t.application_id = d.application_id AND t.server_id = d.server_id
	           AND t.ts >= d.h AND t.ts < d.h + interval '1 hour'
	         GROUP BY 1, 2, 3, 4) x
	ON CONFLICT (tenant_id, application_id, ts, server_id) DO UPDATE SET
	       requests = excluded.requests, status_2xx = excluded.status_2xx,
	       status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx,
	       status_5xx = excluded.status_5xx, bytes_out = excluded.bytes_out,
	       latency_hist = excluded.latency_hist, latency_p50_ms = excluded.latency_p50_ms,
	       latency_p95_ms = excluded.latency_p95_ms, latency_p99_ms = excluded.latency_p99_ms;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;
	UPDATE traffic_rollup_mark SET last_id = top;
	DELETE FROM app_traffic WHERE ts < now() - make_interval(hours => p_raw_hours);
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;
	DELETE FROM app_traffic_1m WHERE ts < now() - interval '7 days';
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;
	DELETE FROM app_traffic_1h WHERE ts < now() - interval '90 days';
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN total + n;
END $$;
REVOKE ALL ON FUNCTION traffic_rollup(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION traffic_rollup(integer) TO launcher_maint;
