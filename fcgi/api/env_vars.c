/*
 * env_vars.c - API.md §9 environment variables: one encrypted store of
 * project-, environment- and application-scoped variables
 * (sql/020_env_vars.sql), and the store's calls the other sections use
 * (env_vars.h).
 *
 * Who sees what: objects and lists never carry a value (nor value_sealed);
 * values are revealed by /env-vars/values and /env-vars/:id/value only,
 * with write permission, each reveal recorded in the audit log with the
 * keys it showed (never a value).  An is_secret variable is write-only:
 * /:id/value answers 403, /values leaves it out (meta.write_only lists
 * its key), and it can be made readable again only together with a new
 * value.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/perm.h"
#include "../core/redact.h"
#include "../core/resolve.h"
#include "../core/secret.h"
#include "../core/txn.h"
#include "../core/util.h"
#include "apps_common.h"
#include "env_vars.h"

#define EV_COLS "v.id, v.project_id, v.scope," \
	" coalesce(v.function_id, v.application_id, v.environment_id, v.project_id) AS scope_id, v.key," \
	" v.is_secret, v.description, v.created_at, v.updated_at, v.row_version::text AS _version"

DB_STMT st_lock = {"envvar_scope_lock",
    "SELECT env_scope_lock($1::uuid, $2, $3::uuid) AS scope_id"};
/* By key in byte order (bsearch with strcmp). */
DB_STMT st_scope = {"envvar_scope_read",
    "SELECT id, key, value_sealed, is_secret FROM env_vars"
    " WHERE project_id = $1::uuid AND scope = $2"
    " AND coalesce(function_id, application_id, environment_id, project_id) = $3::uuid"
    " ORDER BY key COLLATE \"C\""};
/* $4: [{key, sealed, len}]; a key of the scope takes the new value. */
DB_STMT st_upsert = {"envvar_upsert",
    "INSERT INTO env_vars AS v (project_id, scope, environment_id, application_id, function_id,"
    " key, value_sealed, value_length)"
    " SELECT $1::uuid, $2, CASE WHEN $2 = 'environment' THEN $3::uuid END,"
    " CASE WHEN $2 = 'application' THEN $3::uuid END,"
    " CASE WHEN $2 = 'function' THEN $3::uuid END, x.key, x.sealed, x.len"
    " FROM jsonb_to_recordset($4::jsonb) AS x(key text, sealed text, len int)"
    " ON CONFLICT ON CONSTRAINT env_vars_key_key DO UPDATE SET"
    " value_sealed = EXCLUDED.value_sealed, value_length = EXCLUDED.value_length,"
    " row_version = v.row_version + 1, updated_at = now()"};
/* $4: the keys (JSON array) of the scope that become write-only. */
DB_STMT st_mark_secret = {"envvar_mark_secret",
    "UPDATE env_vars SET is_secret = true, row_version = row_version + 1, updated_at = now()"
    " WHERE project_id = $1::uuid AND scope = $2"
    " AND coalesce(function_id, application_id, environment_id, project_id) = $3::uuid"
    " AND key IN (SELECT jsonb_array_elements_text($4::jsonb)) AND NOT is_secret"};
DB_STMT st_delete_ids = {"envvar_delete_ids",
    "DELETE FROM env_vars WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)"};
/* Project < environment < application or function (API.md §9): the most
 * specific per key ($3 is an application's or a function's id: UUIDs of
 * distinct rows, so one matches at most one of the two columns). */
#define EV_MERGE_ORDER " ORDER BY key COLLATE \"C\", CASE WHEN scope IN ('application', 'function')" \
	" THEN 0 WHEN scope = 'environment' THEN 1 ELSE 2 END"
DB_STMT st_merged = {"envvar_merged",
    "SELECT DISTINCT ON (key COLLATE \"C\") id, key, scope,"
    " coalesce(function_id, application_id, environment_id, project_id) AS scope_id, value_sealed, is_secret"
    " FROM env_vars WHERE project_id = $1::uuid"
    " AND (scope = 'project' OR environment_id = $2::uuid OR application_id = $3::uuid"
    " OR function_id = $3::uuid)" EV_MERGE_ORDER};
/* The merged map of every application of an environment (st_merged per
 * app), and of every function with $2 true, applications first. */
DB_STMT st_merged_apps = {"envvar_merged_apps",
    "SELECT a.id AS app_id, a.name AS app_name, a.kind, v.* FROM"
    " (SELECT id, name, project_id, environment_id, created_at, 'application' AS kind, 0 AS o"
    "  FROM applications WHERE environment_id = $1::uuid"
    "  UNION ALL SELECT id, name, project_id, environment_id, created_at, 'function', 1"
    "  FROM functions WHERE $2::boolean AND environment_id = $1::uuid) a"
    " CROSS JOIN LATERAL (SELECT DISTINCT ON (key COLLATE \"C\") id, key, scope,"
    "  coalesce(function_id, application_id, environment_id, project_id) AS scope_id, value_sealed, is_secret"
    "  FROM env_vars WHERE project_id = a.project_id AND (scope = 'project'"
    "  OR environment_id = a.environment_id OR application_id = a.id OR function_id = a.id)"
    EV_MERGE_ORDER ") v"
    " ORDER BY a.o, a.created_at, a.id, v.key COLLATE \"C\""};
DB_STMT st_list = {"envvar_list",
    "SELECT " EV_COLS " FROM env_vars v WHERE v.project_id = $4::uuid"
    " AND ($5::text IS NULL OR v.scope = $5)"
    " AND ($6::uuid IS NULL OR coalesce(v.function_id, v.application_id, v.environment_id, v.project_id) = $6::uuid)"
    LIST_TAIL("v.")};
DB_STMT st_get = {"envvar_get",
    "SELECT " EV_COLS ", v.value_sealed AS _sealed,"
    " v.value_length AS _length FROM env_vars v WHERE v.id = $1::uuid"};
DB_STMT st_project = {"envvar_project",
    "SELECT project_id FROM env_vars WHERE id = $1::uuid"};
DB_STMT st_insert = {"envvar_insert",
    "INSERT INTO env_vars (project_id, scope, environment_id, application_id, function_id, key,"
    " value_sealed, value_length, is_secret, description)"
    " VALUES ($1::uuid, $2, CASE WHEN $2 = 'environment' THEN $3::uuid END,"
    " CASE WHEN $2 = 'application' THEN $3::uuid END,"
    " CASE WHEN $2 = 'function' THEN $3::uuid END, $4, $5, $6::int, $7::boolean, $8)"
    " ON CONFLICT ON CONSTRAINT env_vars_key_key DO NOTHING RETURNING id"};
DB_STMT st_update = {"envvar_update",
    "UPDATE env_vars SET key = $2, value_sealed = $3, value_length = $4::int,"
    " is_secret = $5::boolean, description = $6, row_version = row_version + 1, updated_at = now()"
    " WHERE id = $1::uuid AND ($7::bigint IS NULL OR row_version = $7::bigint) RETURNING id"};
DB_STMT st_delete = {"envvar_delete",
    "DELETE FROM env_vars WHERE id = $1::uuid AND ($2::bigint IS NULL OR row_version = $2::bigint)"
    " RETURNING id"};

static const char *const scopes[] = {"project", "environment", "application", "function", NULL};

/* ------------------------------------------------------------ the store */

enum err
env_scope_lock(struct req *r, struct env_scope *s)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_lock, &res, s->project_id, s->scope, s->scope_id)) != ERR_OK)
		return e;
	s->scope_id = arena_strdup(r->a, db_get(res, 0, "scope_id"));
	return ERR_OK;
}

static void
fill(struct req *r, PGresult *res, int i, struct env_var *v, const struct env_scope *s)
{
	memset(v, 0, sizeof(*v));
	v->id = db_get(res, i, "id");
	v->key = db_get(res, i, "key");
	v->sealed = db_get(res, i, "value_sealed");
	v->is_secret = db_get(res, i, "is_secret")[0] == 't';
	v->scope = s ? s->scope : db_get(res, i, "scope");
	v->scope_id = s ? s->scope_id : db_get(res, i, "scope_id");
}

enum err
env_scope_read(struct req *r, const struct env_scope *s, struct env_var **vars, size_t *n)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_scope, &res, s->project_id, s->scope, s->scope_id)) != ERR_OK)
		return e;
	*n = (size_t)PQntuples(res);
	*vars = arena_alloc(r->a, (*n + 1) * sizeof(**vars));
	for (size_t i = 0; i < *n; i++)
		fill(r, res, (int)i, &(*vars)[i], s);
	return ERR_OK;
}

/* The associated data of a variable's value (sql env_var_purpose). */
static const char *
purpose(struct req *r, const char *scope, const char *scope_id, const char *key)
{
	return secret_bound_purpose(r, SECRET_ENV_VAR,
	    arena_printf(r->a, "%s:%s:%s", scope, scope_id, key));
}

/* Opens v->value unless done; false when it does not open (nothing recorded). */
static bool
open_quiet(struct req *r, struct env_var *v)
{
	if (v->value == NULL)
		v->value = secret_open(r, purpose(r, v->scope, v->scope_id, v->key), v->sealed, &v->len);
	return v->value != NULL;
}

/* Whether v holds exactly value (len bytes); false also when v does not open. */
static bool
same_value(struct req *r, struct env_var *v, const char *value, size_t len)
{
	return open_quiet(r, v) && v->len == len && sodium_memcmp(v->value, value, len) == 0;
}

enum err
env_var_open(struct req *r, struct env_var *v)
{
	if (open_quiet(r, v))
		return ERR_OK;
	log_error("env var %s does not decrypt (altered or moved)", v->id);
	return req_fail(r, ERR_CONFLICT, arena_printf(r->a, "the stored value of %s cannot be "
	    "decrypted (it was altered or copied from another variable); set a new value", v->key));
}

static const char *
seal(struct req *r, const struct env_scope *s, const char *key, const char *value, size_t len)
{
	return secret_seal(r, purpose(r, s->scope, s->scope_id, key), value, len);
}

static int
cmp_key(const void *k, const void *v)
{
	return strcmp(k, ((const struct env_var *)v)->key);
}

static struct env_var *
find(struct env_var *vars, size_t n, const char *key)
{
	return n ? bsearch(key, vars, n, sizeof(*vars), cmp_key) : NULL;
}

static char *
json_text(struct req *r, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	char *out = s ? arena_strdup(r->a, s) : NULL;

	cJSON_free(s);
	return out;
}

enum err
env_scope_write(struct req *r, struct env_scope *s, const cJSON *map, bool prune,
    const char *field, struct env_write *out)
{
	struct env_var *vars;
	struct env_write w = {cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray(),
		cJSON_CreateArray()};
	cJSON          *up = cJSON_CreateArray(), *del = cJSON_CreateArray();
	size_t          n, total;
	enum err        e;

	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, up);
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, del);
	if ((e = env_scope_lock(r, s)) != ERR_OK || (e = env_scope_read(r, s, &vars, &n)) != ERR_OK)
		goto out;
	total = n;
	for (const cJSON *it = map->child; it; it = it->next) {
		struct env_var *v = find(vars, n, it->string);
		const char     *sealed;
		size_t          len;
		cJSON          *row;

		if (cJSON_IsNull(it)) {
			if (v != NULL) {
				cJSON_AddItemToArray(del, cJSON_CreateString(v->id));
				cJSON_AddItemToArray(w.deleted, cJSON_CreateString(v->key));
				total--;
			}
			continue;
		}
		len = strlen(it->valuestring);
		/* Equal to what is stored: untouched (a value that does not open
		 * any more is replaced: that is how it is repaired). */
		if (v != NULL && same_value(r, v, it->valuestring, len)) {
			cJSON_AddItemToArray(w.unchanged, cJSON_CreateString(v->key));
			continue;
		}
		if ((sealed = seal(r, s, it->string, it->valuestring, len)) == NULL) {
			e = ERR_INTERNAL;
			goto out;
		}
		row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "key", it->string);
		cJSON_AddStringToObject(row, "sealed", sealed);
		cJSON_AddNumberToObject(row, "len", (double)len);
		cJSON_AddItemToArray(up, row);
		cJSON_AddItemToArray(v ? w.updated : w.created, cJSON_CreateString(it->string));
		total += v == NULL;
	}
	for (size_t i = 0; prune && i < n; i++)
		if (cJSON_GetObjectItemCaseSensitive(map, vars[i].key) == NULL) {
			cJSON_AddItemToArray(del, cJSON_CreateString(vars[i].id));
			cJSON_AddItemToArray(w.deleted, cJSON_CreateString(vars[i].key));
			total--;
		}
	/* The lock is held: this count is the one the database will see. */
	if (total > ENV_VARS_MAX_PER_SCOPE) {
		e = req_fail_details(r, "invalid request body", cJSON_CreateArray());
		json_detail(r->fail.details, field, arena_printf(r->a, "a scope holds at most %d "
		    "variables; this would make %zu", ENV_VARS_MAX_PER_SCOPE, total));
		goto out;
	}
	if (cJSON_GetArraySize(del) > 0 &&
	    (e = db_run(r, &st_delete_ids, NULL, json_text(r, del))) != ERR_OK)
		goto out;
	if (cJSON_GetArraySize(up) > 0 && (e = db_run(r, &st_upsert, NULL, s->project_id, s->scope,
	    s->scope_id, json_text(r, up))) != ERR_OK)
		goto out;
	e = ERR_OK;
out:
	if (e == ERR_OK && out != NULL) {
		*out = w;
		return e;
	}
	cJSON_Delete(w.created);
	cJSON_Delete(w.updated);
	cJSON_Delete(w.deleted);
	cJSON_Delete(w.unchanged);
	return e;
}

enum err
env_scope_mark_secret(struct req *r, const struct env_scope *s, const cJSON *keys)
{
	char    *text;
	enum err e;

	if (cJSON_GetArraySize(keys) == 0)
		return ERR_OK;
	if ((text = cJSON_PrintUnformatted(keys)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_mark_secret, NULL, s->project_id, s->scope, s->scope_id, text);
	cJSON_free(text);
	return e;
}

enum err
env_vars_merged(struct req *r, const char *project_id, const char *environment_id,
    const char *owner_id, struct env_var **vars, size_t *n)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_merged, &res, project_id, environment_id, owner_id)) != ERR_OK)
		return e;
	*n = (size_t)PQntuples(res);
	*vars = arena_alloc(r->a, (*n + 1) * sizeof(**vars));
	for (size_t i = 0; i < *n; i++) {
		fill(r, res, (int)i, &(*vars)[i], NULL);
		if ((e = env_var_open(r, &(*vars)[i])) != ERR_OK)
			return e;
	}
	return ERR_OK;
}

enum err
env_vars_merged_apps(struct req *r, const char *environment_id, bool functions,
    struct env_app_map **apps, size_t *napps)
{
	struct env_var *vars;
	PGresult       *res;
	size_t          n;
	enum err        e;

	if ((e = db_run(r, &st_merged_apps, &res, environment_id, functions ? "true" : "false")) !=
	    ERR_OK)
		return e;
	n = (size_t)PQntuples(res);
	vars = arena_alloc(r->a, (n + 1) * sizeof(*vars));
	*apps = arena_alloc(r->a, (n + 1) * sizeof(**apps));
	*napps = 0;
	for (size_t i = 0; i < n; i++) {
		struct env_app_map *a = *napps ? &(*apps)[*napps - 1] : NULL;

		if (a == NULL || strcmp(a->app_id, db_get(res, (int)i, "app_id")) != 0) {
			a = &(*apps)[(*napps)++];
			a->app_id = db_get(res, (int)i, "app_id");
			a->app_name = db_get(res, (int)i, "app_name");
			a->function = strcmp(db_get(res, (int)i, "kind"), "function") == 0;
			a->vars = &vars[i];
			a->n = 0;
		}
		fill(r, res, (int)i, &vars[i], NULL);
		if ((e = env_var_open(r, &vars[i])) != ERR_OK)
			return e;
		a->n++;
	}
	return ERR_OK;
}

/* ------------------------------------------------------------ fields */

static const char *
check_key(const cJSON *v)
{
	return apps_check_env_key(v->valuestring);
}

static const struct field create_fields[] = {
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"key", F_STRING, true, false, 1, ENV_VARS_MAX_KEY, check_key},
	{"value", F_STRING, true, false, 0, ENV_VARS_MAX_VALUE, NULL},
	{"description", F_STRING, false, true, 0, ENV_VARS_MAX_DESCRIPTION, NULL},
	{"scope", F_ENUM, false, false, 0, 0, NULL, .options = scopes},
	{"scope_id", F_UUID, false, true, 0, 0, NULL},
	{"is_secret", F_BOOL, false, false, 0, 0, NULL},
};
enum { C_PROJECT, C_KEY, C_VALUE, C_DESCRIPTION, C_SCOPE, C_SCOPE_ID, C_SECRET };

static const struct field bulk_fields[] = {
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"scope", F_ENUM, false, false, 0, 0, NULL, .options = scopes},
	{"scope_id", F_UUID, false, true, 0, 0, NULL},
	{"variables", F_MAP, true, false, 0, ENV_VARS_MAX_PER_SCOPE, NULL,
	    .key_check = apps_check_env_key, FIELD_SUB(apps_env_value)},
	{"prune", F_BOOL, false, false, 0, 0, NULL},
};
enum { B_PROJECT, B_SCOPE, B_SCOPE_ID, B_VARIABLES, B_PRUNE };

static const struct field update_fields[] = {
	{"key", F_STRING, false, false, 1, ENV_VARS_MAX_KEY, check_key},
	{"value", F_STRING, false, false, 0, ENV_VARS_MAX_VALUE, NULL},
	{"description", F_STRING, false, true, 0, ENV_VARS_MAX_DESCRIPTION, NULL},
	{"is_secret", F_BOOL, false, false, 0, 0, NULL},
};
enum { U_KEY, U_VALUE, U_DESCRIPTION, U_SECRET };

static const struct field preview_fields[] = {
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, true, false, 0, 0, NULL},
	{"env", F_MAP, false, true, 0, ENV_VARS_MAX_PER_SCOPE, NULL,
	    .key_check = apps_check_env_key, FIELD_SUB(apps_env_value)},
};
enum { P_PROJECT, P_ENVIRONMENT, P_ENV };

/* ------------------------------------------------------------ helpers */

/* project_of for /env-vars/:id routes. */
static const char *
var_project(struct req *r)
{
	return db_project_of(r, &st_project, "environment variable");
}

static enum err
respond_var(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_get, "environment variable not found", id, status);
}

/* ?projectId= (required), ?scope=, ?scopeId= of the list and the values. */
static enum err
query_scope(struct req *r, struct env_scope *s, bool need_scope)
{
	const char *scope = http_query(r, "scope");
	enum err    e;

	if ((e = list_uuid_query(r, "projectId", &s->project_id)) != ERR_OK ||
	    (e = list_uuid_query(r, "scopeId", &s->scope_id)) != ERR_OK)
		return e;
	if (s->project_id == NULL)
		return http_field_error(r, "invalid query parameter", "projectId", "is required");
	if (scope != NULL && *scope == '\0')
		scope = NULL;
	if (scope == NULL && need_scope)
		scope = "project";
	for (size_t i = 0; scope != NULL && scopes[i] != NULL; i++)
		if (strcmp(scope, scopes[i]) == 0) {
			s->scope = scopes[i];
			return ERR_OK;
		}
	if (scope != NULL)
		return http_field_error(r, "invalid query parameter", "scope",
		    "must be one of project, environment, application, function");
	s->scope = NULL;
	return ERR_OK;
}

/* The reveal's audit record: who (the principal), which keys, never a value. */
static enum err
audit_reveal(struct req *r, const struct env_scope *s, cJSON *keys)
{
	cJSON *d = cJSON_CreateObject();
	char  *text;

	cJSON_AddStringToObject(d, "scope", s->scope);
	cJSON_AddStringToObject(d, "scope_id", s->scope_id);
	cJSON_AddItemToObject(d, "keys", keys);
	text = json_text(r, d);
	cJSON_Delete(d);
	return txn_audit(r, "env_var.reveal", "env_var", http_param(r, "id"), text);
}

/* ------------------------------------------------------------ handlers */

static enum err
list(struct req *r)
{
	struct list_page p;
	struct env_scope s;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK || (e = query_scope(r, &s, false)) != ERR_OK ||
	    (e = perm_project(r, s.project_id, CAP_READ)) != ERR_OK)
		return e;
	list_filter(&p, s.project_id);
	list_filter(&p, s.scope);
	list_filter(&p, s.scope_id);
	return list_run(r, &p, &st_list);
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	struct env_scope s;
	const char      *sealed;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK ||
	    (e = perm_project(r, v[C_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	s.project_id = r->who.project_id;
	s.scope = v[C_SCOPE].present ? v[C_SCOPE].s : "project";
	s.scope_id = v[C_SCOPE_ID].present ? v[C_SCOPE_ID].s : NULL;
	if ((e = env_scope_lock(r, &s)) != ERR_OK)
		return e;
	if ((sealed = seal(r, &s, v[C_KEY].s, v[C_VALUE].s, strlen(v[C_VALUE].s))) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_insert, &res, s.project_id, s.scope, s.scope_id, v[C_KEY].s, sealed,
	    arena_printf(r->a, "%zu", strlen(v[C_VALUE].s)), v[C_SECRET].present && v[C_SECRET].b ?
	    "true" : "false", v[C_DESCRIPTION].present ? v[C_DESCRIPTION].s : NULL)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a,
		    "key: a variable %s already exists in this scope", v[C_KEY].s));
	return respond_var(r, db_get(res, 0, "id"), 201);
}

static enum err
bulk(struct req *r)
{
	struct field_val v[sizeof(bulk_fields) / sizeof(*bulk_fields)];
	struct env_scope s;
	struct env_write w;
	cJSON           *d;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, bulk_fields, v)) != ERR_OK ||
	    (e = perm_project(r, v[B_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	s.project_id = r->who.project_id;
	s.scope = v[B_SCOPE].present ? v[B_SCOPE].s : "project";
	s.scope_id = v[B_SCOPE_ID].present ? v[B_SCOPE_ID].s : NULL;
	if ((e = env_scope_write(r, &s, v[B_VARIABLES].node, v[B_PRUNE].present && v[B_PRUNE].b,
	    "variables", &w)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "scope", s.scope);
	cJSON_AddStringToObject(d, "scope_id", s.scope_id);
	cJSON_AddItemToObject(d, "created", w.created);
	cJSON_AddItemToObject(d, "updated", w.updated);
	cJSON_AddItemToObject(d, "deleted", w.deleted);
	cJSON_AddItemToObject(d, "unchanged", w.unchanged);
	return http_respond_json(r, 200, d, NULL);
}

static enum err
get(struct req *r)
{
	return respond_var(r, http_param(r, "id"), 200);
}

/* The row of :id as a variable of its scope (value not opened). */
static enum err
fetch(struct req *r, PGresult **res, struct env_var *v, struct env_scope *s)
{
	enum err e;

	if ((e = db_get_object(r, &st_get, res, "environment variable not found",
	    http_param(r, "id"))) != ERR_OK)
		return e;
	s->project_id = db_get(*res, 0, "project_id");
	s->scope = db_get(*res, 0, "scope");
	s->scope_id = db_get(*res, 0, "scope_id");
	memset(v, 0, sizeof(*v));
	v->id = db_get(*res, 0, "id");
	v->key = db_get(*res, 0, "key");
	v->scope = s->scope;
	v->scope_id = s->scope_id;
	v->sealed = db_get(*res, 0, "_sealed");
	v->is_secret = db_get(*res, 0, "is_secret")[0] == 't';
	return ERR_OK;
}

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	struct env_scope s;
	struct env_var   cur;
	PGresult        *res;
	const char      *version, *key, *value, *sealed, *description;
	size_t           len;
	bool             secret;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK ||
	    (e = fetch(r, &res, &cur, &s)) != ERR_OK)
		return e;
	key = v[U_KEY].present ? v[U_KEY].s : cur.key;
	secret = v[U_SECRET].present ? v[U_SECRET].b : cur.is_secret;
	description = v[U_DESCRIPTION].present ? v[U_DESCRIPTION].s :
	    v[U_DESCRIPTION].null || PQgetisnull(res, 0, PQfnumber(res, "description")) ? NULL :
	    db_get(res, 0, "description");
	/* A write-only value never becomes readable as it is. */
	if (cur.is_secret && !secret && !v[U_VALUE].present)
		return http_field_error(r, "invalid request body", "is_secret",
		    "a secret variable becomes readable only together with a new value");
	if (v[U_VALUE].present) {
		value = v[U_VALUE].s;
		len = strlen(value);
	} else if (strcmp(key, cur.key) != 0) {
		/* Renamed: the value is sealed again under its new key. */
		if ((e = env_var_open(r, &cur)) != ERR_OK)
			return e;
		value = cur.value;
		len = cur.len;
	} else {
		int64_t stored = 0;

		value = NULL;
		if (util_parse_i64(db_get(res, 0, "_length"), 0, ENV_VARS_MAX_VALUE, &stored) != 0)
			return ERR_INTERNAL;
		len = (size_t)stored;
	}
	/* The same value under the same key keeps its ciphertext: no pending deploy. */
	if (strcmp(key, cur.key) == 0 && (value == NULL || same_value(r, &cur, value, len)))
		sealed = cur.sealed;
	else if ((sealed = seal(r, &s, key, value, len)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_update, &res, cur.id, key, sealed, arena_printf(r->a, "%zu", len),
	    secret ? "true" : "false", description, version);
	if (e == ERR_CONFLICT)
		return http_error(r, e, arena_printf(r->a,
		    "key: a variable %s already exists in this scope", key));
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "environment variable");
	return respond_var(r, cur.id, 200);
}

static enum err
del(struct req *r)
{
	return db_delete(r, &st_delete, "environment variable", NULL);
}

static enum err
value(struct req *r)
{
	struct env_scope s;
	struct env_var   v;
	PGresult        *res;
	cJSON           *d, *keys;
	enum err         e;

	if ((e = fetch(r, &res, &v, &s)) != ERR_OK)
		return e;
	if (v.is_secret)
		return http_error(r, ERR_FORBIDDEN, "this variable is secret: its value is write-only");
	if ((e = env_var_open(r, &v)) != ERR_OK)
		return e;
	keys = cJSON_CreateArray();
	cJSON_AddItemToArray(keys, cJSON_CreateString(v.key));
	if ((e = audit_reveal(r, &s, keys)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "id", v.id);
	cJSON_AddStringToObject(d, "key", v.key);
	cJSON_AddItemToObject(d, "value", cJSON_CreateString(v.value));
	return http_respond_json(r, 200, d, NULL);
}

static enum err
values(struct req *r)
{
	struct env_scope s;
	struct env_var  *vars;
	size_t           n;
	cJSON           *d, *keys, *hidden, *meta;
	enum err         e;

	if ((e = query_scope(r, &s, true)) != ERR_OK ||
	    (e = perm_project(r, s.project_id, CAP_WRITE)) != ERR_OK ||
	    (e = env_scope_lock(r, &s)) != ERR_OK || (e = env_scope_read(r, &s, &vars, &n)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	keys = cJSON_CreateArray();
	hidden = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		if (vars[i].is_secret) {
			cJSON_AddItemToArray(hidden, cJSON_CreateString(vars[i].key));
			continue;
		}
		if ((e = env_var_open(r, &vars[i])) != ERR_OK) {
			cJSON_Delete(d);
			cJSON_Delete(keys);
			cJSON_Delete(hidden);
			return e;
		}
		cJSON_AddItemToObject(d, vars[i].key, cJSON_CreateString(vars[i].value));
		cJSON_AddItemToArray(keys, cJSON_CreateString(vars[i].key));
	}
	if ((e = audit_reveal(r, &s, keys)) != ERR_OK) {
		cJSON_Delete(d);
		cJSON_Delete(hidden);
		return e;
	}
	meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "scope", s.scope);
	cJSON_AddStringToObject(meta, "scope_id", s.scope_id);
	cJSON_AddItemToObject(meta, "write_only", hidden);
	return http_respond_json(r, 200, d, meta);
}

/* ------------------------------------------------------------ preview */

/*
 * The merged map of an environment with the given env on top (as an
 * application's own variables would be), resolved.  Values the caller
 * may not see are masked: is_secret ones, and inside every other value
 * the text of each secret one (redact.h).
 */
static enum err
preview(struct req *r)
{
	struct field_val      v[sizeof(preview_fields) / sizeof(*preview_fields)];
	struct env_var       *stored;
	struct resolve_var   *vars;
	struct resolve_result res;
	struct env_refs_ctx   ctx;
	struct env_scope      es;
	const char          **secrets;
	bool                 *secret;
	size_t                n, nv = 0, nsecret = 0;
	const cJSON          *env;
	cJSON                *d, *details;
	enum err              e;
	int                   rc;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, preview_fields, v)) != ERR_OK ||
	    (e = perm_project(r, v[P_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	es.project_id = r->who.project_id;
	es.scope = "environment";
	es.scope_id = v[P_ENVIRONMENT].s;
	if ((e = env_scope_lock(r, &es)) == ERR_BAD_REQUEST)
		return http_field_error(r, "invalid request body", "environment_id",
		    "is not an environment of this project");
	if (e != ERR_OK)
		return e;
	if ((e = env_vars_merged(r, r->who.project_id, es.scope_id, NULL, &stored, &n)) != ERR_OK)
		return e;
	env = v[P_ENV].present ? v[P_ENV].node : NULL;
	vars = arena_alloc(r->a, (n + (size_t)cJSON_GetArraySize(env) + 1) * sizeof(*vars));
	secret = arena_alloc(r->a, (n + (size_t)cJSON_GetArraySize(env) + 1) * sizeof(*secret));
	secrets = arena_alloc(r->a, (n + 1) * sizeof(*secrets));
	for (size_t i = 0; i < n; i++) {
		if (env != NULL && cJSON_GetObjectItemCaseSensitive(env, stored[i].key) != NULL)
			continue;
		vars[nv].key = stored[i].key;
		vars[nv].value = stored[i].value;
		secret[nv++] = stored[i].is_secret;
		if (stored[i].is_secret)
			secrets[nsecret++] = stored[i].value;
	}
	for (const cJSON *it = env ? env->child : NULL; it; it = it->next) {
		vars[nv].key = it->string;
		vars[nv].value = it->valuestring;
		secret[nv++] = false;
	}
	ctx.r = r;
	ctx.project_id = r->who.project_id;
	ctx.environment_id = es.scope_id;
	memset(&res, 0, sizeof(res));
	if ((rc = resolve_all(vars, nv, env_refs_lookup, &ctx, &res)) < 0) {
		resolve_result_free(&res, nv);
		return ERR_INTERNAL;
	}
	if (rc > 0) {
		details = cJSON_CreateArray();
		for (size_t i = 0; i < res.nerr; i++)
			json_detail(details, res.errs[i].key, res.errs[i].message);
		resolve_result_free(&res, nv);
		return http_error_details(r, "unresolvable references", details);
	}
	d = cJSON_CreateObject();
	for (size_t i = 0; i < nv; i++) {
		const char *shown = ENV_VARS_MASK;
		char       *masked = NULL;

		if (!secret[i]) {
			size_t need = redact(secrets, nsecret, false, res.values[i], NULL, 0);

			masked = malloc(need + 1);
			if (masked != NULL)
				redact(secrets, nsecret, false, res.values[i], masked, need + 1);
			shown = masked;
		}
		cJSON_AddItemToObject(d, vars[i].key, cJSON_CreateString(shown ? shown : ""));
		if (masked != NULL) {
			sodium_memzero(masked, strlen(masked));
			free(masked);
		}
	}
	resolve_result_free(&res, nv);
	return http_respond_json(r, 200, d, NULL);
}

const struct route api_env_var_routes[] = {
	{.methods = HTTP_GET, .pattern = "/env-vars", .fn = list},
	{.methods = HTTP_POST, .pattern = "/env-vars", .fn = create, .audit = "env_var.create"},
	{.methods = HTTP_POST, .pattern = "/env-vars/bulk", .fn = bulk, .audit = "env_var.bulk"},
	{.methods = HTTP_POST, .pattern = "/env-vars/preview", .fn = preview,
	    .flags = ROUTE_NO_AUDIT | ROUTE_NO_IDEMPOTENCY},
	{.methods = HTTP_GET, .pattern = "/env-vars/values", .fn = values},
	{.methods = HTTP_GET, .pattern = "/env-vars/:id", .fn = get, .cap = CAP_READ,
	    .project_of = var_project},
	{.methods = HTTP_PUT, .pattern = "/env-vars/:id", .fn = update, .cap = CAP_WRITE,
	    .project_of = var_project, .audit = "env_var.update"},
	{.methods = HTTP_DELETE, .pattern = "/env-vars/:id", .fn = del, .cap = CAP_WRITE,
	    .project_of = var_project, .audit = "env_var.delete"},
	{.methods = HTTP_GET, .pattern = "/env-vars/:id/value", .fn = value, .cap = CAP_WRITE,
	    .project_of = var_project},
	{0},
};
