/*
 * traffic.c - API.md §16 an application's traffic: what the edge nginx
 * served for it, aggregated by the agent into 10-second points
 * (fcgi/agent/traffic.h, POST /agent/traffic) and rolled up per minute and
 * hour by launcher-scheduler (sql/039_traffic.sql).
 */
#include "api.h"

#include "../core/db.h"
#include "../core/perm.h"
#include "apps_common.h"

/* The window (?from=&to=&step=, a bad one named in a 400) is the metrics'
 * monitoring_window (sql/038); the buckets app_traffic_series'.  No row =
 * no such application; a row of nulls = no traffic. */
DB_STMT st_traffic_series = {"traffic_series",
    "SELECT p.* FROM applications a CROSS JOIN monitoring_window($2, $3, $4) w"
    " LEFT JOIN LATERAL app_traffic_series(a.id, w.t_from, w.t_to, w.step, w.res) p ON true"
    " WHERE a.id = $1::uuid ORDER BY p.ts"};

/* GET /monitoring/applications/:id/traffic?from=&to=&step= */
static enum err
traffic(struct req *r)
{
	return monitoring_series(r, &st_traffic_series, "application not found");
}

const struct route api_traffic_routes[] = {
	APPS_ROUTE(HTTP_GET, "/monitoring/applications/:id/traffic", traffic, CAP_READ, NULL),
	{0},
};
