-- 061_job_claim_kinds.sql - an agent runs function invocations beside its
-- one other job (fcgi/agent/loop.h: a main slot and invoke_slots more for
-- fn.invoke), so its claim says which kinds it can take now, and the queue
-- keeps a function's own jobs apart:
--   - job_claim(server, kinds, except_kinds): the oldest queued job of the
--     server whose kind is among kinds (NULL = any) and not among
--     except_kinds (NULL = none).  job_claim(uuid) of sql/004 is replaced
--     by a call of it with both NULL: an agent that sends no filter gets
--     any kind, as before;
--   - fn_concurrency(runtime, memory_limit): the calls a function's
--     container serves at once: the shim's workers, one per 48 MiB (node20)
--     or 24 MiB (python3) of its memory limit, 1..4 (conf/functions/shim.*,
--     README "Workers"); the fn.deploy claim passes it to the container as
--     LAUNCHER_FN_CONCURRENCY, so the shim and the queue use this one number;
--   - functions.deployed_concurrency: fn_concurrency of the fn.deploy that
--     last succeeded (its payload's runtime and memory_limit, what the
--     container was built with, not the row's of now: an update takes
--     effect at the next deploy); NULL before one (counted as 1);
--   - fn_job_claimable(job): an fn.invoke is handed out only while fewer
--     than deployed_concurrency invocations of its function run (more would wait
--     in the shim's queue and time out there as 503) and no fn.deploy or
--     fn.remove of it runs or is queued before it; an fn.deploy/fn.remove
--     only while none of its invocations runs or is queued before it.  So a
--     redeploy never replaces the container under a running call, and a
--     function's calls and deploys keep their queue order, as they did when
--     every job took the agent's one slot.

SET search_path = launcher;

CREATE FUNCTION fn_concurrency(p_runtime text, p_memory bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT least(4, greatest(1, coalesce(p_memory, 134217728)
		/ CASE p_runtime WHEN 'python3' THEN 25165824 ELSE 50331648 END))::integer
$$;

ALTER TABLE functions ADD COLUMN deployed_concurrency integer;

-- A function's fn.deploy succeeded: its container serves this many calls.
CREATE FUNCTION fn_deployed_concurrency() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ->> 'function_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		UPDATE functions
		   SET deployed_concurrency = fn_concurrency(NEW.payload ->> 'runtime',
		       CASE WHEN jsonb_typeof(NEW.payload -> 'memory_limit') = 'number'
		            THEN (NEW.payload ->> 'memory_limit')::numeric::bigint END)
		 WHERE id = (NEW.payload ->> 'function_id')::uuid AND server_id = NEW.server_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_fn_deployed_concurrency AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running') AND NEW.status = 'succeeded'
	                   AND NEW.kind = 'fn.deploy')
	EXECUTE FUNCTION fn_deployed_concurrency();

-- Whether j (a queued job of a server) may be handed out now, as far as
-- its function is concerned (true for every other kind).
CREATE FUNCTION fn_job_claimable(j jobs)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT j.kind NOT IN ('fn.invoke', 'fn.deploy', 'fn.remove')
	    OR NOT (j.payload ? 'function_id')
	    OR CASE WHEN j.kind = 'fn.invoke' THEN
		(SELECT count(*) FROM jobs o
		  WHERE o.server_id = j.server_id AND o.status = 'running' AND o.kind = 'fn.invoke'
		    AND o.payload ->> 'function_id' = j.payload ->> 'function_id')
		  < coalesce((SELECT f.deployed_concurrency FROM functions f
		  WHERE f.id = CASE WHEN j.payload ->> 'function_id'
		          ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
		          THEN (j.payload ->> 'function_id')::uuid END), 1)
		AND NOT EXISTS (SELECT 1 FROM jobs o
		  WHERE o.server_id = j.server_id AND o.kind IN ('fn.deploy', 'fn.remove')
		    AND o.payload ->> 'function_id' = j.payload ->> 'function_id'
		    AND (o.status = 'running' OR (o.status = 'queued' AND (o.created_at, o.id) < (j.created_at, j.id))))
	    ELSE NOT EXISTS (SELECT 1 FROM jobs o
		  WHERE o.server_id = j.server_id AND o.kind = 'fn.invoke'
		    AND o.payload ->> 'function_id' = j.payload ->> 'function_id'
		    AND (o.status = 'running' OR (o.status = 'queued' AND (o.created_at, o.id) < (j.created_at, j.id))))
	    END
$$;

-- Claims the oldest queued job of a server that the agent asked for
-- (sql/004's rules: SKIP LOCKED, never past its deadline).
CREATE FUNCTION job_claim(p_server uuid, p_kinds text[], p_except text[])
RETURNS SETOF jobs
LANGUAGE sql AS $$
	UPDATE jobs SET status = 'running', attempts = attempts + 1,
	       started_at = coalesce(started_at, now()),
	       lease_expires_at = now() + make_interval(secs => lease_seconds)
	 WHERE id = (SELECT j.id FROM jobs j WHERE j.server_id = p_server AND j.status = 'queued'
	              AND j.deadline_at > now()
	              AND (p_kinds IS NULL OR j.kind = ANY (p_kinds))
	              AND (p_except IS NULL OR j.kind <> ALL (p_except))
	              AND fn_job_claimable(j)
	              ORDER BY j.created_at, j.id LIMIT 1
	              FOR UPDATE SKIP LOCKED)
	RETURNING *
$$;

-- sql/004's one-argument claim: any kind (one claim, not two copies).
CREATE OR REPLACE FUNCTION job_claim(p_server uuid)
RETURNS SETOF jobs
LANGUAGE sql AS $$
	SELECT * FROM job_claim(p_server, NULL, NULL)
$$;

GRANT EXECUTE ON FUNCTION job_claim(uuid, text[], text[]), fn_job_claimable(jobs),
	fn_concurrency(text, bigint) TO launcher_api;
