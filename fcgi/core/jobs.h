/*
 * jobs.h - work for a server: one place that creates jobs.  Each kind's
 * lease, deadline and attempts live in the job_kinds table
 * (sql/006_applications.sql), which SQL triggers that queue jobs read too;
 * a kind not in the table cannot be queued.
 *
 * A job is also what a call that must wait for an agent, a container or a
 * timer answers with (202 + the job resource): the pool never waits, the
 * caller polls GET /jobs/:id (fcgi/api/jobs.c) until the status is
 * terminal and reads the result there.  How each kind's result is kept
 * and shown is one table in jobs.c (job_kind).
 */
#ifndef LAUNCHER_JOBS_H
#define LAUNCHER_JOBS_H

#include <cjson/cJSON.h>

#include "http.h"

/*
 * Queues a job of kind for server_id (project_id may be NULL) with payload
 * (a JSON object as text, or NULL for {}).  *id receives the job id.
 */
enum err job_create(struct req *r, const char *server_id, const char *project_id,
    const char *kind, const char *payload, const char **id);

/* How a kind's result is kept and shown; one row per kind (jobs.c). */
struct job_kind {
	const char *kind;	/* NULL: the row of every kind not listed */
	int         cap;	/* enum cap (perm.h) on the job's project to read it */
	/* The result may show secrets (a command's output): the agent's
	 * result is stored sealed (SECRET_JOB_RESULT) in jobs.result_sealed,
	 * never in jobs.result, and is cleared after the retention
	 * (config job_result_retention_seconds, launcher-scheduler). */
	bool        sealed;
	/* The result's fields the job resource shows; NULL: no result. */
	const char *const *shown;
};

/* The row of kind (never NULL). */
const struct job_kind *job_kind(const char *kind);

/*
 * The job resource of job id in the request's tenant (RLS):
 * {id, kind, status, project_id, application_id, created_at, started_at,
 * finished_at, error, result, result_expires_at, url}; result is the
 * kind's shown fields once the job succeeded or failed (unsealed), null
 * before, and null again after the retention.  Sets *out (NULL when there
 * is no such job: the caller answers 404) and *project (NULL for a job of
 * no project) and *kind.  Returns ERR_OK, a database error, or
 * ERR_INTERNAL when a sealed result does not open (logged).  Never answers.
 */
enum err job_read(struct req *r, const char *id, cJSON **out, const char **project,
    const struct job_kind **kind);

/* The URL of job id's resource, below the request's tenant (arena). */
const char *job_url(struct req *r, const char *id);

/*
 * The answer of a long call that queued job id: 202 {"job": <resource>}
 * with Location: the job's URL.  Returns the writer's result (or a
 * database error; ERR_INTERNAL when the job just queued is not found).
 */
enum err job_respond_queued(struct req *r, const char *id);
/* The same, with one more member of data: name = extra (taken over; a
 * manual backup answers its backup beside the job). */
enum err job_respond_queued_with(struct req *r, const char *id, const char *name, cJSON *extra);

/*
 * Answers r with the outcome of job `id` once it is terminal, without this
 * worker waiting: sets X-Accel-Redirect to nginx's internal
 * /.lnchr-wait/<tenant as the URL names it>/<job>?t=<secs>&ok=<status>,
 * which launcher-ws
 * serves (woken by NOTIFY, sql/055_job_wait.sql); when the job is terminal
 * (or timeout_s passed) launcher-ws hands the request back to the pool
 * (/.lnchr-job/..., job_respond_outcome), which writes the answer.
 * Outcome: succeeded -> ok_status (200 when not 2xx) {"success":true,
 * "data": <the job's result as its kind shows it (opened if sealed), {}
 * when none>}; failed with result.error {code, message, status} -> that
 * status and error envelope; failed otherwise (or cancelled) -> 502
 * JOB_FAILED with the job's error text; not terminal within timeout_s ->
 * 202 with the job resource (as job_respond_queued) so the client polls.
 * timeout_s <= 0, or a sub-request (MCP): job_respond_queued at once.
 * timeout_s is capped at JOB_WAIT_MAX_SECONDS, and at the credential's
 * remaining lifetime less 30 s (the hand-back authenticates with it; a
 * service key without expiry: no cap); nothing left: job_respond_queued.
 */
#define JOB_WAIT_MAX_SECONDS 960	/* a function's longest run (900 s) and its start */
enum err job_respond_wait(struct req *r, const char *id, int timeout_s, int ok_status);

/*
 * The answer of a waited call once launcher-ws hands it back (or at once,
 * whatever the job's state): the outcome above for a terminal job, the
 * 202 of job_respond_queued for one still queued or running, 404 when the
 * request's tenant has no such job.  The caller has authorised reading
 * the job (GET /jobs/:id/outcome, fcgi/api/jobs.c).
 */
enum err job_respond_outcome(struct req *r, const char *id, int ok_status);

#endif
