/*
 * follow.h - runtime logs followed as streams (config logs_follow, the
 * default; README "Live streams (launcher-ws)").
 *
 * A process of its own, forked by the main loop like a terminal session
 * (runner_fork: its own group, dies with the agent), so that the loop never
 * waits on it.  It
 *   - lists the engine's containers every FOLLOW_LIST_MS; every running one
 *     carrying launcher.app or launcher.database gets a transfer
 *     GET /containers/<id>/logs?follow=1&stdout=1&stderr=1&timestamps=1&
 *     since=<cursor> on the engine socket (one libcurl multi handle, every
 *     transfer in one loop);
 *   - takes the lines of what arrives exactly as the polling path does
 *     (report.h: report_take_begin/feed/end, the same cursor: timestamp of
 *     the last line shipped and how many lines carried it), so that a
 *     reconnect (the container restarted, the engine dropped the stream)
 *     resumes without a gap or a duplicate.  A container first seen running
 *     is read from its start when it was created after this process
 *     started (a new deployment: nothing lost), else its last
 *     REPORT_FIRST_TAIL lines (after an agent restart a few may come twice);
 *   - a stream that ends (the container stopped) is read to its end and
 *     dropped; cursors of containers no longer listed are forgotten after
 *     FOLLOW_FORGET_LISTS lists (the engine's list may leave out, for a
 *     moment, a container being stopped or started);
 *   - ships the pending lines to POST /agent/logs (report_ship: same
 *     batches) once the oldest has waited FOLLOW_COALESCE_MS or a batch is
 *     full; the pending lines are bounded (report_bound_pending).  A plane
 *     that does not answer is retried with back-off (1 s doubling to 30 s).
 * The agent token is the one it was forked with: the loop ends and
 * re-forks the process when the token changes.
 */
#ifndef LAUNCHER_AGENT_FOLLOW_H
#define LAUNCHER_AGENT_FOLLOW_H

#include <sys/types.h>

#include "conf.h"

#define FOLLOW_LIST_MS     1000	/* new containers are followed within this */
#define FOLLOW_COALESCE_MS 50	/* a line waits at most this for others */
#define FOLLOW_MAX         512	/* containers followed at once */
#define FOLLOW_FORGET_LISTS 30	/* a cursor outlives its container this many lists */

/* Forks the follower; *pid its process (group).  0 or -1 (errno). */
int follow_spawn(const struct agent_conf *c, const char *token, pid_t *pid);

#endif
