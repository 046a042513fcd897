-- 022_sealed_columns.sql - the one table of columns that hold values sealed
-- with the master key ring (fcgi/core/crypto.h, crypto_seal through
-- fcgi/core/secret.h), and the functions launcher-admin
-- rotate-master-key re-encrypts them with.
--
-- A sealed value is base64 text, prefixed with "$N$" when it was sealed
-- with ring key N > 0 (no prefix: key 0).  Its AEAD key is derived from
-- the ring key and the row's tenant; its associated data is the purpose:
-- an SQL expression over the row that yields exactly the text the handler
-- passed to secret_seal.  A later section that seals a new column adds one
-- row here in its own migration, e.g.
--   INSERT INTO sealed_columns VALUES ('registries', 'id', 'token_sealed', 'tenant_id', '''registry-token''');
-- The purpose is evaluated for each row, e.g. env_vars' (CONTRACT of issue
-- 12, section 2): 'env-var:' || scope || ':' || coalesce(application_id,
-- environment_id, project_id) || ':' || key
-- tests/api/test_key_rotation.py refuses a column named *_sealed that is
-- not listed.
--
-- Only the owner role (launcher-admin) reads the table and runs the
-- functions: the rotation works across tenants, outside row-level security.
-- The functions build their SQL from this table's row alone (identifiers
-- quoted with %I, the purpose expression as written here by a migration);
-- their text arguments only select the row, and values are parameters.

SET search_path = launcher;

CREATE TABLE sealed_columns (
	table_name    text NOT NULL,
	id_column     text NOT NULL,
	column_name   text NOT NULL,
	tenant_column text NOT NULL,
	purpose       text NOT NULL,	-- SQL expression over the row: the associated data
	PRIMARY KEY (table_name, column_name)
);
REVOKE ALL ON sealed_columns FROM PUBLIC;

-- (A column an earlier migration has removed is not listed; a later
-- migration that removes a sealed column deletes its row here.)
INSERT INTO sealed_columns (table_name, id_column, column_name, tenant_column, purpose)
SELECT v.* FROM (VALUES
	('applications', 'id', 'env_sealed', 'tenant_id', '''app-env'''),
	('applications', 'id', 'repository_credential_sealed', 'tenant_id', '''app-repo-credential'''),
	('applications', 'id', 'webhook_secret_sealed', 'tenant_id', '''app-webhook-secret'''),
	('deployments', 'id', 'env_sealed', 'tenant_id', '''app-env'''),
	('jobs', 'id', 'result_sealed', 'tenant_id', '''job-result'''),
	-- CONTRACT of issue 12, section 2 (sql/020_env_vars.sql).
	('env_vars', 'id', 'value_sealed', 'tenant_id',
	 '''env-var:'' || scope || '':'' || coalesce(application_id, environment_id, project_id) || '':'' || key')
) v (table_name, id_column, column_name, tenant_column, purpose)
WHERE EXISTS (SELECT FROM information_schema.columns c
               WHERE c.table_schema = 'launcher' AND c.table_name = v.table_name
                 AND c.column_name = v.column_name);

-- The entry of table.column; raises when there is none (a bug of the caller).
CREATE FUNCTION sealed_column(p_table text, p_column text) RETURNS sealed_columns
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	c sealed_columns;
BEGIN
	SELECT * INTO c FROM sealed_columns WHERE table_name = p_table AND column_name = p_column;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no sealed column %.%', p_table, p_column;
	END IF;
	RETURN c;
END $$;

-- How many values the column holds, how many of them start with p_prefix
-- (are under the newest key), and how many carry a key prefix that names
-- no key of a ring of p_keys keys ("$N$" with N >= p_keys, or malformed):
-- a key file older than the database.
CREATE FUNCTION sealed_count(p_table text, p_column text, p_prefix text, p_keys integer,
	OUT total bigint, OUT done bigint, OUT foreign_keys bigint)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	c sealed_columns := sealed_column(p_table, p_column);
BEGIN
	EXECUTE format('SELECT count(*), count(*) FILTER (WHERE starts_with(%1$I, $1)),'
	               ' count(*) FILTER (WHERE starts_with(%1$I, ''$'') AND NOT CASE'
	               '   WHEN split_part(%1$I, ''$'', 2) ~ ''^[1-9][0-9]?$'''
	               '   THEN split_part(%1$I, ''$'', 2)::integer < $2 ELSE false END)'
	               ' FROM %2$I WHERE %1$I IS NOT NULL', c.column_name, c.table_name)
	   INTO total, done, foreign_keys USING p_prefix, p_keys;
END $$;

-- Up to p_limit values of the column that are not under the newest key
-- (do not start with p_prefix), locked FOR UPDATE until the caller's
-- transaction ends.  Under READ COMMITTED a row changed meanwhile by
-- another transaction is re-read and checked again once its lock is
-- granted: a value another run (or a writer on the new ring) has just
-- sealed under the newest key is not returned.
CREATE FUNCTION sealed_batch(p_table text, p_column text, p_prefix text, p_limit integer)
RETURNS TABLE (row_id text, tenant_id text, purpose text, sealed text)
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	c sealed_columns := sealed_column(p_table, p_column);
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT %1$I::text, %2$I::text, (%3$s)::text, %4$I FROM %5$I'
		' WHERE %4$I IS NOT NULL AND NOT starts_with(%4$I, $1)'
		' ORDER BY %1$I LIMIT $2 FOR UPDATE',
		c.id_column, c.tenant_column, c.purpose, c.column_name, c.table_name)
		USING p_prefix, p_limit;
END $$;

-- Replaces one value, only if it is still p_old (the caller holds the
-- row's lock from sealed_batch; the check is the last guard against a
-- double re-encryption).  Sets that column alone, never row_version:
-- no ETag changes and no application becomes pending_deploy (the tables'
-- own triggers may still set updated_at).
CREATE FUNCTION sealed_put(p_table text, p_column text, p_id text, p_old text, p_new text)
RETURNS boolean
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	c  sealed_columns := sealed_column(p_table, p_column);
	ty text;
	n  integer;
BEGIN
	SELECT format_type(a.atttypid, a.atttypmod) INTO STRICT ty FROM pg_attribute a
	 WHERE a.attrelid = c.table_name::regclass AND a.attname = c.id_column;
	EXECUTE format('UPDATE %1$I SET %2$I = $3 WHERE %3$I = $1::%4$s AND %2$I = $2',
	               c.table_name, c.column_name, c.id_column, ty)
	   USING p_id, p_old, p_new;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n = 1;
END $$;

REVOKE ALL ON FUNCTION sealed_column(text, text), sealed_count(text, text, text, integer),
	sealed_batch(text, text, text, integer), sealed_put(text, text, text, text, text) FROM PUBLIC;

-- Every value of the column after row p_after (NULL: from the first), in
-- id order, p_limit at most: launcher-admin check-sealed opens them all.
CREATE FUNCTION sealed_scan(p_table text, p_column text, p_after text, p_limit integer)
RETURNS TABLE (row_id text, tenant_id text, purpose text, sealed text)
LANGUAGE plpgsql STABLE SET search_path = launcher, pg_catalog, pg_temp AS $$
DECLARE
	c  sealed_columns := sealed_column(p_table, p_column);
	ty text;
BEGIN
	SELECT format_type(a.atttypid, a.atttypmod) INTO STRICT ty FROM pg_attribute a
	 WHERE a.attrelid = c.table_name::regclass AND a.attname = c.id_column;
	RETURN QUERY EXECUTE format(
		'SELECT %1$I::text, %2$I::text, (%3$s)::text, %4$I FROM %5$I'
		' WHERE %4$I IS NOT NULL AND ($1::text IS NULL OR %1$I > $1::%6$s)'
		' ORDER BY %1$I LIMIT $2',
		c.id_column, c.tenant_column, c.purpose, c.column_name, c.table_name, ty)
		USING p_after, p_limit;
END $$;
REVOKE ALL ON FUNCTION sealed_scan(text, text, text, integer) FROM PUBLIC;
