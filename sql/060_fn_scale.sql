-- 060_fn_scale.sql - scale to zero of functions (API.md §7
-- idle_timeout_seconds; README "Functions"; fcgi/agent/fnscale.h).
--
-- The agent stops a function's container after idle_timeout_seconds
-- without a request and starts it for the next one; the plane learns it
-- from the agent's instance report (POST /agent/instances): the item of a
-- function's container stopped for idleness carries "scaled_to_zero":
-- true.  functions.scaled_to_zero follows the report (a status, not a
-- setting: the row's version does not move, bump_function_version).
--
-- Replaces fn_deploy (sql/054) only to add idle_timeout_seconds to the
-- fn.deploy payload: the agent keeps it for its idle check.  fn_job_payload
-- is left as it is (the other fn.* jobs do not need it).

SET search_path = launcher;

ALTER TABLE functions ADD COLUMN scaled_to_zero boolean NOT NULL DEFAULT false;

-- POST /functions/:id/deploy: the build and the switch, one job.
CREATE OR REPLACE FUNCTION fn_deploy(p_fn uuid, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE f functions; jid uuid;
BEGIN
	SELECT * INTO f FROM functions WHERE id = p_fn FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'function not found' USING ERRCODE = 'P0002';
	END IF;
	jid := job_enqueue(f.tenant_id, f.server_id, f.project_id, 'fn.deploy',
		fn_job_payload(f) || jsonb_build_object('idle_timeout_seconds', f.idle_timeout_seconds),
		p_user);
	UPDATE functions SET status = 'deploying', status_reason = NULL WHERE id = p_fn;
	RETURN jid;
END $$;

-- The instance report's function containers (agent.c st_instances, beside
-- agent_instances): a function whose container of the report is stopped
-- and marked scaled_to_zero is scaled to zero; one with a running
-- container is not.  Functions without a container in the report keep
-- their flag.  The number of functions changed.
CREATE FUNCTION function_instances(p_server uuid, p_items jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
	UPDATE functions f SET scaled_to_zero = z.zero
	  FROM (SELECT (x ->> 'app_id')::uuid AS fid,
	               bool_or(x -> 'scaled_to_zero' = 'true'::jsonb)
	               AND NOT bool_or(x ->> 'state' = 'running') AS zero
	          FROM jsonb_array_elements(p_items) x
	         WHERE x ->> 'app_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	         GROUP BY 1) z
	 WHERE f.id = z.fid AND f.server_id = p_server AND f.scaled_to_zero IS DISTINCT FROM z.zero;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
