/*
 * template_deploy.c - API.md §13: a template's deploy (POST
 * /templates/:ref/deploy), its record (GET /template-deploys/:id) and a
 * project written back as a template (GET /projects/:id/export).
 *
 * A deploy checks the whole template first (core/template.h, the one
 * parser and checker, with this project's names for clashes), then
 * creates every resource of the plan in the request's one transaction
 * through the functions the REST create routes use (volumes_create,
 * databases_create, apps_create, the env store, apps_deploy), records
 * them (template_deploy_record, sql/048) and answers 201.  What follows is
 * the database's: the first deployments wait for the databases and
 * applications they need, and a failure removes everything the deploy made
 * (sql/048_template_deploys.sql).  No request waits for any of it.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/buf.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/list.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/resolve.h"
#include "../core/template.h"
#include "../core/txn.h"
#include "../core/util.h"
#include "../core/yaml.h"
#include "apps_common.h"
#include "env_vars.h"

DB_STMT st_environment = {"tpldeploy_environment",
    "SELECT project_environment($1::uuid, $2::uuid) AS id"};
DB_STMT st_record = {"tpldeploy_record",
    "SELECT template_deploy_record($1::uuid, $2::uuid, $3, $4::jsonb, $5::uuid, $6::jsonb) AS id"};
#define TD_COLS "t.id, t.project_id, t.environment_id, t.template_ref, t.template_name," \
	" t.status, t.error, t.created_by, t.created_at, t.updated_at, t.finished_at," \
	" template_deploy_resources_json(t.id) AS resources"
DB_STMT st_get = {"tpldeploy_get",
    "SELECT " TD_COLS " FROM template_deploys t WHERE t.id = $1::uuid"};
DB_STMT st_project = {"tpldeploy_project",
    "SELECT project_id FROM template_deploys WHERE id = $1::uuid"};
/* What an export writes, in creation order: the project's volumes (not
 * the databases' data volumes), its environment's databases and
 * applications; depends_on as names. */
DB_STMT st_ex_volumes = {"tpldeploy_export_volumes",
    "SELECT v.name, v.size_limit FROM volumes v WHERE v.project_id = $1::uuid"
    " AND NOT EXISTS (SELECT 1 FROM databases d WHERE d.volume_id = v.id)"
    " ORDER BY v.created_at, v.id"};
DB_STMT st_ex_databases = {"tpldeploy_export_databases",
    "SELECT name, type, version, cpu_limit::float8 AS cpu_limit, memory_limit FROM databases"
    " WHERE environment_id = $1::uuid"
    " ORDER BY created_at, id"};
DB_STMT st_ex_apps = {"tpldeploy_export_apps",
    "SELECT a.id, a.name, a.app_type, a.source_type, a.image_url, a.repository_url, a.branch,"
    " a.exposed_port, a.replicas, a.cpu_limit::float8 AS cpu_limit, a.memory_limit,"
    " a.healthcheck_path, a.start_command, a.compose, a.restart_policy,"
    " nullif(a.dockerfile_path, 'Dockerfile') AS dockerfile_path,"
    " nullif(a.build_context, '.') AS build_context,"
    " coalesce((SELECT jsonb_agg(coalesce(d.name, x.name) ORDER BY o)"
    "  FROM unnest(a.depends_on) WITH ORDINALITY u(id, o)"
    "  LEFT JOIN databases d ON d.id = u.id LEFT JOIN applications x ON x.id = u.id"
    "  WHERE coalesce(d.name, x.name) IS NOT NULL), '[]') AS depends_on,"
    " (SELECT coalesce(jsonb_agg(jsonb_build_object('name', v.name, 'mount_path', m.mount_path)"
    "  || CASE WHEN m.mode = 'ro' THEN '{\"mode\": \"ro\"}'::jsonb ELSE '{}' END"
    "  ORDER BY m.position), '[]') FROM volume_mounts m JOIN volumes v ON v.id = m.volume_id"
    "  WHERE m.application_id = a.id) AS volumes"
    " FROM applications a WHERE a.environment_id = $1::uuid ORDER BY a.created_at, a.id"};
/* The metadata of the project's last deploy that did not fail (an export
 * of a deployed export then says the same), else the project's name. */
DB_STMT st_ex_meta = {"tpldeploy_export_meta",
    "SELECT p.name, p.description, (SELECT t.metadata FROM template_deploys t"
    "  WHERE t.project_id = p.id AND t.environment_id = $2::uuid AND t.status <> 'failed'"
    "  ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS metadata"
    " FROM projects p WHERE p.id = $1::uuid"};

/* Secrets a deploy generates: [A-Za-z0-9], TEMPLATE_SECRET_LEN unless the
 * variable says `length` (core/template.h's bounds, as the checker's). */
#define TD_SECRET_LEN TEMPLATE_SECRET_LEN
#define TD_SECRET_MAX TEMPLATE_SECRET_MAX

/* ------------------------------------------------------------ deploy */

/* The string member key of o, "" when there is none. */
static const char *
str_of(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s != NULL ? s : "";
}

static const char *
check_var_name(const char *k)
{
	return apps_check_env_key(k);
}

static const struct field var_value[] = {
	{"", F_STRING, false, false, 0, 65536, NULL},
};
static const struct field deploy_fields[] = {
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
	{"variables", F_MAP, false, true, 0, 500, NULL, .key_check = check_var_name,
	    FIELD_SUB(var_value)},
};
enum { D_PROJECT, D_ENV, D_SERVER, D_VARS };

/* What one deploy works with. */
struct td {
	struct req  *r;
	const char  *project, *environment, *server;
	cJSON       *values;	/* variable name -> value (secrets: wiped at the end) */
	cJSON       *secret;	/* variable name -> true for secret ones */
	cJSON       *ids;	/* resource name -> id, of what this deploy created */
	cJSON       *record;	/* [{kind, id, name, waits_for}] for template_deploy_record */
};

/*
 * The value of every variable of the plan: the caller's, else the
 * default, else a generated secret; a variable with none of them, or a
 * caller's name the template does not have, is a detail "variables.NAME".
 */
static void
td_variables(struct td *t, const cJSON *plan, const cJSON *given, cJSON *details)
{
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(plan, "variables"), *v;

	cJSON_ArrayForEach(v, vars) {
		const char  *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
		const char  *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "type"));
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(v, "default");
		const cJSON *len = cJSON_GetObjectItemCaseSensitive(v, "length");
		const cJSON *mine = given ? cJSON_GetObjectItemCaseSensitive(given, name ? name : "") :
		    NULL;
		char        *gen;

		if (name == NULL)
			continue;
		if (type != NULL && strcmp(type, "secret") == 0)
			cJSON_AddTrueToObject(t->secret, name);
		if (cJSON_IsString(mine))
			cJSON_AddStringToObject(t->values, name, mine->valuestring);
		else if (cJSON_IsString(def))
			cJSON_AddStringToObject(t->values, name, def->valuestring);
		else if (cJSON_IsNumber(def) || cJSON_IsBool(def)) {
			char *s = cJSON_PrintUnformatted(def);

			cJSON_AddStringToObject(t->values, name, s ? s : "");
			cJSON_free(s);
		} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "generate"))) {
			size_t n = cJSON_IsNumber(len) && len->valuedouble >= 1 &&
			    len->valuedouble <= TD_SECRET_MAX ? (size_t)len->valuedouble : TD_SECRET_LEN;

			/* [A-Za-z0-9], uniform: crypto_token */
			if ((gen = malloc(n + 1)) == NULL || crypto_token(gen, n + 1, "", n) != 0) {
				free(gen);
				continue;
			}
			cJSON_AddStringToObject(t->values, name, gen);
			sodium_memzero(gen, n);
			free(gen);
		} else
			json_detail(details, arena_printf(t->r->a, "variables.%s", name),
			    "is required: the template gives it no default and does not generate it");
	}
	for (const cJSON *g = given ? given->child : NULL; g; g = g->next)
		if (cJSON_GetObjectItemCaseSensitive(t->values, g->string) == NULL &&
		    cJSON_GetObjectItemCaseSensitive(t->secret, g->string) == NULL) {
			bool known = false;

			cJSON_ArrayForEach(v, vars)
				known = known || strcmp(str_of(v, "name"), g->string) == 0;
			if (!known)
				json_detail(details, arena_printf(t->r->a, "variables.%s", g->string),
				    "is not a variable of this template");
		}
}

/*
 * value with every ${VAR} of a template variable replaced by its value
 * (any "${" inside a value escaped as "$${", so the env store reads it
 * literally); other references (${db.x.host}) and escapes stay.  *secret
 * is set when a secret variable was used.  In the arena (wiped at reset);
 * NULL past ENV_VARS_MAX_VALUE.
 */
static const char *
td_substitute(const struct td *t, const char *value, bool *secret)
{
	struct buf  b;
	const char *s = value;

	buf_init(&b, t->r->a, strlen(value) + 64, ENV_VARS_MAX_VALUE);
	buf_add(&b, "", 0);
	while (*s) {
		const char *end, *val;
		char        name[256];
		size_t      nl;

		if (strncmp(s, "$${", 3) == 0) {
			buf_add(&b, s, 3);
			s += 3;
			continue;
		}
		if (strncmp(s, "${", 2) == 0 && (end = strstr(s + 2, "}")) != NULL &&
		    (nl = (size_t)(end - s - 2)) < sizeof(name)) {
			memcpy(name, s + 2, nl);
			name[nl] = '\0';
			if ((val = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->values,
			    name))) != NULL) {
				for (const char *c = val; *c; c++) {
					if (strncmp(c, "${", 2) == 0)
						buf_add(&b, "$", 1);
					buf_add(&b, c, 1);
				}
				if (cJSON_GetObjectItemCaseSensitive(t->secret, name) != NULL)
					*secret = true;
				s = end + 1;
				continue;
			}
		}
		buf_add(&b, s++, 1);
	}
	return buf_ok(&b) ? b.data : NULL;
}

/* The id of what this deploy created as name (NULL: not one of its own). */
static const char *
td_id(const struct td *t, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->ids, name));
}

static void
td_remember(struct td *t, const char *kind, const char *name, const char *id, cJSON *waits)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddItemToObject(o, "waits_for", waits ? waits : cJSON_CreateArray());
	cJSON_AddItemToArray(t->record, o);
	if (cJSON_GetObjectItemCaseSensitive(t->ids, name) == NULL)
		cJSON_AddStringToObject(t->ids, name, id);
}

static const char *
td_text(struct req *r, const cJSON *o)
{
	char       *s = cJSON_PrintUnformatted(o);
	const char *out = s ? arena_strdup(r->a, s) : NULL;

	cJSON_free(s);
	return out;
}

/* The placement fields of a create body. */
static void
td_place(const struct td *t, cJSON *body, bool environment)
{
	if (environment)
		cJSON_AddStringToObject(body, "environment_id", t->environment);
	if (t->server != NULL)
		cJSON_AddStringToObject(body, "server_id", t->server);
}

static enum err
td_volume(struct td *t, const cJSON *res, const char *name)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(res, "spec");
	cJSON       *body = cJSON_CreateObject();
	const char  *id, *text;
	int64_t      size = 0;

	cJSON_AddStringToObject(body, "name", name);
	if (template_bytes(cJSON_GetObjectItemCaseSensitive(spec, "size_limit"), &size) == 0 &&
	    size > 0)
		cJSON_AddNumberToObject(body, "size_limit", (double)size);
	td_place(t, body, false);
	text = td_text(t->r, body);
	cJSON_Delete(body);
	if (text == NULL)
		return ERR_INTERNAL;
	enum err e = volumes_create(t->r, t->project, text, &id);

	if (e == ERR_OK)
		td_remember(t, "volume", name, id, NULL);
	return e;
}

static enum err
td_database(struct td *t, const cJSON *res, const char *name)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(res, "spec");
	const char  *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "type"));
	const char  *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "version"));
	cJSON       *body = cJSON_CreateObject();
	int64_t      mem = 0;
	double       ncpu = 0;
	const char  *id, *text;
	enum err     e;

	cJSON_AddStringToObject(body, "name", name);
	cJSON_AddStringToObject(body, "type", type ? type : "");
	if (version != NULL)
		cJSON_AddStringToObject(body, "version", version);
	if (template_cpu(cJSON_GetObjectItemCaseSensitive(spec, "cpu_limit"), &ncpu) == 0 &&
	    ncpu > 0)
		cJSON_AddNumberToObject(body, "cpu_limit", ncpu);
	if (template_bytes(cJSON_GetObjectItemCaseSensitive(spec, "memory_limit"), &mem) == 0 &&
	    mem > 0)
		cJSON_AddNumberToObject(body, "memory_limit", (double)mem);
	td_place(t, body, true);
	text = td_text(t->r, body);
	cJSON_Delete(body);
	if (text == NULL || type == NULL)
		return ERR_INTERNAL;
	if ((e = databases_create(t->r, t->project, text, type, version, name,
	    arena_printf(t->r->a, "databases.%s.", name), &id)) == ERR_OK)
		td_remember(t, "database", name, id, NULL);
	return e;
}

/* Copies the listed members of spec that are given (not null) into body. */
static void
td_copy(cJSON *body, const cJSON *spec, const char *const *keys)
{
	for (; *keys; keys++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, *keys);

		if (v != NULL && !cJSON_IsNull(v))
			cJSON_AddItemToObject(body, *keys, cJSON_Duplicate(v, true));
	}
}

/*
 * The databases an env map references (${db.<name>.…}, found by the
 * resolver's own parsing, apps_record_ref) that this deploy created, added
 * to waits (ids, once).
 */
static enum err
td_env_waits(struct td *t, const cJSON *env, cJSON *waits)
{
	struct resolve_result rr;
	struct resolve_var   *vars;
	const char           *kind, *list;
	cJSON                *deps = cJSON_CreateObject();
	const cJSON          *it;
	size_t                n = 0;

	for (size_t k = 0; env_refs_kind(k, &kind, &list); k++)
		cJSON_AddItemToObject(deps, list, cJSON_CreateArray());
	vars = arena_alloc(t->r->a, ((size_t)cJSON_GetArraySize(env) + 1) * sizeof(*vars));
	cJSON_ArrayForEach(it, env)
		if (cJSON_IsString(it))
			vars[n++] = (struct resolve_var){it->string, it->valuestring};
	if (resolve_all(vars, n, apps_record_ref, deps, &rr) < 0) {
		cJSON_Delete(deps);
		return ERR_INTERNAL;
	}
	apps_result_free_wiped(&rr, n);
	for (const char *const *l = (const char *const[]){"databases", "buckets", NULL}; *l; l++)
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(deps, *l)) {
			const char  *id = td_id(t, str_of(it, "name"));
			bool         dup = false;
			const cJSON *w;

			cJSON_ArrayForEach(w, waits)
				dup = dup || (id && strcmp(w->valuestring, id) == 0);
			if (id != NULL && !dup)
				cJSON_AddItemToArray(waits, cJSON_CreateString(id));
		}
	cJSON_Delete(deps);
	return ERR_OK;
}

static const char *const app_keys[] = {"app_type", "source_type", "image_url", "compose",
	"repository_url",
	"branch", "dockerfile_path", "build_context", "exposed_port", "replicas",
	"healthcheck_path", "healthcheck_timeout_seconds", "restart_policy", "start_command", NULL};

static enum err
td_application(struct td *t, const cJSON *res, const char *name)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(res, "spec"), *it;
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(spec, "cpu_limit");
	cJSON       *body = cJSON_CreateObject(), *env = cJSON_CreateObject();
	cJSON       *secrets = cJSON_CreateArray(), *waits = cJSON_CreateArray(), *deps, *vols;
	struct env_scope scope = {t->project, "application", NULL};
	const char  *id, *hook;
	int64_t      mem = 0;
	double       ncpu = 0;
	enum err     e = ERR_INTERNAL;

	arena_defer(t->r->a, (arena_cleanup_fn)apps_map_delete_wiped, env);
	arena_defer(t->r->a, (arena_cleanup_fn)cJSON_Delete, secrets);
	arena_defer(t->r->a, (arena_cleanup_fn)cJSON_Delete, body);
	cJSON_AddStringToObject(body, "name", name);
	td_copy(body, spec, app_keys);
	if (cpu != NULL && !cJSON_IsNull(cpu) && template_cpu(cpu, &ncpu) == 0)
		cJSON_AddNumberToObject(body, "cpu_limit", ncpu);
	if (template_bytes(cJSON_GetObjectItemCaseSensitive(spec, "memory_limit"), &mem) == 0 &&
	    mem > 0)
		cJSON_AddNumberToObject(body, "memory_limit", (double)mem);
	vols = cJSON_AddArrayToObject(body, "volumes");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "volumes")) {
		cJSON *m = cJSON_CreateObject();

		td_copy(m, it, (const char *const[]){"name", "mount_path", "mode", NULL});
		cJSON_AddItemToArray(vols, m);
	}
	deps = cJSON_AddArrayToObject(body, "depends_on");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "depends_on")) {
		const char *dep = td_id(t, cJSON_IsString(it) ? it->valuestring : "");

		if (dep != NULL) {
			cJSON_AddItemToArray(deps, cJSON_CreateString(dep));
			cJSON_AddItemToArray(waits, cJSON_CreateString(dep));
		}
	}
	td_place(t, body, true);
	cJSON_AddStringToObject(body, "project_id", t->project);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "env")) {
		bool        secret = false;
		const char *v = cJSON_IsString(it) ? td_substitute(t, it->valuestring, &secret) : NULL;

		if (v == NULL) {
			e = http_field_error(t->r, "invalid request body", arena_printf(t->r->a,
			    "applications.%s.env.%s", name, it->string), "is too long once the "
			    "variables are in it");
			goto out;
		}
		cJSON_AddStringToObject(env, it->string, v);
		if (secret)
			cJSON_AddItemToArray(secrets, cJSON_CreateString(it->string));
	}
	if ((e = td_env_waits(t, env, waits)) != ERR_OK ||
	    (e = apps_create(t->r, t->project, body, env, arena_printf(t->r->a,
	    "applications.%s.", name), &id, &hook)) != ERR_OK)
		goto out;
	scope.scope_id = id;
	if ((e = env_scope_mark_secret(t->r, &scope, secrets)) != ERR_OK)
		goto out;
	td_remember(t, "application", name, id, waits);
	return ERR_OK;
out:
	cJSON_Delete(waits);
	return e;
}

/*
 * A bucket of the template: a bucket like POST /buckets named as the
 * template names it (what ${bucket.<name>.…} says; the store's own name is
 * made as for any bucket, so the template's bucket_name is not used), its
 * errors named buckets.<name>.<field>.  Applications that reference it
 * wait until it is ready (td_env_waits, sql/053's template_resource_ready).
 */
static enum err
td_bucket(struct td *t, const cJSON *res, const char *name)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(res, "spec");
	cJSON       *body = cJSON_CreateObject();
	const char  *id, *text;
	enum err     e;

	cJSON_AddStringToObject(body, "name", name);
	cJSON_AddBoolToObject(body, "public",
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "public")));
	td_place(t, body, true);
	text = td_text(t->r, body);
	cJSON_Delete(body);
	if (text == NULL)
		return ERR_INTERNAL;
	if ((e = buckets_create(t->r, t->project, text, name, arena_printf(t->r->a, "buckets.%s.",
	    name), &id)) == ERR_OK)
		td_remember(t, "bucket", name, id, NULL);
	return e;
}

/* The created objects, in creation order, each with its kind. */
static cJSON *
td_objects(struct td *t)
{
	cJSON       *out = cJSON_CreateArray();
	const cJSON *it;

	cJSON_ArrayForEach(it, t->record) {
		const char *kind = cJSON_GetObjectItemCaseSensitive(it, "kind")->valuestring;
		const char *id = cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring;
		cJSON      *o = strcmp(kind, "volume") == 0 ? volumes_object(t->r, id) :
		    strcmp(kind, "database") == 0 ? databases_object(t->r, id) :
		    strcmp(kind, "bucket") == 0 ? buckets_object(t->r, id) : apps_object(t->r, id);

		if (o == NULL) {
			cJSON_Delete(out);
			return NULL;
		}
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

/*
 * Creates what plan lists for t, records it, starts the first deployments
 * (held by sql/048 until what they wait for runs) and answers 201.
 */
static enum err
td_run(struct td *t, const char *ref, const cJSON *plan)
{
	struct req  *r = t->r;
	const cJSON *res;
	PGresult    *pr;
	cJSON       *d, *objects;
	const char  *tid;
	enum err     e;

	cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(plan, "resources")) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "kind"));
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "name"));

		if (kind == NULL || name == NULL)
			return ERR_INTERNAL;
		e = strcmp(kind, "volume") == 0 ? td_volume(t, res, name) :
		    strcmp(kind, "database") == 0 ? td_database(t, res, name) :
		    strcmp(kind, "bucket") == 0 ? td_bucket(t, res, name) :
		    strcmp(kind, "application") == 0 ? td_application(t, res, name) : ERR_INTERNAL;
		if (e != ERR_OK)
			return e;
	}
	if ((e = db_run(r, &st_record, &pr, t->project, t->environment, ref,
	    td_text(r, cJSON_GetObjectItemCaseSensitive(plan, "metadata")), r->who.user_id,
	    td_text(r, t->record))) != ERR_OK)
		return e;
	tid = arena_strdup(r->a, db_get(pr, 0, "id"));
	/* The first deployments, once the record holds what they wait for. */
	cJSON_ArrayForEach(res, t->record)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(res, "kind")->valuestring,
		    "application") == 0 && (e = apps_deploy(r, cJSON_GetObjectItemCaseSensitive(res,
		    "id")->valuestring, "template", NULL, NULL, NULL, &pr)) != ERR_OK)
			return e;
	if ((e = db_get_object(r, &st_get, &pr, "template deploy not found", tid)) != ERR_OK ||
	    (objects = td_objects(t)) == NULL)
		return e != ERR_OK ? e : ERR_INTERNAL;
	d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "template_deploy", json_row(pr, 0));
	cJSON_AddItemToObject(d, "resources", objects);
	return http_respond_json(r, 201, d, NULL);
}

static enum err
deploy(struct req *r)
{
	struct field_val v[sizeof(deploy_fields) / sizeof(*deploy_fields)];
	struct td        t = {.r = r};
	const char      *ref = http_param(r, "ref"), *yaml = NULL;
	struct template_ctx ctx;
	cJSON           *plan, *errors = NULL, *details;
	PGresult        *res;
	size_t           len = 0;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, deploy_fields, v)) != ERR_OK ||
	    (e = perm_project(r, v[D_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_environment, &res, r->who.project_id,
	    v[D_ENV].present ? v[D_ENV].s : NULL)) != ERR_OK)
		return e;
	t.project = r->who.project_id;
	t.environment = arena_strdup(r->a, db_get(res, 0, "id"));
	t.server = v[D_SERVER].present ? v[D_SERVER].s : NULL;
	/* The whole template first, with the names the environment has. */
	if ((e = templates_source(r, ref, &yaml, &len)) != ERR_OK ||
	    (e = templates_names(r, t.project, t.environment, &ctx)) != ERR_OK)
		return e;
	if ((plan = template_check(yaml, len, &ctx, &errors)) == NULL)
		return errors != NULL ? templates_invalid(r, errors) : ERR_INTERNAL;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, plan);
	t.values = cJSON_CreateObject();
	t.secret = cJSON_CreateObject();
	t.ids = cJSON_CreateObject();
	t.record = cJSON_CreateArray();
	arena_defer(r->a, (arena_cleanup_fn)apps_map_delete_wiped, t.values);
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, t.secret);
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, t.ids);
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, t.record);
	details = cJSON_CreateArray();
	td_variables(&t, plan, v[D_VARS].present ? v[D_VARS].node : NULL, details);
	if (cJSON_GetArraySize(details) > 0)
		return req_fail_details(r, "invalid request body", details);
	cJSON_Delete(details);
	return td_run(&t, ref, plan);
}

/* ------------------------------------------------------------ record */

static const char *
td_project(struct req *r)
{
	return db_project_of(r, &st_project, "template deploy");
}

static enum err
get(struct req *r)
{
	return db_respond_object(r, &st_get, "template deploy not found", http_param(r, "id"), 200);
}

/* ------------------------------------------------------------ export */

/* A value of the env store in template syntax: ${db.x.name} ->
 * ${x.database}, ${db.x.host} -> ${x.host}; everything else as it is
 * (escapes included).  In the arena; NULL when out of room. */
static const char *
ex_refs(struct req *r, const char *value)
{
	struct buf  b;
	const char *s = value;

	buf_init(&b, r->a, strlen(value) + 64, 2 * (size_t)ENV_VARS_MAX_VALUE);
	buf_add(&b, "", 0);
	while (*s) {
		const char *end, *dot, *prop;

		if (strncmp(s, "$${", 3) == 0) {
			buf_add(&b, s, 3);
			s += 3;
			continue;
		}
		if (strncmp(s, "${db.", 5) == 0 &&
		    (end = strstr(s + 5, "}")) != NULL &&
		    (dot = memchr(s + 5, '.', (size_t)(end - s - 5))) != NULL) {
			prop = dot + 1;
			buf_adds(&b, "${");
			buf_add(&b, s + 5, (size_t)(dot - s - 5));
			buf_adds(&b, ".");
			if (end - prop == 4 && strncmp(prop, "name", 4) == 0)
				buf_adds(&b, "database");
			else
				buf_add(&b, prop, (size_t)(end - prop));
			buf_adds(&b, "}");
			s = end + 1;
			continue;
		}
		buf_add(&b, s++, 1);
	}
	return buf_ok(&b) ? b.data : NULL;
}

/* An integer column's text as a number (0 when it is none). */
static double
ex_int(const char *s)
{
	int64_t n;

	return util_parse_i64(s, INT64_MIN, INT64_MAX, &n) == 0 ? (double)n : 0;
}

/* "1G", "512M", "64K" when exact, else the bytes. */
static cJSON *
ex_bytes(struct req *r, const char *s)
{
	int64_t b;

	if (util_parse_i64(s, 1, INT64_MAX, &b) != 0)
		return cJSON_CreateNull();
	if (b % (1LL << 30) == 0)
		return cJSON_CreateString(arena_printf(r->a, "%lldG", (long long)(b >> 30)));
	if (b % (1LL << 20) == 0)
		return cJSON_CreateString(arena_printf(r->a, "%lldM", (long long)(b >> 20)));
	return cJSON_CreateNumber((double)b);
}

/* A CPU count as the templates write it: "1.0", "0.5", "0.25". */
static cJSON *
ex_cpu(struct req *r, const char *s)
{
	cJSON *v = cJSON_CreateString(s);
	double n = 0;
	char  *f;

	(void)template_cpu(v, &n);
	cJSON_Delete(v);
	f = arena_printf(r->a, "%g", n);

	return cJSON_CreateString(strchr(f, '.') ? f : arena_printf(r->a, "%s.0", f));
}

/*
 * The variable that stands for secret value of key KEY: the same value
 * under the same key shares one variable (two applications given one
 * generated secret); the same key with another value gets KEY_<APP>.
 */
static const char *
ex_secret(struct req *r, cJSON *vars, cJSON *seen, const char *key, const char *app,
    const char *value)
{
	const char *name = key;
	const cJSON *had = cJSON_GetObjectItemCaseSensitive(seen, key);
	size_t       len = strlen(value), alnum = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789");
	unsigned char h[crypto_generichash_BYTES];
	char         hex[sizeof(h) * 2 + 1];
	cJSON       *v;

	/* Values are compared by their hash: the document never holds them. */
	crypto_generichash(h, sizeof(h), (const unsigned char *)value, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (had != NULL && strcmp(had->valuestring, hex) == 0)
		return name;
	if (had != NULL) {
		char *n = arena_printf(r->a, "%s_%s", key, app);

		for (char *c = n; *c; c++)
			*c = *c == '-' ? '_' : (char)((*c >= 'a' && *c <= 'z') ? *c - 32 : *c);
		name = n;
	} else
		cJSON_AddStringToObject(seen, key, hex);
	if (cJSON_GetObjectItemCaseSensitive(vars, name) != NULL)
		return name;
	v = cJSON_AddObjectToObject(vars, name);
	cJSON_AddStringToObject(v, "type", "secret");
	cJSON_AddTrueToObject(v, "generate");
	cJSON_AddNumberToObject(v, "length", alnum == len && len >= TEMPLATE_SECRET_MIN && len <= TD_SECRET_MAX ?
	    (double)len : TD_SECRET_LEN);
	cJSON_AddStringToObject(v, "description", arena_printf(r->a, "generated secret (%s)", key));
	return name;
}

/* The applications of the export, their env in template syntax. */
static enum err
ex_apps(struct req *r, const char *project, const char *environment, cJSON *vars, cJSON *apps)
{
	struct env_app_map *maps;
	size_t              nmaps;
	PGresult           *res;
	cJSON              *seen = cJSON_CreateObject();
	enum err            e;

	(void)project;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, seen);
	/* Every application's merged map in one statement (those with none
	 * are not in it). */
	if ((e = db_run(r, &st_ex_apps, &res, environment)) != ERR_OK ||
	    (e = env_vars_merged_apps(r, environment, false, &maps, &nmaps)) != ERR_OK)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON          *a = cJSON_AddObjectToObject(apps, db_get(res, i, "name")), *env, *row;
		const char     *src = db_get(res, i, "source_type");
		struct env_var *ev = NULL;
		size_t          n = 0;

		cJSON_AddStringToObject(a, "app_type", db_get(res, i, "app_type"));
		cJSON_AddStringToObject(a, "source_type", src);
		if (strcmp(src, "git") == 0) {
			cJSON_AddStringToObject(a, "repository_url", db_get(res, i, "repository_url"));
			cJSON_AddStringToObject(a, "branch", db_get(res, i, "branch"));
			for (const char *const *k = (const char *const[]){"dockerfile_path",
			    "build_context", NULL}; *k; k++)
				if (!db_isnull(res, i, *k))
					cJSON_AddStringToObject(a, *k, db_get(res, i, *k));
		} else if (strcmp(src, "docker_compose") == 0 && !db_isnull(res, i, "compose"))
			cJSON_AddStringToObject(a, "compose", db_get(res, i, "compose"));
		else if (!db_isnull(res, i, "image_url"))
			cJSON_AddStringToObject(a, "image_url", db_get(res, i, "image_url"));
		if (!db_isnull(res, i, "exposed_port")) {
			cJSON *p = cJSON_AddArrayToObject(a, "exposed_ports");

			cJSON_AddItemToArray(p, cJSON_CreateNumber(ex_int(db_get(res, i, "exposed_port"))));
		}
		cJSON_AddNumberToObject(a, "replicas", ex_int(db_get(res, i, "replicas")));
		if (!db_isnull(res, i, "cpu_limit"))
			cJSON_AddItemToObject(a, "cpu_limit", ex_cpu(r, db_get(res, i, "cpu_limit")));
		if (!db_isnull(res, i, "memory_limit"))
			cJSON_AddItemToObject(a, "memory_limit", ex_bytes(r, db_get(res, i,
			    "memory_limit")));
		if (!db_isnull(res, i, "healthcheck_path"))
			cJSON_AddStringToObject(a, "healthcheck_path", db_get(res, i, "healthcheck_path"));
		if (!db_isnull(res, i, "start_command"))
			cJSON_AddStringToObject(a, "start_command", db_get(res, i, "start_command"));
		if (strcmp(db_get(res, i, "restart_policy"), "always") != 0)
			cJSON_AddStringToObject(a, "restart_policy", db_get(res, i, "restart_policy"));
		row = json_row(res, i);
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(row, "depends_on")) > 0)
			cJSON_AddItemToObject(a, "depends_on",
			    cJSON_DetachItemFromObject(row, "depends_on"));
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(row, "volumes")) > 0)
			cJSON_AddItemToObject(a, "volumes", cJSON_DetachItemFromObject(row, "volumes"));
		cJSON_Delete(row);
		/* What the application sees: its merged map (project < environment
		 * < application), secrets as generated variables. */
		for (size_t m = 0; m < nmaps; m++)
			if (strcmp(maps[m].app_id, db_get(res, i, "id")) == 0) {
				ev = maps[m].vars;
				n = maps[m].n;
			}
		if (n == 0)
			continue;
		env = cJSON_AddObjectToObject(a, "env");
		for (size_t k = 0; k < n; k++) {
			const char *t;

			if (ev[k].is_secret) {
				cJSON_AddStringToObject(env, ev[k].key, arena_printf(r->a, "${%s}",
				    ex_secret(r, vars, seen, ev[k].key, db_get(res, i, "name"),
				    ev[k].value)));
				continue;
			}
			if ((t = ex_refs(r, ev[k].value)) == NULL)
				return ERR_INTERNAL;
			cJSON_AddStringToObject(env, ev[k].key, t);
		}
	}
	return ERR_OK;
}

/* The project (its environment ?environmentId=, else the default) as a
 * template document (cJSON), in the order of the gallery's files. */
static enum err
ex_document(struct req *r, const char *project, const char *environment, cJSON **out)
{
	cJSON    *doc = cJSON_CreateObject(), *meta, *vars, *dbs, *vols, *apps;
	PGresult *res;
	enum err  e;

	*out = doc;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, doc);
	cJSON_AddStringToObject(doc, "version", "1.0");
	if ((e = db_run(r, &st_ex_meta, &res, project, environment)) != ERR_OK)
		return e;
	if (!db_isnull(res, 0, "metadata") && (meta = cJSON_Parse(db_get(res, 0, "metadata"))) &&
	    cJSON_IsObject(meta))
		cJSON_AddItemToObject(doc, "metadata", meta);
	else {
		meta = cJSON_AddObjectToObject(doc, "metadata");
		cJSON_AddStringToObject(meta, "name", db_get(res, 0, "name"));
		cJSON_AddStringToObject(meta, "display_name", db_get(res, 0, "name"));
		if (!db_isnull(res, 0, "description") && *db_get(res, 0, "description"))
			cJSON_AddStringToObject(meta, "description", db_get(res, 0, "description"));
	}
	vars = cJSON_AddObjectToObject(doc, "variables");
	dbs = cJSON_AddObjectToObject(doc, "databases");
	if ((e = db_run(r, &st_ex_databases, &res, environment)) != ERR_OK)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON      *d = cJSON_AddObjectToObject(dbs, db_get(res, i, "name"));
		const char *type = db_get(res, i, "type"), *spec, *dv = NULL;
		cJSON      *s;

		cJSON_AddStringToObject(d, "type", type);
		/* The version only when it is not the image table's default. */
		if ((spec = databases_image_spec(r, type, NULL, NULL)) != NULL &&
		    (s = cJSON_Parse(spec)) != NULL) {
			dv = arena_strdup(r->a, str_of(s, "version"));
			cJSON_Delete(s);
		}
		if (dv == NULL || strcmp(dv, db_get(res, i, "version")) != 0)
			cJSON_AddStringToObject(d, "version", db_get(res, i, "version"));
		if (!db_isnull(res, i, "cpu_limit"))
			cJSON_AddItemToObject(d, "cpu_limit", ex_cpu(r, db_get(res, i, "cpu_limit")));
		if (!db_isnull(res, i, "memory_limit"))
			cJSON_AddItemToObject(d, "memory_limit", ex_bytes(r, db_get(res, i,
			    "memory_limit")));
	}
	vols = cJSON_AddObjectToObject(doc, "volumes");
	if ((e = db_run(r, &st_ex_volumes, &res, project)) != ERR_OK)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *v = cJSON_AddObjectToObject(vols, db_get(res, i, "name"));

		if (!db_isnull(res, i, "size_limit"))
			cJSON_AddNumberToObject(v, "size_limit", ex_int(db_get(res, i, "size_limit")));
	}
	apps = cJSON_AddObjectToObject(doc, "applications");
	if ((e = ex_apps(r, project, environment, vars, apps)) != ERR_OK)
		return e;
	/* Sections with nothing in them are left out, as the gallery does. */
	for (const char *const *k = (const char *const[]){"variables", "databases", "volumes",
	    "applications", NULL}; *k; k++)
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, *k)) == 0)
			cJSON_DeleteItemFromObjectCaseSensitive(doc, *k);
	/* The variables first, after metadata, as written by hand. */
	if ((vars = cJSON_DetachItemFromObjectCaseSensitive(doc, "variables")) != NULL) {
		cJSON *first = cJSON_DetachItemFromObjectCaseSensitive(doc, "databases");

		cJSON_AddItemToObject(doc, "variables", vars);
		if (first != NULL) {
			cJSON *rest[2] = {cJSON_DetachItemFromObjectCaseSensitive(doc, "volumes"),
				cJSON_DetachItemFromObjectCaseSensitive(doc, "applications")};

			cJSON_AddItemToObject(doc, "databases", first);
			if (rest[0])
				cJSON_AddItemToObject(doc, "volumes", rest[0]);
			if (rest[1])
				cJSON_AddItemToObject(doc, "applications", rest[1]);
		}
	}
	return ERR_OK;
}

/* Whether the caller asked for YAML itself (Accept: text/yaml or
 * application/yaml); anything else gets the JSON envelope {yaml}. */
static bool
wants_yaml(struct req *r)
{
	const char *a = http_header(r, "accept");

	return a != NULL && (strstr(a, "text/yaml") != NULL || strstr(a, "application/yaml") !=
	    NULL || strstr(a, "application/x-yaml") != NULL);
}

static enum err
export(struct req *r)
{
	const char *project = http_param(r, "id"), *env_given;
	PGresult   *res;
	cJSON      *doc, *d;
	char       *text;
	enum err    e;

	if ((e = list_uuid_query(r, "environmentId", &env_given)) != ERR_OK ||
	    (e = db_run(r, &st_environment, &res, project, env_given)) != ERR_OK)
		return e;
	if ((e = ex_document(r, project, db_get(res, 0, "id"), &doc)) != ERR_OK)
		return e;
	/* The answer holds env values (write permission): audited like a reveal. */
	if ((e = txn_audit(r, "project.export", "project", project, NULL)) != ERR_OK)
		return e;
	if ((text = yaml_emit(doc)) == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, free, text);
	if (wants_yaml(r))
		return http_respond_raw(r, 200, "text/yaml; charset=utf-8", text, strlen(text));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "yaml", text);
	return http_respond_json(r, 200, d, NULL);
}

const struct route api_template_deploy_routes[] = {
	{.methods = HTTP_POST, .pattern = "/templates/:ref/deploy", .fn = deploy,
	    .audit = "template.deploy"},
	{.methods = HTTP_GET, .pattern = "/template-deploys/:id", .fn = get, .cap = CAP_READ,
	    .project_of = td_project},
	/* Write: the document holds the applications' env values. */
	{.methods = HTTP_GET, .pattern = "/projects/:id/export", .fn = export, .cap = CAP_WRITE},
	{0},
};
