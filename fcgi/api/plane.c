/*
 * plane.c - GET /metrics: the plane's own figures in the Prometheus text
 * exposition format (README "Plane metrics"), outside any tenant.
 *
 * Request counts, latency histograms, workers and database round trips
 * come from the pool's shared segment (core/planestats.h), so any worker
 * answers with the totals of the pool; the job queue and the servers by
 * status come from one statement, launcher.plane_metrics() (sql/042),
 * run by the scrape alone.  No credentials: nginx serves the location to
 * 127.0.0.1 only (conf/nginx/locations.conf.in).
 */
#include "api.h"

#include <stdint.h>

#include "../core/buf.h"
#include "../core/db.h"
#include "../core/planestats.h"
#include "../core/router.h"
#include "../core/util.h"
#include "../core/worker.h"

DB_STMT st_plane_metrics = {"plane_metrics",
    "SELECT series, label, value FROM plane_metrics()"};

/* The route's pattern as clients see it (tenant routes under their prefix). */
static const char *
route_name(size_t i, void *arg)
{
	struct req         *r = arg;
	const struct route *rt = router_at(i);

	if (rt == NULL)
		return "unmatched";
	if (rt->flags & ROUTE_GLOBAL)
		return rt->pattern;
	return arena_printf(r->a, "/{tenant}/api/v1%s", rt->pattern);
}

static enum err
plane_metrics(struct req *r)
{
	struct planestats_db_row *rows = NULL;
	PGresult                 *res = NULL;
	struct buf                b;
	size_t                    n = 0;

	if (r->w->stats == NULL)
		return http_error(r, ERR_UNAVAILABLE, "the pool's figures are not available");
	/* Without the database the pool's own figures still answer. */
	if (db_run0(r, &st_plane_metrics, &res) == ERR_OK) {
		n = (size_t)PQntuples(res);
		rows = arena_alloc(r->a, (n ? n : 1) * sizeof(*rows));
		for (size_t i = 0; i < n; i++) {
			int64_t v = 0;

			rows[i].series = PQgetvalue(res, (int)i, 0);
			rows[i].label = PQgetvalue(res, (int)i, 1);
			(void)util_parse_i64(PQgetvalue(res, (int)i, 2), 0, INT64_MAX, &v);
			rows[i].value = (double)v;
		}
	}
	buf_init(&b, r->a, 64 * 1024, 16 << 20);
	planestats_render(&b, r->w->stats, route_name, r, rows, n);
	if (!buf_ok(&b))
		return http_error(r, ERR_INTERNAL, "internal error");
	return http_respond_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

const struct route api_plane_routes[] = {
	{.methods = HTTP_GET, .pattern = "/metrics", .fn = plane_metrics, .flags = ROUTE_GLOBAL},
	{0},
};
