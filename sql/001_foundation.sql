-- 001_foundation.sql - tenants, users, sessions, service keys, login codes,
-- and the row-level-security scaffolding every later table follows.
--
-- Roles (created by the installer, not here): launcher_owner owns every
-- object and runs migrations; launcher_api is what the FastCGI pool logs in
-- as.  launcher_api owns nothing, so RLS policies always apply to it.

CREATE SCHEMA IF NOT EXISTS launcher;
SET search_path = launcher;
GRANT USAGE ON SCHEMA launcher TO launcher_api;

-- The tenant of the current request ('' or unset = none: no rows visible).
CREATE FUNCTION current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT nullif(pg_catalog.current_setting('launcher.tenant_id', true), '')::uuid
$$;

CREATE TABLE tenants (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	slug       text NOT NULL UNIQUE
	           CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
	                  AND slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
	name       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
-- Tenants are looked up by every request; the API may read, never write.
GRANT SELECT ON tenants TO launcher_api;

CREATE TABLE users (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id           uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	email               text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
	first_name          text NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
	last_name           text NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
	role                text NOT NULL CHECK (role IN ('superadmin', 'admin', 'user')),
	password_hash       text,
	must_reset_password boolean NOT NULL DEFAULT false,
	two_factor_enabled  boolean NOT NULL DEFAULT false,
	active              boolean NOT NULL DEFAULT true,
	first_user          boolean NOT NULL DEFAULT false,
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (tenant_id, email);
-- Registration is open to exactly one user per tenant: the database decides.
CREATE UNIQUE INDEX users_first ON users (tenant_id) WHERE first_user;
CREATE INDEX users_list ON users (tenant_id, created_at, id);

-- One row per issued JWT (jti); revocation = revoked_at.
CREATE TABLE sessions (
	jti        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	user_id    uuid NOT NULL REFERENCES users ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE service_keys (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id    uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	prefix       text NOT NULL,
	key_hash     bytea NOT NULL UNIQUE,
	scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'deploy', 'admin']),
	project_id   uuid,
	created_by   uuid NOT NULL REFERENCES users ON DELETE CASCADE,
	creator_role text NOT NULL CHECK (creator_role IN ('superadmin', 'admin', 'user')),
	expires_at   timestamptz,
	last_used_at timestamptz,
	revoked_at   timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_keys_list ON service_keys (tenant_id, created_at, id) WHERE revoked_at IS NULL;

-- E-mailed one-time login codes; only a keyed hash of the code is stored.
CREATE TABLE login_codes (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	email      text NOT NULL,
	code_hash  bytea NOT NULL,
	attempts   integer NOT NULL DEFAULT 0,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_codes_email ON login_codes (tenant_id, email, created_at DESC);

-- Row-level security on every tenant-owned table.
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['users', 'sessions', 'service_keys', 'login_codes'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO launcher_api', t);
	END LOOP;
END $$;

CREATE FUNCTION role_rank(r text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE r WHEN 'superadmin' THEN 3 WHEN 'admin' THEN 2 WHEN 'user' THEN 1 ELSE 0 END
$$;

-- Resolves the {tenant} of the URL (UUID or slug) and makes it the tenant of
-- this session for RLS.  Every tenant route calls it (directly or through
-- the auth functions below) before anything else, so a stale tenant of an
-- earlier request can never leak into this one.
CREATE FUNCTION api_tenant(p_ref text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE t uuid;
BEGIN
	IF p_ref ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
		SELECT id INTO t FROM tenants WHERE id = p_ref::uuid;
	ELSE
		SELECT id INTO t FROM tenants WHERE slug = p_ref;
	END IF;
	PERFORM pg_catalog.set_config('launcher.tenant_id', coalesce(t::text, ''), false);
	RETURN t;
END $$;

-- The user object as the API shows it (one definition, used everywhere).
CREATE VIEW user_v WITH (security_barrier, security_invoker) AS
	SELECT id, email, first_name, last_name, role, must_reset_password,
	       two_factor_enabled, active, created_at, updated_at, tenant_id AS _tenant_id
	FROM users;
GRANT SELECT ON user_v TO launcher_api;

-- Request preamble for a service key: tenant + key + its creator, one round
-- trip.  Always returns one row; _tenant_id NULL = unknown tenant, id NULL =
-- bad, revoked or expired key.  The effective role is capped by the
-- creator's role when the key was made.
CREATE FUNCTION api_auth_key(p_ref text, p_hash bytea)
RETURNS TABLE (_tenant_id uuid, _key_id uuid, _scopes text[], _key_project uuid,
	_role text, id uuid, email text, first_name text, last_name text, role text,
	must_reset_password boolean, two_factor_enabled boolean, active boolean,
	created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE t uuid;
BEGIN
	t := api_tenant(p_ref);
	RETURN QUERY
		SELECT t, k.id, k.scopes, k.project_id,
		       CASE WHEN role_rank(k.creator_role) < role_rank(u.role) THEN k.creator_role ELSE u.role END,
		       u.id, u.email, u.first_name, u.last_name, u.role, u.must_reset_password,
		       u.two_factor_enabled, u.active, u.created_at, u.updated_at
		FROM (SELECT 1) one
		LEFT JOIN (service_keys k JOIN users u ON u.id = k.created_by AND u.active)
		       ON t IS NOT NULL AND k.key_hash = p_hash AND k.revoked_at IS NULL
		      AND (k.expires_at IS NULL OR k.expires_at > now());
	-- last_used_at is advisory: written at most once a minute per key.
	UPDATE service_keys SET last_used_at = now()
	 WHERE t IS NOT NULL AND key_hash = p_hash AND revoked_at IS NULL
	   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
END $$;

-- Request preamble for a JWT whose signature the worker already checked:
-- the session must exist, belong to sub, be unrevoked and unexpired.
CREATE FUNCTION api_auth_jwt(p_ref text, p_jti uuid, p_sub uuid)
RETURNS TABLE (_tenant_id uuid, _role text, id uuid, email text, first_name text,
	last_name text, role text, must_reset_password boolean, two_factor_enabled boolean,
	active boolean, created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE t uuid;
BEGIN
	t := api_tenant(p_ref);
	RETURN QUERY
		SELECT t, u.role, u.id, u.email, u.first_name, u.last_name, u.role,
		       u.must_reset_password, u.two_factor_enabled, u.active, u.created_at, u.updated_at
		FROM (SELECT 1) one
		LEFT JOIN (sessions s JOIN users u ON u.id = s.user_id AND u.active)
		       ON t IS NOT NULL AND s.jti = p_jti AND s.user_id = p_sub
		      AND s.revoked_at IS NULL AND s.expires_at > now();
END $$;

GRANT EXECUTE ON FUNCTION current_tenant(), role_rank(text), api_tenant(text),
	api_auth_key(text, bytea), api_auth_jwt(text, uuid, uuid) TO launcher_api;
