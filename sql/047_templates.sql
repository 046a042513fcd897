-- 047_templates.sql - the tenant's own templates (API.md §13): template
-- YAML a tenant stores beside the built-in gallery (templates_dir, read by
-- the pool; core/gallery.h), checked by core/template.c before it is
-- written.  A template belongs to the tenant (like a registry), not to a
-- project: every project of the tenant may deploy it.
--
-- name is the template's metadata.name (its slug), unique in the tenant;
-- display_name, description and tags are copied from the metadata when the
-- YAML is written, for the gallery's ?tag= and ?q= filters.  The handler
-- refuses a name that a built-in has (409), which the database cannot see.

SET search_path = launcher;

CREATE TABLE templates (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id    uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	name         text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	display_name text CHECK (length(display_name) <= 255),
	description  text CHECK (length(description) <= 4096),
	tags         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 100),
	icon         text CHECK (length(icon) <= 255),
	icon_url     text CHECK (length(icon_url) <= 2048),
	color        text CHECK (length(color) <= 32),
	category     text CHECK (length(category) <= 255),
	yaml         text NOT NULL CHECK (length(yaml) BETWEEN 1 AND 262144),
	row_version  bigint NOT NULL DEFAULT 1,
	created_by   uuid,
	created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT templates_tenant_id_id_key UNIQUE (tenant_id, id),
	CONSTRAINT templates_tenant_id_name_key UNIQUE (tenant_id, name),
	CONSTRAINT templates_created_by_fkey FOREIGN KEY (tenant_id, created_by)
		REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by)
);
-- The list's keyset order (?tag= and ?q= filter the tenant's few rows).
CREATE INDEX templates_list ON templates (tenant_id, created_at, id);
CREATE INDEX templates_created_by ON templates (created_by);
SELECT tenant_owned('templates');

-- Every PUT writes the row: the shared bump (sql/003) gives it a new ETag.
CREATE TRIGGER templates_version BEFORE UPDATE ON templates
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();

-- The names a template's resources may not take in a project's
-- environment (POST /templates/validate with project_id, and the deploy):
-- its databases and applications, and the project's volumes (a volume's
-- name is unique in the project).  Buckets have no table yet (issue 21).
CREATE FUNCTION template_taken_names(p_project uuid, p_environment uuid)
RETURNS TABLE (kind text, name text)
LANGUAGE sql STABLE AS $$
	SELECT 'database', d.name FROM databases d
	 WHERE d.project_id = p_project AND d.environment_id = p_environment
	UNION ALL
	SELECT 'application', a.name FROM applications a
	 WHERE a.project_id = p_project AND a.environment_id = p_environment
	UNION ALL
	SELECT 'volume', v.name FROM volumes v WHERE v.project_id = p_project
$$;
GRANT EXECUTE ON FUNCTION template_taken_names(uuid, uuid) TO launcher_api;
