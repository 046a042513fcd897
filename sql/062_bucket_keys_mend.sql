-- 062_bucket_keys_mend.sql - a retiring bucket key (053) waits only for
-- what may still run with it.
--
-- An application deleted (alone or with its project) while a key waits
-- for its next deploy will never deploy: its delete releases it, through
-- bucket_keys_release (056), so the key is revoked when nobody is left.
--
-- A deployment's success counts as "deployed with the new key" only when
-- its env was resolved after the key was retired.  Where that happens: at
-- the deployment's creation.  The deploy request (apps_release_env,
-- fcgi/api/app_actions.c; a push webhook's deploy_one likewise) resolves
-- every reference, ${bucket.x.access_key} included, and seals the snapshot
-- into deployments.env_sealed in the transaction that inserts the row
-- (api_deploy, 049); the agent's claim only opens that snapshot.  So a
-- deployment queued (or already running) before a rotation and succeeding
-- after it runs the OLD key.  A rollback re-applies its target's snapshot
-- (api_deploy: old.env_sealed): its env dates from its target's creation,
-- followed through rollbacks of rollbacks (a rollback whose target is gone,
-- rollback_of set NULL: unknown, counts for nothing).  A key's retired_at is
-- when the rotation's completion made the new key the active one
-- (bucket_key_add, 053, now()).  Hence: a deployment's success releases the
-- keys retired before its env's resolution time (deployment_env_resolved_at
-- below) and no other.  The timestamps come from one clock (the database's);
-- deployments.created_at is clock_timestamp() at the insert, which follows
-- the resolution in the same transaction.  One narrow case is not told
-- apart: a deploy request that resolved its env before the rotation's
-- completion committed but inserted its row after that completion began
-- (the two requests overlapping, milliseconds) counts as resolved after.
--
-- The managed object store's container (objstore.provision, its label
-- launcher.objstore) is in the agent's instance report like a database's,
-- as "objstore_id" (fcgi/agent/report.c): objstore_instances below follows
-- it as database_instances (023) follows a database's.  A ready managed
-- store with no objstore.provision queued or running gets container_status
-- `crashed` when its container is not running or restarted on its own
-- since the last report (restart_count: the engine's count as last
-- reported), with status_reason saying which; `running` again, the reason
-- cleared, when it runs without restarting.  status stays `ready` (what
-- buckets, references and the agent's bucket.* jobs wait for: the store is
-- provisioned; the crash is its container's runtime state, as databases'
-- status_reason).  NULL: an external store, or none reported yet.
--
-- Replaced here (CREATE OR REPLACE, same signatures):
--   - database_instances() (023's): its crash rule moves to container_crash(),
--     which objstore_instances() uses too (one rule for both containers);
--   - bucket_keys_after_deploy() (056's, the deployments trigger): passes
--     the deployment's env resolution time;
--   - bucket_keys_release(uuid) (056's): now bucket_keys_release(id,
--     'infinity'), every key waiting for the id, as before.  The body moves
--     to bucket_keys_release(uuid, timestamptz), which releases only the
--     keys retired before the given time; it stays the one way a wait ends.
--     It passes over the keys of a bucket deleted in the same transaction
--     (a project's delete removes its applications and its buckets; the
--     buckets' keys follow by cascade, possibly after the applications'
--     triggers ran): those go with their bucket (bucket_removed, 053),
--     and queueing their bucket.revoke would fail on the missing bucket.

SET search_path = launcher;

CREATE FUNCTION bucket_keys_release(p_user uuid, p_resolved_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE k bucket_keys;
BEGIN
	FOR k IN UPDATE bucket_keys SET revoke_after_deploy = array_remove(revoke_after_deploy, p_user)
	          WHERE state = 'retiring' AND p_user = ANY (revoke_after_deploy)
	            AND coalesce(retired_at, '-infinity') < p_resolved_at
	            AND EXISTS (SELECT 1 FROM buckets b WHERE b.id = bucket_keys.bucket_id)
	          RETURNING * LOOP
		IF cardinality(k.revoke_after_deploy) = 0 THEN
			UPDATE bucket_keys SET state = 'revoked', revoke_after_deploy = NULL WHERE id = k.id;
			PERFORM bucket_job(k.bucket_id, 'bucket.revoke',
			                   jsonb_build_object('access_key', k.access_key), NULL);
		END IF;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION bucket_keys_release(p_user uuid) RETURNS void
LANGUAGE sql AS $$
	SELECT bucket_keys_release(p_user, 'infinity');
$$;

-- When the env deployment p_deployment runs with was resolved (above);
-- NULL when unknown.
CREATE FUNCTION deployment_env_resolved_at(p_deployment uuid) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE d AS (
		SELECT id, trigger, rollback_of, created_at, 1 AS depth
		  FROM deployments WHERE id = p_deployment
		UNION ALL
		SELECT o.id, o.trigger, o.rollback_of, o.created_at, d.depth + 1
		  FROM deployments o JOIN d ON o.id = d.rollback_of
		 WHERE d.depth < 1000)
	SELECT created_at FROM d WHERE rollback_of IS NULL AND trigger <> 'rollback';
$$;

CREATE OR REPLACE FUNCTION bucket_keys_after_deploy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bucket_keys_release(NEW.application_id,
	                            coalesce(deployment_env_resolved_at(NEW.id), '-infinity'));
	RETURN NULL;
END $$;

-- A deleted application (or its project's) releases what waited for it.
CREATE FUNCTION bucket_keys_app_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bucket_keys_release(OLD.id);
	RETURN NULL;
END $$;
CREATE TRIGGER applications_bucket_keys AFTER DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION bucket_keys_app_removed();

-- The managed store's container as the instance report shows it (above).
ALTER TABLE object_stores
	ADD COLUMN container_status text CHECK (container_status IN ('running', 'crashed')),
	ADD COLUMN container_id     text,
	ADD COLUMN restart_count    integer NOT NULL DEFAULT 0;

-- The crash rule of a reported container, one for databases' (023) and
-- the store's: was (running|crashed) and known (restart_count as last
-- reported) against the report's state, restarts and exit code.  crash:
-- it stopped, or restarted on its own since; back: a crashed one runs
-- again without restarting; reason: what status_reason says of a crash.
CREATE FUNCTION container_crash(p_was text, p_known integer, p_state text,
	p_restarts integer, p_exit integer, OUT crash boolean, OUT back boolean, OUT reason text)
LANGUAGE sql IMMUTABLE AS $$
	SELECT p_was = 'running' AND (p_state <> 'running' OR p_restarts > p_known),
	       p_was = 'crashed' AND p_state = 'running' AND p_restarts <= p_known,
	       CASE WHEN p_state <> 'running' THEN format('the container is %s%s', p_state,
	                 coalesce(' (exit code ' || p_exit || ')', ''))
	            ELSE format('the container restarted by itself (%s restarts)', p_restarts) END;
$$;

-- 023's, its crash rule now container_crash().
CREATE OR REPLACE FUNCTION database_instances(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	WITH rep AS (
		SELECT DISTINCT ON (d.id) d.id, d.status AS was, d.restart_count AS known,
		       coalesce(x.state, x.status, 'unknown') AS state,
		       coalesce(x.restart_count, 0) AS restarts, x.exit_code,
		       CASE WHEN x.container_id ~ '^[0-9a-f]{12,64}$' THEN x.container_id END AS cid
		  FROM jsonb_to_recordset(p_items) AS x(database_id text, container_id text,
		       state text, status text, restart_count integer, exit_code integer)
		  JOIN databases d ON d.id = CASE WHEN x.database_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
		                                  THEN x.database_id::uuid END
		 WHERE d.server_id = p_server AND d.status IN ('running', 'crashed')
		   AND d.pending_action IS NULL
		   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = p_server
		                    AND j.status IN ('queued', 'running') AND j.kind LIKE 'db.%'
		                    AND j.payload ->> 'database_id' = d.id::text)
		 ORDER BY d.id, x.restart_count DESC NULLS LAST)
	UPDATE databases d SET
	       status = CASE WHEN x.crash THEN 'crashed' WHEN x.back THEN 'running' ELSE d.status END,
	       status_reason = CASE WHEN x.crash THEN x.reason WHEN x.back THEN NULL
	                       ELSE d.status_reason END,
	       restart_count = x.restarts, container_id = coalesce(x.cid, d.container_id)
	  FROM (SELECT rep.*, c.* FROM rep,
	               container_crash(rep.was, rep.known, rep.state, rep.restarts, rep.exit_code) c) x
	 WHERE d.id = x.id AND (x.crash OR x.back OR x.restarts <> x.known);
END $$;

-- The store's container (above): container_status NULL counts as running.
CREATE FUNCTION objstore_instances(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	WITH rep AS (
		SELECT DISTINCT ON (s.id) s.id, coalesce(s.container_status, 'running') AS was,
		       s.container_status IS NULL AS fresh, s.restart_count AS known,
		       coalesce(x.state, x.status, 'unknown') AS state,
		       coalesce(x.restart_count, 0) AS restarts, x.exit_code,
		       CASE WHEN x.container_id ~ '^[0-9a-f]{12,64}$' THEN x.container_id END AS cid
		  FROM jsonb_to_recordset(p_items) AS x(objstore_id text, container_id text,
		       state text, status text, restart_count integer, exit_code integer)
		  JOIN object_stores s ON s.id = CASE WHEN x.objstore_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
		                                      THEN x.objstore_id::uuid END
		 WHERE s.server_id = p_server AND s.mode = 'managed' AND s.status = 'ready'
		   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.server_id = p_server
		                    AND j.status IN ('queued', 'running') AND j.kind = 'objstore.provision')
		 ORDER BY s.id, x.restart_count DESC NULLS LAST)
	UPDATE object_stores s SET
	       container_status = CASE WHEN x.crash THEN 'crashed' WHEN x.back THEN 'running'
	                          ELSE x.was END,
	       status_reason = CASE WHEN x.crash THEN x.reason WHEN x.back THEN NULL
	                       ELSE s.status_reason END,
	       restart_count = x.restarts, container_id = coalesce(x.cid, s.container_id)
	  FROM (SELECT rep.*, c.* FROM rep,
	               container_crash(rep.was, rep.known, rep.state, rep.restarts, rep.exit_code) c) x
	 WHERE s.id = x.id AND (x.crash OR x.back OR x.fresh OR x.restarts <> x.known
	                        OR x.cid IS DISTINCT FROM coalesce(s.container_id, x.cid));
END $$;
