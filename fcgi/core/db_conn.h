/*
 * db_conn.h - one PostgreSQL connection, independent of any request: the
 * only place libpq runs SQL (prepared statements, the simple query
 * protocol, pipelines) and the only place a SQLSTATE becomes an enum err.
 *
 * The pool reaches it through the request wrapper (db.h); launcher-ws,
 * launcher-scheduler and launcher-admin use it directly.  Statements are
 * declared once with DB_STMT below (name + parametrised SQL)
 * and prepared lazily, once per connection.  A statement name belongs to
 * one SQL text for the whole process: every binary checks all of its
 * statements at start-up (db_conn_check_names), and a prepare of a name
 * already seen with other SQL aborts the process too (a bug, never a
 * runtime state).
 * That registry is not locked: prepared statements run on one thread of a
 * process (launcher-ws's LISTEN thread uses db_conn_simple only).
 * Only statement names are ever logged, never parameter values.
 */
#ifndef LAUNCHER_DB_CONN_H
#define LAUNCHER_DB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "err.h"

/*
 * A statement is declared with DB_STMT, once:
 *   DB_STMT st_get = {"apps_get", "SELECT ... WHERE id = $1::uuid"};
 * which puts it in the linker section launcher_db_stmt beside every other
 * statement of the binary, so that db_conn_check_names() can see them all
 * at start-up.  Sixteen bytes at sixteen-byte alignment: the section is an
 * array of them (sanitizers leave named sections alone).
 */
struct db_stmt {
	const char *name;
	const char *sql;
} __attribute__((aligned(16)));

#define DB_STMT static const struct db_stmt __attribute__((used, section("launcher_db_stmt")))

/* One statement of a pipeline. */
struct db_call {
	const struct db_stmt *st;
	int                   n;
	const char *const    *params;
};

#define DB_PREPARED_MAX 512

struct db_conn {
	PGconn               *pg;
	const struct db_stmt *prepared[DB_PREPARED_MAX];	/* open-addressed set */
	/* What the last failed statement said (cleared on success). */
	char                  sqlstate[6];
	char                  constraint[64];
	char                  message[256];	/* our own raised errors only */
	/* The request field the last failure names (db_field in db.h). */
	char                  field[64];
	/* Round trips to the server so far (a prepare, an execute, a whole
	 * pipeline, a simple query: one each); the pool's figures read it. */
	uint64_t              round_trips;
};

/*
 * Checks every statement of this binary (the DB_STMT section): a name
 * declared with two different SQL texts logs the name and aborts.  The
 * same name with the same SQL is one statement.  Call first thing in main.
 */
void     db_conn_check_names(void);

/*
 * Connects to url and runs setup (constant SQL over the simple protocol,
 * or NULL).  ERR_OK, or ERR_UNAVAILABLE with the connection closed.
 */
enum err db_conn_open(struct db_conn *c, const char *url, const char *setup);
void     db_conn_close(struct db_conn *c);
bool     db_conn_ok(const struct db_conn *c);

/*
 * Runs st with n text parameters (NULL = SQL NULL).  On success *out (may
 * be NULL) receives the result, which the caller PQclear()s.  Errors:
 * ERR_CONFLICT (23505), ERR_BAD_REQUEST (23503, 23514, 23502, 22xxx),
 * ERR_RETRY (40001, 40P01), ERR_UNAVAILABLE (no connection or lost),
 * ERR_NOT_FOUND/ERR_CONFLICT/ERR_BAD_REQUEST/ERR_FORBIDDEN for our own
 * P0002/LN409/LN400/LN403, ERR_INTERNAL (anything else; logged with the
 * statement name).
 */
enum err db_conn_exec(struct db_conn *c, const struct db_stmt *st, int n,
    const char *const *params, PGresult **out);

/*
 * Sends n statements in one round trip (libpq pipeline mode) and collects
 * their results into outs[n] (the caller's to PQclear).  They run in
 * order; after a failure the rest are skipped and the first error is
 * returned.  ERR_UNAVAILABLE when the connection broke.
 */
enum err db_conn_pipeline(struct db_conn *c, size_t n, const struct db_call *calls,
    PGresult **outs);

/*
 * Constant SQL without parameters (one or more statements: BEGIN, COMMIT,
 * LISTEN, a migration file) over the simple query protocol, its rows
 * discarded.  A COMMIT that the server turned into a ROLLBACK (the
 * transaction had failed) is ERR_INTERNAL.
 */
enum err db_conn_simple(struct db_conn *c, const char *sql);

/*
 * libpq's text for the last failure, for an operator's terminal or a
 * daemon's log only: never part of an API answer.
 */
const char *db_conn_error(const struct db_conn *c);

/* Value helpers (column by name; aborts on a missing column: a bug). */
const char *db_get(PGresult *res, int row, const char *col);
bool        db_isnull(PGresult *res, int row, const char *col);

/*
 * The one SQLSTATE -> enum err table (pure; db_exec's errors above):
 * 23505, LN409 -> ERR_CONFLICT; 23502, 23503, 23514, 22xxx, LN400 ->
 * ERR_BAD_REQUEST; 40001, 40P01 -> ERR_RETRY; 08xxx, 57P01, 57P03 ->
 * ERR_UNAVAILABLE; P0002 -> ERR_NOT_FOUND; LN403 -> ERR_FORBIDDEN;
 * NULL or anything else -> ERR_INTERNAL.
 */
enum err db_classify_sqlstate(const char *state);

#endif
