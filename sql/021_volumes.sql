-- 021_volumes.sql - volumes (API.md §8): named engine volumes of a project
-- on one server, and the applications that mount them.
--
-- volumes is the resource; volume_mounts says which application mounts
-- which volume where, one row per entry of the application's `volumes`
-- field.  The database keeps the rules:
--   - a mounted volume cannot be deleted: volume_mounts_volume_id_fkey is
--     NO ACTION (api_volume_delete answers first with a 409 that lists the
--     applications; the key is the guarantee under concurrency);
--   - deleting an application drops its mounts (CASCADE) and keeps its
--     volumes;
--   - a volume and the applications mounting it are on the same server
--     (app_volumes_sync, 400 naming the entry);
--   - deleting a volume (or its project) queues a volume.remove job for
--     its server's agent, which removes the engine volume only when it
--     carries our labels.
-- applications.volumes keeps the field by volume_id: the trigger below
-- turns every change of it into mounts (names resolved, or created) and
-- stores it back by id; answers read the mounts (app_volumes, with both
-- id and name), never that column.
-- Volumes are not a quota kind (018 counts projects, applications and
-- databases): a volume costs disk, which size_limit bounds, not a slot.

SET search_path = launcher;

CREATE TABLE volumes (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id  uuid NOT NULL,
	server_id   uuid NOT NULL,
	name        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	size_limit  bigint CHECK (size_limit > 0),
	-- What the agent last measured (engine df), and when (NULL: never).
	used_bytes  bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
	used_at     timestamptz,
	-- pending: no engine volume yet (made by the first job that mounts it);
	-- ready: the agent made it or measured it.
	status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
	-- What the agent could not do, e.g. enforce size_limit.
	warning     text,
	row_version bigint NOT NULL DEFAULT 1,
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT volumes_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT volumes_project_id_name_key UNIQUE (project_id, name),
	CONSTRAINT volumes_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	-- NO ACTION: a server that still holds volumes cannot be deleted.
	CONSTRAINT volumes_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id)
);
CREATE INDEX volumes_list ON volumes (tenant_id, created_at, id);
CREATE INDEX volumes_server ON volumes (server_id);

CREATE TABLE volume_mounts (
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	application_id uuid NOT NULL,
	volume_id      uuid NOT NULL,
	mount_path     text NOT NULL CHECK (mount_path ~ '^/.' AND length(mount_path) <= 1024),
	mode           text NOT NULL DEFAULT 'rw' CHECK (mode IN ('rw', 'ro')),
	position       integer NOT NULL,	-- the entry's index in the field
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (application_id, mount_path),
	CONSTRAINT volume_mounts_application_id_fkey FOREIGN KEY (tenant_id, application_id)
		REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT volume_mounts_volume_id_fkey FOREIGN KEY (tenant_id, volume_id)
		REFERENCES volumes (tenant_id, id)
);
CREATE INDEX volume_mounts_app ON volume_mounts (tenant_id, application_id, position);
CREATE INDEX volume_mounts_volume ON volume_mounts (volume_id);

SELECT tenant_owned('volumes', 'volume_mounts');

CREATE FUNCTION bump_volume_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.size_limit) IS DISTINCT FROM (OLD.name, OLD.size_limit) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER volumes_version BEFORE UPDATE ON volumes
	FOR EACH ROW EXECUTE FUNCTION bump_volume_version();

-- The server of a new volume: project_server() (sql/020), the rule of
-- applications.
-- POST /volumes: p_body as the handler's field table validated it.
CREATE FUNCTION api_volume_create(p_project uuid, p_body jsonb)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE vid uuid;
BEGIN
	INSERT INTO volumes (project_id, server_id, name, size_limit)
	VALUES (p_project, project_server(p_project, (p_body ->> 'server_id')::uuid),
	        p_body ->> 'name', (p_body ->> 'size_limit')::numeric::bigint)
	RETURNING id INTO vid;
	RETURN vid;
END $$;

-- The applications mounting a volume, for the 409 of a delete.
CREATE FUNCTION volume_mounted_by(p_volume uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT string_agg(DISTINCT a.name || ' (' || a.id || ')', ', ')
	  FROM volume_mounts m JOIN applications a ON a.id = m.application_id
	 WHERE m.volume_id = p_volume
$$;

-- DELETE /volumes/:id: false when p_version no longer matches; 409 while
-- mounted, naming the applications.  The row lock orders it after a
-- concurrent mount, whose row the check then sees.
CREATE FUNCTION api_volume_delete(p_volume uuid, p_version bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE v volumes; users text;
BEGIN
	SELECT * INTO v FROM volumes WHERE id = p_volume FOR UPDATE;
	IF NOT FOUND OR (p_version IS NOT NULL AND v.row_version <> p_version) THEN
		RETURN false;
	END IF;
	users := volume_mounted_by(p_volume);
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'volume % is mounted by: %; remove it from their volumes first',
			v.name, users USING ERRCODE = 'LN409';
	END IF;
	DELETE FROM volumes WHERE id = p_volume;
	RETURN true;
END $$;

-- Removing a volume (or its project) queues the removal of the engine
-- volume; the job belongs to no project, so that it outlives it.
CREATE FUNCTION volume_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM job_enqueue(OLD.tenant_id, OLD.server_id, NULL, 'volume.remove',
		jsonb_build_object('tenant_id', OLD.tenant_id, 'project_id', OLD.project_id,
		                   'volume_id', OLD.id, 'name', OLD.name), NULL);
	RETURN OLD;
END $$;
CREATE TRIGGER volumes_removed BEFORE DELETE ON volumes
	FOR EACH ROW EXECUTE FUNCTION volume_removed();
INSERT INTO job_kinds VALUES ('volume.remove', 30, 86400, 10);

-- An application's mounts in the order given, with what each part needs:
-- the claim of an app.* job takes them whole (fcgi/api/agent.c: what the
-- agent creates and mounts, as they are when the job starts); answers
-- without size_limit (app_volumes); the stored field by id only.
CREATE FUNCTION app_volume_specs(p_app uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('volume_id', v.id, 'name', v.name,
	       'mount_path', m.mount_path, 'mode', m.mode, 'size_limit', v.size_limit)
	       ORDER BY m.position), '[]')
	  FROM volume_mounts m JOIN volumes v ON v.id = m.volume_id
	 WHERE m.application_id = p_app
$$;

-- The entries of app_volume_specs without the keys p_drop.
CREATE FUNCTION app_volumes(p_app uuid, p_drop text[] DEFAULT '{size_limit}')
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(x - p_drop ORDER BY i), '[]')
	  FROM jsonb_array_elements(app_volume_specs(p_app)) WITH ORDINALITY AS t(x, i)
$$;

-- Replaces a's mounts by its volumes field.  An entry names a volume of
-- a's project by volume_id, or by name: a name the project does not have
-- yet is created on a's server (as compose does with a named volume).
-- A volume of another project, an unknown id, or a volume on another
-- server: 400 naming the entry (volumes[i].volume_id or .name).
-- p_migrating (021's own data only): an id that names no volume becomes a
-- volume with that id, and a clash of names or servers makes a new volume
-- rather than an error, so that no entry is lost.
CREATE FUNCTION app_volumes_sync(a applications, p_migrating boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE e jsonb; i bigint; v volumes; field text; nm text;
BEGIN
	DELETE FROM volume_mounts WHERE application_id = a.id;
	FOR e, i IN SELECT x, o - 1 FROM jsonb_array_elements(a.volumes) WITH ORDINALITY AS t(x, o) LOOP
		v := NULL;
		IF e ? 'volume_id' THEN
			field := format('volumes[%s].volume_id', i);
			SELECT * INTO v FROM volumes WHERE id = (e ->> 'volume_id')::uuid;
			IF NOT FOUND AND p_migrating THEN
				nm := 'volume-' || left(e ->> 'volume_id', 8);
				INSERT INTO volumes (id, tenant_id, project_id, server_id, name)
				VALUES ((e ->> 'volume_id')::uuid, a.tenant_id, a.project_id, a.server_id,
				        CASE WHEN EXISTS (SELECT 1 FROM volumes WHERE project_id = a.project_id
				                          AND name = nm) THEN 'volume-' || replace(e ->> 'volume_id', '-', '')
				             ELSE nm END)
				RETURNING * INTO v;
			ELSIF NOT FOUND THEN
				RAISE EXCEPTION 'no volume with this id in the project'
					USING ERRCODE = 'LN400', COLUMN = field;
			END IF;
		ELSE
			field := format('volumes[%s].name', i);
			SELECT * INTO v FROM volumes WHERE project_id = a.project_id AND name = e ->> 'name';
			IF NOT FOUND OR (p_migrating AND v.server_id <> a.server_id) THEN
				nm := e ->> 'name';
				IF FOUND THEN
					nm := left(nm, 54) || '-' || left(a.server_id::text, 8);
				END IF;
				INSERT INTO volumes (tenant_id, project_id, server_id, name)
				VALUES (a.tenant_id, a.project_id, a.server_id, nm)
				ON CONFLICT (project_id, name) DO NOTHING;
				SELECT * INTO v FROM volumes WHERE project_id = a.project_id AND name = nm;
			END IF;
		END IF;
		IF p_migrating AND (v.project_id <> a.project_id OR v.server_id <> a.server_id) THEN
			INSERT INTO volumes (tenant_id, project_id, server_id, name)
			VALUES (a.tenant_id, a.project_id, a.server_id,
			        'volume-' || replace(gen_random_uuid()::text, '-', ''))
			RETURNING * INTO v;
		END IF;
		IF v.project_id <> a.project_id THEN
			RAISE EXCEPTION 'no volume with this id in the project'
				USING ERRCODE = 'LN400', COLUMN = field;
		END IF;
		IF v.server_id <> a.server_id THEN
			RAISE EXCEPTION 'volume % is on server %, the application on server %: a volume and the applications mounting it must be on the same server',
				v.name, v.server_id, a.server_id USING ERRCODE = 'LN400', COLUMN = field;
		END IF;
		INSERT INTO volume_mounts (tenant_id, application_id, volume_id, mount_path, mode, position)
		VALUES (a.tenant_id, a.id, v.id, e ->> 'mount_path', coalesce(e ->> 'mode', 'rw'), i);
	END LOOP;
END $$;

-- After the mounts follow the field, the field is stored by volume_id, so
-- that a volume renamed later is never looked up again by its old name
-- (the second pass this update makes finds the same volumes and stops).
CREATE FUNCTION app_volumes_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE by_id jsonb;
BEGIN
	PERFORM app_volumes_sync(NEW, false);
	by_id := app_volumes(NEW.id, '{name,size_limit}');
	IF by_id IS DISTINCT FROM NEW.volumes THEN
		UPDATE applications SET volumes = by_id WHERE id = NEW.id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER applications_volumes_insert AFTER INSERT ON applications
	FOR EACH ROW WHEN (NEW.volumes <> '[]'::jsonb) EXECUTE FUNCTION app_volumes_changed();
CREATE TRIGGER applications_volumes_update AFTER UPDATE OF volumes ON applications
	FOR EACH ROW WHEN (NEW.volumes IS DISTINCT FROM OLD.volumes)
	EXECUTE FUNCTION app_volumes_changed();

-- Today's applications.volumes entries become volumes and mounts, and the
-- field is stored by volume_id (the triggers above only check it again).
SELECT app_volumes_sync(a, true) FROM applications a WHERE a.volumes <> '[]'::jsonb
 ORDER BY a.created_at, a.id;
UPDATE applications SET volumes = app_volumes(id, '{name,size_limit}') WHERE volumes <> '[]'::jsonb;

-- An app.* job's result may say what became of its volumes:
-- "volumes": [{"volume_id", "warning": text|null}] (only this server's).
CREATE FUNCTION volume_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE volumes v SET status = 'ready', warning = x.warning
	  FROM jsonb_to_recordset(NEW.result -> 'volumes') AS x(volume_id text, warning text)
	 WHERE x.volume_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	   AND v.id = x.volume_id::uuid AND v.server_id = NEW.server_id;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_volumes_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND NEW.kind LIKE 'app.%'
	                   AND jsonb_typeof(NEW.result -> 'volumes') = 'array')
	EXECUTE FUNCTION volume_job_finished();

-- POST /agent/volumes: what the engine says each volume of this server
-- holds.  Items naming another server's or tenant's volume match nothing.
CREATE FUNCTION agent_volumes(p_server uuid, p_items jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
	UPDATE volumes v SET used_bytes = greatest(x.used_bytes, 0), used_at = now(), status = 'ready'
	  FROM jsonb_to_recordset(p_items) AS x(volume_id text, used_bytes bigint)
	 WHERE x.volume_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	   AND v.id = x.volume_id::uuid AND v.server_id = p_server AND x.used_bytes IS NOT NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

GRANT EXECUTE ON FUNCTION api_volume_create(uuid, jsonb),
	volume_mounted_by(uuid), api_volume_delete(uuid, bigint), app_volumes(uuid, text[]),
	app_volume_specs(uuid), app_volumes_sync(applications, boolean),
	agent_volumes(uuid, jsonb) TO launcher_api;
