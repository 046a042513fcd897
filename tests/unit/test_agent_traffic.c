/* test_agent_traffic.c - the traffic log (fcgi/agent/traffic.h): the line
 * parser, the histogram's buckets and percentiles, the 10-second points,
 * and the tail across a rename + reopen (USR1) and a truncation. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/traffic.h"
#include "unit.h"

#define APPHEX "0123456789abcdef0123456789abcdef"
#define APPID  "01234567-89ab-cdef-0123-456789abcdef"

static int
parse(const char *s, struct traffic_line *l)
{
	return traffic_parse_line(s, strlen(s), l);
}

/* ------------------------------------------------------------- the tail */

struct seen {
	int  n;
	char last[64];
};

static void
count(void *ud, const char *line, size_t n)
{
	struct seen *s = ud;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)n, line);
}

static void
append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void
tail_tests(void)
{
	char                dir[] = "/tmp/test_traffic.XXXXXX", path[128], rot[128];
	struct traffic_tail t;
	struct seen         s = {0};
	int                 wfd;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/traffic.log", dir);
	snprintf(rot, sizeof(rot), "%s/traffic.log.1", dir);
	append(path, "old-1\nold-2\n");
	traffic_tail_init(&t, path);
	CHECK(traffic_tail_read(&t, 0, count, &s) == 0 && s.n == 0, "an existing log is read from its end");
	append(path, "a\nb\npart");
	CHECK(traffic_tail_read(&t, 100, count, &s) == 2 && s.n == 2, "new whole lines");
	append(path, "ial\n");
	CHECK(traffic_tail_read(&t, 200, count, &s) == 1 && strcmp(s.last, "partial") == 0,
	    "a partial line waits for its end");
	/* nginx's rotation: rename; a worker still writes to the old file (its
	 * descriptor) after the new one exists; then it goes quiet. */
	wfd = open(path, O_WRONLY | O_APPEND);
	CHECK(rename(path, rot) == 0, "renamed");
	if (write(wfd, "c\n", 2) != 2)
		abort();
	CHECK(traffic_tail_read(&t, 300, count, &s) == 1 && s.n == 4, "renamed, not reopened: read on");
	append(path, "new-1\n");
	if (write(wfd, "d\n", 2) != 2)
		abort();
	CHECK(traffic_tail_read(&t, 400, count, &s) == 2 && s.n == 6,
	    "reopened: the new file from its start, the old one's last lines");
	if (write(wfd, "e\n", 2) != 2)
		abort();
	close(wfd);
	append(path, "new-2\n");
	CHECK(traffic_tail_read(&t, 500, count, &s) == 2 && s.n == 8, "both files while the old one writes");
	CHECK(traffic_tail_read(&t, 500 + TRAFFIC_ROTATE_QUIET_MS, count, &s) == 0 && t.old.fd < 0,
	    "the old file is closed once quiet");
	append(rot, "late\n");
	CHECK(traffic_tail_read(&t, 600 + TRAFFIC_ROTATE_QUIET_MS, count, &s) == 0 && s.n == 8,
	    "nothing read twice, and not from the closed file");
	/* Truncated in place (copytruncate): from the start again. */
	CHECK(truncate(path, 0) == 0, "truncated");
	append(path, "t-1\n");
	CHECK(traffic_tail_read(&t, 700 + TRAFFIC_ROTATE_QUIET_MS, count, &s) == 1 &&
	    strcmp(s.last, "t-1") == 0, "a truncated file is read from its start");
	/* Truncated and regrown past the old offset before the next read. */
	CHECK(truncate(path, 0) == 0, "truncated");
	append(path, "u-1\nu-2\n");
	CHECK(traffic_tail_read(&t, 800 + TRAFFIC_ROTATE_QUIET_MS, count, &s) == 2 &&
	    strcmp(s.last, "u-2") == 0, "a truncated file regrown past the offset: from its start");
	traffic_tail_close(&t);
	unlink(path);
	unlink(rot);
	rmdir(dir);
}

int
main(void)
{
	struct traffic_line l;
	struct traffic_agg  a;
	cJSON              *b;
	size_t              n;

	/* Lines. */
	CHECK(parse("1733461234.123\t" APPHEX "\tapp.example.com\t404\t512\t0.012\t0.011", &l) == 0,
	    "a line parses");
	CHECK(strcmp(l.app, APPID) == 0 && l.status == 404 && l.bytes == 512, "its fields");
	CHECK(fabs(l.ms - 12.0) < 1e-9 && fabs(l.t - 1733461234.123) < 1e-6, "its times");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t502\t0\t0.000\t-", &l) == 0 && l.ms == 0,
	    "no upstream time");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t200\t1\t0.001\t0.001, 0.002", &l) == 0,
	    "two upstreams");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t200\t1\t0.001", &l) == -1, "a field missing");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t200\t1\t0.001\t-\textra", &l) == -1, "a field more");
	CHECK(parse("1733461234.123\t0123\th\t200\t1\t0.001\t-", &l) == -1, "a short application");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t20x\t1\t0.001\t-", &l) == -1, "a bad status");
	CHECK(parse("1733461234.123\t" APPHEX "\th\t200\t-1\t0.001\t-", &l) == -1, "negative bytes");
	CHECK(parse("", &l) == -1, "empty");

	/* Buckets: [0,1) ms, then [1.1^(k-1), 1.1^k). */
	CHECK(traffic_bucket(0) == 0 && traffic_bucket(0.999) == 0, "bucket 0");
	CHECK(traffic_bucket(1.0) == 1 && traffic_bucket(1.09) == 1 && traffic_bucket(1.1) == 2,
	    "the bounds belong to the upper bucket");
	CHECK(traffic_bucket(pow(1.1, 50)) == 51, "a bound far up");
	CHECK(traffic_bucket(1e9) == TRAFFIC_BUCKETS - 1, "the open last bucket");
	for (double ms = 1; ms < 60000; ms *= 1.37) {
		int k = traffic_bucket(ms);

		CHECK(pow(1.1, k - 1) <= ms * (1 + 1e-12) && ms < pow(1.1, k) * (1 + 1e-12), "ms in its bucket");
	}
	/* Points. */
	CHECK(traffic_agg_init(&a) == 0, "init");
	CHECK(parse("1000.5\t" APPHEX "\th\t200\t100\t0.010\t0.010", &l) == 0, "line");
	traffic_agg_add(&a, &l);
	l.t = 1009.9;
	l.status = 500;
	traffic_agg_add(&a, &l);
	l.t = 1010.0;
	l.status = 404;
	traffic_agg_add(&a, &l);
	CHECK(a.nopen == 2, "two buckets");
	traffic_agg_close(&a, 1012000 + TRAFFIC_GRACE_MS);
	CHECK(a.qn == 1 && a.queue[0].ts == 1000 && a.queue[0].requests == 2 &&
	    a.queue[0].s2xx == 1 && a.queue[0].s5xx == 1 && a.queue[0].bytes == 200,
	    "the first bucket closes after its grace");
	l.t = 1001;	/* late: counts in the oldest open bucket */
	traffic_agg_add(&a, &l);
	CHECK(a.nopen == 1 && a.open[0].ts == 1010 && a.open[0].requests == 2, "a late line is kept");
	traffic_agg_close(&a, 1020000 + TRAFFIC_GRACE_MS);
	b = traffic_agg_batch(&a, 10, &n);
	CHECK(b != NULL && n == 2, "a batch of both");
	{
		const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "points"), 1);

		CHECK(strcmp(cJSON_GetObjectItem(p, "ts")->valuestring, "1970-01-01T00:16:50.000Z") == 0,
		    "ts of the bucket");
		CHECK(cJSON_GetObjectItem(p, "status_4xx")->valuedouble == 2, "4xx");
		CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(p, "latency_hist")) == traffic_bucket(10) + 1,
		    "trailing zero buckets left out");
		CHECK(cJSON_GetObjectItem(p, "latency_p99_ms") == NULL,
		    "only the histogram: the plane computes the percentiles");
	}
	cJSON_Delete(b);
	traffic_agg_ack(&a, 1);
	CHECK(a.qn == 1 && a.queue[a.qhead].ts == 1010, "acknowledged points leave the queue");
	traffic_agg_free(&a);

	/* Too many open points: the oldest bucket closes for real, and a late
	 * line for it goes to a newer bucket, never a second point of its key. */
	CHECK(traffic_agg_init(&a) == 0, "init");
	for (int i = 0; i < TRAFFIC_OPEN_MAX; i++) {
		CHECK(parse("1000.5\t" APPHEX "\th\t200\t1\t0.001\t-", &l) == 0, "line");
		snprintf(l.app, sizeof(l.app), "%08x-0000-0000-0000-000000000000", i);
		l.t = i == 0 ? 1000.5 : 1010.5;
		traffic_agg_add(&a, &l);
	}
	CHECK(a.nopen == TRAFFIC_OPEN_MAX && a.qn == 0, "all open");
	snprintf(l.app, sizeof(l.app), "%08x-0000-0000-0000-000000000000", 99999);
	traffic_agg_add(&a, &l);
	CHECK(a.qn == 1 && a.queue[0].ts == 1000 && a.closed_before == 1010, "the oldest bucket evicted");
	snprintf(l.app, sizeof(l.app), "%08x-0000-0000-0000-000000000000", 0);
	l.t = 1001;
	traffic_agg_add(&a, &l);
	traffic_agg_close(&a, 1030000 + TRAFFIC_GRACE_MS);
	{
		int     dup = 0;
		int64_t req = 0;

		for (size_t i = 0; i < a.qn; i++) {
			req += a.queue[i].requests;
			for (size_t j = i + 1; j < a.qn; j++)
				dup += a.queue[i].ts == a.queue[j].ts &&
				    strcmp(a.queue[i].app, a.queue[j].app) == 0;
		}
		CHECK(dup == 0 && a.nopen == 0, "no two points of one key");
		CHECK(req == TRAFFIC_OPEN_MAX + 2, "every line counted once");
	}
	traffic_agg_free(&a);

	/* The clock steps back an hour: points flow again at once. */
	CHECK(traffic_agg_init(&a) == 0, "init");
	CHECK(parse("4600.5\t" APPHEX "\th\t200\t1\t0.001\t-", &l) == 0, "line");
	traffic_agg_add(&a, &l);
	traffic_agg_close(&a, 4600000);	/* an hour fast */
	l.t = 1000.5;
	traffic_agg_close(&a, 1000000);	/* fixed */
	traffic_agg_add(&a, &l);
	CHECK(a.qn == 1 && a.queue[0].ts == 4600 && a.nopen == 1 && a.open[0].ts == 1000,
	    "the open point sent, a new one at the corrected time");
	traffic_agg_close(&a, 1010000 + TRAFFIC_GRACE_MS);
	CHECK(a.qn == 2 && a.queue[1].ts == 1000, "and it closes within its grace");
	traffic_agg_free(&a);

	tail_tests();
	return unit_done("agent-traffic");
}
