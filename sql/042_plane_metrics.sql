-- 042_plane_metrics.sql - the figures of GET /metrics that live in the
-- database (README "Plane metrics"): the job queue by kind and the servers
-- (agents) by status.
--
-- /metrics is a route outside any tenant, so the session holds no tenant
-- and RLS would hide every row: the function is SECURITY DEFINER (owned by
-- launcher_owner) and returns counts only, never a tenant's data.  One
-- statement per scrape, none on any other request.  Every kind of
-- job_kinds and every server status appears, with 0 when there is none,
-- so a series never vanishes between two scrapes.  The queued jobs are
-- read through the partial index jobs_queue (status = 'queued').
--   series 'jobs_queued'             label kind    value: queued jobs
--   series 'jobs_oldest_queued_age'  label kind    value: whole seconds since the
--                                                  oldest queued job's creation (0 if none)
--   series 'jobs_running'            label kind    value: running jobs
--   series 'servers'                 label status  value: servers
CREATE FUNCTION plane_metrics()
RETURNS TABLE (series text, label text, value bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	WITH q AS (
		SELECT j.kind, j.status, count(*) AS n,
		       extract(epoch FROM now() - min(j.created_at)) AS oldest
		  FROM jobs j
		 WHERE j.status IN ('queued', 'running')
		 GROUP BY j.kind, j.status
	), kinds AS (
		SELECT kind FROM job_kinds UNION SELECT kind FROM q
	)
	SELECT 'jobs_queued', k.kind, coalesce(q.n, 0)
	  FROM kinds k LEFT JOIN q ON q.kind = k.kind AND q.status = 'queued'
	UNION ALL
	SELECT 'jobs_oldest_queued_age', k.kind, greatest(coalesce(q.oldest, 0), 0)::bigint
	  FROM kinds k LEFT JOIN q ON q.kind = k.kind AND q.status = 'queued'
	UNION ALL
	SELECT 'jobs_running', k.kind, coalesce(q.n, 0)
	  FROM kinds k LEFT JOIN q ON q.kind = k.kind AND q.status = 'running'
	UNION ALL
	SELECT 'servers', s.status, (SELECT count(*) FROM servers v WHERE v.status = s.status)
	  FROM (VALUES ('pending'), ('online'), ('offline'), ('degraded')) AS s (status)
	ORDER BY 1, 2
$$;
REVOKE ALL ON FUNCTION plane_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION plane_metrics() TO launcher_api;
