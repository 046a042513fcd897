/*
 * jobs.c - the job kinds table and job creation (see jobs.h).
 */
#include "jobs.h"

#include <string.h>

#include "db.h"
#include "util.h"

static const struct job_kind kinds[] = {
	/* kind          lease  deadline attempts */
	{"diagnostics",  30,    120,     2},
	{"noop",         10,    900,     2},	/* queue tests and health checks */
};

static const struct db_stmt st_create = {"jobs_create",
    "INSERT INTO jobs (server_id, project_id, kind, payload, lease_seconds, max_attempts,"
    " deadline_at, created_by) VALUES ($1::uuid, $2::uuid, $3, coalesce($4::jsonb, '{}'),"
    " $5::int, $6::int, now() + make_interval(secs => $7::int), $8::uuid) RETURNING id"};

const struct job_kind *
job_kind_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

enum err
job_create(struct req *r, const char *server_id, const char *project_id, const char *kind,
    const char *payload, const char **id)
{
	const struct job_kind *k = job_kind_find(kind);
	PGresult              *res;
	enum err               e;

	if (k == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_create, &res, server_id, project_id, kind, payload,
	    arena_printf(r->a, "%d", k->lease_seconds), arena_printf(r->a, "%d", k->max_attempts),
	    arena_printf(r->a, "%d", k->deadline_seconds), r->who.user_id);
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}
