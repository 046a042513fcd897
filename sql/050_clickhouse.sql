-- 050_clickhouse.sql - managed databases of type clickhouse (API.md §5;
-- the image table's row: conf/database-images.conf, README "Database
-- images"): the type's CHECK, and backups refused for it.
--
-- A clickhouse database is reached over its HTTP interface (port 8123:
-- ${db.<name>.port}; its url is http://user:password@host:8123/name), as
-- the applications that use one (Plausible) take it.  Its user is "app"
-- and its database the name with '-' as '_', as for postgres and mysql
-- (api_database_create).  Backups, schedules and point-in-time recovery
-- are not supported: a dump needs clickhouse-specific tooling this
-- version does not have; they are refused with 400 naming "type" (PITR:
-- "pitr_enabled", as for every type but postgres, sql/037).

SET search_path = launcher;

ALTER TABLE databases DROP CONSTRAINT databases_type_check;
ALTER TABLE databases ADD CONSTRAINT databases_type_check
	CHECK (type IN ('postgres', 'mysql', 'redis', 'mongodb', 'clickhouse'));

-- A database's dump format and object extension (sql/035); every backup,
-- schedule and restore of a database asks it first, so it is where a
-- clickhouse database is refused: 400 naming type, not the 409 "cannot be
-- backed up yet" of a type whose backups may come.
CREATE OR REPLACE FUNCTION backup_format(p_engine text, OUT format text, OUT ext text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_engine = 'clickhouse' THEN
		RAISE EXCEPTION 'clickhouse databases have no backups in this version (not supported)'
			USING ERRCODE = 'LN400', COLUMN = 'type';
	END IF;
	SELECT f, e INTO format, ext
	  FROM (VALUES ('postgres', 'pg_dump', 'pgdump'), ('mysql', 'mariadb-dump', 'sql'),
	               ('redis', 'redis-rdb', 'rdb'), (NULL, 'tar', 'tar')) t(k, f, e)
	 WHERE k IS NOT DISTINCT FROM p_engine;
END $$;
