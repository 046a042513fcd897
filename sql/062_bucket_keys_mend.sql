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
-- Replaced here (CREATE OR REPLACE, same signatures):
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
