-- 003_projects.sql - projects, environments, members, invites; the shared
-- machinery: row versions (ETag), idempotency keys, the audit log.

SET search_path = launcher;

-- Every resource with an ETag carries row_version, bumped on each update.
CREATE FUNCTION bump_row_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.row_version := OLD.row_version + 1;
	NEW.updated_at := now();
	RETURN NEW;
END $$;

CREATE TABLE projects (
	id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id                   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name                        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	display_name                text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
	description                 text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	color                       text CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
	icon_path                   text,
	single_server_mode          boolean NOT NULL DEFAULT false,
	default_server_id           uuid,
	auto_error_tracking_enabled boolean NOT NULL DEFAULT false,
	-- The owner's membership row is the truth (exactly one per project);
	-- this copy, kept by api_project_create/api_project_transfer, spares
	-- every project list a join.
	owner_id                    uuid REFERENCES users,
	row_version                 bigint NOT NULL DEFAULT 1,
	created_at                  timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at                  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, name)
);
CREATE INDEX projects_list ON projects (tenant_id, created_at, id);
CREATE TRIGGER projects_version BEFORE UPDATE ON projects
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TABLE environments (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
	name        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	is_default  boolean NOT NULL DEFAULT false,
	row_version bigint NOT NULL DEFAULT 1,
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, name)
);
CREATE UNIQUE INDEX environments_one_default ON environments (project_id) WHERE is_default;
CREATE INDEX environments_list ON environments (project_id, created_at, id);
CREATE TRIGGER environments_version BEFORE UPDATE ON environments
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TABLE project_members (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
	user_id     uuid NOT NULL REFERENCES users ON DELETE CASCADE,
	role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
	row_version bigint NOT NULL DEFAULT 1,
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, user_id)
);
-- Exactly one owner per project (at most one here; creation and transfer
-- keep at least one).
CREATE UNIQUE INDEX project_members_one_owner ON project_members (project_id) WHERE role = 'owner';
CREATE INDEX project_members_user ON project_members (user_id, project_id);
CREATE INDEX project_members_list ON project_members (project_id, created_at, id);
CREATE TRIGGER project_members_version BEFORE UPDATE ON project_members
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TABLE project_invites (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id  uuid NOT NULL REFERENCES projects ON DELETE CASCADE,
	email       text NOT NULL CHECK (email = lower(email)),
	role        text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
	token_hash  bytea NOT NULL UNIQUE,
	created_by  uuid REFERENCES users ON DELETE SET NULL,
	expires_at  timestamptz NOT NULL,
	accepted_at timestamptz,
	revoked_at  timestamptz,
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One pending invite per project and address: a re-invite replaces it.
CREATE UNIQUE INDEX project_invites_pending ON project_invites (project_id, email)
	WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX project_invites_list ON project_invites (project_id, created_at, id);

-- Idempotency-Key: the first 2xx answer of a POST, replayed for 24 hours.
CREATE TABLE idempotency_keys (
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	principal  uuid NOT NULL,	-- the user (JWT) or the service key
	key        text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
	request    bytea NOT NULL,	-- hash of method, path and body
	status     integer NOT NULL,
	response   text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- The audit log outlives what it names: no foreign keys to resources.
CREATE TABLE audit_log (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	actor_type    text NOT NULL CHECK (actor_type IN ('user', 'service_key')),
	actor_id      uuid NOT NULL,
	user_id       uuid,
	action        text NOT NULL,
	resource_type text NOT NULL,
	resource_id   uuid,
	project_id    uuid,
	request_id    text NOT NULL,
	ip            text,
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_list ON audit_log (tenant_id, created_at, id);
CREATE INDEX audit_log_project ON audit_log (project_id, created_at, id);

SELECT tenant_owned('projects', 'environments', 'project_members', 'project_invites', 'idempotency_keys', 'audit_log');
-- The audit log is append-only for the API.
REVOKE UPDATE, DELETE ON audit_log FROM launcher_api;

-- Service keys may now be bound to a project.
ALTER TABLE service_keys ADD FOREIGN KEY (project_id) REFERENCES projects ON DELETE CASCADE;

-- Creates a project with its owner and its two environments, atomically.
CREATE FUNCTION api_project_create(p_owner uuid, p_name text, p_display text, p_desc text,
	p_color text, p_single boolean, p_server uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE pid uuid;
BEGIN
	INSERT INTO projects (name, display_name, description, color, single_server_mode,
	                      default_server_id, owner_id)
	VALUES (p_name, coalesce(p_display, p_name), coalesce(p_desc, ''), p_color,
	        coalesce(p_single, false), p_server, p_owner)
	RETURNING id INTO pid;
	INSERT INTO project_members (project_id, user_id, role) VALUES (pid, p_owner, 'owner');
	INSERT INTO environments (project_id, name, is_default)
	VALUES (pid, 'production', true), (pid, 'staging', false);
	RETURN pid;
END $$;

-- Transfers ownership to an existing member; the old owner becomes admin.
CREATE FUNCTION api_project_transfer(p_project uuid, p_new_owner uuid)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM project_members WHERE project_id = p_project FOR UPDATE;
	IF NOT EXISTS (SELECT 1 FROM project_members m JOIN users u ON u.id = m.user_id AND u.active
	               WHERE m.project_id = p_project AND m.user_id = p_new_owner) THEN
		RAISE EXCEPTION 'the new owner must be an active member of the project' USING ERRCODE = 'LN400';
	END IF;
	UPDATE project_members SET role = 'admin' WHERE project_id = p_project AND role = 'owner'
	   AND user_id <> p_new_owner;
	UPDATE project_members SET role = 'owner' WHERE project_id = p_project AND user_id = p_new_owner;
	UPDATE projects SET owner_id = p_new_owner WHERE id = p_project;
END $$;

GRANT EXECUTE ON FUNCTION api_project_create(uuid, text, text, text, text, boolean, uuid),
	api_project_transfer(uuid, uuid) TO launcher_api;
