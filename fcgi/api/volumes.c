/*
 * volumes.c - API.md §8 volumes: named engine volumes of a project on one
 * server (list, create, read, update, delete).  Applications mount them
 * through their `volumes` field (applications.c); the mounts, the rules
 * (same server, no delete while mounted) and the agent's removal job are
 * the database's (sql/021_volumes.sql).
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"

#define VOL_COLS "v.id, v.project_id, v.server_id, v.name, v.size_limit, v.used_bytes," \
	" v.used_at, coalesce((SELECT jsonb_agg(jsonb_build_object('application_id'," \
	" m.application_id, 'mount_path', m.mount_path) ORDER BY m.application_id, m.mount_path)" \
	" FROM volume_mounts m WHERE m.volume_id = v.id), '[]') AS mounts, v.status, v.warning," \
	" v.created_at, v.updated_at, v.row_version::text AS _version"

DB_STMT st_vol_get = {"volumes_get",
    "SELECT " VOL_COLS " FROM volumes v WHERE v.id = $1::uuid"};
DB_STMT st_vol_project = {"volumes_project",
    "SELECT project_id FROM volumes WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?serverId. */
DB_STMT st_vol_list = {"volumes_list",
    "SELECT " VOL_COLS " FROM volumes v"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = v.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR v.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR v.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR v.server_id = $8::uuid)" LIST_TAIL("v.")};
DB_STMT st_vol_create = {"volumes_create",
    "SELECT api_volume_create($1::uuid, $2::jsonb) AS id"};
/* $2 = the given fields as a JSON object: only those change. */
DB_STMT st_vol_update = {"volumes_update",
    "UPDATE volumes v" DB_PATCH("v", "name, size_limit")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_vol_delete = {"volumes_delete",
    "SELECT delete_unless_used('volumes', $1::uuid, $2::bigint, 'volume', 'volume_mounted_by',"
    " 'volume %s is mounted by: %s; remove it from their volumes first') AS deleted"};

#define VOLUME_NAME_TAKEN "name: a volume with this name already exists in the project"

/* 1 byte to 1 PiB; NULL = no limit. */
#define VOL_FIELDS \
	{"name", F_STRING, false, false, 1, 63, json_check_slug}, \
	{"size_limit", F_INT, false, true, 1, (int64_t)1 << 50, NULL}

static const struct field create_fields[] = {
	VOL_FIELDS,
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
};
enum { V_NAME, V_SIZE, V_PROJECT, V_SERVER };

static const struct field update_fields[] = {
	VOL_FIELDS,
};

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (!v[V_NAME].present)
		json_detail(details, "name", "is required");
}

/* project_of for /volumes/:id routes (the router checks the cap). */
static const char *
volume_project(struct req *r)
{
	return db_project_of(r, &st_vol_project, "volume");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_vol_get, "volume not found", id, status);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *server;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "serverId", &server)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, server);
	return list_run(r, &p, &st_vol_list);
}

enum err
volumes_create(struct req *r, const char *project_id, const char *body, const char **id)
{
	PGresult *res;
	enum err  e = db_run(r, &st_vol_create, &res, project_id, body);

	if (e == ERR_CONFLICT)
		return http_error(r, e, VOLUME_NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}

cJSON *
volumes_object(struct req *r, const char *id)
{
	PGresult *res;

	return db_get_object(r, &st_vol_get, &res, "volume not found", id) == ERR_OK ?
	    json_row(res, 0) : NULL;
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *body, *id;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK ||
	    (e = perm_project(r, v[V_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	if ((body = JSON_GIVEN(r, create_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = volumes_create(r, r->who.project_id, body, &id)) != ERR_OK)
		return e;
	return respond(r, id, 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

static const struct db_update vol_update = {&st_vol_update, NULL, "volume", "volume not found",
    VOLUME_NAME_TAKEN};

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *body;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	if ((body = JSON_GIVEN(r, update_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_update(r, &vol_update, id, body, version)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/* 204 once the row is gone; the agent's volume.remove job (queued by the
 * row's delete trigger) removes the engine volume, as an application's
 * delete queues app.remove. */
static enum err
del(struct req *r)
{
	enum err e = db_delete(r, &st_vol_delete, "volume", NULL);

	return e == ERR_CONFLICT ? http_error(r, e, db_message(r, "the volume is mounted")) : e;
}

#define VOL_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = volume_project}

const struct route api_volume_routes[] = {
	{.methods = HTTP_GET, .pattern = "/volumes", .fn = list},
	{.methods = HTTP_POST, .pattern = "/volumes", .fn = create, .audit = "volume.create"},
	VOL_ROUTE(HTTP_GET, "/volumes/:id", get, CAP_READ, NULL),
	VOL_ROUTE(HTTP_PUT, "/volumes/:id", update, CAP_WRITE, "volume.update"),
	VOL_ROUTE(HTTP_DELETE, "/volumes/:id", del, CAP_WRITE, "volume.delete"),
	{0},
};
