/*
 * traffic.h - what the edge nginx served, per application, in 10-second
 * points (API.md §16 traffic; README "Application traffic").
 *
 * The edge nginx writes one traffic log for every application (config
 * traffic_log; the log_format lnchr_traffic in conf/nginx/launcher.conf.in):
 * one line per request proxied to an application's upstream, tab-separated,
 * escape=json (no raw tab or newline inside a field):
 *
 *   $msec  <app id, 32 hex>  $host  $status  $bytes_sent  $request_time  $upstream_response_time
 *
 * One file rather than one per application: one open file in each nginx
 * worker and one tail in the agent whatever the number of applications,
 * one rotation; the application is a field (the upstream's name, which
 * names it: edge.c).
 *
 * The tail (traffic_tail_*): reads what was appended since the last read
 * and hands over whole lines.  Rotation: when the path names another file
 * (renamed, then nginx reopens on USR1), the old file stays open and is
 * read until it has not grown for TRAFFIC_ROTATE_QUIET_MS (a worker writes
 * to it until it has reopened, and flushes its buffer there), while the
 * new one is read from its start: no line lost, none read twice.  A file
 * that shrank (truncated in place) is read again from its start.  At the
 * agent's start an existing log is read from its end: what was served
 * while the agent was down is not counted.
 *
 * The aggregation (traffic_agg_*): each line counts in the 10-second bucket
 * of its $msec; a bucket is closed TRAFFIC_GRACE_MS after it ends (nginx
 * flushes its log buffer every second) and queued for the plane; a line
 * that arrives for a closed bucket counts in the oldest open one, so
 * totals stay exact.  Latency ($request_time, ms resolution) goes into a
 * histogram of TRAFFIC_BUCKETS fixed buckets (sql/039_traffic.sql: [0, 1)
 * ms, then geometric with ratio 1.1, the last open-ended); the plane reads
 * p50/p95/p99 from it (traffic_quantiles in SQL), the agent sends only it.
 *
 * The queue: closed points wait in a bounded queue (TRAFFIC_QUEUE_MAX, the
 * oldest dropped with a warning) and are sent in batches of
 * TRAFFIC_BATCH to POST /agent/traffic, resent until acknowledged (the
 * plane stores a point once per application, server and bucket).
 */
#ifndef LAUNCHER_AGENT_TRAFFIC_H
#define LAUNCHER_AGENT_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define TRAFFIC_BUCKETS         118
#define TRAFFIC_BUCKET_RATIO    1.1
#define TRAFFIC_STEP_S          10
#define TRAFFIC_GRACE_MS        3000
#define TRAFFIC_ROTATE_QUIET_MS 5000
#define TRAFFIC_CLOCK_BACK_S    60	/* a larger step back of the clock restarts the buckets */
#define TRAFFIC_LINE_MAX        2048
#define TRAFFIC_OPEN_MAX        4096	/* open points (applications x buckets) */
#define TRAFFIC_QUEUE_MAX       20000	/* 10 min of 300 busy applications (~11 MB when full) */
#define TRAFFIC_BATCH           500

/* One line of the traffic log. */
struct traffic_line {
	char    app[37];	/* the application's UUID */
	double  t;		/* $msec: when the request ended (epoch seconds) */
	int     status;
	int64_t bytes;
	double  ms;		/* $request_time in ms */
};

/* Parses one line (without its newline); 0, or -1 if it is not one. */
int    traffic_parse_line(const char *s, size_t n, struct traffic_line *out);
/* The histogram bucket of a latency in ms. */
int    traffic_bucket(double ms);

struct traffic_point {
	char     app[37];
	int64_t  ts;		/* start of the bucket, epoch seconds */
	int64_t  requests, s2xx, s3xx, s4xx, s5xx, bytes;
	uint32_t hist[TRAFFIC_BUCKETS];
};

struct traffic_agg {
	struct traffic_point *open;	/* TRAFFIC_OPEN_MAX */
	size_t                nopen;
	int64_t               closed_before;	/* buckets before this ts are closed */
	struct traffic_point *queue;	/* ring of TRAFFIC_QUEUE_MAX */
	size_t                qhead, qn;
	uint64_t              dropped;	/* points dropped from a full queue */
	uint64_t              bad_lines;
};

int  traffic_agg_init(struct traffic_agg *a);
void traffic_agg_free(struct traffic_agg *a);
/* Counts one line. */
void traffic_agg_add(struct traffic_agg *a, const struct traffic_line *l);
/* Queues the points of buckets that ended TRAFFIC_GRACE_MS before now_ms
 * (wall clock, ms).  A clock gone back more than TRAFFIC_CLOCK_BACK_S
 * queues every open point and restarts the buckets at the new time. */
void traffic_agg_close(struct traffic_agg *a, int64_t now_ms);
/* The first max queued points as {"points": [...]} (NULL when none or out
 * of memory); *n how many. */
cJSON *traffic_agg_batch(const struct traffic_agg *a, size_t max, size_t *n);
/* Removes the first n queued points (acknowledged). */
void traffic_agg_ack(struct traffic_agg *a, size_t n);

/* One open file of the tail. */
struct traffic_file {
	int     fd;		/* -1: none */
	dev_t   dev;
	ino_t   ino;
	off_t   off;
	int64_t quiet_since;	/* rotated away: last growth (mono ms) */
	size_t  len;		/* a partial line in buf */
	size_t  fpn;		/* the fpn bytes before off, as last read: */
	char    fp[64];		/* changed, the file was truncated and regrew */
	char    buf[TRAFFIC_LINE_MAX];
};

struct traffic_tail {
	char                path[1024];
	bool                started;	/* the first open seeks to the end */
	struct traffic_file cur, old;
};

typedef void (*traffic_line_fn)(void *ud, const char *line, size_t n);

void traffic_tail_init(struct traffic_tail *t, const char *path);
void traffic_tail_close(struct traffic_tail *t);
/* Reads what is new (both files while rotating), calling fn per whole
 * line; now_ms is a monotonic clock.  Returns the lines read. */
size_t traffic_tail_read(struct traffic_tail *t, int64_t now_ms, traffic_line_fn fn, void *ud);

#endif
