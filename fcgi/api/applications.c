/*
 * applications.c - API.md §4 applications: CRUD, the actions that become
 * jobs for the app's server (deploy, start, stop, restart, rollback,
 * scale, exec), instances, env, logs.
 *
 * What runs is decided by deployments (deployments.c and the SQL of
 * sql/006_applications.sql): a deploy creates a deployment row, the
 * database keeps one active and one queued per application, and a trigger
 * moves deployments and the application's status as jobs finish.
 */
#include "api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "apps_common.h"

#define ENV_MAX_KEYS  500
#define ENV_MAX_VALUE 65536

#define APP_COLS "a.id, a.project_id, a.environment_id, a.server_id, a.registry_id," \
	" a.git_provider_id, a.name, a.app_type, a.source_type, a.repository_url, a.branch," \
	" a.dockerfile_path, a.build_context, a.build_args, a.image_url, a.compose, a.replicas," \
	" (a.repository_credential_sealed IS NOT NULL) AS repository_credentials_set," \
	" a.exposed_port, a.autodeploy, to_jsonb(a.watch_paths) AS watch_paths, a.healthcheck_path," \
	" a.healthcheck_timeout_seconds, a.restart_policy, a.start_command," \
	" a.cpu_limit::float8 AS cpu_limit, a.memory_limit, a.volumes," \
	" to_jsonb(a.depends_on) AS depends_on, a.status, a.pending_action, a.current_deployment_id," \
	" (a.env_version > coalesce((SELECT d.env_version FROM deployments d" \
	"  WHERE d.id = a.current_deployment_id), -1)) AS pending_deploy," \
	" '[]'::jsonb AS domains, app_hostname(a) AS hostname," \
	" 'http://' || app_hostname(a) AS default_url," \
	" CASE WHEN a.webhook_token IS NOT NULL THEN '/' || a.tenant_id || '/api/v1/webhooks/git/'" \
	"  || a.webhook_token END AS webhook_url," \
	" a.created_at, a.updated_at, a.row_version::text AS _version"

static const struct db_stmt st_get = {"apps_get",
    "SELECT " APP_COLS " FROM applications a WHERE a.id = $1::uuid"};
static const struct db_stmt st_project = {"apps_project",
    "SELECT project_id FROM applications WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?environmentId, ?serverId, ?status. */
static const struct db_stmt st_list = {"apps_list",
    "SELECT " APP_COLS " FROM applications a"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = a.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR a.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR a.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR a.environment_id = $8::uuid)"
    " AND ($9::uuid IS NULL OR a.server_id = $9::uuid)"
    " AND ($10::text IS NULL OR a.status = $10)" LIST_TAIL("a.")};
static const struct db_stmt st_name_free = {"apps_name_free",
    "SELECT NOT EXISTS (SELECT 1 FROM applications WHERE project_id = $1::uuid AND name = $2"
    " AND environment_id = coalesce($3::uuid, (SELECT id FROM environments"
    " WHERE project_id = $1::uuid AND is_default))) AS available"};
/* The environment given (in this project) or the project's default. */
static const struct db_stmt st_env_of = {"apps_env_of",
    "SELECT id FROM environments WHERE project_id = $1::uuid"
    " AND (id = $2::uuid OR ($2::uuid IS NULL AND is_default))"};
/* The server given, else the project's default, else the only one. */
static const struct db_stmt st_server_of = {"apps_server_of",
    "SELECT coalesce($2::uuid, (SELECT default_server_id FROM projects WHERE id = $1::uuid),"
    " (SELECT min(id::text)::uuid FROM servers HAVING count(*) = 1)) AS id,"
    " (SELECT count(*) FROM servers) AS n"};
static const struct db_stmt st_server_exists = {"apps_server_exists",
    "SELECT 1 FROM servers WHERE id = $1::uuid"};
static const struct db_stmt st_insert = {"apps_insert",
    "INSERT INTO applications (project_id, environment_id, server_id, registry_id, git_provider_id,"
    " name, app_type, source_type, repository_url, branch, dockerfile_path, build_context,"
    " build_args, image_url, compose, replicas, exposed_port, autodeploy, watch_paths,"
    " healthcheck_path, healthcheck_timeout_seconds, restart_policy, start_command, cpu_limit,"
    " memory_limit, volumes, depends_on, env_sealed, env_version, webhook_token,"
    " webhook_secret_sealed, repository_credential_sealed)"
    " SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid, $6, coalesce($7, 'web'), $8, $9,"
    " coalesce($10, 'main'), coalesce($11, 'Dockerfile'), coalesce($12, '.'),"
    " coalesce($13::jsonb, '{}'), $14, $15, coalesce($16::int, 1), $17::int,"
    " coalesce($18::boolean, false),"
    " coalesce(ARRAY(SELECT jsonb_array_elements_text($19::jsonb)), '{}'), $20,"
    " coalesce($21::int, 60), coalesce($22, 'always'), $23, $24::numeric, $25::bigint,"
    " coalesce($26::jsonb, '[]'),"
    " coalesce(ARRAY(SELECT jsonb_array_elements_text($27::jsonb)::uuid), '{}'),"
    " $28::text, CASE WHEN $28::text IS NULL THEN 0 ELSE 1 END, $29::text, $30::text, $31::text"
    " RETURNING id"};
/* $2 = the given fields as a JSON object: only those change. */
static const struct db_stmt st_update = {"apps_update",
    "UPDATE applications SET"
#define U_TEXT(f) " " f " = CASE WHEN $2::jsonb ? '" f "' THEN $2::jsonb->>'" f "' ELSE " f " END,"
#define U_CAST(f, t) " " f " = CASE WHEN $2::jsonb ? '" f "' THEN ($2::jsonb->>'" f "')::" t \
	" ELSE " f " END,"
#define U_JSON(f) " " f " = CASE WHEN $2::jsonb ? '" f "' THEN $2::jsonb->'" f "' ELSE " f " END,"
    " repository_credential_sealed = CASE WHEN $2::jsonb ? 'repository_url'"
    "  THEN $2::jsonb->>'_repository_credential' ELSE repository_credential_sealed END,"
    U_TEXT("name") U_TEXT("app_type") U_TEXT("repository_url") U_TEXT("branch")
    U_TEXT("dockerfile_path") U_TEXT("build_context") U_JSON("build_args") U_TEXT("image_url")
    U_TEXT("compose") U_CAST("replicas", "int") U_CAST("exposed_port", "int")
    U_CAST("autodeploy", "boolean") U_TEXT("healthcheck_path")
    U_CAST("healthcheck_timeout_seconds", "int") U_TEXT("restart_policy")
    U_TEXT("start_command") U_CAST("cpu_limit", "numeric") U_CAST("memory_limit", "bigint")
    U_JSON("volumes") U_CAST("registry_id", "uuid") U_CAST("git_provider_id", "uuid")
    " watch_paths = CASE WHEN $2::jsonb ? 'watch_paths' THEN coalesce(ARRAY(SELECT"
    "  jsonb_array_elements_text($2::jsonb->'watch_paths')), '{}') ELSE watch_paths END,"
    " depends_on = CASE WHEN $2::jsonb ? 'depends_on' THEN coalesce(ARRAY(SELECT"
    "  jsonb_array_elements_text($2::jsonb->'depends_on')::uuid), '{}') ELSE depends_on END"
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
#undef U_TEXT
#undef U_CAST
#undef U_JSON
static const struct db_stmt st_webhook = {"apps_webhook",
    "UPDATE applications SET webhook_token = $2, webhook_secret_sealed = $3"
    " WHERE id = $1::uuid RETURNING id"};
static const struct db_stmt st_delete = {"apps_delete",
    "DELETE FROM applications WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
static const struct db_stmt st_deploy = {"apps_deploy",
    "SELECT deployment_id, created FROM api_deploy($1::uuid, $2, $3, $4, $5, $6::uuid, $7::uuid,"
    " $8, $9::int)"};
static const struct db_stmt st_env_now = {"apps_env_now",
    "SELECT env_sealed, env_version FROM applications WHERE id = $1::uuid"};
static const struct db_stmt st_previous = {"apps_previous",
    "SELECT d.id FROM deployments d JOIN applications a ON a.id = d.application_id"
    " WHERE d.application_id = $1::uuid AND d.status = 'succeeded'"
    " AND d.id IS DISTINCT FROM a.current_deployment_id AND d.image_digest IS NOT NULL"
    " AND d.created_at < coalesce((SELECT created_at FROM deployments"
    "  WHERE id = a.current_deployment_id), 'infinity')"
    " ORDER BY d.created_at DESC, d.id DESC LIMIT 1"};
/* An action on the running release: the job, and the pending action shown. */
static const struct db_stmt st_action = {"apps_action",
    "WITH a AS (SELECT * FROM applications WHERE id = $1::uuid),"
    " d AS (SELECT d.* FROM deployments d, a WHERE d.id = a.current_deployment_id)"
    " SELECT job_enqueue(a.tenant_id, a.server_id, a.project_id, $2,"
    "  app_job_payload(a, d.id, jsonb_build_object('type', 'release', 'image_id', d.image_digest))"
    "  || coalesce($3::jsonb, '{}'), $4::uuid) AS job_id"
    " FROM a, d"};
static const struct db_stmt st_pending = {"apps_pending",
    "UPDATE applications SET pending_action = $2 WHERE id = $1::uuid"};
static const struct db_stmt st_scale = {"apps_scale",
    "UPDATE applications SET replicas = $2::int WHERE id = $1::uuid"
    " RETURNING current_deployment_id"};
static const struct db_stmt st_instances = {"apps_instances",
    "SELECT i.id, i.container_id, i.name, i.server_id, i.deployment_id, i.status, i.health,"
    " i.host_port, i.started_at, i.restart_count, i.exit_code, i.cpu_percent, i.memory_bytes,"
    " i.updated_at FROM instances i WHERE i.application_id = $1::uuid"
    " ORDER BY i.created_at, i.id"};
static const struct db_stmt st_env_get = {"apps_env_get",
    "SELECT env_sealed, env_version FROM applications WHERE id = $1::uuid FOR UPDATE"};
static const struct db_stmt st_env_put = {"apps_env_put",
    "UPDATE applications SET env_sealed = $2, env_version = env_version + 1"
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
static const struct db_stmt st_runtime_logs = {"apps_runtime_logs",
    "SELECT * FROM (SELECT l.ts AS timestamp, i.id AS instance_id, l.instance_name AS instance,"
    " l.container_id, l.stream, l.message, l.id AS _id FROM runtime_logs l"
    " LEFT JOIN instances i ON i.container_id = l.container_id AND i.application_id = l.application_id"
    " WHERE l.application_id = $1::uuid"
    " AND ($2::timestamptz IS NULL OR l.ts >= $2::timestamptz)"
    " AND ($3::timestamptz IS NULL OR l.ts < $3::timestamptz)"
    " AND ($5::text IS NULL OR i.id::text = $5 OR l.instance_name = $5 OR l.container_id LIKE $5 || '%')"
    " AND ($6::text IS NULL OR l.stream = $6)"
    " AND ($7::text IS NULL OR strpos(l.message, $7) > 0)"
    " ORDER BY l.ts DESC, l.id DESC LIMIT $4::int) x ORDER BY timestamp, _id"};
static const struct db_stmt st_build_logs = {"apps_build_logs",
    "SELECT l.created_at AS timestamp, l.line AS message FROM deployments d"
    " JOIN job_logs l ON l.job_id = d.job_id"
    " WHERE d.application_id = $1::uuid AND d.id = coalesce($2::uuid, (SELECT id FROM deployments"
    "  WHERE application_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT 1))"
    " ORDER BY l.id"};

/* ------------------------------------------------------------ lookups */

/* project_of for /applications/:id routes (the router checks the cap). */
const char *
apps_project_of(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;

	r->resource = "application";
	if (!util_is_uuid(id) || db_run(r, &st_project, &res, id) != ERR_OK ||
	    PQntuples(res) != 1)
		return NULL;
	return arena_strdup(r->a, db_get(res, 0, "project_id"));
}

static enum err
respond_app(struct req *r, const char *id, int status, const char *secret)
{
	PGresult *res;
	cJSON    *d;
	enum err  e;

	if ((e = db_get_object(r, &st_get, &res, "application not found", id)) != ERR_OK)
		return e;
	if (secret == NULL)
		return http_respond_row(r, status, res, 0);
	d = json_row(res, 0);
	cJSON_AddStringToObject(d, "webhook_secret", secret);
	return http_respond_json(r, status, d, NULL);
}

/* ------------------------------------------------------------ validation */

static const char *
check_one_of(const cJSON *v, const char *const *opts, const char *msg)
{
	for (; *opts; opts++)
		if (strcmp(v->valuestring, *opts) == 0)
			return NULL;
	return msg;
}

static const char *
check_app_type(const cJSON *v)
{
	static const char *const o[] = {"web", "worker", "api", NULL};

	return check_one_of(v, o, "must be web, worker or api");
}

static const char *
check_source_type(const cJSON *v)
{
	static const char *const o[] = {"git", "docker_image", "docker_compose", NULL};

	return check_one_of(v, o, "must be git, docker_image or docker_compose");
}

static const char *
check_restart(const cJSON *v)
{
	static const char *const o[] = {"always", "on-failure", "unless-stopped", "no", NULL};

	return check_one_of(v, o, "must be always, on-failure, unless-stopped or no");
}

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
static const char *
check_image(const cJSON *v)
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

static const char *
check_branch(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] == '-' || strstr(s, "..") != NULL || strpbrk(s, " \t\r\n~^:?*[\\") != NULL)
		return "must be a git branch name";
	return NULL;
}

static const char *
check_sha(const cJSON *v)
{
	size_t n = strlen(v->valuestring);

	if (n < 7 || n > 64 || strspn(v->valuestring, "0123456789abcdef") != n)
		return "must be a hexadecimal commit id (7 to 64 characters)";
	return NULL;
}

static const char *
check_env_key(const char *k)
{
	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return "keys must match [A-Za-z_][A-Za-z0-9_]*";
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return "keys must match [A-Za-z_][A-Za-z0-9_]*";
	return strlen(k) > 255 ? "keys must be at most 255 characters" : NULL;
}

/* {K: "V"} with valid keys and string values (nulls allowed when merging). */
static const char *
check_env_map(const cJSON *v, bool nulls)
{
	int n = 0;

	for (const cJSON *it = v->child; it; it = it->next, n++) {
		const char *m = check_env_key(it->string);

		if (m != NULL)
			return m;
		if (cJSON_IsNull(it) && nulls)
			continue;
		if (!cJSON_IsString(it))
			return nulls ? "values must be strings (null deletes a key)" :
			    "values must be strings";
		if (strlen(it->valuestring) > ENV_MAX_VALUE)
			return "values must be at most 65536 bytes";
	}
	return n > ENV_MAX_KEYS ? "at most 500 variables" : NULL;
}

static const char *
check_env(const cJSON *v)
{
	return check_env_map(v, false);
}

static const char *
check_string_map(const cJSON *v)
{
	for (const cJSON *it = v->child; it; it = it->next)
		if (!cJSON_IsString(it) || strlen(it->string) == 0 || strlen(it->string) > 255)
			return "must map names to string values";
	return NULL;
}

static const char *
check_volumes(const cJSON *v)
{
	if (!cJSON_IsArray(v))
		return "must be an array of {volume_id | name, mount_path}";
	for (const cJSON *it = v->child; it; it = it->next) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "mount_path");

		if (!cJSON_IsObject(it) || !cJSON_IsString(m) || m->valuestring[0] != '/')
			return "each volume needs a mount_path starting with /";
	}
	return NULL;
}

static const char *
check_uuid_array(const cJSON *v)
{
	if (!cJSON_IsArray(v))
		return "must be an array of UUIDs";
	for (const cJSON *it = v->child; it; it = it->next)
		if (!cJSON_IsString(it) || !util_is_uuid(it->valuestring))
			return "must be an array of UUIDs";
	return NULL;
}

/* Fields shared by create and update; create adds the placement fields. */
#define APP_FIELDS \
	{"name", F_STRING, false, false, 1, 63, json_check_slug}, \
	{"app_type", F_STRING, false, false, 1, 16, check_app_type}, \
	{"repository_url", F_STRING, false, true, 1, 2048, check_repo_url}, \
	{"branch", F_STRING, false, false, 1, 255, check_branch}, \
	{"dockerfile_path", F_STRING, false, false, 1, 1024, check_relpath}, \
	{"build_context", F_STRING, false, false, 1, 1024, check_relpath}, \
	{"build_args", F_OBJECT, false, true, 0, 0, check_string_map}, \
	{"image_url", F_STRING, false, true, 1, 1024, check_image}, \
	{"compose", F_STRING, false, true, 1, 262144, NULL}, \
	{"replicas", F_INT, false, false, 0, 50, NULL}, \
	{"exposed_port", F_INT, false, true, 1, 65535, NULL}, \
	{"autodeploy", F_BOOL, false, false, 0, 0, NULL}, \
	{"watch_paths", F_STRINGS, false, true, 0, 100, NULL}, \
	{"healthcheck_path", F_STRING, false, true, 1, 1024, check_path}, \
	{"healthcheck_timeout_seconds", F_INT, false, false, 1, 900, NULL}, \
	{"restart_policy", F_STRING, false, false, 1, 16, check_restart}, \
	{"start_command", F_STRING, false, true, 1, 4096, NULL}, \
	{"cpu_limit", F_NUMBER, false, true, 0, 256, NULL}, \
	{"memory_limit", F_INT, false, true, 6291456, INT64_MAX, NULL}, \
	{"registry_id", F_UUID, false, true, 0, 0, NULL}, \
	{"git_provider_id", F_UUID, false, true, 0, 0, NULL}

enum {
	A_NAME, A_TYPE, A_REPO, A_BRANCH, A_DOCKERFILE, A_CONTEXT, A_BUILD_ARGS, A_IMAGE,
	A_COMPOSE, A_REPLICAS, A_PORT, A_AUTODEPLOY, A_WATCH, A_HC_PATH, A_HC_TIMEOUT,
	A_RESTART, A_START, A_CPU, A_MEMORY, A_REGISTRY, A_GIT_PROVIDER, A__SHARED
};

static const struct field create_fields[] = {
	APP_FIELDS,
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
	{"source_type", F_STRING, true, false, 1, 32, check_source_type},
	{"env", F_OBJECT, false, true, 0, 0, check_env},
	{"volumes", F_STRING, false, true, 0, 0, NULL},	/* checked below: an array */
	{"depends_on", F_STRING, false, true, 0, 0, NULL},	/* checked below */
};
enum { C_PROJECT = A__SHARED, C_ENV_ID, C_SERVER, C_SOURCE, C_ENV, C_VOLUMES, C_DEPENDS };

static const struct field update_fields[] = {
	APP_FIELDS,
	{"volumes", F_STRING, false, true, 0, 0, NULL},
	{"depends_on", F_STRING, false, true, 0, 0, NULL},
};

/*
 * Fields json_fields cannot describe (arrays of objects or UUIDs): checked
 * here with the same 400 shape.  The table entries above only reserve the
 * names, so they are skipped when json_fields runs.
 */
static void
check_arrays(struct req *r, cJSON *details)
{
	static const struct {
		const char *name;
		const char *(*check)(const cJSON *v);
	} arrays[] = {{"volumes", check_volumes}, {"depends_on", check_uuid_array}};

	for (size_t i = 0; i < sizeof(arrays) / sizeof(*arrays); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, arrays[i].name);
		const char  *m;

		if (v != NULL && !cJSON_IsNull(v) && (m = arrays[i].check(v)) != NULL)
			json_detail(details, arrays[i].name, m);
	}
}

/*
 * Validates the body against fields (the array-valued ones taken out of
 * the object while json_fields runs, then put back); answers 400 with every
 * bad field.
 */
static enum err
read_fields(struct req *r, const struct field *fields, size_t n, struct field_val *v)
{
	cJSON   *details = cJSON_CreateArray(), *vol, *dep;
	enum err e;

	check_arrays(r, details);
	vol = cJSON_DetachItemFromObjectCaseSensitive(r->json, "volumes");
	dep = cJSON_DetachItemFromObjectCaseSensitive(r->json, "depends_on");
	if (cJSON_GetArraySize(details) > 0) {
		if (vol)
			cJSON_AddItemToObject(r->json, "volumes", vol);
		if (dep)
			cJSON_AddItemToObject(r->json, "depends_on", dep);
		return http_error_details(r, "invalid request body", details);
	}
	cJSON_Delete(details);
	e = json_fields(r, fields, n, v);
	if (vol)
		cJSON_AddItemToObject(r->json, "volumes", vol);
	if (dep)
		cJSON_AddItemToObject(r->json, "depends_on", dep);
	return e;
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

static const char *
body_text(struct req *r, const char *name)
{
	return json_text(r, cJSON_GetObjectItemCaseSensitive(r->json, name));
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
	list_filter(&p, r->who.role >= ROLE_ADMIN ? "true" : "false");
	list_filter(&p, r->who.user_id);
	list_filter(&p, r->who.key_project_id);
	list_filter(&p, project);
	list_filter(&p, env);
	list_filter(&p, server);
	list_filter(&p, status);
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

/* A webhook token (URL) and secret (shown once) for git + autodeploy. */
static enum err
new_webhook(struct req *r, const char *app_id, const char **secret)
{
	char        token[40], sec[48];
	const char *sealed;
	PGresult   *res;
	enum err    e;

	if (crypto_token(token, sizeof(token), "", 32) != 0 ||
	    crypto_token(sec, sizeof(sec), "whsec_", 32) != 0)
		return ERR_INTERNAL;
	if ((sealed = secret_seal(r, SECRET_APP_WEBHOOK, sec, strlen(sec))) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_webhook, &res, app_id, token, sealed)) != ERR_OK)
		return e;
	*secret = arena_strdup(r->a, sec);
	sodium_memzero(sec, sizeof(sec));
	return ERR_OK;
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	PGresult        *res;
	const char      *env_id, *server_id, *sealed = NULL, *id, *secret = NULL, *source;
	const char      *repo = NULL, *repo_cred = NULL;
	char             num[32];
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = read_fields(r, create_fields, sizeof(v) / sizeof(*v), v)) != ERR_OK)
		return e;
	source = v[C_SOURCE].s;
	if (!v[A_NAME].present)
		return http_field_error(r, "invalid request body", "name", "is required");
	if (strcmp(source, "git") == 0 && !v[A_REPO].present)
		return http_field_error(r, "invalid request body", "repository_url",
		    "is required when source_type is git");
	if (strcmp(source, "docker_image") == 0 && !v[A_IMAGE].present)
		return http_field_error(r, "invalid request body", "image_url",
		    "is required when source_type is docker_image");
	if (strcmp(source, "docker_compose") == 0)
		return http_field_error(r, "invalid request body", "source_type",
		    "docker_compose is not supported by this version yet (use git or docker_image)");
	if ((e = perm_project(r, v[C_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_env_of, &res, r->who.project_id, v[C_ENV_ID].s)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_field_error(r, "invalid request body", "environment_id",
		    "is not an environment of this project");
	env_id = arena_strdup(r->a, db_get(res, 0, "id"));
	if ((e = db_run(r, &st_server_of, &res, r->who.project_id, v[C_SERVER].s)) != ERR_OK)
		return e;
	server_id = PQgetisnull(res, 0, 0) ? NULL : arena_strdup(r->a, db_get(res, 0, "id"));
	if (server_id == NULL)
		return http_field_error(r, "invalid request body", "server_id",
		    strcmp(db_get(res, 0, "n"), "0") == 0 ? "no server is registered yet" :
		    "is required: the project has no default server and there are several");
	if ((e = db_run(r, &st_server_exists, &res, server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_field_error(r, "invalid request body", "server_id", "server not found");
	if (v[C_ENV].present && cJSON_GetArraySize(v[C_ENV].node) > 0 &&
	    (sealed = apps_env_seal(r, v[C_ENV].node)) == NULL)
		return ERR_INTERNAL;
	if (v[A_REPO].present && (e = repo_split(r, v[A_REPO].s, &repo, &repo_cred)) != ERR_OK)
		return e;
	util_snprintf(num, sizeof(num), "%.3f", v[A_CPU].present ? v[A_CPU].node->valuedouble : 0);
	e = db_run(r, &st_insert, &res, r->who.project_id, env_id, server_id, v[A_REGISTRY].s,
	    v[A_GIT_PROVIDER].s, v[A_NAME].s, v[A_TYPE].s, source, repo, v[A_BRANCH].s,
	    v[A_DOCKERFILE].s, v[A_CONTEXT].s, json_text(r, v[A_BUILD_ARGS].node), v[A_IMAGE].s,
	    v[A_COMPOSE].s, v[A_REPLICAS].present ? arena_printf(r->a, "%lld",
	    (long long)v[A_REPLICAS].i) : NULL, v[A_PORT].present ? arena_printf(r->a, "%lld",
	    (long long)v[A_PORT].i) : NULL, v[A_AUTODEPLOY].present ? (v[A_AUTODEPLOY].b ? "true" :
	    "false") : NULL, json_text(r, v[A_WATCH].node), v[A_HC_PATH].s,
	    v[A_HC_TIMEOUT].present ? arena_printf(r->a, "%lld", (long long)v[A_HC_TIMEOUT].i) : NULL,
	    v[A_RESTART].s, v[A_START].s, v[A_CPU].present ? num : NULL,
	    v[A_MEMORY].present ? arena_printf(r->a, "%lld", (long long)v[A_MEMORY].i) : NULL,
	    body_text(r, "volumes"), body_text(r, "depends_on"), sealed, NULL, NULL, repo_cred);
	if (e == ERR_CONFLICT)
		return http_error(r, ERR_CONFLICT,
		    "name: an application with this name already exists in the project's environment");
	if (e != ERR_OK)
		return e;
	id = arena_strdup(r->a, db_get(res, 0, "id"));
	if (strcmp(source, "git") == 0 && v[A_AUTODEPLOY].present && v[A_AUTODEPLOY].b &&
	    (e = new_webhook(r, id, &secret)) != ERR_OK)
		return e;
	return respond_app(r, id, 201, secret);
}

static enum err
get(struct req *r)
{
	return respond_app(r, http_param(r, "id"), 200, NULL);
}

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id");
	PGresult        *res;
	cJSON           *given;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = read_fields(r, update_fields, sizeof(v) / sizeof(*v), v)) != ERR_OK)
		return e;
	/* Only the fields this call may change, as given (null clears). */
	given = cJSON_CreateObject();
	for (size_t i = 0; i < sizeof(update_fields) / sizeof(*update_fields); i++) {
		cJSON *it = cJSON_GetObjectItemCaseSensitive(r->json, update_fields[i].name);

		if (it != NULL)
			cJSON_AddItemToObject(given, update_fields[i].name, cJSON_Duplicate(it, true));
	}
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(given, "repository_url"))) {
		const char *repo, *cred;

		if ((e = repo_split(r, cJSON_GetObjectItemCaseSensitive(given, "repository_url")->valuestring,
		    &repo, &cred)) != ERR_OK) {
			cJSON_Delete(given);
			return e;
		}
		cJSON_ReplaceItemInObject(given, "repository_url", cJSON_CreateString(repo));
		if (cred != NULL)
			cJSON_AddStringToObject(given, "_repository_credential", cred);
	}
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(given, "cpu_limit")))
		cJSON_ReplaceItemInObject(given, "cpu_limit", cJSON_CreateString(arena_printf(r->a,
		    "%.3f", cJSON_GetObjectItemCaseSensitive(given, "cpu_limit")->valuedouble)));
	e = db_run(r, &st_update, &res, id, json_text(r, given), version);
	cJSON_Delete(given);
	if (e == ERR_CONFLICT)
		return http_error(r, ERR_CONFLICT,
		    "name: an application with this name already exists in the project's environment");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_PRECONDITION_FAILED, "the application has changed (If-Match)");
	return respond_app(r, id, 200, NULL);
}

static enum err
del(struct req *r)
{
	const char *version;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_delete, &res, http_param(r, "id"), version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_PRECONDITION_FAILED, "the application has changed (If-Match)");
	return http_no_content(r);
}

static const struct field deploy_fields[] = {
	{"commit_sha", F_STRING, false, true, 7, 64, check_sha},
	{"branch", F_STRING, false, true, 1, 255, check_branch},
	{"image_url", F_STRING, false, true, 1, 1024, check_image},
};

static enum err
respond_deploy(struct req *r, PGresult *res)
{
	bool created = db_get(res, 0, "created")[0] == 't';

	return apps_respond_deployment(r, db_get(res, 0, "deployment_id"), created ? 201 : 200);
}

/*
 * The env snapshot a new release runs with (sealed) and the app's env
 * version it comes from.  Today the application's own map; the Env-vars
 * section resolves project- and environment-scoped variables and
 * ${type.name.property} references into it here, before anything starts,
 * so that a release keeps what they resolved to.
 */
static enum err
release_env(struct req *r, const char *app, const char **sealed, const char **version)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_env_now, &res, "application not found", app)) != ERR_OK)
		return e;
	*sealed = PQgetisnull(res, 0, 0) ? NULL : arena_strdup(r->a, db_get(res, 0, "env_sealed"));
	*version = arena_strdup(r->a, db_get(res, 0, "env_version"));
	return ERR_OK;
}

static enum err
deploy(struct req *r)
{
	struct field_val v[3];
	const char      *env = NULL, *envv = NULL;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK)
		return e;
	if (r->json != NULL && (e = JSON_FIELDS(r, deploy_fields, v)) != ERR_OK)
		return e;
	if (r->json == NULL)
		memset(v, 0, sizeof(v));
	if ((e = release_env(r, http_param(r, "id"), &env, &envv)) != ERR_OK)
		return e;
	e = db_run(r, &st_deploy, &res, http_param(r, "id"),
	    r->who.key_id ? "api" : "manual", v[0].s, v[1].s, v[2].s, NULL, r->who.user_id, env, envv);
	if (e == ERR_RETRY)
		return http_error(r, ERR_CONFLICT, "another deploy of this application is being "
		    "recorded right now; retry");
	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "conflict"));
	if (e != ERR_OK)
		return e;
	return respond_deploy(r, res);
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
	e = db_run(r, &st_deploy, &res, id, "rollback", NULL, NULL, NULL, target, r->who.user_id,
	    NULL, NULL);
	if (e == ERR_BAD_REQUEST)
		return http_field_error(r, "invalid request body", "deployment_id",
		    "is not a successful deployment of this application");
	if (e != ERR_OK)
		return e;
	return respond_deploy(r, res);
}

/* Queues kind on the current release and shows it as the pending action. */
static enum err
action(struct req *r, const char *kind, const char *pending, const char *extra, const char **job)
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

	if ((e = action(r, arena_printf(r->a, "app.%s", what), what, NULL, NULL)) != ERR_OK ||
	    r->responded)
		return e;
	return respond_app(r, http_param(r, "id"), 200, NULL);
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
	/* Never deployed: the count applies to the first deployment. */
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		e = action(r, "app.scale", "scale", arena_printf(r->a, "{\"replicas\": %lld}",
		    (long long)v[0].i), NULL);
		if (e != ERR_OK || r->responded)
			return e;
	}
	return respond_app(r, id, 200, NULL);
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

static enum err
dependencies(struct req *r)
{
	PGresult *res;
	cJSON    *d, *row;
	enum err  e;

	if ((e = db_run(r, &st_get, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	row = json_row(res, 0);
	d = cJSON_CreateObject();
	/* Databases, buckets and functions come with their sections; env
	 * references to them will be listed here as they are resolved. */
	cJSON_AddItemToObject(d, "databases", cJSON_CreateArray());
	cJSON_AddItemToObject(d, "buckets", cJSON_CreateArray());
	cJSON_AddItemToObject(d, "functions", cJSON_CreateArray());
	cJSON_AddItemToObject(d, "volumes", cJSON_DetachItemFromObject(row, "volumes"));
	cJSON_AddItemToObject(d, "depends_on", cJSON_DetachItemFromObject(row, "depends_on"));
	cJSON_Delete(row);
	return http_respond_json(r, 200, d, NULL);
}

/* ------------------------------------------------------------ env */

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

	if ((e = db_run(r, &st_env_get, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	if ((map = apps_env_open(r, PQgetisnull(res, 0, 0) ? NULL : db_get(res, 0, "env_sealed"))) ==
	    NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_get, &res, http_param(r, "id"));
	if (e != ERR_OK) {
		cJSON_Delete(map);
		return e;
	}
	return respond_env(r, map, strcmp(db_get(res, 0, "pending_deploy"), "t") == 0);
}

static enum err
env_write(struct req *r, bool merge)
{
	const char *id = http_param(r, "id"), *version, *sealed, *m;
	PGresult   *res;
	cJSON      *map;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK)
		return e;
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST, "the body must be an object {KEY: \"value\"}");
	if ((m = check_env_map(r->json, merge)) != NULL) {
		cJSON *details = cJSON_CreateArray();

		for (const cJSON *it = r->json->child; it; it = it->next) {
			cJSON *one = cJSON_CreateObject();

			cJSON_AddItemToObject(one, it->string, cJSON_Duplicate(it, true));
			if ((m = check_env_map(one, merge)) != NULL)
				json_detail(details, it->string, m);
			cJSON_Delete(one);
		}
		if (cJSON_GetArraySize(details) == 0)
			json_detail(details, "env", "at most 500 variables");
		return http_error_details(r, "invalid request body", details);
	}
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
	if (cJSON_GetArraySize(map) > ENV_MAX_KEYS) {
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
		return http_error(r, ERR_PRECONDITION_FAILED, "the application has changed (If-Match)");
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

/* ------------------------------------------------------------ logs */

static enum err
time_query(struct req *r, const char *name, const char **out)
{
	*out = http_query(r, name);
	if (*out != NULL && **out == '\0')
		*out = NULL;
	if (*out != NULL && !json_is_time(*out))
		return http_field_error(r, "invalid query parameter", name,
		    "must be an RFC 3339 time like 2024-01-15T10:30:00Z");
	return ERR_OK;
}

static enum err
runtime_logs(struct req *r)
{
	const char *since, *until, *inst = http_query(r, "instance"), *stream = http_query(r, "stream");
	const char *q = http_query(r, "q");
	int64_t     limit;
	PGresult   *res;
	enum err    e;

	if ((e = time_query(r, "since", &since)) != ERR_OK ||
	    (e = time_query(r, "until", &until)) != ERR_OK || (e = http_limit(r, &limit)) != ERR_OK)
		return e;
	if (stream != NULL && *stream && strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0)
		return http_field_error(r, "invalid query parameter", "stream",
		    "must be stdout or stderr");
	e = db_run(r, &st_runtime_logs, &res, http_param(r, "id"), since, until,
	    arena_printf(r->a, "%lld", (long long)limit), inst && *inst ? inst : NULL,
	    stream && *stream ? stream : NULL, q && *q ? q : NULL);
	if (e != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

static enum err
build_logs(struct req *r)
{
	const char *dep = http_query(r, "deploymentId");
	PGresult   *res;
	enum err    e;

	if (dep != NULL && *dep == '\0')
		dep = NULL;
	if (dep != NULL && !util_is_uuid(dep))
		return http_field_error(r, "invalid query parameter", "deploymentId", "must be a UUID");
	if ((e = db_run(r, &st_build_logs, &res, http_param(r, "id"), dep)) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

/* ------------------------------------------------------------ exec */

static const char *
check_command(const cJSON *v)
{
	for (const cJSON *it = v->child; it; it = it->next)
		if (strlen(it->valuestring) > 4096)
			return "each argument must be at most 4096 bytes";
	return NULL;
}

static const struct field exec_fields[] = {
	{"command", F_STRINGS, true, false, 1, 64, check_command},
	{"timeout_seconds", F_INT, false, false, 1, 600, NULL},
};

/*
 * Queues app.exec and answers 202 with the job at once (README "Long
 * calls"): the agent runs the command, the caller polls GET /jobs/:id
 * until the status is terminal and reads result.exit_code and
 * result.output there.  No pool worker waits for the agent.
 */
static enum err
exec_cmd(struct req *r)
{
	struct field_val       v[2];
	const struct job_kind *k;
	const char            *job, *project;
	char                  *extra;
	cJSON                 *o, *d;
	enum err               e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, exec_fields, v)) != ERR_OK)
		return e;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "command", cJSON_Duplicate(v[0].node, true));
	cJSON_AddNumberToObject(o, "timeout_seconds", (double)(v[1].present ? v[1].i : 30));
	extra = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	e = action(r, "app.exec", NULL, extra, &job);
	cJSON_free(extra);
	if (e != ERR_OK || r->responded)
		return e;
	if ((e = job_read(r, job, &o, &project, &k)) != ERR_OK)
		return e;
	if (o == NULL)
		return ERR_INTERNAL;
	http_add_header(r, "Location", job_url(r, job));
	d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "job", o);
	return http_respond_json(r, 202, d, NULL);
}

static enum err
webhook_secret(struct req *r)
{
	const char *secret, *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_get, &res, id)) != ERR_OK)
		return e;
	if (strcmp(db_get(res, 0, "source_type"), "git") != 0)
		return http_error(r, ERR_CONFLICT, "only git applications have a push webhook");
	if ((e = new_webhook(r, id, &secret)) != ERR_OK)
		return e;
	return respond_app(r, id, 200, secret);
}

#define APP(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), .audit = (a), \
	.project_of = apps_project_of}

const struct route api_application_routes[] = {
	{.methods = HTTP_GET, .pattern = "/applications", .fn = list},
	{.methods = HTTP_GET, .pattern = "/applications/check-name", .fn = check_name},
	{.methods = HTTP_POST, .pattern = "/applications", .fn = create,
	    .audit = "application.create", .flags = ROUTE_SECRET_ANSWER},
	APP(HTTP_GET, "/applications/:id", get, CAP_READ, NULL),
	APP(HTTP_PUT, "/applications/:id", update, CAP_WRITE, "application.update"),
	APP(HTTP_DELETE, "/applications/:id", del, CAP_WRITE, "application.delete"),
	APP(HTTP_POST, "/applications/:id/deploy", deploy, CAP_DEPLOY, "application.deploy"),
	APP(HTTP_POST, "/applications/:id/start", start, CAP_DEPLOY, "application.start"),
	APP(HTTP_POST, "/applications/:id/stop", stop, CAP_DEPLOY, "application.stop"),
	APP(HTTP_POST, "/applications/:id/restart", restart, CAP_DEPLOY, "application.restart"),
	APP(HTTP_POST, "/applications/:id/rollback", rollback, CAP_DEPLOY, "application.rollback"),
	APP(HTTP_GET, "/applications/:id/instances", instances, CAP_READ, NULL),
	APP(HTTP_POST, "/applications/:id/scale", scale, CAP_DEPLOY, "application.scale"),
	APP(HTTP_GET, "/applications/:id/dependencies", dependencies, CAP_READ, NULL),
	APP(HTTP_GET, "/applications/:id/env", env_get, CAP_READ, NULL),
	APP(HTTP_PUT, "/applications/:id/env", env_put, CAP_WRITE, "application.env.update"),
	APP(HTTP_PATCH, "/applications/:id/env", env_patch, CAP_WRITE, "application.env.update"),
	APP(HTTP_GET, "/applications/:id/runtime-logs", runtime_logs, CAP_DEPLOY, NULL),
	APP(HTTP_GET, "/applications/:id/build-logs", build_logs, CAP_DEPLOY, NULL),
	/* Write, as revealing env values: a command can print the environment. */
	APP(HTTP_POST, "/applications/:id/exec", exec_cmd, CAP_WRITE, "application.exec"),
	{.methods = HTTP_POST, .pattern = "/applications/:id/webhook-secret", .fn = webhook_secret,
	    .cap = CAP_WRITE, .audit = "application.webhook_secret.rotate",
	    .project_of = apps_project_of, .flags = ROUTE_SECRET_ANSWER},
	{0},
};
