-- 056_bucket_keys_release.sql - one function releases a retiring bucket key
-- from whatever it waited for.
--
-- A rotation (053) keeps the old key `retiring` until every user of the
-- bucket found at the rotation (revoke_after_deploy: the ids of the
-- applications, and of anything else whose env references the bucket) has
-- deployed with the new key.  bucket_keys_release(id) is the one way such a
-- wait ends for one user: the id leaves every retiring key's list, and a key
-- that waits for nothing more is revoked (a bucket.revoke job).  The
-- deployments trigger of 053 now calls it; other events (a user deleted, a
-- function deployed) call it the same way.

SET search_path = launcher;

CREATE FUNCTION bucket_keys_release(p_user uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE k bucket_keys;
BEGIN
	FOR k IN UPDATE bucket_keys SET revoke_after_deploy = array_remove(revoke_after_deploy, p_user)
	          WHERE state = 'retiring' AND p_user = ANY (revoke_after_deploy)
	          RETURNING * LOOP
		IF cardinality(k.revoke_after_deploy) = 0 THEN
			UPDATE bucket_keys SET state = 'revoked', revoke_after_deploy = NULL WHERE id = k.id;
			PERFORM bucket_job(k.bucket_id, 'bucket.revoke',
			                   jsonb_build_object('access_key', k.access_key), NULL);
		END IF;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION bucket_keys_after_deploy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bucket_keys_release(NEW.application_id);
	RETURN NULL;
END $$;
