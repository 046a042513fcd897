/*
 * db.c - libpq wrapper: lazy per-connection prepared statements, status
 * checks, SQLSTATE -> enum err (see db.h).
 */
#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "http.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	memset(db->prepared, 0, sizeof(db->prepared));
	db->in_tx = false;
	db->depth = 0;
	db->tenant_id[0] = db->tenant_ref[0] = '\0';
	db->held_id[0] = db->held_ref[0] = '\0';
	sodium_memzero(db->nonce, sizeof(db->nonce));
}

static void
notice_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

enum err
db_ensure(struct worker *w)
{
	struct db *db = &w->db;
	PGresult  *res;
	int64_t    now;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return ERR_OK;
	now = now_ms();
	/* Do not hammer a database that is down: answer 503 fast. */
	if (db->last_attempt_ms != 0 &&
	    now - db->last_attempt_ms < w->cfg->db_reconnect_interval_ms)
		return ERR_UNAVAILABLE;
	db_close(db);
	db->last_attempt_ms = now;
	db->conn = PQconnectdb(w->cfg->database_url);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_warn("database connection failed");
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	PQsetNoticeProcessor(db->conn, notice_quiet, NULL);
	/*
	 * A safe search_path and UTC timestamps, right after connecting.  Plans
	 * are generic: every statement is prepared once per connection and
	 * written for index access, and a custom plan per call (what the
	 * default chooses for optional-filter statements like the lists) costs
	 * more planning than executing.  random_page_cost is the usual value for
	 * SSDs (PostgreSQL's default of 4 assumes spinning disks): a generic plan
	 * cannot know a tenant's size, and at 4 it paged a large tenant's list
	 * by a bitmap scan of every row after the cursor plus a sort, where the
	 * ordered index scan stops at the limit (tests/api/test_lists.py).
	 * LISTEN launcher_tenants: see forget_tenant() below.
	 */
	res = PQexec(db->conn,
	    "LISTEN launcher_tenants;"
	    " SELECT pg_catalog.set_config('search_path', 'launcher', false),"
	    " pg_catalog.set_config('TimeZone', 'UTC', false),"
	    " pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', false),"
	    " pg_catalog.set_config('random_page_cost', '1.1', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("database session setup failed");
		PQclear(res);
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	PQclear(res);
	/* The session's nonce (db.h), before any request can run a statement. */
	if (crypto_token(db->nonce, sizeof(db->nonce), "", 43) != 0) {
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	res = PQexecParams(db->conn, "SELECT launcher.session_bind($1)", 1, NULL,
	    (const char *const[]){db->nonce}, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("database session bind failed (is migration 015 applied?)");
		PQclear(res);
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	PQclear(res);
	/* The installation's quota defaults (config quota_*), read by the
	 * quota trigger for tenants without their own limit (sql/018). */
	{
		char        q[160];
		const char *p[1] = {q};

		if (util_snprintf(q, sizeof(q), "{\"projects\": %lld, \"applications\": %lld,"
		    " \"databases\": %lld}", (long long)w->cfg->quota_projects,
		    (long long)w->cfg->quota_applications, (long long)w->cfg->quota_databases) < 0)
			q[0] = '\0';
		res = PQexecParams(db->conn, "SELECT pg_catalog.set_config('launcher.quota_defaults',"
		    " $1, false)", 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || q[0] == '\0') {
			log_error("database session setup failed (quota defaults)");
			PQclear(res);
			db_close(db);
			return ERR_UNAVAILABLE;
		}
		PQclear(res);
	}
	db->last_attempt_ms = 0;	/* a later failure may reconnect at once */
	log_info("database connected");
	return ERR_OK;
}

/*
 * Every update or deletion in tenants is announced on launcher_tenants
 * (sql/009_tenant_notify.sql).  libpq queues the notifications it reads
 * along with results; after each round trip, one or more of them make the
 * session's remembered tenant (auth.c's fast preamble) be forgotten, and
 * db->notified counts them, so that a preamble whose own round trip
 * carried one does not remember what it resolved either.
 */
static void
forget_tenant(struct db *db)
{
	PGnotify *n;
	bool      any = false;

	if (db->conn == NULL)
		return;
	while ((n = PQnotifies(db->conn)) != NULL) {
		PQfreemem(n);
		any = true;
	}
	if (any) {
		db->notified++;
		db->tenant_id[0] = db->tenant_ref[0] = '\0';
	}
}

static size_t
slot_of(const struct db_stmt *st)
{
	return ((uintptr_t)st >> 4) % DB_PREPARED_MAX;
}

/* True if st is prepared on this connection; else remembers it when mark. */
static bool
prepared_has(struct db *db, const struct db_stmt *st)
{
	for (size_t i = slot_of(st), k = 0; k < DB_PREPARED_MAX; k++, i = (i + 1) % DB_PREPARED_MAX) {
		if (db->prepared[i] == st)
			return true;
		if (db->prepared[i] == NULL)
			return false;
	}
	return false;
}

static void
prepared_add(struct db *db, const struct db_stmt *st)
{
	for (size_t i = slot_of(st), k = 0; k < DB_PREPARED_MAX; k++, i = (i + 1) % DB_PREPARED_MAX)
		if (db->prepared[i] == NULL) {
			db->prepared[i] = st;
			return;
		}
}

/*
 * db->field from db->constraint: <table>_<column>_fkey (23503) or
 * <table>_<column>_check (23514) on the table the error names.
 */
static void
constraint_field(struct db *db, const char *state, const char *table)
{
	const char *suffix = NULL;
	size_t      tl, cl, sl;

	db->field[0] = '\0';
	if (state != NULL && strcmp(state, "23503") == 0)
		suffix = "_fkey";
	else if (state != NULL && strcmp(state, "23514") == 0)
		suffix = "_check";
	if (suffix == NULL || table == NULL)
		return;
	tl = strlen(table);
	cl = strlen(db->constraint);
	sl = strlen(suffix);
	if (cl <= tl + 1 + sl || strncmp(db->constraint, table, tl) != 0 ||
	    db->constraint[tl] != '_' || strcmp(db->constraint + cl - sl, suffix) != 0)
		return;
	memcpy(db->field, db->constraint + tl + 1, cl - tl - 1 - sl);
	db->field[cl - tl - 1 - sl] = '\0';
}

enum err
db_classify_sqlstate(const char *state)
{
	if (state == NULL)
		return ERR_INTERNAL;
	if (strcmp(state, "23505") == 0)
		return ERR_CONFLICT;
	if (strcmp(state, "23503") == 0 || strcmp(state, "23514") == 0 ||
	    strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)
		return ERR_BAD_REQUEST;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return ERR_RETRY;
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P03") == 0)
		return ERR_UNAVAILABLE;
	/* Raised by our own functions: P0002 = no such row, LN4xx = API errors. */
	if (strcmp(state, "P0002") == 0)
		return ERR_NOT_FOUND;
	if (strcmp(state, "LN409") == 0)
		return ERR_CONFLICT;
	if (strcmp(state, "LN400") == 0)
		return ERR_BAD_REQUEST;
	if (strcmp(state, "LN403") == 0)
		return ERR_FORBIDDEN;
	return ERR_INTERNAL;
}

static enum err
classify(struct req *r, PGresult *res, const char *name)
{
	struct db  *db = &r->w->db;
	enum err    e;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	const char *column = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);

	util_snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	if (util_snprintf(db->constraint, sizeof(db->constraint), "%s", cons ? cons : "") < 0)
		db->constraint[0] = '\0';
	constraint_field(db, state, PQresultErrorField(res, PG_DIAG_TABLE_NAME));
	db->message[0] = '\0';
	/* Only our own raised errors (LNxxx, P0002) carry a message for users,
	 * and the request field it is about in COLUMN. */
	if (state != NULL && (strncmp(state, "LN", 2) == 0 || strcmp(state, "P0002") == 0)) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		if (util_snprintf(db->message, sizeof(db->message), "%s", m ? m : "") < 0)
			db->message[0] = '\0';
		if (util_snprintf(db->field, sizeof(db->field), "%s", column ? column : "") < 0)
			db->field[0] = '\0';
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_error("sql %s: connection lost", name);
		return ERR_UNAVAILABLE;
	}
	if (state == NULL) {
		log_error("sql %s: failed without SQLSTATE", name);
		return ERR_INTERNAL;
	}
	e = db_classify_sqlstate(state);
	if (e == ERR_INTERNAL)
		log_error("sql %s: SQLSTATE %s", name, state);
	return e;
}

/* Prepares st on this connection unless it already is. */
static enum err
ensure_prepared(struct req *r, const struct db_stmt *st)
{
	struct db *db = &r->w->db;
	PGresult  *res;
	enum err   e;

	if (prepared_has(db, st))
		return ERR_OK;
	res = PQprepare(db->conn, st->name, st->sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		e = classify(r, res, st->name);
		PQclear(res);
		if (e == ERR_UNAVAILABLE) {
			db_close(db);
			return e;
		}
		log_error("sql %s: prepare failed", st->name);
		return ERR_INTERNAL;
	}
	PQclear(res);
	prepared_add(db, st);
	return ERR_OK;
}

enum err
db_exec(struct req *r, const struct db_stmt *st, int n, const char *const *params,
    PGresult **out)
{
	struct db *db = &r->w->db;
	PGresult  *res;
	enum err   e;

	bool       retried = false;

	if (out != NULL)
		*out = NULL;
again:
	if ((e = db_ensure(r->w)) != ERR_OK)
		return e;
	if ((e = ensure_prepared(r, st)) != ERR_OK)
		return e;
	res = PQexecPrepared(db->conn, st->name, n, params, NULL, NULL, 0);
	forget_tenant(db);
	if (PQstatus(db->conn) != CONNECTION_OK && !db->in_tx && !retried) {
		/* The server went away while this connection sat idle (restart,
		 * failover): reconnect once at once and run the statement again. */
		PQclear(res);
		db_close(db);
		db->last_attempt_ms = 0;
		retried = true;
		goto again;
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		db->sqlstate[0] = '\0';
		db->constraint[0] = '\0';
		db->field[0] = '\0';
		db->message[0] = '\0';
		if (out != NULL)
			*out = arena_defer(r->a, (arena_cleanup_fn)PQclear, res);
		else
			PQclear(res);
		return ERR_OK;
	default:
		e = classify(r, res, st->name);
		PQclear(res);
		if (e == ERR_UNAVAILABLE)
			db_close(db);
		return e;
	}
}

enum err
db_object(struct req *r, const struct db_stmt *st, int n, const char *const *params,
    const char *not_found, PGresult **out)
{
	enum err e;

	if ((e = db_exec(r, st, n, params, out)) != ERR_OK)
		return e;
	if (PQntuples(*out) != 1)
		return http_error(r, ERR_NOT_FOUND, not_found);
	if (PQfnumber(*out, "_version") >= 0)
		http_etag(r, db_get(*out, 0, "_version"));
	return ERR_OK;
}

enum err
db_pipeline(struct req *r, size_t n, const struct db_call *calls, PGresult **outs)
{
	struct db *db = &r->w->db;
	enum err   e = ERR_OK;
	bool       retried = false;
	size_t     i;

	for (i = 0; i < n; i++)
		outs[i] = NULL;
again:
	if ((e = db_ensure(r->w)) != ERR_OK)
		return e;
	for (i = 0; i < n; i++)
		if ((e = ensure_prepared(r, calls[i].st)) != ERR_OK) {
			if (e == ERR_UNAVAILABLE && !retried && !db->in_tx) {
				retried = true;
				db->last_attempt_ms = 0;
				goto again;
			}
			return e;
		}
	if (PQenterPipelineMode(db->conn) != 1)
		return ERR_INTERNAL;
	for (i = 0; i < n; i++)
		if (PQsendQueryPrepared(db->conn, calls[i].st->name, calls[i].n, calls[i].params,
		    NULL, NULL, 0) != 1)
			break;
	if (i < n || PQpipelineSync(db->conn) != 1) {
		log_error("sql pipeline: send failed");
		db_close(db);
		if (!retried && !db->in_tx) {
			retried = true;
			db->last_attempt_ms = 0;
			goto again;
		}
		return ERR_UNAVAILABLE;
	}
	/* One result (then NULL) per statement, then the sync marker. */
	for (i = 0; i < n; i++) {
		PGresult *res = PQgetResult(db->conn), *end;

		if (res == NULL) {
			e = ERR_UNAVAILABLE;
			break;
		}
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			outs[i] = arena_defer(r->a, (arena_cleanup_fn)PQclear, res);
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(res);
			if (e == ERR_OK)
				e = ERR_INTERNAL;
			break;
		default:
			if (e == ERR_OK)
				e = classify(r, res, calls[i].st->name);
			PQclear(res);
		}
		while ((end = PQgetResult(db->conn)) != NULL)
			PQclear(end);
	}
	for (;;) {
		PGresult *res = PQgetResult(db->conn);

		if (res == NULL) {
			if (PQstatus(db->conn) != CONNECTION_OK)
				break;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_close(db);
		if (!retried && !db->in_tx) {
			retried = true;
			db->last_attempt_ms = 0;
			for (i = 0; i < n; i++)
				outs[i] = NULL;
			goto again;
		}
		return ERR_UNAVAILABLE;
	}
	PQexitPipelineMode(db->conn);
	forget_tenant(db);
	return e;
}

/* sql (a constant, no parameters) over the simple query protocol. */
static enum err
simple(struct req *r, const char *sql)
{
	PGresult *res;
	enum err  e;

	if ((e = db_ensure(r->w)) != ERR_OK)
		return e;
	res = PQexec(r->w->db.conn, sql);
	forget_tenant(&r->w->db);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		return ERR_OK;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		r->w->db.message[0] = '\0';	/* BEGIN: nothing of an earlier request */
		/* COMMIT of a transaction that an ignored error aborted answers
		 * "ROLLBACK" with success: that is a failure to the caller. */
		e = strcmp(PQcmdStatus(res), "ROLLBACK") == 0 && strcmp(sql, "ROLLBACK") != 0 ?
		    ERR_INTERNAL : ERR_OK;
		if (e != ERR_OK)
			log_error("sql %s: the transaction had failed and was rolled back", sql);
		PQclear(res);
		return e;
	}
	e = classify(r, res, sql);
	PQclear(res);
	if (e == ERR_UNAVAILABLE)
		db_close(&r->w->db);
	return e;
}

enum err
db_unprepared(struct req *r, const char *sql)
{
	return simple(r, sql);
}

static void
tx_guard(void *arg)
{
	struct req *r = arg;

	if (r->w->db.in_tx) {
		log_warn("request ended inside a transaction: rolling back");
		db_rollback(r);
	}
}

enum err
db_begin(struct req *r)
{
	enum err e;

	/* Nested: the outer transaction (the mutation wrapper) decides. */
	if (r->w->db.in_tx) {
		r->w->db.depth++;
		return ERR_OK;
	}
	e = simple(r, "BEGIN");

	if (e == ERR_OK) {
		r->w->db.in_tx = true;
		arena_defer(r->a, tx_guard, r);
	}
	return e;
}

enum err
db_commit(struct req *r)
{
	enum err e;

	if (r->w->db.depth > 0) {
		r->w->db.depth--;
		return ERR_OK;
	}
	e = simple(r, "COMMIT");
	r->w->db.in_tx = false;
	return e;
}

void
db_rollback(struct req *r)
{
	if (r->w->db.conn != NULL && r->w->db.in_tx) {
		PGresult *res = PQexec(r->w->db.conn, "ROLLBACK");

		PQclear(res);
	}
	r->w->db.in_tx = false;
	r->w->db.depth = 0;
}

const char *
db_message(struct req *r, const char *fallback)
{
	return r->w->db.message[0] ? r->w->db.message : fallback;
}

const char *
db_constraint(struct req *r)
{
	return r->w->db.constraint;
}

const char *
db_field(struct req *r, const char **why)
{
	if (why != NULL)
		*why = r->w->db.message[0] ? r->w->db.message :
		    strcmp(r->w->db.sqlstate, "23503") == 0 ? "not found" : "not allowed";
	return r->w->db.field;
}

static int
col(PGresult *res, const char *name)
{
	int c = PQfnumber(res, name);

	if (c < 0) {
		log_error("sql result has no column %s", name);
		abort();
	}
	return c;
}

const char *
db_get(PGresult *res, int row, const char *name)
{
	int c = col(res, name);

	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

bool
db_isnull(PGresult *res, int row, const char *name)
{
	return PQgetisnull(res, row, col(res, name));
}
