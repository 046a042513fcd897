-- 028_git_providers.sql - git providers (API.md §15): a tenant's accounts
-- on GitHub, GitLab or Bitbucket (or a self-hosted instance of one), whose
-- token clones private repositories, lists repositories and branches, and
-- registers the push webhook of autodeploy applications.
--
--   - the token is write-only and sealed (purpose 'git-provider-token',
--     listed in sealed_columns); it leaves the database only opened into
--     the claim answer of a job that needs it (fcgi/api/agent.c), as the
--     env values of a deploy do;
--   - applications.git_provider_id becomes a key (sql/016 kept it NULL
--     until this table existed); NO ACTION: a provider that applications
--     use cannot be deleted (api_git_provider_delete answers first with a
--     409 naming them; the key is the guarantee under concurrency);
--   - calls to the provider's API are jobs (git.test, git.repositories,
--     git.branches) on the server check_server() picks (sql/025), and
--     git.hook jobs on an application's own server register or remove its
--     push webhook (queued by the trigger below).

SET search_path = launcher;

CREATE TABLE git_providers (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id    uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	type         text NOT NULL CHECK (type IN ('github', 'gitlab', 'bitbucket')),
	-- A self-hosted instance's web root (NULL: github.com, gitlab.com,
	-- bitbucket.org); the agent derives the API root from it.
	base_url     text CHECK (base_url ~ '^https?://[^/@?#[:space:]]+(/[^?#[:space:]]*)?$'),
	username     text CHECK (length(username) BETWEEN 1 AND 255),
	token_sealed text NOT NULL,
	row_version  bigint NOT NULL DEFAULT 1,
	created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT git_providers_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT git_providers_tenant_id_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX git_providers_list ON git_providers (tenant_id, created_at, id);

SELECT tenant_owned('git_providers');

INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
VALUES ('git_providers', 'id', 'token_sealed', 'tenant_id', '''git-provider-token''');

CREATE FUNCTION bump_git_provider_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.type, NEW.base_url, NEW.username, NEW.token_sealed) IS DISTINCT FROM
	   (OLD.name, OLD.type, OLD.base_url, OLD.username, OLD.token_sealed) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER git_providers_version BEFORE UPDATE ON git_providers
	FOR EACH ROW EXECUTE FUNCTION bump_git_provider_version();

-- sql/016's placeholder goes: the id now names a row of this tenant.
UPDATE applications SET git_provider_id = NULL WHERE git_provider_id IS NOT NULL;
ALTER TABLE applications DROP CONSTRAINT applications_git_provider_id_check;
ALTER TABLE applications ADD CONSTRAINT applications_git_provider_id_fkey
	FOREIGN KEY (tenant_id, git_provider_id) REFERENCES git_providers (tenant_id, id);
CREATE INDEX applications_git_provider ON applications (git_provider_id);

-- The applications using a provider, for the 409 of its delete.
CREATE FUNCTION git_provider_used_by(p_provider uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT string_agg(a.name || ' (' || a.id || ')', ', ' ORDER BY a.name, a.id)
	  FROM applications a WHERE a.git_provider_id = p_provider
$$;

-- DELETE /git-providers/:id (db_delete): 404 (P0002) for no such row,
-- false when p_version no longer matches; 409 while applications use it,
-- naming them.  The row lock orders it after a concurrent write of an
-- application that names it.
CREATE FUNCTION api_git_provider_delete(p_provider uuid, p_version bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE g git_providers; users text;
BEGIN
	SELECT * INTO g FROM git_providers WHERE id = p_provider FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'git provider not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_version IS NOT NULL AND g.row_version <> p_version THEN
		RETURN false;
	END IF;
	users := git_provider_used_by(p_provider);
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'git provider % is used by the applications: %; '
			'set their git_provider_id to another provider or null first', g.name, users
			USING ERRCODE = 'LN409';
	END IF;
	DELETE FROM git_providers WHERE id = p_provider;
	RETURN true;
END $$;

-- A check job of a provider (git.test, git.repositories, git.branches) on
-- the server check_server() picks; the payload names the provider, never
-- its token (the claim adds it).  404 (P0002) for no such provider.
CREATE FUNCTION git_provider_job(p_provider uuid, p_server uuid, p_kind text, p_args jsonb,
	p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE g git_providers;
BEGIN
	SELECT * INTO g FROM git_providers WHERE id = p_provider;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'git provider not found' USING ERRCODE = 'P0002';
	END IF;
	RETURN job_enqueue(g.tenant_id, check_server(p_server), NULL, p_kind,
		coalesce(p_args, '{}') || jsonb_build_object('git_provider_id', g.id,
		    'type', g.type, 'base_url', g.base_url), p_user);
END $$;

INSERT INTO job_kinds VALUES
	('git.test',         30,  120, 1),
	('git.repositories', 30,  120, 1),
	('git.branches',     30,  300, 1),
	-- Registering a webhook is idempotent (found by its URL): retried.
	('git.hook',         30,  600, 3);

-- The push webhook URL of an application is app_webhook_url (sql/027):
-- a hook is registered and removed by exactly the URL the API shows.

-- Whether an application's push webhook belongs on its repository: git,
-- autodeploy, with a provider whose token can register it, and a secret
-- to sign it with (an application created with autodeploy gets its secret
-- by an UPDATE right after its INSERT: that UPDATE queues the one job).
CREATE FUNCTION app_wants_hook(a applications) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(a.source_type = 'git' AND a.autodeploy AND a.git_provider_id IS NOT NULL
	       AND a.repository_url IS NOT NULL AND a.webhook_secret_sealed IS NOT NULL, false)
$$;

-- git.hook {action: register|remove, app_id, git_provider_id, type,
-- base_url, repository_url, url}: register on insert or when the app
-- starts wanting it, or when what it is registered with changed (the
-- repository, the provider, the secret: the claim adds the secret);
-- remove when it stops wanting it, or from the old repository/provider.
-- A removal is not queued while another application of the tenant still
-- wants a hook on the same repository through the same provider (they
-- share the URL, hence the hook).  Jobs of no project: a removal outlives
-- the application.  Failing to register is the job's error, not the app's.
CREATE FUNCTION git_hook_queue(a applications, p_action text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE g git_providers;
BEGIN
	SELECT * INTO g FROM git_providers WHERE id = a.git_provider_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF p_action = 'remove' AND EXISTS (SELECT 1 FROM applications o
	    WHERE o.id <> a.id AND app_wants_hook(o) AND o.git_provider_id = a.git_provider_id
	      AND lower(o.repository_url) = lower(a.repository_url)) THEN
		RETURN;
	END IF;
	PERFORM job_enqueue(a.tenant_id, a.server_id, NULL, 'git.hook', jsonb_build_object(
		'action', p_action, 'app_id', a.id, 'git_provider_id', g.id, 'type', g.type,
		'base_url', g.base_url, 'repository_url', a.repository_url,
		'url', app_webhook_url(a.id)), NULL);
END $$;

CREATE FUNCTION app_git_hook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	was  boolean := TG_OP <> 'INSERT' AND app_wants_hook(OLD);
	want boolean := TG_OP <> 'DELETE' AND app_wants_hook(NEW);
	moved boolean := TG_OP = 'UPDATE' AND (OLD.repository_url, OLD.git_provider_id, OLD.server_id)
	                 IS DISTINCT FROM (NEW.repository_url, NEW.git_provider_id, NEW.server_id);
BEGIN
	IF was AND (NOT want OR moved) THEN
		PERFORM git_hook_queue(OLD, 'remove');
	END IF;
	IF want AND (NOT was OR moved OR
	    OLD.webhook_secret_sealed IS DISTINCT FROM NEW.webhook_secret_sealed) THEN
		PERFORM git_hook_queue(NEW, 'register');
	END IF;
	RETURN NULL;
END $$;
-- BEFORE DELETE: app_webhook_url reads the row, still there.
CREATE FUNCTION app_git_hook_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF app_wants_hook(OLD) THEN
		PERFORM git_hook_queue(OLD, 'remove');
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER applications_git_hook AFTER INSERT OR UPDATE OF source_type, autodeploy,
	git_provider_id, repository_url, server_id, webhook_secret_sealed ON applications
	FOR EACH ROW EXECUTE FUNCTION app_git_hook();
CREATE TRIGGER applications_git_hook_deleted BEFORE DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION app_git_hook_deleted();

-- What became of an application's latest webhook registration (or
-- removal): its git.hook job's status and error, shown on the application
-- as webhook_registration (NULL: never tried).  A failure stays there and
-- in the job; it never fails the application.
CREATE INDEX jobs_git_hook_app ON jobs ((payload ->> 'app_id'), created_at) WHERE kind = 'git.hook';
CREATE FUNCTION app_webhook_registration(p_app uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('action', j.payload ->> 'action', 'status', j.status,
	       'error', j.error, 'job_id', j.id, 'finished_at', json_time(j.finished_at)::jsonb)
	  FROM jobs j WHERE j.kind = 'git.hook' AND j.payload ->> 'app_id' = p_app::text
	 ORDER BY j.created_at DESC LIMIT 1
$$;

GRANT EXECUTE ON FUNCTION app_webhook_registration(uuid) TO launcher_api;
GRANT EXECUTE ON FUNCTION git_provider_used_by(uuid), api_git_provider_delete(uuid, bigint),
	git_provider_job(uuid, uuid, text, jsonb, uuid) TO launcher_api;
