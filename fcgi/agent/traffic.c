/*
 * traffic.c - the edge's traffic log read, counted and queued for the
 * plane (see traffic.h).
 */
#include "traffic.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "timefmt.h"

/* ------------------------------------------------------------- one line */

#define FIELDS 7

/* s[0..n) as a number (strtod on a NUL-terminated copy); 0 or -1. */
static int
number(const char *s, size_t n, double *out)
{
	char  tmp[32], *end;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtod(tmp, &end);
	return errno != 0 || *end != '\0' || !isfinite(*out) || *out < 0 ? -1 : 0;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int
traffic_parse_line(const char *s, size_t n, struct traffic_line *out)
{
	const char *f[FIELDS];
	size_t      fl[FIELDS], k = 0, start = 0;
	double      v;

	for (size_t i = 0; i <= n && k < FIELDS; i++)
		if (i == n || s[i] == '\t') {
			f[k] = s + start;
			fl[k++] = i - start;
			start = i + 1;
		}
	if (k != FIELDS || start <= n)	/* fewer fields, or more */
		return -1;
	if (number(f[0], fl[0], &out->t) != 0 || fl[1] != 32)
		return -1;
	for (size_t i = 0, o = 0; i < 32; i++) {
		if (!is_hex(f[1][i]))
			return -1;
		out->app[o++] = f[1][i];
		if (i == 7 || i == 11 || i == 15 || i == 19)
			out->app[o++] = '-';
	}
	out->app[36] = '\0';
	if (number(f[3], fl[3], &v) != 0 || v < 100 || v > 599 || v != floor(v))
		return -1;
	out->status = (int)v;
	if (number(f[4], fl[4], &v) != 0 || v != floor(v))
		return -1;
	out->bytes = (int64_t)v;
	if (number(f[5], fl[5], &v) != 0)
		return -1;
	out->ms = v * 1000.0;
	return 0;
}

/* ------------------------------------------------------------ histogram */

/* Bucket k > 0 is [ratio^(k-1), ratio^k) ms. */
static double
upper(int k)
{
	return pow(TRAFFIC_BUCKET_RATIO, k);
}

int
traffic_bucket(double ms)
{
	int k;

	if (!(ms >= 1.0))
		return 0;
	k = (int)floor(log(ms) / log(TRAFFIC_BUCKET_RATIO)) + 1;
	/* Floating point at a bound: settle on the bucket that holds ms. */
	while (k > 1 && ms < upper(k - 1))
		k--;
	while (k < TRAFFIC_BUCKETS - 1 && ms >= upper(k))
		k++;
	return k > TRAFFIC_BUCKETS - 1 ? TRAFFIC_BUCKETS - 1 : k;
}

/* ---------------------------------------------------------- aggregation */

int
traffic_agg_init(struct traffic_agg *a)
{
	memset(a, 0, sizeof(*a));
	a->open = calloc(TRAFFIC_OPEN_MAX, sizeof(*a->open));
	a->queue = calloc(TRAFFIC_QUEUE_MAX, sizeof(*a->queue));
	if (a->open == NULL || a->queue == NULL) {
		traffic_agg_free(a);
		return -1;
	}
	return 0;
}

void
traffic_agg_free(struct traffic_agg *a)
{
	free(a->open);
	free(a->queue);
	a->open = a->queue = NULL;
	a->nopen = a->qn = 0;
}

static void
enqueue(struct traffic_agg *a, const struct traffic_point *p)
{
	if (a->qn == TRAFFIC_QUEUE_MAX) {
		a->qhead = (a->qhead + 1) % TRAFFIC_QUEUE_MAX;
		a->qn--;
		if (a->dropped++ % 1000 == 0)
			log_warn("traffic: the plane has not taken points for long; the oldest are "
			    "dropped (%llu so far)", (unsigned long long)a->dropped);
	}
	a->queue[(a->qhead + a->qn) % TRAFFIC_QUEUE_MAX] = *p;
	a->qn++;
}

/* Queues the open points of buckets before `before` and marks them closed. */
static void
close_before(struct traffic_agg *a, int64_t before)
{
	a->closed_before = before;
	for (size_t i = 0; i < a->nopen;)
		if (a->open[i].ts < before) {
			enqueue(a, &a->open[i]);
			a->open[i] = a->open[--a->nopen];
		} else
			i++;
}

void
traffic_agg_add(struct traffic_agg *a, const struct traffic_line *l)
{
	int64_t               ts = (int64_t)floor(l->t / TRAFFIC_STEP_S) * TRAFFIC_STEP_S;
	struct traffic_point *p = NULL;

	if (ts < a->closed_before)
		ts = a->closed_before;	/* late: the oldest open bucket */
	for (size_t i = 0; i < a->nopen && p == NULL; i++)
		if (a->open[i].ts == ts && strcmp(a->open[i].app, l->app) == 0)
			p = &a->open[i];
	if (p == NULL) {
		if (a->nopen == TRAFFIC_OPEN_MAX) {
			/* Too many at once: the oldest bucket closes early, for
			 * real (its late lines go to a newer one), so no second
			 * point of one key is ever queued. */
			int64_t oldest = a->open[0].ts;

			for (size_t i = 1; i < a->nopen; i++)
				if (a->open[i].ts < oldest)
					oldest = a->open[i].ts;
			close_before(a, oldest + TRAFFIC_STEP_S);
			if (ts < a->closed_before)
				ts = a->closed_before;
		}
		p = &a->open[a->nopen++];
		memset(p, 0, sizeof(*p));
		memcpy(p->app, l->app, sizeof(p->app));
		p->ts = ts;
	}
	p->requests++;
	if (l->status >= 200 && l->status < 300)
		p->s2xx++;
	else if (l->status >= 300 && l->status < 400)
		p->s3xx++;
	else if (l->status >= 400 && l->status < 500)
		p->s4xx++;
	else if (l->status >= 500)
		p->s5xx++;
	p->bytes += l->bytes;
	p->hist[traffic_bucket(l->ms)]++;
}

void
traffic_agg_close(struct traffic_agg *a, int64_t now_ms)
{
	/* Bucket [ts, ts + step) closes once ts + step + grace <= now. */
	int64_t before = (now_ms - TRAFFIC_GRACE_MS) / 1000 / TRAFFIC_STEP_S * TRAFFIC_STEP_S;

	if (before > a->closed_before) {
		close_before(a, before);
		return;
	}
	if (a->closed_before - before <= TRAFFIC_CLOCK_BACK_S)
		return;	/* the same bucket, or a small step back: late lines wait */
	/* The clock stepped back: every open point goes out and the mark
	 * follows the clock (a point sent again replaces its key's row). */
	log_warn("traffic: the clock went back %llds; open points sent, buckets restart",
	    (long long)(a->closed_before - before));
	close_before(a, INT64_MAX);
	a->closed_before = before;
}

cJSON *
traffic_agg_batch(const struct traffic_agg *a, size_t max, size_t *n)
{
	cJSON *body, *arr;
	char   ts[40];

	*n = 0;
	if (a->qn == 0 || (body = cJSON_CreateObject()) == NULL)
		return NULL;
	arr = cJSON_AddArrayToObject(body, "points");
	for (size_t i = 0; i < a->qn && i < max && arr != NULL; i++) {
		const struct traffic_point *p = &a->queue[(a->qhead + i) % TRAFFIC_QUEUE_MAX];
		cJSON                      *o = cJSON_CreateObject(), *h;
		int                         last = TRAFFIC_BUCKETS;

		if (o == NULL)
			break;
		while (last > 0 && p->hist[last - 1] == 0)
			last--;	/* trailing zeros left out */
		(void)timefmt_rfc3339(ts, sizeof(ts), (double)p->ts);
		cJSON_AddStringToObject(o, "app_id", p->app);
		cJSON_AddStringToObject(o, "ts", ts);
		cJSON_AddNumberToObject(o, "requests", (double)p->requests);
		cJSON_AddNumberToObject(o, "status_2xx", (double)p->s2xx);
		cJSON_AddNumberToObject(o, "status_3xx", (double)p->s3xx);
		cJSON_AddNumberToObject(o, "status_4xx", (double)p->s4xx);
		cJSON_AddNumberToObject(o, "status_5xx", (double)p->s5xx);
		cJSON_AddNumberToObject(o, "bytes_out", (double)p->bytes);
		h = cJSON_AddArrayToObject(o, "latency_hist");
		for (int k = 0; k < last && h != NULL; k++)
			cJSON_AddItemToArray(h, cJSON_CreateNumber(p->hist[k]));
		cJSON_AddItemToArray(arr, o);
		(*n)++;
	}
	if (*n == 0) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

void
traffic_agg_ack(struct traffic_agg *a, size_t n)
{
	if (n > a->qn)
		n = a->qn;
	a->qhead = (a->qhead + n) % TRAFFIC_QUEUE_MAX;
	a->qn -= n;
}

/* ----------------------------------------------------------------- tail */

static void
file_reset(struct traffic_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->off = 0;
	f->len = 0;
	f->fpn = 0;
	f->quiet_since = 0;
}

/* Remembers the bytes just before f->off (truncation check of drain). */
static void
fp_take(struct traffic_file *f)
{
	size_t  want = f->off < (off_t)sizeof(f->fp) ? (size_t)f->off : sizeof(f->fp);
	ssize_t got = want > 0 ? pread(f->fd, f->fp, want, f->off - (off_t)want) : 0;

	f->fpn = got == (ssize_t)want ? want : 0;
}

/* Whether the bytes before f->off are still those read there. */
static bool
fp_same(const struct traffic_file *f)
{
	char    now[sizeof(f->fp)];
	ssize_t got;

	if (f->fpn == 0)
		return true;
	got = pread(f->fd, now, f->fpn, f->off - (off_t)f->fpn);
	return got == (ssize_t)f->fpn && memcmp(now, f->fp, f->fpn) == 0;
}

void
traffic_tail_init(struct traffic_tail *t, const char *path)
{
	memset(t, 0, sizeof(*t));
	util_snprintf(t->path, sizeof(t->path), "%s", path);
	t->cur.fd = t->old.fd = -1;
}

void
traffic_tail_close(struct traffic_tail *t)
{
	file_reset(&t->cur);
	file_reset(&t->old);
}

/* Whole lines of what f gained since the last read; the lines read. */
static size_t
drain(struct traffic_file *f, traffic_line_fn fn, void *ud)
{
	struct stat st;
	char        chunk[65536];
	size_t      lines = 0;
	ssize_t     got;
	off_t       start;

	/* Truncated in place (copytruncate): shorter, or regrown past the old
	 * offset already, which the bytes before it tell (they changed). */
	if (fstat(f->fd, &st) == 0 && (st.st_size < f->off || !fp_same(f))) {
		f->off = 0;
		f->len = 0;
		f->fpn = 0;
	}
	start = f->off;
	while ((got = pread(f->fd, chunk, sizeof(chunk), f->off)) > 0) {
		f->off += got;
		for (ssize_t i = 0; i < got; i++) {
			if (chunk[i] != '\n') {
				if (f->len < sizeof(f->buf))
					f->buf[f->len] = chunk[i];
				f->len++;	/* an overlong line is counted, then refused */
				continue;
			}
			if (f->len <= sizeof(f->buf))
				fn(ud, f->buf, f->len);
			else
				fn(ud, "", 0);
			f->len = 0;
			lines++;
		}
	}
	if (f->off != start)
		fp_take(f);
	return lines;
}

static int
open_at(struct traffic_file *f, const char *path, bool at_end)
{
	struct stat st;
	int         fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = at_end ? st.st_size : 0;
	f->len = 0;
	f->quiet_since = 0;
	fp_take(f);
	return 0;
}

size_t
traffic_tail_read(struct traffic_tail *t, int64_t now_ms, traffic_line_fn fn, void *ud)
{
	struct stat st;
	size_t      n = 0;

	if (t->cur.fd < 0) {
		if (open_at(&t->cur, t->path, !t->started) != 0) {
			t->started = true;	/* absent: once it appears, from its start */
			return 0;
		}
		t->started = true;
	}
	n += drain(&t->cur, fn, ud);
	if (t->old.fd >= 0) {
		off_t before = t->old.off;

		n += drain(&t->old, fn, ud);
		if (t->old.off != before)
			t->old.quiet_since = now_ms;
		else if (now_ms - t->old.quiet_since >= TRAFFIC_ROTATE_QUIET_MS)
			file_reset(&t->old);	/* nginx writes there no more */
	}
	if (stat(t->path, &st) != 0 || (st.st_dev == t->cur.dev && st.st_ino == t->cur.ino))
		return n;	/* renamed and not reopened yet, or the same file */
	/* Rotated: the current file becomes the old one, read until quiet. */
	if (t->old.fd >= 0) {
		n += drain(&t->old, fn, ud);
		file_reset(&t->old);
	}
	t->old = t->cur;
	t->old.quiet_since = now_ms;
	t->cur.fd = -1;
	if (open_at(&t->cur, t->path, false) == 0)
		n += drain(&t->cur, fn, ud);
	return n;
}
