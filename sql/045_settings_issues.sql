-- 045_settings_issues.sql - the tenant's general settings (GET/PUT
-- /settings/general) and what the Issues API (API.md §17) needs beyond
-- the tables of sql/043.
--
-- 1. tenant_settings: one row per tenant, written by the API (tenants
--    itself is read-only for launcher_api, sql/001).  No row, or a NULL
--    column, means the default: display_name the tenant's name,
--    default_base_domain none, jwt_lifetime_seconds the plane's
--    jwt_lifetime_seconds (launcher.conf).  The JWT lifetime governs every
--    token issued to the tenant's users (core/auth.c auth_issue reads it in
--    the statement that opens the session); bounds 5 minutes .. 30 days,
--    those of launcher.conf's (core/config.h JWT_LIFETIME_MIN/MAX).
-- 2. Issues (fcgi/api/issues.c): the triage write, issue_update (status,
--    assignee: a user of the tenant who may see the issue's project,
--    else 400 naming assignee_id), and the index of the list's keyset
--    order (created_at, id).
-- 3. SENTRY_DSN (README "Issues API"): a project's
--    auto_error_tracking_enabled changes what its applications' next
--    release gets, so turning it on or off makes them pending_deploy
--    (env_version, as a change of a variable does, sql/020); so does a new
--    key of an application's DSN while the project has it on.
-- 4. GET/PUT /projects/:id/error-tracking carry an ETag / honour If-Match:
--    error_dsns gets row_version (and the updated_at bump_row_version
--    stamps); the version shown is that of the project's own DSN row, which
--    every PUT updates (quota, keys).

-- ---------------------------------------------------------------- settings
CREATE TABLE tenant_settings (
	tenant_id            uuid PRIMARY KEY DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	display_name         text CHECK (length(display_name) BETWEEN 1 AND 100),
	-- Normalised by the API (core/hostname.c): ASCII, lower case, no trailing dot.
	default_base_domain  text CHECK (default_base_domain ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'
	                                 AND length(default_base_domain) <= 253),
	jwt_lifetime_seconds integer CHECK (jwt_lifetime_seconds BETWEEN 300 AND 2592000),
	row_version          bigint NOT NULL DEFAULT 1,
	updated_at           timestamptz NOT NULL DEFAULT now()
);
SELECT tenant_owned('tenant_settings');
CREATE TRIGGER tenant_settings_version BEFORE UPDATE ON tenant_settings
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

-- ---------------------------------------------------------------- issues
CREATE INDEX issues_created ON issues (tenant_id, created_at, id);

-- Triage of issue p_id: p_body holds the fields given, {status?,
-- assignee_id?} (checked by the API: status one of the three, assignee_id
-- a UUID or null).  The assignee must be an active user of the tenant who
-- may see the project: a tenant admin or superadmin, or a member of it.
-- resolved_at is set when the issue becomes resolved (kept while it stays
-- resolved) and cleared when it leaves that status.  Returns the id, or
-- NULL when no row matched (none, or p_version is not its row_version).
CREATE FUNCTION issue_update(p_id uuid, p_body jsonb, p_version bigint)
RETURNS uuid
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	i       issues;
	who     uuid;
	new_st  text;
BEGIN
	SELECT * INTO i FROM issues WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR (p_version IS NOT NULL AND i.row_version <> p_version) THEN
		RETURN NULL;
	END IF;
	IF p_body ? 'assignee_id' AND jsonb_typeof(p_body->'assignee_id') <> 'null' THEN
		who := (p_body->>'assignee_id')::uuid;
		PERFORM 1 FROM users u
		 WHERE u.id = who AND u.active
		   AND (role_rank(u.role) >= 2 OR EXISTS (SELECT 1 FROM project_members m
		                                           WHERE m.project_id = i.project_id
		                                             AND m.user_id = u.id));
		IF NOT FOUND THEN
			RAISE EXCEPTION 'not an active user of the tenant who can see this project'
				USING ERRCODE = 'LN400', COLUMN = 'assignee_id';
		END IF;
	END IF;
	new_st := coalesce(p_body->>'status', i.status);
	UPDATE issues SET
		status = new_st,
		assignee_id = CASE WHEN p_body ? 'assignee_id' THEN who ELSE i.assignee_id END,
		resolved_at = CASE WHEN new_st <> 'resolved' THEN NULL
		                   WHEN i.status = 'resolved' THEN i.resolved_at
		                   ELSE now() END
	 WHERE id = p_id
	   AND (status, assignee_id) IS DISTINCT FROM
	       (new_st, CASE WHEN p_body ? 'assignee_id' THEN who ELSE i.assignee_id END);
	RETURN p_id;
END $$;
REVOKE ALL ON FUNCTION issue_update(uuid, jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION issue_update(uuid, jsonb, bigint) TO launcher_api;

-- ---------------------------------------------------------------- SENTRY_DSN
CREATE FUNCTION project_error_tracking_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	UPDATE applications SET env_version = env_version + 1
	 WHERE id IN (SELECT id FROM applications WHERE project_id = NEW.id ORDER BY id FOR UPDATE);
	RETURN NULL;
END $$;
CREATE TRIGGER projects_error_tracking_touch
	AFTER UPDATE OF auto_error_tracking_enabled ON projects
	FOR EACH ROW WHEN (OLD.auto_error_tracking_enabled IS DISTINCT FROM NEW.auto_error_tracking_enabled)
	EXECUTE FUNCTION project_error_tracking_touch();

CREATE FUNCTION error_dsn_key_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	UPDATE applications a SET env_version = a.env_version + 1
	  FROM projects p
	 WHERE a.id = NEW.application_id AND p.id = a.project_id AND p.auto_error_tracking_enabled;
	RETURN NULL;
END $$;
CREATE TRIGGER error_dsns_key_touch AFTER UPDATE OF public_key ON error_dsns
	FOR EACH ROW WHEN (NEW.application_id IS NOT NULL AND OLD.public_key IS DISTINCT FROM NEW.public_key)
	EXECUTE FUNCTION error_dsn_key_touch();

-- ---------------------------------------------------------------- error-tracking ETag
ALTER TABLE error_dsns ADD COLUMN row_version bigint NOT NULL DEFAULT 1,
	ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE TRIGGER error_dsns_version BEFORE UPDATE ON error_dsns
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();
