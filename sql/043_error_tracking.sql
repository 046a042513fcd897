-- 043_error_tracking.sql - error tracking (API.md §17): the DSNs Sentry
-- SDKs report to, the raw ingest queue, and the issues and their
-- occurrences that launcher-issues groups the queue into.
--
--   - error_dsns: one DSN per project (application_id NULL) and one per
--     application, created by the AFTER INSERT triggers below and
--     back-filled here.  id is the numeric <dsn-id> Sentry SDKs require
--     (https://<public_key>@<host>/<tenant>/<dsn-id>); public_key is public
--     by Sentry's design (it rides in every browser page), it only says
--     which DSN an event is for.  The project's quota is the
--     rate_limit_per_minute of its project-level row and counts the events
--     of all the project's DSNs together (0: ingest off).  The pool counts
--     it in shared memory, never in a row (README "Error tracking: ingest").
--   - error_events_raw: the ingest queue.  The pool only INSERTs
--     (error_ingest below: DSN check and insert in one statement, NOTIFY
--     launcher_issues only when the queue was empty); launcher-issues takes rows
--     across tenants through SECURITY DEFINER functions (sql/044) as the
--     maintenance role and deletes what it grouped.  No privilege on the
--     table goes to launcher_maint: the functions are its only way in, as
--     for launcher-notify's deliveries (sql/040).
--   - issues / issue_events: written by launcher-issues (sql/044), read and
--     triaged through the API (status, assignee).

SET search_path = launcher;

-- A fresh public key: 32 lowercase hex digits, the 122 random bits of a
-- version-4 UUID (gen_random_uuid: the server's strong random source).
CREATE FUNCTION error_dsn_key() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT replace(gen_random_uuid()::text, '-', '')
$$;

CREATE TABLE error_dsns (
	id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id             uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id            uuid NOT NULL,
	application_id        uuid,
	public_key            text NOT NULL DEFAULT error_dsn_key()
	                      CHECK (public_key ~ '^[0-9a-f]{32}$'),
	rate_limit_per_minute integer NOT NULL DEFAULT 6000
	                      CHECK (rate_limit_per_minute BETWEEN 0 AND 1000000),
	created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT error_dsns_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT error_dsns_scope_key UNIQUE NULLS NOT DISTINCT (tenant_id, project_id, application_id),
	CONSTRAINT error_dsns_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT error_dsns_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX error_dsns_application ON error_dsns (application_id);
SELECT tenant_owned('error_dsns');

CREATE TABLE error_events_raw (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	application_id uuid,
	-- The DSN the event came through, a label (NULL: a crash the agent saw);
	-- the row goes with its project or application, whose DSN it was.
	dsn_id         bigint,
	source         text NOT NULL CHECK (source IN ('sdk', 'crash')),
	event_id       text NOT NULL CHECK (event_id ~ '^[0-9a-f]{32}$'),
	received_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	-- The event JSON as received (decompressed), at most 1 MB.
	payload        text NOT NULL CHECK (octet_length(payload) <= 1048576),
	-- [{filename, content_type, size, data_b64?}] (README "Error tracking: ingest").
	attachments    jsonb CHECK (attachments IS NULL OR jsonb_typeof(attachments) = 'array'),
	CONSTRAINT error_events_raw_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT error_events_raw_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX error_events_raw_project ON error_events_raw (tenant_id, project_id);
CREATE INDEX error_events_raw_application ON error_events_raw (application_id);
SELECT tenant_owned('error_events_raw');
-- A queue row lives for less than a second: its payload is stored as it
-- came, never compressed (pglz cost more CPU than the whole insert).
ALTER TABLE error_events_raw ALTER payload SET STORAGE EXTERNAL;

CREATE TABLE issues (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	application_id uuid,
	-- Hex SHA-256 of the grouping components (launcher-issues).
	fingerprint    text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
	title          text NOT NULL,
	culprit        text NOT NULL DEFAULT '',
	level          text NOT NULL CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
	status         text NOT NULL DEFAULT 'unresolved'
	               CHECK (status IN ('unresolved', 'resolved', 'ignored')),
	first_seen     timestamptz NOT NULL,
	last_seen      timestamptz NOT NULL,
	event_count    bigint NOT NULL DEFAULT 0,
	assignee_id    uuid,
	resolved_at    timestamptz,
	row_version    bigint NOT NULL DEFAULT 1,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT issues_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT issues_fingerprint_key
		UNIQUE NULLS NOT DISTINCT (tenant_id, project_id, application_id, fingerprint),
	CONSTRAINT issues_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT issues_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT issues_assignee_id_fkey FOREIGN KEY (tenant_id, assignee_id)
		REFERENCES users (tenant_id, id) ON DELETE SET NULL (assignee_id)
);
CREATE INDEX issues_list ON issues (tenant_id, last_seen, id);
CREATE INDEX issues_project ON issues (project_id, status, last_seen);
CREATE INDEX issues_application ON issues (application_id);
CREATE INDEX issues_assignee ON issues (assignee_id);
SELECT tenant_owned('issues');
CREATE TRIGGER issues_version BEFORE UPDATE ON issues
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TABLE issue_events (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	issue_id    uuid NOT NULL,
	project_id  uuid NOT NULL,
	event_id    text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	-- The event's own timestamp.
	occurred_at timestamptz NOT NULL,
	level       text NOT NULL CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
	message     text,
	release     text,
	environment text,
	-- {exception, tags, user, breadcrumbs, contexts, request, server_name,
	--  logger, platform, sdk, attachments}, normalised by launcher-issues.
	data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
	CONSTRAINT issue_events_tenant_id_id_key UNIQUE (tenant_id, id),
	-- An SDK's retry is not a second occurrence.
	CONSTRAINT issue_events_event_key UNIQUE (tenant_id, project_id, event_id),
	CONSTRAINT issue_events_issue_id_fkey FOREIGN KEY (tenant_id, issue_id)
		REFERENCES issues (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT issue_events_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX issue_events_issue ON issue_events (issue_id, received_at, id);
CREATE INDEX issue_events_project ON issue_events (project_id);
SELECT tenant_owned('issue_events');

-- What the API role may do (tenant_owned granted everything): read the
-- DSNs, issues and occurrences; queue events (error_ingest runs as its
-- caller and inserts; of the queue the role sees no content, only a row's
-- id, as an INSERT ... RETURNING id needs); triage issues (the columns
-- issue_update, sql/045, sets; the version trigger's own writes need no
-- grant) and delete them; change a DSN's quota and rotate its key.  What
-- launcher-issues counts (event_count, last_seen, title...) stays its own.
-- Rows of error_dsns come and go with their project or application (the
-- triggers below, the cascades).
REVOKE INSERT, UPDATE, DELETE ON error_dsns FROM launcher_api;
GRANT UPDATE (public_key, rate_limit_per_minute) ON error_dsns TO launcher_api;
REVOKE SELECT, UPDATE, DELETE ON error_events_raw FROM launcher_api;
GRANT SELECT (id) ON error_events_raw TO launcher_api;
REVOKE INSERT, UPDATE ON issues FROM launcher_api;
GRANT UPDATE (status, assignee_id, resolved_at) ON issues TO launcher_api;
REVOKE INSERT, UPDATE, DELETE ON issue_events FROM launcher_api;

-- ---------------------------------------------------------------- DSN rows
CREATE FUNCTION error_dsn_create() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
BEGIN
	IF TG_TABLE_NAME = 'projects' THEN
		INSERT INTO error_dsns (tenant_id, project_id) VALUES (NEW.tenant_id, NEW.id)
		ON CONFLICT DO NOTHING;
	ELSE
		INSERT INTO error_dsns (tenant_id, project_id, application_id)
		VALUES (NEW.tenant_id, NEW.project_id, NEW.id) ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION error_dsn_create() FROM PUBLIC;
CREATE TRIGGER projects_error_dsn AFTER INSERT ON projects
	FOR EACH ROW EXECUTE FUNCTION error_dsn_create();
CREATE TRIGGER applications_error_dsn AFTER INSERT ON applications
	FOR EACH ROW EXECUTE FUNCTION error_dsn_create();

INSERT INTO error_dsns (tenant_id, project_id)
SELECT p.tenant_id, p.id FROM projects p ON CONFLICT DO NOTHING;
INSERT INTO error_dsns (tenant_id, project_id, application_id)
SELECT a.tenant_id, a.project_id, a.id FROM applications a ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------- DSN URL
-- The DSN of a project (p_application NULL) or of one of its applications,
-- as the caller sees it (RLS; NULL if there is none):
-- <scheme>://<public_key>@<host[:port]>/<tenant slug>/<dsn id>, the scheme
-- and host those of the session's launcher.public_url (the pool's config,
-- set when it connects; without it https://localhost).  For SENTRY_DSN
-- (the env resolver) and GET /projects/:id/error-tracking.
CREATE FUNCTION error_dsn_url(p_project uuid, p_application uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(substring(nullif(current_setting('launcher.public_url', true), '')
	                          FROM '^([A-Za-z][A-Za-z0-9+.-]*)://'), 'https')
	       || '://' || d.public_key || '@'
	       || coalesce(substring(nullif(current_setting('launcher.public_url', true), '')
	                             FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)'), 'localhost')
	       || '/' || t.slug || '/' || d.id
	  FROM error_dsns d JOIN tenants t ON t.id = d.tenant_id
	 WHERE d.project_id = p_project
	   AND d.application_id IS NOT DISTINCT FROM p_application
$$;

-- ---------------------------------------------------------------- ingest
-- Whether the queue, all tenants together, held no event just before
-- p_id (the id error_ingest just took): no row among the 1,000 ids below
-- it, found by a short backward scan of the primary key (a queue that
-- holds only older rows also counts as idle: one wake too many, harmless).
-- A wake can still be missed when launcher-issues' last, empty take runs
-- between this check and this event's commit: the event then waits for
-- the next wake or launcher-issues' fallback interval (README "Error
-- tracking: ingest").
CREATE FUNCTION error_queue_idle(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT NOT EXISTS (SELECT 1 FROM error_events_raw r WHERE r.id < p_id AND r.id >= p_id - 1000)
$$;
REVOKE ALL ON FUNCTION error_queue_idle(bigint) FROM PUBLIC;

-- One event from a Sentry SDK, for the pool's ingest route: the DSN p_dsn
-- of the session's tenant (RLS: another tenant's is not found) checked
-- against p_key, then the event queued and launcher-issues woken if the
-- queue was empty (error_queue_idle).  The pool sends it in the tenant
-- preamble's round trip, as its own transaction (fcgi/api/error_tracking.c).
-- Answers
--   status 'ok' (queued; p_payload NULL: checked only, nothing queued, as
--   for an envelope of sessions alone), 'unknown' (no such DSN in this tenant: 404),
--   'key' (wrong key: 401), 'off' (the project's quota is 0: 429),
-- with the DSN's project and the project's per-minute quota, which the
-- pool's shared-memory counter enforces before it calls again.
CREATE FUNCTION error_ingest(p_dsn bigint, p_key text, p_event_id text, p_payload text,
	p_attachments jsonb)
RETURNS TABLE (status text, project_id uuid, rate_limit integer)
LANGUAGE plpgsql AS $$
DECLARE d error_dsns; lim integer; qid bigint;
BEGIN
	SELECT * INTO d FROM error_dsns x WHERE x.id = p_dsn;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'unknown'::text, NULL::uuid, NULL::integer;
		RETURN;
	END IF;
	IF d.public_key IS DISTINCT FROM p_key THEN
		RETURN QUERY SELECT 'key'::text, NULL::uuid, NULL::integer;
		RETURN;
	END IF;
	SELECT x.rate_limit_per_minute INTO lim FROM error_dsns x
	 WHERE x.tenant_id = d.tenant_id AND x.project_id = d.project_id AND x.application_id IS NULL;
	IF p_payload IS NULL THEN
		RETURN QUERY SELECT 'ok'::text, d.project_id, lim;
		RETURN;
	END IF;
	IF coalesce(lim, 0) = 0 THEN
		RETURN QUERY SELECT 'off'::text, d.project_id, 0;
		RETURN;
	END IF;
	-- The commit waits for the WAL flush like every other (an event answered
	-- 200 survives a crash of PostgreSQL); concurrent ingests share flushes
	-- (group commit), which a NOTIFY in every one would defeat: PostgreSQL
	-- serialises notifying commits, flush included.  So launcher-issues is
	-- woken only when the queue held nothing before this event: while it
	-- holds events, launcher-issues is draining it (it takes batches until
	-- one comes back empty) or was woken for them.
	INSERT INTO error_events_raw (tenant_id, project_id, application_id, dsn_id, source,
	                              event_id, payload, attachments)
	VALUES (d.tenant_id, d.project_id, d.application_id, d.id, 'sdk', p_event_id, p_payload,
	        p_attachments)
	RETURNING id INTO qid;
	IF error_queue_idle(qid) THEN
		PERFORM pg_notify('launcher_issues', '');
	END IF;
	RETURN QUERY SELECT 'ok'::text, d.project_id, lim;
END $$;

GRANT EXECUTE ON FUNCTION error_dsn_key(), error_dsn_url(uuid, uuid),
	error_ingest(bigint, text, text, text, jsonb), error_queue_idle(bigint) TO launcher_api;
