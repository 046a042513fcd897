-- 059_hostnames.sql - one choice of every default hostname: applications',
-- functions' (with an http trigger) and public buckets'.
--
-- The three follow one convention, <name>-<project>.<server base_domain>
-- (localhost without one), and share the edge's server_name space: a
-- function named as an application of its project, or "a-b" in project
-- "c" against "a" in project "b-c", made the same name twice, and the
-- edge refused the second site.  sql/017 stored applications' names and
-- chose them installation-wide; functions' and buckets' were computed
-- (fn_hostname, sql/054; bucket_hostname, sql/053).
--
-- The design: each owner keeps its name in its own row (applications.
-- hostname as before, functions.hostname and buckets.hostname here, each
-- under a unique index), and ONE chooser, hostname_pick, picks every one
-- of them: it tries 017's candidate sequence (the plain name, then "-" and
-- six hex digits of md5(owner id:n)) and takes the first that no row of
-- the three tables holds, under the same per-candidate advisory lock as
-- 017's (so a concurrent choice of one name, whatever the kind, waits for
-- the first one's commit and then sees it).  A second reservation table
-- would hold the same names twice and need delete triggers to free them;
-- here a deleted row, a function whose http trigger goes or a bucket made
-- private (NULL) frees its name with the row itself.
--
-- Replaced here (CREATE OR REPLACE, never edited in place):
--   - app_hostname_pick (017): the chooser of applications, now a call of
--     hostname_pick (so an application sees functions' and buckets' names);
--   - app_hostname_set (017), the applications' trigger: dropped for
--     hostname_set, one trigger function on the three tables;
--   - app_hostname_follow (017): a renamed project or base_domain chooses
--     again for its applications, functions and public buckets together,
--     oldest first across the three;
--   - fn_hostname (054) and bucket_hostname (053): the readers (API
--     objects, ${fn.<name>.url}, the fn.* and bucket.* job payloads and so
--     the edge sites) return the stored name.
-- Who wants a name: an application but a worker; a function with an http
-- trigger; a public bucket.  The choice is made on insert and again when
-- what the name is made of, or whether one is wanted, changes; a value
-- written directly is replaced by the chosen one.  The triggers are
-- SECURITY DEFINER: the choice must see every tenant's names (row-level
-- security hides them from the API role), as 017's.
-- Existing rows: applications keep their names; functions and public
-- buckets choose oldest first, so one holding an application's name (or an
-- older one's) gets the next candidate.

SET search_path = launcher;

ALTER TABLE functions ADD COLUMN hostname text;
ALTER TABLE buckets ADD COLUMN hostname text;

-- The default hostname of owner p_id (an application, function or bucket
-- id) named p_name in project p_project on server p_server: the plain name
-- when no other owner holds it, else the first free suffixed one.
CREATE FUNCTION hostname_pick(p_id uuid, p_name text, p_project uuid, p_server uuid)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE label text; domain text; cand text; n integer := 0;
BEGIN
	SELECT lower(p_name || '-' || p.name), lower(coalesce(nullif(s.base_domain, ''), 'localhost'))
	  INTO label, domain
	  FROM projects p, servers s WHERE p.id = p_project AND s.id = p_server;
	cand := label || '.' || domain;
	LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('app-hostname:' || cand, 0));
		-- One statement: its snapshot is taken after the lock (READ COMMITTED).
		IF NOT EXISTS (SELECT 1 FROM applications WHERE hostname = cand AND id <> p_id
		               UNION ALL
		               SELECT 1 FROM functions WHERE hostname = cand AND id <> p_id
		               UNION ALL
		               SELECT 1 FROM buckets WHERE hostname = cand AND id <> p_id) THEN
			RETURN cand;
		END IF;
		n := n + 1;
		IF n > 100 THEN
			RAISE EXCEPTION 'no free hostname for %', p_id;
		END IF;
		-- 56 + 7 keeps the first label within DNS's 63 bytes.
		cand := rtrim(left(label, 56), '-') || '-' || substr(md5(p_id::text || ':' || n), 1, 6)
		        || '.' || domain;
	END LOOP;
END $$;
REVOKE ALL ON FUNCTION hostname_pick(uuid, text, uuid, uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION app_hostname_pick(a applications)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF a.app_type = 'worker' THEN
		RETURN NULL;
	END IF;
	RETURN hostname_pick(a.id, a.name, a.project_id, a.server_id);
END $$;

-- Existing functions and public buckets, oldest first (applications keep
-- theirs).
DO $$
DECLARE o record;
BEGIN
	FOR o IN SELECT 'function' AS kind, id, name, project_id, server_id, created_at FROM functions
	          WHERE triggers @> '[{"type": "http"}]'
	         UNION ALL
	         SELECT 'bucket', id, name, project_id, server_id, created_at FROM buckets WHERE public
	         ORDER BY created_at, id LOOP
		IF o.kind = 'function' THEN
			UPDATE functions SET hostname = hostname_pick(o.id, o.name, o.project_id, o.server_id)
			 WHERE id = o.id;
		ELSE
			UPDATE buckets SET hostname = hostname_pick(o.id, o.name, o.project_id, o.server_id)
			 WHERE id = o.id;
		END IF;
	END LOOP;
END $$;

CREATE UNIQUE INDEX functions_hostname ON functions (hostname);
CREATE UNIQUE INDEX buckets_hostname ON buckets (hostname);

-- One trigger on the three tables (017's app_hostname_set gives way to
-- it): the name is chosen on insert, and again when what it is made of or
-- whether one is wanted changes; a value written directly is replaced by
-- the chosen one.  Each IF branch names its own table's columns: PL/pgSQL
-- compiles a trigger function per table and plans a statement only when it
-- first runs, so a branch is never planned against another table's row.
CREATE FUNCTION hostname_set() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE wanted boolean; was boolean;
BEGIN
	IF TG_TABLE_NAME = 'applications' THEN
		wanted := NEW.app_type <> 'worker';
		was := TG_OP = 'UPDATE' AND OLD.app_type <> 'worker';
	ELSIF TG_TABLE_NAME = 'functions' THEN
		wanted := NEW.triggers @> '[{"type": "http"}]';
		was := TG_OP = 'UPDATE' AND OLD.triggers @> '[{"type": "http"}]';
	ELSE
		wanted := NEW.public;
		was := TG_OP = 'UPDATE' AND OLD.public;
	END IF;
	IF TG_OP = 'INSERT' OR NEW.hostname IS DISTINCT FROM OLD.hostname OR
	   (NEW.name, NEW.project_id, NEW.server_id, wanted) IS DISTINCT FROM
	   (OLD.name, OLD.project_id, OLD.server_id, was) THEN
		NEW.hostname := CASE WHEN wanted
		                     THEN hostname_pick(NEW.id, NEW.name, NEW.project_id, NEW.server_id) END;
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION hostname_set() FROM PUBLIC;
DROP TRIGGER applications_hostname ON applications;
DROP FUNCTION app_hostname_set();
CREATE TRIGGER applications_hostname BEFORE INSERT OR UPDATE ON applications
	FOR EACH ROW EXECUTE FUNCTION hostname_set();
CREATE TRIGGER functions_hostname BEFORE INSERT OR UPDATE ON functions
	FOR EACH ROW EXECUTE FUNCTION hostname_set();
CREATE TRIGGER buckets_hostname BEFORE INSERT OR UPDATE ON buckets
	FOR EACH ROW EXECUTE FUNCTION hostname_set();

-- A renamed project or a new base_domain chooses again (setting NULL makes
-- the triggers above choose) for every owner of a name there, oldest first
-- across the three kinds: of two that now want one name, the older keeps
-- it, whatever order an UPDATE would have visited them in.
CREATE OR REPLACE FUNCTION app_hostname_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE o record; on_project boolean := TG_TABLE_NAME = 'projects';
BEGIN
	FOR o IN SELECT 'application' AS kind, id, created_at FROM applications
	          WHERE app_type <> 'worker'
	            AND CASE WHEN on_project THEN project_id ELSE server_id END = NEW.id
	         UNION ALL
	         SELECT 'function', id, created_at FROM functions
	          WHERE hostname IS NOT NULL
	            AND CASE WHEN on_project THEN project_id ELSE server_id END = NEW.id
	         UNION ALL
	         SELECT 'bucket', id, created_at FROM buckets
	          WHERE hostname IS NOT NULL
	            AND CASE WHEN on_project THEN project_id ELSE server_id END = NEW.id
	         ORDER BY created_at, id LOOP
		CASE o.kind
		WHEN 'application' THEN UPDATE applications SET hostname = NULL WHERE id = o.id;
		WHEN 'function' THEN UPDATE functions SET hostname = NULL WHERE id = o.id;
		ELSE UPDATE buckets SET hostname = NULL WHERE id = o.id;
		END CASE;
	END LOOP;
	RETURN NULL;
END $$;

-- The readers return the stored name (NULL: the function has no http
-- trigger, the bucket is private).
CREATE OR REPLACE FUNCTION fn_hostname(f functions)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT f.hostname
$$;

CREATE OR REPLACE FUNCTION bucket_hostname(b buckets)
RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT b.hostname
$$;
