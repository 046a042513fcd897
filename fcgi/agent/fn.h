/*
 * fn.h - the function job kinds: fn.deploy, fn.invoke, fn.remove.
 *
 * CONTRACT WITH THE PLANE (sql/054_functions.sql fn_job_payload; the claim
 * adds "env" opened and "base_image" mapped, fcgi/api/agent.c).
 *
 * Payload (all kinds): {"tenant_id", "project_id", "function_id", "name",
 * "runtime": node20|python3, "handler": "file.func", "source": {"code"} |
 * {"files": {path: content}} | {"type": "git", "repository_url", "branch",
 * "path"} (cloned by image_clone as an application's repository; path's
 * directory becomes the code), "triggers": [...], "timeout_seconds",
 * "memory_limit", "hostname", "network", "env": {K: V}, "base_image"}.
 * fn.invoke adds "invocation_id", "trigger" (invoke|cron), "payload" (any
 * JSON, the request body).  fn.remove carries tenant_id, function_id, name.
 *
 * A function is run as an application of one replica is (app.h): fn.deploy
 * builds the image (fnshim.h's context: Dockerfile, the shim, the code
 * under fn/) with image_build, then runs app.deploy of that image in this
 * process: one long-lived container labelled launcher.app and
 * launcher.function = the function id (so the runtime log is followed and
 * shipped like an application's; the plane files it under the function),
 * memory limited, health-gated on /_launcher/health, the old container
 * replaced once the new one is healthy, and the edge site
 * app-<function id>.conf for its hostname, letting only the http
 * trigger's methods through (others: 405; no http trigger: no site).
 *
 * fn.deploy writes the function's idle_timeout_seconds for the agent's
 * scale to zero (fnscale.h); fn.invoke of a stopped container starts it
 * first; fn.remove removes that state.
 *
 * Results:
 *   fn.deploy  {"image", "image_id", "container_id", "instances"}
 *   fn.invoke  {"status": HTTP status, "body": JSON value or text,
 *               "duration_ms", "invocation": {"id", "status":
 *               ok|error|timeout|oom}} (the shim's answer; a 5xx is still a
 *               succeeded job, its invocation status says why)
 *   fn.remove  {"removed": N}
 */
#ifndef LAUNCHER_AGENT_FN_H
#define LAUNCHER_AGENT_FN_H

#include <stdbool.h>

#include "app.h"

/* Whether kind is one of the fn.* kinds. */
bool fn_kind(const char *kind);
/* Runs one fn.* job (in the job's child process): 0 succeeded, -1 failed. */
int  fn_run(struct app_job *j);

/*
 * Scale to zero (fnscale.h), in a child process: the function's container
 * started if it is not running and its health check passed within
 * timeout_ms (*port its loopback port); stopped.  0 or -1 (err).
 */
int  fn_container_start(const struct agent_conf *c, const char *fid, long timeout_ms, int *port,
    char *err, size_t errlen);
int  fn_container_stop(const struct agent_conf *c, const char *fid, char *err, size_t errlen);

#endif
