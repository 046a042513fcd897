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

-- Every tenant-owned table, in every migration, goes through this one
-- function: row-level security keyed on current_tenant() (USING and WITH
-- CHECK) and DML for the API role.  Not granted to the API role.
CREATE FUNCTION tenant_owned(VARIADIC p_tables text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY p_tables LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO launcher_api', t);
	END LOOP;
END $$;
REVOKE ALL ON FUNCTION tenant_owned(text[]) FROM PUBLIC;

SELECT tenant_owned('users', 'sessions', 'service_keys', 'login_codes');

CREATE FUNCTION role_rank(r text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE r WHEN 'superadmin' THEN 3 WHEN 'admin' THEN 2 WHEN 'user' THEN 1 ELSE 0 END
$$;

GRANT EXECUTE ON FUNCTION current_tenant(), role_rank(text) TO launcher_api;
