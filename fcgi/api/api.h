/*
 * api.h - the route tables of the API sections (one file each).
 */
#ifndef LAUNCHER_API_H
#define LAUNCHER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/router.h"

extern const struct route api_system_routes[];
extern const struct route api_plane_routes[];
extern const struct route api_pitr_routes[];
extern const struct route api_auth_routes[];
extern const struct route api_service_key_routes[];
extern const struct route api_user_routes[];
extern const struct route api_project_routes[];
extern const struct route api_member_routes[];
extern const struct route api_environment_routes[];
extern const struct route api_audit_routes[];
extern const struct route api_server_routes[];
extern const struct route api_agent_routes[];
extern const struct route api_application_routes[];
extern const struct route api_app_action_routes[];
extern const struct route api_app_env_routes[];
extern const struct route api_env_var_routes[];
extern const struct route api_app_log_routes[];
extern const struct route api_traffic_routes[];
extern const struct route api_deployment_routes[];
extern const struct route api_job_routes[];
extern const struct route api_volume_routes[];
extern const struct route api_function_routes[];
extern const struct route api_backup_schedule_routes[];
extern const struct route api_database_routes[];
extern const struct route api_registry_routes[];
extern const struct route api_alert_routes[];
extern const struct route api_settings_routes[];
extern const struct route api_issue_routes[];
extern const struct route api_git_provider_routes[];
extern const struct route api_webhook_routes[];
extern const struct route api_terminal_routes[];
extern const struct route api_domain_routes[];
extern const struct route api_backup_routes[];
extern const struct route api_notification_routes[];
extern const struct route api_monitoring_routes[];
extern const struct route api_search_routes[];
extern const struct route api_error_tracking_routes[];
extern const struct route api_mcp_routes[];

/*
 * The MCP endpoint's tool table (mcp.c) as JSON on stdout, each tool with
 * its route, where each input goes, its input schema and the key scopes
 * its route needs (`launcher-fcgi --mcp-tools`; tests/api/test_mcp.py
 * checks it against static/openapi.json).  Nonzero when a tool names no
 * route of the table or a schema is not JSON.  After router_init.
 */
int mcp_print_tools(void);
extern const struct route api_template_routes[];
extern const struct route api_template_deploy_routes[];

/*
 * A terminal session on the target ("application", "database", "server")
 * that :id names (terminals.c): the tenant's limit (429 with Retry-After
 * beyond terminal_sessions_max), the session row, its terminal.open job;
 * answers 201 {sessionId, expires_at, url}.  command_json: the argv as a
 * JSON array; password_env: a database's password variable, else NULL.
 */
enum err terminal_open(struct req *r, const char *target, const char *command_json,
    const char *password_env);

/*
 * Runtime log lines (runtime_logs) of the resource :id names, newest last:
 * the statement of an application's (column application_id) or a
 * database's (database_id).  $1 id, $2 since, $3 until, $4 limit, $5
 * instance, $6 stream, $7 q.
 */
#define RUNTIME_LOGS_SQL(col) \
    "SELECT * FROM (SELECT l.ts AS timestamp, i.id AS instance_id," \
    " coalesce(nullif(l.instance_name, ''), i.name, '') AS instance," \
    " l.container_id, l.stream, l.message, l.id AS _id FROM runtime_logs l" \
    " LEFT JOIN instances i ON i.container_id = l.container_id AND i.application_id = l.application_id" \
    " WHERE l." col " = $1::uuid" \
    " AND ($2::timestamptz IS NULL OR l.ts >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR l.ts < $3::timestamptz)" \
    " AND ($5::text IS NULL OR i.id::text = $5 OR l.instance_name = $5 OR i.name = $5" \
    "  OR l.container_id LIKE $5 || '%')" \
    " AND ($6::text IS NULL OR l.stream = $6)" \
    " AND ($7::text IS NULL OR strpos(l.message, $7) > 0)" \
    " ORDER BY l.ts DESC, l.id DESC LIMIT $4::int) x ORDER BY timestamp, _id"
/*
 * GET /applications/:id/runtime-logs and /databases/:id/logs (app_logs.c):
 * the query parameters ?since=&until=&limit=&instance=&stream=&q= checked
 * (400 naming one), st run, the lines answered.
 */
enum err runtime_logs_answer(struct req *r, const struct db_stmt *st);
/*
 * A monitoring series of :id (monitoring.c, traffic.c): st run with $1 the
 * id and $2..$4 ?from=&to=&step= as given (empty = absent; sql/038's
 * monitoring_window checks them, 400 naming one); no row = 404 naming what.
 */
enum err monitoring_series(struct req *r, const struct db_stmt *st, const char *what);

/*
 * References to resources in environment variables (env_refs.c): the
 * resolve_lookup_fn of core/resolve.h for ${db|bucket|fn.<name>.<prop>} in
 * the environment ctx names.  Callers (preview, deploy):
 *   struct env_refs_ctx c = {r, project_id, environment_id};
 *   resolve_all(vars, n, env_refs_lookup, &c, &res);
 * Messages: "unknown resource kind X", "unknown property P of a database
 * (one of url, ...)", "no database named X in this environment".
 */
struct env_refs_ctx { struct req *r; const char *project_id; const char *environment_id; };
int env_refs_lookup(void *ctx /* struct env_refs_ctx * */, const char *kind, const char *name,
    const char *prop, char **out, char **why);
/*
 * The applications and functions of environment_id whose merged env
 * references the resource called name of dependency list `list`
 * ("databases", "buckets"; directly or through ${VAR}): *names
 * "a (id), function f (id)" or NULL when none; *ids (ids may be NULL)
 * their ids as a JSON array text ("[]" when none), the ids a bucket
 * key's rotation waits for (bucket_keys_release, sql/056).
 * For the 409 of a delete and a key's rotation (buckets.c).
 */
enum err env_refs_users(struct req *r, const char *environment_id, const char *list,
    const char *name, const char **names, const char **ids);
/* The i-th kind of the table that GET /applications/:id/dependencies lists
 * ("db") and the list that names its resources ("databases"); false past
 * the end. */
bool env_refs_kind(size_t i, const char **kind, const char **list);

/*
 * The db kind's lookup (databases.c): property prop of the database called
 * name in c's environment; 0 and *out (malloc'd), 1 when there is none,
 * -1 and *why (malloc'd) when its password does not open.
 */
/*
 * A new database like POST /databases (databases.c): name, type and
 * version in project_id, environment_id and server_id (NULL: the
 * project's defaults), its password sealed, db.provision queued; *id its
 * id.  Answers 409 itself (name taken, image gone).  A restore into a new
 * database (backups.c) then adds "restore" to the provision's payload.
 */
enum err databases_create_like(struct req *r, const char *project_id, const char *environment_id,
    const char *server_id, const char *type, const char *version, const char *name,
    const char **id);
/*
 * A new database like POST /databases from its create body (body: the
 * create fields given, as JSON text) in project_id: the image line of type
 * and version (NULL: the default; none: 400 naming <prefix>type or
 * <prefix>version), its password sealed, db.provision queued; *id.  A name
 * taken answers 409.
 */
enum err databases_create(struct req *r, const char *project_id, const char *body,
    const char *type, const char *version, const char *name, const char *prefix,
    const char **id);
/* The database object of id (as GET answers it), or NULL (error recorded). */
cJSON *databases_object(struct req *r, const char *id);
/* A new volume like POST /volumes (volumes.c) from its create body (JSON
 * text) in project_id: *id; a name taken answers 409. */
enum err volumes_create(struct req *r, const char *project_id, const char *body, const char **id);
/* The volume object of id (as GET answers it), or NULL (error recorded). */
cJSON *volumes_object(struct req *r, const char *id);
/* The database object of id, answered with status (its ETag set). */
enum err databases_respond(struct req *r, const char *id, int status);

/*
 * The staged upload upload_id of a database import (backups.c):
 * <imports_dir>/<upload_id>, in the arena; NULL unless upload_id is a UUID.
 */
const char *backups_import_file(struct req *r, const char *upload_id);

/*
 * The sentry kind's lookup (issues.c): of the application called name in
 * c's environment, its DSN (prop "dsn", error_dsn_url) or the name of its
 * environment ("environment"); 0 and *out (malloc'd), 1 when there is no
 * such application, -1 and *why (malloc'd) otherwise.
 */
int issues_sentry_ref(const struct env_refs_ctx *c, const char *name, const char *prop,
    char **out, char **why);
/* The bucket kind's lookup (buckets.c): as databases_ref, the active key's. */
int buckets_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why);
/*
 * A new bucket like POST /buckets from its create body (body: the create
 * fields given, as JSON text) in project_id: the row, the store's work
 * queued; *id.  A name taken answers 409 naming <prefix>name.
 */
enum err buckets_create(struct req *r, const char *project_id, const char *body,
    const char *name, const char *prefix, const char **id);
/* The bucket object of id (as GET answers it), or NULL (error recorded). */
cJSON *buckets_object(struct req *r, const char *id);
extern const struct route api_bucket_routes[];
int databases_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why);
/* The fn kind's lookup (functions.c): ${fn.<name>.url}, the function's
 * edge URL (http:// + its stored default hostname, sql/059); 0, 1 (no
 * such function in c's environment), -1 (also: no http trigger). */
int functions_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why);

/*
 * For pitr.c (databases.c): the image line of type x version as the SQL
 * functions read it (NULL: not in the table; *known may be NULL); the password of database from_id (sealed)
 * sealed again for database to_id (arena; NULL when it does not open).
 */
const char *databases_image_spec(struct req *r, const char *type, const char *version,
    const char **known);
const char *databases_password_copy(struct req *r, const char *from_id, const char *sealed,
    const char *to_id);
/* The project_of of /databases/:id routes. */
const char *databases_project_of(struct req *r);

/*
 * Templates (templates.c) for the deploy: the YAML text of template ref (a
 * built-in's slug, or the tenant's template by UUID or slug; *yaml lives in
 * the pool or the request arena), ERR_NOT_FOUND recorded when none;
 * templates_names fills ctx (core/template.h) with the names that the
 * project's environment (NULL: its default; 400 naming environment_id when
 * not the project's) already has; templates_invalid records the 400 of a
 * template_check's errors (consumed) as error.details.
 */
struct template_ctx;
enum err templates_source(struct req *r, const char *ref, const char **yaml, size_t *len);
enum err templates_names(struct req *r, const char *project, const char *environment,
    struct template_ctx *ctx);
enum err templates_invalid(struct req *r, cJSON *errors);

#endif
