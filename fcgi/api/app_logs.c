/*
 * app_logs.c - API.md §4 what an application says and runs: runtime logs
 * (shipped by the agent), build logs (its deployments' job lines), and
 * exec, which answers 202 with a job resource to read later (README "Long calls").
 */
#include "api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "apps_common.h"

DB_STMT st_runtime_logs = {"apps_runtime_logs", RUNTIME_LOGS_SQL("application_id")};
DB_STMT st_build_logs = {"apps_build_logs",
    "SELECT t.timestamp, t.message FROM (SELECT l.id, l.created_at AS timestamp, l.line AS message"
    " FROM deployments d JOIN job_logs l ON l.job_id = d.job_id"
    " WHERE d.application_id = $1::uuid AND d.id = coalesce($2::uuid, (SELECT id FROM deployments"
    "  WHERE application_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT 1))"
    " ORDER BY l.id DESC LIMIT $3::int) t ORDER BY id"};

/* ------------------------------------------------------------ logs */

/* ?name= as an RFC 3339 time into *out (NULL when absent or empty); 400
 * naming it otherwise. */
static enum err
api_time_query(struct req *r, const char *name, const char **out)
{
	*out = http_query(r, name);
	if (*out != NULL && **out == '\0')
		*out = NULL;
	if (*out != NULL && !json_is_time(*out))
		return http_field_error(r, "invalid query parameter", name,
		    "must be an RFC 3339 time like 2024-01-15T10:30:00Z");
	return ERR_OK;
}

enum err
runtime_logs_answer(struct req *r, const struct db_stmt *st)
{
	const char *since, *until, *inst = http_query(r, "instance"), *stream = http_query(r, "stream");
	const char *q = http_query(r, "q");
	int64_t     limit;
	PGresult   *res;
	enum err    e;

	if ((e = api_time_query(r, "since", &since)) != ERR_OK ||
	    (e = api_time_query(r, "until", &until)) != ERR_OK || (e = http_limit(r, &limit)) != ERR_OK)
		return e;
	if (stream != NULL && *stream && strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0)
		return http_field_error(r, "invalid query parameter", "stream",
		    "must be stdout or stderr");
	e = db_run(r, st, &res, http_param(r, "id"), since, until,
	    arena_printf(r->a, "%lld", (long long)limit), inst && *inst ? inst : NULL,
	    stream && *stream ? stream : NULL, q && *q ? q : NULL);
	if (e != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

static enum err
runtime_logs(struct req *r)
{
	return runtime_logs_answer(r, &st_runtime_logs);
}

static enum err
build_logs(struct req *r)
{
	const char *dep = http_query(r, "deploymentId"), *tail;
	PGresult   *res;
	enum err    e;

	if ((e = http_tail(r, &tail)) != ERR_OK)
		return e;
	if (dep != NULL && *dep == '\0')
		dep = NULL;
	if (dep != NULL && !util_is_uuid(dep))
		return http_field_error(r, "invalid query parameter", "deploymentId", "must be a UUID");
	if ((e = db_run(r, &st_build_logs, &res, http_param(r, "id"), dep, tail)) != ERR_OK)
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

/*
 * How long a command may run when the call does not say: a job waits for
 * it, not a pool worker, so a migration or a test run fits (the job kind's
 * deadline, 660 s, bounds the most a call may ask: 600).
 */
#define EXEC_DEFAULT_TIMEOUT 300

static const struct field exec_fields[] = {
	{"command", F_STRINGS, true, false, 1, 64, check_command},
	{"timeout_seconds", F_INT, false, false, 1, 600, NULL},
};

/* The longest ?wait= of exec (seconds): a command that runs longer is polled. */
#define EXEC_WAIT_MAX 60

/*
 * Queues app.exec and answers 202 with the job at once (README "Long
 * calls"): the agent runs the command, the caller polls GET /jobs/:id
 * until the status is terminal and reads result.exit_code and
 * result.output there.  No pool worker waits for the agent.  With
 * ?wait=<seconds> (1..60) the call answers the result itself once the
 * job ends (job_respond_wait: launcher-ws waits, not this worker), or the
 * same 202 when the seconds pass first.
 */
static enum err
exec_cmd(struct req *r)
{
	struct field_val v[2];
	const char      *job, *w = http_query(r, "wait");
	int64_t          wait = 0;
	char            *extra;
	cJSON           *o;
	enum err         e;

	if (w != NULL && util_parse_i64(w, 0, EXEC_WAIT_MAX, &wait) != 0)
		return http_field_error(r, "invalid query parameter", "wait",
		    "must be an integer from 0 to 60 (seconds)");
	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, exec_fields, v)) != ERR_OK ||
	    (e = apps_host_guard(r, http_param(r, "id"), NULL)) != ERR_OK)
		return e;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "command", cJSON_Duplicate(v[0].node, true));
	cJSON_AddNumberToObject(o, "timeout_seconds",
	    (double)(v[1].present ? v[1].i : EXEC_DEFAULT_TIMEOUT));
	extra = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	e = apps_action(r, "app.exec", NULL, extra, &job);
	cJSON_free(extra);
	if (e != ERR_OK)
		return e;
	return job_respond_wait(r, job, (int)wait, 200);
}

const struct route api_app_log_routes[] = {
	APPS_ROUTE(HTTP_GET, "/applications/:id/runtime-logs", runtime_logs, CAP_DEPLOY, NULL),
	APPS_ROUTE(HTTP_GET, "/applications/:id/build-logs", build_logs, CAP_DEPLOY, NULL),
	/* Write, as revealing env values: a command can print the environment. */
	APPS_ROUTE(HTTP_POST, "/applications/:id/exec", exec_cmd, CAP_WRITE, "application.exec"),
	{0},
};
