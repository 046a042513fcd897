/*
 * app_actions.c - API.md §4 the actions on an application that become jobs
 * for its server: deploy, rollback, start, stop, restart, scale; and what
 * it runs (instances) and uses (dependencies).
 *
 * What runs is decided by deployments (deployments.c and the SQL of
 * sql/006_applications.sql): a deploy creates a deployment row, the
 * database keeps one active and one queued per application, and a trigger
 * moves deployments and the application's status as jobs finish.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/resolve.h"
#include "../core/util.h"
#include "apps_common.h"
#include "env_vars.h"

DB_STMT st_deploy = {"apps_deploy",
    "SELECT deployment_id, created FROM api_deploy($1::uuid, $2, $3, $4, $5, $6::uuid, $7::uuid,"
    " $8, $9::int, $10::jsonb)"};
/* Where an application is, and the version of its env; read before its variables. */
DB_STMT st_env_where = {"apps_env_where",
    "SELECT a.project_id, a.environment_id, a.env_version, a.name,"
    " p.auto_error_tracking_enabled AS sentry, a.compose_spec FROM applications a"
    " JOIN projects p ON p.id = a.project_id WHERE a.id = $1::uuid"};
DB_STMT st_previous = {"apps_previous",
    "SELECT d.id FROM deployments d JOIN applications a ON a.id = d.application_id"
    " WHERE d.application_id = $1::uuid AND d.status = 'succeeded'"
    " AND d.id IS DISTINCT FROM a.current_deployment_id AND d.image_digest IS NOT NULL"
    " AND d.created_at < coalesce((SELECT created_at FROM deployments"
    "  WHERE id = a.current_deployment_id), 'infinity')"
    " ORDER BY d.created_at DESC, d.id DESC LIMIT 1"};
/* An action on the running release: the job, and the pending action shown. */
DB_STMT st_action = {"apps_action",
    "WITH a AS (SELECT * FROM applications WHERE id = $1::uuid),"
    " d AS (SELECT d.* FROM deployments d, a WHERE d.id = a.current_deployment_id)"
    " SELECT job_enqueue(a.tenant_id, a.server_id, a.project_id, $2,"
    "  app_job_payload(a, d.id, deployment_release_source(d))"
    "  || coalesce($3::jsonb, '{}'), $4::uuid) AS job_id"
    " FROM a, d"};
DB_STMT st_pending = {"apps_pending",
    "UPDATE applications SET pending_action = $2 WHERE id = $1::uuid"};
DB_STMT st_scale = {"apps_scale",
    "UPDATE applications SET replicas = $2::int WHERE id = $1::uuid"
    " RETURNING current_deployment_id, source_type"};
DB_STMT st_instances = {"apps_instances",
    "SELECT i.id, i.container_id, i.name, i.server_id, i.deployment_id, i.status, i.health,"
    " i.host_port, i.started_at, i.restart_count, i.exit_code, i.cpu_percent, i.memory_bytes,"
    " i.updated_at FROM instances i WHERE i.application_id = $1::uuid"
    " ORDER BY i.created_at, i.id"};
DB_STMT st_deps = {"apps_dependencies",
    "SELECT app_volumes(id) AS volumes, to_jsonb(depends_on) AS depends_on FROM applications WHERE id = $1::uuid"};

static const char *
check_sha(const cJSON *v)
{
	size_t n = strlen(v->valuestring);

	if (n < 7 || n > 64 || strspn(v->valuestring, "0123456789abcdef") != n)
		return "must be a hexadecimal commit id (7 to 64 characters)";
	return NULL;
}

static const struct field deploy_fields[] = {
	{"commit_sha", F_STRING, false, true, 7, 64, check_sha},
	{"branch", F_STRING, false, true, 1, 255, apps_check_branch},
	{"image_url", F_STRING, false, true, 1, 1024, apps_check_image},
};

static enum err
respond_deploy(struct req *r, PGresult *res)
{
	bool created = db_get(res, 0, "created")[0] == 't';

	return apps_respond_deployment(r, db_get(res, 0, "deployment_id"), created ? 201 : 200);
}

/* An application's merged env, opened: vars[i] = {KEY, raw value}, by key;
 * vars has room for APP_ENV_DEFAULTS more. */
struct app_env {
	const char         *project_id, *environment_id, *version, *name;
	const char         *compose_spec;	/* docker_compose: compose.h's form; else NULL */
	bool                sentry;	/* the project's auto_error_tracking_enabled */
	struct resolve_var *vars;
	size_t              n;
};

/*
 * What a release's env holds unless the merged map sets the key itself
 * (in any scope): with the project's auto_error_tracking_enabled, the
 * application's own DSN and its environment's name, as references the
 * resolver turns into values like any other (env_refs.c, kind sentry):
 * KEY = ${sentry.<the application's name>.<prop>}.
 */
static const struct { const char *key, *prop; } sentry_defaults[] = {
	{"SENTRY_DSN", "dsn"},
	{"SENTRY_ENVIRONMENT", "environment"},
};
#define APP_ENV_DEFAULTS (sizeof(sentry_defaults) / sizeof(*sentry_defaults))

/*
 * The merged env of application app (env_vars_merged: one statement, the
 * values opened in the request's arena, which wipes them at reset), and
 * the app's env_version read just before it: a variable changed in
 * between makes the version older than the rows, which api_deploy()
 * refuses (409, retry) rather than record a snapshot under a version it
 * does not hold.  Errors are recorded for the router (404, or 409 naming
 * a value that does not open).
 */
static enum err
env_load(struct req *r, const char *app, struct app_env *env)
{
	struct env_var *vs;
	PGresult       *res;
	enum err        e;

	if ((e = db_get_object(r, &st_env_where, &res, "application not found", app)) != ERR_OK)
		return e;
	env->project_id = db_get(res, 0, "project_id");
	env->environment_id = db_get(res, 0, "environment_id");
	env->version = db_get(res, 0, "env_version");
	env->name = db_get(res, 0, "name");
	env->sentry = db_get(res, 0, "sentry")[0] == 't';
	env->compose_spec = db_isnull(res, 0, "compose_spec") ? NULL : db_get(res, 0, "compose_spec");
	if ((e = env_vars_merged(r, env->project_id, env->environment_id, app, &vs, &env->n)) !=
	    ERR_OK)
		return e;
	env->vars = arena_alloc(r->a, (env->n + APP_ENV_DEFAULTS + 1) * sizeof(*env->vars));
	for (size_t i = 0; i < env->n; i++)
		env->vars[i] = (struct resolve_var){vs[i].key, vs[i].value};
	return ERR_OK;
}

/* Adds the defaults of sentry_defaults that env does not set (the room is
 * there, env_load), when the project tracks errors automatically. */
static void
env_add_defaults(struct req *r, struct app_env *env)
{
	size_t n = env->n;

	for (size_t d = 0; env->sentry && d < APP_ENV_DEFAULTS; d++) {
		bool set = false;

		for (size_t i = 0; i < n && !set; i++)
			set = strcmp(env->vars[i].key, sentry_defaults[d].key) == 0;
		if (!set)
			env->vars[env->n++] = (struct resolve_var){sentry_defaults[d].key,
			    arena_printf(r->a, "${sentry.%s.%s}", env->name, sentry_defaults[d].prop)};
	}
}

void
apps_map_delete_wiped(cJSON *map)
{
	for (cJSON *it = map ? map->child : NULL; it; it = it->next)
		if (cJSON_IsString(it))
			sodium_memzero(it->valuestring, strlen(it->valuestring));
	cJSON_Delete(map);
}

void
apps_result_free_wiped(struct resolve_result *res, size_t n)
{
	for (size_t i = 0; res->values != NULL && i < n; i++)
		if (res->values[i] != NULL)
			sodium_memzero(res->values[i], strlen(res->values[i]));
	resolve_result_free(res, n);
}

/* Adds {field, message} to bad unless an equal entry is there (a store
 * variable that fails, fails for every service). */
static void
detail_once(cJSON *bad, const char *field, const char *message)
{
	for (const cJSON *it = bad->child; it; it = it->next)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "field")->valuestring, field) == 0 &&
		    strcmp(cJSON_GetObjectItemCaseSensitive(it, "message")->valuestring, message) == 0)
			return;
	json_detail(bad, field, message);
}

/*
 * The env snapshot of a docker_compose release: for each service, the
 * application's merged store (env, with its defaults) with the service's
 * own environment entries in place of the store's variables of the same
 * keys (the service is more specific), every reference resolved by the
 * one resolver; sealed as one flat map of "<service>.<KEY>" keys (a
 * service name holds no '.', a key no '.'), so that every reader of
 * snapshots (the claim, the redaction of runtime logs) takes it as it
 * takes an application's.  A bad reference in a service's entry is named
 * compose.services.<svc>.environment.<KEY>; one in the store by its key.
 */
static enum err
compose_release_env(struct req *r, const struct app_env *env, const char **sealed)
{
	struct env_refs_ctx ctx = {.r = r, .project_id = env->project_id,
	    .environment_id = env->environment_id};
	cJSON              *spec = cJSON_Parse(env->compose_spec), *map, *bad;
	const cJSON        *svc;

	if (spec == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, spec);
	map = cJSON_CreateObject();
	bad = cJSON_CreateArray();
	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(spec, "services")) {
		const char           *name = cJSON_GetObjectItemCaseSensitive(svc, "name")->valuestring;
		const cJSON          *own = cJSON_GetObjectItemCaseSensitive(svc, "environment"), *it;
		size_t                n = 0, nown = (size_t)cJSON_GetArraySize(own);
		struct resolve_var   *vars = arena_alloc(r->a, (env->n + nown + 1) * sizeof(*vars));
		struct resolve_result res;
		int                   rc;

		for (size_t i = 0; i < env->n; i++)
			if (cJSON_GetObjectItemCaseSensitive(own, env->vars[i].key) == NULL)
				vars[n++] = env->vars[i];
		cJSON_ArrayForEach(it, own) {
			vars[n++] = (struct resolve_var){it->string, it->valuestring};
		}
		if ((rc = resolve_all(vars, n, env_refs_lookup, &ctx, &res)) < 0) {
			cJSON_Delete(bad);
			apps_map_delete_wiped(map);
			return ERR_INTERNAL;
		}
		for (size_t i = 0; rc > 0 && i < res.nerr; i++)
			detail_once(bad, cJSON_GetObjectItemCaseSensitive(own, res.errs[i].key) != NULL ?
			    arena_printf(r->a, "compose.services.%s.environment.%s", name,
			    res.errs[i].key) : res.errs[i].key, res.errs[i].message);
		for (size_t i = 0; rc == 0 && i < n; i++)
			cJSON_AddItemToObject(map, arena_printf(r->a, "%s.%s", name, vars[i].key),
			    cJSON_CreateString(res.values[i]));
		apps_result_free_wiped(&res, n);
	}
	if (cJSON_GetArraySize(bad) > 0) {
		apps_map_delete_wiped(map);
		return req_fail_details(r, "the environment variables have references that do not "
		    "resolve; nothing was deployed", bad);
	}
	cJSON_Delete(bad);
	*sealed = apps_env_seal(r, map);
	apps_map_delete_wiped(map);
	return *sealed != NULL ? ERR_OK : ERR_INTERNAL;
}

/*
 * The id of the engine volume of a compose file's named volume: a UUID
 * made from the application's id and the volume's name (BLAKE2b), so that
 * every release of the application mounts the same engine volume
 * lnchr-vol-<id>, labelled like the plane's volumes (volume.h), and no
 * other application's.  An arena string.
 */
static const char *
compose_volume_id(struct req *r, const char *app, const char *name)
{
	unsigned char h[16];
	char          hex[33];
	const char   *in = arena_printf(r->a, "compose-volume:%s:%s", app, name);

	crypto_generichash(h, sizeof(h), (const unsigned char *)in, strlen(in), NULL, 0);
	util_hex(hex, h, sizeof(h));
	return arena_printf(r->a, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
	    hex + 20);
}

/*
 * The source of a docker_compose deploy (sql/049's api_deploy p_source):
 * {"type": "compose", "web_service", "port", "volumes", "services"} from
 * the application's compose_spec, each named volume with the id of its
 * engine volume, and no service's environment (sealed in the env
 * snapshot instead).  Images stay as written: the claim maps them through the
 * site's image mirror table (agent.c, map_images).  JSON text in the
 * arena, or NULL when spec_text is NULL.
 */
static const char *
compose_source(struct req *r, const char *app, const char *spec_text)
{
	cJSON *src, *svc, *m;
	char  *out;

	if (spec_text == NULL || (src = cJSON_Parse(spec_text)) == NULL)
		return NULL;
	cJSON_AddStringToObject(src, "type", "compose");
	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(src, "services")) {
		/* Its values are in the sealed snapshot (compose_release_env), not here:
		 * the source is stored in the clear (deployments, jobs). */
		cJSON_DeleteItemFromObjectCaseSensitive(svc, "environment");
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(svc, "volumes")) {
			cJSON_AddStringToObject(m, "volume_id", compose_volume_id(r, app,
			    cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring));
		}
	}
	out = cJSON_PrintUnformatted(src);
	cJSON_Delete(src);
	if (out != NULL)
		arena_defer(r->a, cJSON_free, out);
	return out;
}

/*
 * The env snapshot a new release runs with (sealed, SECRET_APP_ENV) and
 * the app's env_version it comes from: the merged map, with the defaults
 * it does not set (env_add_defaults), every reference resolved (core/resolve.h, through the providers of
 * env_refs.c), before anything is queued, so that a release keeps what
 * its references resolved to and a rollback re-applies exactly that.
 * Any reference that does not resolve: 400 (detail set) with one entry
 * per bad reference, {field: KEY, message: "${db.x.url}: ..."}; the
 * messages name references, never values.
 */
enum err
apps_release_env(struct req *r, const char *app, const char **sealed, const char **version,
    const char **compose_spec)
{
	struct app_env env;
	enum err       e;

	if ((e = env_load(r, app, &env)) != ERR_OK)
		return e;
	env_add_defaults(r, &env);
	*version = env.version;
	if (compose_spec != NULL)
		*compose_spec = env.compose_spec;
	if (env.compose_spec != NULL)
		return compose_release_env(r, &env, sealed);
	return apps_env_snapshot(r, env.project_id, env.environment_id, env.vars, env.n, sealed);
}

enum err
apps_env_snapshot(struct req *r, const char *project_id, const char *environment_id,
    const struct resolve_var *vars, size_t n, const char **sealed)
{
	struct env_refs_ctx   ctx = {.r = r, .project_id = project_id,
	    .environment_id = environment_id};
	struct resolve_result res;
	cJSON                *map, *bad;
	int                   rc;

	if ((rc = resolve_all(vars, n, env_refs_lookup, &ctx, &res)) < 0)
		return ERR_INTERNAL;
	if (rc > 0) {
		bad = cJSON_CreateArray();
		for (size_t i = 0; i < res.nerr; i++)
			json_detail(bad, res.errs[i].key, res.errs[i].message);
		apps_result_free_wiped(&res, n);
		return req_fail_details(r, "the environment variables have references that do not "
		    "resolve; nothing was deployed", bad);
	}
	map = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToObject(map, vars[i].key, cJSON_CreateString(res.values[i]));
	apps_result_free_wiped(&res, n);
	*sealed = apps_env_seal(r, map);
	apps_map_delete_wiped(map);
	return *sealed != NULL ? ERR_OK : ERR_INTERNAL;
}

/* Whether a service of the stack has host settings: the app's compose_spec
 * ($2 NULL) or the source of its release $2 (compose.h's form either way). */
DB_STMT st_host_stack = {"apps_host_stack",
    "SELECT EXISTS (SELECT 1 FROM applications a LEFT JOIN deployments d"
    "  ON d.id = $2::uuid AND d.application_id = a.id,"
    "  jsonb_array_elements(CASE WHEN $2::uuid IS NULL THEN a.compose_spec ELSE d.source END"
    "   -> 'services') s"
    " WHERE a.id = $1::uuid AND jsonb_typeof(s -> 'host') = 'object') AS host"};

enum err
apps_host_guard(struct req *r, const char *app, const char *deployment)
{
	PGresult *res;
	enum err  e;

	if (perm_host_escape(r))
		return ERR_OK;
	if ((e = db_run(r, &st_host_stack, &res, app, deployment)) != ERR_OK)
		return e;
	if (PQntuples(res) == 1 && db_get(res, 0, "host")[0] == 't')
		return http_error(r, ERR_FORBIDDEN, "a service of this stack reaches out of the "
		    "sandbox (host settings): only a superadmin may do this");
	return ERR_OK;
}

static enum err
deploy(struct req *r)
{
	struct field_val v[3];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK)
		return e;
	if (r->json != NULL && (e = JSON_FIELDS(r, deploy_fields, v)) != ERR_OK)
		return e;
	if (r->json == NULL)
		memset(v, 0, sizeof(v));
	if ((e = apps_deploy(r, http_param(r, "id"), r->who.key_id ? "api" : "manual", v[0].s,
	    v[1].s, v[2].s, &res)) != ERR_OK)
		return e;
	return respond_deploy(r, res);
}

enum err
apps_deploy(struct req *r, const char *app, const char *trigger, const char *commit,
    const char *branch, const char *image, PGresult **res)
{
	const char *env = NULL, *envv = NULL, *spec = NULL, *src = NULL;
	enum err    e;

	/* The source from the very compose_spec the env was built from. */
	if ((e = apps_release_env(r, app, &env, &envv, &spec)) != ERR_OK)
		return e;
	if (spec != NULL && image != NULL)
		return http_field_error(r, "invalid request body", "image_url", "a docker_compose "
		    "application deploys the images its compose file names");
	if (spec != NULL && (src = compose_source(r, app, spec)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_deploy, res, app, trigger, commit, branch, image, NULL, r->who.user_id,
	    env, envv, src);
	if (e == ERR_RETRY)
		return http_error(r, ERR_CONFLICT, "another deploy of this application is being "
		    "recorded right now; retry");
	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "conflict"));
	return e;
}

static const struct field rollback_fields[] = {
	{"deployment_id", F_UUID, false, true, 0, 0, NULL},
};

static enum err
rollback(struct req *r)
{
	struct field_val v[1] = {{0}};
	const char      *id = http_param(r, "id"), *target;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK)
		return e;
	if (r->json != NULL && (e = JSON_FIELDS(r, rollback_fields, v)) != ERR_OK)
		return e;
	target = v[0].s;
	if (target == NULL) {
		if ((e = db_run(r, &st_previous, &res, id)) != ERR_OK)
			return e;
		if (PQntuples(res) != 1)
			return http_error(r, ERR_CONFLICT,
			    "there is no earlier successful deployment to roll back to");
		target = arena_strdup(r->a, db_get(res, 0, "id"));
	}
	if ((e = apps_host_guard(r, id, target)) != ERR_OK)
		return e;
	e = db_run(r, &st_deploy, &res, id, "rollback", NULL, NULL, NULL, target, r->who.user_id,
	    NULL, NULL, NULL);
	if (e == ERR_BAD_REQUEST)
		return http_field_error(r, "invalid request body", "deployment_id",
		    "is not a successful deployment of this application");
	if (e != ERR_OK)
		return e;
	return respond_deploy(r, res);
}

enum err
apps_action(struct req *r, const char *kind, const char *pending, const char *extra, const char **job)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_action, &res, id, kind, extra, r->who.user_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_CONFLICT,
		    "the application has no successful deployment yet: deploy it first");
	if (job != NULL)
		*job = arena_strdup(r->a, db_get(res, 0, "job_id"));
	if (pending != NULL && (e = db_run(r, &st_pending, &res, id, pending)) != ERR_OK)
		return e;
	return ERR_OK;
}

static enum err
lifecycle(struct req *r, const char *what)
{
	enum err e;

	if ((e = apps_action(r, arena_printf(r->a, "app.%s", what), what, NULL, NULL)) != ERR_OK)
		return e;
	return apps_respond(r, http_param(r, "id"), 200, NULL);
}

static enum err
start(struct req *r)
{
	return lifecycle(r, "start");
}

static enum err
stop(struct req *r)
{
	return lifecycle(r, "stop");
}

static enum err
restart(struct req *r)
{
	return lifecycle(r, "restart");
}

static const struct field scale_fields[] = {
	{"replicas", F_INT, true, false, 0, 50, NULL},
};

static enum err
scale(struct req *r)
{
	struct field_val v[1];
	const char      *id = http_param(r, "id");
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, scale_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_scale, &res, id, arena_printf(r->a, "%lld", (long long)v[0].i))) !=
	    ERR_OK)
		return e;
	if (PQntuples(res) == 1 && strcmp(db_get(res, 0, "source_type"), "docker_compose") == 0)
		return http_error(r, ERR_CONFLICT, "a docker_compose application runs one container "
		    "per service: scale is not supported (stop and start the stack instead)");
	/* Never deployed: the count applies to the first deployment. */
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		e = apps_action(r, "app.scale", "scale", arena_printf(r->a, "{\"replicas\": %lld}",
		    (long long)v[0].i), NULL);
		if (e != ERR_OK)
			return e;
	}
	return apps_respond(r, id, 200, NULL);
}

static enum err
instances(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_instances, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

int
apps_record_ref(void *ctx, const char *kind, const char *name, const char *prop, char **out,
    char **why)
{
	cJSON      *deps = ctx, *list = NULL, *item;
	const char *k, *l;

	for (size_t i = 0; list == NULL && env_refs_kind(i, &k, &l); i++)
		if (strcmp(kind, k) == 0)
			list = cJSON_GetObjectItemCaseSensitive(deps, l);
	if (list == NULL) {
		*why = strdup("not a kind of resource");
		return -1;
	}
	for (item = list->child; item; item = item->next)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(item, "name")->valuestring, name) == 0)
			break;
	if (item == NULL) {
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "kind", kind);
		cJSON_AddStringToObject(item, "name", name);
		cJSON_AddItemToArray(list, item);
	}
	*out = strdup("");
	return *out != NULL ? 0 : -1;
}

static enum err
dependencies(struct req *r)
{
	const char           *id = http_param(r, "id"), *kind, *list;
	struct resolve_result rr;
	struct app_env        env;
	PGresult             *res;
	cJSON                *d, *row;
	enum err              e;

	if ((e = db_get_object(r, &st_deps, &res, "application not found", id)) != ERR_OK ||
	    (e = env_load(r, id, &env)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	for (size_t i = 0; env_refs_kind(i, &kind, &list); i++)
		cJSON_AddItemToObject(d, list, cJSON_CreateArray());
	/* Unresolved ${VAR}s and cycles do not matter here: the deploy says so. */
	if (resolve_all(env.vars, env.n, apps_record_ref, d, &rr) < 0) {
		cJSON_Delete(d);
		return ERR_INTERNAL;
	}
	apps_result_free_wiped(&rr, env.n);
	row = json_row(res, 0);
	cJSON_AddItemToObject(d, "volumes", cJSON_DetachItemFromObject(row, "volumes"));
	cJSON_AddItemToObject(d, "depends_on", cJSON_DetachItemFromObject(row, "depends_on"));
	cJSON_Delete(row);
	return http_respond_json(r, 200, d, NULL);
}

const struct route api_app_action_routes[] = {
	APPS_ROUTE(HTTP_POST, "/applications/:id/deploy", deploy, CAP_DEPLOY, "application.deploy"),
	APPS_ROUTE(HTTP_POST, "/applications/:id/start", start, CAP_DEPLOY, "application.start"),
	APPS_ROUTE(HTTP_POST, "/applications/:id/stop", stop, CAP_DEPLOY, "application.stop"),
	APPS_ROUTE(HTTP_POST, "/applications/:id/restart", restart, CAP_DEPLOY, "application.restart"),
	APPS_ROUTE(HTTP_POST, "/applications/:id/rollback", rollback, CAP_DEPLOY,
	    "application.rollback"),
	APPS_ROUTE(HTTP_GET, "/applications/:id/instances", instances, CAP_READ, NULL),
	APPS_ROUTE(HTTP_POST, "/applications/:id/scale", scale, CAP_DEPLOY, "application.scale"),
	APPS_ROUTE(HTTP_GET, "/applications/:id/dependencies", dependencies, CAP_READ, NULL),
	{0},
};
