/*
 * apps_common.h - what applications.c, deployments.c and the agent
 * routes share about applications.
 */
#ifndef LAUNCHER_APPS_COMMON_H
#define LAUNCHER_APPS_COMMON_H

#include <cjson/cJSON.h>

#include "../core/http.h"

/* project_of for /applications/:id routes; sets r->resource. */
const char *apps_project_of(struct req *r);
/* The env map sealed for this tenant (arena string, SECRET_APP_ENV), or NULL. */
const char *apps_env_seal(struct req *r, const cJSON *map);
/* The env map of a sealed value (NULL/"" = {}); NULL if it does not open. */
cJSON      *apps_env_open(struct req *r, const char *sealed);
/* Answers with the deployment object. */
enum err    apps_respond_deployment(struct req *r, const char *id, int status);

#endif
