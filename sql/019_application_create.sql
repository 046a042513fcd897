-- 019_application_create.sql - an application is placed and inserted by
-- one function, as a project is by api_project_create: the environment
-- (given, else the project's default), the server (given, else the
-- project's default, else the tenant's only one) and the row with its
-- defaults, read from the request body that the handler's field table
-- validated.  Placement errors name their field in the error's COLUMN,
-- which the API turns into error.details.

SET search_path = launcher;

-- The JSON value of a key, SQL NULL when absent or null.
CREATE FUNCTION body_value(p_body jsonb, p_key text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT nullif(p_body -> p_key, 'null'::jsonb)
$$;

-- p_body: the request body (unknown keys are ignored); p_repo_url and
-- p_repo_cred: repository_url without and its user:token part sealed;
-- p_env_sealed: the env map sealed (NULL = none).
CREATE FUNCTION api_application_create(p_project uuid, p_body jsonb, p_repo_url text,
	p_repo_cred text, p_env_sealed text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	env uuid;
	srv uuid;
	n   bigint;
	aid uuid;
BEGIN
	SELECT id INTO env FROM environments
	 WHERE project_id = p_project
	   AND CASE WHEN body_value(p_body, 'environment_id') IS NULL THEN is_default
	            ELSE id = (p_body ->> 'environment_id')::uuid END;
	IF env IS NULL THEN
		RAISE EXCEPTION 'is not an environment of this project'
			USING ERRCODE = 'LN400', COLUMN = 'environment_id';
	END IF;
	srv := coalesce((p_body ->> 'server_id')::uuid,
	                (SELECT default_server_id FROM projects WHERE id = p_project));
	IF srv IS NULL THEN
		SELECT count(*), min(id::text)::uuid INTO n, srv FROM servers;
		IF n <> 1 THEN
			RAISE EXCEPTION '%', CASE WHEN n = 0 THEN 'no server is registered yet'
				ELSE 'is required: the project has no default server and there are several' END
				USING ERRCODE = 'LN400', COLUMN = 'server_id';
		END IF;
	ELSIF NOT EXISTS (SELECT 1 FROM servers WHERE id = srv) THEN
		RAISE EXCEPTION 'server not found' USING ERRCODE = 'LN400', COLUMN = 'server_id';
	END IF;
	INSERT INTO applications (project_id, environment_id, server_id, registry_id,
		git_provider_id, name, app_type, source_type, repository_url, branch,
		dockerfile_path, build_context, build_args, image_url, compose, replicas,
		exposed_port, autodeploy, watch_paths, healthcheck_path,
		healthcheck_timeout_seconds, restart_policy, start_command, cpu_limit,
		memory_limit, volumes, depends_on, env_sealed, env_version,
		repository_credential_sealed)
	VALUES (p_project, env, srv, (p_body ->> 'registry_id')::uuid,
		(p_body ->> 'git_provider_id')::uuid, p_body ->> 'name',
		coalesce(p_body ->> 'app_type', 'web'), p_body ->> 'source_type', p_repo_url,
		coalesce(p_body ->> 'branch', 'main'), coalesce(p_body ->> 'dockerfile_path', 'Dockerfile'),
		coalesce(p_body ->> 'build_context', '.'), coalesce(body_value(p_body, 'build_args'), '{}'),
		p_body ->> 'image_url', p_body ->> 'compose',
		coalesce((p_body ->> 'replicas')::numeric::int, 1),
		(p_body ->> 'exposed_port')::numeric::int,
		coalesce((p_body ->> 'autodeploy')::boolean, false),
		coalesce(ARRAY(SELECT jsonb_array_elements_text(body_value(p_body, 'watch_paths'))), '{}'),
		p_body ->> 'healthcheck_path',
		coalesce((p_body ->> 'healthcheck_timeout_seconds')::numeric::int, 60),
		coalesce(p_body ->> 'restart_policy', 'always'), p_body ->> 'start_command',
		(p_body ->> 'cpu_limit')::numeric, (p_body ->> 'memory_limit')::numeric::bigint,
		coalesce(body_value(p_body, 'volumes'), '[]'),
		coalesce(ARRAY(SELECT jsonb_array_elements_text(body_value(p_body, 'depends_on'))::uuid),
		         '{}'),
		p_env_sealed, CASE WHEN p_env_sealed IS NULL THEN 0 ELSE 1 END, p_repo_cred)
	RETURNING id INTO aid;
	RETURN aid;
END $$;

GRANT EXECUTE ON FUNCTION body_value(jsonb, text),
	api_application_create(uuid, jsonb, text, text, text) TO launcher_api;
