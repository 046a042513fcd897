/*
 * app_env.c - API.md §4 an application's own environment variables: read
 * (masked unless the caller may reveal them), replace, merge; and the
 * sealing of the map (core/secret.h) that releases snapshot.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/secret.h"
#include "apps_common.h"

/* The map, and whether it changed since the running release took its snapshot. */
DB_STMT st_env_read = {"apps_env_read",
    "SELECT a.env_sealed, (a.env_version > coalesce((SELECT d.env_version FROM deployments d"
    " WHERE d.id = a.current_deployment_id), -1)) AS pending_deploy"
    " FROM applications a WHERE a.id = $1::uuid"};
DB_STMT st_env_get = {"apps_env_get",
    "SELECT env_sealed, env_version FROM applications WHERE id = $1::uuid FOR UPDATE"};
DB_STMT st_env_put = {"apps_env_put",
    "UPDATE applications SET env_sealed = $2, env_version = env_version + 1"
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};

const char *
apps_check_env_key(const char *k)
{
	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return "keys must match [A-Za-z_][A-Za-z0-9_]*";
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return "keys must match [A-Za-z_][A-Za-z0-9_]*";
	return strlen(k) > 255 ? "keys must be at most 255 characters" : NULL;
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

static enum err
respond_env(struct req *r, cJSON *map, bool pending)
{
	cJSON *meta = cJSON_CreateObject();

	/* Revealing values needs write permission (API.md §0 "secrets in
	 * responses"): viewers, members and keys without write scope read
	 * the keys only. */
	if (!perm_allows(r, CAP_WRITE))
		for (cJSON *it = map->child; it; it = it->next)
			cJSON_SetValuestring(it, "********");
	cJSON_AddBoolToObject(meta, "pending_deploy", pending);
	return http_respond_json(r, 200, map, meta);
}

static enum err
env_get(struct req *r)
{
	PGresult *res;
	cJSON    *map;
	enum err  e;

	if ((e = db_run(r, &st_env_read, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	if ((map = apps_env_open(r, PQgetisnull(res, 0, 0) ? NULL : db_get(res, 0, "env_sealed"))) ==
	    NULL)
		return ERR_INTERNAL;
	return respond_env(r, map, strcmp(db_get(res, 0, "pending_deploy"), "t") == 0);
}

/* The body of PUT (a whole map) and PATCH (null deletes a key) of /env. */
static const struct field env_put_body[] = {APPS_ENV_MAP("env", FIELD_BODY, apps_env_value)};
static const struct field env_patch_body[] = {APPS_ENV_MAP("env", FIELD_BODY,
	apps_env_value_or_null)};

static enum err
env_write(struct req *r, bool merge)
{
	const char      *id = http_param(r, "id"), *version, *sealed;
	struct field_val body;
	PGresult        *res;
	cJSON           *map;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK)
		return e;
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST, "the body must be an object {KEY: \"value\"}");
	if ((e = merge ? JSON_FIELDS(r, env_patch_body, &body) : JSON_FIELDS(r, env_put_body, &body)) !=
	    ERR_OK)
		return e;
	if ((e = db_run(r, &st_env_get, &res, id)) != ERR_OK)
		return e;
	if (merge) {
		if ((map = apps_env_open(r, PQgetisnull(res, 0, 0) ? NULL :
		    db_get(res, 0, "env_sealed"))) == NULL)
			return ERR_INTERNAL;
		for (cJSON *it = r->json->child; it; it = it->next) {
			cJSON_DeleteItemFromObjectCaseSensitive(map, it->string);
			if (!cJSON_IsNull(it))
				cJSON_AddItemToObject(map, it->string, cJSON_Duplicate(it, true));
		}
	} else
		map = cJSON_Duplicate(r->json, true);
	if (cJSON_GetArraySize(map) > APPS_ENV_MAX_KEYS) {
		cJSON_Delete(map);
		return http_error(r, ERR_BAD_REQUEST, "at most 500 variables");
	}
	if ((sealed = apps_env_seal(r, map)) == NULL) {
		cJSON_Delete(map);
		return ERR_INTERNAL;
	}
	if ((e = db_run(r, &st_env_put, &res, id, sealed, version)) != ERR_OK) {
		cJSON_Delete(map);
		return e;
	}
	if (PQntuples(res) != 1) {
		cJSON_Delete(map);
		return http_changed(r, "application");
	}
	return respond_env(r, map, true);
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
