/*
 * app_env.c - API.md §4 an application's own environment variables: the
 * application scope of the env store (env_vars.h), read (masked unless the
 * caller may reveal them; is_secret ones always), replaced (PUT prunes the
 * scope), merged (PATCH; null deletes a key); and the sealing of the
 * resolved map that a release keeps as its snapshot (SECRET_APP_ENV).
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "apps_common.h"
#include "env_vars.h"

/* The app's project, and whether its env changed since the running release took its snapshot. */
DB_STMT st_env_app = {"apps_env_app",
    "SELECT a.project_id, (a.env_version > coalesce((SELECT d.env_version FROM deployments d"
    " WHERE d.id = a.current_deployment_id), -1)) AS pending_deploy"
    " FROM applications a WHERE a.id = $1::uuid"};
/* If-Match names the application's version, as for every app write. */
DB_STMT st_env_app_match = {"apps_env_app_match",
    "SELECT project_id FROM applications WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint)"};

const char *
apps_check_env_key(const char *k)
{
	if (strlen(k) > 255)
		return "keys must be at most 255 characters";
	return util_env_name_ok(k) ? NULL : "keys must match [A-Za-z_][A-Za-z0-9_]*";
}

/* An env map: {KEY: "value"} (PATCH: null deletes a key). */
const struct field apps_env_value[1] = {
	{"", F_STRING, false, false, 0, APPS_ENV_MAX_VALUE, NULL},
};
const struct field apps_env_value_or_null[1] = {
	{"", F_STRING, false, true, 0, APPS_ENV_MAX_VALUE, NULL},
};

/* ------------------------------------------------------------ env sealing */

const char *
apps_env_seal(struct req *r, const cJSON *map)
{
	char       *plain;
	const char *sealed;

	plain = cJSON_PrintUnformatted(map);
	if (plain == NULL)
		return NULL;
	sealed = secret_seal(r, SECRET_APP_ENV, plain, strlen(plain));
	sodium_memzero(plain, strlen(plain));
	cJSON_free(plain);
	return sealed;
}

cJSON *
apps_env_open(struct req *r, const char *sealed)
{
	char  *plain;
	size_t len;
	cJSON *map;

	if (sealed == NULL || sealed[0] == '\0')
		return cJSON_CreateObject();
	if ((plain = secret_open(r, SECRET_APP_ENV, sealed, &len)) == NULL)
		return NULL;
	map = cJSON_ParseWithLength(plain, len);
	return cJSON_IsObject(map) ? map : (cJSON_Delete(map), NULL);
}

/* The application scope as {KEY: value}, masked where the caller may not see it. */
static enum err
respond_env(struct req *r, const char *id)
{
	struct env_scope s = {NULL, "application", id};
	struct env_var  *vars;
	PGresult        *res;
	size_t           n;
	cJSON           *map, *meta;
	bool             reveal = perm_allows(r, CAP_WRITE);
	enum err         e;

	if ((e = db_run(r, &st_env_app, &res, id)) != ERR_OK)
		return e;
	s.project_id = db_get(res, 0, "project_id");
	if ((e = env_scope_read(r, &s, &vars, &n)) != ERR_OK)
		return e;
	/* Revealing values needs write permission (API.md §0 "secrets in
	 * responses"): viewers, members and keys without write scope read
	 * the keys only; is_secret values are write-only for everyone. */
	map = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++) {
		if (reveal && !vars[i].is_secret && (e = env_var_open(r, &vars[i])) != ERR_OK) {
			cJSON_Delete(map);
			return e;
		}
		cJSON_AddItemToObject(map, vars[i].key, cJSON_CreateString(reveal &&
		    !vars[i].is_secret ? vars[i].value : ENV_VARS_MASK));
	}
	meta = cJSON_CreateObject();
	cJSON_AddBoolToObject(meta, "pending_deploy", strcmp(db_get(res, 0, "pending_deploy"), "t") == 0);
	return http_respond_json(r, 200, map, meta);
}

static enum err
env_get(struct req *r)
{
	return respond_env(r, http_param(r, "id"));
}

/* The body of PUT (a whole map) and PATCH (null deletes a key) of /env. */
static const struct field env_put_body[] = {APPS_ENV_MAP("env", FIELD_BODY, apps_env_value)};
static const struct field env_patch_body[] = {APPS_ENV_MAP("env", FIELD_BODY,
	apps_env_value_or_null)};

static enum err
env_write(struct req *r, bool merge)
{
	const char      *id = http_param(r, "id"), *version;
	struct field_val body;
	struct env_scope s = {NULL, "application", id};
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK)
		return e;
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST, "the body must be an object {KEY: \"value\"}");
	if ((e = merge ? JSON_FIELDS(r, env_patch_body, &body) : JSON_FIELDS(r, env_put_body, &body)) !=
	    ERR_OK)
		return e;
	if ((e = db_run(r, &st_env_app_match, &res, id, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "application");
	s.project_id = db_get(res, 0, "project_id");
	if ((e = env_scope_write(r, &s, r->json, !merge, "env", NULL)) != ERR_OK)
		return e;
	return respond_env(r, id);
}

static enum err
env_put(struct req *r)
{
	return env_write(r, false);
}

static enum err
env_patch(struct req *r)
{
	return env_write(r, true);
}

const struct route api_app_env_routes[] = {
	APPS_ROUTE(HTTP_GET, "/applications/:id/env", env_get, CAP_READ, NULL),
	APPS_ROUTE(HTTP_PUT, "/applications/:id/env", env_put, CAP_WRITE, "application.env.update"),
	APPS_ROUTE(HTTP_PATCH, "/applications/:id/env", env_patch, CAP_WRITE,
	    "application.env.update"),
	{0},
};
