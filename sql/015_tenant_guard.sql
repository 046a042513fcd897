-- 015_tenant_guard.sql - the tenant of a session can only be set by the
-- pool's preamble, and cross-tenant maintenance belongs to its own role.
--
-- 1. A session's launcher.tenant_id counts only together with
--    launcher.tenant_proof = tenant_proof(tenant_id, nonce), where nonce is
--    a secret the session bound once, right after connecting
--    (session_bind, called by the pool's db_ensure before any request).
--    The nonce is kept in session_nonces, which the API role cannot read;
--    a second bind on the same backend is refused.  A statement of a
--    handler (a bug, an injection) can still run set_config on
--    launcher.tenant_id, but without the nonce it cannot produce the
--    proof, and session_tenant (every RLS policy) and current_tenant()
--    (every tenant_id default) are then empty: no rows.  README, Security.
-- 2. scheduler_tick and runtime_logs_prune (SECURITY DEFINER, across
--    tenants) are executable by launcher_maint only (launcher-scheduler's
--    maintenance_database_url), no longer by launcher_api.
--
-- The installer creates launcher_maint (LOGIN, no privileges of its own)
-- and grants pg_read_all_stats to launcher_owner (session_bind reads its
-- own backend's start time in pg_stat_activity); conf/stack/launcher-stack.sh
-- does both.

SET search_path = launcher;

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'launcher_maint') THEN
		RAISE EXCEPTION 'the role launcher_maint does not exist: create it (LOGIN) before this migration (README, Security)';
	END IF;
END $$;

-- ---------------------------------------------------------------- maintenance
REVOKE EXECUTE ON FUNCTION scheduler_tick(), runtime_logs_prune(integer) FROM launcher_api;
GRANT USAGE ON SCHEMA launcher TO launcher_maint;
GRANT EXECUTE ON FUNCTION scheduler_tick(), runtime_logs_prune(integer),
	job_results_expire(integer) TO launcher_maint;

-- ---------------------------------------------------------------- tenant proof
-- One row per bound backend; a row whose backend has ended is replaced by
-- the next backend that gets its pid.  No privilege for anyone but the owner.
CREATE TABLE session_nonces (
	pid     integer PRIMARY KEY,
	started timestamptz NOT NULL,
	nonce   text NOT NULL CHECK (length(nonce) >= 32)
);
REVOKE ALL ON session_nonces FROM PUBLIC;

-- The proof of a tenant id under a nonce: MD5 of "tenant:nonce", the
-- 256-bit secret last (no length extension; a proof seen for one tenant
-- says nothing of another's).  MD5 because every statement computes it
-- once (session_tenant below): SHA-256 cost half again as much there.
CREATE FUNCTION tenant_proof(p_tenant text, p_nonce text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT pg_catalog.md5(p_tenant || ':' || p_nonce)
$$;

-- Binds this backend to p_nonce, once: true if bound now, an error if the
-- backend was bound already (the pool binds first thing after connecting).
CREATE FUNCTION session_bind(p_nonce text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	s timestamptz;
BEGIN
	SELECT a.backend_start INTO s FROM pg_stat_activity a WHERE a.pid = pg_backend_pid();
	IF s IS NULL THEN
		RAISE EXCEPTION 'session_bind: cannot read this backend''s start (grant pg_read_all_stats to the owner role)';
	END IF;
	INSERT INTO session_nonces AS n (pid, started, nonce) VALUES (pg_backend_pid(), s, p_nonce)
	ON CONFLICT (pid) DO UPDATE SET started = EXCLUDED.started, nonce = EXCLUDED.nonce
	 WHERE n.started IS DISTINCT FROM EXCLUDED.started;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'session_bind: this session is bound already' USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN true;
END $$;
REVOKE ALL ON FUNCTION session_bind(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_bind(text), tenant_proof(text, text) TO launcher_api;

-- The tenant of the current request: the setting, when its proof matches
-- this backend's nonce; else no row (no rows visible, no row writable).
-- A view, so that the owner's right to read session_nonces is used without
-- a function call: the policies below read it in a scalar sub-select,
-- which PostgreSQL runs once per statement (an InitPlan, as in 007) as one
-- index probe.  A SECURITY DEFINER function in its place (SQL: planned
-- again on every statement; PL/pgSQL: an executor start-up on every call)
-- cost a list of 50 projects up to half its throughput.  The API role may
-- read the view: it shows the tenant the session already holds, never a
-- nonce.
CREATE VIEW session_tenant WITH (security_barrier) AS
	SELECT NULLIF(pg_catalog.current_setting('launcher.tenant_id', true), '')::uuid AS tenant_id
	  FROM session_nonces n
	 WHERE n.pid = pg_catalog.pg_backend_pid()
	   AND pg_catalog.md5(pg_catalog.current_setting('launcher.tenant_id', true) || ':' || n.nonce)
	       = pg_catalog.current_setting('launcher.tenant_proof', true);
GRANT SELECT ON session_tenant TO launcher_api;

-- For the tenant_id defaults and any SQL that names it (PL/pgSQL: its plan
-- lasts the session).
CREATE OR REPLACE FUNCTION current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
	RETURN (SELECT s.tenant_id FROM launcher.session_tenant s);
END $$;

-- Every tenant-owned table's policy, and those of tables to come.
CREATE OR REPLACE FUNCTION tenant_owned(VARIADIC p_tables text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY p_tables LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT s.tenant_id FROM session_tenant s)) WITH CHECK (tenant_id = (SELECT s.tenant_id FROM session_tenant s))', t);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO launcher_api', t);
	END LOOP;
END $$;

DO $$
DECLARE t text;
BEGIN
	FOR t IN SELECT tablename FROM pg_policies
	          WHERE schemaname = 'launcher' AND policyname = 'tenant_isolation' LOOP
		EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (tenant_id = (SELECT s.tenant_id FROM session_tenant s)) WITH CHECK (tenant_id = (SELECT s.tenant_id FROM session_tenant s))', t);
	END LOOP;
END $$;

-- launcher-ws authenticates an agent: the server of the URL's tenant whose
-- token hash matches.  It no longer sets the session's tenant (only the
-- pool's preamble can, see above); SECURITY DEFINER, filtered by tenant.
CREATE OR REPLACE FUNCTION ws_agent_server(p_tenant text, p_token_hash bytea)
RETURNS TABLE (tenant_id uuid, server_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT s.tenant_id, s.id FROM tenants t JOIN servers s ON s.tenant_id = t.id
	 WHERE (t.id = CASE WHEN p_tenant ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	                    THEN p_tenant::uuid END OR t.slug = p_tenant)
	   AND s.agent_token_hash = p_token_hash
$$;
