/*
 * runner.h - jobs: what a claim hands over, the kinds the agent knows, and
 * the child process that runs one job.
 *
 * A job runs in a forked child (its own process group) so that the agent
 * keeps heartbeating, renewing the lease and forwarding progress while the
 * work blocks, and so that a cancelled job is ended with one kill().  The
 * child reports over a pipe, one record per line:
 *
 *     P <progress line>\n        at most RUNNER_MAX_LINE bytes of text
 *     R <JSON>\n                 once, last: {"status", "result"?, "error"?}
 *
 * A child that exits without an R record failed; the parent says how.
 */
#ifndef LAUNCHER_AGENT_RUNNER_H
#define LAUNCHER_AGENT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "conf.h"

#define RUNNER_MAX_LINE   4096			/* the plane's limit per progress line */
#define RUNNER_MAX_RESULT ((size_t)512 << 10)	/* the R record's JSON */
#define RUNNER_MAX_ERROR  8000			/* the plane keeps up to 8192 */

struct job {
	char    id[64];
	char    kind[72];
	cJSON  *payload;		/* owned; runner_job_clear() frees it */
	int64_t attempt;
	int64_t lease_seconds;
	/* Time facts of the claim, for deadlines and the clock_skew check. */
	bool    have_plane_time;
	double  plane_time;		/* epoch seconds, the plane's clock */
	double  claim_received;		/* epoch seconds, ours */
	int64_t claim_rtt_ms;
	bool    have_deadline;
	double  deadline_in_s;		/* deadline_at - plane_time */
};

/*
 * Fills *j from the claim's "job" object; fallback_time (may be NULL) is
 * the answer's top-level plane_time, used when the job carries none.
 * received and rtt_ms describe the claim request on our clock.  Returns 0,
 * or -1 with the reason in err (a job without a usable id cannot even be
 * completed).
 */
int  runner_job_parse(const cJSON *o, const cJSON *fallback_time, double received,
    int64_t rtt_ms, struct job *j, char *err, size_t errlen);
void runner_job_clear(struct job *j);
/* Whether the agent knows how to run this kind. */
bool runner_kind_known(const char *kind);

/*
 * Forks the child for job j; *pid and *fd (the read end, non-blocking,
 * close-on-exec) are the parent's.  token: the agent token, for the kinds
 * that call the plane themselves (db.import's download); may be NULL.  The child never returns.  Returns 0 or
 * -1 (fork/pipe failed; errno set).
 */
int  runner_spawn(const struct job *j, const struct agent_conf *c, const char *token, pid_t *pid,
    int *fd);
/*
 * The fork under runner_spawn, for any process that reports as a job's
 * child does (term.c's sessions): its own group, killed with the agent,
 * signals reset; the child runs body(ud, write end) and _exits with its
 * value.  id names the job in a warning.  As runner_spawn otherwise.
 */
int  runner_fork(const char *id, int (*body)(void *ud, int fd), void *ud, pid_t *pid, int *fd);

/*
 * Runs job j in the calling process, writing records to fd; returns the
 * exit code the child uses.  (Exposed so tests can run a job without fork.)
 */
int  runner_run(const struct job *j, const struct agent_conf *c, const char *token, int fd);

/* write(2) until all n bytes went (EINTR retried); 0, or -1 when fd fails. */
int  runner_write_all(int fd, const void *data, size_t n);

/* Builds a complete body {"status": "failed", "error": msg} (caller frees). */
cJSON *runner_failed(const char *msg);

#endif
