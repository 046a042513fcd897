-- 011_project_json.sql - a project row carries its API object as JSON text.
--
-- Lists are read far more often than projects change, and PostgreSQL's
-- cost of a list page is mostly per column of every row it returns (the
-- executor deforms each attribute and the protocol sends it; binary
-- output is no cheaper): a page of 50 projects of 12 columns cost ~37 us
-- more than the same page as one text column.  So each row keeps the
-- object that GET /projects returns, written by a trigger after every
-- other BEFORE trigger of an INSERT or an UPDATE (row version and
-- updated_at first), from the row itself; list_key is the row's keyset
-- position, the payload of a list cursor.  The object is rendered exactly
-- as the pool renders a row (fcgi/core/json.c: keys in column order,
-- RFC 3339 UTC timestamps in whole seconds with Z).  A later field of the
-- project object is added here and in PROJECT_COLS (fcgi/api/projects.c)
-- in the same migration; test_projects compares list items with GET.

SET search_path = launcher;

CREATE FUNCTION json_text(v text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce(to_json(v)::text, 'null')
$$;

CREATE FUNCTION json_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce('"' || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"', 'null')
$$;

CREATE FUNCTION projects_api_json() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	NEW.api_json := '{"id":"' || NEW.id::text
		|| '","name":' || json_text(NEW.name)
		|| ',"display_name":' || json_text(NEW.display_name)
		|| ',"description":' || json_text(NEW.description)
		|| ',"color":' || json_text(NEW.color)
		|| ',"icon_path":' || json_text(NEW.icon_path)
		|| ',"single_server_mode":' || CASE WHEN NEW.single_server_mode THEN 'true' ELSE 'false' END
		|| ',"default_server_id":' || json_text(NEW.default_server_id::text)
		|| ',"auto_error_tracking_enabled":'
		|| CASE WHEN NEW.auto_error_tracking_enabled THEN 'true' ELSE 'false' END
		|| ',"created_at":' || json_time(NEW.created_at)
		|| ',"updated_at":' || json_time(NEW.updated_at)
		|| ',"owner_id":' || json_text(NEW.owner_id::text)
		|| '}';
	NEW.list_key := to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
		|| '+00|' || NEW.id::text;
	RETURN NEW;
END
$$;

ALTER TABLE projects ADD COLUMN api_json text, ADD COLUMN list_key text;
-- Trigger names order BEFORE triggers: projects_version runs first.
CREATE TRIGGER projects_zz_api_json BEFORE INSERT OR UPDATE ON projects
	FOR EACH ROW EXECUTE FUNCTION projects_api_json();
-- Existing rows, without touching their version or updated_at.
ALTER TABLE projects DISABLE TRIGGER projects_version;
UPDATE projects SET api_json = NULL;
ALTER TABLE projects ENABLE TRIGGER projects_version;
ALTER TABLE projects ALTER COLUMN api_json SET NOT NULL, ALTER COLUMN list_key SET NOT NULL;
