/*
 * environments.c - API.md §2 /projects/:id/environments.  Every project
 * has production (the default) and staging from its creation; the default
 * cannot be deleted, and neither can an environment that holds resources
 * (their foreign keys restrict the delete).
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "../core/worker.h"

#define ENV_COLS "e.id, e.project_id, e.name, e.is_default, e.created_at, e.updated_at," \
	" e.row_version::text AS _version"

DB_STMT st_list = {"env_list",
    "SELECT " ENV_COLS " FROM environments e WHERE e.project_id = $4::uuid" LIST_TAIL("e.")};
DB_STMT st_get = {"env_get",
    "SELECT " ENV_COLS " FROM environments e WHERE e.id = $1::uuid AND e.project_id = $2::uuid"};
DB_STMT st_add = {"env_add",
    "INSERT INTO environments (project_id, name) VALUES ($1::uuid, $2) RETURNING id"};
DB_STMT st_rename = {"env_rename",
    "UPDATE environments SET name = $3 WHERE id = $1::uuid AND project_id = $2::uuid"
    " AND ($4::bigint IS NULL OR row_version = $4::bigint) RETURNING id"};
DB_STMT st_del = {"env_delete",
    "DELETE FROM environments WHERE id = $1::uuid AND project_id = $2::uuid AND NOT is_default"
    " AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};

static const struct field env_fields[] = {
	{"name", F_STRING, true, false, 1, 63, json_check_slug},
};

/* Fetches the environment of the URL; 404 if it is not in this project. */
static enum err
fetch(struct req *r, PGresult **res)
{
	const char *id = http_param(r, "envId");
	enum err    e;

	if ((e = db_run(r, &st_get, res, id, r->who.project_id)) != ERR_OK)
		return e;
	if (PQntuples(*res) != 1)
		return http_error(r, ERR_NOT_FOUND, "environment not found");
	return ERR_OK;
}

static enum err
respond_env(struct req *r, PGresult *res, int status)
{
	http_etag(r, db_get(res, 0, "_version"));
	return http_respond_row(r, status, res, 0);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, r->who.project_id);
	return list_run(r, &p, &st_list);
}

static enum err
create(struct req *r)
{
	struct field_val v[1];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, env_fields, v)) != ERR_OK)
		return e;
	e = db_run(r, &st_add, &res, r->who.project_id, v[0].s);
	if (e == ERR_CONFLICT)
		return http_error(r, e, "an environment with this name already exists in the project");
	if (e != ERR_OK)
		return e;
	if ((e = db_run(r, &st_get, &res, db_get(res, 0, "id"), r->who.project_id)) != ERR_OK)
		return e;
	return respond_env(r, res, 201);
}

static enum err
get(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = fetch(r, &res)) != ERR_OK)
		return e;
	return respond_env(r, res, 200);
}

static enum err
update(struct req *r)
{
	struct field_val v[1];
	PGresult        *res;
	const char      *version, *id;
	enum err         e;

	if ((e = fetch(r, &res)) != ERR_OK || (e = http_if_match(r, &version)) != ERR_OK ||
	    (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, env_fields, v)) != ERR_OK)
		return e;
	id = db_get(res, 0, "id");
	e = db_run(r, &st_rename, &res, id, r->who.project_id, v[0].s, version);
	if (e == ERR_CONFLICT)
		return http_error(r, e, "an environment with this name already exists in the project");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "environment");
	if ((e = db_run(r, &st_get, &res, id, r->who.project_id)) != ERR_OK)
		return e;
	return respond_env(r, res, 200);
}

static enum err
del(struct req *r)
{
	PGresult   *res, *cur;
	const char *version;
	enum err    e;

	if ((e = fetch(r, &cur)) != ERR_OK || (e = http_if_match(r, &version)) != ERR_OK)
		return e;
	if (db_get(cur, 0, "is_default")[0] == 't')
		return http_error(r, ERR_CONFLICT, "the default environment cannot be deleted");
	e = db_run(r, &st_del, &res, db_get(cur, 0, "id"), r->who.project_id, version);
	/* A resource still placed in it: its foreign key refuses (23503). */
	if (e == ERR_BAD_REQUEST)
		return http_error(r, ERR_CONFLICT, "the environment still holds resources");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "environment");
	return http_no_content(r);
}

const struct route api_environment_routes[] = {
	{.methods = HTTP_GET, .pattern = "/projects/:id/environments", .fn = list, .cap = CAP_READ},
	{.methods = HTTP_POST, .pattern = "/projects/:id/environments", .fn = create,
	    .cap = CAP_WRITE, .audit = "project.environment.create"},
	{.methods = HTTP_GET, .pattern = "/projects/:id/environments/:envId", .fn = get,
	    .cap = CAP_READ},
	{.methods = HTTP_PUT, .pattern = "/projects/:id/environments/:envId", .fn = update,
	    .cap = CAP_WRITE, .audit = "project.environment.update"},
	{.methods = HTTP_DELETE, .pattern = "/projects/:id/environments/:envId", .fn = del,
	    .cap = CAP_WRITE, .audit = "project.environment.delete"},
	{0},
};
