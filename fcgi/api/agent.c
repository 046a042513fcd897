/*
 * agent.c - the agent API (API.md §3, "Agent API"): heartbeat, job claim,
 * lease renewal, progress lines, completion.  Authenticated by the agent
 * token (x-lnchr-agent-token), which names one server; an agent reaches
 * only its own server's jobs, in its own tenant (RLS).
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/util.h"
#include "../core/worker.h"

#define MAX_LINES 100
#define MAX_LINE 4096

/* Facts, status and one metrics point in one statement. */
static const struct db_stmt st_heartbeat = {"agent_heartbeat",
    "WITH s AS (UPDATE servers SET"
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
    " WHERE id = $1::uuid RETURNING id, status, heartbeat_interval_seconds),"
    " m AS (INSERT INTO server_metrics (server_id, cpu_percent, memory_used_bytes,"
    " memory_total_bytes, disk_used_bytes, disk_total_bytes, load1, net_rx_bytes, net_tx_bytes)"
    " SELECT id, ($2::jsonb->'host'->>'cpu_percent')::float8,"
    " ($2::jsonb->'host'->>'memory_used_bytes')::bigint, ($2::jsonb->'host'->>'memory_total_bytes')::bigint,"
    " ($2::jsonb->'host'->>'disk_used_bytes')::bigint, ($2::jsonb->'host'->>'disk_total_bytes')::bigint,"
    " ($2::jsonb->'host'->>'load1')::float8, ($2::jsonb->'host'->>'net_rx_bytes')::bigint,"
    " ($2::jsonb->'host'->>'net_tx_bytes')::bigint FROM s)"
    " SELECT id AS server_id, status, heartbeat_interval_seconds, 1000 AS poll_interval_ms,"
    " now() AS plane_time FROM s"};
static const struct db_stmt st_claim = {"agent_claim",
    "SELECT id, kind, payload, attempts AS attempt, lease_seconds, deadline_at, now() AS plane_time"
    " FROM job_claim($1::uuid)"};
static const struct db_stmt st_lease = {"agent_lease",
    "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => lease_seconds)"
    " WHERE id = $1::uuid AND server_id = $2::uuid AND status = 'running'"
    " RETURNING lease_expires_at"};
static const struct db_stmt st_state = {"agent_job_state",
    "SELECT status FROM jobs WHERE id = $1::uuid AND server_id = $2::uuid"};
static const struct db_stmt st_progress = {"agent_progress",
    "INSERT INTO job_logs (job_id, line) SELECT j.id, l.line"
    " FROM jobs j, jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS l(line, n)"
    " WHERE j.id = $1::uuid AND j.server_id = $2::uuid AND j.status = 'running' ORDER BY l.n"};
static const struct db_stmt st_complete = {"agent_complete",
    "UPDATE jobs SET status = $3, result = $4::jsonb, error = $5, finished_at = now(),"
    " lease_expires_at = NULL WHERE id = $1::uuid AND server_id = $2::uuid AND status = 'running'"
    " RETURNING id, kind"};

static const char *
check_nonneg(const cJSON *v)
{
	return v->valuedouble < 0 ? "must not be negative" : NULL;
}

static const struct field heartbeat_fields[] = {
	{"agent_version", F_STRING, true, false, 1, 64, NULL},
	{"interval_seconds", F_INT, false, false, 1, 3600, NULL},
	{"time", F_TIME, false, false, 0, 0, NULL},
	{"engine", F_OBJECT, true, false, 0, 0, NULL},
	{"host", F_OBJECT, true, false, 0, 0, NULL},
};

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

static enum err
heartbeat(struct req *r)
{
	struct field_val v[5], ev[9], hv[13];
	PGresult        *res;
	cJSON           *saved = r->json;
	char            *body;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, heartbeat_fields, v)) != ERR_OK)
		return e;
	/* The nested objects are validated with their own tables, field names
	 * prefixed in the details. */
	saved = r->json;
	r->json = (cJSON *)v[3].node;
	e = json_fields_prefixed(r, "engine.", engine_fields,
	    sizeof(engine_fields) / sizeof(*engine_fields), ev);
	if (e == ERR_OK) {
		r->json = (cJSON *)v[4].node;
		e = json_fields_prefixed(r, "host.", host_fields,
		    sizeof(host_fields) / sizeof(*host_fields), hv);
	}
	r->json = saved;
	if (e != ERR_OK)
		return e;
	body = cJSON_PrintUnformatted(r->json);
	arena_defer(r->a, free, body);
	if ((e = db_run(r, &st_heartbeat, &res, r->who.server_id, body)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "server not found");
	return http_respond_row(r, 200, res, 0);
}

static enum err
claim(struct req *r)
{
	PGresult *res;
	cJSON    *d;
	enum err  e;

	if ((e = db_run(r, &st_claim, &res, r->who.server_id)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "job", PQntuples(res) == 1 ? json_row(res, 0) : cJSON_CreateNull());
	return http_respond_json(r, 200, d, NULL);
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

static const char *
job_id(struct req *r)
{
	const char *id = http_param(r, "jobId");

	return util_is_uuid(id) ? id : NULL;
}

static enum err
lease(struct req *r)
{
	const char *id = job_id(r);
	PGresult   *res;
	enum err    e;

	if (id == NULL)
		return http_error(r, ERR_NOT_FOUND, "job not found");
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

static const struct field progress_fields[] = {
	{"lines", F_STRINGS, true, false, 1, MAX_LINES, check_lines},
};

static enum err
progress(struct req *r)
{
	const char      *id = job_id(r);
	struct field_val v[1];
	PGresult        *res;
	char            *lines;
	enum err         e;

	if (id == NULL)
		return http_error(r, ERR_NOT_FOUND, "job not found");
	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, progress_fields, v)) != ERR_OK)
		return e;
	lines = cJSON_PrintUnformatted(v[0].node);
	arena_defer(r->a, free, lines);
	if ((e = db_run(r, &st_progress, &res, id, r->who.server_id, lines)) != ERR_OK)
		return e;
	if (strcmp(PQcmdTuples(res), "0") == 0)
		return not_running(r, id);
	return http_no_content(r);
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
	const char      *id = job_id(r);
	struct field_val v[3];
	PGresult        *res;
	char            *result = NULL;
	enum err         e;

	if (id == NULL)
		return http_error(r, ERR_NOT_FOUND, "job not found");
	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, complete_fields, v)) != ERR_OK)
		return e;
	if (v[1].present) {
		result = cJSON_PrintUnformatted(v[1].node);
		arena_defer(r->a, free, result);
	}
	e = db_run(r, &st_complete, &res, id, r->who.server_id, v[0].s, result, v[2].s);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return not_running(r, id);
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
	{0},
};
