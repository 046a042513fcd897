-- 055_job_wait.sql - a call that waits for a job's outcome without a pool
-- worker (core/jobs.h job_respond_wait; README "Waiting for a job").
--
-- The pool answers such a call at once with X-Accel-Redirect to nginx's
-- internal /.lnchr-wait/<tenant>/<job>, which launcher-ws serves: it holds
-- the request until the job is terminal, then hands it back to the pool.
-- Nothing announced a job's end so far (job_logs announce lines, topic j;
-- deployments their status, topic d), so:
--
--   f <tenant> <job id> 0 0      on launcher_stream, at commit, when a job
--                                becomes succeeded, failed or cancelled
--
-- whoever ends it (the agent's complete, a cancel, the scheduler's lease
-- and deadline expiry).  launcher-ws reads nothing for it: the id wakes
-- the requests waiting on that job.

SET search_path = launcher;

CREATE FUNCTION job_finished_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_notify('launcher_stream', format('f %s %s 0 0', NEW.tenant_id, NEW.id));
	RETURN NULL;
END
$$;
CREATE TRIGGER jobs_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION job_finished_notify();

-- launcher-ws, before it waits: the status of the job if it belongs to the
-- tenant (its id or its slug, as the URL names it), else NULL (its
-- connection has no tenant set: SECURITY DEFINER, filtered by tenant, as
-- ws_agent_server in sql/015).
CREATE FUNCTION ws_job_status(p_tenant text, p_job uuid)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT j.status FROM jobs j JOIN tenants t ON t.id = j.tenant_id
	 WHERE j.id = p_job
	   AND (t.id = CASE WHEN p_tenant ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	                    THEN p_tenant::uuid END OR t.slug = p_tenant)
$$;
REVOKE ALL ON FUNCTION ws_job_status(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ws_job_status(text, uuid) TO launcher_api;

-- launcher-ws, after its listener reconnected or when more waited jobs
-- ended at once than its queue holds: of the jobs its held requests wait
-- on, those still queued or running, in one query for them all (each
-- wait's tenant was checked by ws_job_status when it began).
CREATE FUNCTION ws_jobs_pending(p_jobs uuid[])
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT j.id FROM jobs j
	 WHERE j.id = ANY (p_jobs) AND j.status NOT IN ('succeeded', 'failed', 'cancelled')
$$;
REVOKE ALL ON FUNCTION ws_jobs_pending(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ws_jobs_pending(uuid[]) TO launcher_api;
