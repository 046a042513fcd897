-- 040_alerts.sql - alerts (API.md §18): the tenant's channels and rules,
-- the routing of alert_events (sql/035) to an outbox of deliveries with
-- every attempt recorded, and the tenant's SMTP settings.
--
-- The database keeps the rules:
--   - a channel's secrets (slack/discord webhook_url, a webhook's secret
--     and headers) are one sealed JSON object, secret_sealed (purpose
--     "alert-channel:<id>", core/secret.h SECRET_ALERT_CHANNEL, listed in
--     sealed_columns); they leave the database only in the rows
--     launcher-notify takes (alert_delivery_take), never in an answer;
--   - routing (alert_route, AFTER INSERT on alert_events): one delivery per
--     channel of every enabled rule of the event's tenant whose event is the
--     event's and whose project is null or the event's; metric.threshold
--     and metric.resolved go to the rule named by payload->>'rule_id' only.
--     Cooldown: a rule that queued a delivery for the same resource (or
--     for no resource) within cooldown_seconds queues none; metric.resolved
--     is never held back.  Then NOTIFY launcher_notify;
--   - delivery (launcher-notify, the maintenance role, through the SECURITY
--     DEFINER functions at the end): a delivery is taken with FOR UPDATE
--     SKIP LOCKED and a lease, every attempt is a row of
--     alert_delivery_attempts, a failed attempt is retried after
--     base * 2^(n-1) seconds (at most an hour) until 24 h after the
--     delivery was queued, then the delivery is failed.

SET search_path = launcher;

CREATE TABLE alert_channels (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	type          text NOT NULL CHECK (type IN ('slack', 'discord', 'email', 'webhook')),
	-- What may be shown: email {"to": [...]}, webhook {"url"}; {} for slack/discord.
	config        jsonb NOT NULL DEFAULT '{}',
	-- slack/discord {"webhook_url"}, webhook {"secret"?, "headers"?}; NULL: none.
	secret_sealed text,
	row_version   bigint NOT NULL DEFAULT 1,
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT alert_channels_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT alert_channels_tenant_id_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX alert_channels_list ON alert_channels (tenant_id, created_at, id);
SELECT tenant_owned('alert_channels');

INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
VALUES ('alert_channels', 'id', 'secret_sealed', 'tenant_id', '''alert-channel:'' || id');

CREATE FUNCTION bump_alert_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF to_jsonb(NEW) - 'row_version' - 'updated_at' IS DISTINCT FROM
	   to_jsonb(OLD) - 'row_version' - 'updated_at' THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER alert_channels_version BEFORE UPDATE ON alert_channels
	FOR EACH ROW EXECUTE FUNCTION bump_alert_version();

CREATE TABLE alert_rules (
	id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id        uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id       uuid,
	name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	event            text NOT NULL CHECK (event ~ '^[a-z][a-z0-9_]*\.[a-z0-9_.]+$' AND length(event) <= 64),
	-- {metric, op, threshold, for_seconds, resource_id?}; the API checks
	-- its fields (fcgi/api/alerts.c), the evaluator is launcher-scheduler's.
	condition        jsonb,
	cooldown_seconds integer NOT NULL DEFAULT 300 CHECK (cooldown_seconds BETWEEN 0 AND 604800),
	enabled          boolean NOT NULL DEFAULT true,
	row_version      bigint NOT NULL DEFAULT 1,
	created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT alert_rules_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT alert_rules_condition_check CHECK ((event = 'metric.threshold') = (condition IS NOT NULL)
		AND (condition IS NULL OR jsonb_typeof(condition) = 'object')),
	CONSTRAINT alert_rules_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_rules_list ON alert_rules (tenant_id, created_at, id);
CREATE INDEX alert_rules_project ON alert_rules (project_id);
CREATE INDEX alert_rules_event ON alert_rules (tenant_id, event) WHERE enabled;
SELECT tenant_owned('alert_rules');
CREATE TRIGGER alert_rules_version BEFORE UPDATE ON alert_rules
	FOR EACH ROW EXECUTE FUNCTION bump_alert_version();

-- A threshold rule's condition.resource_id names a server (server.*
-- metrics) or an application (application.*, inside the rule's project when
-- it has one) of the rule's tenant, as the caller sees it (RLS: invoker's
-- rights); else 400 naming condition.resource_id.
CREATE FUNCTION alert_rule_resource_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE rid text := NEW.condition ->> 'resource_id'; metric text := NEW.condition ->> 'metric';
BEGIN
	IF rid IS NULL OR (TG_OP = 'UPDATE' AND NEW.condition IS NOT DISTINCT FROM OLD.condition
	                   AND NEW.project_id IS NOT DISTINCT FROM OLD.project_id) THEN
		RETURN NEW;
	END IF;
	IF metric LIKE 'server.%' THEN
		PERFORM 1 FROM servers v WHERE v.tenant_id = NEW.tenant_id AND v.id::text = rid;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'condition.resource_id: no such server %', rid USING ERRCODE = 'LN400',
				COLUMN = 'condition.resource_id';
		END IF;
	ELSIF metric LIKE 'application.%' THEN
		PERFORM 1 FROM applications a
		 WHERE a.tenant_id = NEW.tenant_id AND a.id::text = rid
		   AND (NEW.project_id IS NULL OR a.project_id = NEW.project_id);
		IF NOT FOUND THEN
			RAISE EXCEPTION 'condition.resource_id: no such application %', rid
				USING ERRCODE = 'LN400', COLUMN = 'condition.resource_id';
		END IF;
	ELSE
		RAISE EXCEPTION 'condition.resource_id: the metric names no resource kind'
			USING ERRCODE = 'LN400', COLUMN = 'condition.resource_id';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER alert_rules_resource BEFORE INSERT OR UPDATE ON alert_rules
	FOR EACH ROW EXECUTE FUNCTION alert_rule_resource_check();

CREATE TABLE alert_rule_channels (
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	rule_id    uuid NOT NULL,
	channel_id uuid NOT NULL,
	PRIMARY KEY (rule_id, channel_id),
	CONSTRAINT alert_rule_channels_rule_id_fkey FOREIGN KEY (tenant_id, rule_id)
		REFERENCES alert_rules (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT alert_rule_channels_channel_id_fkey FOREIGN KEY (tenant_id, channel_id)
		REFERENCES alert_channels (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_rule_channels_tenant ON alert_rule_channels (tenant_id, rule_id);
CREATE INDEX alert_rule_channels_channel ON alert_rule_channels (tenant_id, channel_id);
SELECT tenant_owned('alert_rule_channels');

ALTER TABLE alert_events ADD CONSTRAINT alert_events_tenant_id_id_key UNIQUE (tenant_id, id);

-- The outbox.  A test delivery (POST /alerts/channels/:id/test) has no
-- event and no rule (event 'alert.test').  Deliveries go with their channel.
CREATE TABLE alert_deliveries (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id       uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	channel_id      uuid NOT NULL,
	rule_id         uuid,
	event_id        uuid,
	event           text NOT NULL,
	-- The event's, copied: the history outlives what they name.
	resource_type   text,
	resource_id     uuid,
	project_id      uuid,
	message         text NOT NULL,
	payload         jsonb NOT NULL DEFAULT '{}',
	status          text NOT NULL DEFAULT 'pending'
	                CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	lease_until     timestamptz,
	-- The holder of a 'sending' lease: alert_delivery_take hands it out,
	-- only its holder records an attempt or hands the delivery back.
	lease_token     uuid,
	last_status_code integer,
	last_error      text,
	delivered_at    timestamptz,
	created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT alert_deliveries_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT alert_deliveries_channel_id_fkey FOREIGN KEY (tenant_id, channel_id)
		REFERENCES alert_channels (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT alert_deliveries_rule_id_fkey FOREIGN KEY (tenant_id, rule_id)
		REFERENCES alert_rules (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT alert_deliveries_event_id_fkey FOREIGN KEY (tenant_id, event_id)
		REFERENCES alert_events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_deliveries_list ON alert_deliveries (tenant_id, created_at, id);
CREATE INDEX alert_deliveries_channel ON alert_deliveries (tenant_id, channel_id);
CREATE INDEX alert_deliveries_rule ON alert_deliveries (tenant_id, rule_id, resource_id, created_at);
CREATE INDEX alert_deliveries_event ON alert_deliveries (tenant_id, event_id);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
	WHERE status IN ('pending', 'sending');
SELECT tenant_owned('alert_deliveries');

CREATE TABLE alert_delivery_attempts (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
	delivery_id uuid NOT NULL,
	attempt     integer NOT NULL,
	started_at  timestamptz NOT NULL,
	duration_ms integer NOT NULL,
	status_code integer,
	error       text,
	CONSTRAINT alert_delivery_attempts_delivery_id_fkey FOREIGN KEY (tenant_id, delivery_id)
		REFERENCES alert_deliveries (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_delivery_attempts_delivery ON alert_delivery_attempts (tenant_id, delivery_id, attempt);
SELECT tenant_owned('alert_delivery_attempts');

-- The tenant's SMTP server for e-mail channels (GET/PUT /settings/smtp);
-- none: the plane's smtp_url (launcher.conf).  The password is write-only.
CREATE TABLE tenant_smtp (
	tenant_id       uuid PRIMARY KEY DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	host            text NOT NULL CHECK (host ~ '^[A-Za-z0-9.:\[\]-]+$' AND length(host) <= 253),
	port            integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls_mode        text NOT NULL CHECK (tls_mode IN ('none', 'starttls', 'tls')),
	username        text CHECK (length(username) BETWEEN 1 AND 255),
	password_sealed text,
	from_address    text NOT NULL CHECK (from_address ~ '^[^\s<>@]+@[^\s<>@]+$' AND length(from_address) <= 254),
	row_version     bigint NOT NULL DEFAULT 1,
	updated_at      timestamptz NOT NULL DEFAULT now()
);
SELECT tenant_owned('tenant_smtp');
CREATE TRIGGER tenant_smtp_version BEFORE UPDATE ON tenant_smtp
	FOR EACH ROW EXECUTE FUNCTION bump_alert_version();
INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
VALUES ('tenant_smtp', 'tenant_id', 'password_sealed', 'tenant_id', '''smtp-password''');

-- A rule's channels: exactly p_channels, each a channel of the tenant
-- (RLS: another tenant's is not found).  400 naming channel_ids otherwise.
CREATE FUNCTION alert_rule_channels_set(p_rule uuid, p_channels uuid[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE missing uuid;
BEGIN
	IF coalesce(cardinality(p_channels), 0) = 0 THEN
		RAISE EXCEPTION 'channel_ids: at least one channel' USING ERRCODE = 'LN400',
			COLUMN = 'channel_ids';
	END IF;
	SELECT c INTO missing FROM unnest(p_channels) c
	 WHERE NOT EXISTS (SELECT 1 FROM alert_channels a WHERE a.id = c) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'channel_ids: no such channel %', missing USING ERRCODE = 'LN400',
			COLUMN = 'channel_ids';
	END IF;
	DELETE FROM alert_rule_channels WHERE rule_id = p_rule AND channel_id <> ALL (p_channels);
	INSERT INTO alert_rule_channels (rule_id, channel_id)
	SELECT DISTINCT p_rule, c FROM unnest(p_channels) c ON CONFLICT DO NOTHING;
END $$;

-- Routing (see the header).
CREATE FUNCTION alert_route() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE n integer; rid uuid;
BEGIN
	-- The cooldown check below cannot see another open transaction's
	-- deliveries: serialise per (rule, resource) first, in rule order (no
	-- deadlock); in READ COMMITTED the INSERT's snapshot, taken after the
	-- lock, sees what the previous holder committed.
	-- A metric rule's fire is held back by its evaluator's own cooldown
	-- (alert_rules_evaluate, sql/041, on the same clock as its state): not
	-- again here, where the previous delivery's insert time could differ
	-- from the evaluator's tick by a few seconds and drop a fire it let
	-- through.
	IF NEW.event NOT IN ('metric.resolved', 'metric.threshold') THEN
		FOR rid IN SELECT r.id FROM alert_rules r
		            WHERE r.tenant_id = NEW.tenant_id AND r.enabled AND r.cooldown_seconds > 0
		              AND (r.project_id IS NULL OR r.project_id = NEW.project_id)
		              AND CASE WHEN NEW.event = 'metric.threshold'
		                       THEN r.id::text = NEW.payload ->> 'rule_id'
		                       ELSE r.event = NEW.event END
		            ORDER BY r.id LOOP
			PERFORM pg_advisory_xact_lock(hashtextextended('alert-cooldown/' || rid || '/'
			                                               || coalesce(NEW.resource_id::text, ''), 0));
		END LOOP;
	END IF;
	INSERT INTO alert_deliveries (tenant_id, channel_id, rule_id, event_id, event, resource_type,
	                              resource_id, project_id, message, payload)
	SELECT NEW.tenant_id, rc.channel_id, r.id, NEW.id, NEW.event, NEW.resource_type,
	       NEW.resource_id, NEW.project_id, NEW.message, NEW.payload
	  FROM alert_rules r
	  JOIN alert_rule_channels rc ON rc.tenant_id = r.tenant_id AND rc.rule_id = r.id
	 WHERE r.tenant_id = NEW.tenant_id AND r.enabled
	   AND (r.project_id IS NULL OR r.project_id = NEW.project_id)
	   AND CASE WHEN NEW.event IN ('metric.threshold', 'metric.resolved')
	            THEN r.id::text = NEW.payload ->> 'rule_id'
	            ELSE r.event = NEW.event END
	   AND (NEW.event IN ('metric.resolved', 'metric.threshold') OR r.cooldown_seconds = 0
	        OR NOT EXISTS (
		SELECT 1 FROM alert_deliveries d
		 WHERE d.tenant_id = r.tenant_id AND d.rule_id = r.id
		   AND d.resource_id IS NOT DISTINCT FROM NEW.resource_id
		   AND d.event <> 'metric.resolved'
		   AND d.created_at > NEW.created_at - make_interval(secs => r.cooldown_seconds)));
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM pg_notify('launcher_notify', '');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER alert_events_route AFTER INSERT ON alert_events
	FOR EACH ROW EXECUTE FUNCTION alert_route();

-- Delivery, for launcher-notify (launcher_maint), across tenants.

-- Up to p_limit due deliveries (pending and due, or sending with an
-- expired lease: a helper that died mid-attempt), leased for p_lease
-- seconds, with what sending needs: the channel, its sealed secrets, the
-- tenant's SMTP settings (NULL: the plane's).
CREATE FUNCTION alert_delivery_take(p_limit integer, p_lease integer)
RETURNS TABLE (id uuid, lease_token uuid, tenant_id uuid, event text, message text, payload jsonb,
               resource_type text, resource_id uuid, project_id uuid, attempts integer,
               created_at timestamptz, channel_id uuid, channel_name text, channel_type text,
               channel_config jsonb, channel_secret text, smtp jsonb, smtp_password text)
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	WITH due AS (
		SELECT d.id FROM alert_deliveries d
		 WHERE (d.status = 'pending' AND d.next_attempt_at <= clock_timestamp())
		    OR (d.status = 'sending' AND d.lease_until < clock_timestamp())
		 ORDER BY d.next_attempt_at
		 LIMIT p_limit FOR UPDATE SKIP LOCKED),
	taken AS (
		UPDATE alert_deliveries d SET status = 'sending',
		       lease_until = clock_timestamp() + make_interval(secs => p_lease),
		       lease_token = gen_random_uuid(), updated_at = clock_timestamp()
		  FROM due WHERE d.id = due.id RETURNING d.*)
	SELECT t.id, t.lease_token, t.tenant_id, t.event, t.message, t.payload, t.resource_type, t.resource_id,
	       t.project_id, t.attempts, t.created_at, c.id, c.name, c.type, c.config,
	       c.secret_sealed,
	       CASE WHEN s.tenant_id IS NOT NULL THEN jsonb_build_object('host', s.host,
	            'port', s.port, 'tls_mode', s.tls_mode, 'username', s.username,
	            'from', s.from_address) END,
	       s.password_sealed
	  FROM taken t
	  JOIN alert_channels c ON c.tenant_id = t.tenant_id AND c.id = t.channel_id
	  LEFT JOIN tenant_smtp s ON s.tenant_id = t.tenant_id
$$;

-- One attempt's outcome, recorded only by the holder of the delivery's
-- lease (p_token from alert_delivery_take): a holder whose lease expired
-- and was taken again, or a delivery already settled, records nothing and
-- gets NULL.  p_ok: delivered; else retried after
-- p_base * 2^(attempt-1) seconds (at most an hour) while that stays within
-- 24 h of the delivery's creation, otherwise failed.  Returns the status.
CREATE FUNCTION alert_delivery_attempt(p_id uuid, p_token uuid, p_started timestamptz, p_duration_ms integer,
	p_status_code integer, p_error text, p_ok boolean, p_base double precision)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
DECLARE d alert_deliveries; delay double precision; st text;
BEGIN
	SELECT * INTO d FROM alert_deliveries
	 WHERE id = p_id AND status = 'sending' AND lease_token = p_token FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;	-- no longer ours (lease lost), or its channel was deleted
	END IF;
	INSERT INTO alert_delivery_attempts (tenant_id, delivery_id, attempt, started_at,
	                                     duration_ms, status_code, error)
	VALUES (d.tenant_id, d.id, d.attempts + 1, p_started, p_duration_ms, p_status_code,
	        left(p_error, 1000));
	delay := least(p_base * power(2, d.attempts), 3600);
	st := CASE WHEN p_ok THEN 'succeeded'
	           WHEN clock_timestamp() + make_interval(secs => delay)
	                > d.created_at + interval '24 hours' THEN 'failed'
	           ELSE 'pending' END;
	UPDATE alert_deliveries SET status = st, attempts = d.attempts + 1,
	       last_status_code = p_status_code, last_error = left(p_error, 1000),
	       lease_until = NULL, lease_token = NULL, updated_at = clock_timestamp(),
	       delivered_at = CASE WHEN p_ok THEN clock_timestamp() END,
	       next_attempt_at = CASE WHEN st = 'pending'
	                              THEN clock_timestamp() + make_interval(secs => delay)
	                              ELSE next_attempt_at END
	 WHERE id = p_id;
	RETURN st;
END $$;

-- Hands a taken delivery back untouched (launcher-notify stopping before
-- its attempt): pending again, due now, its lease ended; the holder only.
CREATE FUNCTION alert_delivery_release(p_id uuid, p_token uuid)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	WITH r AS (
		UPDATE alert_deliveries SET status = 'pending', lease_until = NULL, lease_token = NULL,
		       updated_at = clock_timestamp()
		 WHERE id = p_id AND status = 'sending' AND lease_token = p_token RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM r)
$$;

-- Seconds until the next delivery is due (NULL: none waits).
CREATE FUNCTION alert_delivery_next()
RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = launcher, pg_temp AS $$
	SELECT greatest(0, extract(epoch FROM min(CASE WHEN status = 'pending' THEN next_attempt_at
	                                               ELSE lease_until END) - clock_timestamp()))
	  FROM alert_deliveries WHERE status IN ('pending', 'sending')
$$;

REVOKE ALL ON FUNCTION alert_route(), alert_delivery_take(integer, integer),
	alert_delivery_attempt(uuid, uuid, timestamptz, integer, integer, text, boolean, double precision),
	alert_delivery_release(uuid, uuid), alert_delivery_next() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alert_delivery_take(integer, integer),
	alert_delivery_attempt(uuid, uuid, timestamptz, integer, integer, text, boolean, double precision),
	alert_delivery_release(uuid, uuid), alert_delivery_next() TO launcher_maint;
GRANT EXECUTE ON FUNCTION alert_rule_channels_set(uuid, uuid[]) TO launcher_api;
