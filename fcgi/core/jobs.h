/*
 * jobs.h - work for a server: one place that creates jobs.  Each kind's
 * lease, deadline and attempts live in the job_kinds table
 * (sql/006_applications.sql), which SQL triggers that queue jobs read too;
 * a kind not in the table cannot be queued.
 */
#ifndef LAUNCHER_JOBS_H
#define LAUNCHER_JOBS_H

#include "http.h"

/*
 * Queues a job of kind for server_id (project_id may be NULL) with payload
 * (a JSON object as text, or NULL for {}).  *id receives the job id.
 */
enum err job_create(struct req *r, const char *server_id, const char *project_id,
    const char *kind, const char *payload, const char **id);

#endif
