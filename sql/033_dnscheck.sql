-- 033_dnscheck.sql - the rules of launcher-dnscheck beside the data: which
-- domains are due for a DNS check, what a check's findings do to a domain
-- (the status machine and its back-off), which hostnames need a
-- certificate (domain.cert jobs), and what a finished domain.cert job
-- records.  The binary only asks DNS and reports (fcgi/bin/launcher_dnscheck.c).
--
-- Back-off (README, Custom domains):
--   pending_verification, failing: next_check_at = now() + least(60 s *
--     2^(check_attempts - 1), 1 h) after the attempt-th failing check;
--     failing after 72 h since pending_since: failed (not checked again
--     until POST /domains/:id/verify).
--   verified/active, ok: again in 1 day; failing: status kept (the route
--     stays), check_error set, again in 1 hour.
--   certificates: a failed domain.cert job -> tls_next_attempt_at = now() +
--     least(5 min * 2^(tls_attempts - 1), 6 h).
-- All functions here cross tenants: SECURITY DEFINER, executable by the
-- maintenance role only (launcher_maint, like scheduler_tick).

SET search_path = launcher;

-- One ACME order may take minutes (the agent runs lego): a 10-minute lease,
-- half an hour to be picked up, one attempt (a failure is retried by the
-- back-off above, not behind it).
INSERT INTO job_kinds VALUES ('domain.cert', 600, 1800, 1);

-- Up to p_limit domains whose check is due, oldest first, with what their
-- routing is checked against: the server of their application (base_domain,
-- host).  A failed domain waits for verify; a domain without application
-- (a function's, #21) has no server: its routing check fails.
CREATE FUNCTION dnscheck_due(p_limit integer)
RETURNS TABLE (id uuid, hostname text, token text, status text, base_domain text,
	server_host text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT d.id, d.hostname, d.token, d.status, s.base_domain, s.host
	  FROM (SELECT * FROM domains
	         WHERE next_check_at <= now() AND status <> 'failed'
	         ORDER BY next_check_at LIMIT p_limit) d
	  LEFT JOIN applications a ON a.tenant_id = d.tenant_id AND a.id = d.application_id
	  LEFT JOIN servers s ON s.tenant_id = a.tenant_id AND s.id = a.server_id
	 ORDER BY d.next_check_at
$$;

-- Records one run's findings, p_results = [{"id", "hostname", "token",
-- "txt_ok", "routing_ok", "routing_type", "error"}]: a result applies only
-- if the domain still has the hostname and token that were checked (a PUT
-- in between starts over).  pending_verification -> verified when both
-- checks pass (032's trigger then queues the edge route).  Returns how many
-- domains became verified, stayed failing, were given up (failed), and how
-- many verified/active ones were flagged.
CREATE FUNCTION dnscheck_record(p_results jsonb, OUT verified integer, OUT failing integer,
	OUT given_up integer, OUT flagged integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE r jsonb; d domains; ok boolean;
BEGIN
	verified := 0; failing := 0; given_up := 0; flagged := 0;
	FOR r IN SELECT * FROM jsonb_array_elements(p_results) LOOP
		SELECT * INTO d FROM domains
		 WHERE domains.id = (r->>'id')::uuid AND domains.hostname = r->>'hostname'
		   AND domains.token = r->>'token' AND domains.status <> 'failed'
		   FOR UPDATE;
		CONTINUE WHEN NOT FOUND;
		ok := coalesce((r->>'txt_ok')::boolean, false) AND coalesce((r->>'routing_ok')::boolean, false);
		UPDATE domains SET
		       txt_ok = (r->>'txt_ok')::boolean, routing_ok = (r->>'routing_ok')::boolean,
		       routing_type = CASE WHEN (r->>'routing_ok')::boolean THEN r->>'routing_type' END,
		       last_checked_at = now(),
		       check_attempts = CASE WHEN ok AND d.status = 'pending_verification' THEN 0
		                        WHEN ok THEN d.check_attempts ELSE d.check_attempts + 1 END
		 WHERE domains.id = d.id;
		IF ok THEN
			-- An edge route's failure (032) stays visible until the route works.
			UPDATE domains SET
			       status = CASE WHEN d.status = 'pending_verification' THEN 'verified' ELSE d.status END,
			       verified_at = CASE WHEN d.status = 'pending_verification' THEN now() ELSE d.verified_at END,
			       check_error = CASE WHEN d.check_error LIKE 'edge route: %' THEN d.check_error END,
			       next_check_at = now() + interval '1 day'
			 WHERE domains.id = d.id;
			IF d.status = 'pending_verification' THEN
				verified := verified + 1;
			END IF;
		ELSIF d.status = 'pending_verification' AND now() - d.pending_since > interval '72 hours' THEN
			UPDATE domains SET status = 'failed', check_error = r->>'error'
			 WHERE domains.id = d.id;
			given_up := given_up + 1;
		ELSIF d.status = 'pending_verification' THEN
			UPDATE domains SET check_error = r->>'error',
			       next_check_at = now() + make_interval(secs =>
			           least(60 * power(2, least(d.check_attempts, 12)), 3600))
			 WHERE domains.id = d.id;
			failing := failing + 1;
		ELSE
			-- Verified or active: still routed, flagged, looked at hourly.
			UPDATE domains SET check_error = r->>'error', next_check_at = now() + interval '1 hour'
			 WHERE domains.id = d.id;
			flagged := flagged + 1;
		END IF;
	END LOOP;
END $$;

-- Queues the domain.cert jobs that are due (CONTRACT: one per hostname,
-- on the server of its oldest active row), p_acme = {"directory_url",
-- "email", "ca_pem"?}: active domains whose tls_status is pending or failed
-- with tls_next_attempt_at reached, or issued and expiring within
-- p_renew_days (and past any back-off of a failed renewal), unless a
-- domain.cert job for the hostname is queued or running.  A wildcard
-- hostname needs the DNS-01 challenge, which is not offered: its rows get
-- tls_status failed with that reason, once.  A pending row of a host whose
-- sibling row (same server) has a certificate takes that one over.
-- Returns the jobs queued.
CREATE FUNCTION dnscheck_cert_queue(p_acme jsonb, p_renew_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE h record; n integer := 0;
BEGIN
	-- A new row of a host that has its certificate already (path_prefix
	-- sharing a host, on the same server) takes it over: no second order.
	UPDATE domains d SET tls_status = 'issued', tls_issuer = s.tls_issuer, tls_serial = s.tls_serial,
	       tls_not_before = s.tls_not_before, tls_expires_at = s.tls_expires_at, tls_error = NULL,
	       tls_attempts = 0, tls_next_attempt_at = NULL
	  FROM (SELECT DISTINCT ON (o.tenant_id, o.hostname, a.server_id) o.*, a.server_id
	          FROM domains o JOIN applications a ON a.tenant_id = o.tenant_id AND a.id = o.application_id
	         WHERE o.tls_status = 'issued'
	         ORDER BY o.tenant_id, o.hostname, a.server_id, o.tls_expires_at DESC) s,
	       applications a
	 WHERE d.status = 'active' AND d.tls_status = 'pending' AND d.tenant_id = s.tenant_id
	   AND d.hostname = s.hostname AND a.tenant_id = d.tenant_id AND a.id = d.application_id
	   AND a.server_id = s.server_id;
	UPDATE domains SET tls_status = 'failed', tls_next_attempt_at = NULL,
	       tls_error = 'a wildcard hostname needs the ACME DNS-01 challenge; only HTTP-01 is offered'
	 WHERE status = 'active' AND hostname LIKE '*.%' AND tls_status = 'pending';
	FOR h IN
		SELECT DISTINCT ON (d.tenant_id, d.hostname) d.tenant_id, d.hostname, d.project_id,
		       a.server_id, d.tls_status = 'issued' AS renew
		  FROM domains d
		  JOIN applications a ON a.tenant_id = d.tenant_id AND a.id = d.application_id
		 WHERE d.status = 'active' AND d.hostname NOT LIKE '*.%'
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

-- What a finished domain.cert job means for every row of its hostname (in
-- its tenant): the certificate's facts on success; on failure the reason,
-- and a later attempt (an issued certificate keeps serving meanwhile).
CREATE FUNCTION domain_cert_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE res jsonb := coalesce(NEW.result, '{}');
BEGIN
	IF NEW.status = 'succeeded' THEN
		UPDATE domains SET tls_status = 'issued', tls_issuer = res->>'issuer',
		       tls_serial = res->>'serial',
		       tls_not_before = (res->>'not_before')::timestamptz,
		       tls_expires_at = (res->>'expires_at')::timestamptz,
		       tls_error = NULL, tls_attempts = 0, tls_next_attempt_at = NULL
		 WHERE tenant_id = NEW.tenant_id AND hostname = NEW.payload->>'hostname';
	ELSE
		UPDATE domains SET
		       tls_status = CASE WHEN tls_status = 'issued' THEN 'issued' ELSE 'failed' END,
		       tls_error = coalesce(NEW.error, NEW.status),
		       tls_attempts = tls_attempts + 1,
		       tls_next_attempt_at = now() + least(interval '5 minutes' * power(2, least(tls_attempts, 12)),
		                                           interval '6 hours')
		 WHERE tenant_id = NEW.tenant_id AND hostname = NEW.payload->>'hostname';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_domain_cert_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind = 'domain.cert')
	EXECUTE FUNCTION domain_cert_finished();

REVOKE ALL ON FUNCTION dnscheck_due(integer), dnscheck_record(jsonb),
	dnscheck_cert_queue(jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dnscheck_due(integer), dnscheck_record(jsonb),
	dnscheck_cert_queue(jsonb, integer) TO launcher_maint;
