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
	uint64_t              notified;
	uint64_t              prefetch_seq;	/* auth.c: tokens of launcher.tenant_wide */
};

/* Connects (or reconnects after the interval); ERR_UNAVAILABLE if down. */
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

/* The message of our own raised error (SQLSTATE LNxxx/P0002), else fallback. */
const char *db_message(struct req *r, const char *fallback);
/* The constraint named by the last failed statement ("" if none). */
const char *db_constraint(struct req *r);

#endif
