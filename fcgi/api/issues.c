/*
 * issues.c - API.md §17, the issues of error tracking as people triage
 * them: list, get, PUT {status, assignee_id}, delete, and the occurrences
 * (GET /issues/:id/events).  Issues and their events are written by
 * launcher-issues from what the ingest queued (sql/043, sql/044); the API
 * only reads them, triages (issue_update, sql/045) and deletes.
 *
 * Issues belong to a project: its viewers read them, its members triage
 * (CAP_DEPLOY, as they start and stop applications), its admins delete
 * them with their occurrences (CAP_WRITE).
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"

/* Longest ?q= (bytes): a title or culprit fragment, not a document. */
#define ISSUES_Q_MAX 200

#define ISSUE_COLS "i.id, i.project_id, i.application_id, i.fingerprint, i.title, i.culprit," \
	" i.level, i.status, i.first_seen, i.last_seen, i.event_count, i.assignee_id," \
	" i.resolved_at, i.created_at, i.updated_at"

DB_STMT st_issue_get = {"issues_get",
    "SELECT " ISSUE_COLS ", i.row_version::text AS _version FROM issues i WHERE i.id = $1::uuid"};
DB_STMT st_issue_project = {"issues_project",
    "SELECT project_id FROM issues WHERE id = $1::uuid"};
/*
 * $4 sees all, $5 user, $6 key's project, ?projectId, ?applicationId,
 * ?status, ?q (a case-insensitive substring of the title or the culprit;
 * strpos, so % and _ are plain characters).
 */
DB_STMT st_issue_list = {"issues_list",
    "SELECT " ISSUE_COLS " FROM issues i"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = i.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR i.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR i.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR i.application_id = $8::uuid)"
    " AND ($9::text IS NULL OR i.status = $9)"
    " AND ($10::text IS NULL OR strpos(lower(i.title), lower($10)) > 0"
    "  OR strpos(lower(i.culprit), lower($10)) > 0)" LIST_TAIL("i.")};
DB_STMT st_issue_update = {"issues_update",
    "SELECT issue_update($1::uuid, $2::jsonb, $3::bigint) AS id"};
DB_STMT st_issue_delete = {"issues_delete",
    "DELETE FROM issues WHERE id = $1::uuid AND ($2::bigint IS NULL OR row_version = $2::bigint)"
    " RETURNING id"};
/*
 * The occurrences of issue $4, oldest first, keyset (received_at, id):
 * what launcher-issues kept of each event (issue_events.data), with empty
 * containers where the event had none.
 */
DB_STMT st_issue_events = {"issues_events",
    "SELECT e.id, e.issue_id, e.event_id, e.occurred_at, e.received_at, e.level, e.message,"
    " e.release, e.environment,"
    " coalesce(e.data->'exception', '[]') AS exception,"
    " coalesce(e.data->'tags', '{}') AS tags,"
    " e.data->'user' AS \"user\","
    " coalesce(e.data->'breadcrumbs', '[]') AS breadcrumbs,"
    " coalesce(e.data->'contexts', '{}') AS contexts,"
    " e.data->'request' AS request, e.data->>'server_name' AS server_name,"
    " e.data->>'logger' AS logger, e.data->>'platform' AS platform, e.data->'sdk' AS sdk,"
    " coalesce(e.data->'attachments', '[]') AS attachments,"
    " to_char(e.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00|'"
    "  || e.id::text AS _cursor"
    " FROM issue_events e WHERE e.issue_id = $4::uuid"
    " AND (e.received_at, e.id) > ($2::timestamptz, $3::uuid)"
    " ORDER BY e.received_at, e.id LIMIT $1::int"};

/* $1 project, $2 environment, $3 the application's name. */
DB_STMT st_issue_sentry_ref = {"issues_sentry_ref",
    "SELECT error_dsn_url(a.project_id, a.id) AS dsn, e.name AS environment"
    " FROM applications a JOIN environments e ON e.id = a.environment_id"
    " WHERE a.project_id = $1::uuid AND a.environment_id = $2::uuid AND a.name = $3"};

static const char *const statuses[] = {"unresolved", "resolved", "ignored", NULL};

static const struct field put_fields[] = {
	{"status", F_ENUM, false, false, 0, 0, NULL, .options = statuses},
	{"assignee_id", F_UUID, false, true, 0, 0, NULL},
};

/* project_of for /issues/:id routes (the router checks the cap). */
static const char *
issue_project(struct req *r)
{
	return db_project_of(r, &st_issue_project, "issue");
}

/* ?status= (one of statuses) and ?q= (UTF-8, at most ISSUES_Q_MAX bytes);
 * NULL when absent or empty; 400 naming the parameter otherwise. */
static enum err
list_params(struct req *r, const char **status, const char **q)
{
	bool ok = false;

	*status = http_query(r, "status");
	*q = http_query(r, "q");
	if (*status != NULL && **status == '\0')
		*status = NULL;
	if (*q != NULL && **q == '\0')
		*q = NULL;
	for (const char *const *s = statuses; *status && *s; s++)
		ok |= strcmp(*s, *status) == 0;
	if (*status != NULL && !ok)
		return http_field_error(r, "invalid query parameter", "status",
		    "must be unresolved, resolved or ignored");
	if (*q != NULL && (strlen(*q) > ISSUES_Q_MAX || !json_utf8_ok(*q)))
		return http_field_error(r, "invalid query parameter", "q",
		    "must be UTF-8 text of at most 200 bytes");
	return ERR_OK;
}

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *app, *status, *q;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "applicationId", &app)) != ERR_OK ||
	    (e = list_params(r, &status, &q)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, app);
	list_filter(&p, status);
	list_filter(&p, q);
	return list_run(r, &p, &st_issue_list);
}

static enum err
get(struct req *r)
{
	return db_respond_object(r, &st_issue_get, "issue not found", http_param(r, "id"), 200);
}

/* Only the fields given change; the database checks the assignee. */
static enum err
update(struct req *r)
{
	struct field_val v[sizeof(put_fields) / sizeof(*put_fields)];
	const char      *id = http_param(r, "id"), *version, *body;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, put_fields, v)) != ERR_OK)
		return e;
	if ((body = JSON_GIVEN(r, put_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_issue_update, &res, id, body, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return http_changed(r, "issue");
	return db_respond_object(r, &st_issue_get, "issue not found", id, 200);
}

/* The issue and, by the cascade, its occurrences. */
static enum err
delete(struct req *r)
{
	return db_delete(r, &st_issue_delete, "issue", NULL);
}

static enum err
events(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, http_param(r, "id"));
	return list_run(r, &p, &st_issue_events);
}

int
issues_sentry_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why)
{
	PGresult *res;
	int       col;

	/* Applications live in an environment: without one (a project-wide
	 * resolution) there is nothing to look the name up in. */
	if (c->environment_id == NULL) {
		*why = strdup("an application is looked up in an environment: give one "
		    "(environment_id) to resolve sentry references");
		return -1;
	}
	if (db_run(c->r, &st_issue_sentry_ref, &res, c->project_id, c->environment_id, name) !=
	    ERR_OK) {
		*why = strdup("the application cannot be read right now");
		return -1;
	}
	if (PQntuples(res) != 1)
		return 1;
	if ((col = PQfnumber(res, prop)) < 0 || PQgetisnull(res, 0, col)) {
		*why = strdup("the application has no DSN");
		return -1;
	}
	*out = strdup(PQgetvalue(res, 0, col));
	return *out != NULL ? 0 : -1;
}

const struct route api_issue_routes[] = {
	{.methods = HTTP_GET, .pattern = "/issues", .fn = list},
	{.methods = HTTP_GET, .pattern = "/issues/:id", .fn = get, .cap = CAP_READ,
	    .project_of = issue_project},
	{.methods = HTTP_PUT, .pattern = "/issues/:id", .fn = update, .cap = CAP_DEPLOY,
	    .audit = "issue.update", .project_of = issue_project},
	{.methods = HTTP_DELETE, .pattern = "/issues/:id", .fn = delete, .cap = CAP_WRITE,
	    .audit = "issue.delete", .project_of = issue_project},
	{.methods = HTTP_GET, .pattern = "/issues/:id/events", .fn = events, .cap = CAP_READ,
	    .project_of = issue_project},
	{0},
};
