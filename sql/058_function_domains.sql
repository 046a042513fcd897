-- 058_function_domains.sql - custom domains of functions (API.md §10, issue
-- #21): a domain targets an application or a function with an http
-- trigger, and everything 032/033 do for an application's domain they now
-- do for a function's: the route jobs (edge.host on the function's
-- server, app_id = the function's id, which is its site's and upstream's
-- name on the agent: fcgi/agent/fn.c runs a function as an application of
-- that id), the DNS records, the checks and the certificates.
--
-- What changes (032/033 are never edited; each function below is CREATE OR
-- REPLACE'd here, and says why):
--   - domains.function_id: 032's placeholder CHECK (function_id IS NULL)
--     goes; a key (tenant_id, function_id) -> functions ON DELETE CASCADE,
--     as application_id's;
--   - domain_host_routes (032): the routes of a host on a server include
--     its functions' domains (https_redirect: always on for a function,
--     which has no such setting);
--   - domain_routes_changed (032): a row's server is its application's or
--     its function's, and a new function_id re-routes as a new
--     application_id does;
--   - domain_route_finished (032): a succeeded edge.host job activates the
--     function rows it routed too;
--   - domain_routing (032): a function's routing record is a CNAME to its
--     default hostname (fn_hostname) or the server's address, as an app's;
--   - api_domain_create / api_domain_update (032): function_id, checked by
--     domain_fn_check (a function of the project with an http trigger);
--   - dnscheck_due / dnscheck_cert_queue (033): a function's row has its
--     function's server;
--   - a trigger deletes a function's domains before the function row goes
--     (fn_domains_removed), as app_domains_removed does for applications,
--     so that their routes' removal is queued while the server is known;
--   - a function whose domains exist keeps its http trigger: removing it
--     is a 409 naming triggers (fn_domains_keep_http);
--   - search_doc_domain (046): a function's domain is found under its
--     function, and the domains_search trigger hears function_id too.
-- A function never changes server (PUT /functions has no server_id), so
-- nothing re-routes on an update of the function row; a redeploy rewrites
-- the function's site on the agent, which re-renders the host files that
-- route to it (fcgi/agent/edge.c).

SET search_path = launcher;

ALTER TABLE domains DROP CONSTRAINT domains_function_id_check,
	ADD CONSTRAINT domains_function_id_fkey FOREIGN KEY (tenant_id, function_id)
		REFERENCES functions (tenant_id, id) ON DELETE CASCADE;
CREATE INDEX domains_function ON domains (function_id);

-- 032's, with the functions' domains; "function" marks a function's route
-- (the agent serves it only through the function's site, never as a plain
-- proxy: fcgi/agent/edge.c).
CREATE OR REPLACE FUNCTION domain_host_routes(p_server uuid, p_hostname text)
RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
	SELECT jsonb_build_object('hostname', p_hostname, 'version', nextval('domain_route_seq'),
	       'routes', coalesce((SELECT jsonb_agg(jsonb_build_object('path_prefix', d.path_prefix,
	                  'app_id', coalesce(d.application_id, d.function_id),
	                  'function', d.function_id IS NOT NULL,
	                  'https_redirect', coalesce(a.https_redirect, true))
	                  ORDER BY length(d.path_prefix) DESC, d.path_prefix)
	             FROM domains d
	             LEFT JOIN applications a ON a.id = d.application_id
	             LEFT JOIN functions f ON f.id = d.function_id
	            WHERE d.hostname = p_hostname AND coalesce(a.server_id, f.server_id) = p_server
	              AND d.status IN ('verified', 'active')), '[]'))
$$;

-- The server a domain's target runs on (NULL: no target visible).
CREATE FUNCTION domain_target_server(p_app uuid, p_fn uuid)
RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT server_id FROM applications WHERE id = p_app),
	                (SELECT server_id FROM functions WHERE id = p_fn))
$$;

-- 032's, the target being an application or a function.
CREATE OR REPLACE FUNCTION domain_routes_changed() RETURNS trigger
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
	IF NOT was AND NOT now_routed THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' AND was AND now_routed AND
	   (OLD.hostname, OLD.path_prefix, OLD.application_id, OLD.function_id)
	   IS NOT DISTINCT FROM (NEW.hostname, NEW.path_prefix, NEW.application_id, NEW.function_id) THEN
		RETURN NULL;
	END IF;
	IF was THEN
		old_srv := domain_target_server(OLD.application_id, OLD.function_id);
	END IF;
	IF now_routed THEN
		new_srv := domain_target_server(NEW.application_id, NEW.function_id);
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

-- A function's domains go before it does (app_domains_removed's reason).
CREATE FUNCTION fn_domains_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM domains WHERE function_id = OLD.id;
	RETURN OLD;
END $$;
CREATE TRIGGER functions_domains_removed BEFORE DELETE ON functions
	FOR EACH ROW EXECUTE FUNCTION fn_domains_removed();

-- A function its domains route to keeps its http trigger (without it the
-- edge serves nothing of it): 409 naming triggers, nothing changed.
CREATE FUNCTION fn_domains_keep_http() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM domains WHERE function_id = NEW.id) THEN
		RAISE EXCEPTION 'custom domains route to this function: delete them before its http trigger'
			USING ERRCODE = 'LN409', COLUMN = 'triggers';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER functions_domains_keep_http BEFORE UPDATE OF triggers ON functions
	FOR EACH ROW WHEN (OLD.triggers @> '[{"type": "http"}]'
	                   AND NOT NEW.triggers @> '[{"type": "http"}]')
	EXECUTE FUNCTION fn_domains_keep_http();

-- 046's: a function's domain is found under its function.
CREATE OR REPLACE FUNCTION search_doc_domain(d domains) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(d.tenant_id, 'domain', d.id, d.project_id,
	                  coalesce(d.application_id, d.function_id), d.hostname,
	                  d.hostname || CASE d.path_prefix WHEN '/' THEN '' ELSE d.path_prefix END,
	                  replace(d.hostname, '.', ' '))
$$;
DROP TRIGGER domains_search ON domains;
CREATE TRIGGER domains_search AFTER INSERT OR DELETE OR UPDATE OF hostname, path_prefix,
	application_id, function_id ON domains FOR EACH ROW EXECUTE FUNCTION search_sync();

-- 032's, matching a route's app_id against a function's rows too.
CREATE OR REPLACE FUNCTION domain_route_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE host text := NEW.payload ->> 'hostname';
BEGIN
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
		  FROM jsonb_to_recordset(NEW.payload -> 'routes') AS x(path_prefix text, app_id text)
		 WHERE d.tenant_id = NEW.tenant_id AND d.hostname = host
		   AND d.path_prefix = x.path_prefix
		   AND coalesce(d.application_id, d.function_id)::text = x.app_id
		   AND domain_target_server(d.application_id, d.function_id) = NEW.server_id
		   AND d.status IN ('verified', 'active');
		IF FOUND THEN
			PERFORM pg_notify('launcher_dnscheck', host);
		END IF;
	ELSE
		UPDATE domains d SET check_error = 'edge route: ' || coalesce(NEW.error, NEW.status)
		  FROM jsonb_to_recordset(NEW.payload -> 'routes') AS x(path_prefix text, app_id text)
		 WHERE d.tenant_id = NEW.tenant_id AND d.hostname = host
		   AND d.path_prefix = x.path_prefix
		   AND coalesce(d.application_id, d.function_id)::text = x.app_id
		   AND d.status IN ('verified', 'active');
	END IF;
	RETURN NULL;
END $$;

-- 032's: a function's record points at its default hostname (or its
-- server's address), as an application's does.
CREATE OR REPLACE FUNCTION domain_routing(d domains)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('type', t.type, 'name', d.hostname, 'value', t.value,
	       'ok', d.routing_ok)
	  FROM (SELECT NULL) one LEFT JOIN LATERAL (
		SELECT CASE WHEN b <> '' THEN 'CNAME' WHEN h ~ '^[0-9]+(\.[0-9]+){3}$' THEN 'A'
		            WHEN strpos(h, ':') > 0 THEN 'AAAA' WHEN h <> '' THEN 'CNAME' END AS type,
		       CASE WHEN b <> '' THEN coalesce(g.hostname, b) WHEN h <> '' THEN h END AS value
		  FROM (SELECT a.server_id, a.hostname FROM applications a WHERE a.id = d.application_id
		        UNION ALL
		        SELECT f.server_id, fn_hostname(f) FROM functions f WHERE f.id = d.function_id) g
		  JOIN servers s ON s.id = g.server_id,
		       LATERAL (SELECT lower(rtrim(coalesce(s.base_domain, ''), '.')) AS b,
		                       lower(btrim(coalesce(s.host, ''), '[]')) AS h) x) t ON true
$$;

-- A function a domain may target: one of this project with an http
-- trigger (the edge serves nothing else of it).  Not visible at all: 404
-- (domains.c answers it before, for a function of a project the caller
-- cannot see, as for an application).
CREATE FUNCTION domain_fn_check(p_project uuid, p_fn uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE f functions;
BEGIN
	SELECT * INTO f FROM functions WHERE id = p_fn;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'function not found' USING ERRCODE = 'P0002';
	END IF;
	IF f.project_id <> p_project THEN
		RAISE EXCEPTION 'is not a function of this project'
			USING ERRCODE = 'LN400', COLUMN = 'function_id';
	END IF;
	IF NOT f.triggers @> '[{"type": "http"}]' THEN
		RAISE EXCEPTION 'the function has no http trigger: it serves no HTTP'
			USING ERRCODE = 'LN400', COLUMN = 'function_id';
	END IF;
END $$;

-- 032's, with function_id (the handler lets one of the two through).
CREATE OR REPLACE FUNCTION api_domain_create(p_project uuid, p_body jsonb, p_hostname text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE did uuid; app uuid := (p_body ->> 'application_id')::uuid;
	fn uuid := (p_body ->> 'function_id')::uuid;
BEGIN
	IF fn IS NOT NULL THEN
		PERFORM domain_fn_check(p_project, fn);
	ELSE
		PERFORM domain_app_check(p_project, app);
	END IF;
	INSERT INTO domains (project_id, application_id, function_id, hostname, path_prefix)
	VALUES (p_project, app, fn, p_hostname, coalesce(p_body ->> 'path_prefix', '/'))
	RETURNING id INTO did;
	RETURN did;
END $$;

-- 032's: a new application_id or function_id replaces the target (the
-- other id becomes NULL).
CREATE OR REPLACE FUNCTION api_domain_update(p_id uuid, p_body jsonb, p_hostname text,
	p_version bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE d domains; app uuid := (p_body ->> 'application_id')::uuid;
	fn uuid := (p_body ->> 'function_id')::uuid;
BEGIN
	SELECT * INTO d FROM domains WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR (p_version IS NOT NULL AND d.row_version <> p_version) THEN
		RETURN false;
	END IF;
	IF app IS NOT NULL THEN
		PERFORM domain_app_check(d.project_id, app);
	ELSIF fn IS NOT NULL THEN
		PERFORM domain_fn_check(d.project_id, fn);
	END IF;
	UPDATE domains SET application_id = CASE WHEN app IS NOT NULL THEN app
	                                    WHEN fn IS NOT NULL THEN NULL ELSE application_id END,
	       function_id = CASE WHEN fn IS NOT NULL THEN fn
	                     WHEN app IS NOT NULL THEN NULL ELSE function_id END,
	       hostname = coalesce(p_hostname, hostname),
	       path_prefix = coalesce(p_body ->> 'path_prefix', path_prefix)
	 WHERE id = p_id;
	RETURN true;
END $$;

-- 033's, a function's row checked against its function's server.
CREATE OR REPLACE FUNCTION dnscheck_due(p_limit integer)
RETURNS TABLE (id uuid, hostname text, token text, status text, base_domain text,
	server_host text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT d.id, d.hostname, d.token, d.status, s.base_domain, s.host
	  FROM (SELECT * FROM domains
	         WHERE next_check_at <= now() AND status <> 'failed'
	         ORDER BY next_check_at LIMIT p_limit) d
	  LEFT JOIN applications a ON a.tenant_id = d.tenant_id AND a.id = d.application_id
	  LEFT JOIN functions f ON f.tenant_id = d.tenant_id AND f.id = d.function_id
	  LEFT JOIN servers s ON s.tenant_id = d.tenant_id AND s.id = coalesce(a.server_id, f.server_id)
	 ORDER BY d.next_check_at
$$;

-- 033's, a function's row on its function's server.
CREATE OR REPLACE FUNCTION dnscheck_cert_queue(p_acme jsonb, p_renew_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE h record; n integer := 0;
BEGIN
	UPDATE domains d SET tls_status = 'issued', tls_issuer = s.tls_issuer, tls_serial = s.tls_serial,
	       tls_not_before = s.tls_not_before, tls_expires_at = s.tls_expires_at, tls_error = NULL,
	       tls_attempts = 0, tls_next_attempt_at = NULL
	  FROM (SELECT DISTINCT ON (o.tenant_id, o.hostname, o.srv) o.*
	          FROM (SELECT x.*, domain_target_server(x.application_id, x.function_id) AS srv
	                  FROM domains x WHERE x.tls_status = 'issued') o
	         ORDER BY o.tenant_id, o.hostname, o.srv, o.tls_expires_at DESC) s
	 WHERE d.status = 'active' AND d.tls_status = 'pending' AND d.tenant_id = s.tenant_id
	   AND d.hostname = s.hostname
	   AND domain_target_server(d.application_id, d.function_id) = s.srv;
	UPDATE domains SET tls_status = 'failed', tls_next_attempt_at = NULL,
	       tls_error = 'a wildcard hostname needs the ACME DNS-01 challenge; only HTTP-01 is offered'
	 WHERE status = 'active' AND hostname LIKE '*.%' AND tls_status = 'pending';
	FOR h IN
		SELECT DISTINCT ON (d.tenant_id, d.hostname) d.tenant_id, d.hostname, d.project_id,
		       domain_target_server(d.application_id, d.function_id) AS server_id,
		       d.tls_status = 'issued' AS renew
		  FROM domains d
		 WHERE d.status = 'active' AND d.hostname NOT LIKE '*.%'
		   AND domain_target_server(d.application_id, d.function_id) IS NOT NULL
		   AND ((d.tls_status IN ('pending', 'failed') AND d.tls_next_attempt_at <= now())
		        OR (d.tls_status = 'issued'
		            AND d.tls_expires_at <= now() + make_interval(days => p_renew_days)
		            AND (d.tls_next_attempt_at IS NULL OR d.tls_next_attempt_at <= now())))
		   AND NOT EXISTS (SELECT FROM jobs j
		                    WHERE j.tenant_id = d.tenant_id AND j.kind = 'domain.cert'
		                      AND j.status IN ('queued', 'running')
		                      AND j.payload->>'hostname' = d.hostname)
		 ORDER BY d.tenant_id, d.hostname, d.created_at
	LOOP
		PERFORM job_enqueue(h.tenant_id, h.server_id, h.project_id, 'domain.cert',
			jsonb_build_object('hostname', h.hostname, 'renew', h.renew, 'acme', p_acme), NULL);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

GRANT EXECUTE ON FUNCTION domain_target_server(uuid, uuid) TO launcher_api, launcher_maint;
GRANT EXECUTE ON FUNCTION domain_fn_check(uuid, uuid) TO launcher_api;
