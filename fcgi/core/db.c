/*
 * db.c - the request's side of the SQL layer (db.h): the worker's
 * connection on top of db_conn.c, reconnection, transactions, results in
 * the request arena.
 */
#include "db.h"

#include <stdint.h>
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
	db_conn_close(&db->conn);
	db->in_tx = false;
	db->depth = 0;
	db->tenant_id[0] = db->tenant_ref[0] = '\0';
	db->held_id[0] = db->held_ref[0] = '\0';
	sodium_memzero(db->nonce, sizeof(db->nonce));
}

/*
 * A safe search_path and UTC timestamps, right after connecting.  Plans
 * are generic: every statement is prepared once per connection and written
 * for index access, and a custom plan per call (what the default chooses
 * for optional-filter statements like the lists) costs more planning than
 * executing.  random_page_cost is the usual value for SSDs (PostgreSQL's
 * default of 4 assumes spinning disks): a generic plan cannot know a
 * tenant's size, and at 4 it paged a large tenant's list by a bitmap scan
 * of every row after the cursor plus a sort, where the ordered index scan
 * stops at the limit (tests/api/test_lists.py).  LISTEN launcher_tenants:
 * see forget_tenant() below.
 */
static const char session_setup[] =
    "LISTEN launcher_tenants;"
    " SELECT pg_catalog.set_config('search_path', 'launcher', false),"
    " pg_catalog.set_config('TimeZone', 'UTC', false),"
    " pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', false),"
    " pg_catalog.set_config('random_page_cost', '1.1', false)";

enum err
db_ensure(struct worker *w)
{
	DB_STMT st_bind = {"db_session_bind",
	    "SELECT launcher.session_bind($1)"};
	DB_STMT st_quotas = {"db_session_settings",
	    "SELECT pg_catalog.set_config('launcher.quota_defaults', $1, false),"
	    " pg_catalog.set_config('launcher.public_url', $2, false)"};
	struct db *db = &w->db;
	char       quotas[160];
	int64_t    now;
	uint64_t   connects;

	if (db_conn_ok(&db->conn))
		return ERR_OK;
	now = now_ms();
	connects = planestats_db_connects(w->stats);
	/* Do not hammer a database that is down: answer 503 fast, until the
	 * interval is over or another worker got through since our attempt
	 * (it is back: no client of ours should meet a 503 then). */
	if (db->last_attempt_ms != 0 &&
	    now - db->last_attempt_ms < w->cfg->db_reconnect_interval_ms &&
	    connects == db->connects_seen)
		return ERR_UNAVAILABLE;
	db_close(db);
	db->last_attempt_ms = now;
	db->connects_seen = connects;
	if (db_conn_open(&db->conn, w->cfg->database_url, session_setup) != ERR_OK) {
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	/* The session's nonce (db.h), before any request can run a statement,
	 * and the installation's quota defaults (config quota_*), read by the
	 * quota trigger for tenants without their own limit (sql/018), and
	 * its public URL, which app_webhook_url() (sql/027) starts with. */
	if (crypto_token(db->nonce, sizeof(db->nonce), "", 43) != 0 ||
	    util_snprintf(quotas, sizeof(quotas), "{\"projects\": %lld, \"applications\": %lld,"
	    " \"databases\": %lld}", (long long)w->cfg->quota_projects,
	    (long long)w->cfg->quota_applications, (long long)w->cfg->quota_databases) < 0) {
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	if (db_conn_exec(&db->conn, &st_bind, 1, (const char *const[]){db->nonce}, NULL) != ERR_OK ||
	    db_conn_exec(&db->conn, &st_quotas, 2, (const char *const[]){quotas,
	    w->cfg->public_url}, NULL) != ERR_OK) {
		log_error("database session setup failed (is migration 015 applied?)");
		db_close(db);
		return ERR_UNAVAILABLE;
	}
	db->last_attempt_ms = 0;	/* a later failure may reconnect at once */
	planestats_db_connected(w->stats);
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

	if (db->conn.pg == NULL)
		return;
	while ((n = PQnotifies(db->conn.pg)) != NULL) {
		PQfreemem(n);
		any = true;
	}
	if (any) {
		db->notified++;
		db->tenant_id[0] = db->tenant_ref[0] = '\0';
	}
}

/*
 * After a round trip that returned e: a lost connection is closed, and
 * true means "run it again on a fresh one" (once, never inside a
 * transaction: the server went away while this connection sat idle).
 */
static bool
again(struct db *db, enum err e, bool *retried)
{
	bool retry;

	forget_tenant(db);
	if (e != ERR_UNAVAILABLE)
		return false;
	retry = !db_conn_ok(&db->conn) && !db->in_tx && !*retried;
	db_close(db);
	if (retry) {
		db->last_attempt_ms = 0;
		*retried = true;
	}
	return retry;
}

enum err
db_exec(struct req *r, const struct db_stmt *st, int n, const char *const *params,
    PGresult **out)
{
	struct db *db = &r->w->db;
	bool       retried = false;
	enum err   e;

	r->fail.e = ERR_OK;	/* a detail of an earlier call no longer applies */
	do {
		if ((e = db_ensure(r->w)) != ERR_OK)
			return e;
		e = db_conn_exec(&db->conn, st, n, params, out);
	} while (again(db, e, &retried));
	if (e == ERR_OK && out != NULL)
		arena_defer(r->a, (arena_cleanup_fn)PQclear, *out);
	return e;
}

enum err
db_object(struct req *r, const struct db_stmt *st, int n, const char *const *params,
    const char *not_found, PGresult **out)
{
	enum err e;

	if ((e = db_exec(r, st, n, params, out)) != ERR_OK)
		return e;
	if (PQntuples(*out) != 1)
		return req_fail(r, ERR_NOT_FOUND, not_found);
	if (PQfnumber(*out, "_version") >= 0)
		http_etag(r, db_get(*out, 0, "_version"));
	return ERR_OK;
}

enum err
db_pipeline(struct req *r, size_t n, const struct db_call *calls, PGresult **outs)
{
	struct db *db = &r->w->db;
	bool       retried = false;
	enum err   e;

	r->fail.e = ERR_OK;
	do {
		if ((e = db_ensure(r->w)) != ERR_OK)
			return e;
		e = db_conn_pipeline(&db->conn, n, calls, outs);
	} while (again(db, e, &retried));
	for (size_t i = 0; i < n; i++)
		if (outs[i] != NULL)
			arena_defer(r->a, (arena_cleanup_fn)PQclear, outs[i]);
	return e;
}

/* sql (a constant, no parameters) over the simple query protocol. */
static enum err
simple(struct req *r, const char *sql)
{
	struct db *db = &r->w->db;
	enum err   e;

	if ((e = db_ensure(r->w)) != ERR_OK)
		return e;
	e = db_conn_simple(&db->conn, sql);
	forget_tenant(db);
	if (e == ERR_UNAVAILABLE)
		db_close(db);
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
	if (r->w->db.in_tx)
		(void)db_conn_simple(&r->w->db.conn, "ROLLBACK");
	r->w->db.in_tx = false;
	r->w->db.depth = 0;
}

const char *
db_project_of(struct req *r, const struct db_stmt *st, const char *resource)
{
	PGresult *res;

	r->resource = resource;
	if (db_run(r, st, &res, http_param(r, "id")) != ERR_OK || PQntuples(res) != 1)
		return NULL;
	return arena_strdup(r->a, db_get(res, 0, "project_id"));
}

enum err
db_respond_object(struct req *r, const struct db_stmt *st, const char *not_found, const char *id,
    int status)
{
	PGresult *res;
	enum err  e;

	if ((e = db_object(r, st, 1, (const char *const[]){id}, not_found, &res)) != ERR_OK)
		return e;
	return http_respond_row(r, status, res, 0);
}

enum err
db_delete(struct req *r, const struct db_stmt *st, const char *what, const char *extra)
{
	const char *version;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	e = extra != NULL ? db_run(r, st, &res, http_param(r, "id"), version, extra) :
	    db_run(r, st, &res, http_param(r, "id"), version);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || strcmp(PQgetvalue(res, 0, 0), "f") == 0)
		return http_changed(r, what);
	return http_no_content(r);
}

enum err
db_missed(struct req *r, const struct db_stmt *exists, const char *id, const char *what,
    const char *not_found)
{
	PGresult *res;
	enum err  e;

	if (exists != NULL && (e = db_get_object(r, exists, &res, not_found, id)) != ERR_OK)
		return e;
	return http_changed(r, what);
}

enum err
db_update(struct req *r, const struct db_update *u, const char *id, const char *body,
    const char *version)
{
	PGresult *res;
	enum err  e = db_run(r, u->st, &res, id, body, version);

	/* A unique key's conflict is u->taken; a 409 the database raised
	 * itself (LN409) keeps its message and field. */
	if (e == ERR_CONFLICT && db_message(r, NULL) == NULL)
		return http_error(r, e, u->taken);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return db_missed(r, u->exists, id, u->what, u->not_found);
	return ERR_OK;
}

const char *
db_message(struct req *r, const char *fallback)
{
	return r->w->db.conn.message[0] ? r->w->db.conn.message : fallback;
}

const char *
db_constraint(struct req *r)
{
	return r->w->db.conn.constraint;
}

const char *
db_field(struct req *r, const char **why)
{
	const struct db_conn *c = &r->w->db.conn;

	if (why != NULL)
		*why = c->message[0] ? c->message :
		    strcmp(c->sqlstate, "23503") == 0 ? "not found" : "not allowed";
	return c->field;
}
