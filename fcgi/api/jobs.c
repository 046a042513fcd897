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

static enum err
not_found(struct req *r)
{
	return http_error(r, ERR_NOT_FOUND, "job not found");
}

static enum err
get(struct req *r)
{
	const struct job_kind *k;
	const char            *project;
	cJSON                 *job;
	unsigned               scope;
	enum err               e;

	r->resource = "job";
	if ((e = job_read(r, http_param(r, "id"), &job, &project, &k)) != ERR_OK)
		return e;
	if (job == NULL)
		return not_found(r);
	scope = perm_cap_scope((enum cap)k->cap);
	if (project != NULL)
		e = perm_project(r, project, (enum cap)k->cap);
	else if (r->who.role < ROLE_ADMIN || r->who.key_project_id != NULL)
		e = not_found(r);
	else if ((r->who.scopes & scope) != scope)
		e = http_error(r, ERR_FORBIDDEN, "the service key lacks the scope this call needs");
	if (e != ERR_OK) {
		cJSON_Delete(job);
		return e;
	}
	return http_respond_json(r, 200, job, NULL);
}

const struct route api_job_routes[] = {
	{.methods = HTTP_GET, .pattern = "/jobs/:id", .fn = get},
	{0},
};
