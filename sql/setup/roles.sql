-- roles.sql - the plane's PostgreSQL roles and database (psql, as a superuser).
--
-- The one definition of them, run by `launcher-admin setup` and by the
-- local stack (conf/stack/launcher-stack.sh ensure_roles).  Idempotent:
-- every run (re)applies the passwords and the least privileges, so the
-- passfile and the cluster always agree.  The caller sets each password's
-- SCRAM-SHA-256 verifier (never the password: the server stores a verifier
-- as given, and its log shows no password) as psql variables on psql's
-- stdin, never in argv or the environment; `launcher-admin role-verifiers
-- PASSFILE` prints these lines:
--   \set owner_pw 'SCRAM-SHA-256$...'   \set api_pw '...'   \set maint_pw '...'
-- This directory is not a migration (the runner reads sql/NNN_*.sql only).

SELECT 'CREATE ROLE launcher_owner LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'launcher_owner') \gexec
SELECT 'CREATE ROLE launcher_api LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'launcher_api') \gexec
SELECT 'CREATE ROLE launcher_maint LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'launcher_maint') \gexec
ALTER ROLE launcher_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
      PASSWORD :'owner_pw';
ALTER ROLE launcher_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
      PASSWORD :'api_pw';
ALTER ROLE launcher_maint LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
      PASSWORD :'maint_pw';
-- session_bind (sql/015_tenant_guard.sql) reads its backend's start time.
GRANT pg_read_all_stats TO launcher_owner;
SELECT 'CREATE DATABASE launcher OWNER launcher_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'launcher') \gexec
ALTER DATABASE launcher OWNER TO launcher_owner;
REVOKE ALL ON DATABASE launcher FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE launcher TO launcher_api;
GRANT CONNECT ON DATABASE launcher TO launcher_maint;
