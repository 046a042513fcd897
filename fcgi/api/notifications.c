/*
 * notifications.c - API.md §19 in-app notifications: the caller's own
 * notifications (list, unread count, read, read all, delete) and their
 * per-event preferences.  The rows are made by the database for the users
 * who can see an event's resource (sql/041_notifications.sql); here a user
 * reads and changes only rows whose user_id is the caller's: another
 * user's notification is 404, as a missing one.  launcher-ws pushes new
 * ones on /ws/notifications (fcgi/ws/stream.c).
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"

/* The events a notification can be about (API.md §18), as preferences name
 * them; metric.resolved follows metric.threshold's preference. */
static const char *const events[] = {
	"deployment.failed", "deployment.succeeded", "application.crashed", "server.offline",
	"server.disk_high", "backup.failed", "backup.stale", "domain.verification_failed",
	"certificate.expiring", "issue.new", "issue.regressed", "metric.threshold",
};
#define EVENTS_ARRAY "{deployment.failed,deployment.succeeded,application.crashed," \
	"server.offline,server.disk_high,backup.failed,backup.stale,domain.verification_failed," \
	"certificate.expiring,issue.new,issue.regressed,metric.threshold}"

#define NOTIF_JSON "notification_object(n)::text AS _json, to_char(n.created_at AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD HH24:MI:SS.US') || '+00|' || n.id::text AS _cursor"

/* $4 the caller, $5 unread only. */
DB_STMT st_notif_list = {"notifications_list",
    "SELECT " NOTIF_JSON " FROM notifications n WHERE n.user_id = $4::uuid"
    " AND (NOT $5::boolean OR n.read_at IS NULL)" LIST_TAIL("n.")};
DB_STMT st_notif_unread = {"notifications_unread",
    "SELECT count(*)::int AS count FROM notifications WHERE user_id = $1::uuid AND read_at IS NULL"};
DB_STMT st_notif_read = {"notifications_read",
    "UPDATE notifications n SET read_at = coalesce(read_at, now())"
    " WHERE n.id = $1::uuid AND n.user_id = $2::uuid RETURNING " NOTIF_JSON};
DB_STMT st_notif_read_all = {"notifications_read_all",
    "WITH u AS (UPDATE notifications SET read_at = now()"
    " WHERE user_id = $1::uuid AND read_at IS NULL RETURNING 1)"
    " SELECT count(*)::int AS count FROM u"};
DB_STMT st_notif_delete = {"notifications_delete",
    "DELETE FROM notifications WHERE id = $1::uuid AND user_id = $2::uuid RETURNING id"};
/* Every event, on unless the caller turned it off. */
DB_STMT st_prefs_get = {"notification_prefs_get",
    "SELECT jsonb_object_agg(e.event, jsonb_build_object('in_app', coalesce(p.in_app, true))"
    " ORDER BY e.ord)::text AS prefs FROM unnest($2::text[]) WITH ORDINALITY e(event, ord)"
    " LEFT JOIN notification_preferences p ON p.user_id = $1::uuid AND p.event = e.event"};
DB_STMT st_prefs_put = {"notification_prefs_put",
    "INSERT INTO notification_preferences (user_id, event, in_app)"
    " SELECT $1::uuid, x.key, (x.value->>'in_app')::boolean FROM jsonb_each($2::jsonb) x"
    " ON CONFLICT (tenant_id, user_id, event) DO UPDATE SET in_app = excluded.in_app, updated_at = now()"};

static const char *
check_event(const char *key)
{
	for (size_t i = 0; i < sizeof(events) / sizeof(*events); i++)
		if (strcmp(key, events[i]) == 0)
			return NULL;
	return "unknown event";
}

static const struct field pref_fields[] = {
	{"in_app", F_BOOL, true, false, 0, 0, NULL},
};
static const struct field pref_value[] = {
	{"value", F_OBJECT, true, false, 0, 0, NULL, FIELD_SUB(pref_fields)},
};
static const struct field prefs_body[] = {
	{"preferences", F_MAP, false, false, 0, sizeof(events) / sizeof(*events), NULL,
	    .key_check = check_event, FIELD_SUB(pref_value), .flags = FIELD_BODY},
};

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *unread = http_query(r, "unread");
	enum err         e;

	if (unread != NULL && strcmp(unread, "true") != 0 && strcmp(unread, "false") != 0)
		return http_field_error(r, "invalid query parameter", "unread", "must be true or false");
	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, r->who.user_id);
	list_filter(&p, unread != NULL && strcmp(unread, "true") == 0 ? "true" : "false");
	return list_run(r, &p, &st_notif_list);
}

/* Runs st ($1 = the caller) and answers its one row ({"count": n}). */
static enum err
respond_count(struct req *r, const struct db_stmt *st)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, st, &res, r->who.user_id)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

static enum err
unread_count(struct req *r)
{
	return respond_count(r, &st_notif_unread);
}

static enum err
read_all(struct req *r)
{
	return respond_count(r, &st_notif_read_all);
}

/* Runs st ($1 = :id, $2 = the caller) on one of the caller's own
 * notifications: 404 when it matched none (missing, or another user's). */
static enum err
own(struct req *r, const struct db_stmt *st, PGresult **res)
{
	enum err e = db_run(r, st, res, http_param(r, "id"), r->who.user_id);

	if (e == ERR_OK && PQntuples(*res) != 1)
		return http_error(r, ERR_NOT_FOUND, "notification not found");
	return e;
}

static enum err
read_one(struct req *r)
{
	PGresult *res;
	enum err  e = own(r, &st_notif_read, &res);

	return e != ERR_OK ? e : http_respond_row(r, 200, res, 0);
}

static enum err
del(struct req *r)
{
	PGresult *res;
	enum err  e = own(r, &st_notif_delete, &res);

	return e != ERR_OK ? e : http_no_content(r);
}

static enum err
prefs_respond(struct req *r)
{
	PGresult *res;
	cJSON    *prefs;
	enum err  e;

	if ((e = db_run(r, &st_prefs_get, &res, r->who.user_id, EVENTS_ARRAY)) != ERR_OK)
		return e;
	if ((prefs = cJSON_Parse(db_get(res, 0, "prefs"))) == NULL)
		return ERR_INTERNAL;
	return http_respond_json(r, 200, prefs, NULL);
}

static enum err
prefs_put(struct req *r)
{
	struct field_val v;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK)
		return e;
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST,
		    "the body must be an object {\"<event>\": {\"in_app\": true|false}}");
	if ((e = JSON_FIELDS(r, prefs_body, &v)) != ERR_OK ||
	    (e = db_run(r, &st_prefs_put, NULL, r->who.user_id, r->body)) != ERR_OK)
		return e;
	return prefs_respond(r);
}

const struct route api_notification_routes[] = {
	{.methods = HTTP_GET, .pattern = "/notifications", .fn = list, .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_GET, .pattern = "/notifications/unread-count", .fn = unread_count,
	    .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_GET, .pattern = "/notifications/preferences", .fn = prefs_respond,
	    .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_PUT, .pattern = "/notifications/preferences", .fn = prefs_put,
	    .audit = "notification.preferences", .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_POST, .pattern = "/notifications/read-all", .fn = read_all,
	    .audit = "notification.read_all", .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_POST, .pattern = "/notifications/:id/read", .fn = read_one,
	    .audit = "notification.read", .flags = ROUTE_NO_PROJECT_KEY},
	{.methods = HTTP_DELETE, .pattern = "/notifications/:id", .fn = del,
	    .audit = "notification.delete", .flags = ROUTE_NO_PROJECT_KEY},
	{0},
};
