/*
 * api.h - the route tables of the API sections (one file each).
 */
#ifndef LAUNCHER_API_H
#define LAUNCHER_API_H

#include "../core/router.h"

extern const struct route api_system_routes[];
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
extern const struct route api_deployment_routes[];
extern const struct route api_job_routes[];

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

#endif
