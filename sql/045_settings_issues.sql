-- 045_settings_issues.sql - the tenant's general settings (GET/PUT
-- /settings/general) and what the Issues API (API.md §17) needs beyond
-- the tables of sql/043.
--
-- 1. tenant_settings: one row per tenant, written by the API (tenants
--    itself is read-only for launcher_api, sql/001).  No row, or a NULL
--    column, means the default: display_name the tenant's name,
--    default_base_domain none, jwt_lifetime_seconds the plane's
--    jwt_lifetime_seconds (launcher.conf).  The JWT lifetime governs every
--    token issued to the tenant's users (core/auth.c auth_issue reads it in
--    the statement that opens the session); bounds 5 minutes .. 30 days.

-- ---------------------------------------------------------------- settings
CREATE TABLE tenant_settings (
	tenant_id            uuid PRIMARY KEY DEFAULT current_tenant() REFERENCES tenants ON DELETE CASCADE,
	display_name         text CHECK (length(display_name) BETWEEN 1 AND 100),
	-- Normalised by the API (core/hostname.c): ASCII, lower case, no trailing dot.
	default_base_domain  text CHECK (default_base_domain ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'
	                                 AND length(default_base_domain) <= 253),
	jwt_lifetime_seconds integer CHECK (jwt_lifetime_seconds BETWEEN 300 AND 2592000),
	row_version          bigint NOT NULL DEFAULT 1,
	updated_at           timestamptz NOT NULL DEFAULT now()
);
SELECT tenant_owned('tenant_settings');
CREATE TRIGGER tenant_settings_version BEFORE UPDATE ON tenant_settings
	FOR EACH ROW EXECUTE FUNCTION bump_row_version();
