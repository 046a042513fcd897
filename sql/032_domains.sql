-- 032_domains.sql - custom domains (API.md §10): a hostname (and path
-- prefix) that routes to an application once DNS proves the tenant owns
-- it, and the edge routes that follow.
--
-- The database keeps the rules:
--   - a hostname belongs to one tenant of the installation: the same name
--     in another tenant, whatever its prefix, is 409 (domain_hostname_claim,
--     SECURITY DEFINER because row-level security hides other tenants'
--     rows, serialised per name by an advisory lock); one tenant may route
--     several prefixes of one host (UNIQUE (hostname, path_prefix));
--   - no name under any server's base_domain (of any tenant: the plane's
--     own default hostnames live there), 400 naming hostname; the rest of
--     the hostname rules (syntax, IDNA, IP literals, the plane's own and
--     configured reserved names) are fcgi/core/hostname.c's;
--   - a new hostname (PUT) starts its verification again with a new token;
--     a new path_prefix or application keeps it and re-routes;
--   - the route set of a (server, hostname) changes -> an edge.host job
--     for that server's agent with the whole set (domain_host_routes): a
--     domain becomes verified, is deleted, changes prefix or application,
--     its application changes https_redirect or server, or is deleted;
--   - a succeeded edge.host job makes the rows it named `active` (and asks
--     for a certificate: tls_status pending); a failed one says why in
--     check_error and leaves them as they were.
-- The DNS checks (launcher-dnscheck) and certificates are sql/033's.

SET search_path = launcher;

-- ------------------------------------------------------------ applications
-- Redirect plain HTTP to HTTPS on the application's custom domains once a
-- certificate exists.  A user field: it bumps the ETag, as deploy_on_tags
-- does (027's trigger, widened here).
ALTER TABLE applications ADD COLUMN https_redirect boolean NOT NULL DEFAULT true;
DROP TRIGGER applications_version_tags ON applications;
CREATE TRIGGER applications_version_tags BEFORE UPDATE ON applications
	FOR EACH ROW WHEN ((NEW.deploy_on_tags, NEW.https_redirect)
	                   IS DISTINCT FROM (OLD.deploy_on_tags, OLD.https_redirect))
	EXECUTE FUNCTION bump_app_version_tags();

-- ------------------------------------------------------------ domains
CREATE TABLE domains (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id           uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id          uuid NOT NULL,
	application_id      uuid,
	-- Functions land with their own section; until then no row has one.
	function_id         uuid CONSTRAINT domains_function_id_check CHECK (function_id IS NULL),
	-- ASCII, lower case, Punycode, no trailing dot (fcgi/core/hostname.c).
	hostname            text NOT NULL CHECK (length(hostname) <= 253 AND hostname ~
	                    '^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	-- An nginx location prefix: nothing that could end or bend the directive.
	path_prefix         text NOT NULL DEFAULT '/' CHECK (length(path_prefix) <= 256
	                    AND path_prefix ~ '^/' AND strpos(path_prefix, '..') = 0
	                    AND path_prefix !~ '[[:space:][:cntrl:];{}#''"`\\?$]'),
	-- The verification value is 'lnchr-verify=' || token.
	token               text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
	                    CHECK (token ~ '^[0-9a-f]{32}$'),
	status              text NOT NULL DEFAULT 'pending_verification'
	                    CHECK (status IN ('pending_verification', 'verified', 'active', 'failed')),
	-- The last check's findings (NULL: never checked), sql/033.
	txt_ok              boolean,
	routing_ok          boolean,
	routing_type        text CHECK (routing_type IN ('CNAME', 'A', 'AAAA')),
	check_attempts      integer NOT NULL DEFAULT 0,
	pending_since       timestamptz NOT NULL DEFAULT now(),
	last_checked_at     timestamptz,
	next_check_at       timestamptz NOT NULL DEFAULT now(),
	check_error         text,
	verified_at         timestamptz,
	routed_at           timestamptz,	-- the edge.host job succeeded
	tls_status          text NOT NULL DEFAULT 'none'
	                    CHECK (tls_status IN ('none', 'pending', 'issued', 'failed')),
	tls_issuer          text,
	tls_serial          text,
	tls_not_before      timestamptz,
	tls_expires_at      timestamptz,
	tls_error           text,
	tls_attempts        integer NOT NULL DEFAULT 0,
	tls_next_attempt_at timestamptz,
	row_version         bigint NOT NULL DEFAULT 1,
	created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT domains_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT domains_hostname_path_prefix_key UNIQUE (hostname, path_prefix),
	CONSTRAINT domains_target CHECK (num_nonnulls(application_id, function_id) = 1),
	CONSTRAINT domains_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT domains_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX domains_list ON domains (tenant_id, created_at, id);
CREATE INDEX domains_project ON domains (project_id, created_at, id);
CREATE INDEX domains_application ON domains (application_id);
CREATE INDEX domains_next_check ON domains (next_check_at);
CREATE INDEX domains_tls_next ON domains (tls_next_attempt_at);

SELECT tenant_owned('domains');

-- Route versions: each edge.host payload carries a higher one, so that an
-- agent can skip a payload older than the site it has.
CREATE SEQUENCE domain_route_seq;
GRANT USAGE ON SEQUENCE domain_route_seq TO launcher_api, launcher_maint;

-- A hostname belongs to one tenant, and never to a name the plane's own
-- default hostnames live under.  Runs as the owner: it must see every
-- tenant's domains and servers.  The advisory lock makes a concurrent
-- claim of the same name wait for this transaction and then see its row.
CREATE FUNCTION domain_hostname_claim() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE bare text := regexp_replace(NEW.hostname, '^\*\.', '');
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext(NEW.hostname));
	IF EXISTS (SELECT 1 FROM domains WHERE hostname = NEW.hostname AND tenant_id <> NEW.tenant_id) THEN
		RAISE EXCEPTION 'is already in use on this installation'
			USING ERRCODE = 'LN409', COLUMN = 'hostname';
	END IF;
	IF EXISTS (SELECT 1 FROM domains WHERE hostname = NEW.hostname
	            AND path_prefix = NEW.path_prefix AND id <> NEW.id) THEN
		RAISE EXCEPTION 'already routes path_prefix % of this host', NEW.path_prefix
			USING ERRCODE = 'LN409', COLUMN = 'hostname';
	END IF;
	IF EXISTS (SELECT 1 FROM servers s, LATERAL (SELECT lower(rtrim(s.base_domain, '.')) AS b) x
	            WHERE x.b <> '' AND (bare = x.b OR right(bare, length(x.b) + 1) = '.' || x.b)) THEN
		RAISE EXCEPTION 'is reserved: it is a server''s base_domain or under it'
			USING ERRCODE = 'LN400', COLUMN = 'hostname';
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION domain_hostname_claim() FROM PUBLIC;
CREATE TRIGGER domains_claim BEFORE INSERT OR UPDATE OF hostname, path_prefix ON domains
	FOR EACH ROW EXECUTE FUNCTION domain_hostname_claim();

-- What users edit bumps the ETag; a new hostname starts over (new token,
-- no findings, no certificate); a new route of an active domain is
-- `verified` again until its edge.host job has applied it.
CREATE FUNCTION domain_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.application_id, NEW.function_id, NEW.hostname, NEW.path_prefix)
	   IS DISTINCT FROM (OLD.application_id, OLD.function_id, OLD.hostname, OLD.path_prefix) THEN
		NEW.row_version := OLD.row_version + 1;
		IF NEW.status = 'active' AND OLD.status = 'active' THEN
			NEW.status := 'verified';
		END IF;
	END IF;
	IF NEW.hostname <> OLD.hostname THEN
		NEW.token := replace(gen_random_uuid()::text, '-', '');
		NEW.status := 'pending_verification';
		NEW.pending_since := now();
		NEW.check_attempts := 0;
		NEW.next_check_at := now();
		NEW.last_checked_at := NULL;
		NEW.check_error := NULL;
		NEW.txt_ok := NULL;
		NEW.routing_ok := NULL;
		NEW.routing_type := NULL;
		NEW.verified_at := NULL;
		NEW.routed_at := NULL;
		NEW.tls_status := 'none';
		NEW.tls_issuer := NULL;
		NEW.tls_serial := NULL;
		NEW.tls_not_before := NULL;
		NEW.tls_expires_at := NULL;
		NEW.tls_error := NULL;
		NEW.tls_attempts := 0;
		NEW.tls_next_attempt_at := NULL;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER domains_version BEFORE UPDATE ON domains
	FOR EACH ROW EXECUTE FUNCTION domain_before_update();

-- ------------------------------------------------------------ edge routes
INSERT INTO job_kinds VALUES ('edge.host', 30, 3600, 5);

-- The routes of p_hostname on p_server: the verified and active domains
-- whose application runs there, longest prefix first (nginx picks the
-- longest ^~ prefix anyway; the order makes the file read that way).
-- routes [] = the host has no site on that server any more.
CREATE FUNCTION domain_host_routes(p_server uuid, p_hostname text)
RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
	SELECT jsonb_build_object('hostname', p_hostname, 'version', nextval('domain_route_seq'),
	       'routes', coalesce((SELECT jsonb_agg(jsonb_build_object('path_prefix', d.path_prefix,
	                  'app_id', d.application_id, 'https_redirect', a.https_redirect)
	                  ORDER BY length(d.path_prefix) DESC, d.path_prefix)
	             FROM domains d JOIN applications a ON a.id = d.application_id
	            WHERE d.hostname = p_hostname AND a.server_id = p_server
	              AND d.status IN ('verified', 'active')), '[]'))
$$;

-- Queues the route set of (p_server, p_hostname) for that server's agent.
-- A queued (unclaimed) job for the same host takes the new set instead of
-- a second job: one write per host however many rows changed.  p_project
-- NULL for changes made by a delete: the job must outlive the project.
CREATE FUNCTION domain_route_queue(p_tenant uuid, p_project uuid, p_server uuid, p_hostname text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE p jsonb;
BEGIN
	IF p_server IS NULL THEN
		RETURN;
	END IF;
	p := domain_host_routes(p_server, p_hostname);
	UPDATE jobs SET payload = p
	 WHERE server_id = p_server AND status = 'queued' AND kind = 'edge.host'
	   AND payload ->> 'hostname' = p_hostname;
	IF NOT FOUND THEN
		PERFORM job_enqueue(p_tenant, p_server, p_project, 'edge.host', p, NULL);
	END IF;
END $$;

-- A row's change of what is routed: the old (server, host) and the new one
-- get their sets again (once when they are the same).
CREATE FUNCTION domain_routes_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE was boolean := false; now_routed boolean := false; old_srv uuid; new_srv uuid;
	proj uuid;
BEGIN
	IF TG_OP <> 'INSERT' THEN
		was := OLD.status IN ('verified', 'active');
	END IF;
	IF TG_OP <> 'DELETE' THEN
		now_routed := NEW.status IN ('verified', 'active');
		proj := NEW.project_id;
	END IF;
	-- Most updates are a check's or a certificate's bookkeeping: nothing
	-- routed changes, and nothing is looked up.
	IF NOT was AND NOT now_routed THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' AND was AND now_routed AND
	   (OLD.hostname, OLD.path_prefix, OLD.application_id)
	   IS NOT DISTINCT FROM (NEW.hostname, NEW.path_prefix, NEW.application_id) THEN
		RETURN NULL;
	END IF;
	IF was THEN
		SELECT server_id INTO old_srv FROM applications WHERE id = OLD.application_id;
	END IF;
	IF now_routed THEN
		SELECT server_id INTO new_srv FROM applications WHERE id = NEW.application_id;
	END IF;
	IF was THEN
		PERFORM domain_route_queue(OLD.tenant_id, proj, old_srv, OLD.hostname);
	END IF;
	IF now_routed AND NOT (was AND old_srv IS NOT DISTINCT FROM new_srv
	                       AND OLD.hostname = NEW.hostname) THEN
		PERFORM domain_route_queue(NEW.tenant_id, proj, new_srv, NEW.hostname);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER domains_routes AFTER INSERT OR UPDATE OR DELETE ON domains
	FOR EACH ROW EXECUTE FUNCTION domain_routes_changed();

-- An application's domains go before it does, so that their routes are
-- queued while its server is still known (a cascade would run after the
-- row is gone).
CREATE FUNCTION app_domains_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM domains WHERE application_id = OLD.id;
	RETURN OLD;
END $$;
CREATE TRIGGER applications_domains_removed BEFORE DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION app_domains_removed();

-- https_redirect is part of each route; a new server moves the routes.
CREATE FUNCTION app_domains_rerouted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
	FOR h IN SELECT DISTINCT hostname FROM domains
	          WHERE application_id = NEW.id AND status IN ('verified', 'active') ORDER BY 1 LOOP
		PERFORM domain_route_queue(NEW.tenant_id, NEW.project_id, NEW.server_id, h);
		IF OLD.server_id <> NEW.server_id THEN
			PERFORM domain_route_queue(NEW.tenant_id, NEW.project_id, OLD.server_id, h);
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER applications_domains_rerouted AFTER UPDATE OF https_redirect, server_id ON applications
	FOR EACH ROW WHEN ((NEW.https_redirect, NEW.server_id) IS DISTINCT FROM
	                   (OLD.https_redirect, OLD.server_id))
	EXECUTE FUNCTION app_domains_rerouted();

-- A finished edge.host job: on success the rows it routed (those named by
-- its payload and still routed so) are active, and want a certificate; on
-- failure they say why and stay as they were.
CREATE FUNCTION domain_route_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE host text := NEW.payload ->> 'hostname';
BEGIN
	-- A stale payload (an older version than the edge's) changed nothing:
	-- the newer job's own result is what counts.
	IF jsonb_typeof(NEW.payload -> 'routes') <> 'array'
	   OR (NEW.status = 'succeeded' AND NEW.result ->> 'skipped' = 'true') THEN
		RETURN NULL;
	END IF;
	IF NEW.status = 'succeeded' THEN
		UPDATE domains d SET status = 'active', routed_at = now(),
		       check_error = CASE WHEN d.check_error LIKE 'edge route: %' THEN NULL
		                     ELSE d.check_error END,
		       tls_next_attempt_at = CASE WHEN d.tls_status = 'none' THEN now()
		                             ELSE d.tls_next_attempt_at END,
		       tls_status = CASE WHEN d.tls_status = 'none' THEN 'pending' ELSE d.tls_status END
		  FROM jsonb_to_recordset(NEW.payload -> 'routes') AS x(path_prefix text, app_id text),
		       applications a
		 WHERE d.tenant_id = NEW.tenant_id AND d.hostname = host
		   AND d.path_prefix = x.path_prefix AND d.application_id::text = x.app_id
		   AND a.id = d.application_id AND a.server_id = NEW.server_id
		   AND d.status IN ('verified', 'active');
		-- A routed host may now get its certificate: launcher-dnscheck
		-- --loop queues it at once instead of at its next tick.
		IF FOUND THEN
			PERFORM pg_notify('launcher_dnscheck', host);
		END IF;
	ELSE
		UPDATE domains d SET check_error = 'edge route: ' || coalesce(NEW.error, NEW.status)
		  FROM jsonb_to_recordset(NEW.payload -> 'routes') AS x(path_prefix text, app_id text)
		 WHERE d.tenant_id = NEW.tenant_id AND d.hostname = host
		   AND d.path_prefix = x.path_prefix AND d.application_id::text = x.app_id
		   AND d.status IN ('verified', 'active');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_edge_host_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind = 'edge.host')
	EXECUTE FUNCTION domain_route_finished();

-- ------------------------------------------------------------ API
-- The TXT record that proves ownership of a hostname: a wildcard *.x is
-- proven at x (launcher-dnscheck checks the same name).
CREATE FUNCTION domain_verify_name(p_hostname text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT '_lnchr-verify.' || regexp_replace(p_hostname, '^\*\.', '')
$$;

-- The record that routes traffic to d's application: a CNAME to its
-- default hostname when its server has a base_domain; else an A/AAAA to
-- the server's host when that is an IP address, a CNAME to it when it is
-- a name; type NULL when the server has neither.
CREATE FUNCTION domain_routing(d domains)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('type', t.type, 'name', d.hostname, 'value', t.value,
	       'ok', d.routing_ok)
	  FROM (SELECT NULL) one LEFT JOIN LATERAL (
		SELECT CASE WHEN b <> '' THEN 'CNAME' WHEN h ~ '^[0-9]+(\.[0-9]+){3}$' THEN 'A'
		            WHEN strpos(h, ':') > 0 THEN 'AAAA' WHEN h <> '' THEN 'CNAME' END AS type,
		       CASE WHEN b <> '' THEN coalesce(a.hostname, b) WHEN h <> '' THEN h END AS value
		  FROM applications a JOIN servers s ON s.id = a.server_id,
		       LATERAL (SELECT lower(rtrim(coalesce(s.base_domain, ''), '.')) AS b,
		                       lower(btrim(coalesce(s.host, ''), '[]')) AS h) x
		 WHERE a.id = d.application_id) t ON true
$$;

-- GET /domains/:id/dns-records: what to create, as records and as
-- zone-file lines ready to paste (names absolute, TTL 300: short while
-- the records are new).
CREATE FUNCTION domain_dns_records(d domains, OUT records jsonb, OUT zone text)
LANGUAGE plpgsql STABLE AS $$
DECLARE r jsonb := domain_routing(d);
BEGIN
	records := jsonb_build_array(jsonb_build_object('type', 'TXT',
		'name', domain_verify_name(d.hostname), 'value', 'lnchr-verify=' || d.token, 'ttl', 300));
	IF r ->> 'type' IS NOT NULL THEN
		records := records || jsonb_build_object('type', r ->> 'type', 'name', d.hostname,
			'value', r ->> 'value', 'ttl', 300);
	END IF;
	SELECT string_agg(format('%s. %s IN %s %s', x ->> 'name', x ->> 'ttl', x ->> 'type',
	       CASE x ->> 'type' WHEN 'TXT' THEN '"' || (x ->> 'value') || '"'
	                         WHEN 'CNAME' THEN (x ->> 'value') || '.' ELSE x ->> 'value' END),
	       E'\n' ORDER BY i) || E'\n'
	  INTO zone FROM jsonb_array_elements(records) WITH ORDINALITY AS t(x, i);
END $$;

-- POST /domains: p_body as the handler's field table validated it,
-- p_hostname normalised (fcgi/core/hostname.c).
CREATE FUNCTION domain_app_check(p_project uuid, p_app uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
	SELECT app_type INTO t FROM applications WHERE id = p_app AND project_id = p_project;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'is not an application of this project'
			USING ERRCODE = 'LN400', COLUMN = 'application_id';
	END IF;
	IF t = 'worker' THEN
		RAISE EXCEPTION 'a worker application serves no HTTP'
			USING ERRCODE = 'LN400', COLUMN = 'application_id';
	END IF;
END $$;

CREATE FUNCTION api_domain_create(p_project uuid, p_body jsonb, p_hostname text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE did uuid; app uuid := (p_body ->> 'application_id')::uuid;
BEGIN
	PERFORM domain_app_check(p_project, app);
	INSERT INTO domains (project_id, application_id, hostname, path_prefix)
	VALUES (p_project, app, p_hostname, coalesce(p_body ->> 'path_prefix', '/'))
	RETURNING id INTO did;
	RETURN did;
END $$;

-- PUT /domains/:id: the given fields (p_hostname normalised, NULL = not
-- given); false when the row is gone or p_version no longer matches.
CREATE FUNCTION api_domain_update(p_id uuid, p_body jsonb, p_hostname text, p_version bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE d domains; app uuid := (p_body ->> 'application_id')::uuid;
BEGIN
	SELECT * INTO d FROM domains WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR (p_version IS NOT NULL AND d.row_version <> p_version) THEN
		RETURN false;
	END IF;
	IF app IS NOT NULL THEN
		PERFORM domain_app_check(d.project_id, app);
	END IF;
	UPDATE domains SET application_id = coalesce(app, application_id),
	       hostname = coalesce(p_hostname, hostname),
	       path_prefix = coalesce(p_body ->> 'path_prefix', path_prefix)
	 WHERE id = p_id;
	RETURN true;
END $$;

-- POST /domains/:id/verify: due now, back-off from the start, and a failed
-- one pending again with a new 72 h window; launcher-dnscheck --loop hears
-- it at commit.
CREATE FUNCTION api_domain_verify(p_id uuid)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE domains SET check_attempts = 0, next_check_at = now(),
	       pending_since = CASE WHEN status = 'failed' THEN now() ELSE pending_since END,
	       status = CASE WHEN status = 'failed' THEN 'pending_verification' ELSE status END
	 WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM pg_notify('launcher_dnscheck', p_id::text);
	RETURN true;
END $$;

GRANT EXECUTE ON FUNCTION domain_host_routes(uuid, text) TO launcher_api, launcher_maint;
GRANT EXECUTE ON FUNCTION domain_route_queue(uuid, uuid, uuid, text), domain_routing(domains),
	domain_dns_records(domains), domain_app_check(uuid, uuid),
	api_domain_create(uuid, jsonb, text), api_domain_update(uuid, jsonb, text, bigint),
	api_domain_verify(uuid), domain_verify_name(text) TO launcher_api;
