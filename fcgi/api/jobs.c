/*
 * jobs.c - GET /jobs/:id: the job a long call answered with (202), polled
 * until its status is terminal (succeeded, failed, cancelled); then its
 * result (for exec: {exit_code, output, ...}).  The resource and each
 * kind's rendering live in core/jobs.c; this file only authorises.
 *
 * A job is read with the capability its kind needs on the job's project
 * (job_kind), so exec output is for those who may run exec; a job of no
 * project (a server's) is for tenant admins.  Another tenant's job is not
 * found (RLS).
 */
#include "api.h"

#include "../core/jobs.h"
#include "../core/perm.h"
#include "../core/util.h"

static enum err
not_found(struct req *r)
{
	return http_error(r, ERR_NOT_FOUND, "job not found");
}

/*
 * Reads job id as the caller may: *job is NULL when the call has been
 * answered (404, 403) or failed (e returned).
 */
static enum err
readable(struct req *r, const char *id, cJSON **job)
{
	const struct job_kind *k;
	const char            *project;
	unsigned               scope;
	enum err               e;

	r->resource = "job";
	if ((e = job_read(r, id, job, &project, &k)) != ERR_OK)
		return e;
	if (*job == NULL)
		return not_found(r);
	scope = perm_cap_scope((enum cap)k->cap);
	if (project != NULL)
		e = perm_project(r, project, (enum cap)k->cap);
	else if (r->who.role < ROLE_ADMIN || r->who.key_project_id != NULL)
		e = not_found(r);
	else if ((r->who.scopes & scope) != scope)
		e = http_error(r, ERR_FORBIDDEN, "the service key lacks the scope this call needs");
	if (e != ERR_OK) {
		cJSON_Delete(*job);
		*job = NULL;
	}
	return e;
}

static enum err
get(struct req *r)
{
	cJSON   *job;
	enum err e;

	if ((e = readable(r, http_param(r, "id"), &job)) != ERR_OK)
		return e;
	return http_respond_json(r, 200, job, NULL);
}

/*
 * GET /jobs/:id/outcome?ok=<status>: the answer of a call that waited for
 * job id (job_respond_wait): launcher-ws hands the request back here once
 * the job is terminal or the wait is over (X-Accel-Redirect to nginx's
 * internal /.lnchr-job/<tenant>/<job>, which marks it LNCHR_JOB_OUTCOME;
 * conf/nginx/locations.conf.in), with the caller's own credentials: read
 * as GET /jobs/:id is, answered by job_respond_outcome.  Without the
 * marker (a client, an MCP sub-request) the route does not exist.
 */
static enum err
outcome(struct req *r)
{
	const char *ok = http_query(r, "ok");
	int64_t     status = 200;
	cJSON      *job;
	enum err    e;

	if (http_env(r, "LNCHR_JOB_OUTCOME") == NULL)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	if (ok != NULL && util_parse_i64(ok, 200, 299, &status) != 0)
		status = 200;
	if ((e = readable(r, http_param(r, "id"), &job)) != ERR_OK)
		return e;
	cJSON_Delete(job);
	return job_respond_outcome(r, http_param(r, "id"), (int)status);
}

const struct route api_job_routes[] = {
	{.methods = HTTP_GET, .pattern = "/jobs/:id", .fn = get},
	{.methods = HTTP_GET, .pattern = "/jobs/:id/outcome", .fn = outcome},
	{0},
};
