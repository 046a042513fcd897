/*
 * launcher_issues.c - groups the error events queued by the ingest route
 * and by crashes (error_events_raw, sql/043) into issues and their
 * occurrences (issues, issue_events), through sql/044's functions as the
 * maintenance role (README "Error tracking: grouping").
 *
 *   launcher-issues -c FILE --once                  group what is queued, then exit
 *   launcher-issues -c FILE --loop [--interval S]   stay: at once on NOTIFY launcher_issues
 *                                                   (an event was queued) and every S
 *                                                   seconds (default issues_interval_seconds,
 *                                                   1: a missed wake-up costs at most that)
 *   --KEY VALUE                                     override a launcher.conf key
 *
 * One transaction per batch: up to issues_batch raw rows and 16 MB of
 * payload taken with FOR UPDATE SKIP LOCKED (issue_raw_take: several
 * processes never take one row twice), fingerprinted here
 * (core/fingerprint.h), then grouped, recorded and deleted in one call
 * (issue_raw_group).  A payload that is not
 * a JSON object becomes an occurrence of the application's issue
 * "Malformed event" (fp_event_malformed): visible, never lost silently.  When
 * the batch's call fails for an event's data (SQLSTATE class 22, 23, 54 or
 * LN4xx), the batch is rolled back and done again one event at a time, each
 * under a savepoint; an event that still fails so is dropped from the queue
 * with a log line (issue_raw_drop), so that one bad row never wedges the
 * queue.  Any other failure (deadlock, serialization, timeout, resources,
 * connection) rolls the batch back for a later try: nothing is dropped.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../core/arena.h"
#include "../core/config.h"
#include "../core/db_conn.h"
#include "../core/fingerprint.h"
#include "../core/helper.h"
#include "../core/log.h"
#include "../core/util.h"

/* Payload bytes of one take (issue_raw_take cuts it there, one row at
 * least): the rest stays queued (its locks end with the transaction) for
 * the next batch. */
#define BATCH_BYTES_MAX (16u << 20)
/* After the empty take that ends a run with work: one more take this much
 * later (a few WAL flushes of a slow disk). */
#define RETAKE_DELAY_US 50000

DB_STMT st_take = {"issue_raw_take",
    "SELECT id, payload FROM launcher.issue_raw_take($1::int, $2::bigint)"};
DB_STMT st_group = {"issue_raw_group", "SELECT launcher.issue_raw_group($1::jsonb)"};
DB_STMT st_drop = {"issue_raw_drop", "SELECT launcher.issue_raw_drop($1::bigint)"};

struct issues {
	struct helper_args args;
	struct arena       arena;	/* a batch's fingerprint strings, reset after it */
};

/* A batch's outcome. */
enum batch { BATCH_EMPTY, BATCH_DONE, BATCH_REFUSED, BATCH_BROKEN };

static void
add_str(cJSON *o, const char *key, const char *v)
{
	cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

/* The item issue_raw_group records for raw row id (digits, from the
 * database) with payload. */
static cJSON *
item_of(struct arena *a, const char *id, const char *payload)
{
	cJSON          *ev = cJSON_Parse(payload), *it = cJSON_CreateObject();
	struct fp_event e;

	if (ev == NULL || fp_event_read(a, ev, &e) != 0)
		fp_event_malformed(a, payload, &e);
	cJSON_AddItemToObject(it, "raw_id", cJSON_CreateRaw(id));
	add_str(it, "fingerprint", e.fingerprint);
	add_str(it, "title", e.title);
	add_str(it, "culprit", e.culprit);
	add_str(it, "level", e.level);
	add_str(it, "message", e.message);
	add_str(it, "release", e.release);
	add_str(it, "environment", e.environment);
	if (e.timestamp > 0)
		cJSON_AddNumberToObject(it, "occurred_at", e.timestamp);
	cJSON_AddItemToObject(it, "data", e.data);
	cJSON_Delete(ev);	/* after: e's strings may point into it */
	return it;
}

/* Runs issue_raw_group over items.  ERR_OK with *n the occurrences recorded. */
static enum err
group(struct db_conn *c, cJSON *items, long *n)
{
	char       *text = cJSON_PrintUnformatted(items);
	const char *p[1] = {text};
	PGresult   *res;
	enum err    e;

	if (text == NULL)
		return ERR_INTERNAL;
	e = db_conn_exec(c, &st_group, 1, p, &res);
	cJSON_free(text);
	if (e == ERR_OK) {
		int64_t k;

		if (util_parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &k) == 0)
			*n += (long)k;
		PQclear(res);
	}
	return e;
}

/*
 * Whether the database refused the call for its data (SQLSTATE class 22
 * data exception, 23 integrity constraint, 54 program limit - a value too
 * large or too deep -, or our own functions' LN4xx): doing it again would
 * fail again.  Anything else (a deadlock or serialization failure, a
 * statement timeout, out of resources, a lost connection) is the
 * database's state: the batch is done again later.
 */
static bool
refused_for_data(const char *state)
{
	return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
	    strncmp(state, "54", 2) == 0 || strncmp(state, "LN4", 3) == 0;
}

/* One event under a savepoint; when it is refused for its data, dropped
 * from the queue (logged).  0, or -1 when the database failed otherwise
 * (the batch is rolled back and done again later). */
static int
one(struct db_conn *c, cJSON *item, const char *id, long *n)
{
	cJSON      *list = cJSON_CreateArray();
	const char *p[1] = {id};
	PGresult   *res;
	enum err    e;

	cJSON_AddItemToArray(list, item);
	if (db_conn_simple(c, "SAVEPOINT ev") != ERR_OK) {
		cJSON_Delete(list);
		return -1;
	}
	e = group(c, list, n);
	cJSON_Delete(list);
	if (e == ERR_OK)
		return db_conn_simple(c, "RELEASE SAVEPOINT ev") == ERR_OK ? 0 : -1;
	if (e == ERR_UNAVAILABLE || !refused_for_data(c->sqlstate)) {
		log_warn("raw error event %s not grouped (SQLSTATE %s): its batch is done again later",
		    id, c->sqlstate);
		return -1;
	}
	/* SQLSTATE and constraint only: the server's text quotes the row. */
	log_warn("raw error event %s dropped: the database refused it (SQLSTATE %s%s%s)", id,
	    c->sqlstate, c->constraint[0] ? ", constraint " : "", c->constraint);
	if (db_conn_simple(c, "ROLLBACK TO SAVEPOINT ev") != ERR_OK ||
	    db_conn_exec(c, &st_drop, 1, p, &res) != ERR_OK)
		return -1;
	PQclear(res);
	return 0;
}

/*
 * Takes a batch and records it in one transaction (one_by_one: each event
 * under its own savepoint).
 */
static enum batch
batch(struct db_conn *c, struct issues *ctx, bool one_by_one)
{
	char        lim[24], max[24];
	const char *p[2] = {lim, max};
	PGresult   *res = NULL;
	cJSON      *items = NULL;
	long        n = 0;
	int         rows, i;
	enum batch  out = BATCH_BROKEN;

	util_snprintf(lim, sizeof(lim), "%lld", (long long)ctx->args.cfg.issues_batch);
	util_snprintf(max, sizeof(max), "%u", BATCH_BYTES_MAX);
	if (db_conn_simple(c, "BEGIN") != ERR_OK)
		return BATCH_BROKEN;
	if (db_conn_exec(c, &st_take, 2, p, &res) != ERR_OK) {
		log_error("issue_raw_take failed: %s", db_conn_error(c));
		goto out;
	}
	if ((rows = PQntuples(res)) == 0) {
		out = db_conn_simple(c, "COMMIT") == ERR_OK ? BATCH_EMPTY : BATCH_BROKEN;
		goto out;
	}
	items = cJSON_CreateArray();
	for (i = 0; i < rows; i++) {
		const char *id = PQgetvalue(res, i, 0), *payload = PQgetvalue(res, i, 1);
		cJSON      *it = item_of(&ctx->arena, id, payload);

		if (!one_by_one)
			cJSON_AddItemToArray(items, it);
		else if (one(c, it, id, &n) != 0)
			goto out;
	}
	if (!one_by_one) {
		enum err e = group(c, items, &n);

		if (e == ERR_UNAVAILABLE || (e != ERR_OK && !refused_for_data(c->sqlstate))) {
			log_warn("a batch of %d raw error events failed (SQLSTATE %s); done again later",
			    i, c->sqlstate);
			goto out;
		}
		if (e != ERR_OK) {
			log_warn("a batch of %d raw error events was refused (SQLSTATE %s%s%s); "
			    "again one by one", i, c->sqlstate, c->constraint[0] ? ", constraint " : "",
			    c->constraint);
			out = db_conn_simple(c, "ROLLBACK") == ERR_OK ? BATCH_REFUSED : BATCH_BROKEN;
			goto out;
		}
	}
	if (db_conn_simple(c, "COMMIT") != ERR_OK) {
		log_error("committing a batch of raw error events failed: %s", db_conn_error(c));
		goto out;
	}
	log_debug("%d raw error events grouped: %ld occurrences recorded", i, n);
	out = BATCH_DONE;
out:
	if (out == BATCH_BROKEN && db_conn_ok(c))
		(void)db_conn_simple(c, "ROLLBACK");
	PQclear(res);
	cJSON_Delete(items);
	arena_reset(&ctx->arena);
	return out;
}

/* helper_loop's run: groups everything queued.  0, or 1 when the database
 * failed. */
static int
run(struct db_conn *c, void *ud)
{
	struct issues *ctx = ud;
	bool           worked = false;

	while (!helper_stop) {
		enum batch b = batch(c, ctx, false);

		if (b == BATCH_REFUSED)
			b = batch(c, ctx, true);
		if (b == BATCH_BROKEN || b == BATCH_REFUSED)
			return 1;
		if (b == BATCH_DONE)
			worked = true;
		else if (!worked)
			return 0;
		else {
			/* The ingest sends no NOTIFY while the queue holds rows
			 * (sql/043 error_queue_idle): an event that saw this
			 * batch's rows may commit just after the empty take.
			 * One more take a moment later finds it; a later one
			 * still waits for the fallback interval. */
			worked = false;
			usleep(RETAKE_DELAY_US);
		}
	}
	return 0;
}

/* Keys a --KEY VALUE flag may override; never a database URL (argv is
 * world-readable). */
static const char *const flag_keys[] = {"issues_lock_file", "issues_batch",
	"issues_interval_seconds", "log_level"};

int
main(int argc, char **argv)
{
	struct issues ctx;
	int           rc, lock;

	db_conn_check_names();
	if ((rc = helper_args_parse(&ctx.args, argc, argv, "launcher-issues", flag_keys,
	    sizeof(flag_keys) / sizeof(*flag_keys), false)) != 0)
		return rc;
	/* helper_args' default interval (60 s) is not this helper's: a wake-up
	 * missed (a NOTIFY lost with a broken connection, a queue filled while
	 * a batch ran past its take) would wait that long. */
	if (!ctx.args.interval_given)
		ctx.args.interval = ctx.args.cfg.issues_interval_seconds;
	helper_lock_default(ctx.args.cfg.issues_lock_file, sizeof(ctx.args.cfg.issues_lock_file),
	    &ctx.args.cfg, "issues");
	if (sodium_init() < 0) {
		fprintf(stderr, "launcher-issues: libsodium did not initialise\n");
		return 1;
	}
	if ((lock = helper_lock_take(ctx.args.cfg.issues_lock_file)) == -2) {
		log_info("another launcher-issues holds %s; nothing to do", ctx.args.cfg.issues_lock_file);
		return 0;
	}
	if (lock < 0)
		return 1;
	helper_stop_on_signals();
	signal(SIGPIPE, SIG_IGN);
	arena_init(&ctx.arena, 1 << 16);
	if (ctx.args.once) {
		struct db_conn c = {0};

		if (db_conn_open(&c, ctx.args.cfg.maintenance_database_url, NULL) != ERR_OK) {
			log_error("database unavailable");
			rc = 1;
		} else {
			rc = run(&c, &ctx);
			db_conn_close(&c);
		}
	} else
		rc = helper_loop(ctx.args.cfg.maintenance_database_url, "launcher_issues",
		    ctx.args.interval, &helper_stop, run, &ctx);
	arena_free(&ctx.arena);
	close(lock);
	return rc;
}
