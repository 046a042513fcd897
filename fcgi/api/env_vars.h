/*
 * env_vars.h - the env store (sql/020_env_vars.sql, 057) as the sections
 * use it: API.md §9 (env_vars.c), the application scope behind
 * /applications/:id/env and the create body's env (app_env.c,
 * applications.c), the function scope behind a function's env
 * (functions.c), the merged map a preview or a deploy resolves.
 *
 * A value is sealed for the request's tenant under
 * secret_bound_purpose(SECRET_ENV_VAR, "<scope>:<scope_id>:<KEY>")
 * (core/secret.h), so it opens only in its own row.  A value that does not
 * open (altered, or copied from another row) is never shown: the call
 * fails with ERR_CONFLICT naming the key ("set a new value"), recorded
 * for the router (req_fail), and the plane logs it.
 */
#ifndef LAUNCHER_ENV_VARS_H
#define LAUNCHER_ENV_VARS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/http.h"

/*
 * Limits (API.md §9), the same numbers in sql/020_env_vars.sql (the
 * database enforces the first two) and static/openapi.json.  1000 per
 * scope keeps a merged map of three scopes at 3000 entries and the
 * largest bulk body under the default 1 MiB body limit for typical
 * values; 64 KiB holds a PEM bundle or a JSON credential file.
 */
#define ENV_VARS_MAX_PER_SCOPE   1000
#define ENV_VARS_MAX_VALUE       65536	/* bytes */
#define ENV_VARS_MAX_KEY         255	/* apps_check_env_key */
#define ENV_VARS_MAX_DESCRIPTION 1000
/* What a value reads as where the caller may not see it. */
#define ENV_VARS_MASK "********"

/* One scope: scope_id is the project's id for scope "project". */
struct env_scope {
	const char *project_id;
	const char *scope;	/* "project", "environment", "application", "function" */
	const char *scope_id;
};

/* A stored variable; value (arena, NUL-terminated) only once opened. */
struct env_var {
	const char *id;
	const char *key;
	const char *scope;
	const char *scope_id;
	const char *sealed;
	const char *value;
	size_t      len;
	bool        is_secret;
};

/*
 * Checks that s is a scope of s->project_id and takes its lock until the
 * end of the transaction (sql env_scope_lock: writers of one scope run one
 * after the other); fills s->scope_id for scope project.  A scope that is
 * not the project's: ERR_BAD_REQUEST naming scope_id (recorded).
 */
enum err env_scope_lock(struct req *r, struct env_scope *s);

/* The variables of scope s, by key, values not opened (*n may be 0). */
enum err env_scope_read(struct req *r, const struct env_scope *s, struct env_var **vars, size_t *n);

/* Opens v->value; ERR_CONFLICT naming the key when it does not open. */
enum err env_var_open(struct req *r, struct env_var *v);

/* What env_scope_write did, key lists (arrays of strings, caller owns). */
struct env_write {
	cJSON *created, *updated, *deleted, *unchanged;
};

/*
 * Writes scope s (locks it first, env_scope_lock): map is {KEY: "value" |
 * null}; null deletes the key, and with prune every key of the scope that
 * map does not name is deleted too.  A value equal to the stored one keeps
 * its row as it is (no new version, no pending deploy).  More than
 * ENV_VARS_MAX_PER_SCOPE variables afterwards: ERR_BAD_REQUEST naming
 * field, nothing written.  Keys and values must have passed the field
 * table (apps_check_env_key, ENV_VARS_MAX_VALUE).  out may be NULL.
 */
enum err env_scope_write(struct req *r, struct env_scope *s, const cJSON *map, bool prune,
    const char *field, struct env_write *out);

/*
 * Makes the variables keys (a JSON array of key strings) of scope s
 * (locked by env_scope_write before) write-only, is_secret, as a POST
 * /env-vars with is_secret does; keys the scope does not hold are skipped.
 */
enum err env_scope_mark_secret(struct req *r, const struct env_scope *s, const cJSON *keys);

/*
 * The merged map of an application or a function (owner_id: its id; NULL:
 * that of environment_id alone), API.md §9: every project-scope
 * variable, overridden by the environment's, then by the application's or
 * function's own; by key, values opened (ERR_CONFLICT naming the first
 * that does not open).
 */
enum err env_vars_merged(struct req *r, const char *project_id, const char *environment_id,
    const char *owner_id, struct env_var **vars, size_t *n);

/* One application's (or function's) merged map (env_vars_merged_apps). */
struct env_app_map {
	const char     *app_id, *app_name;	/* the function's, when function */
	bool            function;
	struct env_var *vars;	/* by key, values opened */
	size_t          n;
};

/*
 * The merged maps of every application of environment_id that has any
 * variable, and with functions true of every such function too, in one
 * statement (as env_vars_merged gives each): applications in their
 * creation order, then functions in theirs; errors as env_vars_merged.
 */
enum err env_vars_merged_apps(struct req *r, const char *environment_id, bool functions,
    struct env_app_map **apps, size_t *napps);

#endif
