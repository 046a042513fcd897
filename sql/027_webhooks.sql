-- 027_webhooks.sql - git push webhooks (API.md §21): the URL an
-- application's pushes go to, the key pushes and applications are matched
-- by, the de-duplication of deliveries, tag pushes as an application's
-- choice, the commit's author on its deployment, and the audit record of
-- a webhook (which has no user or key behind it).
--
-- POST /<tenant>/api/v1/webhooks/github|gitlab|bitbucket (fcgi/api/webhooks.c)
-- finds the candidate applications with webhook_candidates(), checks the
-- signature against each candidate's secret in the pool (the secrets are
-- sealed), records the delivery with webhook_delivery_new() and queues each
-- deploy with webhook_deploy(), which is api_deploy() plus the commit's
-- message and author.  README, "Push webhooks".

SET search_path = launcher;

-- The repository of a URL as pushes and applications are compared: host and
-- path, lower case, without scheme, user, port, trailing slashes or ".git".
--   https://GitHub.com/Acme/Web.git/  ->  github.com/acme/web
--   ssh://git@github.com:22/acme/web  ->  github.com/acme/web
--   git@github.com:acme/web.git       ->  github.com/acme/web   (scp-like)
-- The port goes because one repository is served on several (https 443,
-- ssh 22 or 2222 ...), and the case because hosting services ignore it in
-- owner and repository names.  Matching is only the choice of candidates:
-- a push deploys an application only when it is signed with that
-- application's own secret, so a broader match never deploys more.
-- NULL for anything else (a file path, an empty string).
CREATE FUNCTION webhook_repo_key(p_url text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT nullif(lower(regexp_replace(regexp_replace(
		CASE WHEN p_url ~* '^[a-z][a-z0-9+.-]*://[^/]+/'
		     THEN regexp_replace(p_url, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/@]*@)?(\[[^]]*\]|[^/:]+)(:[0-9]*)?/+', '\2/')
		     WHEN p_url ~ '^([^/@:]+@)?[^/:]+:[^/]'
		     THEN regexp_replace(p_url, '^([^/@:]+@)?([^/:]+):/*', '\2/')
		END,
		'/+$', ''), '\.git$', '')), '')
$$;

-- Which applications a push can be for: autodeploy git applications of the
-- session's tenant (row-level security) whose repository is one of p_keys
-- and whose branch is one of p_branches, or that deploy tags when the push
-- carries one.  The expression index below answers it.
ALTER TABLE applications ADD COLUMN deploy_on_tags boolean NOT NULL DEFAULT false;
CREATE INDEX applications_webhook ON applications (tenant_id, webhook_repo_key(repository_url))
	WHERE autodeploy AND source_type = 'git';
-- A change of deploy_on_tags is a change of what the user edits (the ETag);
-- bump_app_version (006) lists the other fields.
CREATE FUNCTION bump_app_version_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.row_version := OLD.row_version + 1;
	RETURN NEW;
END $$;
CREATE TRIGGER applications_version_tags BEFORE UPDATE ON applications
	FOR EACH ROW WHEN (NEW.deploy_on_tags IS DISTINCT FROM OLD.deploy_on_tags)
	EXECUTE FUNCTION bump_app_version_tags();

-- The URL of the old shape (/webhooks/git/<token>) is gone: an
-- application's webhook URL is its tenant's provider endpoint.
ALTER TABLE applications DROP COLUMN webhook_token;

-- The commit's author as the push names it ("Name <email>").
ALTER TABLE deployments ADD COLUMN commit_author text;

-- <public_url>/<tenant slug>/api/v1/webhooks/<provider>?app=<id> for a git
-- application (NULL otherwise; the API shows it while autodeploy is on,
-- and a hook registered on the repository is removed by it once autodeploy
-- is off).  Distinct per application:
-- GitHub refuses a second hook with the same URL on a repository, and two
-- applications of one repository each need their own hook and secret; the
-- receiver uses ?app= only to narrow its candidates.  The provider is the type of
-- the application's git provider if it has one, else guessed from the
-- repository's host (github.com, gitlab.com, bitbucket.org), else github
-- (the most common shape, which Gitea and Forgejo also send).  public_url is
-- the pool's config (the session setting launcher.public_url, set when the
-- pool connects); without it the URL is the tenant-relative path.
-- (git_providers comes with the Git providers section: PL/pgSQL resolves
-- the table only when an application names one.)
CREATE FUNCTION app_webhook_url(p_app uuid)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE a applications; slug text; prov text; host text;
BEGIN
	SELECT * INTO a FROM applications WHERE id = p_app;
	IF NOT FOUND OR a.source_type <> 'git' THEN
		RETURN NULL;
	END IF;
	IF a.git_provider_id IS NOT NULL THEN
		SELECT type INTO prov FROM git_providers WHERE id = a.git_provider_id;
	END IF;
	IF prov IS NULL THEN
		host := split_part(webhook_repo_key(a.repository_url), '/', 1);
		prov := CASE WHEN host = 'gitlab.com' THEN 'gitlab'
		             WHEN host = 'bitbucket.org' THEN 'bitbucket' ELSE 'github' END;
	END IF;
	SELECT t.slug INTO slug FROM tenants t WHERE t.id = a.tenant_id;
	RETURN rtrim(coalesce(current_setting('launcher.public_url', true), ''), '/')
	       || '/' || slug || '/api/v1/webhooks/' || prov || '?app=' || a.id;
END $$;

-- Deliveries already handled, by the provider's delivery id
-- (X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Request-UUID), kept 7 days.
-- Recorded only for a delivery whose signature verified: an unsigned
-- request cannot use up a delivery id that the provider will send.
CREATE TABLE webhook_deliveries (
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	provider    text NOT NULL CHECK (provider IN ('github', 'gitlab', 'bitbucket')),
	delivery    text NOT NULL CHECK (length(delivery) BETWEEN 1 AND 200),
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, provider, delivery)
);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (received_at);
SELECT tenant_owned('webhook_deliveries');

-- True when this delivery is new (or its record is older than 7 days and
-- the scheduler has not removed it yet); false for a repeat.  A concurrent
-- duplicate waits on the first one's row and then sees it.
CREATE FUNCTION webhook_delivery_new(p_provider text, p_delivery text)
RETURNS boolean
LANGUAGE sql AS $$
	WITH ins AS (
		INSERT INTO webhook_deliveries AS w (provider, delivery) VALUES (p_provider, p_delivery)
		ON CONFLICT (tenant_id, provider, delivery) DO UPDATE SET received_at = now()
		 WHERE w.received_at < now() - interval '7 days'
		RETURNING 1)
	SELECT EXISTS (SELECT FROM ins)
$$;

-- Retention, across tenants (launcher-scheduler, as the maintenance role).
CREATE FUNCTION webhook_deliveries_prune(p_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE n integer;
BEGIN
	DELETE FROM webhook_deliveries WHERE received_at < now() - make_interval(days => p_days);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION webhook_deliveries_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_deliveries_prune(integer) TO launcher_maint;

-- A push's deploy of one application: api_deploy() (trigger webhook, the
-- pushed commit; the same queue rules as POST /deploy) and the commit's
-- message and author on the deployment it created or found queued.
CREATE FUNCTION webhook_deploy(p_app uuid, p_commit text, p_branch text, p_message text,
	p_author text, p_env text, p_env_version integer,
	OUT deployment_id uuid, OUT created boolean)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT d.deployment_id, d.created INTO deployment_id, created
	  FROM api_deploy(p_app, 'webhook', p_commit, p_branch, NULL, NULL, NULL, p_env,
	                  p_env_version) d;
	UPDATE deployments SET commit_message = left(p_message, 4096),
	       commit_author = left(p_author, 512)
	 WHERE id = deployment_id AND commit_sha = p_commit;
END $$;

-- A webhook's audit record has no user or key behind it.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_type_check
	CHECK (actor_type IN ('user', 'service_key', 'webhook'));
ALTER TABLE audit_log ALTER COLUMN actor_id DROP NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_id_check
	CHECK ((actor_id IS NULL) = (actor_type = 'webhook'));

GRANT EXECUTE ON FUNCTION webhook_repo_key(text), app_webhook_url(uuid),
	webhook_delivery_new(text, text),
	webhook_deploy(uuid, text, text, text, text, text, integer) TO launcher_api;
