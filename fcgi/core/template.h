/*
 * template.h - the one parser and checker of Launcher templates (API.md
 * §13; the format of conf/templates/README.md).  POST /templates/validate,
 * the store of tenant templates, the built-in gallery, the deploy and the
 * re-validation of an export all call template_check(); nothing else reads
 * a template.
 *
 * The plan (the answer of validate, the input of deploy), stable JSON:
 *   {"metadata": {...as written...},
 *    "variables": [{"name", "type": "secret"|"string", "generate": bool,
 *                   "length": n (generate only), "description", "default",
 *                   "required": bool (no generate, no default: deploy needs it),
 *                   "value": "********" (generate) | default | null}],
 *    "resources": [{"kind": "volume"|"database"|"bucket"|"application",
 *                   "name", "line", "depends_on": [names] (applications),
 *                   "spec": {...}}]}
 * resources are in creation order: volumes, databases, buckets (each in the
 * order written), then applications topologically sorted by depends_on
 * (ties in the order written).  Specs use the REST API's field names:
 *   volume      {size_limit?}  (bytes)
 *   database    {type, version?, cpu_limit?, memory_limit?}
 *   bucket      {bucket_name, public}
 *   application {app_type, source_type, image_url | repository_url (+branch,
 *                dockerfile_path, build_context) | compose, exposed_port?,
 *                replicas, cpu_limit?, memory_limit?, healthcheck_path?,
 *                start_command?, restart_policy?, icon_url?, color?,
 *                volumes [{name, mount_path, mode?}], env {KEY: value}}
 * cpu_limit and memory_limit stay as written ("1.0", "512M" or numbers):
 * template_cpu() and template_bytes() convert them for the REST layer.
 * env values have their references rewritten into the env store's syntax
 * (core/resolve.h): ${<db>.<prop>} -> ${db.<db>.<prop>} (prop lower-cased,
 * "database" -> "name"), ${<bucket>.<prop>} -> ${bucket.<bucket>.<prop>};
 * ${VAR} stays as written when VAR is a template variable or another key of
 * the same env; scalars that are not strings become their text.
 */
#ifndef LAUNCHER_TEMPLATE_H
#define LAUNCHER_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* A generated secret variable's `length`: at least MIN, at most MAX, LEN
 * when not given (the checker, the deploy and the export hold the same). */
#define TEMPLATE_SECRET_MIN 8
#define TEMPLATE_SECRET_MAX 256
#define TEMPLATE_SECRET_LEN 32

/* The largest template accepted (bytes of YAML). */
#define TEMPLATE_MAX_BYTES (256 * 1024)

/*
 * Name clashes with what already exists where the plan would be created:
 * exists(kind, name, arg) -> true when a resource of that kind ("volume",
 * "database", "bucket", "application") and name exists in the target
 * project and environment.
 */
struct template_ctx {
	bool (*exists)(const char *kind, const char *name, void *arg);
	void *arg;
};

/*
 * Parses and checks a template of len bytes.  Returns the plan (the caller
 * cJSON_Delete()s it) and *errors NULL; or NULL and *errors = an array of
 * {field, message, line, column} (every error found, not just the first;
 * line and column 1-based, 0 when unknown), which the caller deletes.
 * NULL with *errors NULL: out of memory.  ctx may be NULL (no clash check).
 */
cJSON *template_check(const char *yaml, size_t len, const struct template_ctx *ctx,
    cJSON **errors);

/* A cpu_limit of a plan ("1.0" or 1.0) as a number of CPUs: 0, or -1 when
 * it is not a number in (0, 256]. */
int template_cpu(const cJSON *v, double *out);
/* A size of a plan (512M, "1G", "1.5Gi", 268435456: K/M/G/T are powers of
 * 1024, optional "i"/"B") as bytes: 0, or -1 when it is not a size. */
int template_bytes(const cJSON *v, int64_t *out);

#endif
