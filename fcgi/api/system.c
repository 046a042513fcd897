/*
 * system.c - routes outside any tenant: /healthz and the benchmark ceiling.
 */
#include "api.h"

#include "../core/db.h"
#include "../core/worker.h"

DB_STMT st_ping = {"sys_ping", "SELECT 1"};

/* GET /healthz: 200 when the database answers, 503 otherwise. No auth. */
static enum err
healthz(struct req *r)
{
	enum err e = db_run0(r, &st_ping, NULL);
	cJSON   *d;

	if (e != ERR_OK)
		return http_error(r, ERR_UNAVAILABLE, "database unavailable");
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "status", "ok");
	cJSON_AddStringToObject(d, "database", "ok");
	return http_respond_json(r, 200, d, NULL);
}

/*
 * GET /_bench/select1: one unprepared SELECT 1 and a fixed body, the
 * ceiling of nginx -> FastCGI -> PostgreSQL that benchmarks compare
 * against, as ARCHITECTURE.md defines it ("one unprepared SELECT per
 * request is the ceiling").  GET /_bench/select1-prepared: the same with
 * the prepared statement, a stricter reference that make bench also
 * reports.  Disabled (404) unless bench_routes = true.
 */
static enum err
bench_answer(struct req *r, enum err e)
{
	static const char body[] = "{\"success\":true,\"data\":1}";

	if (e != ERR_OK)
		return http_error(r, ERR_UNAVAILABLE, "database unavailable");
	return http_respond_raw(r, 200, "application/json", body, sizeof(body) - 1);
}

static enum err
bench_select1(struct req *r)
{
	if (!r->w->cfg->bench_routes)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	return bench_answer(r, db_unprepared(r, "SELECT 1"));
}

static enum err
bench_select1_prepared(struct req *r)
{
	if (!r->w->cfg->bench_routes)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	return bench_answer(r, db_run0(r, &st_ping, NULL));
}

const struct route api_system_routes[] = {
	{.methods = HTTP_GET, .pattern = "/healthz", .fn = healthz, .flags = ROUTE_GLOBAL},
	{.methods = HTTP_GET, .pattern = "/_bench/select1", .fn = bench_select1, .flags = ROUTE_GLOBAL},
	{.methods = HTTP_GET, .pattern = "/_bench/select1-prepared", .fn = bench_select1_prepared,
	    .flags = ROUTE_GLOBAL},
	{0},
};
