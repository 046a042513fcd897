/*
 * pitr.c - API.md §12 point-in-time recovery of PostgreSQL databases
 * (README "Point-in-time recovery (PostgreSQL)"): the stored recovery
 * window, the restore in place, the restore into a new database (clone)
 * and the switch of a clone in under its source's name.
 *
 * Nothing here waits: the window is what the last db.provision,
 * db.pitr_backup or db.pitr_info stored (sql/037_pitr.sql; pitr_tick keeps
 * it fresh), and every action is a job for the database's agent
 * (fcgi/agent/pitr.c).  Targets outside the stored window are 400 naming
 * target_time, the window in the message.
 */
#include "api.h"

#include <string.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/txn.h"

/* earliest rounded up and latest down to the second: both inside. */
DB_STMT st_pitr_window = {"pitr_window",
    "SELECT to_char(date_trunc('second', pitr_earliest + interval '999999 microseconds')"
    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS earliest,"
    " to_char(pitr_latest AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS latest,"
    " to_char(pitr_checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS checked_at"
    " FROM databases WHERE id = $1::uuid"};
DB_STMT st_pitr_row = {"pitr_row",
    "SELECT id, type, version, password_sealed FROM databases WHERE id = $1::uuid"};
DB_STMT st_pitr_restore = {"pitr_restore",
    "SELECT api_database_pitr($1::uuid, $2::timestamptz, $3::jsonb, $4::uuid) AS id"};
DB_STMT st_pitr_clone = {"pitr_clone",
    "SELECT api_database_pitr_clone($1::uuid, $2::uuid, $3::timestamptz, $4, $5::jsonb, $6,"
    " $7::uuid) AS id"};
DB_STMT st_pitr_switch = {"pitr_switch",
    "SELECT api_database_switch($1::uuid, $2::uuid, $3::jsonb, $4::uuid) AS id"};

static const struct field pitr_fields[] = {
	{"target_time", F_TIME, true, false, 0, 0, NULL},
};
static const struct field clone_fields[] = {
	{"target_time", F_TIME, true, false, 0, 0, NULL},
	{"new_name", F_STRING, true, false, 1, 48, json_check_slug},
};
static const struct field switch_fields[] = {
	{"restored_database_id", F_UUID, true, false, 0, 0, NULL},
};

/* The row of :id and its image line (409 when the table dropped it). */
static enum err
load(struct req *r, PGresult **row, const char **spec)
{
	enum err e = db_get_object(r, &st_pitr_row, row, "database not found", http_param(r, "id"));

	if (e != ERR_OK)
		return e;
	*spec = databases_image_spec(r, db_get(*row, 0, "type"), db_get(*row, 0, "version"), NULL);
	if (*spec == NULL)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the image table no longer "
		    "lists %s %s; add it back to the configuration", db_get(*row, 0, "type"),
		    db_get(*row, 0, "version")));
	return ERR_OK;
}

/*
 * A target outside the window (pitr_check_target): the message gives the
 * window too, not only the details; other errors go to the router.
 */
static enum err
target_error(struct req *r, enum err e)
{
	const char *why;

	if (e == ERR_BAD_REQUEST && strcmp(db_field(r, &why), "target_time") == 0)
		return http_field_error(r, arena_printf(r->a, "target_time %s", why), "target_time",
		    why);
	return e;
}

static enum err
recovery_window(struct req *r)
{
	PGresult *res;
	enum err  e = db_get_object(r, &st_pitr_window, &res, "database not found",
	    http_param(r, "id"));

	if (e != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_row(res, 0), NULL);
}

static enum err
pitr(struct req *r)
{
	struct field_val v[1];
	const char      *spec;
	PGresult        *row, *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, pitr_fields, v)) != ERR_OK ||
	    (e = load(r, &row, &spec)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_pitr_restore, &res, http_param(r, "id"), v[0].s, spec,
	    r->who.user_id)) != ERR_OK)
		return target_error(r, e);
	return job_respond_queued(r, db_get(res, 0, "id"));
}

static enum err
pitr_clone(struct req *r)
{
	struct field_val v[2];
	const char      *spec, *sealed;
	char             id[37];
	PGresult        *row, *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, clone_fields, v)) != ERR_OK ||
	    (e = load(r, &row, &spec)) != ERR_OK)
		return e;
	crypto_uuid_new(id);
	if ((sealed = databases_password_copy(r, db_get(row, 0, "id"),
	    db_get(row, 0, "password_sealed"), id)) == NULL)
		return http_error(r, ERR_CONFLICT, "the stored password of this database cannot be "
		    "decrypted; rotate it");
	e = db_run(r, &st_pitr_clone, &res, db_get(row, 0, "id"), id, v[0].s, v[1].s, spec, sealed,
	    r->who.user_id);
	if (e != ERR_OK)
		return target_error(r, e);
	return databases_respond(r, id, 201);
}

static enum err
switch_in(struct req *r)
{
	struct field_val v[1];
	const char      *spec;
	PGresult        *row, *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, switch_fields, v)) != ERR_OK || (e = load(r, &row, &spec)) != ERR_OK ||
	    (e = db_run(r, &st_pitr_switch, &res, http_param(r, "id"), v[0].s, spec,
	    r->who.user_id)) != ERR_OK)
		return e;
	return job_respond_queued(r, db_get(res, 0, "id"));
}

#define PITR_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = databases_project_of}

const struct route api_pitr_routes[] = {
	PITR_ROUTE(HTTP_GET, "/databases/:id/recovery-window", recovery_window, CAP_READ, NULL),
	PITR_ROUTE(HTTP_POST, "/databases/:id/pitr", pitr, CAP_WRITE, "database.pitr"),
	PITR_ROUTE(HTTP_POST, "/databases/:id/pitr-clone", pitr_clone, CAP_WRITE,
	    "database.pitr_clone"),
	PITR_ROUTE(HTTP_POST, "/databases/:id/switch", switch_in, CAP_WRITE, "database.switch"),
	{0},
};
