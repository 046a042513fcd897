-- 007_rls_initplan.sql - row-level security evaluated once per statement.
--
-- The policies compared tenant_id with current_tenant(), a STABLE function
-- that PostgreSQL inlines and evaluates again for every row it filters
-- (a GUC lookup and a uuid parse each time).  Wrapped in a scalar
-- sub-select it becomes an InitPlan: evaluated once per statement, the
-- same rule for every row.  A list of 50 projects spent a measurable share
-- of its time re-reading the setting.

SET search_path = launcher;

CREATE OR REPLACE FUNCTION tenant_owned(VARIADIC p_tables text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY p_tables LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT current_tenant())) WITH CHECK (tenant_id = (SELECT current_tenant()))', t);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO launcher_api', t);
	END LOOP;
END $$;

DO $$
DECLARE t text;
BEGIN
	FOR t IN SELECT tablename FROM pg_policies
	          WHERE schemaname = 'launcher' AND policyname = 'tenant_isolation' LOOP
		EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (tenant_id = (SELECT current_tenant())) WITH CHECK (tenant_id = (SELECT current_tenant()))', t);
	END LOOP;
END $$;
