/*
 * jobs.c - job creation (see jobs.h).
 */
#include "jobs.h"

#include "db.h"
#include "util.h"
#include "worker.h"

static const struct db_stmt st_create = {"jobs_create",
    "SELECT job_enqueue(current_tenant(), $1::uuid, $2::uuid, $3, $4::jsonb, $5::uuid) AS id"};

enum err
job_create(struct req *r, const char *server_id, const char *project_id, const char *kind,
    const char *payload, const char **id)
{
	PGresult *res;
	enum err  e;

	e = db_run(r, &st_create, &res, server_id, project_id, kind, payload, r->who.user_id);
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}
