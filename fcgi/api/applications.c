/*
 * applications.c - API.md §4 applications: the resource itself (list,
 * create with its placement, read, update, delete, the push webhook's
 * secret) and its body's field table.  The actions that become jobs are
 * in app_actions.c, the env in app_env.c, logs and exec in app_logs.c.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/compose.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "apps_common.h"

/* The compose file only to whoever may write the project (compose: the
 * expression that says so); read-only callers get null, as env values. */
#define APP_COLS_C(compose) "a.id, a.project_id, a.environment_id, a.server_id, a.registry_id," \
	" a.git_provider_id, a.name, a.app_type, a.source_type, a.repository_url, a.branch," \
	" a.dockerfile_path, a.build_context, a.build_args, a.image_url," \
	" CASE WHEN " compose " THEN a.compose END AS compose, a.replicas," \
	" (a.repository_credential_sealed IS NOT NULL) AS repository_credentials_set," \
	" app_webhook_registration(a.id) AS webhook_registration," \
	" a.exposed_port, a.autodeploy, a.deploy_on_tags, a.https_redirect, to_jsonb(a.watch_paths) AS watch_paths, a.healthcheck_path," \
	" a.healthcheck_timeout_seconds, a.restart_policy, a.start_command," \
	" a.cpu_limit::float8 AS cpu_limit, a.memory_limit, app_volumes(a.id) AS volumes," \
	" to_jsonb(a.depends_on) AS depends_on, a.status, a.pending_action, a.current_deployment_id," \
	" (a.env_version > coalesce((SELECT d.env_version FROM deployments d" \
	"  WHERE d.id = a.current_deployment_id), -1)) AS pending_deploy," \
	" coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'hostname', d.hostname," \
	"  'path_prefix', d.path_prefix, 'status', d.status) ORDER BY d.created_at, d.id)" \
	"  FROM domains d WHERE d.application_id = a.id), '[]') AS domains," \
	" app_hostname(a) AS hostname," \
	" 'http://' || app_hostname(a) AS default_url," \
	" CASE WHEN a.autodeploy AND a.source_type = 'git' THEN app_webhook_url(a.id) END" \
	"  AS webhook_url," \
	" a.created_at, a.updated_at, a.row_version::text AS _version"

DB_STMT st_get = {"apps_get",
    "SELECT " APP_COLS_C("$2::boolean") " FROM applications a WHERE a.id = $1::uuid"};
DB_STMT st_project = {"apps_project",
    "SELECT project_id FROM applications WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?environmentId, ?serverId, ?status;
 * $11 the caller's scopes allow writing (the compose file shows where it may: perm.c). */
DB_STMT st_list = {"apps_list",
    "SELECT " APP_COLS_C("$11::boolean AND ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = a.project_id AND m.user_id = $5::uuid AND m.role IN ('admin', 'owner')))")
    " FROM applications a"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = a.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR a.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR a.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR a.environment_id = $8::uuid)"
    " AND ($9::uuid IS NULL OR a.server_id = $9::uuid)"
    " AND ($10::text IS NULL OR a.status = $10)" LIST_TAIL("a.")};
DB_STMT st_name_free = {"apps_name_free",
    "SELECT NOT EXISTS (SELECT 1 FROM applications WHERE project_id = $1::uuid AND name = $2"
    " AND environment_id = coalesce($3::uuid, (SELECT id FROM environments"
    " WHERE project_id = $1::uuid AND is_default))) AS available"};
/* The environment given (in this project) or the project's default. */
/* Placement and insertion in one (sql/019_application_create.sql). */
DB_STMT st_create = {"apps_create",
    "SELECT api_application_create($1::uuid, $2::jsonb, $3, $4) AS id"};
/* $2 = the given fields as a JSON object: only those change. */
DB_STMT st_update = {"apps_update",
    "UPDATE applications a" DB_PATCH("a", "name, app_type, repository_url,"
    " repository_credential_sealed, branch, dockerfile_path, build_context, build_args, image_url,"
    " compose, replicas, exposed_port, autodeploy, deploy_on_tags, https_redirect, watch_paths,"
    " healthcheck_path,"
    " healthcheck_timeout_seconds, restart_policy, start_command, cpu_limit, memory_limit, volumes,"
    " registry_id, git_provider_id, depends_on, compose_spec")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint)"
    " RETURNING id, (autodeploy AND source_type = 'git' AND webhook_secret_sealed IS NULL)"
    "  AS needs_secret"};
/* The push webhook's secret (sealed); deploy_on_tags and https_redirect of a
 * new application (NULL keeps the default). */
DB_STMT st_webhook = {"apps_webhook",
    "UPDATE applications SET webhook_secret_sealed = $2 WHERE id = $1::uuid RETURNING id"};
DB_STMT st_flags = {"apps_flags",
    "UPDATE applications SET deploy_on_tags = coalesce($2::boolean, deploy_on_tags),"
    " https_redirect = coalesce($3::boolean, https_redirect) WHERE id = $1::uuid"};
/* A docker_compose application's checked form (compose.h), after its create. */
DB_STMT st_compose_spec = {"apps_compose_spec",
    "UPDATE applications SET compose_spec = $2::jsonb WHERE id = $1::uuid"};
DB_STMT st_source = {"apps_source",
    "SELECT source_type, app_type, compose FROM applications WHERE id = $1::uuid"};
DB_STMT st_delete = {"apps_delete",
    "DELETE FROM applications WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};

/* ------------------------------------------------------------ lookups */

/* project_of for /applications/:id routes (the router checks the cap). */
const char *
apps_project_of(struct req *r)
{
	return db_project_of(r, &st_project, "application");
}

enum err
apps_respond(struct req *r, const char *id, int status, const char *secret)
{
	PGresult *res;
	cJSON    *d;
	enum err  e;

	if ((e = db_get_object(r, &st_get, &res, "application not found", id,
	    perm_allows(r, CAP_WRITE) ? "true" : "false")) != ERR_OK)
		return e;
	if (secret == NULL)
		return http_respond_row(r, status, res, 0);
	d = json_row(res, 0);
	cJSON_AddStringToObject(d, "webhook_secret", secret);
	return http_respond_json(r, status, d, NULL);
}

/* ------------------------------------------------------------ validation */

static const char *const app_types[] = {"web", "worker", "api", NULL};
static const char *const source_types[] = {"git", "docker_image", "docker_compose", NULL};
static const char *const restart_policies[] = {"always", "on-failure", "unless-stopped", "no",
	NULL};

static const char *
check_path(const cJSON *v)
{
	return v->valuestring[0] == '/' && strpbrk(v->valuestring, " \t\r\n") == NULL ? NULL :
	    "must be a path starting with /";
}

/* A relative path inside the repository: no "..", not absolute. */
static const char *
check_relpath(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] == '/' || strstr(s, "..") != NULL || strpbrk(s, "\r\n") != NULL)
		return "must be a relative path inside the repository";
	return NULL;
}

static const char *
check_repo_url(const cJSON *v)
{
	const char *s = v->valuestring;

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0 &&
	    strncmp(s, "git://", 6) != 0 && strncmp(s, "ssh://", 6) != 0)
		return "must be an https://, http://, git:// or ssh:// URL (file:// would read the "
		    "server's own disk)";
	if (strpbrk(s, " \t\r\n") != NULL)
		return "must not contain whitespace";
	return NULL;
}

/* [registry[:port]/]path[:tag][@digest], lower-case path. */
const char *
apps_check_image(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] == '-' || strpbrk(s, " \t\r\n\"'\\") != NULL)
		return "must be an image reference like registry.example.com/app:tag";
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("._-/:@", *s) ||
		    (*s >= 'A' && *s <= 'Z')))
			return "must be an image reference like registry.example.com/app:tag";
	return NULL;
}

const char *
apps_check_branch(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] == '-' || strstr(s, "..") != NULL || strpbrk(s, " \t\r\n~^:?*[\\") != NULL)
		return "must be a git branch name";
	return NULL;
}

static const char *
check_arg_name(const char *k)
{
	return k[0] == '\0' || strlen(k) > 255 ? "names must be 1 to 255 bytes" : NULL;
}

static const struct field build_arg_value[] = {
	{"", F_STRING, false, false, 0, 65536, NULL},
};

#define VOLUMES_MAX    20
#define MOUNT_PATH_MAX 1024

/* A container path: absolute, no "." or ".." segment, no empty segment,
 * nothing an engine's -v syntax would read as a separator (':' ','), not
 * the root nor the kernel's own trees. */
static const char *
check_mount_path(const char *p)
{
	static const char *const kernel[] = {"/proc", "/sys", "/dev"};
	size_t n = strlen(p);

	if (p[0] != '/' || n < 2 || n > MOUNT_PATH_MAX)
		return "must be an absolute path of at most 1024 bytes, not /";
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ':' || *c == ',' || *c == '\\')
			return "must not contain control characters, ':', ',' or '\\'";
	for (const char *seg = p + 1;; ) {
		size_t len = strcspn(seg, "/");

		if ((len == 0 && seg[len] == '/') || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "must not contain empty, '.' or '..' segments";
		if (seg[len] == '\0')
			break;
		seg += len + 1;
	}
	for (size_t i = 0; i < sizeof(kernel) / sizeof(*kernel); i++) {
		size_t k = strlen(kernel[i]);

		if (strncmp(p, kernel[i], k) == 0 && (p[k] == '\0' || p[k] == '/'))
			return "must not be under /proc, /sys or /dev";
	}
	return NULL;
}

static const char *
check_mount(const cJSON *v)
{
	return check_mount_path(v->valuestring);
}

static const char *
check_volume_name(const cJSON *v)
{
	return util_is_slug(v->valuestring) ? NULL :
	    "must be a volume name (1 to 63 of a-z, 0-9 and '-'), not a host path";
}

/*
 * One entry of volumes: a volume by id or by name (a slug: a host path is
 * never a volume), an absolute container path (check_mount_path) used once,
 * mode "rw" (the default) or "ro", no other key.
 */
static const char *
check_volume(const cJSON *it, const cJSON *all, const char **sub)
{
	const cJSON *mp = cJSON_GetObjectItemCaseSensitive(it, "mount_path");

	for (const cJSON *k = it->child; k; k = k->next)
		if (strcmp(k->string, "volume_id") != 0 && strcmp(k->string, "name") != 0 &&
		    strcmp(k->string, "mount_path") != 0 && strcmp(k->string, "mode") != 0)
			return "only volume_id, name, mount_path and mode are allowed";
	if ((cJSON_GetObjectItemCaseSensitive(it, "volume_id") != NULL) ==
	    (cJSON_GetObjectItemCaseSensitive(it, "name") != NULL))
		return "needs exactly one of volume_id and name";
	for (const cJSON *o = all->child; o != it; o = o->next) {
		const cJSON *omp = cJSON_GetObjectItemCaseSensitive(o, "mount_path");

		if (cJSON_IsString(omp) && strcmp(omp->valuestring, mp->valuestring) == 0) {
			*sub = "mount_path";
			return "is already mounted by an earlier entry";
		}
	}
	return NULL;
}

static const char *const volume_modes[] = {"rw", "ro", NULL};
static const struct field volume_fields[] = {
	{"volume_id", F_UUID, false, false, 0, 0, NULL},
	{"name", F_STRING, false, false, 1, 63, check_volume_name},
	{"mount_path", F_STRING, true, false, 2, MOUNT_PATH_MAX, check_mount},
	{"mode", F_ENUM, false, false, 0, 0, NULL, .options = volume_modes},
};

/* Fields shared by create and update; create adds the placement fields. */
#define APP_FIELDS \
	{"name", F_STRING, false, false, 1, 63, json_check_slug}, \
	{"app_type", F_ENUM, false, false, 0, 0, NULL, .options = app_types}, \
	{"repository_url", F_STRING, false, true, 1, 2048, check_repo_url}, \
	{"branch", F_STRING, false, false, 1, 255, apps_check_branch}, \
	{"dockerfile_path", F_STRING, false, false, 1, 1024, check_relpath}, \
	{"build_context", F_STRING, false, false, 1, 1024, check_relpath}, \
	{"build_args", F_MAP, false, true, 0, 200, NULL, .key_check = check_arg_name, \
	    FIELD_SUB(build_arg_value)}, \
	{"image_url", F_STRING, false, true, 1, 1024, apps_check_image}, \
	{"compose", F_STRING, false, true, 1, 262144, NULL}, \
	{"replicas", F_INT, false, false, 0, 50, NULL}, \
	{"exposed_port", F_INT, false, true, 1, 65535, NULL}, \
	{"autodeploy", F_BOOL, false, false, 0, 0, NULL}, \
	{"deploy_on_tags", F_BOOL, false, false, 0, 0, NULL}, \
	{"https_redirect", F_BOOL, false, false, 0, 0, NULL}, \
	{"watch_paths", F_STRINGS, false, true, 0, 100, NULL}, \
	{"healthcheck_path", F_STRING, false, true, 1, 1024, check_path}, \
	{"healthcheck_timeout_seconds", F_INT, false, false, 1, 900, NULL}, \
	{"restart_policy", F_ENUM, false, false, 0, 0, NULL, .options = restart_policies}, \
	{"start_command", F_STRING, false, true, 1, 4096, NULL}, \
	{"cpu_limit", F_NUMBER, false, true, 0, 256, NULL}, \
	{"memory_limit", F_INT, false, true, 6291456, INT64_MAX, NULL}, \
	{"registry_id", F_UUID, false, true, 0, 0, NULL}, \
	{"git_provider_id", F_UUID, false, true, 0, 0, NULL}, \
	{"volumes", F_ARRAY, false, true, 0, VOLUMES_MAX, NULL, FIELD_SUB(volume_fields), \
	    .item_check = check_volume}, \
	{"depends_on", F_UUIDS, false, true, 0, 50, NULL}

enum {
	A_NAME, A_TYPE, A_REPO, A_BRANCH, A_DOCKERFILE, A_CONTEXT, A_BUILD_ARGS, A_IMAGE,
	A_COMPOSE, A_REPLICAS, A_PORT, A_AUTODEPLOY, A_TAGS, A_REDIRECT, A_WATCH, A_HC_PATH, A_HC_TIMEOUT,
	A_RESTART, A_START, A_CPU, A_MEMORY, A_REGISTRY, A_GIT_PROVIDER, A_VOLUMES, A_DEPENDS,
	A__SHARED
};

static const struct field create_fields[] = {
	APP_FIELDS,
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
	{"source_type", F_ENUM, true, false, 0, 0, NULL, .options = source_types},
	APPS_ENV_MAP("env", 0, apps_env_value),
};
enum { C_PROJECT = A__SHARED, C_ENV_ID, C_SERVER, C_SOURCE, C_ENV };

static const struct field update_fields[] = {
	APP_FIELDS,
};

/* What a new application needs besides well-formed fields. */
static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	const char *source = v[C_SOURCE].s;

	if (!v[A_NAME].present)
		json_detail(details, "name", "is required");
	if (strcmp(source, "git") == 0 && !v[A_REPO].present)
		json_detail(details, "repository_url", "is required when source_type is git");
	if (strcmp(source, "docker_image") == 0 && !v[A_IMAGE].present)
		json_detail(details, "image_url", "is required when source_type is docker_image");
	if (strcmp(source, "docker_compose") == 0 && (!v[A_COMPOSE].present || v[A_COMPOSE].s == NULL))
		json_detail(details, "compose", "is required when source_type is docker_compose");
	if (strcmp(source, "docker_compose") == 0 && v[A_REPLICAS].present && v[A_REPLICAS].i != 1)
		json_detail(details, "replicas", "must be 1: a docker_compose application runs one "
		    "container per service");
}

/*
 * The compose file of a docker_compose application (text, checked and
 * normalised by core/compose.h, the host-escape keys for a superadmin
 * only): *spec gets the normalised form (caller deletes) and *port the web
 * service's port, which becomes the application's exposed_port (a given
 * exposed_port must equal it).  app_type web or api needs a web service,
 * worker none.  A bad file: 400 naming each key (recorded), nothing written.
 */
static enum err
compose_fields(struct req *r, const char *text, const char *app_type, const cJSON *exposed,
    cJSON **spec, int *port)
{
	cJSON       *details = cJSON_CreateArray();
	const cJSON *web;

	*spec = compose_check(text, strlen(text), perm_host_escape(r), details);
	*port = 0;
	if (*spec != NULL) {
		web = cJSON_GetObjectItemCaseSensitive(*spec, "port");
		*port = cJSON_IsNumber(web) ? (int)web->valuedouble : 0;
		if (strcmp(app_type, "worker") != 0 && *port == 0)
			json_detail(details, "compose", "a web or api application needs one service "
			    "with ports (its web service, routed by the edge); use app_type worker for "
			    "a stack without one");
		if (strcmp(app_type, "worker") == 0 && *port != 0)
			json_detail(details, "compose", "a worker application publishes no ports: "
			    "remove ports or use app_type web");
		if (cJSON_IsNumber(exposed) && (int)exposed->valuedouble != *port)
			json_detail(details, "exposed_port", arena_printf(r->a, "must be the web "
			    "service's container port (%d) or left out", *port));
	}
	if (cJSON_GetArraySize(details) == 0) {
		cJSON_Delete(details);
		return ERR_OK;
	}
	cJSON_Delete(*spec);
	*spec = NULL;
	return req_fail_details(r, "the compose file is not valid; nothing was changed", details);
}

static const char *
json_text(struct req *r, const cJSON *node)
{
	char       *s;
	const char *out;

	if (node == NULL || cJSON_IsNull(node))
		return NULL;
	s = cJSON_PrintUnformatted(node);
	out = arena_strdup(r->a, s ? s : "null");
	cJSON_free(s);
	return out;
}

/* ------------------------------------------------------------ repository */

/*
 * A repository URL with credentials (https://user:token@host/repo.git) is
 * kept as the URL without them plus the user:token part sealed: no answer,
 * log, job payload or deployment ever shows the token.  *url gets the URL
 * without credentials; *sealed the sealed part or NULL.  Returns ERR_OK or
 * ERR_INTERNAL.
 */
static enum err
repo_split(struct req *r, const char *given, const char **url, const char **sealed)
{
	char plain[2100], cred[2100];

	*url = given;
	*sealed = NULL;
	if (util_url_split_cred(given, plain, sizeof(plain), cred, sizeof(cred)) != 0)
		return ERR_INTERNAL;
	if (cred[0] == '\0')
		return ERR_OK;
	*url = arena_strdup(r->a, plain);
	*sealed = secret_seal(r, SECRET_APP_REPO_CREDENTIAL, cred, strlen(cred));
	sodium_memzero(cred, sizeof(cred));
	return *sealed != NULL ? ERR_OK : ERR_INTERNAL;
}

/* ------------------------------------------------------------ handlers */

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *env, *server, *status = http_query(r, "status");
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "environmentId", &env)) != ERR_OK ||
	    (e = list_uuid_query(r, "serverId", &server)) != ERR_OK)
		return e;
	if (status != NULL && *status == '\0')
		status = NULL;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, env);
	list_filter(&p, server);
	list_filter(&p, status);
	list_filter(&p, (r->who.scopes & perm_cap_scope(CAP_WRITE)) != 0 ? "true" : "false");
	return list_run(r, &p, &st_list);
}

static enum err
check_name(struct req *r)
{
	const char *name = http_query(r, "name"), *project = http_query(r, "projectId"), *env;
	PGresult   *res;
	cJSON      *d;
	enum err    e;

	if (project == NULL || !util_is_uuid(project))
		return http_field_error(r, "invalid query parameter", "projectId", "must be a UUID");
	if (name == NULL || name[0] == '\0' || strlen(name) > 63)
		return http_field_error(r, "invalid query parameter", "name",
		    "must be 1 to 63 characters");
	if ((e = list_uuid_query(r, "environmentId", &env)) != ERR_OK ||
	    (e = perm_project(r, project, CAP_READ)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_name_free, &res, project, name, env)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "available", db_get(res, 0, "available")[0] == 't');
	return http_respond_json(r, 200, d, NULL);
}

/* A push webhook secret (shown once) for git + autodeploy; the URL is the
 * tenant's provider endpoint (app_webhook_url, sql/027). */
static enum err
new_webhook(struct req *r, const char *app_id, const char **secret)
{
	char        sec[48];
	const char *sealed;
	PGresult   *res;
	enum err    e;

	if (crypto_token(sec, sizeof(sec), "whsec_", 32) != 0)
		return ERR_INTERNAL;
	if ((sealed = secret_seal(r, SECRET_APP_WEBHOOK, sec, strlen(sec))) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_webhook, &res, app_id, sealed)) != ERR_OK)
		return e;
	*secret = arena_strdup(r->a, sec);
	sodium_memzero(sec, sizeof(sec));
	return ERR_OK;
}

/* The value of a boolean field of body, as SQL text; NULL when not given. */
static const char *
body_bool(const cJSON *body, const char *name)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(body, name);

	return cJSON_IsBool(b) ? (cJSON_IsTrue(b) ? "true" : "false") : NULL;
}

enum err
apps_create(struct req *r, const char *project_id, cJSON *body, const cJSON *env,
    const char *prefix, const char **id, const char **secret)
{
	struct env_scope env_scope = {NULL, "application", NULL};
	const cJSON     *given = cJSON_GetObjectItemCaseSensitive(body, "repository_url");
	const char      *repo = NULL, *repo_cred = NULL, *tags, *redirect, *source;
	PGresult        *res;
	cJSON           *spec = NULL;
	enum err         e;

	*secret = NULL;
	if (prefix != NULL) {
		struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];

		if ((e = json_fields_at(r, prefix, body, create_fields,
		    sizeof(create_fields) / sizeof(*create_fields), v, create_rule)) != ERR_OK)
			return e;
	}
	if (cJSON_IsString(given) && (e = repo_split(r, given->valuestring, &repo, &repo_cred)) !=
	    ERR_OK)
		return e;
	source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "source_type"));
	if (source != NULL && strcmp(source, "docker_compose") == 0) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body,
		    "app_type"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body,
		    "compose"));
		int         port;

		if (text == NULL)
			return http_field_error(r, "invalid request body", "compose",
			    "is required when source_type is docker_compose");
		if ((e = compose_fields(r, text, type != NULL ? type : "web",
		    cJSON_GetObjectItemCaseSensitive(body, "exposed_port"), &spec, &port)) != ERR_OK)
			return e;
		arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, spec);
		cJSON_DeleteItemFromObjectCaseSensitive(body, "exposed_port");
		if (port > 0)
			cJSON_AddNumberToObject(body, "exposed_port", port);
	}
	/* The body goes without its credentials (sealed apart; repo may point
	 * into the body: copied first). */
	repo = repo ? arena_strdup(r->a, repo) : NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(body, "repository_url");
	e = db_run(r, &st_create, &res, project_id, json_text(r, body), repo, repo_cred);
	if (e == ERR_CONFLICT)
		return http_error(r, ERR_CONFLICT,
		    "name: an application with this name already exists in the project's environment");
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	if (spec != NULL && (e = db_run(r, &st_compose_spec, NULL, *id, json_text(r, spec))) != ERR_OK)
		return e;
	/* Its env: application-scope variables, in the same transaction. */
	env_scope.project_id = project_id;
	env_scope.scope_id = *id;
	if (env != NULL && cJSON_GetArraySize(env) > 0 &&
	    (e = env_scope_write(r, &env_scope, env, false, "env", NULL)) != ERR_OK)
		return e;
	tags = body_bool(body, "deploy_on_tags");
	redirect = body_bool(body, "https_redirect");
	if ((tags != NULL || redirect != NULL) &&
	    (e = db_run(r, &st_flags, NULL, *id, tags, redirect)) != ERR_OK)
		return e;
	source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "source_type"));
	if (source != NULL && strcmp(source, "git") == 0 &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "autodeploy")) &&
	    (e = new_webhook(r, *id, secret)) != ERR_OK)
		return e;
	return ERR_OK;
}

cJSON *
apps_object(struct req *r, const char *id)
{
	PGresult *res;

	return db_get_object(r, &st_get, &res, "application not found", id,
	    perm_allows(r, CAP_WRITE) ? "true" : "false") == ERR_OK ?
	    json_row(res, 0) : NULL;
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *id, *secret;
	cJSON           *envmap;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK ||
	    (e = perm_project(r, v[C_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	/* The body goes as validated, without its env (written to the store). */
	if ((envmap = cJSON_DetachItemFromObjectCaseSensitive(r->json, "env")) != NULL)
		arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, envmap);
	if ((e = apps_create(r, r->who.project_id, r->json, v[C_ENV].present ? envmap : NULL, NULL,
	    &id, &secret)) != ERR_OK)
		return e;
	return apps_respond(r, id, 201, secret);
}

static enum err
get(struct req *r)
{
	return apps_respond(r, http_param(r, "id"), 200, NULL);
}

/*
 * A PUT that gives compose, app_type, exposed_port or replicas: only a
 * docker_compose application
 * takes compose (and not null); for one, the file (given, else its own)
 * is checked again with the app_type it will have, and given gets the
 * normalised form and the web service's port as exposed_port (a given
 * one must equal it); its replicas stay 1.
 */
static enum err
update_compose(struct req *r, const char *id, cJSON *given)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(given, "compose");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(given, "app_type"), *reps;
	PGresult    *res;
	cJSON       *spec;
	int          port;
	enum err     e;

	if ((e = db_get_object(r, &st_source, &res, "application not found", id)) != ERR_OK)
		return e;
	if (strcmp(db_get(res, 0, "source_type"), "docker_compose") != 0)
		return text == NULL ? ERR_OK : http_field_error(r, "invalid request body", "compose",
		    "applies to docker_compose applications only");
	reps = cJSON_GetObjectItemCaseSensitive(given, "replicas");
	if (reps != NULL && !(cJSON_IsNumber(reps) && reps->valuedouble == 1))
		return http_field_error(r, "invalid request body", "replicas", "must be 1: a "
		    "docker_compose application runs one container per service");
	if (text == NULL)
		text = cJSON_AddStringToObject(given, "compose", db_get(res, 0, "compose"));
	if (!cJSON_IsString(text))
		return http_field_error(r, "invalid request body", "compose",
		    "is required for a docker_compose application");
	if ((e = compose_fields(r, text->valuestring, cJSON_IsString(type) ? type->valuestring :
	    db_get(res, 0, "app_type"), cJSON_GetObjectItemCaseSensitive(given, "exposed_port"), &spec,
	    &port)) != ERR_OK)
		return e;
	cJSON_DeleteItemFromObjectCaseSensitive(given, "exposed_port");
	if (port > 0)
		cJSON_AddNumberToObject(given, "exposed_port", port);
	else
		cJSON_AddNullToObject(given, "exposed_port");
	cJSON_AddItemToObject(given, "compose_spec", spec);
	return ERR_OK;
}

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *repo, *cred = NULL, *secret = NULL;
	PGresult        *res;
	cJSON           *given;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	/* Only the fields this call may change, as given (null clears). */
	given = cJSON_CreateObject();
	for (size_t i = 0; i < sizeof(update_fields) / sizeof(*update_fields); i++) {
		cJSON *it = cJSON_GetObjectItemCaseSensitive(r->json, update_fields[i].name);

		if (it != NULL)
			cJSON_AddItemToObject(given, update_fields[i].name, cJSON_Duplicate(it, true));
	}
	if ((cJSON_GetObjectItemCaseSensitive(given, "compose") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(given, "app_type") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(given, "exposed_port") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(given, "replicas") != NULL) &&
	    (e = update_compose(r, id, given)) != ERR_OK) {
		cJSON_Delete(given);
		return e;
	}
	/* No volumes (null) is the empty list: the mounts go, the volumes stay. */
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(given, "volumes")))
		cJSON_ReplaceItemInObject(given, "volumes", cJSON_CreateArray());
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(given, "repository_url"))) {
		if ((e = repo_split(r, cJSON_GetObjectItemCaseSensitive(given, "repository_url")->valuestring,
		    &repo, &cred)) != ERR_OK) {
			cJSON_Delete(given);
			return e;
		}
		cJSON_ReplaceItemInObject(given, "repository_url", cJSON_CreateString(repo));
	}
	/* A new repository URL replaces the credential too (none = cleared). */
	if (cJSON_GetObjectItemCaseSensitive(given, "repository_url") != NULL)
		cJSON_AddItemToObject(given, "repository_credential_sealed", cred ?
		    cJSON_CreateString(cred) : cJSON_CreateNull());
	e = db_run(r, &st_update, &res, id, json_text(r, given), version);
	cJSON_Delete(given);
	if (e == ERR_CONFLICT)
		return http_error(r, ERR_CONFLICT,
		    "name: an application with this name already exists in the project's environment");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "application");
	/* autodeploy turned on for a git application: its secret, shown once. */
	if (db_get(res, 0, "needs_secret")[0] == 't' && (e = new_webhook(r, id, &secret)) != ERR_OK)
		return e;
	return apps_respond(r, id, 200, secret);
}

static enum err
del(struct req *r)
{
	return db_delete(r, &st_delete, "application", NULL);
}

static enum err
webhook_secret(struct req *r)
{
	const char *secret, *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_source, &res, id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "application not found");
	if (strcmp(db_get(res, 0, "source_type"), "git") != 0)
		return http_error(r, ERR_CONFLICT, "only git applications have a push webhook");
	if ((e = new_webhook(r, id, &secret)) != ERR_OK)
		return e;
	return apps_respond(r, id, 200, secret);
}

const struct route api_application_routes[] = {
	{.methods = HTTP_GET, .pattern = "/applications", .fn = list},
	{.methods = HTTP_GET, .pattern = "/applications/check-name", .fn = check_name},
	{.methods = HTTP_POST, .pattern = "/applications", .fn = create,
	    .audit = "application.create", .flags = ROUTE_SECRET_ANSWER},
	APPS_ROUTE(HTTP_GET, "/applications/:id", get, CAP_READ, NULL),
	APPS_ROUTE(HTTP_PUT, "/applications/:id", update, CAP_WRITE, "application.update"),
	APPS_ROUTE(HTTP_DELETE, "/applications/:id", del, CAP_WRITE, "application.delete"),
	{.methods = HTTP_POST, .pattern = "/applications/:id/webhook-secret", .fn = webhook_secret,
	    .cap = CAP_WRITE, .audit = "application.webhook_secret.rotate",
	    .project_of = apps_project_of, .flags = ROUTE_SECRET_ANSWER},
	{0},
};
