-- 053_buckets.sql - S3 buckets (API.md §6): one object store per server
-- (an external S3 server with an admin API that a tenant admin registers,
-- PUT /servers/:id/object-store, or a managed MinIO container that the
-- first bucket on a server has the agent start), buckets in it, and each
-- bucket's own keys, whose policy (enforced by the store, not by us)
-- allows that bucket and nothing else (fcgi/core/bucketstore.h).
--
-- The database keeps the rules:
--   - a bucket's name is unique in its project (409); bucket_name, its name
--     in the store, is lnchr-<12 hex of its id>-<name> cut to 63 characters
--     (S3's limit), computed once here and carried by every job;
--   - secrets are sealed (sealed_columns): the store's admin secret bound to
--     the store ("bucket-store:<id>"), each key's secret bound to its bucket
--     ("bucket-key:<bucket id>"); the claim of a job opens them into its
--     answer only (fcgi/api/agent.c), and the agent's new keys
--     (bucket.create, bucket.rotate) are sealed into bucket_keys by the
--     completion before the job's own result is stored (sealed too);
--   - every change in the store is a job (job_kinds below); a trigger moves
--     the bucket as its jobs end, however they end;
--   - a rotation's new key is active at once; the old one is `retiring`
--     until every application that referenced the bucket at the rotation
--     (revoke_after_deploy) has deployed since, then bucket.revoke revokes
--     it in the store (?immediate=true, or no such application: at once);
--   - deleting a bucket is the agent's bucket.delete (the store says whether
--     it is empty: a failed job with result.error 409); its success deletes
--     the row; a project deleted with its buckets queues their removal.

SET search_path = launcher;

CREATE TABLE object_stores (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id           uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	server_id           uuid NOT NULL,
	driver              text NOT NULL CHECK (driver IN ('rgw', 'minio')),
	mode                text NOT NULL CHECK (mode IN ('managed', 'external')),
	-- What applications and clients use (credentials, references, presigned
	-- URLs); admin_endpoint is what the agent reaches (NULL: endpoint).
	endpoint            text CHECK (endpoint ~ '^https?://[^/?#@\s]+$'),
	admin_endpoint      text CHECK (admin_endpoint ~ '^https?://[^/?#@\s]+$'),
	region              text NOT NULL DEFAULT 'us-east-1' CHECK (region ~ '^[a-z0-9-]{1,32}$'),
	admin_access_key    text NOT NULL CHECK (length(admin_access_key) BETWEEN 1 AND 128),
	admin_secret_sealed text NOT NULL,
	status              text NOT NULL DEFAULT 'provisioning'
	                    CHECK (status IN ('provisioning', 'ready', 'failed')),
	status_reason       text,
	row_version         bigint NOT NULL DEFAULT 1,
	created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT object_stores_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT object_stores_server_id_key UNIQUE (server_id),
	CONSTRAINT object_stores_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT object_stores_endpoint_check2 CHECK (status <> 'ready' OR endpoint IS NOT NULL)
);
SELECT tenant_owned('object_stores');
CREATE TRIGGER object_stores_version BEFORE UPDATE ON object_stores
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TABLE buckets (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id      uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	project_id     uuid NOT NULL,
	environment_id uuid NOT NULL,
	server_id      uuid NOT NULL,
	-- S3's rules for a bucket name (the handler says which one failed).
	name           text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
	bucket_name    text NOT NULL CHECK (bucket_name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
	public         boolean NOT NULL DEFAULT false,
	status         text NOT NULL DEFAULT 'provisioning'
	               CHECK (status IN ('provisioning', 'ready', 'failed', 'deleting')),
	status_reason  text,
	row_version    bigint NOT NULL DEFAULT 1,
	created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT buckets_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT buckets_name_key UNIQUE (project_id, name),
	CONSTRAINT buckets_bucket_name_key UNIQUE (server_id, bucket_name),
	CONSTRAINT buckets_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
	CONSTRAINT buckets_environment_id_fkey FOREIGN KEY (tenant_id, environment_id)
		REFERENCES environments (tenant_id, id),
	CONSTRAINT buckets_server_id_fkey FOREIGN KEY (tenant_id, server_id)
		REFERENCES servers (tenant_id, id)
);
CREATE INDEX buckets_list ON buckets (tenant_id, created_at, id);
CREATE INDEX buckets_environment ON buckets (environment_id, name);
CREATE INDEX buckets_server ON buckets (server_id);
SELECT tenant_owned('buckets');

-- Only what users edit bumps the ETag; statuses are the agent's.
CREATE FUNCTION bump_bucket_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.name, NEW.public) IS DISTINCT FROM (OLD.name, OLD.public) THEN
		NEW.row_version := OLD.row_version + 1;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER buckets_version BEFORE UPDATE ON buckets
	FOR EACH ROW EXECUTE FUNCTION bump_bucket_version();

CREATE TABLE bucket_keys (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id           uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	bucket_id           uuid NOT NULL,
	access_key          text NOT NULL CHECK (length(access_key) BETWEEN 1 AND 63),
	secret_sealed       text NOT NULL,
	state               text NOT NULL DEFAULT 'active'
	                    CHECK (state IN ('active', 'retiring', 'revoked')),
	created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	retired_at          timestamptz,
	-- A retiring key: the applications whose next deploy it waits for.
	revoke_after_deploy uuid[],
	CONSTRAINT bucket_keys_bucket_id_fkey FOREIGN KEY (tenant_id, bucket_id)
		REFERENCES buckets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX bucket_keys_bucket ON bucket_keys (tenant_id, bucket_id, state);
CREATE UNIQUE INDEX bucket_keys_active ON bucket_keys (bucket_id) WHERE state = 'active';
SELECT tenant_owned('bucket_keys');

INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose) VALUES
	('object_stores', 'id', 'admin_secret_sealed', 'tenant_id', '''bucket-store:'' || id'),
	('bucket_keys', 'id', 'secret_sealed', 'tenant_id', '''bucket-key:'' || bucket_id');

-- The store's work: a create is retried (the driver is idempotent for a
-- name), a listing answers a waiting client or not at all, a revocation
-- outlives its bucket for a day.
INSERT INTO job_kinds VALUES
	('objstore.provision', 30,   900,  2),
	('bucket.create',      30,   600,  3),
	('bucket.rotate',      30,   300,  2),
	('bucket.revoke',      30, 86400, 10),
	('bucket.delete',      30,   600,  2),
	('bucket.public',      30,   300,  2),
	('bucket.objects',     15,   120,  1);

-- The store of a job, as CONTRACT §3's "store" (no secret: the claim adds
-- admin_secret_key, fcgi/api/agent.c).
CREATE FUNCTION object_store_payload(s object_stores)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('store_id', s.id, 'driver', s.driver,
		'endpoint', s.endpoint,
		'admin_endpoint', coalesce(s.admin_endpoint, s.endpoint), 'region', s.region,
		'admin_access_key', s.admin_access_key)
$$;

-- A public bucket's hostname on the edge: <bucket>-<project>.<server
-- base_domain>, as an application's (app_hostname).
CREATE FUNCTION bucket_hostname(b buckets)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT lower(b.name || '-' || p.name || '.' || coalesce(nullif(s.base_domain, ''), 'localhost'))
	  FROM projects p, servers s WHERE p.id = b.project_id AND s.id = b.server_id
$$;

-- The stored payload of a job on bucket b (CONTRACT §3).
CREATE FUNCTION bucket_job_payload(b buckets)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('bucket_id', b.id, 'tenant_id', b.tenant_id,
		'project_id', b.project_id, 'name', b.name, 'bucket_name', b.bucket_name,
		'public', b.public, 'hostname', bucket_hostname(b),
		'store', (SELECT object_store_payload(s) FROM object_stores s
		           WHERE s.server_id = b.server_id))
$$;

-- Queues kind on bucket p_bucket, p_extra merged into its payload.  One
-- bucket.rotate at a time per bucket (the row lock serialises the check).
CREATE FUNCTION bucket_job(p_bucket uuid, p_kind text, p_extra jsonb, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE b buckets;
BEGIN
	SELECT * INTO b FROM buckets WHERE id = p_bucket FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'bucket not found' USING ERRCODE = 'P0002';
	END IF;
	IF p_kind = 'bucket.rotate' AND EXISTS (SELECT 1 FROM jobs WHERE kind = 'bucket.rotate'
	    AND server_id = b.server_id AND status IN ('queued', 'running')
	    AND payload ->> 'bucket_id' = b.id::text) THEN
		RAISE EXCEPTION 'a key rotation of this bucket is already queued or running'
			USING ERRCODE = 'LN409';
	END IF;
	RETURN job_enqueue(b.tenant_id, b.server_id, CASE WHEN p_kind = 'bucket.revoke' THEN NULL
	                   ELSE b.project_id END, p_kind,
	                   bucket_job_payload(b) || coalesce(p_extra, '{}'), p_user);
END $$;

-- POST /buckets.  p_id: the new bucket's id; p_body as the handler's field
-- table validated it.  Placement as a database's (environment given or the
-- default, project_server()).  A server without an object store gets a
-- managed one: p_store (the id its root secret p_store_sealed is bound to,
-- and the provision's {image, root_user, port}) and objstore.provision; its
-- buckets wait (provisioning) and the provision's success queues their
-- bucket.create.
CREATE FUNCTION api_bucket_create(p_id uuid, p_project uuid, p_body jsonb, p_store jsonb,
	p_store_sealed text, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE env uuid; srv uuid; nm text := p_body ->> 'name'; b buckets; s object_stores;
	bn text;
BEGIN
	env := project_environment(p_project, (p_body ->> 'environment_id')::uuid);
	srv := project_server(p_project, (p_body ->> 'server_id')::uuid);
	IF EXISTS (SELECT 1 FROM buckets WHERE project_id = p_project AND name = nm) THEN
		RAISE EXCEPTION 'name: a bucket named % already exists in this project', nm
			USING ERRCODE = 'LN409';
	END IF;
	bn := rtrim(left('lnchr-' || left(replace(p_id::text, '-', ''), 12) || '-' || nm, 63), '-.');
	INSERT INTO buckets (id, project_id, environment_id, server_id, name, bucket_name, public)
	VALUES (p_id, p_project, env, srv, nm, bn, coalesce((p_body ->> 'public')::boolean, false))
	RETURNING * INTO b;
	SELECT * INTO s FROM object_stores WHERE server_id = srv FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO object_stores (id, server_id, driver, mode, admin_access_key,
		                           admin_secret_sealed)
		VALUES ((p_store ->> 'id')::uuid, srv, 'minio', 'managed', p_store ->> 'root_user',
		        p_store_sealed)
		RETURNING * INTO s;
		PERFORM job_enqueue(s.tenant_id, srv, NULL, 'objstore.provision',
			jsonb_build_object('store_id', s.id, 'image', p_store ->> 'image',
				'root_user', s.admin_access_key, 'port', (p_store ->> 'port')::int,
				'volume_id', s.id), p_user);
	ELSIF s.status = 'failed' AND s.mode = 'managed' THEN
		UPDATE object_stores SET status = 'provisioning', status_reason = NULL WHERE id = s.id;
		PERFORM job_enqueue(s.tenant_id, srv, NULL, 'objstore.provision',
			jsonb_build_object('store_id', s.id, 'image', p_store ->> 'image',
				'root_user', s.admin_access_key, 'port', (p_store ->> 'port')::int,
				'volume_id', s.id), p_user);
	ELSIF s.status = 'ready' THEN
		PERFORM job_enqueue(b.tenant_id, srv, p_project, 'bucket.create',
		                    bucket_job_payload(b), p_user);
	END IF;
	RETURN b.id;
END $$;

-- PUT /servers/:id/object-store: registers (or replaces) the server's
-- external store, ready at once.  Refused (409) while buckets of the
-- tenant live in the store it would replace.
CREATE FUNCTION api_object_store_put(p_server uuid, p_id uuid, p_body jsonb, p_sealed text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE sid uuid;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM servers WHERE id = p_server) THEN
		RAISE EXCEPTION 'server not found' USING ERRCODE = 'P0002';
	END IF;
	IF EXISTS (SELECT 1 FROM buckets WHERE server_id = p_server) THEN
		RAISE EXCEPTION 'the server''s buckets live in its current object store; delete them first'
			USING ERRCODE = 'LN409';
	END IF;
	DELETE FROM object_stores WHERE server_id = p_server;
	INSERT INTO object_stores (id, server_id, driver, mode, endpoint, admin_endpoint, region,
	                           admin_access_key, admin_secret_sealed, status)
	VALUES (p_id, p_server, p_body ->> 'driver', 'external', p_body ->> 'endpoint',
	        p_body ->> 'admin_endpoint', coalesce(p_body ->> 'region', 'us-east-1'),
	        p_body ->> 'admin_access_key', p_sealed, 'ready')
	RETURNING id INTO sid;
	RETURN sid;
END $$;

-- The agent's new key of a running bucket.create or bucket.rotate job of
-- p_server (called by the completion, before the job's own update): the
-- key becomes the bucket's active one; a rotation retires the previous
-- one (the payload's revoke_after: the applications whose next deploy it
-- waits for; none, or immediate: revoked now, bucket.revoke queued).
-- False when the job is not such a running job (the completion then
-- answers as for any other).
CREATE FUNCTION bucket_key_add(p_job uuid, p_server uuid, p_access_key text, p_sealed text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE j jobs; bid uuid; k record; apps uuid[];
BEGIN
	SELECT * INTO j FROM jobs WHERE id = p_job AND server_id = p_server AND status = 'running'
	   AND kind IN ('bucket.create', 'bucket.rotate');
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	bid := (j.payload ->> 'bucket_id')::uuid;
	PERFORM 1 FROM buckets WHERE id = bid FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF EXISTS (SELECT 1 FROM bucket_keys WHERE bucket_id = bid AND access_key = p_access_key) THEN
		RETURN true;	-- a completion sent twice
	END IF;
	SELECT array_agg(x::uuid) INTO apps
	  FROM jsonb_array_elements_text(coalesce(j.payload -> 'revoke_after', '[]')) x;
	FOR k IN SELECT * FROM bucket_keys WHERE bucket_id = bid AND state = 'active' LOOP
		IF j.kind = 'bucket.rotate' AND NOT coalesce((j.payload ->> 'immediate')::boolean, false)
		   AND cardinality(apps) > 0 THEN
			UPDATE bucket_keys SET state = 'retiring', retired_at = now(),
			       revoke_after_deploy = apps WHERE id = k.id;
		ELSE
			UPDATE bucket_keys SET state = 'revoked', retired_at = now(),
			       revoke_after_deploy = NULL WHERE id = k.id;
			PERFORM bucket_job(bid, 'bucket.revoke',
			                   jsonb_build_object('access_key', k.access_key), j.created_by);
		END IF;
	END LOOP;
	INSERT INTO bucket_keys (tenant_id, bucket_id, access_key, secret_sealed)
	VALUES (j.tenant_id, bid, p_access_key, p_sealed);
	RETURN true;
END $$;

-- A removed bucket whose store still holds it (its project's delete, not
-- its own bucket.delete): the agent deletes it, objects and principal.
CREATE FUNCTION bucket_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
	       error = 'the bucket was deleted'
	 WHERE status IN ('queued', 'running') AND kind LIKE 'bucket.%'
	   AND kind NOT IN ('bucket.revoke', 'bucket.delete')
	   AND server_id = OLD.server_id AND payload ->> 'bucket_id' = OLD.id::text;
	IF coalesce(current_setting('launcher.bucket_gone', true), '') <> 'on'
	   AND EXISTS (SELECT 1 FROM object_stores s WHERE s.server_id = OLD.server_id
	                AND s.status = 'ready') THEN
		PERFORM job_enqueue(OLD.tenant_id, OLD.server_id, NULL, 'bucket.delete',
			bucket_job_payload(OLD) || '{"force": true}', NULL);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER buckets_removed AFTER DELETE ON buckets
	FOR EACH ROW EXECUTE FUNCTION bucket_removed();

-- A finished objstore.provision or bucket.* job moves its store or bucket.
CREATE FUNCTION bucket_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE res jsonb := coalesce(NEW.result, '{}'); ok boolean := NEW.status = 'succeeded';
	why text := coalesce(NEW.result -> 'error' ->> 'message', NEW.error,
	                     CASE NEW.status WHEN 'cancelled' THEN 'cancelled' END);
	bid uuid; b buckets;
BEGIN
	IF NEW.kind = 'objstore.provision' THEN
		IF ok AND res ->> 'endpoint' ~ '^https?://[^/?#@\s]+$' THEN
			UPDATE object_stores SET status = 'ready', status_reason = NULL,
			       endpoint = res ->> 'endpoint', admin_endpoint = NULL
			 WHERE id = (NEW.payload ->> 'store_id')::uuid AND server_id = NEW.server_id;
			FOR b IN SELECT * FROM buckets WHERE server_id = NEW.server_id
			          AND status = 'provisioning' LOOP
				PERFORM job_enqueue(b.tenant_id, b.server_id, b.project_id, 'bucket.create',
				                    bucket_job_payload(b), NEW.created_by);
			END LOOP;
		ELSE
			UPDATE object_stores SET status = 'failed',
			       status_reason = coalesce(why, 'the store answered no endpoint')
			 WHERE id = (NEW.payload ->> 'store_id')::uuid AND server_id = NEW.server_id;
			UPDATE buckets SET status = 'failed',
			       status_reason = 'the object store did not start: ' || coalesce(why, '')
			 WHERE server_id = NEW.server_id AND status = 'provisioning';
		END IF;
		RETURN NULL;
	END IF;
	IF NEW.payload ->> 'bucket_id' !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		RETURN NULL;
	END IF;
	bid := (NEW.payload ->> 'bucket_id')::uuid;
	IF NEW.kind = 'bucket.create' THEN
		UPDATE buckets SET status = CASE WHEN ok THEN 'ready' ELSE 'failed' END,
		       status_reason = CASE WHEN ok THEN NULL ELSE why END
		 WHERE id = bid AND server_id = NEW.server_id AND status = 'provisioning';
	ELSIF NEW.kind = 'bucket.delete' AND ok THEN
		PERFORM set_config('launcher.bucket_gone', 'on', true);
		DELETE FROM buckets WHERE id = bid AND server_id = NEW.server_id;
		PERFORM set_config('launcher.bucket_gone', '', true);
	ELSIF NEW.kind = 'bucket.delete' THEN
		UPDATE buckets SET status = 'ready', status_reason = 'delete: ' || coalesce(why, '')
		 WHERE id = bid AND server_id = NEW.server_id AND status = 'deleting';
	ELSIF NEW.kind IN ('bucket.rotate', 'bucket.public') AND NOT ok THEN
		UPDATE buckets SET status_reason = replace(NEW.kind, 'bucket.', '') || ' failed: '
		       || coalesce(why, '')
		 WHERE id = bid AND server_id = NEW.server_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER jobs_bucket_finished AFTER UPDATE OF status ON jobs
	FOR EACH ROW WHEN (OLD.status IN ('queued', 'running')
	                   AND NEW.status IN ('succeeded', 'failed', 'cancelled')
	                   AND (NEW.kind LIKE 'bucket.%' OR NEW.kind = 'objstore.provision'))
	EXECUTE FUNCTION bucket_job_finished();

-- An application's deploy that succeeded: the retiring keys that waited
-- for it no longer do; a key that waits for nothing more is revoked.
CREATE FUNCTION bucket_keys_after_deploy() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE k bucket_keys;
BEGIN
	FOR k IN UPDATE bucket_keys SET revoke_after_deploy = array_remove(revoke_after_deploy,
	                                                                   NEW.application_id)
	          WHERE state = 'retiring' AND NEW.application_id = ANY (revoke_after_deploy)
	          RETURNING * LOOP
		IF cardinality(k.revoke_after_deploy) = 0 THEN
			UPDATE bucket_keys SET state = 'revoked', revoke_after_deploy = NULL WHERE id = k.id;
			PERFORM bucket_job(k.bucket_id, 'bucket.revoke',
			                   jsonb_build_object('access_key', k.access_key), NULL);
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER deployments_bucket_keys AFTER UPDATE OF status ON deployments
	FOR EACH ROW WHEN (NEW.status = 'succeeded' AND OLD.status IS DISTINCT FROM 'succeeded')
	EXECUTE FUNCTION bucket_keys_after_deploy();

-- The names a template's resources may not take (047), buckets now too.
CREATE OR REPLACE FUNCTION template_taken_names(p_project uuid, p_environment uuid)
RETURNS TABLE (kind text, name text)
LANGUAGE sql STABLE AS $$
	SELECT 'database', d.name FROM databases d
	 WHERE d.project_id = p_project AND d.environment_id = p_environment
	UNION ALL
	SELECT 'application', a.name FROM applications a
	 WHERE a.project_id = p_project AND a.environment_id = p_environment
	UNION ALL
	SELECT 'volume', v.name FROM volumes v WHERE v.project_id = p_project
	UNION ALL
	SELECT 'bucket', b.name FROM buckets b WHERE b.project_id = p_project
$$;

-- Template deploys (048, 052) create buckets too: a bucket is a resource
-- kind of the record, ready once the store made it (an application that
-- references it waits for that: its env resolves the bucket's key), shown
-- with its status, removed by a failed deploy's rollback (its row goes; the
-- store's copy through bucket_removed's forced bucket.delete), and its
-- deletion by a user while the deploy runs fails the deploy.
ALTER TABLE template_deploy_resources DROP CONSTRAINT template_deploy_resources_kind_check,
	ADD CONSTRAINT template_deploy_resources_kind_check
		CHECK (kind IN ('volume', 'database', 'bucket', 'application'));

CREATE OR REPLACE FUNCTION template_resource_ready(p_kind text, p_id uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT CASE p_kind
	       WHEN 'database' THEN EXISTS (SELECT 1 FROM databases WHERE id = p_id AND status = 'running')
	       WHEN 'bucket' THEN EXISTS (SELECT 1 FROM buckets WHERE id = p_id AND status = 'ready')
	       WHEN 'application' THEN EXISTS (SELECT 1 FROM applications WHERE id = p_id
	                                        AND current_deployment_id IS NOT NULL)
	       ELSE true END
$$;

CREATE OR REPLACE FUNCTION template_deploy_resources_json(p_deploy uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('kind', r.kind, 'id', r.resource_id,
	       'name', r.name, 'status', coalesce(CASE r.kind
	           WHEN 'volume' THEN (SELECT status FROM volumes WHERE id = r.resource_id)
	           WHEN 'database' THEN (SELECT status FROM databases WHERE id = r.resource_id)
	           WHEN 'bucket' THEN (SELECT status FROM buckets WHERE id = r.resource_id)
	           ELSE (SELECT status FROM applications WHERE id = r.resource_id) END, 'removed'))
	       ORDER BY r.position), '[]')
	  FROM template_deploy_resources r WHERE r.template_deploy_id = p_deploy
$$;

-- A failed deploy's buckets go after its applications (template_deploy_fail
-- removed those; it never fails, nor does this: a bucket that cannot go is
-- named in the deploy's error).
CREATE FUNCTION template_deploy_failed_buckets() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE x record;
BEGIN
	FOR x IN SELECT r.resource_id, r.name FROM template_deploy_resources r
	           JOIN buckets b ON b.id = r.resource_id
	          WHERE r.template_deploy_id = NEW.id AND r.kind = 'bucket' ORDER BY r.position LOOP
		BEGIN
			DELETE FROM buckets WHERE id = x.resource_id;
		EXCEPTION WHEN OTHERS THEN
			UPDATE template_deploys SET error = left(error || format('; kept: bucket %s (%s)',
			       x.name, SQLERRM), 4000) WHERE id = NEW.id;
		END;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER template_deploys_failed_buckets AFTER UPDATE OF status ON template_deploys
	FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
	EXECUTE FUNCTION template_deploy_failed_buckets();
CREATE TRIGGER buckets_template_deleted AFTER DELETE ON buckets
	FOR EACH ROW EXECUTE FUNCTION template_resource_deleted('bucket');
-- A bucket of a deploy made by the store moves the deploy on (the
-- applications that waited for it start; all ready: succeeded); one that
-- failed fails it, as a database does (048).
CREATE FUNCTION template_bucket_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status = 'failed' THEN
		PERFORM template_deploy_fail(NEW.id, format('bucket %s failed: %s', NEW.name,
		                                             coalesce(NEW.status_reason, 'no reason given')));
	ELSE
		PERFORM template_deploy_step(NEW.id);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER buckets_template_deploy AFTER UPDATE OF status ON buckets
	FOR EACH ROW WHEN (NEW.status IN ('ready', 'failed') AND NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION template_bucket_changed();

GRANT EXECUTE ON FUNCTION object_store_payload(object_stores), bucket_job_payload(buckets),
	bucket_job(uuid, text, jsonb, uuid),
	api_bucket_create(uuid, uuid, jsonb, jsonb, text, uuid),
	api_object_store_put(uuid, uuid, jsonb, text),
	bucket_key_add(uuid, uuid, text, text) TO launcher_api;
