-- 034_delete_unless_used.sql - one conditional "delete unless something
-- still uses it" for the resources whose DELETE answers 409 naming their
-- users (git providers, registries, volumes: db_delete() in the pool).
-- It replaces three copies of the same function.

SET search_path = launcher;

-- DELETE of p_table's row p_id: 404 (P0002, "<p_what> not found") for no
-- such row (RLS applies: another tenant's row is none), false when
-- p_version no longer matches, 409 (LN409, format(p_refusal, name, users))
-- while p_used_by(p_id) names users, else the row is deleted (true).  The
-- row lock orders it after a concurrent write that references the row
-- (whose key check locks it KEY SHARE), which p_used_by then sees.
-- p_table and p_used_by are identifiers checked by their reg* types.
CREATE FUNCTION delete_unless_used(p_table regclass, p_id uuid, p_version bigint, p_what text,
	p_used_by regproc, p_refusal text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE r_name text; r_version bigint; users text; n integer;
BEGIN
	EXECUTE format('SELECT name, row_version FROM %s WHERE id = $1 FOR UPDATE', p_table)
	   INTO r_name, r_version USING p_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RAISE EXCEPTION '% not found', p_what USING ERRCODE = 'P0002';
	END IF;
	IF p_version IS NOT NULL AND r_version <> p_version THEN
		RETURN false;
	END IF;
	EXECUTE format('SELECT %s($1)', p_used_by) INTO users USING p_id;
	IF users IS NOT NULL THEN
		RAISE EXCEPTION '%', format(p_refusal, r_name, users) USING ERRCODE = 'LN409';
	END IF;
	EXECUTE format('DELETE FROM %s WHERE id = $1', p_table) USING p_id;
	RETURN true;
END $$;

GRANT EXECUTE ON FUNCTION delete_unless_used(regclass, uuid, bigint, text, regproc, text)
	TO launcher_api;

DROP FUNCTION api_git_provider_delete(uuid, bigint);
DROP FUNCTION api_registry_delete(uuid, bigint);
DROP FUNCTION api_volume_delete(uuid, bigint);
