-- 025: the server that runs a tenant-level check.  A check that talks to
-- a remote service (a registry's v2 login, a git provider's REST API) must
-- not wait in a pool worker (ARCHITECTURE.md, Processes): it is a job, and
-- jobs run on a server's agent.  Running it there also tests what matters:
-- that the servers which will pull or clone can reach the service.
--
-- The server is the one the caller names (server_id in the body), else the
-- tenant's online server seen most recently.  No such server is a 409 that
-- names server_id: the check cannot run until an agent is connected.

CREATE FUNCTION check_server(p_given uuid)
RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE srv uuid;
BEGIN
	IF p_given IS NOT NULL THEN
		IF NOT EXISTS (SELECT 1 FROM servers WHERE id = p_given) THEN
			RAISE EXCEPTION 'server not found' USING ERRCODE = 'LN400', COLUMN = 'server_id';
		END IF;
		RETURN p_given;
	END IF;
	SELECT id INTO srv FROM servers WHERE status IN ('online', 'degraded')
	 ORDER BY last_seen_at DESC NULLS LAST, id LIMIT 1;
	IF srv IS NULL THEN
		RAISE EXCEPTION 'no online server can run the check: connect an agent first'
			USING ERRCODE = 'LN409', COLUMN = 'server_id';
	END IF;
	RETURN srv;
END $$;

GRANT EXECUTE ON FUNCTION check_server(uuid) TO launcher_api;
