/* test_agent_metrics.c - the agent's metrics points: the slot of a time,
 * the bounded resend queue (FIFO, oldest dropped and counted), a batch's
 * body, and metrics_send keeping a failed batch and dropping a refused one. */
#include <stdio.h>
#include <string.h>

#include "agent/metrics.h"
#include "unit.h"

static enum plane_rc next_rc;
static int           posts, last_host, last_ctrs;

static enum plane_rc
fake_post(void *ud, const char *path, const cJSON *body, struct plane_answer *ans)
{
	(void)ud;
	posts++;
	CHECK(strcmp(path, "/metrics") == 0, "strcmp(path, \"/metrics\") == 0");
	last_host = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "host"));
	last_ctrs = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "containers"));
	return next_rc;
}

static struct metrics_point
host_point(int64_t ts)
{
	struct metrics_point p;

	memset(&p, 0, sizeof(p));
	p.ts = ts;
	p.host = true;
	p.cpu_percent = 12.5;
	p.mem_used = 100;
	p.mem_total = 200;
	p.disk_used = -1;
	p.disk_total = -1;
	p.load1 = 0.5;
	p.net_rx = 7;
	p.net_tx = 9;
	return p;
}

int
main(void)
{
	struct metrics_queue       q;
	struct metrics             m;
	struct metrics_point       p;
	struct plane_answer        ans;
	cJSON                     *b, *h;

	/* Slots: whole multiples of the interval, in seconds. */
	CHECK(metrics_slot(1700000009999, 10000) == 1700000000, "metrics_slot(1700000009999, 10000) == 1700000000");
	CHECK(metrics_slot(1700000010000, 10000) == 1700000010, "metrics_slot(1700000010000, 10000) == 1700000010");
	CHECK(metrics_slot(1700000003500, 2000) == 1700000002, "metrics_slot(1700000003500, 2000) == 1700000002");
	CHECK(metrics_until_next(1700000009999, 10000) == 1, "metrics_until_next(1700000009999, 10000) == 1");
	CHECK(metrics_until_next(1700000010000, 10000) == 10000, "metrics_until_next(1700000010000, 10000) == 10000");

	/* FIFO with a bound: the oldest go, counted. */
	CHECK(metrics_queue_init(&q, 3) == 0, "metrics_queue_init(&q, 3) == 0");
	for (int i = 1; i <= 5; i++) {
		p = host_point(i * 10);
		metrics_queue_push(&q, &p);
	}
	CHECK(q.len == 3 && q.dropped == 2, "q.len == 3 && q.dropped == 2");
	CHECK(metrics_queue_at(&q, 0)->ts == 30 && metrics_queue_at(&q, 2)->ts == 50, "metrics_queue_at(&q, 0)->ts == 30 && metrics_queue_at(&q, 2)->ts == 50");
	CHECK(metrics_queue_at(&q, 3) == NULL, "metrics_queue_at(&q, 3) == NULL");
	metrics_queue_pop(&q, 2);
	CHECK(q.len == 1 && metrics_queue_at(&q, 0)->ts == 50, "q.len == 1 && metrics_queue_at(&q, 0)->ts == 50");
	p = host_point(60);
	metrics_queue_push(&q, &p);
	CHECK(q.len == 2 && metrics_queue_at(&q, 1)->ts == 60 && q.dropped == 2, "q.len == 2 && metrics_queue_at(&q, 1)->ts == 60 && q.dropped == 2");
	metrics_queue_pop(&q, 10);
	CHECK(q.len == 0, "q.len == 0");
	metrics_queue_free(&q);

	/* The body: host and container points apart, unknown figures null. */
	CHECK(metrics_queue_init(&q, 10) == 0, "metrics_queue_init(&q, 10) == 0");
	p = host_point(1700000000);
	metrics_queue_push(&q, &p);
	memset(&p, 0, sizeof(p));
	p.ts = 1700000000;
	p.cpu_percent = 150.0;
	p.memory_bytes = 4096;
	p.restarts = 2;
	snprintf(p.app_id, sizeof(p.app_id), "%s", "0b0e7e2c-6f0d-4a51-9a53-1c2d3e4f5a6b");
	snprintf(p.instance, sizeof(p.instance), "%s", "lnchr-web-1");
	metrics_queue_push(&q, &p);
	b = metrics_body(&q, 2);
	CHECK(b != NULL, "b != NULL");
	h = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "host"), 0);
	CHECK(strncmp(cJSON_GetObjectItemCaseSensitive(h, "ts")->valuestring, "2023-11-14T22:13:20", 19) == 0 && cJSON_GetObjectItemCaseSensitive(h, "ts")->valuestring[19] != 0, "strcmp(cJSON_GetObjectItemCaseSensitive(h, \"ts\")->valuestring, \"2023-11-14T22:13:20Z\") == 0");
	CHECK(cJSON_GetObjectItemCaseSensitive(h, "cpu_percent")->valuedouble == 12.5, "cJSON_GetObjectItemCaseSensitive(h, \"cpu_percent\")->valuedouble == 12.5");
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(h, "disk_used_bytes")), "cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(h, \"disk_used_bytes\"))");
	CHECK(cJSON_GetObjectItemCaseSensitive(h, "net_tx_bytes")->valuedouble == 9, "cJSON_GetObjectItemCaseSensitive(h, \"net_tx_bytes\")->valuedouble == 9");
	h = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "containers"), 0);
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(h, "instance_id")->valuestring, "lnchr-web-1") == 0, "strcmp(cJSON_GetObjectItemCaseSensitive(h, \"instance_id\")->valuestring, \"lnchr-web-1\") == 0");
	CHECK(cJSON_GetObjectItemCaseSensitive(h, "restarts")->valuedouble == 2, "cJSON_GetObjectItemCaseSensitive(h, \"restarts\")->valuedouble == 2");
	CHECK(cJSON_GetObjectItemCaseSensitive(h, "memory_bytes")->valuedouble == 4096, "cJSON_GetObjectItemCaseSensitive(h, \"memory_bytes\")->valuedouble == 4096");
	cJSON_Delete(b);
	metrics_queue_free(&q);

	/* Send: a failure keeps the batch, a success forgets it, a refusal drops it. */
	CHECK(metrics_init(&m, 2000) == 0, "metrics_init(&m, 2000) == 0");
	for (int i = 0; i < 700; i++) {
		p = host_point(1700000000 + i * 10);
		metrics_queue_push(&m.q, &p);
	}
	next_rc = PLANE_DOWN;
	CHECK(metrics_send(&m, fake_post, NULL, &ans) == PLANE_DOWN, "metrics_send(&m, fake_post, NULL, &ans) == PLANE_DOWN");
	CHECK(m.q.len == 700 && posts == 1 && last_host == METRICS_BATCH, "m.q.len == 700 && posts == 1 && last_host == METRICS_BATCH");
	next_rc = PLANE_OK;
	CHECK(metrics_send(&m, fake_post, NULL, &ans) == PLANE_OK, "metrics_send(&m, fake_post, NULL, &ans) == PLANE_OK");
	CHECK(m.q.len == 200 && metrics_queue_at(&m.q, 0)->ts == 1700000000 + 500 * 10, "m.q.len == 200 && metrics_queue_at(&m.q, 0)->ts == 1700000000 + 500 * 10");
	next_rc = PLANE_REJECTED;
	CHECK(metrics_send(&m, fake_post, NULL, &ans) == PLANE_REJECTED, "metrics_send(&m, fake_post, NULL, &ans) == PLANE_REJECTED");
	CHECK(m.q.len == 0 && last_host == 200 && last_ctrs == 0, "m.q.len == 0 && last_host == 200 && last_ctrs == 0");
	CHECK(metrics_send(&m, fake_post, NULL, &ans) == PLANE_OK && posts == 3, "metrics_send(&m, fake_post, NULL, &ans) == PLANE_OK && posts == 3");
	metrics_free(&m);

	/* After a send: at once, after the back-off, or at the next sample
	 * (a failure without a back-off, such as no body: no busy retry). */
	CHECK(metrics_next_send(PLANE_OK, 1000, 0, 5000) == 1000, "a backlog goes on at once");
	CHECK(metrics_next_send(PLANE_DOWN, 1000, 3000, 5000) == 3000, "down: after the back-off");
	CHECK(metrics_next_send(PLANE_DOWN, 1000, 900, 5000) == 5000,
	    "down without a back-off (out of memory): at the next sample");
	CHECK(metrics_next_send(PLANE_REJECTED, 1000, 0, 5000) == 5000, "refused: at the next sample");

	/* The clock stepped back an hour: sampling goes on; only the same slot is skipped. */
	{
		struct arena ar;

		arena_init(&ar, 4096);
		CHECK(metrics_init(&m, 100) == 0, "init");
		metrics_sample(&m, NULL, &ar, false, 1700003600000, 10000);
		metrics_sample(&m, NULL, &ar, false, 1700003605000, 10000);
		CHECK(m.q.len == 1, "one point per slot");
		metrics_sample(&m, NULL, &ar, false, 1700000000000, 10000);
		metrics_sample(&m, NULL, &ar, false, 1700000010000, 10000);
		CHECK(m.q.len == 3 && metrics_queue_at(&m.q, 2)->ts == 1700000010,
		    "points again right after a backward step");
		metrics_free(&m);
		arena_free(&ar);
	}
	return unit_done("agent-metrics");
}
