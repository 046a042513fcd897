/*
 * loop.h - launcher-agent's single-threaded main loop: heartbeats, job
 * claims, and the supervision of the jobs running in its children
 * (lease renewal, progress forwarding, completion, cancellation).
 *
 * Jobs run in slots, each one child: the main slot runs any kind, one job
 * at a time as it always did (deploys, database and backup jobs of a
 * server never overlap); conf invoke_slots more (default 4, 0 = none) run
 * fn.invoke only, so that an invocation, which may take up to its
 * function's timeout, never holds back the server's other jobs.  Each slot
 * has its own lease, progress, deadline and completion; a claim says which
 * kinds the free slots can take (agent_claim_want), and the plane hands out
 * no more invocations of one function than its container serves at once
 * (sql/061_job_claim_kinds.sql).
 *
 * Nothing transient ends the loop: a plane or engine that does not answer
 * is logged and retried with back-off (1 s doubling to 30 s, reset by any
 * success); a 401 makes the agent re-read its token file before the next
 * attempt.  SIGTERM/SIGINT stop claiming, give a running job up to
 * AGENT_STOP_GRACE_MS to finish and complete, then kill it (its lease
 * expiry re-queues it on the plane) and return.  SIGHUP re-reads the token
 * file.
 */
#ifndef LAUNCHER_AGENT_LOOP_H
#define LAUNCHER_AGENT_LOOP_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "conf.h"

#define AGENT_STOP_GRACE_MS  10000
#define AGENT_BACKOFF_MIN_MS 1000
#define AGENT_BACKOFF_MAX_MS 30000
#define AGENT_PENDING_MAX    1000	/* progress lines held while the plane is away */
#define AGENT_INVOKE_SLOTS_MAX 16	/* conf invoke_slots' ceiling */
#define AGENT_SLOTS_MAX      (1 + AGENT_INVOKE_SLOTS_MAX)
#define AGENT_INVOKE_KIND    "fn.invoke"	/* the only kind of the invoke slots */

/* What a claim asks the plane for (POST /agent/jobs/claim). */
enum agent_want {
	AGENT_WANT_NONE,	/* every slot is busy: no claim */
	AGENT_WANT_ANY,		/* any kind (no body, as before slots) */
	AGENT_WANT_INVOKE,	/* {"kinds": ["fn.invoke"]}: the main slot is busy */
	AGENT_WANT_OTHER,	/* {"except_kinds": ["fn.invoke"]}: the invoke slots are */
};

/* Runs until a stop signal; returns the process exit code (0). */
int     agent_loop_run(const struct agent_conf *c, const char *token);
/* One heartbeat, its answer's data printed on stdout; returns 0 or 1. */
int     agent_loop_once_heartbeat(const struct agent_conf *c, const char *token);
/*
 * What to claim, busy[i] telling whether slot i runs a job (0 the main
 * slot, 1..nslots-1 the invoke slots).  With no invoke slot, the main
 * slot takes any kind, fn.invoke included.
 */
enum agent_want agent_claim_want(const bool *busy, int nslots);
/*
 * The slot a claimed job of kind runs in: fn.invoke a free invoke slot,
 * else the main slot when free; another kind the main slot only (claimed
 * from a plane that ignored the filter while it is busy: none).  -1 when none.
 */
int     agent_slot_pick(const char *kind, const bool *busy, int nslots);
/* The next back-off delay after a failure (0 = none yet): 1 s doubling to 30 s. */
int64_t agent_backoff_next(int64_t current_ms);

#endif
