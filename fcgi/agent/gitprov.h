/*
 * gitprov.h - the git.* jobs: a git provider's REST API called with the
 * provider's token (GitHub, GitLab, Bitbucket, each possibly self-hosted).
 *
 * Payload (the claim adds the secrets, fcgi/api/agent.c): git_provider_id,
 * type (github|gitlab|bitbucket), base_url (null: the public service),
 * token, username, username_given, and per kind:
 *   git.test          -> result {login, name, api_url}
 *   git.repositories  q?, cursor? -> {repositories: [{full_name, name,
 *                     clone_url, default_branch, private}], next_cursor}
 *                     (one page; the provider's next link, as a path
 *                     under the API root, in hex: the opaque cursor)
 *   git.branches      repository -> {repository, branches: [{name,
 *                     commit_sha, protected}], truncated} (every page, up
 *                     to GITPROV_MAX_PAGES)
 *   git.hook          action register|remove, app_id, repository_url, url
 *                     (relative: below the agent's plane_url), secret
 *                     (register) -> {action, repository, hook_id, url}:
 *                     the push webhook found by its URL is created,
 *                     updated, or deleted.
 * API roots: github https://api.github.com or <base_url>/api/v3; gitlab
 * <base_url or https://gitlab.com>/api/v4; bitbucket
 * https://api.bitbucket.org/2.0 or <base_url>/2.0.
 * Errors name the call and the provider's status; a rate-limit answer
 * (403/429 with X-RateLimit-Remaining: 0, or Retry-After) says when to
 * retry.  The token and the secret appear in no error, line or result.
 */
#ifndef LAUNCHER_AGENT_GITPROV_H
#define LAUNCHER_AGENT_GITPROV_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "conf.h"

#define GITPROV_TIMEOUT_MS 20000
#define GITPROV_PAGE       50	/* repositories per page */
#define GITPROV_MAX_PAGES  10	/* of 100 branches */

/*
 * Runs job kind with payload.  Returns 0 with *result (caller frees), or
 * -1 with the reason in err.  progress (may be NULL) gets a line per call.
 */
int  gitprov_run(const struct agent_conf *c, const char *kind, const cJSON *payload,
    void (*progress)(void *ud, const char *line), void *ud, cJSON **result, char *err,
    size_t errlen);

/* Helpers, exposed for the unit tests. */
/* The URL of rel="next" in a Link header value into out; 0, or -1 (none). */
int  gitprov_link_next(const char *link, char *out, size_t outlen);
/* owner/name of a repository URL (https, ssh, scp-like; .git dropped); 0 or -1. */
int  gitprov_repo_path(const char *url, char *out, size_t outlen);

#endif
