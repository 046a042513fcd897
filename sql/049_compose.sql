-- 049_compose.sql - docker_compose applications (API.md §4): the checked
-- and normalised form of an application's compose file, the image ids of
-- every service of a release, and the deploy / rollback / action sources
-- that carry the whole stack to the agent.
--
-- The YAML text stays in applications.compose as the user wrote it; the
-- pool parses and checks it at create and update (fcgi/core/compose.c) and
-- stores the result here, so that a deploy (and the agent) never reads
-- YAML: {"web_service": name|null, "port": int|null, "volumes": [names],
-- "services": [{name, image, command, entrypoint, environment, depends_on,
-- healthcheck, volumes, restart, working_dir, user, labels, expose, host},
-- ...] in start order}.

SET search_path = launcher;

ALTER TABLE applications ADD COLUMN compose_spec jsonb
	CHECK (compose_spec IS NULL OR jsonb_typeof(compose_spec) = 'object');

-- A change of the compose file is a change of what the user edits (the
-- ETag); bump_app_version (006) lists the other fields.
CREATE TRIGGER applications_version_compose BEFORE UPDATE ON applications
	FOR EACH ROW WHEN (NEW.compose IS DISTINCT FROM OLD.compose)
	EXECUTE FUNCTION bump_app_version_tags();

-- {"<service>": "sha256:..."}: what each service of a succeeded compose
-- release ran (image_digest holds the web service's, or the first's).
ALTER TABLE deployments ADD COLUMN service_images jsonb
	CHECK (service_images IS NULL OR jsonb_typeof(service_images) = 'object');

-- The source that re-applies release d: a compose release is its own
-- source (the services as they were) plus the image id of each service;
-- any other release is its image id.  Used by rollback and by the actions
-- on the running release (start, restart, scale).
CREATE FUNCTION deployment_release_source(d deployments)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN d.source ->> 'type' = 'compose'
	            THEN d.source || jsonb_build_object('images', d.service_images)
	            ELSE jsonb_build_object('type', 'release', 'image_id', d.image_digest) END
$$;

-- What a succeeded compose deploy ran, from its job's result.
CREATE FUNCTION deployment_service_images() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE deployments SET service_images = NEW.result -> 'images'
	 WHERE job_id = NEW.id AND source ->> 'type' = 'compose';
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_compose_images AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running') AND NEW.status = 'succeeded'
	                   AND NEW.kind = 'app.deploy'
	                   AND jsonb_typeof(NEW.result -> 'images') = 'object')
	EXECUTE FUNCTION deployment_service_images();

-- api_deploy (006) with p_source: the source of a docker_compose
-- application's deploy, which the handler builds from compose_spec (every
-- service's image through the site's image mirror table, which SQL does not
-- have); NULL for the other source types.  A rollback of a compose release
-- re-applies the whole stack (deployment_release_source).
DROP FUNCTION api_deploy(uuid, text, text, text, text, uuid, uuid, text, integer);
CREATE FUNCTION api_deploy(p_app uuid, p_trigger text, p_commit text, p_branch text,
	p_image text, p_rollback_of uuid, p_user uuid, p_env text, p_env_version integer,
	p_source jsonb DEFAULT NULL, OUT deployment_id uuid, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE a applications; q deployments; old deployments; src jsonb; env text;
	envv integer; img text; br text; com text;
BEGIN
	SELECT * INTO a FROM applications WHERE id = p_app FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'application not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_rollback_of IS NOT NULL THEN
		SELECT * INTO old FROM deployments WHERE id = p_rollback_of AND application_id = p_app;
		IF NOT FOUND OR old.image_digest IS NULL OR old.status NOT IN ('succeeded', 'superseded')
		   OR (old.source ->> 'type' = 'compose' AND old.service_images IS NULL) THEN
			RAISE EXCEPTION 'deployment_id: not a successful deployment of this application'
				USING ERRCODE = 'LN400';
		END IF;
		src := deployment_release_source(old);
		env := old.env_sealed; envv := old.env_version;
		img := old.image; br := old.branch; com := old.commit_sha;
	ELSE
		IF a.source_type = 'docker_compose' THEN
			IF p_source IS NULL OR p_source ->> 'type' IS DISTINCT FROM 'compose' THEN
				RAISE EXCEPTION 'a docker_compose deploy needs its compose source'
					USING ERRCODE = 'LN400';
			END IF;
			src := p_source;
			img := (SELECT s ->> 'image' FROM jsonb_array_elements(src -> 'services') s
			         WHERE s ->> 'name' = src ->> 'web_service');
		ELSIF a.source_type = 'docker_image' THEN
			IF p_image IS NOT NULL THEN
				UPDATE applications SET image_url = p_image WHERE id = p_app;
				a.image_url := p_image;
			END IF;
			src := jsonb_build_object('type', 'docker_image', 'image', a.image_url);
			img := a.image_url;
		ELSE
			br := coalesce(p_branch, a.branch); com := p_commit;
			src := jsonb_build_object('type', 'git', 'repository_url', a.repository_url,
			        'branch', br, 'commit_sha', com, 'dockerfile_path', a.dockerfile_path,
			        'build_context', a.build_context, 'build_args', a.build_args);
		END IF;
		IF p_env_version IS DISTINCT FROM a.env_version THEN
			RAISE EXCEPTION 'the environment variables changed while deploying; retry'
				USING ERRCODE = 'LN409';
		END IF;
		env := p_env; envv := p_env_version;
	END IF;
	SELECT * INTO q FROM deployments WHERE application_id = p_app AND status = 'queued';
	IF FOUND THEN
		IF q.source = src AND q.env_version = envv AND q.replicas = a.replicas THEN
			deployment_id := q.id; created := false;
			RETURN;
		END IF;
		UPDATE deployments SET status = 'superseded', finished_at = now(),
		       error = 'superseded by a newer deployment before it started'
		 WHERE id = q.id;
	END IF;
	INSERT INTO deployments (tenant_id, project_id, environment_id, application_id, server_id,
	                         trigger, source, commit_sha, branch, image, env_sealed, env_version,
	                         replicas, rollback_of, created_by)
	VALUES (a.tenant_id, a.project_id, a.environment_id, a.id, a.server_id, p_trigger, src,
	        com, br, img, env, envv, a.replicas, p_rollback_of, p_user)
	RETURNING id INTO deployment_id;
	created := true;
	IF NOT EXISTS (SELECT 1 FROM deployments WHERE application_id = p_app
	                AND status IN ('building', 'deploying')) THEN
		PERFORM deployment_start(deployment_id);
	END IF;
END $$;

GRANT EXECUTE ON FUNCTION
	api_deploy(uuid, text, text, text, text, uuid, uuid, text, integer, jsonb),
	deployment_release_source(deployments) TO launcher_api;
