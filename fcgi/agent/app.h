/*
 * app.h - the application job kinds: app.deploy, app.scale, app.start,
 * app.stop, app.restart, app.remove, app.exec.
 *
 * CONTRACT WITH THE PLANE (it creates these jobs and reads their results).
 *
 * Containers: labels launcher.managed=1, launcher.tenant, launcher.project,
 * launcher.app, launcher.deployment; name lnchr-<app8>-<dep8>-<n>.  The
 * agent only ever stops/removes containers labelled launcher.managed=1 and
 * launcher.app=<the job's app_id>; never volumes (volume.remove, volume.h,
 * removes only engine volumes carrying our labels).
 *
 * Payload (all kinds): {"tenant_id", "project_id", "app_id", "deployment_id"
 * (null for app.remove), "app": {"name", "app_type": web|worker|api,
 * "exposed_port", "replicas", "restart_policy", "start_command",
 * "cpu_limit", "memory_limit", "healthcheck_path",
 * "healthcheck_timeout_seconds", "hostname"}, "env": {K: V},
 * "volumes": [{"volume_id", "mount_path", "mode": rw|ro, "size_limit"}]}
 * (volume.h: the engine volumes are made before the first container).
 * app.deploy adds "source": {"type": "docker_image", "image"} |
 * {"type": "git", "repository_url", "branch", "commit_sha",
 * "dockerfile_path", "build_context", "build_args"} |
 * {"type": "release", "image_id"}.  app.scale adds "replicas" and a release
 * source; app.start may carry a release source (used when no container of
 * the deployment exists); app.exec adds "command" (array of strings) and
 * "timeout_seconds" (default 30, capped at 600).
 *
 * Results (the R record's "result"):
 *   app.deploy  {"image", "image_id", "commit_sha", "commit_message",
 *                "strategy": "rolling" | "recreate" (the app mounts volumes: old
 *                containers stop before new ones start), "strategy_reason",
 *                "instances": [...]}
 *   any app.* job that made containers mounting volumes adds "volumes":
 *                [{"volume_id", "warning"}]
 *               failed: "error" = the reason; "result" = {"image",
 *               "image_id", "commit_sha", "commit_message"} as far as known
 *   app.scale, app.start, app.stop, app.restart  {"instances": [...]}
 *   app.remove  {"removed": N}
 *   app.exec    {"exit_code": int|null, "output", "instance", "truncated",
 *                "timed_out"}  (a non-zero exit is still a succeeded job)
 * instance = {"container_id", "name", "deployment_id", "status", "health":
 * "healthy"|"none", "host_port": int|null, "started_at": RFC 3339|null,
 * "restart_count"}.
 *
 * Details and deviations the plane should know:
 *  - dockerfile_path is relative to the repository root; when it lies in
 *    build_context it is sent to /build relative to the context (a path
 *    that already exists relative to the context is also accepted).
 *  - build_args values are redacted from progress like env values.
 *  - app.stop (and scale to 0) rewrite the edge site to "return 503;" so
 *    the hostname answers 503 rather than 502 while nothing runs;
 *    app.start and app.restart rewrite it with the (possibly new) ports.
 *  - Health "healthy" means our check passed (HTTP/TCP for web/api with a
 *    port, "still running after 2 s" otherwise reports "none").
 *  - Cancellation of app.deploy: the child writes
 *    <state_dir>/switched-<deployment_id> just before touching the edge.
 *    When the plane cancels (or the job dies without a result) the agent
 *    starts a detached clean-up: without the marker it force-removes the
 *    deployment's containers (launcher.app + launcher.deployment); with it
 *    the deployment completes instead: the other deployments' containers
 *    of the app are stopped and removed (the drain).  Either way the
 *    scratch build directory goes.
 */
#ifndef LAUNCHER_AGENT_APP_H
#define LAUNCHER_AGENT_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conf.h"

#define APP_LOG_TAIL 50

/* What runner.c hands a kind. */
struct app_job {
	const char              *kind;
	const char              *job_id;
	const cJSON             *payload;
	const struct agent_conf *conf;
	const char              *token;		/* the agent token (db.import's download); NULL */
	int64_t                  time_left_ms;	/* until the job's deadline; 0 = unknown */
	void                   (*emit)(void *ud, const char *line);	/* a progress line */
	void                    *ud;
	cJSON                   *result;	/* set on success; may be set on failure too */
	char                    *error;		/* set on failure */
	size_t                   errlen;
};

/*
 * Sets j's error from fmt, redacted by red (appspec.h); returns -1.  The
 * one way app.* and db.* jobs fail.
 */
struct app_redact;
int  app_job_fail(struct app_job *j, const struct app_redact *red, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether kind is one of the app.* kinds. */
bool app_kind(const char *kind);
/* Runs one app.* job (in the job's child process): 0 succeeded, -1 failed. */
int  app_run(struct app_job *j);

/*
 * After an app.deploy child was killed (cancelled, deadline, crash): the
 * clean-up described above, in a detached process so that the main loop
 * does not wait for the engine.  payload is the job's.
 */
void app_after_kill(const struct agent_conf *c, const char *kind, const char *job_id,
    const cJSON *payload);

/*
 * Runs fn(c, job_id, payload) in a detached process (double fork, its own
 * session, default signals) so that the main loop does not wait for it.
 */
void app_detached(const struct agent_conf *c, const char *job_id, const cJSON *payload,
    void (*fn)(const struct agent_conf *c, const char *job_id, const cJSON *payload));

#endif
