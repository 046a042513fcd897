/*
 * deployments.c - API.md §11: list, get, logs, cancel.  Deployments are
 * created by applications.c (deploy, rollback) through api_deploy() and
 * moved by the app_job_finished trigger as their jobs end.
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "apps_common.h"

#define DEP_COLS "d.id, d.application_id, d.project_id, d.environment_id, d.server_id, d.status," \
	" d.trigger, d.commit_sha, d.commit_message, d.commit_author, d.branch, d.image, d.image_digest, d.strategy," \
	" d.strategy_reason, d.replicas, d.rollback_of," \
	" CASE WHEN d.status = 'queued' THEN 1 END AS queue_position, d.error, d.created_by," \
	" d.created_at, d.started_at, d.finished_at," \
	" (extract(epoch FROM d.finished_at - d.started_at) * 1000)::bigint AS duration_ms"

DB_STMT st_get = {"deps_get",
    "SELECT " DEP_COLS " FROM deployments d WHERE d.id = $1::uuid"};
DB_STMT st_project = {"deps_project",
    "SELECT project_id FROM deployments WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, ?projectId, ?applicationId, ?status. */
DB_STMT st_list = {"deps_list",
    "SELECT " DEP_COLS " FROM deployments d"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = d.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR d.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR d.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR d.application_id = $8::uuid)"
    " AND ($9::text IS NULL OR d.status = $9)" LIST_TAIL("d.")};
DB_STMT st_logs = {"deps_logs",
    "SELECT t.timestamp, t.message FROM (SELECT l.id, l.created_at AS timestamp, l.line AS message"
    " FROM deployments d JOIN job_logs l ON l.job_id = d.job_id WHERE d.id = $1::uuid"
    " ORDER BY l.id DESC LIMIT $2::int) t ORDER BY id"};
DB_STMT st_cancel_queued = {"deps_cancel_queued",
    "UPDATE deployments SET status = 'cancelled', finished_at = now(), error = 'cancelled by '"
    " || $2 WHERE id = $1::uuid AND status = 'queued' RETURNING id"};
/* A running one: cancelling its job moves the deployment (trigger). */
/* Not once the agent said it switches traffic: from then on it completes. */
DB_STMT st_cancel_running = {"deps_cancel_running",
    "SELECT job_cancel(d.job_id, 'cancelled by ' || $2) AS status FROM deployments d"
    " WHERE d.id = $1::uuid AND d.status IN ('building', 'deploying') AND d.job_id IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM job_logs l WHERE l.job_id = d.job_id"
    "  AND l.line LIKE 'switching traffic%')"};

static const char *
project_of(struct req *r)
{
	return db_project_of(r, &st_project, "deployment");
}

enum err
apps_respond_deployment(struct req *r, const char *id, int status)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_get, &res, "deployment not found", id)) != ERR_OK)
		return e;
	return http_respond_row(r, status, res, 0);
}

static const char *const statuses[] = {"queued", "building", "deploying", "succeeded", "failed",
	"cancelled", "superseded", NULL};

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *app, *status = http_query(r, "status");
	bool             ok = false;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "applicationId", &app)) != ERR_OK)
		return e;
	if (status != NULL && *status == '\0')
		status = NULL;
	for (const char *const *s = statuses; status && *s; s++)
		ok |= strcmp(*s, status) == 0;
	if (status != NULL && !ok)
		return http_field_error(r, "invalid query parameter", "status",
		    "must be queued, building, deploying, succeeded, failed, cancelled or superseded");
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, app);
	list_filter(&p, status);
	return list_run(r, &p, &st_list);
}

static enum err
get(struct req *r)
{
	return apps_respond_deployment(r, http_param(r, "id"), 200);
}

static enum err
logs(struct req *r)
{
	const char *tail;
	PGresult   *res;
	enum err    e;

	if ((e = http_tail(r, &tail)) != ERR_OK ||
	    (e = db_run(r, &st_logs, &res, http_param(r, "id"), tail)) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

static enum err
cancel(struct req *r)
{
	const char *id = http_param(r, "id");
	const char *who = r->who.key_id ? "a service key" : "a user";
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_cancel_queued, &res, id, who)) != ERR_OK)
		return e;
	if (PQntuples(res) == 0) {
		if ((e = db_run(r, &st_cancel_running, &res, id, who)) != ERR_OK)
			return e;
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
			return http_error(r, ERR_CONFLICT, "only a queued or running deployment "
			    "can be cancelled, and not once it switches traffic");
	}
	return apps_respond_deployment(r, id, 200);
}

const struct route api_deployment_routes[] = {
	{.methods = HTTP_GET, .pattern = "/deployments", .fn = list},
	{.methods = HTTP_GET, .pattern = "/deployments/:id", .fn = get, .cap = CAP_READ,
	    .project_of = project_of},
	{.methods = HTTP_GET, .pattern = "/deployments/:id/logs", .fn = logs, .cap = CAP_DEPLOY,
	    .project_of = project_of},
	{.methods = HTTP_POST, .pattern = "/deployments/:id/cancel", .fn = cancel,
	    .cap = CAP_DEPLOY, .audit = "deployment.cancel", .project_of = project_of},
	{0},
};
