-- 014_job_results.sql - a job result that may show secrets (the output of
-- `exec`) is kept sealed with the tenant's key (fcgi/core/secret.h,
-- purpose "job-result") instead of in jobs.result, and only for a while:
-- launcher-scheduler clears it job_result_retention_seconds after the job
-- finished (config; GET /jobs/:id stops showing it at the same moment).

SET search_path = launcher;

ALTER TABLE jobs ADD COLUMN result_sealed text;
CREATE INDEX jobs_result_sealed ON jobs (finished_at) WHERE result_sealed IS NOT NULL;

-- Across tenants, like runtime_logs_prune: the scheduler has no tenant.
CREATE FUNCTION job_results_expire(p_seconds integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE n integer;
BEGIN
	UPDATE jobs SET result_sealed = NULL
	 WHERE result_sealed IS NOT NULL
	   AND finished_at < now() - make_interval(secs => p_seconds);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION job_results_expire(integer) FROM PUBLIC;
-- Crosses tenants: the maintenance role's alone (granted in 015_tenant_guard.sql).
