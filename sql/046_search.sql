-- 046_search.sql - GET /search (API.md §20): one document per searchable
-- resource, kept by triggers on the resources' own tables, and the one
-- query that searches them (search_find).
--
-- Why a document table: the search is one indexed query over every type,
-- not one query per table.  Each document holds what may be searched
-- (names, labels, commit messages; an env var's key, never its value), a
-- GIN index on its tsvector (full text, prefix per word) and a vocabulary
-- of its words with a GIN trigram index (typos: search_words).
--
-- Why SECURITY DEFINER: under row-level security PostgreSQL uses a
-- condition of the caller as an index condition only when its operator is
-- leakproof; @@ and pg_trgm's operators are not, so as launcher_api every
-- search would read the tenant's documents one by one.  search_find runs
-- as the owner (no RLS) and names the tenant itself (current_tenant(), the
-- policy's own condition); the triggers run as the owner too, so that
-- every role that writes a resource (API, maintenance helpers) keeps its
-- document without grants on this table.

SET search_path = launcher;

-- Trusted since PostgreSQL 13: the database owner (the migration role)
-- may create it.  In our schema, so that the pool's search_path finds it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA launcher;

CREATE TABLE search_documents (
	id         uuid PRIMARY KEY,		-- the resource's own id
	tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	type       text NOT NULL CHECK (type IN ('project', 'application', 'database', 'volume',
	                                         'domain', 'deployment', 'env_var', 'issue', 'user')),
	project_id uuid,			-- NULL: a tenant-level document (users)
	-- The application or environment the title names beside the label,
	-- read at query time so that a rename shows at once.
	parent_id  uuid,
	name       text NOT NULL,
	label      text NOT NULL,
	body       text NOT NULL DEFAULT '',
	words      text GENERATED ALWAYS AS (lower(left(name || ' ' || label, 300))) STORED,
	tsv        tsvector GENERATED ALWAYS AS (
	               setweight(to_tsvector('simple', name), 'A') ||
	               setweight(to_tsvector('simple', label), 'B') ||
	               setweight(to_tsvector('simple', left(body, 4000)), 'C')) STORED,
	CONSTRAINT search_documents_project_id_fkey FOREIGN KEY (tenant_id, project_id)
		REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
-- The search reads the GIN index and the name index, and filters
-- the tenant on the rows they find
-- (search_query says why it is never an index condition); the btree
-- serves the foreign keys (tenant, project).
CREATE INDEX search_documents_project ON search_documents (tenant_id, project_id);
CREATE INDEX search_documents_tsv ON search_documents USING gin (tsv);
CREATE INDEX search_documents_name ON search_documents (lower(name) text_pattern_ops);

SELECT tenant_owned('search_documents');
-- Written by the triggers below (as the owner), read by search_find only.
REVOKE ALL ON search_documents FROM launcher_api;

-- The vocabulary of a tenant's documents (pg_trgm's "Text Search
-- Integration"): each distinct word of their tsvectors that is 3 to 32
-- letters (no digits: shas, numbers and numbered names gain nothing from
-- typo tolerance; their prefixes still match), with a GIN trigram index.
-- A typo is mapped to the nearest words here (a few hundred short words,
-- not thousands of documents), then the documents are found through the
-- tsvector index.  Kept by statement triggers on search_documents (a bulk
-- write adds its words in one statement); a word is never removed: a
-- stale one matches no document and costs one row.
CREATE TABLE search_words (
	tenant_id uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	word      text NOT NULL,
	PRIMARY KEY (tenant_id, word)
);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);
SELECT tenant_owned('search_words');
REVOKE ALL ON search_words FROM launcher_api;

CREATE FUNCTION search_words_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO search_words (tenant_id, word)
	SELECT DISTINCT n.tenant_id, w FROM search_new_documents n, unnest(tsvector_to_array(n.tsv)) w
	 WHERE w ~ '^[[:alpha:]]{3,32}$'
	 ORDER BY 1, 2		-- one order for every writer: no deadlock between two
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION search_words_sync() FROM PUBLIC;
-- Transition tables allow one event per trigger, and no column list.
CREATE TRIGGER search_documents_words_insert AFTER INSERT ON search_documents
	REFERENCING NEW TABLE AS search_new_documents
	FOR EACH STATEMENT EXECUTE FUNCTION search_words_sync();
CREATE TRIGGER search_documents_words_update AFTER UPDATE ON search_documents
	REFERENCING NEW TABLE AS search_new_documents
	FOR EACH STATEMENT EXECUTE FUNCTION search_words_sync();

-- ----------------------------------------------------------- documents
CREATE FUNCTION search_put(p_tenant uuid, p_type text, p_id uuid, p_project uuid, p_parent uuid,
                           p_name text, p_label text, p_body text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	INSERT INTO search_documents (tenant_id, type, id, project_id, parent_id, name, label, body)
	VALUES (p_tenant, p_type, p_id, p_project, p_parent, coalesce(p_name, ''),
	        coalesce(p_label, ''), coalesce(p_body, ''))
	ON CONFLICT (id) DO UPDATE SET project_id = EXCLUDED.project_id,
		parent_id = EXCLUDED.parent_id, name = EXCLUDED.name, label = EXCLUDED.label,
		body = EXCLUDED.body
	 -- An id is never another tenant's document to overwrite.
	 WHERE search_documents.tenant_id = EXCLUDED.tenant_id
$$;
REVOKE ALL ON FUNCTION search_put(uuid, text, uuid, uuid, uuid, text, text, text) FROM PUBLIC;

-- What each table contributes: (type, project, parent, name, label, body).
-- Only these functions decide what becomes searchable; an env var's
-- value_sealed is never read.
CREATE FUNCTION search_doc_project(p projects) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(p.tenant_id, 'project', p.id, p.id, NULL, p.name,
	                  coalesce(nullif(p.display_name, ''), p.name), p.description)
$$;
CREATE FUNCTION search_doc_application(a applications) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(a.tenant_id, 'application', a.id, a.project_id, NULL, a.name, a.name,
	                  concat_ws(' ', a.app_type, a.image_url, a.repository_url, a.branch))
$$;
CREATE FUNCTION search_doc_database(d databases) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(d.tenant_id, 'database', d.id, d.project_id, NULL, d.name,
	                  format('%s (%s %s)', d.name, d.type, d.version), d.type)
$$;
CREATE FUNCTION search_doc_volume(v volumes) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(v.tenant_id, 'volume', v.id, v.project_id, NULL, v.name, v.name, '')
$$;
CREATE FUNCTION search_doc_domain(d domains) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(d.tenant_id, 'domain', d.id, d.project_id, d.application_id, d.hostname,
	                  d.hostname || CASE d.path_prefix WHEN '/' THEN '' ELSE d.path_prefix END,
	                  replace(d.hostname, '.', ' '))
$$;
CREATE FUNCTION search_doc_deployment(d deployments) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(d.tenant_id, 'deployment', d.id, d.project_id, d.application_id,
	                  coalesce(left(d.commit_sha, 7), ''),
	                  coalesce(nullif(left(split_part(d.commit_message, E'\n', 1), 200), ''),
	                           d.image, 'deployment'),
	                  concat_ws(' ', d.commit_message, d.commit_sha, d.branch, d.image))
$$;
CREATE FUNCTION search_doc_env_var(e env_vars) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(e.tenant_id, 'env_var', e.id, e.project_id,
	                  coalesce(e.application_id, e.environment_id), e.key, e.key,
	                  e.scope || ' ' || replace(e.key, '_', ' '))
$$;
CREATE FUNCTION search_doc_issue(i issues) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(i.tenant_id, 'issue', i.id, i.project_id, i.application_id,
	                  left(i.title, 200), left(i.title, 200),
	                  concat_ws(' ', i.title, i.culprit, i.level))
$$;
CREATE FUNCTION search_doc_user(u users) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
	SELECT search_put(u.tenant_id, 'user', u.id, NULL, NULL, u.email,
	                  coalesce(nullif(trim(u.first_name || ' ' || u.last_name), ''), u.email),
	                  u.email || ' ' || u.role)
$$;

-- One trigger function for every table: the document of NEW, or none.
CREATE FUNCTION search_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM search_documents WHERE id = OLD.id;
		RETURN NULL;
	END IF;
	CASE TG_TABLE_NAME
	WHEN 'projects' THEN PERFORM search_doc_project(NEW);
	WHEN 'applications' THEN PERFORM search_doc_application(NEW);
	WHEN 'databases' THEN PERFORM search_doc_database(NEW);
	WHEN 'volumes' THEN PERFORM search_doc_volume(NEW);
	WHEN 'domains' THEN PERFORM search_doc_domain(NEW);
	WHEN 'deployments' THEN PERFORM search_doc_deployment(NEW);
	WHEN 'env_vars' THEN PERFORM search_doc_env_var(NEW);
	WHEN 'issues' THEN PERFORM search_doc_issue(NEW);
	WHEN 'users' THEN PERFORM search_doc_user(NEW);
	END CASE;
	RETURN NULL;
END $$;

-- Updates fire only when a searched column changes: status updates from
-- the agent (the hot path) never touch the documents.
CREATE TRIGGER projects_search AFTER INSERT OR DELETE OR UPDATE OF name, display_name, description
	ON projects FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER applications_search AFTER INSERT OR DELETE OR UPDATE OF name, app_type, image_url,
	repository_url, branch ON applications FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER databases_search AFTER INSERT OR DELETE OR UPDATE OF name, type, version
	ON databases FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER volumes_search AFTER INSERT OR DELETE OR UPDATE OF name
	ON volumes FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER domains_search AFTER INSERT OR DELETE OR UPDATE OF hostname, path_prefix,
	application_id ON domains FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER deployments_search AFTER INSERT OR DELETE OR UPDATE OF commit_sha, commit_message,
	branch, image ON deployments FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER env_vars_search AFTER INSERT OR DELETE OR UPDATE OF key
	ON env_vars FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER issues_search AFTER INSERT OR DELETE OR UPDATE OF title, culprit, level,
	application_id ON issues FOR EACH ROW EXECUTE FUNCTION search_sync();
CREATE TRIGGER users_search AFTER INSERT OR DELETE OR UPDATE OF email, first_name, last_name, role
	ON users FOR EACH ROW EXECUTE FUNCTION search_sync();

-- They run as the owner and take the tenant from their argument: no other
-- role may call them (a trigger's function needs no EXECUTE of the role
-- that fires it).
REVOKE ALL ON FUNCTION search_doc_project(projects), search_doc_application(applications),
	search_doc_database(databases), search_doc_volume(volumes), search_doc_domain(domains),
	search_doc_deployment(deployments), search_doc_env_var(env_vars), search_doc_issue(issues),
	search_doc_user(users), search_sync() FROM PUBLIC;

-- Back-fill what exists.
SELECT search_doc_project(p) FROM projects p;
SELECT search_doc_application(a) FROM applications a;
SELECT search_doc_database(d) FROM databases d;
SELECT search_doc_volume(v) FROM volumes v;
SELECT search_doc_domain(d) FROM domains d;
SELECT search_doc_deployment(d) FROM deployments d;
SELECT search_doc_env_var(e) FROM env_vars e;
SELECT search_doc_issue(i) FROM issues i;
SELECT search_doc_user(u) FROM users u;

-- -------------------------------------------------------------- query
-- Whether the caller may see a document (inlined into search_query's
-- branches): $3 types (NULL: all), $4 projectId (NULL: all), $5 the caller
-- sees every project (tenant admin), $6 the caller's projects otherwise,
-- $7 a service key's project (NULL: none), $8 the caller may list users.
CREATE FUNCTION search_visible(d_type text, d_project uuid, p_types text[], p_project uuid,
                               p_all boolean, p_projects uuid[], p_key_project uuid,
                               p_users boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT ($3 IS NULL OR $1 = ANY ($3))
	   AND ($4 IS NULL OR $2 = $4)
	   AND CASE WHEN $2 IS NULL THEN $8
	            ELSE ($7 IS NULL OR $2 = $7) AND ($5 OR $2 = ANY ($6)) END
$$;

-- The tsquery of a search, typo-tolerant: for each word of q (letters and
-- digits only, so never a syntax error) the word as a prefix, or any of
-- the 10 words of the tenant's vocabulary closest to it by trigram
-- similarity (pg_trgm.similarity_threshold, set by search_find: "shp" is
-- 0.29 from "shop", "shpo" 0.25, 0.18 from "shipping"; a word of fewer
-- than 3 characters is a prefix only); AND across the words of q:
-- 'deploy fix' -> (deploy:* | ...) & (fix:* | ...).  NULL when q has no
-- word.  PL/pgSQL: its lookup is planned once per connection.  The
-- tenant is a filter, not an index condition, as in search_query (below):
-- the trigram index, not the tenant's every word.
CREATE FUNCTION search_fuzzy_tsquery(q text, p_tenant uuid) RETURNS tsquery
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	RETURN (SELECT to_tsquery('simple', string_agg(alts, ' & ' ORDER BY n))
	  FROM (SELECT t.n, '(' || t.w || ':*' || coalesce((
	               SELECT string_agg(' | ' || v.word, '')
	                 FROM (SELECT s.word FROM search_words s
	                        WHERE s.word % t.w AND s.tenant_id IS NOT DISTINCT FROM p_tenant
	                          AND NOT starts_with(s.word, t.w) AND length(t.w) >= 3
	                        ORDER BY similarity(s.word, t.w) DESC, s.word
	                        LIMIT 10) v), '') || ')' AS alts
	          FROM regexp_split_to_table(lower(q), '[^[:alnum:]]+') WITH ORDINALITY AS t(w, n)
	         WHERE t.w <> '') x);
END $$;
REVOKE ALL ON FUNCTION search_fuzzy_tsquery(text, uuid) FROM PUBLIC;

-- The search: $1 q, $2 types (NULL: all), $3 projectId (NULL: all), $4
-- limit, $5 the caller sees every project (tenant admin), $6 the caller's
-- projects otherwise (computed once by search_find), $7 a service key's
-- project (NULL: none), $8 the caller may list users.  One statement over
-- two index-driven branches:
--   - documents whose text (name, label, body) matches the typo-tolerant
--     tsquery (search_fuzzy_tsquery: each word of q a prefix or one of its
--     nearest vocabulary words), from the GIN tsvector index: the 100 of
--     highest ts_rank, normalised by the document's length (1 + log), so
--     that a short name equal to the word comes before long texts that
--     also hold it;
--   - the $4 first names that start with q (btree on lower(name));
-- then the rank of those (at most 100 + $4 rows): ts_rank (name words
-- weigh most) + word similarity of q to name and label + name similarity
-- + 1 for an exact name, 0.5 for a name that starts with q; titles and
-- snippets for the rows returned only.  The tsquery and the tenant are
-- scalar subqueries: computed once per search.
--
-- The tenant is a filter, deliberately not indexable (IS NOT DISTINCT
-- FROM): the planner cannot know a tenant's size (current_tenant() is an
-- InitPlan), and with many small tenants it would read a large tenant's
-- every document through a tenant index rather than the few the text
-- indexes find.  The cost: in a plane of many tenants, the text indexes
-- also return other tenants' matches, dropped by this filter.
--
-- A plain SQL function, inlined into search_find's one statement (and
-- explained as such by tests/api/test_search.py); not for the API role.
CREATE FUNCTION search_query(q text, p_types text[], p_project uuid, p_limit integer,
                             p_all boolean, p_projects uuid[], p_key_project uuid, p_users boolean)
RETURNS TABLE (type text, id uuid, name text, project_id uuid, title text, snippet text)
LANGUAGE sql STABLE AS $$
	SELECT h.type, h.id, h.name, h.project_id,
	       CASE WHEN h.type IN ('project', 'user') THEN h.label
	            ELSE h.label || ' · ' || coalesce(
	                (SELECT a.name FROM launcher.applications a WHERE a.id = h.parent_id),
	                (SELECT e.name FROM launcher.environments e WHERE e.id = h.parent_id),
	                (SELECT p.name FROM launcher.projects p WHERE p.id = h.project_id)) END,
	       CASE WHEN h.body = '' OR h.type = 'env_var' THEN ''
	            ELSE coalesce(ts_headline('simple', left(h.body, 2000),
	                                      (SELECT launcher.search_fuzzy_tsquery($1,
	                                              launcher.current_tenant())),
	                          'MaxWords=24, MinWords=8, StartSel="", StopSel=""'),
	                          left(h.body, 160)) END
	  FROM (SELECT c.*,
	               coalesce(ts_rank(c.tsv, (SELECT launcher.search_fuzzy_tsquery($1,
	                                               launcher.current_tenant()))), 0)
	               + launcher.word_similarity(lower($1), c.words)
	               + launcher.similarity(lower($1), lower(c.name))
	               + CASE WHEN lower(c.name) = lower($1) THEN 1
	                      WHEN starts_with(lower(c.name), lower($1)) THEN 0.5 ELSE 0 END AS score
	          FROM ((SELECT d.type, d.id, d.name, d.project_id, d.parent_id, d.label, d.body,
	                        d.tsv, d.words
	                   FROM launcher.search_documents d
	                  WHERE d.tsv @@ (SELECT launcher.search_fuzzy_tsquery($1, launcher.current_tenant()))
	                    AND d.tenant_id IS NOT DISTINCT FROM (SELECT launcher.current_tenant())
	                    AND launcher.search_visible(d.type, d.project_id, $2, $3, $5, $6, $7, $8)
	                  ORDER BY ts_rank(d.tsv, (SELECT launcher.search_fuzzy_tsquery($1,
	                                                  launcher.current_tenant())), 1) DESC, d.id
	                  LIMIT 100)
	                UNION
	                (SELECT d.type, d.id, d.name, d.project_id, d.parent_id, d.label, d.body,
	                        d.tsv, d.words
	                   FROM launcher.search_documents d
	                  WHERE lower(d.name) OPERATOR(pg_catalog.~>=~) lower($1)
	                    AND lower(d.name) OPERATOR(pg_catalog.~<~) (lower($1) || chr(1114111))
	                    AND d.tenant_id IS NOT DISTINCT FROM (SELECT launcher.current_tenant())
	                    AND launcher.search_visible(d.type, d.project_id, $2, $3, $5, $6, $7, $8)
	                  ORDER BY lower(d.name)
	                  LIMIT $4)) c
	         ORDER BY score DESC, c.name, c.id
	         LIMIT $4) h
	 ORDER BY h.score DESC, h.name, h.id
$$;
REVOKE ALL ON FUNCTION search_query(text, text[], uuid, integer, boolean, uuid[], uuid, boolean) FROM PUBLIC;

-- What the API calls: the caller's projects, once, then the one statement.
-- plan_cache_mode force_generic_plan: the statement is planned once per
-- connection, without its parameters (planning it for each search cost
-- more than running it); enable_seqscan off: in such a plan the planner
-- cannot estimate what a GIN index returns and, on a table of some
-- thousand rows, chose to read it all; a search always goes through its
-- indexes.  Both core settings, in the SET clause: in force for this
-- function only.  pg_trgm.similarity_threshold 0.24 (default 0.3)
-- lets "shp" (0.29) find "shop" and a transposition in a short word
-- ("shpo", 0.25) still count; it is set for the transaction (a GET is one
-- statement), not in the SET clause: PostgreSQL lets only a superuser
-- store a setting of a module not yet loaded, which a restore would hit.
CREATE FUNCTION search_find(q text, p_types text[], p_project uuid, p_limit integer,
                            p_all boolean, p_user uuid, p_key_project uuid, p_users boolean)
RETURNS TABLE (type text, id uuid, name text, project_id uuid, title text, snippet text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = launcher, pg_catalog, pg_temp
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	v_projects uuid[];	-- NULL when the caller sees every project
BEGIN
	PERFORM set_config('pg_trgm.similarity_threshold', '0.24', true);
	IF NOT p_all THEN
		v_projects := ARRAY(SELECT m.project_id FROM project_members m
		                     WHERE m.user_id = p_user AND m.tenant_id = current_tenant());
	END IF;
	RETURN QUERY SELECT * FROM search_query(q, p_types, p_project, p_limit, p_all, v_projects,
	                                        p_key_project, p_users);
END $$;
REVOKE ALL ON FUNCTION search_find(text, text[], uuid, integer, boolean, uuid, uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_find(text, text[], uuid, integer, boolean, uuid, uuid, boolean)
	TO launcher_api;
