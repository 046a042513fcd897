/*
 * monitoring.c - API.md §16 Monitoring: a server's and an application's
 * metrics series, and the per-project overview.  The points come from the
 * agent (POST /agent/metrics) and launcher-scheduler's rollups
 * (sql/038_metrics.sql: monitoring_window picks the series from ?from=&to=
 * &step= and names a bad one in a 400, for the traffic too).  A server is read like its other
 * reads (anyone signed in to the tenant), an application with its
 * project's read capability; another tenant's is 404 (RLS).
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "apps_common.h"

/* The bucket of a point: its time rounded down to w.step seconds. */
#define BUCKET "to_timestamp(floor(extract(epoch FROM x.ts) / w.step) * w.step)"

/* One statement: no row = no such server; a row of nulls = no points. */
DB_STMT st_server_series = {"monitoring_server_series",
    "SELECT p.* FROM servers s CROSS JOIN monitoring_window($2, $3, $4) w"
    " LEFT JOIN LATERAL (SELECT " BUCKET " AS ts, avg(x.cpu_percent) AS cpu_percent,"
    " avg(x.memory_used_bytes)::bigint AS memory_used_bytes,"
    " max(x.memory_total_bytes) AS memory_total_bytes,"
    " avg(x.disk_used_bytes)::bigint AS disk_used_bytes, max(x.disk_total_bytes) AS disk_total_bytes,"
    " avg(x.load1) AS load1, max(x.net_rx_bytes) AS net_rx_bytes, max(x.net_tx_bytes) AS net_tx_bytes"
    " FROM (SELECT ts, cpu_percent, memory_used_bytes, memory_total_bytes, disk_used_bytes,"
    "  disk_total_bytes, load1, net_rx_bytes, net_tx_bytes FROM server_metrics"
    "  WHERE w.res = 10 AND server_id = s.id AND ts >= w.t_from AND ts < w.t_to"
    " UNION ALL SELECT ts, cpu_percent, memory_used_bytes, memory_total_bytes, disk_used_bytes,"
    "  disk_total_bytes, load1, net_rx_bytes, net_tx_bytes FROM server_metrics_1m"
    "  WHERE w.res = 60 AND server_id = s.id AND ts >= w.t_from AND ts < w.t_to"
    " UNION ALL SELECT ts, cpu_percent, memory_used_bytes, memory_total_bytes, disk_used_bytes,"
    "  disk_total_bytes, load1, net_rx_bytes, net_tx_bytes FROM server_metrics_1h"
    "  WHERE w.res = 3600 AND server_id = s.id AND ts >= w.t_from AND ts < w.t_to) x"
    " GROUP BY 1) p ON true WHERE s.id = $1::uuid ORDER BY p.ts"};

DB_STMT st_app_series = {"monitoring_app_series",
    "SELECT p.* FROM applications a CROSS JOIN monitoring_window($2, $3, $4) w"
    " LEFT JOIN LATERAL (SELECT " BUCKET " AS ts, x.instance_id, avg(x.cpu_percent) AS cpu_percent,"
    " avg(x.memory_bytes)::bigint AS memory_bytes, max(x.restarts) AS restarts"
    " FROM (SELECT ts, instance_id, cpu_percent, memory_bytes, restarts FROM app_metrics"
    "  WHERE w.res = 10 AND application_id = a.id AND ts >= w.t_from AND ts < w.t_to"
    " UNION ALL SELECT ts, instance_id, cpu_percent, memory_bytes, restarts FROM app_metrics_1m"
    "  WHERE w.res = 60 AND application_id = a.id AND ts >= w.t_from AND ts < w.t_to"
    " UNION ALL SELECT ts, instance_id, cpu_percent, memory_bytes, restarts FROM app_metrics_1h"
    "  WHERE w.res = 3600 AND application_id = a.id AND ts >= w.t_from AND ts < w.t_to) x"
    " GROUP BY 1, 2) p ON true WHERE a.id = $1::uuid ORDER BY p.ts, p.instance_id"};

/*
 * Per visible project: its applications and databases, the servers online
 * that run any of them, and the CPU and memory of its application
 * instances summed over each instance's latest point of the last 5
 * minutes.  $1 a key's project (or NULL), $2 sees every project, $3 the user.
 */
DB_STMT st_overview = {"monitoring_overview",
    "SELECT p.id AS project_id, p.name,"
    " (SELECT count(*) FROM applications a WHERE a.project_id = p.id) AS applications,"
    " (SELECT count(*) FROM databases d WHERE d.project_id = p.id) AS databases,"
    " (SELECT count(*) FROM servers s WHERE s.status = 'online' AND s.id IN"
    "  (SELECT server_id FROM applications WHERE project_id = p.id"
    "   UNION SELECT server_id FROM databases WHERE project_id = p.id)) AS servers_online,"
    " coalesce(l.cpu_percent, 0) AS cpu_percent, coalesce(l.memory_bytes, 0) AS memory_bytes"
    " FROM projects p LEFT JOIN LATERAL (SELECT sum(m.cpu_percent) AS cpu_percent,"
    "  sum(m.memory_bytes)::bigint AS memory_bytes FROM applications a"
    "  CROSS JOIN LATERAL (SELECT DISTINCT ON (x.instance_id) x.cpu_percent, x.memory_bytes"
    "   FROM app_metrics x WHERE x.application_id = a.id AND x.ts > now() - interval '5 minutes'"
    "   ORDER BY x.instance_id, x.ts DESC) m WHERE a.project_id = p.id) l ON true"
    " WHERE ($1::uuid IS NULL OR p.id = $1::uuid) AND ($2::boolean OR EXISTS (SELECT 1"
    "  FROM project_members pm WHERE pm.project_id = p.id AND pm.user_id = $3::uuid))"
    " ORDER BY p.name, p.id"};

static const char *
query(struct req *r, const char *name)
{
	const char *v = http_query(r, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Runs a series statement for :id with ?from=&to=&step= (empty = absent);
 * 404 names what when no row. */
enum err
monitoring_series(struct req *r, const struct db_stmt *st, const char *what)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if (!util_is_uuid(id))
		return http_error(r, ERR_NOT_FOUND, what);
	if ((e = db_run(r, st, &res, id, query(r, "from"), query(r, "to"), query(r, "step"))) != ERR_OK)
		return e;
	if (PQntuples(res) == 0)
		return http_error(r, ERR_NOT_FOUND, what);
	if (PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
		return http_respond_json(r, 200, cJSON_CreateArray(), NULL);
	return http_respond_json(r, 200, json_rows(res), NULL);
}

static enum err
server_metrics(struct req *r)
{
	return monitoring_series(r, &st_server_series, "server not found");
}

static enum err
app_metrics(struct req *r)
{
	return monitoring_series(r, &st_app_series, "application not found");
}

static enum err
overview(struct req *r)
{
	PGresult *res;
	enum err  e;
	bool      all = r->who.role >= ROLE_ADMIN;

	if ((e = db_run(r, &st_overview, &res, r->who.key_project_id, all ? "true" : "false",
	    r->who.user_id)) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

const struct route api_monitoring_routes[] = {
	{.methods = HTTP_GET, .pattern = "/monitoring/servers/:id/metrics", .fn = server_metrics},
	APPS_ROUTE(HTTP_GET, "/monitoring/applications/:id/metrics", app_metrics, CAP_READ, NULL),
	{.methods = HTTP_GET, .pattern = "/monitoring/overview", .fn = overview},
	{0},
};
