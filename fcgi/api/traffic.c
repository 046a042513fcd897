/*
 * traffic.c - API.md §16 an application's traffic: what the edge nginx
 * served for it, aggregated by the agent into 10-second points
 * (fcgi/agent/traffic.h, POST /agent/traffic) and rolled up per minute and
 * hour by launcher-scheduler (sql/039_traffic.sql).
 */
#include "api.h"

#include <stdint.h>
#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "apps_common.h"

/* The resolution and the buckets are the SQL function's (it names the
 * field of a range it refuses). */
DB_STMT st_traffic_series = {"traffic_series",
    "SELECT * FROM app_traffic_series($1::uuid, $2::timestamptz, $3::timestamptz, $4::int)"};

#define STEP_MIN 10
#define STEP_MAX 86400

/* GET /monitoring/applications/:id/traffic?from=&to=&step= */
static enum err
traffic(struct req *r)
{
	const char *from, *to, *step = http_query(r, "step");
	int64_t     s;
	PGresult   *res;
	enum err    e;

	if ((e = api_time_query(r, "from", &from)) != ERR_OK ||
	    (e = api_time_query(r, "to", &to)) != ERR_OK)
		return e;
	if (step != NULL && *step == '\0')
		step = NULL;
	if (step != NULL && util_parse_i64(step, STEP_MIN, STEP_MAX, &s) != 0)
		return http_field_error(r, "invalid query parameter", "step",
		    "must be a number of seconds from 10 to 86400");
	if ((e = db_run(r, &st_traffic_series, &res, http_param(r, "id"), from, to, step)) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

const struct route api_traffic_routes[] = {
	APPS_ROUTE(HTTP_GET, "/monitoring/applications/:id/traffic", traffic, CAP_READ, NULL),
	{0},
};
