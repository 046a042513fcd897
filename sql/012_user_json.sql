-- 012_user_json.sql - a user row carries its API object as JSON text, as
-- projects do (011_project_json.sql): every authenticated request reads
-- its principal's row, and /auth/me answers with the object, so the
-- principal statement returns one rendered column instead of ten.  The
-- object is the one USER_COLS (fcgi/api/users_common.h) renders, field
-- for field; test_users compares /auth/me with GET /users/{id}.

SET search_path = launcher;

CREATE FUNCTION users_api_json() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	NEW.api_json := '{"id":"' || NEW.id::text
		|| '","email":' || json_text(NEW.email)
		|| ',"first_name":' || json_text(NEW.first_name)
		|| ',"last_name":' || json_text(NEW.last_name)
		|| ',"role":' || json_text(NEW.role)
		|| ',"must_reset_password":' || CASE WHEN NEW.must_reset_password THEN 'true' ELSE 'false' END
		|| ',"two_factor_enabled":' || CASE WHEN NEW.two_factor_enabled THEN 'true' ELSE 'false' END
		|| ',"active":' || CASE WHEN NEW.active THEN 'true' ELSE 'false' END
		|| ',"created_at":' || json_time(NEW.created_at)
		|| ',"updated_at":' || json_time(NEW.updated_at)
		|| '}';
	RETURN NEW;
END
$$;

ALTER TABLE users ADD COLUMN api_json text;
-- After users_sessions_end (BEFORE triggers run in name order).
CREATE TRIGGER users_zz_api_json BEFORE INSERT OR UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION users_api_json();
UPDATE users SET api_json = NULL;
ALTER TABLE users ALTER COLUMN api_json SET NOT NULL;
