/*
 * metrics.c - the agent's host and container points (see metrics.h).
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/util.h"
#include "report.h"
#include "timefmt.h"

int
metrics_queue_init(struct metrics_queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0 || (q->p = calloc(cap, sizeof(*q->p))) == NULL)
		return -1;
	q->cap = cap;
	return 0;
}

void
metrics_queue_free(struct metrics_queue *q)
{
	free(q->p);
	memset(q, 0, sizeof(*q));
}

void
metrics_queue_push(struct metrics_queue *q, const struct metrics_point *pt)
{
	if (q->cap == 0)
		return;
	if (q->len == q->cap) {
		q->head = (q->head + 1) % q->cap;
		q->len--;
		q->dropped++;
	}
	q->p[(q->head + q->len) % q->cap] = *pt;
	q->len++;
}

const struct metrics_point *
metrics_queue_at(const struct metrics_queue *q, size_t i)
{
	return i < q->len ? &q->p[(q->head + i) % q->cap] : NULL;
}

void
metrics_queue_pop(struct metrics_queue *q, size_t n)
{
	if (n > q->len)
		n = q->len;
	q->head = q->cap ? (q->head + n) % q->cap : 0;
	q->len -= n;
}

int64_t
metrics_slot(int64_t wall_ms, int64_t interval_ms)
{
	int64_t iv = interval_ms < 1000 ? 1000 : interval_ms;

	return (wall_ms - wall_ms % iv) / 1000;
}

int64_t
metrics_until_next(int64_t wall_ms, int64_t interval_ms)
{
	int64_t iv = interval_ms < 1000 ? 1000 : interval_ms;

	return iv - wall_ms % iv;
}

/* A figure, or null when unknown (negative). */
static void
add_num(cJSON *o, const char *k, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, v);
}

cJSON *
metrics_body(const struct metrics_queue *q, size_t n)
{
	cJSON *b = cJSON_CreateObject(), *host, *ctrs;

	if (b == NULL || (host = cJSON_AddArrayToObject(b, "host")) == NULL ||
	    (ctrs = cJSON_AddArrayToObject(b, "containers")) == NULL)
		goto nomem;
	for (size_t i = 0; i < n && i < q->len; i++) {
		const struct metrics_point *p = metrics_queue_at(q, i);
		cJSON                      *o = cJSON_CreateObject();
		char                        ts[40];

		if (o == NULL || timefmt_rfc3339(ts, sizeof(ts), (double)p->ts) != 0) {
			cJSON_Delete(o);
			goto nomem;
		}
		cJSON_AddStringToObject(o, "ts", ts);
		add_num(o, "cpu_percent", p->cpu_percent);
		if (p->host) {
			add_num(o, "memory_used_bytes", (double)p->mem_used);
			add_num(o, "memory_total_bytes", (double)p->mem_total);
			add_num(o, "disk_used_bytes", (double)p->disk_used);
			add_num(o, "disk_total_bytes", (double)p->disk_total);
			add_num(o, "load1", p->load1);
			add_num(o, "net_rx_bytes", (double)p->net_rx);
			add_num(o, "net_tx_bytes", (double)p->net_tx);
			cJSON_AddItemToArray(host, o);
		} else {
			cJSON_AddStringToObject(o, "app_id", p->app_id);
			cJSON_AddStringToObject(o, "instance_id", p->instance);
			add_num(o, "memory_bytes", (double)p->memory_bytes);
			add_num(o, "restarts", (double)p->restarts);
			cJSON_AddItemToArray(ctrs, o);
		}
	}
	return b;
nomem:
	cJSON_Delete(b);
	return NULL;
}

int
metrics_init(struct metrics *m, size_t queue_max)
{
	memset(m, 0, sizeof(*m));
	return metrics_queue_init(&m->q, queue_max);
}

void
metrics_free(struct metrics *m)
{
	metrics_queue_free(&m->q);
	free(m->cpu);
	memset(m, 0, sizeof(*m));
}

static void
sample_host(struct metrics *m, struct arena *a, int64_t ts)
{
	struct host_info     h;
	struct metrics_point p;

	memset(&p, 0, sizeof(p));
	hostinfo_collect(a, &m->host_cpu, &h);
	p.ts = ts;
	p.host = true;
	p.cpu_percent = h.have_cpu ? h.cpu_percent : -1;
	p.mem_total = h.have_mem ? (int64_t)h.mem_total : -1;
	p.mem_used = h.have_mem ? (int64_t)(h.mem_total - h.mem_available) : -1;
	p.disk_total = h.have_disk ? (int64_t)h.disk_total : -1;
	p.disk_used = h.have_disk ? (int64_t)h.disk_used : -1;
	p.load1 = h.have_load ? h.load[0] : -1;
	p.net_rx = h.have_net ? (int64_t)h.net_rx : -1;
	p.net_tx = h.have_net ? (int64_t)h.net_tx : -1;
	metrics_queue_push(&m->q, &p);
}

/* The running application containers: one stats call each (report.h's timeout). */
static void
sample_containers(struct metrics *m, struct xfer *x, struct arena *a, int64_t ts)
{
	const char *const        label = "launcher.app";
	struct metrics_cpu_prev *cpu;
	size_t                   ncpu = 0;
	cJSON                   *list, *it;
	char                     err[512];

	if (ctr_list(x, a, &label, 1, REPORT_ENGINE_TIMEOUT_MS, &list, err, sizeof(err)) != 0) {
		log_debug("metrics: %s (no container points)", err);
		return;
	}
	if ((cpu = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*cpu))) == NULL)
		return;
	cJSON_ArrayForEach(it, list) {
		const cJSON                   *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		const struct metrics_cpu_prev *prev = NULL;
		const cJSON                   *rc;
		struct metrics_point           p;
		const char                    *app, *name;
		cJSON                         *doc;
		double                         pct = -1;
		int64_t                        mem = -1;

		if (!cJSON_IsString(id) || ctr_inspect(x, a, id->valuestring, REPORT_ENGINE_TIMEOUT_MS,
		    &doc, err, sizeof(err)) != 0 || !ctr_running(doc) ||
		    (app = ctr_label(doc, "launcher.app")) == NULL || !util_is_uuid(app) ||
		    (name = ctr_name(doc)) == NULL || *name == '\0' || strlen(name) >= sizeof(p.instance))
			continue;
		for (size_t i = 0; i < m->ncpu; i++)
			if (strcmp(m->cpu[i].id, id->valuestring) == 0)
				prev = &m->cpu[i];
		if (ctr_stats(x, a, id->valuestring, REPORT_ENGINE_TIMEOUT_MS, prev ? &prev->s : NULL,
		    &cpu[ncpu].s, &pct, &mem, err, sizeof(err)) != 0)
			log_debug("metrics: %s (point without figures)", err);
		else if (cpu[ncpu].s.system > 0) {
			(void)util_snprintf(cpu[ncpu].id, sizeof(cpu[ncpu].id), "%s", id->valuestring);
			ncpu++;
		}
		memset(&p, 0, sizeof(p));
		p.ts = ts;
		p.cpu_percent = pct;
		p.memory_bytes = mem;
		rc = cJSON_GetObjectItemCaseSensitive(doc, "RestartCount");
		p.restarts = cJSON_IsNumber(rc) && rc->valuedouble >= 0 ? (int64_t)rc->valuedouble : -1;
		(void)util_snprintf(p.app_id, sizeof(p.app_id), "%s", app);
		(void)util_snprintf(p.instance, sizeof(p.instance), "%s", name);
		metrics_queue_push(&m->q, &p);
	}
	free(m->cpu);
	m->cpu = cpu;
	m->ncpu = ncpu;
}

void
metrics_sample(struct metrics *m, struct xfer *x, struct arena *a, bool engine_up,
    int64_t wall_ms, int64_t interval_ms)
{
	int64_t ts = metrics_slot(wall_ms, interval_ms);

	if (ts == m->last_ts)
		return;	/* this slot is done */
	if (ts < m->last_ts)	/* the clock went back: sample on (the plane keeps one row per key) */
		log_warn("metrics: the clock went back %llds; sampling goes on from the new time",
		    (long long)(m->last_ts - ts));
	m->last_ts = ts;
	sample_host(m, a, ts);
	if (engine_up)
		sample_containers(m, x, a, ts);
	if (m->q.dropped > m->dropped_logged) {
		log_warn("metrics: %lld points dropped so far (the plane has not taken them and the "
		    "queue holds %zu; raise metrics_queue_max)", (long long)m->q.dropped, m->q.cap);
		m->dropped_logged = m->q.dropped;
	}
}

enum plane_rc
metrics_send(struct metrics *m, metrics_post_fn post, void *ud, struct plane_answer *ans)
{
	size_t        n = m->q.len < METRICS_BATCH ? m->q.len : METRICS_BATCH;
	cJSON        *body;
	enum plane_rc rc;

	memset(ans, 0, sizeof(*ans));
	if (n == 0)
		return PLANE_OK;
	if ((body = metrics_body(&m->q, n)) == NULL)
		return PLANE_DOWN;	/* out of memory: kept, tried again (metrics_next_send) */
	rc = post(ud, "/metrics", body, ans);
	cJSON_Delete(body);
	if (rc == PLANE_OK)
		metrics_queue_pop(&m->q, n);
	else if (rc == PLANE_REJECTED || rc == PLANE_GONE) {
		if (rc == PLANE_GONE && !m->unsupported_logged) {
			log_warn("metrics: the plane has no POST /agent/metrics (an older plane?): "
			    "points dropped");
			m->unsupported_logged = true;
		} else if (rc == PLANE_REJECTED)
			log_warn("metrics: batch of %zu points refused (%s): dropped", n, ans->msg);
		metrics_queue_pop(&m->q, n);
	}
	return rc;
}

int64_t
metrics_next_send(enum plane_rc rc, int64_t now, int64_t retry_at, int64_t next_sample)
{
	if (rc == PLANE_OK)
		return now;	/* the rest of a backlog at the next pass */
	if ((rc == PLANE_DOWN || rc == PLANE_UNAUTHORIZED) && retry_at > now)
		return retry_at;	/* the plane's back-off */
	/* Refused, or failed without a back-off (no body: out of memory). */
	return next_sample;
}
