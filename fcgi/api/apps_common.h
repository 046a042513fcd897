/*
 * apps_common.h - what the application files (applications.c,
 * app_actions.c, app_env.c, app_logs.c), deployments.c and the agent
 * routes share about applications.
 */
#ifndef LAUNCHER_APPS_COMMON_H
#define LAUNCHER_APPS_COMMON_H

#include <cjson/cJSON.h>

#include "../core/http.h"
#include "../core/json.h"
#include "../core/router.h"
#include "env_vars.h"

/* A route of /applications/:id: the cap applies to the app's project. */
#define APPS_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = apps_project_of}

/* An env map: at most APPS_ENV_MAX_KEYS keys [A-Za-z_][A-Za-z0-9_]* of
 * string values up to APPS_ENV_MAX_VALUE bytes: the limits of one scope of
 * the env store (env_vars.h; app_env.c). */
#define APPS_ENV_MAX_KEYS  ENV_VARS_MAX_PER_SCOPE
#define APPS_ENV_MAX_VALUE ENV_VARS_MAX_VALUE
const char *apps_check_env_key(const char *k);
/* The value of an env key: a string; or a string or null (PATCH deletes). */
extern const struct field apps_env_value[1], apps_env_value_or_null[1];
/* The field table row of an env map named name (fl: json.h field flags). */
#define APPS_ENV_MAP(name, fl, values) {name, F_MAP, false, true, 0, APPS_ENV_MAX_KEYS, NULL, \
	.key_check = apps_check_env_key, FIELD_SUB(values), .flags = (fl)}

/* Field checks shared by the body of an app and of a deploy. */
const char *apps_check_branch(const cJSON *v);
const char *apps_check_image(const cJSON *v);

/* project_of for /applications/:id routes; sets r->resource. */
const char *apps_project_of(struct req *r);
/* The env map sealed for this tenant (arena string, SECRET_APP_ENV), or NULL. */
const char *apps_env_seal(struct req *r, const cJSON *map);
/* The env map of a sealed value (NULL/"" = {}); NULL if it does not open. */
cJSON      *apps_env_open(struct req *r, const char *sealed);
/* Answers with the application object (and its webhook secret, shown once, if not NULL). */
enum err    apps_respond(struct req *r, const char *id, int status, const char *secret);
/*
 * Queues kind on the current release (extra: JSON merged into the payload)
 * and shows pending as the app's pending action (NULL = none); *job (may be
 * NULL) gets the job's id.  An app never deployed is a 409 (answered).
 */
enum err    apps_action(struct req *r, const char *kind, const char *pending, const char *extra,
    const char **job);
/*
 * The env snapshot a new release of app runs with: the merged store with
 * every reference resolved, sealed (SECRET_APP_ENV), and the app's
 * env_version it comes from, as api_deploy() takes them (app_actions.c),
 * and (compose_spec may be NULL) the compose_spec it was built from (NULL
 * unless docker_compose), read with it.
 * A reference that does not resolve: ERR_BAD_REQUEST recorded with one
 * detail per reference (req_fail_details), nothing written.
 */
enum err    apps_release_env(struct req *r, const char *app, const char **sealed,
    const char **version, const char **compose_spec);
struct resolve_var;
/*
 * The env snapshot of a merged map vars[0..n) of project_id's
 * environment_id (an application's release, a function's deploy): every
 * reference resolved by the one resolver (core/resolve.h, the kinds of
 * env_refs.c), sealed (SECRET_APP_ENV) into *sealed (arena).  A reference
 * that does not resolve: ERR_BAD_REQUEST recorded with one detail per
 * reference {field: KEY, message: "${db.x.url}: ..."} (names references,
 * never values), nothing sealed.
 */
enum err    apps_env_snapshot(struct req *r, const char *project_id, const char *environment_id,
    const struct resolve_var *vars, size_t n, const char **sealed);
/*
 * 403 (answered) when a service of app's stack (its compose_spec, or with
 * deployment the source of that release of app) has host settings and
 * the caller may not reach out of the sandbox (perm_host_escape): a shell,
 * a command or a rollback there is the host's root.  ERR_OK otherwise.
 */
enum err    apps_host_guard(struct req *r, const char *app, const char *deployment);
/*
 * A new deployment of app as POST /applications/:id/deploy makes it
 * (apps_release_env, then api_deploy() with trigger and the optional
 * commit, branch and image): *res its row {deployment_id, created}.
 * Errors recorded for the router (400 per bad reference, 409).
 */
enum err    apps_deploy(struct req *r, const char *app, const char *trigger, const char *commit,
    const char *branch, const char *image, struct pg_result **res);
/*
 * A new application like POST /applications from its create body (the
 * field table's fields as validated, without env; repository_url is split
 * from its credentials here) in project_id, env written to the
 * application scope of the store (may be NULL): *id, and *secret the push
 * webhook's secret for git + autodeploy (else NULL).  409 answered for a
 * name taken; other errors recorded for the router.  prefix NULL: body was
 * checked against the create field table already (the route); else it is
 * checked here, table and rule, each bad field named prefix + field (a
 * template deploy: "applications.<name>.").
 */
enum err    apps_create(struct req *r, const char *project_id, cJSON *body, const cJSON *env,
    const char *prefix, const char **id, const char **secret);
/* The application object of id (as GET answers it, without ETag), or NULL. */
cJSON      *apps_object(struct req *r, const char *id);
/* Answers with the deployment object. */
enum err    apps_respond_deployment(struct req *r, const char *id, int status);

/*
 * A resolver lookup (core/resolve.h) that only records which resources the
 * references name ({kind, name} once each, into ctx: a dependencies object
 * holding one array per kind, named as env_refs_kind lists them) and
 * resolves every one to "": the references are found by the resolver's own
 * parsing, and no value of a resource is read.  GET
 * /applications/:id/dependencies and the delete of a database use it.
 */
int  apps_record_ref(void *ctx, const char *kind, const char *name, const char *prop, char **out,
    char **why);
struct resolve_result;
/* Frees a resolver result whose values were secrets, wiping them first. */
void apps_result_free_wiped(struct resolve_result *res, size_t n);
/* Deletes a cJSON map that held secret values (an env map), wiping them
 * first. */
void apps_map_delete_wiped(cJSON *map);

#endif
