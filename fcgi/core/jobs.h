/*
 * jobs.h - work for a server: one place that creates jobs, with the
 * deadline and lease every kind must have (ARCHITECTURE.md, "Jobs").
 */
#ifndef LAUNCHER_JOBS_H
#define LAUNCHER_JOBS_H

#include "http.h"

struct job_kind {
	const char *kind;
	int         lease_seconds;	/* renewed by the agent while it works */
	int         deadline_seconds;	/* from creation; then the job fails */
	int         max_attempts;	/* lease expiries retried up to this */
};

/* The kinds the plane creates; a kind not in the table cannot be queued. */
const struct job_kind *job_kind_find(const char *kind);

/*
 * Queues a job of kind for server_id (project_id may be NULL) with payload
 * (a JSON object as text, or NULL for {}).  *id receives the job id.
 */
enum err job_create(struct req *r, const char *server_id, const char *project_id,
    const char *kind, const char *payload, const char **id);

#endif
