/*
 * compose.h - the compose file of a docker_compose application (API.md
 * §4): parsed with the one YAML reader (yaml.h), checked, and normalised
 * into the JSON the plane stores (applications.compose_spec) and the
 * agent runs, so that nothing after the create or update reads YAML.
 *
 * The normalised form:
 *   {"web_service": "web" | null, "port": 80 | null, "volumes": ["data"],
 *    "services": [   // start order: every service after what it depends on
 *      {"name", "image", "command": [argv] | null, "entrypoint": [argv] | null,
 *       "environment": {K: "V"}, "depends_on": [{"service", "condition"}],
 *       "healthcheck": {"test": [argv], "interval_ms", "timeout_ms", "retries",
 *                       "start_period_ms"} | null,
 *       "volumes": [{"name", "mount_path", "read_only"}], "port": int | null,
 *       "restart": "always" | "on-failure" | "unless-stopped" | "no" | null,
 *       "working_dir", "user", "labels": {}, "expose": [ints],
 *       "extra_hosts": ["host:ip"], "cap_drop": [...],
 *       "host": {HostConfig members} | null}]}      // superadmin's keys only
 *
 * The web service is the one service with "ports" (one entry; its
 * container port is the application's exposed_port; the host side is the
 * agent's to pick).  Keys that would reach out of the sandbox (privileged,
 * network_mode, host paths as volumes, cap_add, devices, pid, ipc,
 * userns_mode, security_opt, sysctls) are refused unless superadmin, and
 * then passed to the engine as they are ("host").  build and env_file are
 * refused for everyone; any other key not listed here is refused by name.
 */
#ifndef LAUNCHER_COMPOSE_H
#define LAUNCHER_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define COMPOSE_MAX_BYTES    262144	/* the compose field's limit */
#define COMPOSE_MAX_SERVICES 20
#define COMPOSE_MIN_PROBE_MS 1000	/* a healthcheck's least interval and timeout */

/*
 * Parses and checks text (len bytes).  Returns the normalised spec
 * (caller deletes) or NULL after appending one {field, message} to
 * details per problem (every problem found, {field, message, line,
 * column} as yaml_detail makes them, each field named
 * "compose.services.<svc>.<key>").  superadmin allows the host-escape keys.
 */
cJSON *compose_check(const char *text, size_t len, bool superadmin, cJSON *details);

/*
 * Whether name is a HostConfig member compose_check can put in a
 * service's "host" (Privileged, NetworkMode, CapAdd, Devices, PidMode,
 * IpcMode, UsernsMode, SecurityOpt, Sysctls, Binds): the only ones the
 * agent takes from there.
 */
bool compose_host_member_ok(const char *name);

/*
 * Splits a command string into words as a shell would read it without
 * expanding anything: blanks separate, '...' is literal, "..." allows \"
 * \\ \$ \`, a backslash outside quotes escapes the next byte.  Returns an
 * array of strings (caller deletes), or NULL for an unterminated quote
 * (or out of memory).
 */
cJSON *compose_split_words(const char *s);

/*
 * A compose duration ("1m30s", "500ms", "10s", "1h"; a bare number is
 * seconds) in milliseconds, or -1.
 */
long long compose_duration_ms(const char *s);

#endif
