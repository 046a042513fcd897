/* test_planestats.c - the pool's figures: recording and the Prometheus text. */
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/planestats.h"
#include "unit.h"

static const char *
name(size_t i, void *arg)
{
	static const char *const names[] = {"/healthz", "/{tenant}/api/v1/projects/:id",
	    "/odd\"route\\"};

	(void)arg;
	return names[i];
}

static bool
has(const struct buf *b, const char *line)
{
	return strstr(b->data, line) != NULL;
}

int
main(void)
{
	struct arena       a;
	struct buf         b;
	struct planestats *s = planestats_map(3);
	struct planestats_db_row rows[] = {
		{"jobs_queued", "noop", 2}, {"jobs_oldest_queued_age", "noop", 12.5},
		{"jobs_running", "noop", 0}, {"servers", "online", 3},
	};

	CHECK(s != NULL && s->nroutes == 3, "mapped");
	arena_init(&a, 4096);
	/* 0.0005 s, 0.002 s, 0.02 s and 30 s on /projects/:id; codes 200, 404, 404, 418. */
	planestats_record(s, 1, HTTP_GET, 200, 500, 2);
	planestats_record(s, 1, HTTP_GET, 404, 2000, 1);
	planestats_record(s, 1, HTTP_GET, 404, 20000, 0);
	planestats_record(s, 1, HTTP_GET, 418, 30000000, 0);
	planestats_record(s, -1, HTTP_POST, 405, 100, 0);	/* unmatched */
	planestats_record(s, 2, HTTP_DELETE, 503, 1000, 0);	/* exactly on a bound */
	planestats_busy(s, 3, 1);
	planestats_busy(s, 500, 1);	/* out of range: ignored */
	s->workers = 4;
	s->workers_configured = 4;

	buf_init(&b, &a, 1024, 1 << 20);
	planestats_render(&b, s, name, NULL, rows, sizeof(rows) / sizeof(*rows));
	buf_add(&b, "", 0);
	CHECK(buf_ok(&b), "rendered");
	CHECK(has(&b, "# TYPE launcher_http_requests_total counter\n"), "counter type");
	CHECK(has(&b, "launcher_http_requests_total{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",code=\"200\"} 1\n"),
	    "200 by pattern");
	CHECK(has(&b, "launcher_http_requests_total{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",code=\"404\"} 2\n"),
	    "404 by pattern");
	CHECK(has(&b, ",code=\"4xx\"} 1\n"), "an unlisted code counts under its class");
	CHECK(has(&b, "launcher_http_requests_total{method=\"POST\",route=\"unmatched\",code=\"405\"} 1\n"),
	    "unmatched");
	CHECK(has(&b, "route=\"/odd\\\"route\\\\\",code=\"503\"} 1\n"), "label escaped");
	CHECK(!has(&b, "route=\"/healthz\""), "no series before a request");
	CHECK(has(&b, "# TYPE launcher_http_request_duration_seconds histogram\n"), "histogram type");
	CHECK(has(&b, "_bucket{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",le=\"0.001\"} 1\n"),
	    "first bucket");
	CHECK(has(&b, "_bucket{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",le=\"0.0025\"} 2\n"),
	    "cumulative");
	CHECK(has(&b, "_bucket{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",le=\"10\"} 3\n"),
	    "30 s is above the last bound");
	CHECK(has(&b, "_bucket{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\",le=\"+Inf\"} 4\n"),
	    "+Inf is all");
	CHECK(has(&b, "_count{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\"} 4\n"), "count");
	CHECK(has(&b, "_sum{method=\"GET\",route=\"/{tenant}/api/v1/projects/:id\"} 30.022500\n"), "sum");
	CHECK(has(&b, "_bucket{method=\"DELETE\",route=\"/odd\\\"route\\\\\",le=\"0.001\"} 1\n"),
	    "a bound is inclusive (le)");
	CHECK(has(&b, "launcher_db_round_trips_total 3\n"), "round trips");
	CHECK(has(&b, "launcher_pool_workers 4\n"), "workers");
	CHECK(has(&b, "launcher_pool_workers_busy 1\n"), "busy");
	CHECK(has(&b, "launcher_database_up 1\n"), "database up");
	CHECK(has(&b, "launcher_jobs_queued{kind=\"noop\"} 2\n"), "queued");
	CHECK(has(&b, "launcher_jobs_oldest_queued_age_seconds{kind=\"noop\"} 12.5\n"), "age");
	CHECK(has(&b, "launcher_servers{status=\"online\"} 3\n"), "servers");

	/* The database did not answer: its series are left out, up is 0. */
	buf_init(&b, &a, 1024, 1 << 20);
	planestats_busy(s, 3, 0);
	planestats_render(&b, s, name, NULL, NULL, 0);
	buf_add(&b, "", 0);
	CHECK(has(&b, "launcher_database_up 0\n") && !has(&b, "launcher_servers"), "database down");
	CHECK(has(&b, "launcher_pool_workers_busy 0\n"), "not busy");
	arena_free(&a);
	return unit_done("planestats");
}
