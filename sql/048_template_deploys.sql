-- 048_template_deploys.sql - a template's deploy (API.md §13,
-- fcgi/api/template_deploy.c): the record of what one deploy created,
-- the first deployments that wait for what they depend on, and the
-- all-or-nothing rollback.
--
-- The handler creates every resource of the plan in one transaction
-- through the functions the REST create routes use (api_volume_create,
-- api_database_new, api_application_create, the env store, api_deploy),
-- and records them here, in creation order.  From then on the database
-- drives the deploy, whatever moves the rows (agent, scheduler, a user):
--   - an application's deployment does not start while a database or an
--     application it waits for (its depends_on and the databases its env
--     references) is not running: deployment_start() queues its job as
--     ever, and the gate below takes the job back and keeps the
--     deployment `queued`; when a database turns running (or an
--     application gets its first successful deployment) the deploys that
--     hold it start the deployments no longer waiting.  No worker waits.
--   - a database of the deploy that fails, or a deployment of one of its
--     applications that fails (or is cancelled) while the deploy is
--     `deploying`, fails the deploy and removes every resource it
--     created: applications first (app.remove; their mounts and env go
--     with the rows), then databases with their data (db.remove, then
--     volume.remove), then volumes (volume.remove, queued after the
--     applications' app.remove, whose containers held them; the agent
--     also retries a volume still in use).  The deploy's own row stays,
--     `failed`, with the reason, as the record of what happened.
--   - every resource running (databases running, applications with a
--     successful deployment) makes it `succeeded`.

SET search_path = launcher;

CREATE TABLE template_deploys (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	environment_id uuid NOT NULL,
	-- The template as the route named it (a built-in's slug or a stored
	-- template's id) and its metadata.name.
	template_ref   text NOT NULL CHECK (length(template_ref) BETWEEN 1 AND 255),
	template_name  text,
	metadata       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
	status         text NOT NULL DEFAULT 'deploying'
	               CHECK (status IN ('deploying', 'succeeded', 'failed')),
	error          text,
	created_by     uuid,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	finished_at    timestamptz,
	CONSTRAINT template_deploys_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT template_deploys_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT template_deploys_environment_id_fkey FOREIGN KEY (tenant_id, environment_id)
		REFERENCES environments (tenant_id, id) ON DELETE CASCADE,
	-- The record outlives the user who made it (as a deployment's).
	CONSTRAINT template_deploys_created_by_fkey FOREIGN KEY (tenant_id, created_by)
		REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX template_deploys_list ON template_deploys (tenant_id, created_at, id);
CREATE INDEX template_deploys_project ON template_deploys (tenant_id, project_id);
CREATE INDEX template_deploys_environment ON template_deploys (tenant_id, environment_id);
CREATE INDEX template_deploys_created_by ON template_deploys (tenant_id, created_by);

-- What a deploy created, in creation order.  resource_id has no foreign
-- key: the rows it names are removed by a rollback (or by a user) and the
-- record stays.  waits_for: of an application, the databases and
-- applications (ids) its first deployment waits for.
CREATE TABLE template_deploy_resources (
	tenant_id          uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	template_deploy_id uuid NOT NULL,
	position           integer NOT NULL CHECK (position >= 0),
	kind               text NOT NULL CHECK (kind IN ('volume', 'database', 'application')),
	resource_id        uuid NOT NULL,
	name               text NOT NULL,
	waits_for          uuid[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (template_deploy_id, position),
	CONSTRAINT template_deploy_resources_template_deploy_id_fkey FOREIGN KEY (tenant_id, template_deploy_id)
		REFERENCES template_deploys (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX template_deploy_resources_deploy
	ON template_deploy_resources (tenant_id, template_deploy_id, position);
CREATE INDEX template_deploy_resources_resource ON template_deploy_resources (resource_id);

SELECT tenant_owned('template_deploys', 'template_deploy_resources');

-- Whether a resource of a deploy is running: a database running, an
-- application with a successful deployment; a volume always (the engine
-- volume is made by the first container that mounts it).
CREATE FUNCTION template_resource_ready(p_kind text, p_id uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT CASE p_kind
	       WHEN 'database' THEN EXISTS (SELECT 1 FROM databases WHERE id = p_id AND status = 'running')
	       WHEN 'application' THEN EXISTS (SELECT 1 FROM applications WHERE id = p_id
	                                        AND current_deployment_id IS NOT NULL)
	       ELSE true END
$$;

-- Whether application p_app is held by a deploy still `deploying`: one of
-- the resources it waits for is not running yet.
CREATE FUNCTION template_app_waits(p_app uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (
		SELECT 1 FROM template_deploy_resources r
		  JOIN template_deploys t ON t.id = r.template_deploy_id
		 WHERE r.resource_id = p_app AND r.kind = 'application' AND t.status = 'deploying'
		   AND EXISTS (SELECT 1 FROM unnest(r.waits_for) w(id)
		                WHERE NOT template_resource_ready(
		                      CASE WHEN EXISTS (SELECT 1 FROM databases WHERE id = w.id)
		                           THEN 'database' ELSE 'application' END, w.id)))
$$;

-- The gate: a held application's deployment that deployment_start() is
-- starting stays queued, and the job it just queued is taken back (it is
-- not committed yet, so no agent has seen it).  deployment_start() itself
-- is left as it is.
CREATE FUNCTION template_deployment_gate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF template_app_waits(NEW.application_id) THEN
		IF NEW.job_id IS NOT NULL THEN
			DELETE FROM jobs WHERE id = NEW.job_id AND status = 'queued';
		END IF;
		NEW.status := 'queued';
		NEW.job_id := NULL;
		NEW.started_at := NULL;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER deployments_template_gate BEFORE UPDATE OF status ON deployments
	FOR EACH ROW WHEN (OLD.status = 'queued' AND NEW.status IN ('building', 'deploying'))
	EXECUTE FUNCTION template_deployment_gate();

-- Resource p_id of some deploys turned running: each of them that is
-- still deploying starts the deployments no longer held, and is done
-- when all its resources run.
CREATE FUNCTION template_deploy_step(p_id uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid; dep uuid;
BEGIN
	FOR t IN SELECT DISTINCT td.id FROM template_deploy_resources r
	           JOIN template_deploys td ON td.id = r.template_deploy_id
	          WHERE r.resource_id = p_id AND td.status = 'deploying' LOOP
		PERFORM 1 FROM template_deploys WHERE id = t FOR UPDATE;
		FOR dep IN SELECT d.id FROM template_deploy_resources r
		             JOIN deployments d ON d.application_id = r.resource_id AND d.status = 'queued'
		            WHERE r.template_deploy_id = t AND r.kind = 'application'
		              AND NOT template_app_waits(r.resource_id)
		              AND NOT EXISTS (SELECT 1 FROM deployments x
		                               WHERE x.application_id = r.resource_id
		                                 AND x.status IN ('building', 'deploying'))
		            ORDER BY r.position LOOP
			PERFORM deployment_start(dep);
		END LOOP;
		UPDATE template_deploys SET status = 'succeeded', finished_at = now(), updated_at = now()
		 WHERE id = t AND status = 'deploying'
		   AND NOT EXISTS (SELECT 1 FROM template_deploy_resources r WHERE r.template_deploy_id = t
		                    AND NOT template_resource_ready(r.kind, r.resource_id));
	END LOOP;
END $$;

-- Resource p_id of some deploys failed: each of them still deploying
-- fails with p_reason and removes every resource it created (see the top
-- of this file for the order).
CREATE FUNCTION template_deploy_fail(p_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid; x record;
BEGIN
	FOR t IN SELECT DISTINCT td.id FROM template_deploy_resources r
	           JOIN template_deploys td ON td.id = r.template_deploy_id
	          WHERE r.resource_id = p_id AND td.status = 'deploying' LOOP
		UPDATE template_deploys SET status = 'failed', error = left(p_reason, 4000),
		       finished_at = now(), updated_at = now()
		 WHERE id = t AND status = 'deploying';
		CONTINUE WHEN NOT FOUND;
		-- The other applications' deploys stop (the agent learns it at its
		-- next lease renewal) before their app.remove is queued.
		UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
		       error = 'the template deploy failed: ' || left(p_reason, 1000)
		 WHERE status IN ('queued', 'running') AND kind LIKE 'app.%' AND kind <> 'app.remove'
		   AND payload ->> 'app_id' IN (SELECT resource_id::text FROM template_deploy_resources
		                                 WHERE template_deploy_id = t AND kind = 'application');
		DELETE FROM applications WHERE id IN (SELECT resource_id FROM template_deploy_resources
		                                      WHERE template_deploy_id = t AND kind = 'application');
		FOR x IN SELECT resource_id FROM template_deploy_resources
		          WHERE template_deploy_id = t AND kind = 'database' ORDER BY position LOOP
			PERFORM api_database_delete(x.resource_id, NULL, true);
		END LOOP;
		DELETE FROM volumes WHERE id IN (SELECT resource_id FROM template_deploy_resources
		                                 WHERE template_deploy_id = t AND kind = 'volume');
	END LOOP;
END $$;

CREATE FUNCTION template_database_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status = 'failed' THEN
		PERFORM template_deploy_fail(NEW.id, format('database %s failed: %s', NEW.name,
		                                             coalesce(NEW.status_reason, 'no reason given')));
	ELSE
		PERFORM template_deploy_step(NEW.id);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER databases_template_deploy AFTER UPDATE OF status ON databases
	FOR EACH ROW WHEN (NEW.status IN ('running', 'failed') AND NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION template_database_changed();

CREATE FUNCTION template_application_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM template_deploy_step(NEW.id);
	RETURN NULL;
END $$;
CREATE TRIGGER applications_template_deploy AFTER UPDATE OF current_deployment_id ON applications
	FOR EACH ROW WHEN (NEW.current_deployment_id IS NOT NULL AND OLD.current_deployment_id IS NULL)
	EXECUTE FUNCTION template_application_changed();

CREATE FUNCTION template_deployment_failed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM template_deploy_fail(NEW.application_id, format('the deployment of application %s %s: %s',
		(SELECT name FROM applications WHERE id = NEW.application_id), NEW.status,
		coalesce(NEW.error, 'no reason given')));
	RETURN NULL;
END $$;
CREATE TRIGGER deployments_template_deploy AFTER UPDATE OF status ON deployments
	FOR EACH ROW WHEN (NEW.status IN ('failed', 'cancelled') AND OLD.status <> NEW.status)
	EXECUTE FUNCTION template_deployment_failed();

-- The deploy's record (the handler, once every resource exists and
-- before the first deployments, so that the gate sees what they wait
-- for): p_resources [{kind, id, name, waits_for: [ids]}] in creation
-- order.  A deploy whose resources all run already (volumes only) is
-- succeeded at once.
CREATE FUNCTION template_deploy_record(p_project uuid, p_environment uuid, p_ref text,
	p_metadata jsonb, p_user uuid, p_resources jsonb)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE tid uuid;
BEGIN
	INSERT INTO template_deploys (project_id, environment_id, template_ref, template_name,
	                              metadata, created_by)
	VALUES (p_project, p_environment, p_ref, coalesce(p_metadata, '{}') ->> 'name',
	        coalesce(p_metadata, '{}'), p_user)
	RETURNING id INTO tid;
	INSERT INTO template_deploy_resources (template_deploy_id, position, kind, resource_id, name,
	                                       waits_for)
	SELECT tid, (o - 1)::int, x ->> 'kind', (x ->> 'id')::uuid, x ->> 'name',
	       ARRAY(SELECT jsonb_array_elements_text(coalesce(x -> 'waits_for', '[]'))::uuid)
	  FROM jsonb_array_elements(p_resources) WITH ORDINALITY AS t(x, o);
	UPDATE template_deploys SET status = 'succeeded', finished_at = now()
	 WHERE id = tid AND NOT EXISTS (SELECT 1 FROM template_deploy_resources r
	                                 WHERE r.template_deploy_id = tid
	                                   AND NOT template_resource_ready(r.kind, r.resource_id));
	RETURN tid;
END $$;

-- What GET /template-deploys/:id shows of each resource: its kind, id,
-- name and status now (`removed` once its row is gone).
CREATE FUNCTION template_deploy_resources_json(p_deploy uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('kind', r.kind, 'id', r.resource_id,
	       'name', r.name, 'status', coalesce(CASE r.kind
	           WHEN 'volume' THEN (SELECT status FROM volumes WHERE id = r.resource_id)
	           WHEN 'database' THEN (SELECT status FROM databases WHERE id = r.resource_id)
	           ELSE (SELECT status FROM applications WHERE id = r.resource_id) END, 'removed'))
	       ORDER BY r.position), '[]')
	  FROM template_deploy_resources r WHERE r.template_deploy_id = p_deploy
$$;

GRANT EXECUTE ON FUNCTION template_deploy_record(uuid, uuid, text, jsonb, uuid, jsonb),
	template_deploy_resources_json(uuid) TO launcher_api;
GRANT EXECUTE ON FUNCTION template_resource_ready(text, uuid), template_app_waits(uuid),
	template_deploy_step(uuid), template_deploy_fail(uuid, text) TO launcher_api;
