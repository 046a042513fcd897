/*
 * test_data_layer.c - the data layer (json, perm, db) never answers: a
 * refusal comes back as enum err with its detail recorded in the request
 * (r->fail), which the router alone turns into the answer.  And a worker
 * whose database is down tries again after db_reconnect_interval_ms, or
 * at once when another worker of the pool connected since (db_ensure).
 */
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/http.h"
#include "core/json.h"
#include "core/perm.h"
#include "core/planestats.h"
#include "core/util.h"
#include "core/worker.h"
#include "unit.h"

static const struct field fields[] = {
	{"name", F_STRING, true, false, 1, 10, NULL},
	{"count", F_INT, false, false, 0, 5, NULL},
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* db_ensure's attempts against a database that is down (no socket there):
 * an attempt is seen as a new last_attempt_ms. */
static void
reconnect_wait(void)
{
	static struct config cfg;
	struct worker        w;
	int64_t              t;

	config_defaults(&cfg);
	util_snprintf(cfg.database_url, sizeof(cfg.database_url),
	    "host=/nonexistent/launcher-unit port=1 dbname=x connect_timeout=1");
	cfg.db_reconnect_interval_ms = 60000;
	memset(&w, 0, sizeof(w));
	w.cfg = &cfg;
	w.stats = planestats_map(1);
	CHECK(w.stats != NULL, "the pool's shared figures are mapped");
	if (w.stats == NULL)
		return;
	CHECK(db_ensure(&w) == ERR_UNAVAILABLE && w.db.last_attempt_ms != 0, "down: 503, attempt made");
	t = w.db.last_attempt_ms;
	sleep_ms(5);
	CHECK(db_ensure(&w) == ERR_UNAVAILABLE && w.db.last_attempt_ms == t,
	    "within the interval: 503 at once, no attempt");
	planestats_db_connected(w.stats);	/* another worker got through */
	sleep_ms(5);
	CHECK(db_ensure(&w) == ERR_UNAVAILABLE && w.db.last_attempt_ms > t,
	    "another worker connected since: an attempt at once, interval or not");
	t = w.db.last_attempt_ms;
	sleep_ms(5);
	CHECK(db_ensure(&w) == ERR_UNAVAILABLE && w.db.last_attempt_ms == t,
	    "and then the interval again (that connect counted once)");
	CHECK(planestats_db_connects(w.stats) == 1 && planestats_db_connects(NULL) == 0,
	    "the pool's count of connects");
	db_close(&w.db);
}

int
main(void)
{
	struct arena     a;
	struct req       r;
	struct field_val v[2];
	const cJSON     *d;

	arena_init(&a, 4096);
	memset(&r, 0, sizeof(r));
	r.a = &a;
	r.json = cJSON_Parse("{\"count\": 9}");
	CHECK(json_fields(&r, fields, 2, v) == ERR_BAD_REQUEST, "bad body is ERR_BAD_REQUEST");
	CHECK(!r.responded, "json_fields does not answer");
	CHECK(r.fail.e == ERR_BAD_REQUEST && r.fail.message != NULL &&
	    strcmp(r.fail.message, "invalid request body") == 0, "json_fields records the message");
	d = r.fail.details;
	CHECK(cJSON_GetArraySize(d) == 2 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "field")->valuestring, "name") == 0 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 1), "field")->valuestring, "count") == 0,
	    "json_fields records every bad field as details");
	cJSON_Delete(r.json);

	memset(&r, 0, sizeof(r));
	r.a = &a;
	CHECK(perm_project(&r, "not-a-uuid", CAP_READ) == ERR_NOT_FOUND, "bad project id is 404");
	CHECK(!r.responded && r.fail.e == ERR_NOT_FOUND &&
	    strcmp(r.fail.message, "project not found") == 0, "perm_project records, not answers");
	r.resource = "application";
	CHECK(perm_project(&r, NULL, CAP_WRITE) == ERR_NOT_FOUND && !r.responded &&
	    strcmp(r.fail.message, "application not found") == 0, "the 404 names the route's resource");
	arena_free(&a);
	reconnect_wait();
	return unit_done("data-layer");
}
