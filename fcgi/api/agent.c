/*
 * agent.c - the agent API (API.md §3, "Agent API"): heartbeat, job claim,
 * lease renewal, progress lines, completion.  Authenticated by the agent
 * token (x-lnchr-agent-token), which names one server; an agent reaches
 * only its own server's jobs, in its own tenant (RLS).
 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/redact.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "apps_common.h"

#define MAX_LINES 100
#define UUID_RE "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
#define MAX_LINE 4096

/* Facts and status in one statement (the host's points come in batches:
 * POST /agent/metrics, the one path that inserts server_metrics). */
DB_STMT st_heartbeat = {"agent_heartbeat",
    "UPDATE servers SET"
    " status = CASE WHEN ($2::jsonb->'engine'->>'reachable')::boolean THEN 'online' ELSE 'degraded' END,"
    " agent_version = $2::jsonb->>'agent_version',"
    " engine = CASE WHEN $2::jsonb->'engine'->>'type' IN ('docker', 'podman')"
    "  THEN $2::jsonb->'engine'->>'type' ELSE engine END,"
    " engine_version = coalesce($2::jsonb->'engine'->>'version', engine_version),"
    " engine_reachable = ($2::jsonb->'engine'->>'reachable')::boolean,"
    " os = $2::jsonb->'host'->>'os', cpus = ($2::jsonb->'host'->>'cpus')::int,"
    " memory_bytes = ($2::jsonb->'host'->>'memory_total_bytes')::bigint,"
    " disk_bytes = ($2::jsonb->'host'->>'disk_total_bytes')::bigint,"
    " last_heartbeat = $2::jsonb, last_seen_at = now()"
    " WHERE id = $1::uuid RETURNING id AS server_id, status, heartbeat_interval_seconds,"
    " $3::int AS poll_interval_ms, now() AS plane_time"};
/*
 * POST /agent/metrics: a batch of host points and container points, each
 * at most once per (server, ts) / (application, instance, ts): a batch the
 * agent resends after a lost answer never doubles.  Points of applications
 * not placed on this server are dropped (moved or deleted since).
 */
DB_STMT st_metrics = {"agent_metrics",
    "WITH h AS (INSERT INTO server_metrics (server_id, ts, cpu_percent, memory_used_bytes,"
    " memory_total_bytes, disk_used_bytes, disk_total_bytes, load1, net_rx_bytes, net_tx_bytes)"
    " SELECT $1::uuid, x.ts, x.cpu_percent, x.memory_used_bytes, x.memory_total_bytes,"
    " x.disk_used_bytes, x.disk_total_bytes, x.load1, x.net_rx_bytes, x.net_tx_bytes"
    " FROM jsonb_to_recordset($2::jsonb) AS x(ts timestamptz, cpu_percent float8,"
    " memory_used_bytes bigint, memory_total_bytes bigint, disk_used_bytes bigint,"
    " disk_total_bytes bigint, load1 float8, net_rx_bytes bigint, net_tx_bytes bigint)"
    " ON CONFLICT (tenant_id, server_id, ts) DO NOTHING RETURNING 1),"
    " c AS (INSERT INTO app_metrics (application_id, server_id, instance_id, ts, cpu_percent,"
    " memory_bytes, restarts)"
    " SELECT a.id, $1::uuid, x.instance_id, x.ts, x.cpu_percent, x.memory_bytes, x.restarts"
    " FROM jsonb_to_recordset($3::jsonb) AS x(app_id text, instance_id text, ts timestamptz,"
    " cpu_percent float8, memory_bytes bigint, restarts int)"
    " JOIN applications a ON a.id = CASE WHEN x.app_id ~ " UUID_RE " THEN x.app_id::uuid END"
    " AND a.server_id = $1::uuid"
    " ON CONFLICT (tenant_id, application_id, instance_id, ts) DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM h) AS host_inserted, (SELECT count(*) FROM c) AS containers_inserted"};
/* $2/$3: the kinds wanted / not wanted, JSON arrays of names or NULL (sql/061). */
DB_STMT st_claim = {"agent_claim",
    "SELECT id, kind, payload, attempts AS attempt, lease_seconds, deadline_at, now() AS plane_time"
    " FROM job_claim($1::uuid,"
    " (SELECT array_agg(k) FROM jsonb_array_elements_text($2::jsonb) k),"
    " (SELECT array_agg(k) FROM jsonb_array_elements_text($3::jsonb) k))"};

/* The env snapshot of the release an app.* job runs, for its claim. */
DB_STMT st_release_env = {"agent_release_env",
    "SELECT env_sealed FROM deployments WHERE id = $1::uuid AND server_id = $2::uuid"};
/* The mounts of an app.* job's application (sql/021_volumes.sql). */
DB_STMT st_claim_volumes = {"agent_claim_volumes",
    "SELECT app_volume_specs($1::uuid) AS volumes"};
/* The sealed credentials of a git application's repository: those of its
 * URL, else its git provider's token (sql/028). */
DB_STMT st_repo_cred = {"agent_repo_cred",
    "SELECT a.repository_credential_sealed, g.type, g.username, g.token_sealed"
    " FROM applications a LEFT JOIN git_providers g ON g.id = a.git_provider_id"
    " WHERE a.id = $1::uuid AND a.server_id = $2::uuid"
    " AND (a.repository_credential_sealed IS NOT NULL OR g.id IS NOT NULL)"};
/* A git.* job's provider token; git.hook's application's webhook secret
 * (only for an application placed on the claiming server). */
DB_STMT st_claim_git = {"agent_claim_git",
    "SELECT g.type, g.username, g.token_sealed, (SELECT a.webhook_secret_sealed FROM applications a"
    "  WHERE a.id = CASE WHEN $3::text ~ " UUID_RE " THEN $3::uuid END"
    "  AND a.server_id = $2::uuid) AS webhook_secret_sealed"
    " FROM git_providers g WHERE g.id = $1::uuid"};
/* The registry a registry.test job checks, or the one an app.* job's
 * application pulls from (and pushes a build to): only for the
 * application's own server (sql/029_registries.sql). */
DB_STMT st_claim_registry = {"agent_claim_registry",
    "SELECT r.type, r.url, r.username, r.password_sealed FROM registries r WHERE r.id = $1::uuid"};
DB_STMT st_app_registry = {"agent_app_registry",
    "SELECT r.type, r.url, r.username, r.password_sealed FROM applications a"
    " JOIN registries r ON r.id = a.registry_id WHERE a.id = $1::uuid AND a.server_id = $2::uuid"};
/* The reference a release's image was pulled from or pushed to. */
DB_STMT st_release_image = {"agent_release_image",
    "SELECT image FROM deployments WHERE application_id = $1::uuid AND image_digest = $2"
    " AND image IS NOT NULL AND image <> image_digest AND status IN ('succeeded', 'superseded')"
    " ORDER BY created_at DESC, id DESC LIMIT 1"};
/* Applications' instances (sql/006, 024), databases' statuses (sql/023) and figures (024),
 * the managed object store's container (sql/062), functions' scale to zero (sql/060). */
DB_STMT st_instances = {"agent_instances",
    "SELECT agent_instances($1::uuid, $2::jsonb) AS instances,"
    " database_instances($1::uuid, $2::jsonb) IS NULL AS _databases,"
    " objstore_instances($1::uuid, $2::jsonb) IS NULL AS _objstores,"
    " function_instances($1::uuid, $2::jsonb) IS NULL AS _functions,"
    " database_stats($1::uuid, $2::jsonb) IS NULL AS _stats"};
/* The first item naming an application of the tenant placed on another server. */
DB_STMT st_instances_foreign = {"agent_instances_foreign",
    "SELECT t.i - 1 AS idx, a.id FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(x, i)"
    " JOIN applications a ON a.id = CASE WHEN t.x->>'app_id' ~ " UUID_RE
    " THEN (t.x->>'app_id')::uuid END"
    " WHERE a.server_id IS DISTINCT FROM $1::uuid ORDER BY t.i LIMIT 1"};
/* Volume usage (sql/021_volumes.sql): only this server's volumes change. */
DB_STMT st_volumes = {"agent_volumes",
    "SELECT agent_volumes($1::uuid, $2::jsonb) AS volumes"};
/* A db.* job's passwords, only for the database's own server. */
DB_STMT st_claim_db = {"agent_claim_db",
    "SELECT id, password_sealed, pending_password_sealed FROM databases"
    " WHERE id = $1::uuid AND server_id = $2::uuid"};
/* A bucket job's store (sql/053), only for the store of the claiming server. */
DB_STMT st_claim_store = {"agent_claim_store",
    "SELECT id, admin_secret_sealed FROM object_stores WHERE id = $1::uuid AND server_id = $2::uuid"};
/* bucket.objects lists with the bucket's own active key. */
DB_STMT st_claim_bucket_key = {"agent_claim_bucket_key",
    "SELECT k.access_key, k.secret_sealed FROM bucket_keys k JOIN buckets b ON b.id = k.bucket_id"
    " WHERE b.id = $1::uuid AND b.server_id = $2::uuid AND k.state = 'active'"};
/* The bucket of a running job of this server (the completion's key and cursor). */
DB_STMT st_bucket_job = {"agent_bucket_job",
    "SELECT kind, payload->>'bucket_id' AS bucket_id, payload->>'prefix' AS prefix FROM jobs"
    " WHERE id = $1::uuid AND server_id = $2::uuid AND status = 'running'"
    " AND kind IN ('bucket.create', 'bucket.rotate', 'bucket.objects')"
    " AND payload->>'bucket_id' ~ " UUID_RE};
DB_STMT st_bucket_key_add = {"agent_bucket_key_add",
    "SELECT bucket_key_add($1::uuid, $2::uuid, $3, $4) AS added"};
/* A backup destination's sealed keys (the claim of a backup.* / db.* job). */
DB_STMT st_claim_dest = {"agent_claim_dest",
    "SELECT credentials_sealed FROM backup_destinations WHERE id = $1::uuid"};
/* The upload of this server's running db.import (sql/035_backups.sql). */
DB_STMT st_import_upload = {"agent_import_upload",
    "SELECT db_import_upload($1::uuid, $2::uuid) AS upload_id"};
/* POST /agent/jobs/:id/progress {"phase"} (sql/035_backups.sql). */
DB_STMT st_phase = {"agent_job_phase",
    "SELECT backup_job_phase($1::uuid, $2::uuid, $3) AS running"};
/* A function's env of its latest deploy (resolved, sealed: sql/057), for its
 * own server only; the calls its container serves at once, of the runtime
 * and memory_limit of the payload ($3, $4) it is built from (sql/061). */
DB_STMT st_claim_fn = {"agent_claim_fn",
    "SELECT release_env_sealed AS env_sealed,"
    " fn_concurrency($3, $4::numeric::bigint) AS concurrency"
    " FROM functions"
    " WHERE id = $1::uuid AND server_id = $2::uuid"};
/* What a terminal.open job runs (sql/031_terminals.sql), for its server only. */
DB_STMT st_claim_terminal = {"agent_claim_terminal",
    "SELECT terminal_job_payload($1::uuid, $2::uuid) AS payload"};
/* Passwords of the databases a log batch names, to redact them. */
DB_STMT st_log_dbs = {"agent_log_dbs",
    "SELECT id, password_sealed FROM databases"
    " WHERE id IN (SELECT (x->>'database_id')::uuid FROM jsonb_array_elements($1::jsonb) x"
    "  WHERE x->>'database_id' ~ " UUID_RE ") AND server_id = $2::uuid"};
/* Snapshots of the releases a log batch names, and the env of the latest
 * deploy of the functions it names (by function_id or app_id; their lines
 * carry a fn.deploy job id, no release; resolved, sql/057), to redact their
 * values. */
DB_STMT st_log_envs = {"agent_log_envs",
    "SELECT d.env_sealed FROM deployments d JOIN applications a ON a.id = d.application_id"
    " WHERE d.id IN (SELECT (x->>'deployment_id')::uuid FROM jsonb_array_elements($1::jsonb) x"
    "  WHERE x->>'deployment_id' ~ '^[0-9a-f-]{36}$')"
    " AND a.server_id = $2::uuid AND d.env_sealed IS NOT NULL"
    " UNION ALL SELECT f.release_env_sealed FROM functions f"
    " WHERE f.id IN (SELECT coalesce(x->>'function_id', x->>'app_id')::uuid"
    "  FROM jsonb_array_elements($1::jsonb) x"
    "  WHERE coalesce(x->>'function_id', x->>'app_id') ~ " UUID_RE ")"
    " AND f.server_id = $2::uuid AND f.release_env_sealed IS NOT NULL"};
/* Only lines of this tenant's applications, databases and functions placed
 * on this server; an entry names one by app_id, database_id or function_id
 * (a function's container is labelled launcher.app too, fn.h: its app_id
 * names the function). */
DB_STMT st_logs = {"agent_logs",
    "INSERT INTO runtime_logs (application_id, database_id, function_id, deployment_id, container_id,"
    " instance_name, ts, stream, message)"
    " SELECT a.id, CASE WHEN a.id IS NULL THEN d.id END,"
    " CASE WHEN a.id IS NULL AND d.id IS NULL THEN f.id END,"
    " CASE WHEN a.id IS NOT NULL THEN x.dep END,"
    " x.container_id, coalesce(i.name, ''), x.timestamp, x.stream,"
    " x.message FROM (SELECT y.*, CASE WHEN y.deployment_id ~ " UUID_RE " THEN"
    " y.deployment_id::uuid END AS dep FROM jsonb_to_recordset($1::jsonb) AS y(app_id text,"
    " database_id text, function_id text, deployment_id text, container_id text,"
    " timestamp timestamptz, stream text, message text)) x"
    " LEFT JOIN applications a ON a.id = CASE WHEN x.app_id ~ " UUID_RE " THEN x.app_id::uuid END"
    " AND a.server_id = $2::uuid"
    " LEFT JOIN databases d ON d.id = CASE WHEN x.database_id ~ " UUID_RE
    " THEN x.database_id::uuid END AND d.server_id = $2::uuid"
    " LEFT JOIN functions f ON f.id = CASE WHEN coalesce(x.function_id, x.app_id) ~ " UUID_RE
    " THEN coalesce(x.function_id, x.app_id)::uuid END AND f.server_id = $2::uuid"
    " LEFT JOIN instances i ON i.server_id = $2::uuid AND i.container_id = x.container_id"
    " WHERE a.id IS NOT NULL OR d.id IS NOT NULL OR f.id IS NOT NULL"};
DB_STMT st_lease = {"agent_lease",
    "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => lease_seconds)"
    " WHERE id = $1::uuid AND server_id = $2::uuid AND status = 'running'"
    " RETURNING lease_expires_at"};
DB_STMT st_state = {"agent_job_state",
    "SELECT status FROM jobs WHERE id = $1::uuid AND server_id = $2::uuid"};
DB_STMT st_progress = {"agent_progress",
    "INSERT INTO job_logs (job_id, line) SELECT j.id, l.line"
    " FROM jobs j, jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS l(line, n)"
    " WHERE j.id = $1::uuid AND j.server_id = $2::uuid AND j.status = 'running' ORDER BY l.n"};
DB_STMT st_kind = {"agent_job_kind",
    "SELECT kind FROM jobs WHERE id = $1::uuid AND server_id = $2::uuid"};
/* $4 the result in the clear, or $6 sealed (a kind whose result may show secrets). */
DB_STMT st_complete = {"agent_complete",
    "UPDATE jobs SET status = $3, result = $4::jsonb, result_sealed = $6, error = $5,"
    " finished_at = now(),"
    " lease_expires_at = NULL WHERE id = $1::uuid AND server_id = $2::uuid AND status = 'running'"
    " RETURNING id, kind, payload->>'upload_id' AS _upload"};

static const char *
check_nonneg(const cJSON *v)
{
	return v->valuedouble < 0 ? "must not be negative" : NULL;
}

static const struct field engine_fields[] = {
	{"reachable", F_BOOL, true, false, 0, 0, NULL},
	{"type", F_STRING, false, false, 1, 16, NULL},
	{"version", F_STRING, false, false, 0, 64, NULL},
	{"api_version", F_STRING, false, false, 0, 16, NULL},
	{"os", F_STRING, false, false, 0, 64, NULL},
	{"kernel", F_STRING, false, false, 0, 128, NULL},
	{"containers", F_INT, false, false, 0, 10000000, NULL},
	{"containers_running", F_INT, false, false, 0, 10000000, NULL},
	{"images", F_INT, false, false, 0, 10000000, NULL},
};

static const struct field host_fields[] = {
	{"hostname", F_STRING, false, false, 0, 255, NULL},
	{"os", F_STRING, false, false, 0, 128, NULL},
	{"cpus", F_INT, true, false, 1, 100000, NULL},
	{"cpu_percent", F_NUMBER, false, false, 0, 100, NULL},
	{"memory_total_bytes", F_INT, true, false, 0, INT64_MAX / 2, NULL},
	{"memory_used_bytes", F_INT, true, false, 0, INT64_MAX / 2, NULL},
	{"disk_total_bytes", F_INT, true, false, 0, INT64_MAX / 2, NULL},
	{"disk_used_bytes", F_INT, true, false, 0, INT64_MAX / 2, NULL},
	{"load1", F_NUMBER, false, false, 0, 1000000, check_nonneg},
	{"load5", F_NUMBER, false, false, 0, 1000000, check_nonneg},
	{"load15", F_NUMBER, false, false, 0, 1000000, check_nonneg},
	{"net_rx_bytes", F_INT, false, false, 0, INT64_MAX / 2, NULL},
	{"net_tx_bytes", F_INT, false, false, 0, INT64_MAX / 2, NULL},
};

static const struct field heartbeat_fields[] = {
	{"agent_version", F_STRING, true, false, 1, 64, NULL},
	{"interval_seconds", F_INT, false, false, 1, 3600, NULL},
	{"time", F_TIME, false, false, 0, 0, NULL},
	{"engine", F_OBJECT, true, false, 0, 0, NULL, FIELD_SUB(engine_fields)},
	{"host", F_OBJECT, true, false, 0, 0, NULL, FIELD_SUB(host_fields)},
};

static enum err
heartbeat(struct req *r)
{
	struct field_val v[5];
	PGresult        *res;
	char            *body;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, heartbeat_fields, v)) != ERR_OK)
		return e;
	body = cJSON_PrintUnformatted(r->json);
	arena_defer(r->a, free, body);
	if ((e = db_run(r, &st_heartbeat, &res, r->who.server_id, body,
	    arena_printf(r->a, "%lld", (long long)r->w->cfg->agent_poll_interval_ms))) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "server not found");
	return http_respond_row(r, 200, res, 0);
}

static enum err add_release_env(struct req *r, cJSON *payload);
static enum err add_repo_credentials(struct req *r, cJSON *payload);
static enum err add_volumes(struct req *r, cJSON *payload);
static enum err add_db_passwords(struct req *r, const char *kind, cJSON *payload);
static enum err add_registry(struct req *r, const char *kind, cJSON *payload);
static enum err add_release_image(struct req *r, const char *app, cJSON *payload);
static enum err add_git_secrets(struct req *r, const char *kind, cJSON *payload);
static enum err add_terminal(struct req *r, cJSON *job);
static enum err add_function(struct req *r, bool deploy, cJSON *payload);
static enum err add_backup_secrets(struct req *r, const char *kind, cJSON *payload);
static enum err add_bucket_secrets(struct req *r, const char *kind, cJSON *payload);

/*
 * The one place the site's image mirror table (core/imagemap.h, the
 * pool's w->imagemap) applies: the image an app.deploy job pulls
 * (source.image of a docker_image source) becomes its replacement in the
 * claim's answer.  The application, its deployment and the stored job
 * keep the reference as written; the agent's result then records what it
 * pulled.
 */
static void
map_image(struct req *r, cJSON *holder)
{
	const cJSON *img = cJSON_GetObjectItemCaseSensitive(holder, "image");
	const char  *to;

	if (!cJSON_IsString(img))
		return;
	to = imagemap_resolve(r->w->imagemap, img->valuestring);
	if (to != img->valuestring)
		cJSON_ReplaceItemInObjectCaseSensitive(holder, "image", cJSON_CreateString(to));
}

/* ... and the image of every service of a compose source (app.deploy, and
 * the release source of an action or a rollback). */
static void
map_images(struct req *r, cJSON *payload)
{
	cJSON       *src = cJSON_GetObjectItemCaseSensitive(payload, "source"), *svc;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(src, "type");

	if (cJSON_IsString(type) && strcmp(type->valuestring, "docker_image") == 0)
		map_image(r, src);
	if (cJSON_IsString(type) && strcmp(type->valuestring, "compose") == 0)
		cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(src, "services")) {
			map_image(r, svc);
		}
}

/* A job kind's name, as the jobs table's CHECK has it: [a-z][a-z0-9_.]{0,63}. */
static bool
kind_ok(const char *k)
{
	size_t n = strlen(k);

	if (n < 1 || n > 64 || !(k[0] >= 'a' && k[0] <= 'z'))
		return false;
	return strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

static const char *
check_kinds(const cJSON *v)
{
	for (const cJSON *it = v->child; it; it = it->next)
		if (!kind_ok(it->valuestring))
			return "each must be a job kind ([a-z][a-z0-9_.]{0,63})";
	return NULL;
}

/*
 * The claim's optional body (README "Jobs in slots"): kinds, the only kinds
 * the agent takes now (its main slot is busy: ["fn.invoke"]); except_kinds,
 * kinds it does not (its invoke slots are busy).  No body: any kind.
 */
static const struct field claim_fields[] = {
	{"kinds", F_STRINGS, false, false, 1, 32, check_kinds},
	{"except_kinds", F_STRINGS, false, false, 1, 32, check_kinds},
};

static enum err
claim(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	cJSON           *d;
	char            *kinds = NULL, *except = NULL;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, claim_fields, v)) != ERR_OK))
		return e;
	if (r->json != NULL && v[0].present && (kinds = cJSON_PrintUnformatted(v[0].node)) != NULL)
		arena_defer(r->a, free, kinds);
	if (r->json != NULL && v[1].present && (except = cJSON_PrintUnformatted(v[1].node)) != NULL)
		arena_defer(r->a, free, except);
	if ((e = db_run(r, &st_claim, &res, r->who.server_id, kinds, except)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "job", PQntuples(res) == 1 ? json_row(res, 0) : cJSON_CreateNull());
	if (PQntuples(res) == 1 && strncmp(db_get(res, 0, "kind"), "app.", 4) == 0)
		map_images(r, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "job"),
		    "payload"));
	if (PQntuples(res) == 1 && strncmp(db_get(res, 0, "kind"), "app.", 4) == 0 &&
	    ((e = add_release_env(r, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK ||
	    (e = add_volumes(r, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK)) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && (strncmp(db_get(res, 0, "kind"), "app.", 4) == 0 ||
	    strcmp(db_get(res, 0, "kind"), "registry.test") == 0) &&
	    (e = add_registry(r, db_get(res, 0, "kind"), cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && strncmp(db_get(res, 0, "kind"), "db.", 3) == 0 &&
	    (e = add_db_passwords(r, db_get(res, 0, "kind"), cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && strncmp(db_get(res, 0, "kind"), "git.", 4) == 0 &&
	    (e = add_git_secrets(r, db_get(res, 0, "kind"), cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && (e = add_backup_secrets(r, db_get(res, 0, "kind"),
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "job"),
	    "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && (strcmp(db_get(res, 0, "kind"), "fn.deploy") == 0 ||
	    strcmp(db_get(res, 0, "kind"), "fn.invoke") == 0) &&
	    (e = add_function(r, strcmp(db_get(res, 0, "kind"), "fn.deploy") == 0,
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d,
	    "job"), "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && (strncmp(db_get(res, 0, "kind"), "bucket.", 7) == 0 ||
	    strcmp(db_get(res, 0, "kind"), "objstore.provision") == 0) &&
	    (e = add_bucket_secrets(r, db_get(res, 0, "kind"), cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "job"), "payload"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	if (PQntuples(res) == 1 && strcmp(db_get(res, 0, "kind"), "terminal.open") == 0 &&
	    (e = add_terminal(r, cJSON_GetObjectItemCaseSensitive(d, "job"))) != ERR_OK) {
		cJSON_Delete(d);
		return e;
	}
	return http_respond_json(r, 200, d, NULL);
}

/*
 * A fn.deploy or fn.invoke job (sql/054_functions.sql): the runtime's base
 * image (config function_runtime_images) through the image mirror table as
 * "base_image", and for fn.deploy only (an invocation runs the deployed
 * container and never reads it) the function's env as its latest deploy
 * resolved it (functions.c, deploy: the merged store, references
 * resolved, sealed as an application's release snapshot), opened, as
 * "env".  A function deleted since has neither: the agent fails the job.
 */
static enum err
add_function(struct req *r, bool deploy, cJSON *payload)
{
	const cJSON *fid = cJSON_GetObjectItemCaseSensitive(payload, "function_id");
	const char  *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "runtime"));
	const char  *p = r->w->cfg->function_runtime_images;
	const cJSON *mem;
	PGresult    *res;
	cJSON       *env;
	int64_t      conc;
	enum err     e;

	if (!cJSON_IsString(fid) || !util_is_uuid(fid->valuestring) || rt == NULL)
		return ERR_OK;
	mem = cJSON_GetObjectItemCaseSensitive(payload, "memory_limit");
	if ((e = db_run(r, &st_claim_fn, &res, fid->valuestring, r->who.server_id, rt,
	    cJSON_IsNumber(mem) ? arena_printf(r->a, "%.0f", mem->valuedouble) : NULL)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_OK;
	if (deploy && (env = apps_env_open(r, db_isnull(res, 0, "env_sealed") ? NULL :
	    db_get(res, 0, "env_sealed"))) == NULL) {
		log_error("claim: the env of function %s does not open", fid->valuestring);
		return ERR_INTERNAL;
	}
	if (deploy) {
		cJSON_ReplaceItemInObjectCaseSensitive(payload, "env", env);
		if (cJSON_GetObjectItemCaseSensitive(payload, "env") != env)
			cJSON_AddItemToObject(payload, "env", env);
		/* The calls its container serves at once: the claim's limit too (sql/061). */
		if (util_parse_i64(db_get(res, 0, "concurrency"), 1, 64, &conc) == 0)
			cJSON_AddNumberToObject(payload, "concurrency", (double)conc);
	}
	for (; *p; ) {
		size_t n = strcspn(p, ","), eq = strcspn(p, "=");

		if (eq < n && eq == strlen(rt) && strncmp(p, rt, eq) == 0) {
			const char *img = arena_printf(r->a, "%.*s", (int)(n - eq - 1), p + eq + 1);

			cJSON_AddStringToObject(payload, "base_image", imagemap_resolve(r->w->imagemap, img));
			break;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return ERR_OK;
}

/*
 * The user name git sends with a provider's token when the provider has
 * none: what each hosting service documents for a token as password.
 */
static const char *
git_token_user(const char *type, const char *username)
{
	if (username != NULL && *username)
		return username;
	if (strcmp(type, "gitlab") == 0)
		return "oauth2";
	if (strcmp(type, "bitbucket") == 0)
		return "x-token-auth";
	return "x-access-token";
}

/*
 * A git.* job's secrets, as the env of a deploy: sealed in the database,
 * opened into the claim's answer only: "token" and "username" (the
 * provider's, or git_token_user's; "username_given" says which), and for
 * git.hook registering a hook, "secret" (the application's webhook
 * secret).  A provider deleted since has none: the agent fails the job.
 */
static enum err
add_git_secrets(struct req *r, const char *kind, cJSON *payload)
{
	const cJSON *gp = cJSON_GetObjectItemCaseSensitive(payload, "git_provider_id");
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(payload, "app_id");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(payload, "action");
	PGresult    *res;
	char        *tok, *sec;
	enum err     e;

	if (!cJSON_IsString(gp) || !util_is_uuid(gp->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_git, &res, gp->valuestring, r->who.server_id,
	    cJSON_IsString(app) ? app->valuestring : "")) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_OK;
	if ((tok = secret_open(r, SECRET_GIT_PROVIDER_TOKEN, db_get(res, 0, "token_sealed"),
	    NULL)) == NULL) {
		log_error("claim: the token of git provider %s does not open", gp->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_AddStringToObject(payload, "token", tok);
	cJSON_AddStringToObject(payload, "username", git_token_user(db_get(res, 0, "type"),
	    db_isnull(res, 0, "username") ? NULL : db_get(res, 0, "username")));
	cJSON_AddBoolToObject(payload, "username_given", !db_isnull(res, 0, "username"));
	if (strcmp(kind, "git.hook") != 0 || !cJSON_IsString(act) ||
	    strcmp(act->valuestring, "register") != 0 || db_isnull(res, 0, "webhook_secret_sealed"))
		return ERR_OK;
	if ((sec = secret_open(r, SECRET_APP_WEBHOOK, db_get(res, 0, "webhook_secret_sealed"),
	    NULL)) == NULL) {
		log_error("claim: the webhook secret of application %s does not open", app->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_AddStringToObject(payload, "secret", sec);
	return ERR_OK;
}

/*
 * A terminal.open job's stored payload names its session only; the claim
 * hands the agent what to run and where (terminal_job_payload), and for a
 * database the current password in "env" as NAME=value under the image
 * table's variable, which the exec sets (never argv; opened here as a
 * db.* job's is).  A session that ended meanwhile leaves the payload as it
 * is: the agent fails the job.
 */
static enum err
add_terminal(struct req *r, cJSON *job)
{
	cJSON       *payload = cJSON_GetObjectItemCaseSensitive(job, "payload"), *p, *env;
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(payload, "session_id");
	const cJSON *pwenv;
	PGresult    *res;
	enum err     e;

	if (!cJSON_IsString(sid) || !util_is_uuid(sid->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_terminal, &res, sid->valuestring, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
	    (p = cJSON_Parse(PQgetvalue(res, 0, 0))) == NULL)
		return ERR_OK;
	pwenv = cJSON_GetObjectItemCaseSensitive(p, "password_env");
	if (cJSON_IsString(pwenv)) {
		const cJSON *pw;

		if ((e = add_db_passwords(r, "terminal.open", p)) != ERR_OK) {
			cJSON_Delete(p);
			return e;
		}
		pw = cJSON_GetObjectItemCaseSensitive(p, "password");
		env = cJSON_AddArrayToObject(p, "env");
		if (cJSON_IsString(pw))
			cJSON_AddItemToArray(env, cJSON_CreateString(arena_printf(r->a, "%s=%s",
			    pwenv->valuestring, pw->valuestring)));
		if (cJSON_IsString(pw))
			sodium_memzero(pw->valuestring, strlen(pw->valuestring));
		cJSON_DeleteItemFromObjectCaseSensitive(p, "password");
	}
	cJSON_ReplaceItemInObjectCaseSensitive(job, "payload", p);
	return ERR_OK;
}

/*
 * The env values of the release an app.* job runs are sealed in the
 * database; the agent gets them decrypted in the claim's answer (over
 * TLS), never stored in the clear in the job.
 */
static enum err
add_release_env(struct req *r, cJSON *payload)
{
	const cJSON *dep = cJSON_GetObjectItemCaseSensitive(payload, "deployment_id");
	PGresult    *res;
	cJSON       *env;
	enum err     e;

	if (!cJSON_IsString(dep) || !util_is_uuid(dep->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_release_env, &res, dep->valuestring, r->who.server_id)) != ERR_OK)
		return e;
	env = apps_env_open(r, PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
	    db_get(res, 0, "env_sealed") : NULL);
	if (env == NULL) {
		log_error("claim: the env snapshot of deployment %s does not open", dep->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_AddItemToObject(payload, "env", env);
	return add_repo_credentials(r, payload);
}

/*
 * A db.* job's credentials, as the release env of an app.* job: sealed in
 * the database (databases.password_sealed, bound to its id), opened into
 * the claim's answer for the database's own server only: "password", and
 * for db.rotate_password also "new_password" (the one being applied).  A
 * database deleted since (db.remove) has none to add.
 */
static enum err
add_db_passwords(struct req *r, const char *kind, cJSON *payload)
{
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(payload, "database_id");
	const char  *purpose;
	PGresult    *res;
	char        *pw, *next = NULL;
	enum err     e;

	if (!cJSON_IsString(db) || !util_is_uuid(db->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_db, &res, db->valuestring, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_OK;
	if ((purpose = secret_bound_purpose(r, SECRET_DB_PASSWORD, db->valuestring)) == NULL)
		return ERR_INTERNAL;
	pw = secret_open(r, purpose, db_get(res, 0, "password_sealed"), NULL);
	if (strcmp(kind, "db.rotate_password") == 0 && !db_isnull(res, 0, "pending_password_sealed"))
		next = secret_open(r, purpose, db_get(res, 0, "pending_password_sealed"), NULL);
	if (pw == NULL || (strcmp(kind, "db.rotate_password") == 0 && next == NULL)) {
		log_error("claim: the password of database %s does not open", db->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_AddStringToObject(payload, "password", pw);
	if (next != NULL)
		cJSON_AddStringToObject(payload, "new_password", next);
	return ERR_OK;
}

/*
 * A destination object's keys (backup_destinations.credentials_sealed,
 * bound to its id), opened into it: "access_key", "secret_key".  A
 * destination without keys (local), or deleted since, adds nothing.
 */
static enum err
add_destination_keys(struct req *r, cJSON *dest)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(dest, "id");
	const char  *purpose;
	PGresult    *res;
	cJSON       *keys;
	char        *plain;
	enum err     e;

	if (!cJSON_IsString(id) || !util_is_uuid(id->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_dest, &res, id->valuestring)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1 || db_isnull(res, 0, "credentials_sealed"))
		return ERR_OK;
	if ((purpose = secret_bound_purpose(r, SECRET_BACKUP_DESTINATION, id->valuestring)) == NULL)
		return ERR_INTERNAL;
	if ((plain = secret_open(r, purpose, db_get(res, 0, "credentials_sealed"), NULL)) == NULL ||
	    (keys = cJSON_Parse(plain)) == NULL) {
		log_error("claim: the keys of backup destination %s do not open", id->valuestring);
		return ERR_INTERNAL;
	}
	for (const char *const *k = (const char *const[]){"access_key", "secret_key", NULL}; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(keys, *k);

		cJSON_DeleteItemFromObjectCaseSensitive(dest, *k);
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(dest, *k, v->valuestring);
	}
	cJSON_Delete(keys);
	return ERR_OK;
}

/*
 * The secrets of a backup job, never in its stored payload:
 * the destination's keys ("destination", or a restoring db.provision's
 * "restore"."destination", or a db.* job's "pitr" and "pitr_restore"
 * repositories) and the database's password ("database" of
 * backup.run, backup.restore, db.import; add_db_passwords checks that the
 * database is on this server).
 */
static enum err
add_backup_secrets(struct req *r, const char *kind, cJSON *payload)
{
	cJSON   *dest = cJSON_GetObjectItemCaseSensitive(payload, "destination");
	cJSON   *db = cJSON_GetObjectItemCaseSensitive(payload, "database");
	cJSON   *pitr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(payload,
	    "pitr"), "destination");
	cJSON   *src = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(payload, "pitr_restore"), "source"), "destination");
	enum err e;

	/* A pitr database's repository (sql/037): its own, and the one a
	 * point-in-time restore reads (fcgi/agent/pitr.h). */
	if (strncmp(kind, "db.", 3) == 0 &&
	    ((cJSON_IsObject(pitr) && (e = add_destination_keys(r, pitr)) != ERR_OK) ||
	    (cJSON_IsObject(src) && (e = add_destination_keys(r, src)) != ERR_OK)))
		return e;
	if (strncmp(kind, "backup.", 7) != 0 && strcmp(kind, "db.import") != 0 &&
	    strcmp(kind, "db.provision") != 0)
		return ERR_OK;
	if (strcmp(kind, "db.provision") == 0)
		dest = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(payload,
		    "restore"), "destination");
	if (cJSON_IsObject(dest) && (e = add_destination_keys(r, dest)) != ERR_OK)
		return e;
	if (cJSON_IsObject(db) && strcmp(kind, "backup.delete") != 0 &&
	    (e = add_db_passwords(r, kind, db)) != ERR_OK)
		return e;
	return ERR_OK;
}

/*
 * The secrets of a bucket.* or objstore.provision job (sql/053),
 * as a db.* job's password: sealed in the database, opened into the claim's
 * answer for the store's own server only.  "store"."admin_secret_key" (the
 * store's admin secret); objstore.provision's "root_password" (the managed
 * store's, the same secret) and its image through the mirror table;
 * bucket.objects' "access_key" and "secret_key" (the bucket's active key).
 * A store or bucket deleted since adds nothing: the agent fails the job.
 */
static enum err
add_bucket_secrets(struct req *r, const char *kind, cJSON *payload)
{
	cJSON       *store = cJSON_GetObjectItemCaseSensitive(payload, "store");
	bool         prov = strcmp(kind, "objstore.provision") == 0;
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(prov ? payload : store, "store_id");
	const cJSON *bid = cJSON_GetObjectItemCaseSensitive(payload, "bucket_id");
	const char  *purpose;
	PGresult    *res;
	char        *sk;
	enum err     e;

	if (prov)
		map_image(r, payload);
	if (cJSON_IsString(sid) && util_is_uuid(sid->valuestring)) {
		if ((e = db_run(r, &st_claim_store, &res, sid->valuestring, r->who.server_id)) != ERR_OK)
			return e;
		if (PQntuples(res) == 1) {
			if ((purpose = secret_bound_purpose(r, SECRET_BUCKET_STORE, sid->valuestring)) ==
			    NULL)
				return ERR_INTERNAL;
			if ((sk = secret_open(r, purpose, db_get(res, 0, "admin_secret_sealed"), NULL)) ==
			    NULL) {
				log_error("claim: the secret of object store %s does not open", sid->valuestring);
				return ERR_INTERNAL;
			}
			cJSON_AddStringToObject(prov ? payload : store, prov ? "root_password" :
			    "admin_secret_key", sk);
		}
	}
	if (strcmp(kind, "bucket.objects") != 0 || !cJSON_IsString(bid) || !util_is_uuid(bid->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_bucket_key, &res, bid->valuestring, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_OK;
	if ((purpose = secret_bound_purpose(r, SECRET_BUCKET_KEY, bid->valuestring)) == NULL)
		return ERR_INTERNAL;
	if ((sk = secret_open(r, purpose, db_get(res, 0, "secret_sealed"), NULL)) == NULL) {
		log_error("claim: the key of bucket %s does not open", bid->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_AddStringToObject(payload, "access_key", db_get(res, 0, "access_key"));
	cJSON_AddStringToObject(payload, "secret_key", sk);
	return ERR_OK;
}

/*
 * The completion of a bucket job that succeeded, before the job's own row
 * changes: bucket.create's and bucket.rotate's new key
 * {access_key, secret_key} sealed into bucket_keys, bound to the bucket
 * (bucket_key_add, sql/053: a rotation retires the key it replaces); an
 * answer without a key fails the job instead (*status, *error).
 * bucket.objects: next_cursor added to *result when the page was cut (a
 * list.c cursor of GET /buckets/<id>/objects over prefix and the last
 * key).  Other jobs: nothing.
 */
static enum err
bucket_completion(struct req *r, const char *id, const cJSON *result, const char **status,
    const char **error, char **text)
{
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(result, "access_key");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(result, "secret_key");
	const cJSON *objs = cJSON_GetObjectItemCaseSensitive(result, "objects"), *last;
	const char  *purpose, *sealed;
	PGresult    *res;
	cJSON       *copy;
	char        *t;
	enum err     e;

	if (strcmp(*status, "succeeded") != 0 || result == NULL)
		return ERR_OK;
	if ((e = db_run(r, &st_bucket_job, &res, id, r->who.server_id)) != ERR_OK ||
	    PQntuples(res) != 1)
		return e;
	if (strcmp(db_get(res, 0, "kind"), "bucket.objects") == 0) {
		last = cJSON_IsArray(objs) ? cJSON_GetArrayItem(objs, cJSON_GetArraySize(objs) - 1) : NULL;
		last = last ? cJSON_GetObjectItemCaseSensitive(last, "key") : NULL;
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "truncated")) ||
		    !cJSON_IsString(last))
			return ERR_OK;
		if ((copy = cJSON_Duplicate(result, true)) == NULL)
			return ERR_INTERNAL;
		cJSON_AddStringToObject(copy, "next_cursor", list_cursor_new(r, arena_printf(r->a,
		    "/buckets/%s/objects", db_get(res, 0, "bucket_id")), arena_printf(r->a, "%s\n%s",
		    db_isnull(res, 0, "prefix") ? "" : db_get(res, 0, "prefix"), last->valuestring)));
		t = cJSON_PrintUnformatted(copy);
		cJSON_Delete(copy);
		if (t == NULL)
			return ERR_INTERNAL;
		arena_defer(r->a, free, t);
		*text = t;
		return ERR_OK;
	}
	if (!cJSON_IsString(ak) || !cJSON_IsString(sk) || *ak->valuestring == '\0' ||
	    strlen(ak->valuestring) > 63 || *sk->valuestring == '\0') {
		*status = "failed";
		*error = "the object store answered no key";
		return ERR_OK;
	}
	if ((purpose = secret_bound_purpose(r, SECRET_BUCKET_KEY, db_get(res, 0, "bucket_id"))) ==
	    NULL || (sealed = secret_seal(r, purpose, sk->valuestring, strlen(sk->valuestring))) ==
	    NULL)
		return ERR_INTERNAL;
	return db_run(r, &st_bucket_key_add, &res, id, r->who.server_id, ak->valuestring, sealed);
}

/*
 * A registry's address and credentials, as the release env of an app.*
 * job: the password is sealed in the database (registries.password_sealed)
 * and opened into the claim's answer only, never the stored payload.
 * "registry": {type, url, username, password}; for registry.test the
 * payload's registry_id, for an app.* job its application's registry_id
 * (none: nothing added).  A registry deleted since adds nothing: the test
 * then fails with "no such registry".
 */
static enum err
add_registry(struct req *r, const char *kind, cJSON *payload)
{
	bool         test = strcmp(kind, "registry.test") == 0;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, test ? "registry_id" : "app_id");
	PGresult    *res;
	cJSON       *o;
	char        *pw = NULL;
	enum err     e;

	if (!cJSON_IsString(id) || !util_is_uuid(id->valuestring))
		return ERR_OK;
	e = test ? db_run(r, &st_claim_registry, &res, id->valuestring) :
	    db_run(r, &st_app_registry, &res, id->valuestring, r->who.server_id);
	if (e != ERR_OK || PQntuples(res) != 1)
		return e;
	if (!db_isnull(res, 0, "password_sealed") && (pw = secret_open(r, SECRET_REGISTRY_PASSWORD,
	    db_get(res, 0, "password_sealed"), NULL)) == NULL) {
		log_error("claim: the password of a registry (%s %s) does not open", kind,
		    id->valuestring);
		return ERR_INTERNAL;
	}
	o = cJSON_AddObjectToObject(payload, "registry");
	cJSON_AddStringToObject(o, "type", db_get(res, 0, "type"));
	cJSON_AddStringToObject(o, "url", db_get(res, 0, "url"));
	if (!db_isnull(res, 0, "username"))
		cJSON_AddStringToObject(o, "username", db_get(res, 0, "username"));
	if (pw != NULL)
		cJSON_AddStringToObject(o, "password", pw);
	return test ? ERR_OK : add_release_image(r, id->valuestring, payload);
}

/*
 * A release (rollback, scale, start) of an application with a registry:
 * source.image = the reference its deployment pulled or pushed, so that a
 * server without the image pulls it from there (image.c) rather than
 * failing.
 */
static enum err
add_release_image(struct req *r, const char *app, cJSON *payload)
{
	cJSON       *src = cJSON_GetObjectItemCaseSensitive(payload, "source");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(src, "type");
	const cJSON *iid = cJSON_GetObjectItemCaseSensitive(src, "image_id");
	PGresult    *res;
	enum err     e;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "release") != 0 || !cJSON_IsString(iid))
		return ERR_OK;
	if ((e = db_run(r, &st_release_image, &res, app, iid->valuestring)) != ERR_OK ||
	    PQntuples(res) != 1)
		return e;
	cJSON_DeleteItemFromObjectCaseSensitive(src, "image");
	cJSON_AddStringToObject(src, "image", db_get(res, 0, "image"));
	return ERR_OK;
}

/*
 * The application's mounts as they are when the job starts (volume.h):
 * "volumes": [{volume_id, mount_path, mode, size_limit}].
 */
static enum err
add_volumes(struct req *r, cJSON *payload)
{
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(payload, "app_id");
	PGresult    *res;
	enum err     e;

	if (!cJSON_IsString(app) || !util_is_uuid(app->valuestring))
		return ERR_OK;
	if ((e = db_run(r, &st_claim_volumes, &res, app->valuestring)) != ERR_OK)
		return e;
	cJSON_AddItemToObject(payload, "volumes", cJSON_Parse(db_get(res, 0, "volumes")));
	return ERR_OK;
}

/*
 * A git source's credentials: those its URL had (sealed apart from the URL,
 * applications.c), else its git provider's user and token (sql/028).  They
 * go into the URL only here, in the claim's answer; the agent takes them
 * out again and hands them to git through GIT_ASKPASS, never argv: one
 * mechanism for both.
 */
static enum err
add_repo_credentials(struct req *r, cJSON *payload)
{
	cJSON       *src = cJSON_GetObjectItemCaseSensitive(payload, "source");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(src, "type");
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(src, "repository_url");
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(payload, "app_id");
	const char  *sep;
	PGresult    *res;
	char        *cred;
	enum err     e;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "git") != 0 || !cJSON_IsString(url) ||
	    !cJSON_IsString(app) || !util_is_uuid(app->valuestring) ||
	    (sep = strstr(url->valuestring, "://")) == NULL)
		return ERR_OK;
	if ((e = db_run(r, &st_repo_cred, &res, app->valuestring, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return ERR_OK;
	if (!db_isnull(res, 0, "repository_credential_sealed"))
		cred = secret_open(r, SECRET_APP_REPO_CREDENTIAL,
		    db_get(res, 0, "repository_credential_sealed"), NULL);
	else if ((cred = secret_open(r, SECRET_GIT_PROVIDER_TOKEN, db_get(res, 0, "token_sealed"),
	    NULL)) != NULL)
		cred = arena_printf(r->a, "%s:%s", git_token_user(db_get(res, 0, "type"),
		    db_isnull(res, 0, "username") ? NULL : db_get(res, 0, "username")), cred);
	if (cred == NULL) {
		log_error("claim: the repository credentials of application %s do not open",
		    app->valuestring);
		return ERR_INTERNAL;
	}
	cJSON_ReplaceItemInObject(src, "repository_url", cJSON_CreateString(arena_printf(r->a,
	    "%.*s%s@%s", (int)(sep + 3 - url->valuestring), url->valuestring, cred, sep + 3)));
	return ERR_OK;
}

/* A job id of the URL that matched nothing running: 404 (not ours) or 409. */
static enum err
not_running(struct req *r, const char *id)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_state, &res, id, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "job not found");
	return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the job is %s, not running",
	    db_get(res, 0, "status")));
}

static enum err
lease(struct req *r)
{
	const char *id = http_param(r, "jobId");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_lease, &res, id, r->who.server_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return not_running(r, id);
	return http_respond_row(r, 200, res, 0);
}

static const char *
check_lines(const cJSON *v)
{
	for (const cJSON *it = v->child; it; it = it->next)
		if (strlen(it->valuestring) > MAX_LINE)
			return "each line must be at most 4096 bytes";
	return NULL;
}

static const char *const phases[] = {"verifying", NULL};

static const struct field progress_fields[] = {
	{"lines", F_STRINGS, false, false, 1, MAX_LINES, check_lines},
	/* A backup.run reading its object back (sql/035: the backup shows verifying). */
	{"phase", F_ENUM, false, false, 0, 0, NULL, .options = phases},
};

static void
progress_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (!v[0].present && !v[1].present)
		json_detail(details, "lines", "is required (or phase)");
}

static enum err
progress(struct req *r)
{
	const char      *id = http_param(r, "jobId");
	struct field_val v[2];
	PGresult        *res;
	char            *lines;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, progress_fields, v, progress_rule)) != ERR_OK)
		return e;
	if (v[1].present) {
		if ((e = db_run(r, &st_phase, &res, id, r->who.server_id, v[1].s)) != ERR_OK)
			return e;
		if (strcmp(db_get(res, 0, "running"), "t") != 0)
			return not_running(r, id);
	}
	if (v[0].present) {
		lines = cJSON_PrintUnformatted(v[0].node);
		arena_defer(r->a, free, lines);
		if ((e = db_run(r, &st_progress, &res, id, r->who.server_id, lines)) != ERR_OK)
			return e;
		if (strcmp(PQcmdTuples(res), "0") == 0)
			return not_running(r, id);
	}
	return http_no_content(r);
}

/*
 * A finished db.import's staged upload goes (a job ended otherwise, by its
 * lease or deadline, leaves it to launcher-backup's sweep of imports_dir).
 */
static void
import_done(struct req *r, PGresult *res)
{
	const char *f = db_isnull(res, 0, "_upload") ? NULL :
	    backups_import_file(r, db_get(res, 0, "_upload"));

	if (f != NULL && unlink(f) != 0 && errno != ENOENT)
		log_error("import: unlink %s: %s", f, strerror(errno));
}

static const char *
check_final(const cJSON *v)
{
	return strcmp(v->valuestring, "succeeded") == 0 || strcmp(v->valuestring, "failed") == 0 ?
	    NULL : "must be succeeded or failed";
}

static const struct field complete_fields[] = {
	{"status", F_STRING, true, false, 1, 16, check_final},
	{"result", F_OBJECT, false, true, 0, 0, NULL},
	{"error", F_STRING, false, true, 0, 8192, NULL},
};

static enum err
complete(struct req *r)
{
	const char      *id = http_param(r, "jobId");
	struct field_val v[3];
	PGresult        *res;
	char            *result = NULL;
	const char      *sealed = NULL;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, complete_fields, v)) != ERR_OK)
		return e;
	if (v[1].present) {
		result = cJSON_PrintUnformatted(v[1].node);
		arena_defer(r->a, free, result);
		if ((e = bucket_completion(r, id, v[1].node, &v[0].s, &v[2].s, &result)) != ERR_OK)
			return e;
		if ((e = db_run(r, &st_kind, &res, id, r->who.server_id)) != ERR_OK)
			return e;
		if (PQntuples(res) == 1 && job_kind(db_get(res, 0, "kind"))->sealed) {
			if ((sealed = secret_seal(r, SECRET_JOB_RESULT, result, strlen(result))) == NULL)
				return ERR_INTERNAL;
			sodium_memzero(result, strlen(result));
			result = NULL;
		}
	}
	e = db_run(r, &st_complete, &res, id, r->who.server_id, v[0].s, result, v[2].s, sealed);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return not_running(r, id);
	if (strcmp(db_get(res, 0, "kind"), "db.import") == 0)
		import_done(r, res);
	return http_respond_row(r, 200, res, 0);
}

/*
 * GET /agent/imports/:jobId: the staged upload of this server's running
 * db.import, served by nginx from imports_dir (X-Accel-Redirect to its
 * internal location /.lnchr-imports/, conf/nginx/locations.conf.in).
 */
static enum err
import_file(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_import_upload, &res, http_param(r, "jobId"), r->who.server_id)) !=
	    ERR_OK)
		return e;
	if (db_isnull(res, 0, "upload_id"))
		return http_error(r, ERR_NOT_FOUND, "no running import job of this server with this id");
	http_add_header(r, "X-Accel-Redirect", arena_printf(r->a, "/.lnchr-imports/%s",
	    db_get(res, 0, "upload_id")));
	return http_respond_raw(r, 200, "application/octet-stream", "", 0);
}

#define MAX_REPORT_ITEMS 10000

/* The item fields every report names; the rest of an item is read by SQL. */
static const struct field instance_item[] = {
	{"container_id", F_STRING, true, false, 1, 128, NULL},
};
static const struct field instance_report[] = {
	{"instances", F_ARRAY, true, false, 0, MAX_REPORT_ITEMS, NULL, FIELD_SUB(instance_item)},
};

/* POST /agent/instances {"instances": [...]}: the server's containers. */
static enum err
report_instances(struct req *r)
{
	struct field_val v[1];
	const cJSON     *list;
	PGresult        *res;
	char            *text;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, instance_report, v)) != ERR_OK)
		return e;
	list = v[0].node;
	text = cJSON_PrintUnformatted(list);
	arena_defer(r->a, free, text);
	/* One server's agent speaks only for the applications placed on it. */
	if ((e = db_run(r, &st_instances_foreign, &res, r->who.server_id, text)) != ERR_OK)
		return e;
	if (PQntuples(res) > 0)
		return http_field_error(r, "invalid request body",
		    arena_printf(r->a, "instances[%s].app_id", db_get(res, 0, "idx")),
		    arena_printf(r->a, "application %s is not placed on this server",
		    db_get(res, 0, "id")));
	if ((e = db_run(r, &st_instances, &res, r->who.server_id, text)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

static const struct field volume_item[] = {
	{"volume_id", F_UUID, true, false, 0, 0, NULL},
	{"used_bytes", F_INT, true, false, 0, INT64_MAX, NULL},
};
static const struct field volume_report[] = {
	{"volumes", F_ARRAY, true, false, 0, MAX_REPORT_ITEMS, NULL, FIELD_SUB(volume_item)},
};

/* POST /agent/volumes {"volumes": [{volume_id, used_bytes}]}: what the
 * engine says this server's volumes hold (see report.h). */
static enum err
report_volumes(struct req *r)
{
	struct field_val v[1];
	PGresult        *res;
	char            *text;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, volume_report, v)) != ERR_OK)
		return e;
	text = cJSON_PrintUnformatted(v[0].node);
	arena_defer(r->a, free, text);
	if ((e = db_run(r, &st_volumes, &res, r->who.server_id, text)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

/* Enough for a 15 minutes' backlog of a host in one batch, and a few
 * hundred containers' per batch (the agent sends METRICS_BATCH, metrics.h). */
#define MAX_METRIC_POINTS 5000

/*
 * A point's ts must lie within [now - 25 h, now + 5 min]: older than the
 * 10 s points' 24 h (and the agent's queue) is of no use, and a row in the
 * future would never expire.  NULL, or the message for sub "ts".
 */
#define POINT_PAST_S   (25 * 3600)
#define POINT_FUTURE_S 300

static const char *
check_point_ts(const cJSON *item, const char **sub)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(item, "ts");
	double       t, now = (double)time(NULL);

	*sub = "ts";
	if (!cJSON_IsString(ts) || !json_time_epoch(ts->valuestring, &t))
		return "must be an RFC 3339 timestamp";
	if (t < now - POINT_PAST_S)
		return "must be within the last 25 hours";
	if (t > now + POINT_FUTURE_S)
		return "must be at most 5 minutes ahead of the plane's clock";
	return NULL;
}

static const char *
check_metric_point(const cJSON *item, const cJSON *array, const char **sub)
{
	(void)array;
	return check_point_ts(item, sub);
}

static const struct field host_point[] = {
	{"ts", F_TIME, true, false, 0, 0, NULL},
	{"cpu_percent", F_NUMBER, false, true, 0, 100, NULL},
	{"memory_used_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"memory_total_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"disk_used_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"disk_total_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"load1", F_NUMBER, false, true, 0, 1000000, NULL},
	{"net_rx_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"net_tx_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
};
static const struct field container_point[] = {
	{"ts", F_TIME, true, false, 0, 0, NULL},
	{"app_id", F_UUID, true, false, 0, 0, NULL},
	{"instance_id", F_STRING, true, false, 1, 255, NULL},
	{"cpu_percent", F_NUMBER, false, true, 0, 100000, NULL},
	{"memory_bytes", F_INT, false, true, 0, INT64_MAX / 2, NULL},
	{"restarts", F_INT, false, true, 0, INT32_MAX, NULL},
};
static const struct field metrics_report[] = {
	{"host", F_ARRAY, false, false, 0, MAX_METRIC_POINTS, NULL, FIELD_SUB(host_point),
	    .item_check = check_metric_point},
	{"containers", F_ARRAY, false, false, 0, MAX_METRIC_POINTS, NULL, FIELD_SUB(container_point),
	    .item_check = check_metric_point},
};

/* POST /agent/metrics {"host": [...], "containers": [...]}: answers how
 * many points were new (a resent one is accepted and not counted). */
static enum err
report_metrics(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	char            *host, *ctrs;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, metrics_report, v)) != ERR_OK)
		return e;
	host = v[0].present ? cJSON_PrintUnformatted(v[0].node) : strdup("[]");
	ctrs = v[1].present ? cJSON_PrintUnformatted(v[1].node) : strdup("[]");
	arena_defer(r->a, free, host);
	arena_defer(r->a, free, ctrs);
	if (host == NULL || ctrs == NULL)
		return http_error(r, ERR_INTERNAL, "out of memory");
	if ((e = db_run(r, &st_metrics, &res, r->who.server_id, host, ctrs)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

#define MAX_LOG_ENTRIES 500

/*
 * v into secrets unless shorter than REDACT_MIN_LEN (core/redact.h); for
 * a URL with credentials ("scheme://user:password@", a ${db.x.url}) its
 * password as well, which a line may show alone.
 */
static void
secret_add(struct req *r, cJSON *secrets, const char *v)
{
	size_t n = strlen(v) + 1;
	char  *url = arena_alloc(r->a, n), *cred = arena_alloc(r->a, n), *colon;

	if (n - 1 < REDACT_MIN_LEN)
		return;
	cJSON_AddItemToArray(secrets, cJSON_CreateString(v));
	if (util_url_split_cred(v, url, n, cred, n) == 0 && (colon = strchr(cred, ':')) != NULL &&
	    strlen(colon + 1) >= REDACT_MIN_LEN)
		cJSON_AddItemToArray(secrets, cJSON_CreateString(colon + 1));
}

/*
 * The values of the releases a batch names (their env snapshots: every
 * variable with its references resolved), of the env of the functions it
 * names and the passwords of the databases it names, in secrets.
 */
static enum err
log_secrets(struct req *r, const char *entries, cJSON *secrets)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_log_envs, &res, entries, r->who.server_id)) != ERR_OK)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *env = apps_env_open(r, PQgetvalue(res, i, 0));

		for (const cJSON *v = env ? env->child : NULL; v; v = v->next)
			if (cJSON_IsString(v))
				secret_add(r, secrets, v->valuestring);
		cJSON_Delete(env);
	}
	if ((e = db_run(r, &st_log_dbs, &res, entries, r->who.server_id)) != ERR_OK)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *p = secret_bound_purpose(r, SECRET_DB_PASSWORD, db_get(res, i, "id"));
		char       *pw = p ? secret_open(r, p, db_get(res, i, "password_sealed"), NULL) : NULL;

		if (pw != NULL)
			secret_add(r, secrets, pw);
	}
	return ERR_OK;
}

/* Every message of list redacted of the values in secrets, one pass per line
 * (a match of >= REDACT_MIN_LEN bytes becomes 10: 2x + 11 is room enough, and
 * a cut would only shorten text already redacted). */
static void
redact_messages(struct req *r, cJSON *list, const cJSON *secrets)
{
	const char **vals = arena_alloc(r->a, (size_t)cJSON_GetArraySize(secrets) * sizeof(*vals));
	size_t       n = 0;

	for (const cJSON *v = secrets->child; v; v = v->next)
		vals[n++] = v->valuestring;
	for (cJSON *it = list->child; it; it = it->next) {
		cJSON      *m = cJSON_GetObjectItemCaseSensitive(it, "message");
		size_t      room = 2 * strlen(m->valuestring) + sizeof(REDACTED);
		char       *out = arena_alloc(r->a, room);

		(void)redact(vals, n, false, m->valuestring, out, room);
		cJSON_SetValuestring(m, out);
	}
}

static const char *const log_streams[] = {"stdout", "stderr", NULL};
static const struct field log_item[] = {
	{"container_id", F_STRING, true, false, 1, 128, NULL},
	{"message", F_STRING, true, false, 0, MAX_LINE, NULL},
	{"timestamp", F_TIME, true, false, 0, 0, NULL},
	{"stream", F_ENUM, true, false, 0, 0, NULL, .options = log_streams},
};
static const struct field log_report[] = {
	{"entries", F_ARRAY, true, false, 0, MAX_LOG_ENTRIES, NULL, FIELD_SUB(log_item)},
};

/* POST /agent/logs {"entries": [...]}: runtime log lines, redacted here. */
static enum err
report_logs(struct req *r)
{
	struct field_val v[1];
	cJSON           *list, *secrets;
	PGresult        *res;
	char            *text;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, log_report, v)) != ERR_OK)
		return e;
	list = (cJSON *)v[0].node;
	text = cJSON_PrintUnformatted(list);
	arena_defer(r->a, free, text);
	secrets = cJSON_CreateArray();
	if ((e = log_secrets(r, text, secrets)) != ERR_OK) {
		cJSON_Delete(secrets);
		return e;
	}
	if (cJSON_GetArraySize(secrets) > 0) {
		redact_messages(r, list, secrets);
		text = cJSON_PrintUnformatted(list);
		arena_defer(r->a, free, text);
	}
	cJSON_Delete(secrets);
	if ((e = db_run(r, &st_logs, &res, text, r->who.server_id)) != ERR_OK)
		return e;
	return http_no_content(r);
}

/* ------------------------------------------------------------ traffic */

#define MAX_TRAFFIC_POINTS 2000
#define TRAFFIC_BUCKETS    118	/* sql/039_traffic.sql, fcgi/agent/traffic.h */

DB_STMT st_traffic = {"agent_traffic", "SELECT agent_traffic($1::uuid, $2::jsonb) AS stored"};

/* latency_hist: at most TRAFFIC_BUCKETS counts that add up to requests. */
static const char *
check_traffic_point(const cJSON *item, const cJSON *array, const char **sub)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(item, "latency_hist");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "requests");
	double       sum = 0;
	const char  *m;

	(void)array;
	if ((m = check_point_ts(item, sub)) != NULL)
		return m;
	*sub = "latency_hist";
	if (!cJSON_IsArray(h) || cJSON_GetArraySize(h) > TRAFFIC_BUCKETS)
		return "must be an array of at most 118 counts";
	for (const cJSON *c = h->child; c != NULL; c = c->next) {
		if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > INT32_MAX ||
		    c->valuedouble != (double)(int64_t)c->valuedouble)
			return "each count must be an integer from 0 to 2147483647";
		sum += c->valuedouble;
	}
	if (sum != n->valuedouble)
		return "the counts must add up to requests";
	return NULL;
}

static const struct field traffic_item[] = {
	{"app_id", F_UUID, true, false, 0, 0, NULL},
	{"ts", F_TIME, true, false, 0, 0, NULL},
	{"requests", F_INT, true, false, 0, INT32_MAX, NULL},
	{"status_2xx", F_INT, true, false, 0, INT32_MAX, NULL},
	{"status_3xx", F_INT, true, false, 0, INT32_MAX, NULL},
	{"status_4xx", F_INT, true, false, 0, INT32_MAX, NULL},
	{"status_5xx", F_INT, true, false, 0, INT32_MAX, NULL},
	{"bytes_out", F_INT, true, false, 0, INT64_MAX / 2, NULL},
};
static const struct field traffic_report[] = {
	{"points", F_ARRAY, true, false, 0, MAX_TRAFFIC_POINTS, NULL, FIELD_SUB(traffic_item),
	    .item_check = check_traffic_point},
};

/*
 * POST /agent/traffic {"points": [...]}: 10-second traffic points of the
 * applications placed on this server (sql/039_traffic.sql agent_traffic;
 * idempotent on application, server and ts: the agent resends a batch
 * until it is acknowledged).  Answers {"stored": n}.
 */
static enum err
report_traffic(struct req *r)
{
	struct field_val v[1];
	PGresult        *res;
	char            *text;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, traffic_report, v)) != ERR_OK)
		return e;
	text = cJSON_PrintUnformatted(v[0].node);
	arena_defer(r->a, free, text);
	if ((e = db_run(r, &st_traffic, &res, r->who.server_id, text)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

const struct route api_agent_routes[] = {
	{.methods = HTTP_POST, .pattern = "/agent/heartbeat", .fn = heartbeat, .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/jobs/claim", .fn = claim, .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/jobs/:jobId/lease", .fn = lease, .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/jobs/:jobId/progress", .fn = progress,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/jobs/:jobId/complete", .fn = complete,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/instances", .fn = report_instances,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/logs", .fn = report_logs, .flags = ROUTE_AGENT},
	{.methods = HTTP_GET, .pattern = "/agent/imports/:jobId", .fn = import_file,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/volumes", .fn = report_volumes,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/metrics", .fn = report_metrics,
	    .flags = ROUTE_AGENT},
	{.methods = HTTP_POST, .pattern = "/agent/traffic", .fn = report_traffic,
	    .flags = ROUTE_AGENT},
	{0},
};
