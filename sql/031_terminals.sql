-- 031_terminals.sql - interactive terminals (API.md §22 /ws/terminal): a
-- session row per POST /applications|databases|servers/:id/terminal, a
-- terminal.open job that wakes the target's agent, and the functions
-- launcher-ws calls to attach the two sockets (client, agent) and to
-- record how the session ended.
--
-- A session is single use: the client attaches once (attached_at), within
-- expires_at (60 s after creation); the agent attaches once
-- (agent_attached_at).  started_at is when both are paired, ended_at when
-- either side went away; exit_code is the command's status when the agent
-- reported one.  Nothing typed or printed is stored anywhere.

SET search_path = launcher;

ALTER TABLE terminal_sessions DROP CONSTRAINT terminal_sessions_target_check;	-- (database_id only)
ALTER TABLE terminal_sessions
	ADD COLUMN target text NOT NULL DEFAULT 'database'
		CHECK (target IN ('application', 'database', 'server')),
	ADD COLUMN application_id uuid,
	ADD COLUMN container_id text CHECK (container_id ~ '^[0-9a-f]{12,64}$'),
	ADD COLUMN instance_name text,
	-- A database's: the image table's env name of the password, set to the
	-- current password in the exec's env by the claim (never stored).
	ADD COLUMN password_env text CHECK (password_env ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
	ADD COLUMN created_key uuid,	-- the service key that created it (audit), else NULL
	ADD COLUMN agent_attached_at timestamptz,
	ADD COLUMN started_at timestamptz,
	ADD COLUMN seen_at timestamptz,	-- refreshed by launcher-ws while the session is open
	ADD COLUMN ended_at timestamptz,
	ADD COLUMN exit_code integer,
	ADD COLUMN duration_ms bigint GENERATED ALWAYS AS
		((extract(epoch FROM (ended_at - coalesce(started_at, ended_at))) * 1000)::bigint) STORED,
	ALTER COLUMN project_id DROP NOT NULL,
	ADD CONSTRAINT terminal_sessions_target_fields_check CHECK (CASE target
		WHEN 'database' THEN database_id IS NOT NULL AND application_id IS NULL
		                     AND project_id IS NOT NULL
		WHEN 'application' THEN application_id IS NOT NULL AND database_id IS NULL
		                     AND container_id IS NOT NULL AND project_id IS NOT NULL
		ELSE application_id IS NULL AND database_id IS NULL AND project_id IS NULL END),
	ADD CONSTRAINT terminal_sessions_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE terminal_sessions ALTER COLUMN target DROP DEFAULT;
CREATE INDEX terminal_sessions_application ON terminal_sessions (application_id);
-- What the per-tenant limit counts.
CREATE INDEX terminal_sessions_open ON terminal_sessions (tenant_id) WHERE ended_at IS NULL;

-- The agent holds the job only until its session is set up (its socket to
-- launcher-ws open, the command started); the session then lives in its
-- own process.  Never retried: a session is single use.
INSERT INTO job_kinds VALUES ('terminal.open', 30, 120, 1);

-- Whether a session still counts against the tenant's limit: not ended and
-- either still attachable, or attached and seen by launcher-ws within the
-- last 3 minutes (it refreshes seen_at every minute; a daemon that died
-- without recording the end does not hold the slot for ever).
CREATE FUNCTION terminal_open_now(s terminal_sessions) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT s.ended_at IS NULL AND CASE WHEN s.attached_at IS NULL THEN s.expires_at > now()
		ELSE coalesce(s.seen_at, s.attached_at) > now() - interval '3 minutes' END
$$;

-- POST /<target>s/:id/terminal: the session row and its terminal.open job
-- on the target's server.  p_target 'application' (p_instance: an
-- instance's id, name or container id prefix; NULL = the first running),
-- 'database' (p_command: the image table's client argv, p_password_env its
-- password variable) or 'server'.  At most p_max sessions of the tenant
-- open or pending (0 = no limit), counted under a per-tenant advisory lock:
-- beyond it LN429.  Returns the session's id and expires_at.
CREATE FUNCTION api_terminal_open(p_target text, p_id uuid, p_instance text, p_command jsonb,
	p_password_env text, p_user uuid, p_key uuid, p_ttl integer, p_max integer)
RETURNS TABLE ("sessionId" uuid, expires_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE s terminal_sessions; n integer;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('terminal_sessions'), hashtext(current_tenant()::text));
	IF p_max > 0 THEN
		SELECT count(*) INTO n FROM terminal_sessions t WHERE t.ended_at IS NULL AND terminal_open_now(t);
		IF n >= p_max THEN
			RAISE EXCEPTION 'this tenant has % terminal sessions open or waiting to be attached '
				'(terminal_sessions_max = %); close one or retry once an unused one expires', n, p_max
				USING ERRCODE = 'LN429';
		END IF;
	END IF;
	s.id := gen_random_uuid();
	s.target := p_target;
	s.command := p_command;
	s.created_by := p_user;
	s.created_key := p_key;
	s.expires_at := now() + make_interval(secs => p_ttl);
	IF p_target = 'application' THEN
		SELECT a.project_id, a.server_id, a.id INTO s.project_id, s.server_id, s.application_id
		  FROM applications a WHERE a.id = p_id;
		IF s.server_id IS NULL THEN
			RAISE EXCEPTION 'the application is not placed on a server' USING ERRCODE = 'LN409';
		END IF;
		SELECT i.container_id, i.name INTO s.container_id, s.instance_name FROM instances i
		 WHERE i.application_id = p_id AND i.status = 'running'
		   AND (p_instance IS NULL OR i.id::text = p_instance OR i.name = p_instance
		        OR (length(p_instance) >= 12 AND i.container_id LIKE p_instance || '%'))
		 ORDER BY i.created_at, i.id LIMIT 1;
		IF s.container_id IS NULL AND p_instance IS NOT NULL THEN
			RAISE EXCEPTION 'no running instance of this application is named so'
				USING ERRCODE = 'LN400', COLUMN = 'instance';
		ELSIF s.container_id IS NULL THEN
			RAISE EXCEPTION 'the application has no running instance' USING ERRCODE = 'LN409';
		END IF;
	ELSIF p_target = 'database' THEN
		SELECT d.project_id, d.server_id, d.id, d.container_id
		  INTO s.project_id, s.server_id, s.database_id, s.container_id
		  FROM databases d WHERE d.id = p_id AND d.status = 'running';
		IF s.database_id IS NULL OR s.container_id IS NULL THEN
			RAISE EXCEPTION 'the database is not running' USING ERRCODE = 'LN409';
		END IF;
		s.password_env := p_password_env;
	ELSE
		SELECT v.id INTO s.server_id FROM servers v WHERE v.id = p_id;
		IF s.server_id IS NULL THEN
			RAISE EXCEPTION 'server not found' USING ERRCODE = 'P0002';
		END IF;
	END IF;
	INSERT INTO terminal_sessions (id, project_id, server_id, database_id, application_id, target,
		container_id, instance_name, password_env, command, created_by, created_key, expires_at)
	VALUES (s.id, s.project_id, s.server_id, s.database_id, s.application_id, s.target,
		s.container_id, s.instance_name, s.password_env, s.command, s.created_by, s.created_key,
		s.expires_at);
	PERFORM job_enqueue(current_tenant(), s.server_id, s.project_id, 'terminal.open',
		jsonb_build_object('session_id', s.id), p_user);
	RETURN QUERY SELECT s.id, s.expires_at;
END $$;

-- What the claim of a terminal.open job hands the agent (the stored
-- payload names the session only): the session, what to run and where.
-- Only for the session's own server, only before it ended.  The database's
-- password is added by the claim itself (sealed, opened by the pool).
CREATE FUNCTION terminal_job_payload(p_session uuid, p_server uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('session_id', s.id, 'target', s.target,
		'container_id', s.container_id, 'command', s.command, 'database_id', s.database_id,
		'password_env', s.password_env, 'expires_at', s.expires_at)
	  FROM terminal_sessions s
	 WHERE s.id = p_session AND s.server_id = p_server AND s.ended_at IS NULL
$$;

-- launcher-ws cannot set a session's tenant (sql/015: only the pool's
-- preamble can), so its functions below are SECURITY DEFINER, each
-- filtered by the tenant the URL names (as ws_agent_server), and write
-- tenant_id themselves.

-- The client's side, before its authentication: the session's target
-- (what the token must be allowed on), its creator, and whether it can
-- still be attached ('ok', 'expired', 'used').  No row: no such session in
-- the tenant that p_tenant (slug or id) names.
CREATE FUNCTION ws_terminal_session(p_tenant text, p_session uuid)
RETURNS TABLE (tenant_id uuid, target text, target_id uuid, created_by uuid, state text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT s.tenant_id, s.target, coalesce(s.application_id, s.database_id, s.server_id),
		s.created_by,
		CASE WHEN s.attached_at IS NOT NULL OR s.ended_at IS NOT NULL THEN 'used'
		     WHEN s.expires_at <= now() THEN 'expired' ELSE 'ok' END
	  FROM tenants t JOIN terminal_sessions s ON s.tenant_id = t.id
	 WHERE (t.id = CASE WHEN p_tenant ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	                    THEN p_tenant::uuid END OR t.slug = p_tenant)
	   AND s.id = p_session
$$;

-- Attaches the client once (after its token was checked), atomically:
-- true when this call attached it, false when it was used or expired
-- meanwhile.  Audited as terminal.attach (who, which session, from where).
CREATE FUNCTION ws_terminal_attach(p_tenant uuid, p_session uuid, p_actor_type text,
	p_actor uuid, p_user uuid, p_ip text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE s terminal_sessions;
BEGIN
	UPDATE terminal_sessions t SET attached_at = now(), seen_at = now(),
		started_at = CASE WHEN t.agent_attached_at IS NOT NULL THEN now() END
	 WHERE t.tenant_id = p_tenant AND t.id = p_session AND t.attached_at IS NULL
	   AND t.ended_at IS NULL AND t.expires_at > now()
	RETURNING * INTO s;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO audit_log (tenant_id, actor_type, actor_id, user_id, action, resource_type,
		resource_id, project_id, request_id, ip)
	VALUES (p_tenant, p_actor_type, p_actor, p_user, 'terminal.attach', 'terminal_session', s.id,
		s.project_id, 'launcher-ws', p_ip);
	RETURN true;
END $$;

-- The agent's side, once the agent channel's own check found the server
-- of its token (ws_agent_server): only the session's server's agent
-- attaches, once, before the session ended and, while no client has
-- attached, before it expired.  True when this call attached it.
CREATE FUNCTION ws_terminal_agent(p_tenant uuid, p_session uuid, p_server uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	UPDATE terminal_sessions t SET agent_attached_at = now(),
		started_at = CASE WHEN t.attached_at IS NOT NULL THEN now() END
	 WHERE t.tenant_id = p_tenant AND t.id = p_session AND t.server_id = p_server
	   AND t.agent_attached_at IS NULL AND t.ended_at IS NULL
	   AND (t.attached_at IS NOT NULL OR t.expires_at > now());
	RETURN FOUND;
END $$;

-- The session is still open (launcher-ws, every minute).
CREATE FUNCTION ws_terminal_seen(p_tenant uuid, p_session uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	UPDATE terminal_sessions SET seen_at = now()
	 WHERE tenant_id = p_tenant AND id = p_session AND ended_at IS NULL
$$;

-- The session ended (either side closed, or the command exited with
-- p_exit; NULL when unknown).  Once; audited as terminal.end in the name
-- of whoever attached it (the creator when nobody did).
CREATE FUNCTION ws_terminal_end(p_tenant uuid, p_session uuid, p_exit integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE s terminal_sessions; a audit_log;
BEGIN
	UPDATE terminal_sessions t SET ended_at = now(), exit_code = p_exit,
		started_at = coalesce(t.started_at, CASE WHEN t.attached_at IS NOT NULL
			AND t.agent_attached_at IS NOT NULL THEN greatest(t.attached_at, t.agent_attached_at) END)
	 WHERE t.tenant_id = p_tenant AND t.id = p_session AND t.ended_at IS NULL
	RETURNING * INTO s;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT * INTO a FROM audit_log l WHERE l.tenant_id = p_tenant AND l.resource_id = s.id
	   AND l.action = 'terminal.attach' LIMIT 1;
	IF a.id IS NULL AND s.created_by IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO audit_log (tenant_id, actor_type, actor_id, user_id, action, resource_type,
		resource_id, project_id, request_id, ip)
	VALUES (p_tenant,
		coalesce(a.actor_type, CASE WHEN s.created_key IS NULL THEN 'user' ELSE 'service_key' END),
		coalesce(a.actor_id, s.created_key, s.created_by), coalesce(a.user_id, s.created_by),
		'terminal.end', 'terminal_session', s.id, s.project_id, 'launcher-ws', a.ip);
END $$;

REVOKE ALL ON FUNCTION ws_terminal_session(text, uuid),
	ws_terminal_attach(uuid, uuid, text, uuid, uuid, text), ws_terminal_agent(uuid, uuid, uuid),
	ws_terminal_seen(uuid, uuid), ws_terminal_end(uuid, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION terminal_open_now(terminal_sessions),
	api_terminal_open(text, uuid, text, jsonb, text, uuid, uuid, integer, integer),
	terminal_job_payload(uuid, uuid), ws_terminal_session(text, uuid),
	ws_terminal_attach(uuid, uuid, text, uuid, uuid, text),
	ws_terminal_agent(uuid, uuid, uuid), ws_terminal_seen(uuid, uuid),
	ws_terminal_end(uuid, uuid, integer) TO launcher_api;
