-- 017_app_hostnames.sql - an application's hostname is stored, and unique
-- across the installation.
--
-- <app>-<project>.<base_domain> is ambiguous: app "a-b" of project "cc"
-- and app "a" of project "b-cc" both make "a-b-cc.<domain>", in one tenant
-- or in two, and the edge nginx would serve whichever site it read first.
-- So the name is chosen once, when the app is created (or renamed, moved,
-- or its project or server's base_domain renamed), and kept in
-- applications.hostname under a unique index.  A unique index sees every
-- row whatever the row-level security policies hide, so it holds across
-- tenants; the choice itself looks across tenants too (the trigger runs
-- as the owner of the table, which RLS does not restrict; the API role
-- cannot call the chooser itself) and, when the plain name is taken,
-- appends "-" and six hex digits derived from the app's id.
-- A transaction-level advisory lock on the candidate makes a concurrent
-- choice of the same name wait for the first one's commit and then see
-- it (READ COMMITTED: each statement of the function takes a new
-- snapshot), so two creations never both pick one name.

SET search_path = launcher;

ALTER TABLE applications ADD COLUMN hostname text;

-- The hostname for a (NULL for workers): the plain name when no other
-- application holds it, else the first free suffixed one.
CREATE FUNCTION app_hostname_pick(a applications)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE label text; domain text; cand text; n integer := 0;
BEGIN
	IF a.app_type = 'worker' THEN
		RETURN NULL;
	END IF;
	SELECT lower(a.name || '-' || p.name), lower(coalesce(nullif(s.base_domain, ''), 'localhost'))
	  INTO label, domain
	  FROM projects p, servers s WHERE p.id = a.project_id AND s.id = a.server_id;
	cand := label || '.' || domain;
	LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('app-hostname:' || cand, 0));
		IF NOT EXISTS (SELECT 1 FROM applications WHERE hostname = cand AND id <> a.id) THEN
			RETURN cand;
		END IF;
		n := n + 1;
		IF n > 100 THEN
			RAISE EXCEPTION 'no free hostname for application %', a.id;
		END IF;
		-- 56 + 7 keeps the first label within DNS's 63 bytes.
		cand := rtrim(left(label, 56), '-') || '-' || substr(md5(a.id::text || ':' || n), 1, 6)
		        || '.' || domain;
	END LOOP;
END $$;
REVOKE ALL ON FUNCTION app_hostname_pick(applications) FROM PUBLIC;

-- Existing applications, oldest first: the first holder of a name keeps
-- it, later ones get the suffix (the same result on every installation).
DO $$
DECLARE a applications;
BEGIN
	FOR a IN SELECT * FROM applications WHERE app_type <> 'worker' ORDER BY created_at, id LOOP
		UPDATE applications SET hostname = app_hostname_pick(a) WHERE id = a.id;
	END LOOP;
END $$;

CREATE UNIQUE INDEX applications_hostname ON applications (hostname);

-- Chosen on insert, and again when what it is made of changes; a value
-- written directly is replaced by the chosen one.  SECURITY DEFINER: the
-- choice must see every tenant's hostnames (see the top of this file).
CREATE FUNCTION app_hostname_set() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	IF TG_OP = 'INSERT' OR NEW.hostname IS DISTINCT FROM OLD.hostname OR
	   (NEW.name, NEW.project_id, NEW.server_id, NEW.app_type) IS DISTINCT FROM
	   (OLD.name, OLD.project_id, OLD.server_id, OLD.app_type) THEN
		NEW.hostname := app_hostname_pick(NEW);
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION app_hostname_set() FROM PUBLIC;
CREATE TRIGGER applications_hostname BEFORE INSERT OR UPDATE ON applications
	FOR EACH ROW EXECUTE FUNCTION app_hostname_set();

-- A renamed project or a new base_domain renames its applications' hosts
-- (setting NULL makes the trigger above choose again), oldest first, as
-- the migration above did: of two that now want one name, the older keeps
-- it, whatever order an UPDATE would have visited them in.
CREATE FUNCTION app_hostname_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE aid uuid;
BEGIN
	FOR aid IN SELECT id FROM applications
	            WHERE app_type <> 'worker'
	              AND CASE WHEN TG_TABLE_NAME = 'projects' THEN project_id ELSE server_id END = NEW.id
	            ORDER BY created_at, id LOOP
		UPDATE applications SET hostname = NULL WHERE id = aid;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER projects_app_hostnames AFTER UPDATE OF name ON projects
	FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION app_hostname_follow();
CREATE TRIGGER servers_app_hostnames AFTER UPDATE OF base_domain ON servers
	FOR EACH ROW WHEN (NEW.base_domain IS DISTINCT FROM OLD.base_domain)
	EXECUTE FUNCTION app_hostname_follow();

-- The one reader (API objects, job payloads) now returns the stored name.
CREATE OR REPLACE FUNCTION app_hostname(a applications)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT a.hostname
$$;
