/*
 * list.h - the one implementation of list endpoints: ?limit= (default 50,
 * 1..200), an opaque keyset ?cursor= (signed, bound to the list's path and
 * the tenant; a forged or corrupted one is 400) and meta.next_cursor.
 * Order is (created_at, id), stable under concurrent inserts and deletes.
 *
 * A list statement takes $1 = limit + 1, $2 = cursor created_at, $3 =
 * cursor id (without a cursor: -infinity and the nil UUID), then its own
 * filters, ends with LIST_TAIL, and selects columns `id` and `created_at`;
 * or, for rows that keep their API object rendered (a text column of JSON,
 * sql/011_project_json.sql), selects it as `_json` and the row's keyset
 * position "<created_at, microseconds, UTC>|<id>" as `_cursor`, and the
 * objects are copied as they are.
 *
 * The keyset condition compares the row with the two parameters as they
 * are: under row-level security PostgreSQL makes a user's condition an
 * index condition only when it cannot leak (leakproof operators on plain
 * parameters); wrapped in COALESCE it stayed a filter, and every page
 * scanned the tenant's rows from the start.
 */
#ifndef LAUNCHER_LIST_H
#define LAUNCHER_LIST_H

#include "db.h"
#include "http.h"

#define LIST_MAX_FILTERS 8

/*
 * The keyset tail of a list statement; t is the table alias ("" or "p.").
 * Written as one row comparison (no OR) so that an index on
 * (tenant_id or parent, created_at, id) serves it as an index condition:
 * a deep page costs what the first one does.
 */
#define LIST_TAIL(t) " AND (" t "created_at, " t "id) > ($2::timestamptz, $3::uuid)" \
	" ORDER BY " t "created_at, " t "id LIMIT $1::int"

struct list_page {
	const char *params[3 + LIST_MAX_FILTERS];
	int         n;
	int64_t     limit;
	/* Objects (JSON text, comma-separated) shown before the rows, outside
	 * limit and cursor: the fixed items a list merges into its first page
	 * (the built-in templates).  NULL: none. */
	const char *head;
	/* A member added to each row's object (json.h), or NULL. */
	const struct json_member *member;
};

/* Parses limit and cursor into p (params 1..3); responds 400 itself. */
enum err list_begin(struct req *r, struct list_page *p);
/*
 * The cursor of a list whose position is not a row of ours (a bucket's
 * objects, read by its agent): payload (text) signed for path (the list's
 * r->path) and the request's tenant, in the arena; list_cursor_read
 * checks ?cursor= against the request's own path: *payload NULL when
 * absent, 400 naming cursor (recorded) when forged, altered or another
 * list's.
 */
const char *list_cursor_new(struct req *r, const char *path, const char *payload);
enum err    list_cursor_read(struct req *r, const char **payload);
/* Appends a filter parameter ($4, $5, ...). */
void     list_filter(struct list_page *p, const char *value);
/* The caller's project visibility, the three filters every project-scoped
 * list starts with: tenant admin ("true"/"false"), user id, the service
 * key's project (NULL when none). */
void     list_filter_visible(struct list_page *p, const struct req *r);
/* A list without filters: limit and cursor, then st. */
enum err list_all(struct req *r, const struct db_stmt *st);
/* Runs st and responds with data + meta.next_cursor. */
enum err list_run(struct req *r, struct list_page *p, const struct db_stmt *st);
/*
 * A route's prefetch (router.h) of the first page of st (no cursor, a
 * valid limit): fills *call, or false.  st takes the list parameters and,
 * as $4, the token that auth.c fills in.
 */
bool     list_prefetch(struct req *r, const struct db_stmt *st, struct db_call *call);
/* r->prefetched when it is the page p asks for; then answers with it. */
bool     list_prefetched(struct req *r, struct list_page *p, enum err *e);
/* ?projectId= validated (400 if not a UUID); NULL if absent. */
enum err list_uuid_query(struct req *r, const char *name, const char **out);

#endif
