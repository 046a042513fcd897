/*
 * settings.c - the tenant's general settings (API.md "Settings and
 * audit"): GET/PUT /settings/general {display_name, default_base_domain,
 * jwt_lifetime_seconds}, tenant admins only.  One row of tenant_settings
 * (sql/045_settings_issues.sql); what it does not hold is the default:
 * the tenant's name, no base domain, the plane's jwt_lifetime_seconds.
 * The JWT lifetime is read where tokens are issued (core/auth.c).
 */
#include "api.h"

#include <string.h>

#include "../core/config.h"
#include "../core/db.h"
#include "../core/hostname.h"
#include "../core/json.h"
#include "../core/util.h"
#include "../core/worker.h"

/* $1 = the plane's JWT lifetime. */
DB_STMT st_general_get = {"settings_general_get",
    "SELECT coalesce(s.display_name, t.name) AS display_name, s.default_base_domain,"
    " coalesce(s.jwt_lifetime_seconds, $1::int) AS jwt_lifetime_seconds,"
    " s.jwt_lifetime_seconds IS NULL AS jwt_lifetime_default, s.updated_at,"
    " coalesce(s.row_version, 0)::text AS _version"
    " FROM tenants t LEFT JOIN tenant_settings s ON s.tenant_id = t.id"
    " WHERE t.id = current_tenant()"};
/*
 * $1 display_name or NULL (not given: kept); $2 whether default_base_domain
 * was given, $3 its normalised value (NULL clears); $4, $5 the same for
 * jwt_lifetime_seconds (NULL: the plane's); $6 the If-Match version.
 */
DB_STMT st_general_put = {"settings_general_put",
    "INSERT INTO tenant_settings AS s (display_name, default_base_domain, jwt_lifetime_seconds)"
    " VALUES ($1, $3, $5::int)"
    " ON CONFLICT (tenant_id) DO UPDATE SET"
    " display_name = coalesce(EXCLUDED.display_name, s.display_name),"
    " default_base_domain = CASE WHEN $2::boolean THEN EXCLUDED.default_base_domain"
    "  ELSE s.default_base_domain END,"
    " jwt_lifetime_seconds = CASE WHEN $4::boolean THEN EXCLUDED.jwt_lifetime_seconds"
    "  ELSE s.jwt_lifetime_seconds END"
    " WHERE $6::bigint IS NULL OR s.row_version = $6::bigint RETURNING tenant_id"};

/* A name people read: not blank, no control characters. */
static const char *
check_display_name(const cJSON *v)
{
	bool blank = true;

	for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
		blank &= *p == ' ';
	}
	return blank ? "must not be blank" : NULL;
}

static const struct field general_fields[] = {
	{"display_name", F_STRING, false, false, 1, 100, check_display_name},
	{"default_base_domain", F_STRING, false, true, 1, 1024, NULL},
	{"jwt_lifetime_seconds", F_INT, false, true, JWT_LIFETIME_MIN, JWT_LIFETIME_MAX, NULL},
};
enum { G_NAME, G_DOMAIN, G_JWT };

/*
 * The base domain as DNS and nginx compare it (core/hostname.c: no
 * wildcard, no IP literal), and not a name the plane keeps for itself.
 */
static const char *
base_domain(struct req *r, const char *raw, char *out, size_t outlen)
{
	const char *why = hostname_normalize(raw, false, out, outlen);

	return why ? why : hostname_reserved(r->w->cfg, out);
}

static void
general_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	char        host[HOSTNAME_MAX + 1];
	const char *why;

	if (v[G_DOMAIN].present && (why = base_domain(r, v[G_DOMAIN].s, host, sizeof(host))) != NULL)
		json_detail(details, "default_base_domain", why);
}

static enum err
general_get(struct req *r)
{
	PGresult *res;
	enum err  e;
	char      life[32];

	util_snprintf(life, sizeof(life), "%lld", (long long)r->w->cfg->jwt_lifetime_seconds);
	if ((e = db_run(r, &st_general_get, &res, life)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_INTERNAL;
	http_etag(r, db_get(res, 0, "_version"));
	return http_respond_json(r, 200, json_row(res, 0), NULL);
}

static enum err
general_put(struct req *r)
{
	struct field_val v[sizeof(general_fields) / sizeof(*general_fields)];
	char             host[HOSTNAME_MAX + 1], life[32];
	const char      *version, *domain = NULL;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, general_fields, v, general_rule)) != ERR_OK)
		return e;
	if (v[G_DOMAIN].present) {
		if (base_domain(r, v[G_DOMAIN].s, host, sizeof(host)) != NULL)
			return ERR_INTERNAL;
		domain = host;
	}
	util_snprintf(life, sizeof(life), "%lld", (long long)v[G_JWT].i);
	if ((e = db_run(r, &st_general_put, &res, v[G_NAME].present ? v[G_NAME].s : NULL,
	    v[G_DOMAIN].present || v[G_DOMAIN].null ? "true" : "false", domain,
	    v[G_JWT].present || v[G_JWT].null ? "true" : "false",
	    v[G_JWT].present ? life : NULL, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "general settings");
	return general_get(r);
}

const struct route api_settings_routes[] = {
	{.methods = HTTP_GET, .pattern = "/settings/general", .fn = general_get,
	    .min_role = ROLE_ADMIN},
	/* The JWT lifetime is tenant administration: a key needs the admin scope. */
	{.methods = HTTP_PUT, .pattern = "/settings/general", .fn = general_put,
	    .min_role = ROLE_ADMIN, .scope = SCOPE_ADMIN, .audit = "general_settings.update"},
	{0},
};
