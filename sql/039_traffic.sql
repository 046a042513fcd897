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

-- The p50, p95 and p99 in ms of a histogram (bucket 1: [0, 1) ms, bucket k:
-- [1.1^(k-2), 1.1^(k-1)) ms, the last one open), each interpolated linearly
-- inside its bucket (the open last bucket answers its lower bound); NULLs
-- if empty.  One pass for the three, in double precision: a 10 s point
-- costs ~40 us.  The one computation of the percentiles: of a 10 s point
-- on insert (agent_traffic), of a rollup, and of a read's bucket.
CREATE FUNCTION traffic_quantiles(h bigint[], OUT p50 double precision,
                                  OUT p95 double precision, OUT p99 double precision)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	n     integer := coalesce(cardinality(h), 0);
	total double precision := 0;
	cum   double precision := 0;
	c     double precision;
	lo    double precision := 0;
	hi    double precision := 1;
	rank  double precision[] := ARRAY[0.50, 0.95, 0.99];
	v     double precision[] := ARRAY[NULL, NULL, NULL]::double precision[];
	i     integer := 1;
BEGIN
	FOR k IN 1 .. n LOOP
		total := total + coalesce(h[k], 0);
	END LOOP;
	IF total = 0 THEN
		RETURN;
	END IF;
	FOR j IN 1 .. 3 LOOP
		rank[j] := rank[j] * total;
	END LOOP;
	FOR k IN 1 .. n LOOP
		c := coalesce(h[k], 0);
		WHILE i <= 3 AND c > 0 AND cum + c >= rank[i] LOOP
			v[i] := CASE WHEN k = 118 THEN lo
			             ELSE lo + (hi - lo) * greatest(rank[i] - cum, 0) / c END;
			i := i + 1;
		END LOOP;
		EXIT WHEN i > 3;
		cum := cum + c;
		lo := hi;
		hi := hi * 1.1;
	END LOOP;
	p50 := v[1];
	p95 := v[2];
	p99 := v[3];
END $$;

-- ------------------------------------------------------------ ingest

-- POST /agent/traffic: p_points [{app_id, ts, requests, status_2xx..5xx,
-- bytes_out, latency_hist}] of server p_server; the point's percentiles are
-- traffic_quantiles' of its histogram (percentile fields sent by an older
-- agent are ignored).  Only applications placed
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
	       x.status_5xx, x.bytes_out, x.hist, q.p50, q.p95, q.p99
	  FROM (SELECT DISTINCT ON (y.app_id, y.ts)
	               y.app_id, y.ts, y.requests, y.status_2xx, y.status_3xx, y.status_4xx,
	               y.status_5xx, y.bytes_out,
	               ARRAY(SELECT jsonb_array_elements_text(y.latency_hist)::int) AS hist
	          FROM ROWS FROM (jsonb_to_recordset(p_points) AS (app_id uuid, ts timestamptz,
	               requests bigint, status_2xx bigint, status_3xx bigint, status_4xx bigint,
	               status_5xx bigint, bytes_out bigint, latency_hist jsonb)) WITH ORDINALITY
	               AS y(app_id, ts, requests, status_2xx, status_3xx, status_4xx, status_5xx,
	               bytes_out, latency_hist, i)
	         ORDER BY y.app_id, y.ts, y.i DESC) x
	  JOIN applications a ON a.id = x.app_id AND a.server_id = p_server
	 CROSS JOIN LATERAL traffic_quantiles(x.hist::bigint[]) q
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
-- the buckets of p_step seconds between p_from and p_to of the series of
-- p_res seconds (10, 60 or 3600), every server summed; buckets without
-- traffic are absent.  The window (defaults, resolution, limits, a bad
-- value named in a 400) is monitoring_window's (sql/038), as for the
-- metrics; the rollups lag the points by up to one scheduler tick.
CREATE FUNCTION app_traffic_series(p_app uuid, p_from timestamptz, p_to timestamptz,
                                   p_step integer, p_res integer)
RETURNS TABLE (ts timestamptz, requests bigint, status_2xx bigint, status_3xx bigint,
               status_4xx bigint, status_5xx bigint, bytes_out bigint,
               latency_p50_ms double precision, latency_p95_ms double precision,
               latency_p99_ms double precision)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY
	WITH src AS (
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist::bigint[] AS h
		  FROM app_traffic t
		 WHERE p_res = 10 AND t.application_id = p_app AND t.ts >= p_from AND t.ts < p_to
		UNION ALL
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist
		  FROM app_traffic_1m t
		 WHERE p_res = 60 AND t.application_id = p_app AND t.ts >= p_from AND t.ts < p_to
		UNION ALL
		SELECT t.ts, t.requests, t.status_2xx, t.status_3xx, t.status_4xx, t.status_5xx,
		       t.bytes_out, t.latency_hist
		  FROM app_traffic_1h t
		 WHERE p_res = 3600 AND t.application_id = p_app AND t.ts >= p_from AND t.ts < p_to),
	b AS (
		SELECT to_timestamp(floor(extract(epoch FROM s.ts) / p_step) * p_step) AS bts,
		       sum(s.requests)::bigint AS n, sum(s.status_2xx)::bigint AS s2,
		       sum(s.status_3xx)::bigint AS s3, sum(s.status_4xx)::bigint AS s4,
		       sum(s.status_5xx)::bigint AS s5, sum(s.bytes_out)::bigint AS bytes,
		       traffic_hist_sum(s.h) AS h
		  FROM src s GROUP BY 1)
	SELECT b.bts, b.n, b.s2, b.s3, b.s4, b.s5, b.bytes, q.p50, q.p95, q.p99
	  FROM b CROSS JOIN LATERAL traffic_quantiles(b.h) q ORDER BY b.bts;
END $$;
GRANT EXECUTE ON FUNCTION app_traffic_series(uuid, timestamptz, timestamptz, integer, integer)
	TO launcher_api;

-- ------------------------------------------------------------ rollups

-- How far the rollups have read app_traffic (by id): its row of
-- rollup_marks (sql/038).
INSERT INTO rollup_marks (series) VALUES ('app_traffic');

-- launcher-scheduler, every tick (CONTRACT §1): recomputes the minutes
-- (app_traffic_1m) and then the hours (app_traffic_1h) that received points
-- since the last run (at most p_batch ids past the mark, rollup_claim) or
-- in the last 2 minutes (a point whose transaction committed after a later
-- id was read), then applies the retention (rollup_retention, as for the
-- metrics).  Recomputing a whole bucket from its sources makes a run
-- idempotent; two schedulers at once serialise on the mark.  Across
-- tenants: the maintenance role's alone.
-- Returns rows written plus rows removed.
CREATE FUNCTION traffic_rollup(p_batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	mark  bigint;
	top   bigint;
	n     integer;
	total integer := 0;
BEGIN
	SELECT * INTO mark, top FROM rollup_claim('app_traffic', p_batch);
	CREATE TEMP TABLE traffic_dirty ON COMMIT DROP AS
		SELECT DISTINCT tenant_id, application_id, server_id, date_trunc('minute', ts) AS m
		  FROM app_traffic
		 WHERE (id > mark AND id <= top) OR ts >= now() - interval '2 minutes';
	INSERT INTO app_traffic_1m AS r (tenant_id, application_id, server_id, ts, requests,
	       status_2xx, status_3xx, status_4xx, status_5xx, bytes_out, latency_hist,
	       latency_p50_ms, latency_p95_ms, latency_p99_ms)
	SELECT x.*, q.p50, q.p95, q.p99
	  FROM (SELECT d.tenant_id, d.application_id, d.server_id, d.m, sum(t.requests)::bigint,
	               sum(t.status_2xx)::bigint, sum(t.status_3xx)::bigint,
	               sum(t.status_4xx)::bigint, sum(t.status_5xx)::bigint,
	               sum(t.bytes_out)::bigint, traffic_hist_sum(t.latency_hist::bigint[]) AS h
	          FROM traffic_dirty d
	          JOIN app_traffic t ON t.tenant_id = d.tenant_id AND t.application_id = d.application_id
	           AND t.server_id = d.server_id AND t.ts >= d.m AND t.ts < d.m + interval '1 minute'
	         GROUP BY 1, 2, 3, 4) x
	 CROSS JOIN LATERAL traffic_quantiles(x.h) q
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
	SELECT x.*, q.p50, q.p95, q.p99
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
	 CROSS JOIN LATERAL traffic_quantiles(x.h) q
	ON CONFLICT (tenant_id, application_id, ts, server_id) DO UPDATE SET
	       requests = excluded.requests, status_2xx = excluded.status_2xx,
	       status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx,
	       status_5xx = excluded.status_5xx, bytes_out = excluded.bytes_out,
	       latency_hist = excluded.latency_hist, latency_p50_ms = excluded.latency_p50_ms,
	       latency_p95_ms = excluded.latency_p95_ms, latency_p99_ms = excluded.latency_p99_ms;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;
	RETURN total + rollup_retention('app_traffic', top);
END $$;
REVOKE ALL ON FUNCTION traffic_rollup(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION traffic_rollup(integer) TO launcher_maint;
