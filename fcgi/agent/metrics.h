/*
 * metrics.h - the agent's 10 s points (API.md §16): the host's CPU,
 * memory, disk, load and network (hostinfo.h: /proc and statvfs) and, per
 * running application container, CPU percent, memory and restart count
 * (the engine's GET /containers/{id}/stats?stream=false, ctr.h), sent in
 * batches to POST /agent/metrics.
 *
 * A point's ts is its slot: the wall clock rounded down to a multiple of
 * metrics_interval (conf key; 10 s), so that a series has one point per
 * slot and the plane's insert, unique on (server, ts) and (application,
 * instance, ts), makes a resent batch harmless.  Sampling never waits for
 * the plane: points wait in a bounded FIFO (struct metrics_queue) until a
 * batch is acknowledged; a batch that fails stays at the head and is sent
 * again after the agent's back-off.  Beyond the bound (conf key
 * metrics_queue_max points, sized for well over 15 minutes of a host and
 * its containers) the oldest points are dropped, counted and logged.
 */
#ifndef LAUNCHER_AGENT_METRICS_H
#define LAUNCHER_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "ctr.h"
#include "hostinfo.h"
#include "plane.h"
#include "xfer.h"

#define METRICS_BATCH 500	/* points per request (the plane takes 5000 of each kind) */

/* One point; a negative figure is unknown (null on the wire). */
struct metrics_point {
	int64_t ts;		/* unix seconds, a multiple of the interval */
	bool    host;		/* else a container's */
	double  cpu_percent;
	int64_t mem_used, mem_total, disk_used, disk_total;	/* host */
	double  load1;
	int64_t net_rx, net_tx;
	char    app_id[40];	/* container */
	char    instance[128];	/* the container's name */
	int64_t memory_bytes;
	int64_t restarts;
};

/* A FIFO ring of points. */
struct metrics_queue {
	struct metrics_point *p;
	size_t                cap, head, len;
	int64_t               dropped;	/* points lost to the bound, since start */
};

struct metrics_cpu_prev {
	char                  id[80];
	struct ctr_cpu_sample s;
};

struct metrics {
	struct metrics_queue     q;
	struct cpu_times         host_cpu;
	struct metrics_cpu_prev *cpu;	/* the containers' previous samples */
	size_t                   ncpu;
	int64_t                  last_ts;	/* the last slot sampled */
	int64_t                  dropped_logged;
	bool                     unsupported_logged;
};

/* 0, or -1 out of memory. */
int   metrics_queue_init(struct metrics_queue *q, size_t cap);
void  metrics_queue_free(struct metrics_queue *q);
/* Appends; when full the oldest point goes first (dropped + 1). */
void  metrics_queue_push(struct metrics_queue *q, const struct metrics_point *pt);
/* The i-th oldest point (i < len). */
const struct metrics_point *metrics_queue_at(const struct metrics_queue *q, size_t i);
/* Forgets the n oldest points (acknowledged). */
void  metrics_queue_pop(struct metrics_queue *q, size_t n);

/* The slot of a wall-clock time in ms: seconds rounded down to interval_ms. */
int64_t metrics_slot(int64_t wall_ms, int64_t interval_ms);
/* Milliseconds from wall_ms to the next slot boundary (1..interval_ms). */
int64_t metrics_until_next(int64_t wall_ms, int64_t interval_ms);

/*
 * The body of POST /agent/metrics for the n oldest points: {"host": [...],
 * "containers": [...]} (caller frees); NULL on OOM.
 */
cJSON *metrics_body(const struct metrics_queue *q, size_t n);

int   metrics_init(struct metrics *m, size_t queue_max);
void  metrics_free(struct metrics *m);
/*
 * Samples the slot of wall_ms: the host, and when engine_up the running
 * containers labelled launcher.app.  The slot just sampled is skipped; a
 * clock gone back is logged and sampled on.
 */
void  metrics_sample(struct metrics *m, struct xfer *x, struct arena *a, bool engine_up,
    int64_t wall_ms, int64_t interval_ms);

typedef enum plane_rc (*metrics_post_fn)(void *ud, const char *path, const cJSON *body,
    struct plane_answer *ans);
/*
 * Sends one batch of the oldest points.  Returns PLANE_OK when it was
 * accepted (or the queue is empty), the failure otherwise (the batch
 * stays queued; a batch refused as invalid, 400, is dropped and logged so
 * that it cannot block the queue).
 */
enum plane_rc metrics_send(struct metrics *m, metrics_post_fn post, void *ud,
    struct plane_answer *ans);
/*
 * When to send next after metrics_send answered rc at now (monotonic ms):
 * at once after a success, at retry_at while the plane's back-off runs,
 * else (refused, or failed without a back-off, as when the body could not
 * be built) at the next sample: never a retry at once in a loop.
 */
int64_t       metrics_next_send(enum plane_rc rc, int64_t now, int64_t retry_at,
    int64_t next_sample);

#endif
