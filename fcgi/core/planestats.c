/*
 * planestats.c - the pool's request figures in shared memory, and their
 * Prometheus text rendering (planestats.h).
 */
#include "planestats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* The codes the pool answers (err.c and the handlers), each its own series. */
static const int codes[PLANESTATS_NCODES - 5] = {
	200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401, 403, 404, 405, 409, 410,
	412, 413, 415, 429, 500, 503,
};
/* Upper bounds of the latency buckets, seconds (the label text is this). */
static const char *const bounds[PLANESTATS_NBOUNDS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "5", "10",
};
static const uint64_t bounds_us[PLANESTATS_NBOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000,
};
static const char *const methods[PLANESTATS_METHODS] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
};

static size_t
segment_size(size_t nroutes)
{
	return sizeof(struct planestats) +
	    (nroutes + 1) * PLANESTATS_METHODS * sizeof(struct planestats_slot);
}

struct planestats *
planestats_map(size_t nroutes)
{
	struct planestats *s;

	s = mmap(NULL, segment_size(nroutes), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	/* Anonymous pages are zero: only the header is set. */
	s->nroutes = (uint32_t)nroutes;
	s->started = (uint64_t)time(NULL);
	return s;
}

static int
code_index(int status)
{
	for (int i = 0; i < PLANESTATS_NCODES - 5; i++)
		if (codes[i] == status)
			return i;
	if (status < 100 || status > 599)
		status = 500;
	return PLANESTATS_NCODES - 5 + (status / 100 - 1);
}

static int
method_index(unsigned method)
{
	for (int i = 0; i < PLANESTATS_METHODS; i++)
		if (method == 1u << i)
			return i;
	return 0;
}

void
planestats_record(struct planestats *s, long route, unsigned method, int status,
    uint64_t duration_us, uint64_t round_trips)
{
	struct planestats_slot *slot;
	size_t                  r;
	int                     b;

	if (s == NULL)
		return;
	/* The last route row is "unmatched". */
	r = route < 0 || (uint64_t)route >= s->nroutes ? s->nroutes : (size_t)route;
	slot = &s->slots[r * PLANESTATS_METHODS + (size_t)method_index(method)];
	for (b = 0; b < PLANESTATS_NBOUNDS && duration_us > bounds_us[b]; b++)
		;
	__atomic_fetch_add(&slot->codes[code_index(status)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&slot->buckets[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&slot->sum_us, duration_us, __ATOMIC_RELAXED);
	if (round_trips != 0)
		__atomic_fetch_add(&s->db_round_trips, round_trips, __ATOMIC_RELAXED);
}

void
planestats_db_connected(struct planestats *s)
{
	if (s != NULL)
		__atomic_fetch_add(&s->db_connects, 1, __ATOMIC_RELAXED);
}

uint64_t
planestats_db_connects(const struct planestats *s)
{
	return s != NULL ? __atomic_load_n(&s->db_connects, __ATOMIC_RELAXED) : 0;
}

void
planestats_busy(struct planestats *s, int slot, int busy)
{
	if (s != NULL && slot >= 0 && slot < PLANESTATS_WORKERS)
		__atomic_store_n(&s->busy[slot], (uint8_t)(busy != 0), __ATOMIC_RELAXED);
}

/* ---- rendering ------------------------------------------------------- */

static void
addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
addf(struct buf *b, const char *fmt, ...)
{
	char    tmp[512];
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A label value: backslash, double quote and newline escaped. */
static void
add_label(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_add(b, "\\", 1);
		if (*v == '\n')
			buf_adds(b, "\\n");
		else
			buf_add(b, v, 1);
	}
}

static void
help(struct buf *b, const char *name, const char *type, const char *text)
{
	addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
series_labels(struct buf *b, const char *name, const char *method, const char *route)
{
	buf_adds(b, name);
	buf_adds(b, "{method=\"");
	buf_adds(b, method);
	buf_adds(b, "\",route=\"");
	add_label(b, route);
	buf_adds(b, "\"");
}

/* The route label of slot i ("unmatched" for the last row). */
static const char *
slot_route(const struct planestats *s, size_t i,
    const char *(*route_name)(size_t i, void *arg), void *arg)
{
	size_t r = i / PLANESTATS_METHODS;

	return r == s->nroutes ? "unmatched" : route_name(r, arg);
}

static void
render_requests(struct buf *b, const struct planestats *s,
    const char *(*route_name)(size_t i, void *arg), void *arg)
{
	size_t nslots = ((size_t)s->nroutes + 1) * PLANESTATS_METHODS;

	help(b, "launcher_http_requests_total", "counter",
	    "Requests answered by the pool, by route pattern, method and status code.");
	for (size_t i = 0; i < nslots; i++) {
		const struct planestats_slot *sl = &s->slots[i];
		const char *route = NULL;

		for (int c = 0; c < PLANESTATS_NCODES; c++) {
			uint64_t n = load(&sl->codes[c]);

			if (n == 0)
				continue;
			if (route == NULL)
				route = slot_route(s, i, route_name, arg);
			series_labels(b, "launcher_http_requests_total", methods[i % PLANESTATS_METHODS],
			    route);
			if (c < PLANESTATS_NCODES - 5)
				addf(b, ",code=\"%d\"} %llu\n", codes[c], (unsigned long long)n);
			else
				addf(b, ",code=\"%dxx\"} %llu\n", c - (PLANESTATS_NCODES - 5) + 1,
				    (unsigned long long)n);
		}
	}
	help(b, "launcher_http_request_duration_seconds", "histogram",
	    "Time from the request's acceptance by a worker to its complete answer.");
	for (size_t i = 0; i < nslots; i++) {
		const struct planestats_slot *sl = &s->slots[i];
		const char *route, *method = methods[i % PLANESTATS_METHODS];
		uint64_t    n[PLANESTATS_NBOUNDS + 1], cum = 0;

		for (int k = 0; k <= PLANESTATS_NBOUNDS; k++)
			cum += n[k] = load(&sl->buckets[k]);
		if (cum == 0)
			continue;
		route = slot_route(s, i, route_name, arg);
		cum = 0;
		/* _count is the +Inf bucket, so the two always agree. */
		for (int k = 0; k <= PLANESTATS_NBOUNDS; k++) {
			cum += n[k];
			series_labels(b, "launcher_http_request_duration_seconds_bucket", method, route);
			addf(b, ",le=\"%s\"} %llu\n", k < PLANESTATS_NBOUNDS ? bounds[k] : "+Inf",
			    (unsigned long long)cum);
		}
		series_labels(b, "launcher_http_request_duration_seconds_sum", method, route);
		addf(b, "} %.6f\n", (double)load(&sl->sum_us) / 1e6);
		series_labels(b, "launcher_http_request_duration_seconds_count", method, route);
		addf(b, "} %llu\n", (unsigned long long)cum);
	}
}

/* The rows of one series of launcher.plane_metrics() as a labelled gauge. */
static void
render_db_series(struct buf *b, const struct planestats_db_row *rows, size_t nrows,
    const char *series, const char *name, const char *label, const char *text)
{
	help(b, name, "gauge", text);
	for (size_t i = 0; i < nrows; i++) {
		if (strcmp(rows[i].series, series) != 0)
			continue;
		addf(b, "%s{%s=\"", name, label);
		add_label(b, rows[i].label);
		addf(b, "\"} %.17g\n", rows[i].value);
	}
}

void
planestats_render(struct buf *b, const struct planestats *s,
    const char *(*route_name)(size_t i, void *arg), void *arg,
    const struct planestats_db_row *rows, size_t nrows)
{
	unsigned busy = 0;

	render_requests(b, s, route_name, arg);
	for (int i = 0; i < PLANESTATS_WORKERS; i++)
		busy += __atomic_load_n(&s->busy[i], __ATOMIC_RELAXED);
	help(b, "launcher_pool_workers", "gauge",
	    "Live worker processes of the pool (during a reload, both generations).");
	addf(b, "launcher_pool_workers %u\n", __atomic_load_n(&s->workers, __ATOMIC_RELAXED));
	help(b, "launcher_pool_workers_configured", "gauge", "The config's workers.");
	addf(b, "launcher_pool_workers_configured %u\n",
	    __atomic_load_n(&s->workers_configured, __ATOMIC_RELAXED));
	help(b, "launcher_pool_workers_busy", "gauge",
	    "Workers serving a request now (the scrape's own worker included).");
	addf(b, "launcher_pool_workers_busy %u\n", busy);
	help(b, "launcher_pool_start_time_seconds", "gauge",
	    "Unix time the pool's master started (counters reset then).");
	addf(b, "launcher_pool_start_time_seconds %llu\n", (unsigned long long)s->started);
	help(b, "launcher_db_round_trips_total", "counter",
	    "Round trips from the pool's workers to PostgreSQL (a pipeline counts once).");
	addf(b, "launcher_db_round_trips_total %llu\n",
	    (unsigned long long)load(&s->db_round_trips));
	help(b, "launcher_db_connects_total", "counter",
	    "Database sessions the pool's workers set up (at start, and each reconnection).");
	addf(b, "launcher_db_connects_total %llu\n",
	    (unsigned long long)load(&s->db_connects));
	help(b, "launcher_database_up", "gauge",
	    "1 when the database answered this scrape's statement, else 0.");
	addf(b, "launcher_database_up %d\n", rows != NULL ? 1 : 0);
	if (rows == NULL)
		return;
	render_db_series(b, rows, nrows, "jobs_queued", "launcher_jobs_queued", "kind",
	    "Jobs waiting for an agent, by kind.");
	render_db_series(b, rows, nrows, "jobs_oldest_queued_age", "launcher_jobs_oldest_queued_age_seconds",
	    "kind", "Age of the oldest queued job of a kind (0 when none is queued).");
	render_db_series(b, rows, nrows, "jobs_running", "launcher_jobs_running", "kind",
	    "Jobs an agent is running, by kind.");
	render_db_series(b, rows, nrows, "servers", "launcher_servers", "status",
	    "Servers by status (online = its agent is connected and heartbeating).");
}
