/*
 * planestats.h - the pool's own request figures, for GET /metrics.
 *
 * One segment of shared memory (MAP_SHARED | MAP_ANONYMOUS) that the pool's
 * master maps once, before it forks any worker: every worker of every
 * generation adds to the same counters, so a scrape served by any worker
 * shows the totals of the pool.  Writers use relaxed atomic adds only: no
 * lock, no system call and no database work on the request path.  A
 * reader sees each counter exactly, and a request recorded while it reads
 * at most partly (the next scrape shows it whole).
 *
 * Per (route, method): requests by status code and a latency histogram.
 * The route is the router's matched pattern (router_index), never the raw
 * path, so the number of series is bounded by the route table; a request
 * that matched no route (404 / 405 / refused before routing) counts under
 * route "unmatched".  Codes outside PLANESTATS_CODES count under their
 * class ("2xx" ... "5xx").
 */
#ifndef LAUNCHER_PLANESTATS_H
#define LAUNCHER_PLANESTATS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PLANESTATS_METHODS 7	/* GET POST PUT PATCH DELETE HEAD OPTIONS */
#define PLANESTATS_NCODES  27	/* the listed codes, then one per class 1xx..5xx */
#define PLANESTATS_NBOUNDS 13	/* upper bounds of the latency buckets, then +Inf */
#define PLANESTATS_WORKERS 128	/* the master's worker slots */

struct planestats_slot {
	uint64_t codes[PLANESTATS_NCODES];
	uint64_t buckets[PLANESTATS_NBOUNDS + 1];	/* not cumulative */
	uint64_t sum_us;	/* microseconds */
};

struct planestats {
	uint32_t nroutes;	/* slots: (nroutes + 1) * PLANESTATS_METHODS */
	uint32_t workers;	/* live workers (master) */
	uint32_t workers_configured;	/* the config's `workers` (master) */
	uint8_t  busy[PLANESTATS_WORKERS];	/* per worker slot, set while serving */
	uint64_t db_round_trips;
	uint64_t db_connects;	/* database sessions the workers set up */
	uint64_t started;	/* unix seconds of the master's start */
	struct planestats_slot slots[];
};

/* One row of launcher.plane_metrics() (sql/042). */
struct planestats_db_row {
	const char *series, *label;
	double      value;
};

/*
 * Maps the segment for nroutes routes (zeroed); NULL if mmap fails (the
 * pool then runs without figures and /metrics answers 503).
 */
struct planestats *planestats_map(size_t nroutes);
/*
 * Records one request: route index (router_index, -1 = unmatched), the
 * method's bit (enum http_method), the status sent, its duration and how
 * many database round trips it made.  Atomic adds only.
 */
void planestats_record(struct planestats *s, long route, unsigned method, int status,
    uint64_t duration_us, uint64_t round_trips);
/*
 * A worker set up a database session (planestats_db_connected), and how
 * many the pool's workers have set up so far: a worker whose database was
 * down waits db_reconnect_interval_ms between its own attempts, unless
 * another worker connected since its last one (db.c's db_ensure).  0 and
 * nothing recorded without the segment.
 */
void     planestats_db_connected(struct planestats *s);
uint64_t planestats_db_connects(const struct planestats *s);
/* The worker of slot i starts (busy = 1) or ends (0) serving a request. */
void planestats_busy(struct planestats *s, int slot, int busy);
/*
 * Appends the Prometheus text exposition (format 0.0.4) of s to b: route
 * labels from route_name(i, arg) (the pattern as a client sees it, e.g.
 * "/{tenant}/api/v1/projects/:id"), then the database rows (rows NULL
 * when the database did not answer: launcher_database_up 0).  Series with
 * no request yet are left out.
 */
void planestats_render(struct buf *b, const struct planestats *s,
    const char *(*route_name)(size_t i, void *arg), void *arg,
    const struct planestats_db_row *rows, size_t nrows);

#endif
