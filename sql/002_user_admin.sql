-- 002_user_admin.sql - tenant user administration with its invariants kept
-- by the database: only superadmins manage superadmins, and the last
-- active superadmin can be neither demoted nor deactivated (race-free).

SET search_path = launcher;

CREATE FUNCTION api_user_update(p_id uuid, p_actor uuid, p_actor_role text,
	p_first text, p_last text, p_role text, p_active boolean)
RETURNS TABLE (id uuid, email text, first_name text, last_name text, role text,
	must_reset_password boolean, two_factor_enabled boolean, active boolean,
	created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE u users;
BEGIN
	SELECT * INTO u FROM users WHERE users.id = p_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
	END IF;
	IF (u.role = 'superadmin' OR p_role = 'superadmin') AND p_actor_role <> 'superadmin' THEN
		RAISE EXCEPTION 'only a superadmin can manage superadmins' USING ERRCODE = 'LN403';
	END IF;
	IF p_id = p_actor AND (p_active IS FALSE OR (p_role IS NOT NULL AND p_role <> u.role)) THEN
		RAISE EXCEPTION 'you cannot demote or deactivate yourself' USING ERRCODE = 'LN409';
	END IF;
	IF u.role = 'superadmin' AND u.active
	   AND (coalesce(p_role, 'superadmin') <> 'superadmin' OR p_active IS FALSE) THEN
		-- Serialise against concurrent demotions of the other superadmins.
		PERFORM 1 FROM users s WHERE s.role = 'superadmin' AND s.active FOR UPDATE;
		IF (SELECT count(*) FROM users s WHERE s.role = 'superadmin' AND s.active) <= 1 THEN
			RAISE EXCEPTION 'the last superadmin cannot be demoted or deactivated'
				USING ERRCODE = 'LN409';
		END IF;
	END IF;
	UPDATE users SET first_name = coalesce(p_first, users.first_name),
	                 last_name = coalesce(p_last, users.last_name),
	                 role = coalesce(p_role, users.role),
	                 active = coalesce(p_active, users.active),
	                 updated_at = now()
	 WHERE users.id = p_id RETURNING * INTO u;
	IF p_active IS FALSE THEN
		UPDATE sessions SET revoked_at = now() WHERE user_id = p_id AND revoked_at IS NULL;
	END IF;
	RETURN QUERY SELECT u.id, u.email, u.first_name, u.last_name, u.role,
		u.must_reset_password, u.two_factor_enabled, u.active, u.created_at, u.updated_at;
END $$;

GRANT EXECUTE ON FUNCTION api_user_update(uuid, uuid, text, text, text, text, boolean) TO launcher_api;
