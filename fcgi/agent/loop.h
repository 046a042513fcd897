/*
 * loop.h - launcher-agent's single-threaded main loop: heartbeats, job
 * claims, and the supervision of the one job running in its child
 * (lease renewal, progress forwarding, completion, cancellation).
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

#include "conf.h"

#define AGENT_STOP_GRACE_MS  10000
#define AGENT_BACKOFF_MIN_MS 1000
#define AGENT_BACKOFF_MAX_MS 30000
#define AGENT_PENDING_MAX    1000	/* progress lines held while the plane is away */

/* Runs until a stop signal; returns the process exit code (0). */
int     agent_loop_run(const struct agent_conf *c, const char *token);
/* One heartbeat, its answer's data printed on stdout; returns 0 or 1. */
int     agent_loop_once_heartbeat(const struct agent_conf *c, const char *token);
/* The next back-off delay after a failure (0 = none yet): 1 s doubling to 30 s. */
int64_t agent_backoff_next(int64_t current_ms);

#endif
