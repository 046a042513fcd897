-- 063_fn_bucket_keys_resolved.sql - a function's deploy releases a retiring
-- bucket key only if its env was resolved after the rotation, as an
-- application's deployment does since 062.
--
-- Replaces fn_bucket_keys_after_deploy (057), which released with the
-- one-argument bucket_keys_release (any time).  A function's env is resolved
-- in the transaction of POST /functions/:id/deploy that queues the fn.deploy
-- job (functions.c, sql/057), so the job's created_at is when: an fn.deploy
-- queued before the rotation completed ran with the old key, and the key
-- keeps waiting for the function's next deploy.

SET search_path = launcher;

CREATE OR REPLACE FUNCTION fn_bucket_keys_after_deploy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ->> 'function_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		PERFORM bucket_keys_release((NEW.payload ->> 'function_id')::uuid, NEW.created_at);
	END IF;
	RETURN NULL;
END $$;
