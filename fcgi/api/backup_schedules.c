/*
 * backup_schedules.c - API.md §12 backup schedules (list, create, read,
 * update, delete) and §18's event log as far as backups fill it
 * (GET /alerts/events, read-only).
 *
 * A schedule belongs to the project of its resource (a database or a
 * volume; buckets: 400 until they exist); writes need write permission on
 * that project.  The cron expression and the time zone are checked here
 * with the helper's own parser (core/cron.h), and next_run_at is computed
 * with the same clock launcher-backup uses; every PUT computes it again
 * from now.  Running the schedule is launcher-backup's
 * (sql/036_backup_helper.sql).
 */
#include "api.h"

#include <string.h>
#include <time.h>

#include "../core/cron.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"

#define SCHED_COLS "s.id, s.project_id, s.resource_type, coalesce(s.database_id, s.volume_id)" \
	" AS resource_id, s.destination_id, s.cron, s.timezone, jsonb_build_object('keep_last'," \
	" s.keep_last, 'keep_days', s.keep_days) AS retention, s.enabled, s.next_run_at," \
	" s.last_run_at, s.last_success_at, s.last_status, s.stale_since, s.created_at," \
	" s.updated_at, s.row_version::text AS _version"

DB_STMT st_sched_get = {"backup_schedules_get",
    "SELECT " SCHED_COLS " FROM backup_schedules s WHERE s.id = $1::uuid"};
DB_STMT st_sched_project = {"backup_schedules_project",
    "SELECT project_id FROM backup_schedules WHERE id = $1::uuid"};
DB_STMT st_sched_clock = {"backup_schedules_clock",
    "SELECT cron, timezone FROM backup_schedules WHERE id = $1::uuid"};
/* The project of the resource a new schedule names (RLS: the tenant's). */
DB_STMT st_sched_resource = {"backup_schedules_resource",
    "SELECT project_id FROM databases WHERE $1 = 'database' AND id = $2::uuid"
    " UNION ALL SELECT project_id FROM volumes WHERE $1 = 'volume' AND id = $2::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?resourceId. */
DB_STMT st_sched_list = {"backup_schedules_list",
    "SELECT " SCHED_COLS " FROM backup_schedules s"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = s.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR s.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR s.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR coalesce(s.database_id, s.volume_id) = $8::uuid)" LIST_TAIL("s.")};
DB_STMT st_sched_create = {"backup_schedules_create",
    "SELECT api_backup_schedule_create($1::uuid, $2::jsonb) AS id"};
DB_STMT st_sched_update = {"backup_schedules_update",
    "SELECT u.id FROM api_backup_schedule_update($1::uuid, $2::jsonb, $3::bigint) u(id)"
    " WHERE u.id IS NOT NULL"};	/* no row: If-Match missed (412) */
DB_STMT st_sched_delete = {"backup_schedules_delete",
    "DELETE FROM backup_schedules WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
/* Events of visible projects; tenant-wide ones (no project) for admins. */
DB_STMT st_events_list = {"alert_events_list",
    "SELECT e.id, e.project_id, e.event, e.resource_type, e.resource_id, e.message, e.payload,"
    " e.created_at FROM alert_events e"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = e.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR e.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR e.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR e.resource_id = $8::uuid)"
    " AND ($9::text IS NULL OR e.event = $9)" LIST_TAIL("e.")};

static const char *const resource_types[] = {"database", "volume", "bucket", NULL};

/* keep_last: up to 100,000 backups; keep_days: up to 100 years. */
static const struct field retention_fields[] = {
	{"keep_last", F_INT, false, true, 1, 100000, NULL},
	{"keep_days", F_INT, false, true, 1, 36500, NULL},
};

#define SCHED_FIELDS \
	{"destination_id", F_UUID, false, false, 0, 0, NULL}, \
	{"cron", F_STRING, false, false, 1, CRON_EXPR_MAX, NULL}, \
	{"timezone", F_STRING, false, false, 1, 64, NULL}, \
	{"retention", F_OBJECT, false, false, 0, 0, NULL, NULL, FIELD_SUB(retention_fields)}, \
	{"enabled", F_BOOL, false, false, 0, 0, NULL}

static const struct field create_fields[] = {
	SCHED_FIELDS,
	{"resource_type", F_ENUM, true, false, 0, 0, NULL, resource_types},
	{"resource_id", F_UUID, true, false, 0, 0, NULL},
};
static const struct field update_fields[] = {
	SCHED_FIELDS,
};
enum { S_DEST, S_CRON, S_TZ, S_RETENTION, S_ENABLED, S_TYPE, S_RESOURCE };

/* The cron and time zone given (their messages are the parser's). */
static void
clock_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	struct cron c;
	char        err[160];

	(void)r;
	if (v[S_CRON].present && cron_parse(v[S_CRON].s, &c, err, sizeof(err)) != 0)
		json_detail(details, "cron", err);
	if (v[S_TZ].present && !cron_tz_valid(v[S_TZ].s))
		json_detail(details, "timezone", "unknown time zone (an IANA name such as Europe/Berlin)");
}

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	if (!v[S_DEST].present)
		json_detail(details, "destination_id", "is required");
	if (!v[S_CRON].present)
		json_detail(details, "cron", "is required");
	if (strcmp(v[S_TYPE].s, "bucket") == 0)
		json_detail(details, "resource_type", "buckets are not available yet");
	clock_rule(r, v, details);
}

/*
 * The body an SQL function reads into *out: the given fields plus
 * next_run_at (the first run of cron in tz after now, epoch seconds).
 * 400 naming cron when the expression never runs.
 */
static enum err
body_with_next(struct req *r, const struct field *f, size_t n, const char *cron, const char *tz,
    const char **out)
{
	const char *given = json_given(r, f, n);
	struct cron c;
	char        err[160], *text;
	cJSON      *body;
	time_t      next;

	if (given == NULL || cron_parse(cron, &c, err, sizeof(err)) != 0 || (body = cJSON_Parse(given)) == NULL)
		return ERR_INTERNAL;
	if ((next = cron_next(&c, tz, time(NULL))) == (time_t)-1) {
		cJSON_Delete(body);
		return http_field_error(r, "invalid cron", "cron", "the expression never runs");
	}
	cJSON_AddNumberToObject(body, "next_run_at", (double)next);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	*out = text ? arena_strdup(r->a, text) : NULL;
	cJSON_free(text);
	return *out ? ERR_OK : ERR_INTERNAL;
}

static const char *
schedule_project(struct req *r)
{
	return db_project_of(r, &st_sched_project, "backup schedule");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_sched_get, "backup schedule not found", id, status);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *resource;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "resourceId", &resource)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, resource);
	return list_run(r, &p, &st_sched_list);
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	PGresult        *res;
	const char      *body, *tz;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK)
		return e;
	/* The resource must be visible: 404 otherwise, like its own routes. */
	if ((e = db_run(r, &st_sched_resource, &res, v[S_TYPE].s, v[S_RESOURCE].s)) != ERR_OK)
		return e;
	if (PQntuples(res) == 0)
		return http_error(r, ERR_NOT_FOUND, strcmp(v[S_TYPE].s, "database") == 0
		    ? "database not found" : "volume not found");
	if ((e = perm_project(r, arena_strdup(r->a, db_get(res, 0, "project_id")), CAP_WRITE)) != ERR_OK)
		return e;
	tz = v[S_TZ].present ? v[S_TZ].s : "UTC";
	if ((e = body_with_next(r, create_fields, sizeof(create_fields) / sizeof(*create_fields),
	    v[S_CRON].s, tz, &body)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_sched_create, &res, r->who.project_id, body)) != ERR_OK)
		return e;
	return respond(r, arena_strdup(r->a, db_get(res, 0, "id")), 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

static const struct db_update sched_update = {&st_sched_update, NULL, "backup schedule",
    "backup schedule not found", NULL};

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *body;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, update_fields, v, clock_rule)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_sched_clock, &res, id)) != ERR_OK)
		return e;
	if (PQntuples(res) == 0)
		return http_error(r, ERR_NOT_FOUND, "backup schedule not found");
	if ((e = body_with_next(r, update_fields, sizeof(update_fields) / sizeof(*update_fields),
	    v[S_CRON].present ? v[S_CRON].s : db_get(res, 0, "cron"),
	    v[S_TZ].present ? v[S_TZ].s : db_get(res, 0, "timezone"), &body)) != ERR_OK)
		return e;
	if ((e = db_update(r, &sched_update, id, body, version)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

static enum err
del(struct req *r)
{
	return db_delete(r, &st_sched_delete, "backup schedule", NULL);
}

static enum err
events(struct req *r)
{
	struct list_page p;
	const char      *project, *resource, *event = http_query(r, "event");
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "resourceId", &resource)) != ERR_OK)
		return e;
	if (event != NULL && (strlen(event) > 64 || !json_utf8_ok(event)))
		return http_field_error(r, "invalid event", "event", "an event name such as backup.failed");
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, resource);
	list_filter(&p, event && *event ? event : NULL);
	return list_run(r, &p, &st_events_list);
}

#define SCHED_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = schedule_project}

const struct route api_backup_schedule_routes[] = {
	{.methods = HTTP_GET, .pattern = "/backup-schedules", .fn = list},
	{.methods = HTTP_POST, .pattern = "/backup-schedules", .fn = create, .audit = "backup_schedule.create"},
	SCHED_ROUTE(HTTP_GET, "/backup-schedules/:id", get, CAP_READ, NULL),
	SCHED_ROUTE(HTTP_PUT, "/backup-schedules/:id", update, CAP_WRITE, "backup_schedule.update"),
	SCHED_ROUTE(HTTP_DELETE, "/backup-schedules/:id", del, CAP_WRITE, "backup_schedule.delete"),
	{.methods = HTTP_GET, .pattern = "/alerts/events", .fn = events},
	{0},
};
