-- 005_job_cancel.sql - cancelling a job.  A queued job is never handed
-- out; a running one is refused at the agent's next lease renewal, progress
-- or completion (409), and the agent then stops working on it.

SET search_path = launcher;

CREATE FUNCTION job_cancel(p_job uuid, p_reason text DEFAULT 'cancelled')
RETURNS text
LANGUAGE sql AS $$
	UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
	       error = p_reason
	 WHERE id = p_job AND status IN ('queued', 'running')
	RETURNING status
$$;
GRANT EXECUTE ON FUNCTION job_cancel(uuid, text) TO launcher_api;
