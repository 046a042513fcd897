/*
 * db.h - the request's side of the SQL layer: the worker's connection
 * (db_conn.h does the SQL, the prepared statements and the SQLSTATE
 * classes), reconnection, transactions, and results that belong to the
 * request arena (PQclear runs at reset).  Nothing here writes an answer:
 * errors are returned as enum err, with a detail for the router to answer
 * where there is one (http.h, req_fail).
 */
#ifndef LAUNCHER_DB_H
#define LAUNCHER_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "db_conn.h"
#include "err.h"

struct req;
struct worker;

/* The pool worker's connection and what the request layer keeps with it. */
struct db {
	struct db_conn        conn;
	int64_t               last_attempt_ms;
	uint64_t              connects_seen;	/* the pool's db_connects at that attempt */
	bool                  in_tx;
	int                   depth;	/* nested db_begin calls inside in_tx */
	/*
	 * The session's launcher.tenant_id as the last successful preamble
	 * left it (auth.c), and the URL's tenant reference it was resolved
	 * from; "" = unknown.  Cleared with the connection and whenever the
	 * tenants table changes (db.c's forget_tenant); `notified` counts
	 * those changes.
	 */
	char                  tenant_id[40];
	char                  tenant_ref[72];
	/*
	 * What the session's launcher.tenant_id holds for sure, and the URL
	 * reference of the request whose preamble (auth.c, and nothing else)
	 * set or confirmed it; "" = unknown.  Not cleared by a notification
	 * (the session still holds it); cleared when a preamble starts and
	 * with the connection.  The router compares it with each request's
	 * own tenant before any handler runs (router.c's tenant_gate).
	 */
	char                  held_id[40];
	char                  held_ref[72];
	uint64_t              notified;
	/*
	 * The session's secret, bound at connect (sql/015_tenant_guard.sql's
	 * session_bind): the preamble proves the tenant it sets with it, so
	 * that no other statement on this connection can set one.  Sent as a
	 * parameter of the preamble's tenant statement only, never logged.
	 */
	char                  nonce[48];
	uint64_t              prefetch_seq;	/* auth.c: tokens of launcher.tenant_wide */
};

/* Connects (or reconnects after the interval, or at once when another
 * worker of the pool connected since this one's last attempt);
 * ERR_UNAVAILABLE if down. */
enum err db_ensure(struct worker *w);
void     db_close(struct db *db);

/*
 * Runs st with n text parameters (NULL = SQL NULL).  On success *out (may
 * be NULL) receives the result, owned by the request arena.  Errors as
 * db_conn_exec; a connection found lost outside a transaction is
 * reconnected and the statement run again, once.
 */
enum err db_exec(struct req *r, const struct db_stmt *st, int n,
    const char *const *params, PGresult **out);


#define DB_ARGS(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
	(const char *const[]){__VA_ARGS__}
/* db_run(r, &st, &res, "a", "b") */
#define db_run(r, st, out, ...) db_exec((r), (st), DB_ARGS(__VA_ARGS__), (out))
#define db_run0(r, st, out) db_exec((r), (st), 0, NULL, (out))

/*
 * The object of a request: runs st, which finds at most one row; none is
 * ERR_NOT_FOUND with not_found as the detail (the router answers it); the
 * row's _version column, when it has one, becomes the ETag.
 */
enum err db_object(struct req *r, const struct db_stmt *st, int n, const char *const *params,
    const char *not_found, PGresult **out);
/* db_get_object(r, &st, &res, "project not found", id) */
#define db_get_object(r, st, out, not_found, ...) \
	db_object((r), (st), DB_ARGS(__VA_ARGS__), (not_found), (out))

/*
 * The SET clause of a partial update: $2 is a JSON object of the fields
 * given (null clears one, an absent one keeps its value); the row takes
 * the listed columns from itself with those fields replaced
 * (jsonb_populate_record converts each value to its column's type).  The
 * handler's field table decides what $2 may hold; a column left out of
 * cols never changes, whatever $2 holds.
 *   "UPDATE projects p" DB_PATCH("p", "name, color") " WHERE id = $1::uuid"
 */
#define DB_PATCH(alias, cols) " SET (" cols ") = (SELECT " cols \
	" FROM pg_catalog.jsonb_populate_record(" alias ", $2::jsonb))"

/*
 * Sends n statements in one round trip (libpq pipeline mode) and collects
 * their results into outs[n] (arena-owned).  They run in order; after a
 * failure the rest are skipped and the first error is returned.
 */
enum err db_pipeline(struct req *r, size_t n, const struct db_call *calls, PGresult **outs);

/*
 * A constant statement without parameters, unprepared (simple query
 * protocol), its rows discarded: the benchmark ceiling's "one unprepared
 * SELECT" (ARCHITECTURE.md).  Everything else uses prepared statements.
 */
enum err db_unprepared(struct req *r, const char *sql);
/* Transactions; an open one is rolled back when the request ends. */
enum err db_begin(struct req *r);
enum err db_commit(struct req *r);
void     db_rollback(struct req *r);

/*
 * A route's project_of (router.h) for /<resources>/:id: runs st ($1 = the
 * :id param; one row with a column project_id, or none) and returns that
 * project (arena), or NULL (the router answers 404 naming resource, which
 * it also records in r->resource).
 */
const char *db_project_of(struct req *r, const struct db_stmt *st, const char *resource);

/*
 * The answer of a read or a write of one resource: runs st ($1 = id; one
 * row, or none: ERR_NOT_FOUND with not_found, which the router answers)
 * and answers status with the row (its _version column the ETag).
 */
enum err db_respond_object(struct req *r, const struct db_stmt *st, const char *not_found,
    const char *id, int status);

/*
 * A conditional DELETE of the resource at :id, answered: runs st with
 * ($1 = the :id param, $2 = the If-Match version or NULL[, $3 = extra when
 * not NULL]) and answers 204 when it returned a row whose first column is
 * neither NULL nor false (an id, or a function's "deleted"), else 412 through
 * http_changed(what).  A malformed If-Match answers 412.  A database error
 * is returned unanswered, so that the caller may say why (a 409's reason);
 * the router answers any other.
 */
enum err db_delete(struct req *r, const struct db_stmt *st, const char *what, const char *extra);

/* A versioned UPDATE of one resource, for db_update(). */
struct db_update {
	const struct db_stmt *st;	/* $1 = id, $2 = the body (JSON), $3 = If-Match version or NULL */
	const struct db_stmt *exists;	/* $1 = id: one row while it exists; NULL when the router
					 * already resolved it (project-scoped resources) */
	const char           *what;	/* "registry": 412's message (http_changed) */
	const char           *not_found;	/* 404's message */
	const char           *taken;	/* 409's message for a unique clash (23505) */
};

/*
 * Runs u->st ($1 = id, $2 = body, $3 = version) and returns ERR_OK when it
 * returned the updated row; otherwise answers: a unique clash 409 (taken),
 * no row 404 (not_found) when u->exists finds nothing, else 412.  Any other
 * database error is returned for the router to answer.
 */
enum err db_update(struct req *r, const struct db_update *u, const char *id, const char *body,
    const char *version);

/*
 * After a conditional write matched no row: 404 (not_found) when exists
 * ($1 = id) finds none, else 412 through http_changed(what).
 */
enum err db_missed(struct req *r, const struct db_stmt *exists, const char *id, const char *what,
    const char *not_found);

/* The message of our own raised error (SQLSTATE LNxxx/P0002), else fallback. */
const char *db_message(struct req *r, const char *fallback);
/* The constraint named by the last failed statement ("" if none). */
const char *db_constraint(struct req *r);
/*
 * The column whose value the last failed statement's foreign key (23503)
 * or check (23514) refused, by the naming rule of sql/016_tenant_keys.sql:
 * constraint <table>_<column>_fkey or <table>_<column>_check names
 * <column>; "" for any other failure.  *why (may be NULL) receives what to
 * tell the caller: "not found" for a key, "not allowed" for a check.
 */
const char *db_field(struct req *r, const char **why);

#endif
