-- 008_agent_wake.sql - waking agents.  Agents poll for jobs (polling alone
-- is correct); launcher-ws also holds one WebSocket per connected agent and
-- says "wake" on it when a job of that server is queued (claim now) or
-- cancelled (renew the lease now, which answers that the job is cancelled).
-- The notification carries the server's id only; it is sent at commit.

SET search_path = launcher;

CREATE FUNCTION jobs_wake() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_notify('launcher_agent_wake', NEW.server_id::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER jobs_wake_insert AFTER INSERT ON jobs
	FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION jobs_wake();
CREATE TRIGGER jobs_wake_update AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('queued', 'cancelled'))
	EXECUTE FUNCTION jobs_wake();

-- launcher-ws authenticates an agent's WebSocket as the API does (the
-- plane's auth_agent): the tenant named in the URL, then the server whose
-- token hash matches, under row-level security.  Returns no row for an
-- unknown tenant or token.
CREATE FUNCTION ws_agent_server(p_tenant text, p_token_hash bytea)
RETURNS TABLE (tenant_id uuid, server_id uuid)
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	t uuid;
BEGIN
	SELECT id INTO t FROM tenants
	 WHERE (p_tenant ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	        AND id = p_tenant::uuid) OR slug = p_tenant;
	IF t IS NULL THEN
		RETURN;
	END IF;
	PERFORM pg_catalog.set_config('launcher.tenant_id', t::text, false);
	RETURN QUERY SELECT s.tenant_id, s.id FROM servers s WHERE s.agent_token_hash = p_token_hash;
END
$$;
GRANT EXECUTE ON FUNCTION ws_agent_server(text, bytea) TO launcher_api;
