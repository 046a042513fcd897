/*
 * fnshim.h - what a function's image is made of besides its code: the
 * runtime's HTTP shim (conf/functions/shim.js, shim.py) and the Dockerfile
 * of a function's build context, both compiled into the agent (the
 * Makefile generates build/gen/fnshim_data.c from conf/functions/), so
 * that the agent that builds a function carries the shim it was tested with.
 *
 * The build context of a function (agent fn.deploy):
 *
 *     Dockerfile            fn_dockerfile(runtime)
 *     launcher/<shim name>  fn_shim(runtime, &len), named fn_shim_name(runtime)
 *     fn/...                the function's code; the handler "index.handler"
 *                           is the export/def `handler` of fn/index.js
 *                           (node20) or fn/index.py (python3): fn_handler_file
 *
 * built with the build arg FN_DOCKERFILE_BASE_ARG set to the runtime's base
 * image (config function_runtime_images, mapped through the image mirror
 * table at claim) and FN_DOCKERFILE_HANDLER_ARG set to the handler: the
 * build runs the shim's check (the handler's file exists, compiles, and
 * names the handler), so that a deploy of a handler that does not exist
 * fails at build, naming it.  The image runs the shim as an unprivileged
 * user on port FN_PORT; the container's env carries LAUNCHER_FN_HANDLER,
 * LAUNCHER_FN_TIMEOUT (seconds) and PORT (the shim protocol:
 * README "Functions: runtimes and the shim").
 *
 * Every string returned is static, NUL-terminated, never freed.
 */
#ifndef LAUNCHER_AGENT_FNSHIM_H
#define LAUNCHER_AGENT_FNSHIM_H

#include <stdbool.h>
#include <stddef.h>

#define FN_PORT                   8080
#define FN_HEALTH_PATH            "/_launcher/health"	/* GET: 200 "ok" */
#define FN_HEADER_INVOCATION      "X-Launcher-Invocation"	/* request: the invocation id */
#define FN_HEADER_TRIGGER         "X-Launcher-Trigger"	/* request: http|cron|invoke */
#define FN_HEADER_STATUS          "X-Launcher-Invocation-Status"	/* answer: ok|error|timeout|oom */
#define FN_LOG_PREFIX             "LAUNCHER-INVOCATION "	/* one stdout line per invocation */
#define FN_BODY_MAX               ((size_t)6 << 20)	/* request body; above: 413 */
#define FN_DOCKERFILE_BASE_ARG    "LAUNCHER_FN_BASE"	/* build arg: the runtime base image */
#define FN_DOCKERFILE_HANDLER_ARG "LAUNCHER_FN_HANDLER"	/* build arg: the handler */

/* runtime is one the shim exists for: "node20" or "python3". */
bool        fn_runtime_ok(const char *runtime);
/* The shim's source for runtime and its length in *len; NULL (and *len 0) for an unknown runtime. */
const char *fn_shim(const char *runtime, size_t *len);
/* The shim's file name in the context's launcher/ directory ("shim.js", "shim.py"); NULL when unknown. */
const char *fn_shim_name(const char *runtime);
/* The Dockerfile of a function of runtime (see above); NULL when unknown. */
const char *fn_dockerfile(const char *runtime);
/*
 * handler is "<file>.<name>": file 1..128 bytes of [A-Za-z0-9_-] and '/'
 * (relative, no empty or dot segment), name an identifier [A-Za-z_$][A-Za-z0-9_$]*
 * of at most 64 bytes (no '$' for python3).
 */
bool        fn_handler_ok(const char *runtime, const char *handler);
/*
 * The path under fn/ of the handler's file ("index.js" for "index.handler"
 * on node20, "index.py" on python3) into out: where inline code goes.  0, or
 * -1 when the runtime or handler is not valid or out is too small.
 */
int         fn_handler_file(const char *runtime, const char *handler, char *out, size_t outlen);

#endif
