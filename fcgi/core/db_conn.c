/*
 * db_conn.c - libpq behind one connection: lazy prepared statements with a
 * process-wide name check, the simple protocol, pipelines, and SQLSTATE ->
 * enum err (see db_conn.h).
 */
#include "db_conn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void
notice_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

bool
db_conn_ok(const struct db_conn *c)
{
	return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
}

void
db_conn_close(struct db_conn *c)
{
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
	memset(c->prepared, 0, sizeof(c->prepared));
}

enum err
db_conn_open(struct db_conn *c, const char *url, const char *setup)
{
	db_conn_close(c);
	c->pg = PQconnectdb(url);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		log_warn("database connection failed");
		db_conn_close(c);
		return ERR_UNAVAILABLE;
	}
	PQsetNoticeProcessor(c->pg, notice_quiet, NULL);
	if (setup != NULL && db_conn_simple(c, setup) != ERR_OK) {
		log_error("database session setup failed");
		db_conn_close(c);
		return ERR_UNAVAILABLE;
	}
	return ERR_OK;
}

const char *
db_conn_error(const struct db_conn *c)
{
	return c->pg != NULL ? PQerrorMessage(c->pg) : "no database connection\n";
}

/* ---- statement names: one SQL text per name in the process ---------- */

#define NAMES_MAX 2048

static const struct db_stmt *names[NAMES_MAX];

static size_t
name_slot(const char *name)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % NAMES_MAX);
}

/*
 * The statement that owns st's name (st itself the first time).  Two
 * declarations of one name with the same SQL are one statement; with
 * different SQL they are a bug that would run the wrong statement on some
 * connections: abort loudly.
 */
static const struct db_stmt *
name_owner(const struct db_stmt *st)
{
	for (size_t i = name_slot(st->name), k = 0; k < NAMES_MAX; k++, i = (i + 1) % NAMES_MAX) {
		if (names[i] == NULL) {
			names[i] = st;
			return st;
		}
		if (names[i] == st)
			return st;
		if (strcmp(names[i]->name, st->name) == 0) {
			if (strcmp(names[i]->sql, st->sql) != 0) {
				log_error("sql %s: two different statements share this name", st->name);
				abort();
			}
			return names[i];
		}
	}
	log_error("sql %s: more than %d statement names", st->name, NAMES_MAX);
	abort();
}

/* Every DB_STMT of the binary, put there by the linker. */
extern const struct db_stmt __start_launcher_db_stmt[] __attribute__((weak));
extern const struct db_stmt __stop_launcher_db_stmt[] __attribute__((weak));

void
db_conn_check_names(void)
{
	for (const struct db_stmt *st = __start_launcher_db_stmt; st < __stop_launcher_db_stmt; st++)
		(void)name_owner(st);
}

/* ---- prepared statements of one connection --------------------------- */

static size_t
slot_of(const struct db_stmt *st)
{
	return ((uintptr_t)st >> 4) % DB_PREPARED_MAX;
}

static bool
prepared_has(const struct db_conn *c, const struct db_stmt *st)
{
	for (size_t i = slot_of(st), k = 0; k < DB_PREPARED_MAX; k++, i = (i + 1) % DB_PREPARED_MAX) {
		if (c->prepared[i] == st)
			return true;
		if (c->prepared[i] == NULL)
			return false;
	}
	return false;
}

static void
prepared_add(struct db_conn *c, const struct db_stmt *st)
{
	for (size_t i = slot_of(st), k = 0; k < DB_PREPARED_MAX; k++, i = (i + 1) % DB_PREPARED_MAX)
		if (c->prepared[i] == NULL) {
			c->prepared[i] = st;
			return;
		}
}

/* ---- SQLSTATE -> enum err (here and nowhere else) -------------------- */

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
	if (strcmp(state, "LN429") == 0)
		return ERR_TOO_MANY_REQUESTS;
	return ERR_INTERNAL;
}

/*
 * c->field from c->constraint: <table>_<column>_fkey (23503) or
 * <table>_<column>_check (23514) on the table the error names
 * (sql/016_tenant_keys.sql's naming rule).
 */
static void
constraint_field(struct db_conn *c, const char *state, const char *table)
{
	const char *suffix = NULL;
	size_t      tl, cl, sl;

	c->field[0] = '\0';
	if (state != NULL && strcmp(state, "23503") == 0)
		suffix = "_fkey";
	else if (state != NULL && strcmp(state, "23514") == 0)
		suffix = "_check";
	if (suffix == NULL || table == NULL)
		return;
	tl = strlen(table);
	cl = strlen(c->constraint);
	sl = strlen(suffix);
	if (cl <= tl + 1 + sl || strncmp(c->constraint, table, tl) != 0 ||
	    c->constraint[tl] != '_' || strcmp(c->constraint + cl - sl, suffix) != 0)
		return;
	memcpy(c->field, c->constraint + tl + 1, cl - tl - 1 - sl);
	c->field[cl - tl - 1 - sl] = '\0';
}

static enum err
classify(struct db_conn *c, PGresult *res, const char *name)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	const char *column = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
	enum err    e;

	util_snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
	if (util_snprintf(c->constraint, sizeof(c->constraint), "%s", cons ? cons : "") < 0)
		c->constraint[0] = '\0';
	constraint_field(c, state, PQresultErrorField(res, PG_DIAG_TABLE_NAME));
	c->message[0] = '\0';
	/* Only our own raised errors (LNxxx, P0002) carry a message for users,
	 * and the request field it is about in COLUMN. */
	if (state != NULL && (strncmp(state, "LN", 2) == 0 || strcmp(state, "P0002") == 0)) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		if (util_snprintf(c->message, sizeof(c->message), "%s", m ? m : "") < 0)
			c->message[0] = '\0';
		if (util_snprintf(c->field, sizeof(c->field), "%s", column ? column : "") < 0)
			c->field[0] = '\0';
	}
	if (!db_conn_ok(c)) {
		log_error("sql %s: connection lost", name);
		return ERR_UNAVAILABLE;
	}
	if (state == NULL) {
		log_error("sql %s: failed without SQLSTATE", name);
		return ERR_INTERNAL;
	}
	if ((e = db_classify_sqlstate(state)) == ERR_INTERNAL)
		log_error("sql %s: SQLSTATE %s", name, state);
	return e;
}

/* Nothing of an earlier failure applies any more. */
static void
succeeded(struct db_conn *c)
{
	c->sqlstate[0] = '\0';
	c->constraint[0] = '\0';
	c->field[0] = '\0';
	c->message[0] = '\0';
}

/* Prepares st on this connection unless it already is. */
static enum err
ensure_prepared(struct db_conn *c, const struct db_stmt *st)
{
	const struct db_stmt *own;
	PGresult             *res;
	enum err              e;

	if (prepared_has(c, st))
		return ERR_OK;
	own = name_owner(st);	/* before anything else: a duplicate aborts */
	if (!db_conn_ok(c))
		return ERR_UNAVAILABLE;
	if (own != st && prepared_has(c, own)) {
		prepared_add(c, st);
		return ERR_OK;
	}
	c->round_trips++;
	res = PQprepare(c->pg, st->name, st->sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		e = classify(c, res, st->name);
		PQclear(res);
		if (e == ERR_UNAVAILABLE)
			return e;
		log_error("sql %s: prepare failed", st->name);
		return ERR_INTERNAL;
	}
	PQclear(res);
	prepared_add(c, st);
	if (own != st)
		prepared_add(c, own);
	return ERR_OK;
}

enum err
db_conn_exec(struct db_conn *c, const struct db_stmt *st, int n, const char *const *params,
    PGresult **out)
{
	PGresult *res;
	enum err  e;

	if (out != NULL)
		*out = NULL;
	if ((e = ensure_prepared(c, st)) != ERR_OK)
		return e;
	c->round_trips++;
	res = PQexecPrepared(c->pg, st->name, n, params, NULL, NULL, 0);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		succeeded(c);
		if (out != NULL)
			*out = res;
		else
			PQclear(res);
		return ERR_OK;
	default:
		e = classify(c, res, st->name);
		PQclear(res);
		return e;
	}
}

enum err
db_conn_pipeline(struct db_conn *c, size_t n, const struct db_call *calls, PGresult **outs)
{
	enum err e = ERR_OK;
	size_t   i;

	for (i = 0; i < n; i++)
		outs[i] = NULL;
	for (i = 0; i < n; i++)
		if ((e = ensure_prepared(c, calls[i].st)) != ERR_OK)
			return e;
	if (PQenterPipelineMode(c->pg) != 1)
		return ERR_INTERNAL;
	c->round_trips++;
	for (i = 0; i < n; i++)
		if (PQsendQueryPrepared(c->pg, calls[i].st->name, calls[i].n, calls[i].params,
		    NULL, NULL, 0) != 1)
			break;
	if (i < n || PQpipelineSync(c->pg) != 1) {
		log_error("sql pipeline: send failed");
		db_conn_close(c);
		return ERR_UNAVAILABLE;
	}
	/* One result (then NULL) per statement, then the sync marker. */
	for (i = 0; i < n; i++) {
		PGresult *res = PQgetResult(c->pg), *end;

		if (res == NULL) {
			e = ERR_UNAVAILABLE;
			break;
		}
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			outs[i] = res;
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(res);
			if (e == ERR_OK)
				e = ERR_INTERNAL;
			break;
		default:
			if (e == ERR_OK)
				e = classify(c, res, calls[i].st->name);
			PQclear(res);
		}
		while ((end = PQgetResult(c->pg)) != NULL)
			PQclear(end);
	}
	for (;;) {
		PGresult *res = PQgetResult(c->pg);

		if (res == NULL) {
			if (PQstatus(c->pg) != CONNECTION_OK)
				break;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		for (i = 0; i < n; i++) {
			PQclear(outs[i]);
			outs[i] = NULL;
		}
		return ERR_UNAVAILABLE;
	}
	PQexitPipelineMode(c->pg);
	if (e == ERR_OK)
		succeeded(c);
	else
		for (i = 0; i < n; i++) {
			/* The caller sees the error, never half the results. */
			PQclear(outs[i]);
			outs[i] = NULL;
		}
	return e;
}

enum err
db_conn_simple(struct db_conn *c, const char *sql)
{
	PGresult *res;
	enum err  e;

	if (!db_conn_ok(c))
		return ERR_UNAVAILABLE;
	c->round_trips++;
	res = PQexec(c->pg, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		succeeded(c);
		return ERR_OK;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* COMMIT of a transaction that an ignored error aborted answers
		 * "ROLLBACK" with success: that is a failure to the caller (a
		 * ROLLBACK [TO SAVEPOINT] asked for answers it too). */
		e = strcmp(PQcmdStatus(res), "ROLLBACK") == 0 && strncmp(sql, "ROLLBACK", 8) != 0 ?
		    ERR_INTERNAL : ERR_OK;
		if (e != ERR_OK)
			log_error("sql %s: the transaction had failed and was rolled back", sql);
		else
			succeeded(c);
		PQclear(res);
		return e;
	}
	e = classify(c, res, strlen(sql) < 40 ? sql : "(script)");
	PQclear(res);
	return e;
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
