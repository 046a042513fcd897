-- 009_tenant_notify.sql - every update or deletion in the tenants table is
-- announced on the channel launcher_tenants.  Each pool connection listens on it:
-- a worker remembers which tenant its session holds and the URL reference
-- (slug or UUID) it was resolved from, and runs the principal statement
-- alone while the next request names the same one (fcgi/core/auth.c).  A
-- renamed, swapped or deleted slug must not keep answering for its old
-- tenant, so the notification (sent at commit, before the change is
-- acknowledged to whoever made it) makes every worker forget and resolve
-- the reference again.  It carries nothing: tenant changes are rare.

SET search_path = launcher;

CREATE FUNCTION tenants_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_notify('launcher_tenants', '');
	RETURN NULL;
END
$$;

-- Not on INSERT: a worker remembers only references that named a tenant,
-- and a new tenant cannot take a slug still in use.
CREATE TRIGGER tenants_changed AFTER UPDATE OR DELETE OR TRUNCATE ON tenants
	FOR EACH STATEMENT EXECUTE FUNCTION tenants_changed();
