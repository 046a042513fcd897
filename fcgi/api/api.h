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
extern const struct route api_app_log_routes[];
extern const struct route api_deployment_routes[];
extern const struct route api_job_routes[];
extern const struct route api_volume_routes[];

#endif
