/*
 * report.h - what the agent tells the plane outside jobs, from its main
 * loop: the complete set of managed containers on this server
 * (POST /agent/instances, every instances_interval and right after each
 * app.* job), the containers' runtime logs (POST /agent/logs, every
 * logs_interval when logs_follow is false; else follow.h ships them as
 * they come, with the line taking and shipping below) and the volumes'
 * used bytes (POST /agent/volumes, every volumes_interval).
 *
 * Inline in the main loop, not in a forked reporter: each tick is one
 * engine list plus one short request per container (3 s timeouts), and
 * one or two plane calls, so heartbeats and lease renewals wait at most a
 * few seconds even when the engine hangs; a forked reporter would need
 * its own back-off and token handling for little gain at this scale.
 *
 * Logs: per container a cursor kept in memory: the timestamp of the last
 * line shipped and how many lines carried exactly that timestamp (Podman
 * stamps whole seconds, and since= is inclusive): lines before it are
 * dropped, and that many lines at it are skipped.  A container seen running
 * for the first time is read with tail=REPORT_FIRST_TAIL (after an agent
 * restart a few lines may be shipped twice).  A container that stopped is
 * read once more; cursors of containers that vanished are forgotten.
 * Lines wait in a bounded buffer while the plane is unreachable (oldest
 * dropped, with a warning).  Runtime logs are not redacted here: the plane
 * knows the values and redacts them (core/redact.h, at POST /agent/logs).
 */
#ifndef LAUNCHER_AGENT_REPORT_H
#define LAUNCHER_AGENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "appspec.h"
#include "ctr.h"
#include "plane.h"
#include "xfer.h"

#define REPORT_ENGINE_TIMEOUT_MS 3000L
#define REPORT_FIRST_TAIL        200
#define REPORT_BATCH_ENTRIES     500
#define REPORT_BATCH_BYTES       ((size_t)256 << 10)
#define REPORT_PENDING_MAX       5000
#define REPORT_LINE_MAX          4096
/* /system/df walks every volume (and image, container): more than 3 s. */
#define REPORT_VOLUMES_TIMEOUT_MS 20000L

struct log_cursor {
	char          id[80];
	bool          have;		/* last is set */
	struct app_ts last;
	int           at_last;		/* lines shipped with timestamp == last */
	bool          running;		/* at the previous tick */
	bool          listed;		/* in this tick's list */
};

/* One container's lines being taken, possibly from a stream (follow.h). */
struct log_take {
	struct log_cursor *c;
	const char        *app, *dep, *db;	/* db: a database's container (app NULL) */
	cJSON             *entries;
	int                added;
	int                skip;	/* lines at c->last still to skip */
	struct app_demux   d;
};

/* A container's previous CPU sample, for engines that give no precpu (ctr.h). */
struct cpu_prev {
	char                  id[80];
	struct ctr_cpu_sample s;
};

struct report {
	struct cpu_prev   *cpu;	/* the last report's running containers */
	size_t             ncpu;
	struct log_cursor *cur;
	size_t             ncur, capcur;
	cJSON             *pending;	/* log entries not yet accepted */
	int64_t            dropped;
	bool               inst_unsupported_logged, logs_unsupported_logged;
	bool               vols_unsupported_logged;
};

/* How the loop lets us call the plane (its token, back-off and accounting). */
typedef enum plane_rc (*report_post_fn)(void *ud, const char *path, const cJSON *body,
    struct plane_answer *ans);

void report_init(struct report *r);
void report_free(struct report *r);

/* One instances report; 0 sent (or not wanted), -1 engine or plane failure. */
int  report_instances(struct report *r, struct xfer *x, struct arena *a, report_post_fn post,
    void *ud);
/*
 * One volumes report (POST /agent/volumes, every volumes_interval): the
 * used bytes of every engine volume carrying our labels (volume.h).  The
 * one report not bounded by REPORT_ENGINE_TIMEOUT_MS: the engine's df
 * reads the volumes, hence the interval of minutes.  0 or -1.
 */
int  report_volumes(struct report *r, struct xfer *x, struct arena *a, report_post_fn post,
    void *ud);
/* One logs tick: gather new lines, then ship what is pending.  0 or -1. */
int  report_logs(struct report *r, struct xfer *x, struct arena *a, report_post_fn post, void *ud);

/*
 * Pure part of a logs tick: the lines of one container's /logs answer
 * (timestamps=1, multiplexed) after cursor c are appended to entries as
 * {"app_id", "deployment_id", "container_id", "timestamp", "stream",
 * "message"}; c advances.  Returns the number added.
 */
int  report_take_lines(struct log_cursor *c, const char *body, size_t len, const char *app_id,
    const char *deployment_id, cJSON *entries);
/* The same for any managed container: app_id NULL = a database's, whose
 * entries carry "database_id" instead of "app_id" and "deployment_id". */
int  report_take_db_lines(struct log_cursor *c, const char *body, size_t len, const char *app_id,
    const char *deployment_id, const char *database_id, cJSON *entries);

/*
 * The same, incrementally, for a followed stream (follow.h): begin (0, or
 * -1 out of memory), feed the bytes as they come (lines split anywhere
 * wait for their end), end when the stream ended (delivers a last line
 * without '\n', frees).  feed and end return the entries added.  The
 * cursor semantics are the same: since=<c->last> is inclusive, so the
 * c->at_last lines at it are skipped.
 */
int  report_take_begin(struct log_take *t, struct log_cursor *c, const char *app_id,
    const char *deployment_id, const char *database_id, cJSON *entries);
int  report_take_feed(struct log_take *t, const char *data, size_t len);
int  report_take_end(struct log_take *t);

/* Drops the oldest pending entries beyond REPORT_PENDING_MAX (a warning). */
void report_bound_pending(struct report *r);
/*
 * Ships r->pending in batches (REPORT_BATCH_ENTRIES, REPORT_BATCH_BYTES)
 * to POST /agent/logs; 0 all sent (or refused and dropped), -1 the plane
 * did not answer (the rest is kept).
 */
int  report_ship(struct report *r, report_post_fn post, void *ud);

#endif
