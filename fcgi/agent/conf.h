/*
 * conf.h - launcher-agent's configuration: a declarative key table shared
 * by the config file and the command line, and the agent token.
 *
 * File format (the plane's, see core/config.h): "key = value" lines, '#'
 * comments, values optionally in double quotes; unknown keys, bad values
 * and duplicates are rejected with file:line.  Flags override the file.
 *
 * The token never comes from the file or argv: only from token_file (which
 * must grant no group/other access) or the environment variable
 * LAUNCHER_AGENT_TOKEN, which is removed from the environment once read so
 * that commands the agent runs do not inherit it.
 */
#ifndef LAUNCHER_AGENT_CONF_H
#define LAUNCHER_AGENT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_VERSION     "0.1.0"
#define AGENT_STR_MAX     1024
#define AGENT_TOKEN_MAX   512
#define AGENT_TOKEN_ENV   "LAUNCHER_AGENT_TOKEN"

struct agent_conf {
	char    plane_url[AGENT_STR_MAX];	/* no trailing '/' once validated */
	char    tenant[64];
	char    token_file[AGENT_STR_MAX];
	char    ca_file[AGENT_STR_MAX];
	char    registry_ca_file[AGENT_STR_MAX];	/* "" = the system's CAs only */
	char    engine_socket[AGENT_STR_MAX];
	int64_t poll_interval_ms;
	int64_t invoke_slots;			/* fn.invoke jobs run beside the main one (loop.h) */
	int64_t heartbeat_interval_s;
	char    nginx_test_command[AGENT_STR_MAX];
	char    edge_sites_dir[AGENT_STR_MAX];	/* "" = no edge routing */
	char    edge_listen[128];		/* the sites' "listen" parameters */
	char    edge_reload_command[AGENT_STR_MAX];	/* "" = no reload */
	char    edge_nginx_pid[AGENT_STR_MAX];	/* "" = reload by the command */
	int64_t edge_drain_ms;
	char    edge_tls_listen[128];		/* custom hosts' TLS servers' "listen" */
	int64_t edge_https_port;		/* the port in their 308 redirects */
	char    acme_webroot[AGENT_STR_MAX];	/* "" = <state_dir>/acme-webroot */
	char    edge_certs_dir[AGENT_STR_MAX];	/* "" = <state_dir>/certs */
	char    acme_client[AGENT_STR_MAX];	/* the ACME client (core/acme.h) */
	char    host_ports[32];		/* "LOW-HIGH" (agent_port_range) */
	char    build_network[64];	/* "none", or an engine network's name (never "host") */
	char    database_host_ip[64];	/* where a public database's port listens */
	char    firewall_chain[32];	/* the isolation chains' name (netfw.h) */
	int64_t instances_interval_ms;		/* key instances_interval, seconds */
	int64_t logs_interval_ms;		/* key logs_interval, seconds */
	bool    logs_follow;			/* follow logs as streams (follow.h) */
	int64_t volumes_interval_ms;		/* key volumes_interval, seconds */
	int64_t wake_idle_ms;			/* key wake_idle_timeout, seconds */
	int64_t metrics_interval_ms;		/* key metrics_interval, seconds (metrics.h) */
	int64_t metrics_queue_max;		/* points kept while the plane does not take them */
	char    traffic_log[AGENT_STR_MAX];	/* the edge's traffic log; "" = none (traffic.h) */
	char    fn_wake_socket[AGENT_STR_MAX];	/* "" = <state_dir>/fn-wake.sock (fnscale.h) */
	int64_t fn_idle_check_ms;		/* key fn_idle_check, seconds */
	char    state_dir[AGENT_STR_MAX];
	char    backup_local_root[AGENT_STR_MAX];	/* "" = <state_dir>/backups */
	int64_t backup_verify_delay_ms;		/* wait before a backup's read-back */
	char    log_level[16];
};

/* Fills every key with its built-in default. */
void agent_conf_defaults(struct agent_conf *c);
/*
 * Reads path over the current values (call agent_conf_defaults first).
 * On error writes "path:line: message" into err and returns -1.
 */
int  agent_conf_load(struct agent_conf *c, const char *path, char *err, size_t errlen);
/*
 * Sets one key from a string (what a flag gives); the same validation as
 * the file.  Returns 0, or -1 with a message in err.
 */
int  agent_conf_set(struct agent_conf *c, const char *key, const char *value,
    char *err, size_t errlen);
/*
 * Checks what only the whole configuration can tell: plane_url and tenant
 * present, http:// only towards loopback.  Strips a trailing '/' from
 * plane_url.  Returns 0, or -1 with a message in err.
 */
int  agent_conf_check(struct agent_conf *c, char *err, size_t errlen);
/*
 * "LOW-HIGH" (1024 <= LOW <= HIGH <= 65535) into *lo and *hi: the host
 * ports app containers are published on.  Returns 0 or -1.
 */
int  agent_port_range(const char *v, int *lo, int *hi);
/* Prints every key with its default (for --help). */
void agent_conf_print_keys(void);

/*
 * "1", "2.5", "0.25" seconds into milliseconds, within [min_ms, max_ms].
 * Returns 0 or -1.
 */
int  agent_parse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out);

/*
 * Loads the token into tok (size toklen): from c->token_file when set,
 * else from LAUNCHER_AGENT_TOKEN (then unset).  The file must be a regular
 * file without group/other permission bits; surrounding whitespace is
 * trimmed; the token must be 16..511 printable non-space ASCII bytes.
 * Returns 0, or -1 with a message (never the token) in err.
 */
int  agent_token_load(const struct agent_conf *c, char *tok, size_t toklen,
    char *err, size_t errlen);
/* Same checks on a token already in memory (for tests and the env path). */
bool agent_token_valid(const char *tok);

#endif
