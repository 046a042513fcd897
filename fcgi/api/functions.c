/*
 * functions.c - API.md §7 functions: the resource (list, create, read,
 * update, delete), its deploy (a fn.deploy job), invoke (a fn.invoke job
 * answered when it ends), its invocations and its runtime log.  The rules
 * (placement, the jobs' payloads, what a finished job changes, cron's one
 * run per minute) are the database's (sql/054_functions.sql); the agent's
 * side is fcgi/agent/fn.h.  Its env is the env store's function scope
 * (env_vars.h, sql/057), resolved at deploy as an application release's.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../core/cron.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/resolve.h"
#include "../core/util.h"
#include "apps_common.h"
#include "env_vars.h"

#define FN_COLS "f.id, f.project_id, f.environment_id, f.server_id, f.name, f.runtime, f.handler," \
	" f.source, f.triggers, f.timeout_seconds, f.memory_limit, f.idle_timeout_seconds," \
	" EXISTS (SELECT 1 FROM env_vars v WHERE v.function_id = f.id) AS env_set," \
	" f.status, f.status_reason, f.scaled_to_zero, fn_hostname(f) AS hostname," \
	" 'http://' || fn_hostname(f) AS url," \
	" f.created_at, f.updated_at, f.row_version::text AS _version"

DB_STMT st_fn_get = {"functions_get",
    "SELECT " FN_COLS " FROM functions f WHERE f.id = $1::uuid"};
DB_STMT st_fn_project = {"functions_project",
    "SELECT project_id FROM functions WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?environmentId. */
DB_STMT st_fn_list = {"functions_list",
    "SELECT " FN_COLS " FROM functions f"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = f.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR f.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR f.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR f.environment_id = $8::uuid)" LIST_TAIL("f.")};
DB_STMT st_fn_create = {"functions_create",
    "SELECT api_function_create($1::uuid, $2::jsonb) AS id"};
/* $2 = the given fields as a JSON object: only those change. */
DB_STMT st_fn_update = {"functions_update",
    "UPDATE functions f" DB_PATCH("f", "name, runtime, handler, source, triggers, timeout_seconds,"
    " memory_limit, idle_timeout_seconds")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_fn_delete = {"functions_delete",
    "DELETE FROM functions WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
DB_STMT st_fn_deploy = {"functions_deploy",
    "SELECT fn_deploy($1::uuid, $2::uuid) AS job_id"};
/* Where a function's env comes from (the merged store of its scopes). */
DB_STMT st_fn_where = {"functions_where",
    "SELECT project_id, environment_id FROM functions WHERE id = $1::uuid"};
/* The env its next fn.deploy runs with, resolved and sealed (sql/057). */
DB_STMT st_fn_release_env = {"functions_release_env",
    "UPDATE functions SET release_env_sealed = $2 WHERE id = $1::uuid"};
/* A change of its env is a change of the function: a new ETag. */
DB_STMT st_fn_env_bump = {"functions_env_bump",
    "UPDATE functions SET row_version = row_version + 1 WHERE id = $1::uuid"};
DB_STMT st_fn_invoke = {"functions_invoke",
    "SELECT fn_invoke($1::uuid, $2::jsonb, $3::uuid) AS job_id,"
    " (SELECT timeout_seconds FROM functions WHERE id = $1::uuid) AS timeout_seconds"};
/* $4 = the function (the router checked it is the caller's to read). */
DB_STMT st_fn_invocations = {"functions_invocations",
    "SELECT i.id, i.trigger, i.status, i.http_status, i.duration_ms, i.started_at, i.finished_at,"
    " i.scheduled_for, i.error, i.created_at FROM function_invocations i"
    " WHERE i.function_id = $4::uuid" LIST_TAIL("i.")};
DB_STMT st_fn_ref = {"functions_ref",
    "SELECT 'http://' || fn_hostname(f) AS url FROM functions f"
    " WHERE f.project_id = $1::uuid AND f.environment_id = $2::uuid AND f.name = $3"};
DB_STMT st_fn_logs = {"functions_logs", RUNTIME_LOGS_SQL("function_id")};

#define FUNCTION_NAME_TAKEN "name: a function with this name already exists in the environment"
/* An invocation's answer waits the function's timeout and this much more
 * (the claim and the call; capped at JOB_WAIT_MAX_SECONDS); then 202 and the
 * client polls the job. */
#define FN_INVOKE_SLACK_S 15
/* The body of an inline source: 1 MiB of code (the body limit bounds it too). */
#define FN_CODE_MAX   (1 << 20)
#define FN_FILES_MAX  100
#define FN_TRIGGERS_MAX 10

/* ------------------------------------------------------------ validation */

static const char *const runtimes[] = {"node20", "python3", NULL};
static const char *const trigger_types[] = {"http", "cron", NULL};
static const char *const source_types[] = {"git", NULL};
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	NULL};

/* "file.func": a module path of [A-Za-z0-9_/-] (no "..", not absolute),
 * a dot, an identifier; the shim loads file.js / file.py from /fn. */
static const char *
check_handler(const cJSON *v)
{
	const char *s = v->valuestring, *dot = strrchr(s, '.');
	const char *bad = "must be \"file.function\" like index.handler";

	if (dot == NULL || dot == s || dot[1] == '\0' || s[0] == '/' || strstr(s, "..") != NULL)
		return bad;
	for (const char *c = s; c < dot; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    *c == '_' || *c == '-' || *c == '/'))
			return bad;
	if (dot[1] >= '0' && dot[1] <= '9')
		return bad;
	for (const char *c = dot + 1; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    *c == '_'))
			return bad;
	return NULL;
}

/* A file of an inline source: a relative path under /fn. */
static const char *
check_file_name(const char *k)
{
	if (k[0] == '\0' || k[0] == '/' || strstr(k, "..") != NULL || strlen(k) > 255 ||
	    strpbrk(k, "\\\r\n\t") != NULL)
		return "file names must be relative paths of at most 255 bytes without \"..\"";
	return NULL;
}

static const char *
check_repo(const cJSON *v)
{
	const char *s = v->valuestring;

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0 &&
	    strncmp(s, "git://", 6) != 0)
		return "must be an https://, http:// or git:// URL";
	return strpbrk(s, " \t\r\n@") == NULL ? NULL :
	    "must not contain whitespace or credentials";
}

static const char *
check_dir(const cJSON *v)
{
	const char *s = v->valuestring;

	return s[0] == '/' || strstr(s, "..") != NULL || strpbrk(s, "\r\n") != NULL ?
	    "must be a relative path inside the repository" : NULL;
}

static const struct field file_value[] = {
	{"", F_STRING, false, false, 0, FN_CODE_MAX, NULL},
};

static const struct field source_fields[] = {
	{"code", F_STRING, false, false, 1, FN_CODE_MAX, NULL},
	{"files", F_MAP, false, false, 1, FN_FILES_MAX, NULL, .key_check = check_file_name,
	    FIELD_SUB(file_value)},
	{"type", F_ENUM, false, false, 0, 0, NULL, .options = source_types},
	{"repository_url", F_STRING, false, false, 1, 2048, check_repo},
	{"branch", F_STRING, false, false, 1, 255, apps_check_branch},
	{"path", F_STRING, false, false, 1, 1024, check_dir},
};

static const struct field trigger_fields[] = {
	{"type", F_ENUM, true, false, 0, 0, NULL, .options = trigger_types},
	{"methods", F_STRINGS, false, false, 1, 7, NULL},
	{"schedule", F_STRING, false, false, 1, CRON_EXPR_MAX, NULL},
	{"timezone", F_STRING, false, false, 1, CRON_TZ_MAX, NULL},
};

#define FN_FIELDS \
	{"name", F_STRING, false, false, 1, 63, json_check_slug}, \
	{"runtime", F_ENUM, false, false, 0, 0, NULL, .options = runtimes}, \
	{"handler", F_STRING, false, false, 3, 257, check_handler}, \
	{"source", F_OBJECT, false, false, 0, 0, NULL, FIELD_SUB(source_fields)}, \
	{"triggers", F_ARRAY, false, false, 0, FN_TRIGGERS_MAX, NULL, FIELD_SUB(trigger_fields)}, \
	{"timeout_seconds", F_INT, false, false, 1, 900, NULL}, \
	{"memory_limit", F_INT, false, false, 6291456, (int64_t)1 << 40, NULL}, \
	{"idle_timeout_seconds", F_INT, false, true, 1, 604800, NULL}, \
	APPS_ENV_MAP("env", 0, apps_env_value)

enum { F_NAME, F_RUNTIME, F_HANDLER, F_SOURCE, F_TRIGGERS, F_TIMEOUT, F_MEMORY, F_IDLE, F_ENV,
	F__SHARED };

static const struct field create_fields[] = {
	FN_FIELDS,
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
};
enum { C_PROJECT = F__SHARED };

static const struct field update_fields[] = {
	FN_FIELDS,
};

static bool
has(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k) != NULL;
}

/* A source: exactly one of code, files and type "git" (which needs
 * repository_url). */
static void
source_rule(const cJSON *src, cJSON *details)
{
	int n = has(src, "code") + has(src, "files") + has(src, "type");

	if (n != 1)
		json_detail(details, "source", "needs exactly one of code, files and type \"git\"");
	if (has(src, "type") && !has(src, "repository_url"))
		json_detail(details, "source.repository_url", "is required when type is git");
}

/* Each trigger: cron needs a schedule cron.h parses and a real time zone;
 * http takes methods (known ones), at most one http trigger. */
static void
triggers_rule(struct req *r, const cJSON *triggers, cJSON *details)
{
	const cJSON *t;
	int          i = 0, http = 0;

	cJSON_ArrayForEach(t, triggers) {
		const char  *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
		const char  *sched = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "schedule"));
		const char  *tz = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "timezone"));
		const cJSON *m;
		struct cron  c;
		char         err[160];

		if (strcmp(type, "cron") == 0) {
			if (sched == NULL)
				json_detail(details, arena_printf(r->a, "triggers[%d].schedule", i),
				    "is required for a cron trigger");
			else if (cron_parse(sched, &c, err, sizeof(err)) != 0)
				json_detail(details, arena_printf(r->a, "triggers[%d].schedule", i),
				    arena_printf(r->a, "is not a 5-field cron expression: %s", err));
			if (tz != NULL && !cron_tz_valid(tz))
				json_detail(details, arena_printf(r->a, "triggers[%d].timezone", i),
				    "is not an IANA time zone like Europe/Paris");
		} else if (++http > 1)
			json_detail(details, arena_printf(r->a, "triggers[%d]", i),
			    "a function has at most one http trigger");
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t, "methods")) {
			bool ok = false;

			for (size_t k = 0; methods[k] != NULL && !ok; k++)
				ok = strcmp(m->valuestring, methods[k]) == 0;
			if (!ok || strcmp(type, "http") != 0) {
				json_detail(details, arena_printf(r->a, "triggers[%d].methods", i), ok ?
				    "applies to http triggers only" :
				    "must be among GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
				break;
			}
		}
		i++;
	}
}

static void
update_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	if (v[F_SOURCE].present)
		source_rule(v[F_SOURCE].node, details);
	if (v[F_TRIGGERS].present)
		triggers_rule(r, v[F_TRIGGERS].node, details);
}

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	if (!v[F_NAME].present)
		json_detail(details, "name", "is required");
	if (!v[F_RUNTIME].present)
		json_detail(details, "runtime", "is required (node20 or python3)");
	if (!v[F_SOURCE].present)
		json_detail(details, "source", "is required: {code}, {files} or a git source");
	update_rule(r, v, details);
}

/* ------------------------------------------------------------ references */

int
functions_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why)
{
	PGresult *res;

	if (c->environment_id == NULL ||
	    db_run(c->r, &st_fn_ref, &res, c->project_id, c->environment_id, name) != ERR_OK) {
		*why = strdup("the function cannot be read right now");
		return -1;
	}
	if (PQntuples(res) != 1)
		return 1;
	(void)prop;	/* "url", the kind's only one */
	if (db_isnull(res, 0, "url")) {
		*why = strdup("the function has no http trigger, so no url");
		return -1;
	}
	*out = strdup(db_get(res, 0, "url"));
	return *out != NULL ? 0 : -1;
}

/* ------------------------------------------------------------ handlers */

static const char *
function_project(struct req *r)
{
	return db_project_of(r, &st_fn_project, "function");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_fn_get, "function not found", id, status);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *env;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "environmentId", &env)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, env);
	return list_run(r, &p, &st_fn_list);
}

static const char *
json_text(struct req *r, const cJSON *node)
{
	char       *s = cJSON_PrintUnformatted(node);
	const char *out = s != NULL ? arena_strdup(r->a, s) : NULL;

	cJSON_free(s);
	return out;
}

/*
 * The fields of table f that the body gives, as the SQL takes them: without
 * env (the function scope of the env store, fn_env_write), which goes to
 * *env (detached; NULL when not given, a JSON null when null).  NULL when
 * out of memory.
 */
static const char *
given_body(struct req *r, const struct field *f, size_t n, cJSON **env)
{
	const char *body = json_given(r, f, n);
	cJSON      *given;

	*env = NULL;
	if (body == NULL || (given = cJSON_Parse(body)) == NULL)
		return NULL;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, given);
	if ((*env = cJSON_DetachItemFromObjectCaseSensitive(given, "env")) != NULL)
		arena_defer(r->a, (arena_cleanup_fn)apps_map_delete_wiped, *env);
	return json_text(r, given);
}

/*
 * A function's env as the body gives it: its function-scope variables of
 * the env store (as an application's create body's env, applications.c).
 * replace (PUT): the map replaces the scope, null or {} empties it; else
 * (POST) the map's keys are written.  A change gives the function a new
 * ETag.
 */
static enum err
fn_env_write(struct req *r, const char *id, cJSON *env, bool replace)
{
	struct env_scope s = {r->who.project_id, "function", id};
	struct env_write w;
	cJSON           *empty = NULL;
	enum err         e;
	bool             changed;

	if (env == NULL || (!replace && cJSON_GetArraySize(env) == 0))
		return ERR_OK;
	if (cJSON_IsNull(env)) {
		if ((empty = cJSON_CreateObject()) == NULL)
			return ERR_INTERNAL;
		arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, empty);
		env = empty;
	}
	if ((e = env_scope_write(r, &s, env, replace, "env", &w)) != ERR_OK)
		return e;
	changed = cJSON_GetArraySize(w.created) + cJSON_GetArraySize(w.updated) +
	    cJSON_GetArraySize(w.deleted) > 0;
	cJSON_Delete(w.created);
	cJSON_Delete(w.updated);
	cJSON_Delete(w.deleted);
	cJSON_Delete(w.unchanged);
	return changed && replace ? db_run(r, &st_fn_env_bump, NULL, id) : ERR_OK;
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *body, *id;
	PGresult        *res;
	cJSON           *env;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK ||
	    (e = perm_project(r, v[C_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	if ((body = given_body(r, create_fields, sizeof(create_fields) / sizeof(*create_fields),
	    &env)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_fn_create, &res, r->who.project_id, body);
	if (e == ERR_CONFLICT)
		return http_error(r, e, FUNCTION_NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	id = db_get(res, 0, "id");
	/* Its env: function-scope variables, in the same transaction. */
	if ((e = fn_env_write(r, id, env, false)) != ERR_OK)
		return e;
	return respond(r, id, 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

static const struct db_update fn_update = {&st_fn_update, NULL, "function", "function not found",
    FUNCTION_NAME_TAKEN};

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *body;
	cJSON           *env;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, update_fields, v, update_rule)) != ERR_OK)
		return e;
	if ((body = given_body(r, update_fields, sizeof(update_fields) / sizeof(*update_fields),
	    &env)) == NULL)
		return ERR_INTERNAL;
	/* The If-Match check first; then env: a new map replaces the function
	 * scope, null or {} empties it. */
	if ((e = db_update(r, &fn_update, id, body, version)) != ERR_OK ||
	    (e = fn_env_write(r, id, env, true)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/* 204 once the row is gone; its fn.remove job (queued by the row's delete
 * trigger) removes the container, the image and the edge site. */
static enum err
del(struct req *r)
{
	return db_delete(r, &st_fn_delete, "function", NULL);
}

/*
 * 202 with the fn.deploy job (README "Long calls").  Its env, as an
 * application release's: the merged store (project < environment <
 * function) with every reference resolved (apps_env_snapshot), sealed
 * into the row for the claim to open; a reference that does not resolve
 * is a 400 naming it, and nothing is queued.
 */
static enum err
deploy(struct req *r)
{
	const char         *id = http_param(r, "id"), *project, *environment, *sealed;
	struct resolve_var *vars;
	struct env_var     *vs;
	PGresult           *res;
	size_t              n;
	enum err            e;

	if ((e = db_get_object(r, &st_fn_where, &res, "function not found", id)) != ERR_OK)
		return e;
	project = db_get(res, 0, "project_id");
	environment = db_get(res, 0, "environment_id");
	if ((e = env_vars_merged(r, project, environment, id, &vs, &n)) != ERR_OK)
		return e;
	vars = arena_alloc(r->a, (n + 1) * sizeof(*vars));
	for (size_t i = 0; i < n; i++)
		vars[i] = (struct resolve_var){vs[i].key, vs[i].value};
	if ((e = apps_env_snapshot(r, project, environment, vars, n, &sealed)) != ERR_OK ||
	    (e = db_run(r, &st_fn_release_env, NULL, id, sealed)) != ERR_OK ||
	    (e = db_run(r, &st_fn_deploy, &res, id, r->who.user_id)) != ERR_OK)
		return e;
	return job_respond_queued(r, db_get(res, 0, "job_id"));
}

/*
 * {payload} -> the fn.invoke job's result {status, body, duration_ms,
 * invocation}, answered when the job ends without holding this worker
 * (job_respond_wait: launcher-ws waits); 202 with the job past the wait:
 * ?wait=<seconds> (0..JOB_WAIT_MAX_SECONDS), by default the function's timeout plus
 * FN_INVOKE_SLACK_S.
 */
static enum err
invoke(struct req *r)
{
	const cJSON *payload;
	const char  *w = http_query(r, "wait");
	PGresult    *res;
	int64_t      timeout, wait = -1;
	enum err     e;

	if (w != NULL && util_parse_i64(w, 0, JOB_WAIT_MAX_SECONDS, &wait) != 0)
		return http_field_error(r, "invalid query parameter", "wait",
		    arena_printf(r->a, "must be an integer from 0 to %d (seconds)", JOB_WAIT_MAX_SECONDS));
	if ((e = http_read_json(r, false)) != ERR_OK)
		return e;
	payload = r->json != NULL ? cJSON_GetObjectItemCaseSensitive(r->json, "payload") : NULL;
	e = db_run(r, &st_fn_invoke, &res, http_param(r, "id"),
	    payload != NULL ? json_text(r, payload) : "null", r->who.user_id);
	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "the function was never deployed"));
	if (e != ERR_OK)
		return e;
	if (util_parse_i64(db_get(res, 0, "timeout_seconds"), 1, 900, &timeout) != 0)
		return ERR_INTERNAL;
	return job_respond_wait(r, db_get(res, 0, "job_id"), wait >= 0 ? (int)wait :
	    (int)timeout + FN_INVOKE_SLACK_S, 200);
}

static enum err
invocations(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, http_param(r, "id"));
	return list_run(r, &p, &st_fn_invocations);
}

static enum err
logs(struct req *r)
{
	return runtime_logs_answer(r, &st_fn_logs);
}

#define FN_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = function_project}

const struct route api_function_routes[] = {
	{.methods = HTTP_GET, .pattern = "/functions", .fn = list},
	{.methods = HTTP_POST, .pattern = "/functions", .fn = create, .audit = "function.create"},
	FN_ROUTE(HTTP_GET, "/functions/:id", get, CAP_READ, NULL),
	FN_ROUTE(HTTP_PUT, "/functions/:id", update, CAP_WRITE, "function.update"),
	FN_ROUTE(HTTP_DELETE, "/functions/:id", del, CAP_WRITE, "function.delete"),
	FN_ROUTE(HTTP_POST, "/functions/:id/deploy", deploy, CAP_DEPLOY, "function.deploy"),
	FN_ROUTE(HTTP_POST, "/functions/:id/invoke", invoke, CAP_DEPLOY, "function.invoke"),
	FN_ROUTE(HTTP_GET, "/functions/:id/invocations", invocations, CAP_READ, NULL),
	FN_ROUTE(HTTP_GET, "/functions/:id/logs", logs, CAP_DEPLOY, NULL),
	{0},
};
