/*
 * launcher_agent.c - launcher-agent: one per server.  Connects outbound
 * only to the plane (HTTPS, agent token), heartbeats with engine and host
 * facts, claims jobs and runs them against the local Docker-compatible
 * Engine API.  See agent/loop.h for what it does; this file only reads the
 * command line and the configuration.
 *
 *   launcher-agent [-c FILE] [--plane URL] [--tenant SLUG] [--token-file FILE]
 *                  [--ca FILE] [--engine-socket PATH] [--poll-interval SECONDS]
 *                  [--heartbeat-interval SECONDS] [--nginx-test-command CMD]
 *                  [--edge-sites-dir DIR] [--edge-listen ADDR:PORT]
 *                  [--edge-reload-command CMD | --edge-nginx-pid FILE] [--edge-drain-ms MS]
 *                  [--edge-tls-listen ADDR:PORT] [--edge-https-port PORT]
 *                  [--acme-webroot DIR] [--edge-certs-dir DIR] [--acme-client PROGRAM]
 *                  [--host-ports LOW-HIGH]
 *                  [--instances-interval SECONDS] [--logs-interval SECONDS]
 *                  [--logs-follow true|false]
 *                  [--volumes-interval SECONDS] [--wake-idle-timeout SECONDS]
 *                  [--traffic-log FILE] [--invoke-slots N]
 *                  [--metrics-interval SECONDS] [--metrics-queue-max POINTS]
 *                  [--state-dir DIR] [--log-level LEVEL] [--once-heartbeat]
 *                  [--version] [--help]
 *
 * Exit codes: 0 stopped by a signal (or --once-heartbeat succeeded),
 * 1 --once-heartbeat failed, 2 bad command line or configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "../agent/conf.h"
#include "../agent/loop.h"
#include "../core/log.h"
#include "../core/util.h"

/* Flags that set a configuration key; the value is taken as given. */
static const struct {
	const char *flag;
	const char *key;
} key_flags[] = {
	{"--plane", "plane_url"},
	{"--tenant", "tenant"},
	{"--token-file", "token_file"},
	{"--ca", "ca_file"},
	{"--registry-ca", "registry_ca_file"},
	{"--engine-socket", "engine_socket"},
	{"--nginx-test-command", "nginx_test_command"},
	{"--edge-sites-dir", "edge_sites_dir"},
	{"--edge-listen", "edge_listen"},
	{"--edge-reload-command", "edge_reload_command"},
	{"--edge-nginx-pid", "edge_nginx_pid"},
	{"--edge-drain-ms", "edge_drain_ms"},
	{"--edge-tls-listen", "edge_tls_listen"},
	{"--edge-https-port", "edge_https_port"},
	{"--acme-webroot", "acme_webroot"},
	{"--edge-certs-dir", "edge_certs_dir"},
	{"--acme-client", "acme_client"},
	{"--host-ports", "host_ports"},
	{"--firewall-chain", "firewall_chain"},
	{"--instances-interval", "instances_interval"},
	{"--wake-idle-timeout", "wake_idle_timeout"},
	{"--logs-interval", "logs_interval"},
	{"--logs-follow", "logs_follow"},
	{"--volumes-interval", "volumes_interval"},
	{"--traffic-log", "traffic_log"},
	{"--invoke-slots", "invoke_slots"},
	{"--fn-wake-socket", "fn_wake_socket"},
	{"--fn-idle-check", "fn_idle_check"},
	{"--metrics-interval", "metrics_interval"},
	{"--metrics-queue-max", "metrics_queue_max"},
	{"--state-dir", "state_dir"},
	{"--backup-local-root", "backup_local_root"},
	{"--backup-verify-delay-ms", "backup_verify_delay_ms"},
	{"--log-level", "log_level"},
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: launcher-agent [-c FILE] [--plane URL] [--tenant SLUG] [--token-file FILE]\n"
	    "                      [--ca FILE] [--engine-socket PATH] [--poll-interval SECONDS]\n"
	    "                      [--heartbeat-interval SECONDS] [--nginx-test-command CMD]\n"
	    "                      [--edge-sites-dir DIR] [--edge-listen ADDR:PORT]\n"
	    "                      [--edge-reload-command CMD | --edge-nginx-pid FILE] [--edge-drain-ms MS]\n"
	    "                      [--edge-tls-listen ADDR:PORT] [--edge-https-port PORT]\n"
	    "                      [--acme-webroot DIR] [--edge-certs-dir DIR] [--acme-client PROGRAM]\n"
	    "                      [--host-ports LOW-HIGH] [--firewall-chain NAME]\n"
	    "                      [--instances-interval SECONDS] [--logs-interval SECONDS]\n"
	    "                      [--logs-follow true|false]\n"
	    "                      [--volumes-interval SECONDS] [--wake-idle-timeout SECONDS]\n"
	    "                      [--traffic-log FILE] [--invoke-slots N]\n"
	    "                      [--metrics-interval SECONDS] [--metrics-queue-max POINTS]\n"
	    "                      [--backup-local-root DIR] [--backup-verify-delay-ms MS]\n"
	    "                      [--state-dir DIR] [--log-level LEVEL] [--once-heartbeat]\n"
	    "                      [--version] [--help]\n"
	    "\n"
	    "Flags override the configuration file (-c).  The agent token is read from\n"
	    "token_file (no group/other access) or $" AGENT_TOKEN_ENV ", never from the\n"
	    "command line.  --once-heartbeat sends one heartbeat, prints the plane's answer\n"
	    "and exits (0 accepted, 1 not).\n"
	    "\nConfiguration keys (key = value):\n");
	if (f == stdout)
		agent_conf_print_keys();
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int
make_dirs(const char *path)
{
	char   p[AGENT_STR_MAX];
	size_t n;

	if (util_snprintf(p, sizeof(p), "%s", path) < 0)
		return -1;
	n = strlen(p);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		p[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* Applies one flag with its value; returns 0 or -1 (message printed). */
static int
apply_flag(struct agent_conf *c, const char *flag, const char *val)
{
	char    err[512], num[32];
	int64_t v;

	if (strcmp(flag, "--poll-interval") == 0) {
		if (agent_parse_seconds_ms(val, 100, 3600000, &v) != 0) {
			fprintf(stderr, "launcher-agent: --poll-interval: seconds between 0.1 and 3600\n");
			return -1;
		}
		util_snprintf(num, sizeof(num), "%lld", (long long)v);
		return agent_conf_set(c, "poll_interval_ms", num, err, sizeof(err));
	}
	if (strcmp(flag, "--heartbeat-interval") == 0) {
		if (util_parse_i64(val, 1, 3600, &v) != 0) {
			fprintf(stderr, "launcher-agent: --heartbeat-interval: whole seconds, 1..3600\n");
			return -1;
		}
		util_snprintf(num, sizeof(num), "%lld", (long long)v);
		return agent_conf_set(c, "heartbeat_interval_s", num, err, sizeof(err));
	}
	for (size_t i = 0; i < sizeof(key_flags) / sizeof(*key_flags); i++)
		if (strcmp(flag, key_flags[i].flag) == 0) {
			if (agent_conf_set(c, key_flags[i].key, val, err, sizeof(err)) != 0) {
				fprintf(stderr, "launcher-agent: %s: %s\n", flag, err);
				return -1;
			}
			return 0;
		}
	fprintf(stderr, "launcher-agent: unknown option %s (see --help)\n", flag);
	return -1;
}

static bool
takes_value(const char *flag)
{
	if (strcmp(flag, "-c") == 0 || strcmp(flag, "--poll-interval") == 0 ||
	    strcmp(flag, "--heartbeat-interval") == 0)
		return true;
	for (size_t i = 0; i < sizeof(key_flags) / sizeof(*key_flags); i++)
		if (strcmp(flag, key_flags[i].flag) == 0)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	struct agent_conf c;
	enum log_level    level;
	const char       *conf_path = NULL;
	char              err[1024], token[AGENT_TOKEN_MAX];
	bool              once = false;
	int               rc;

	agent_conf_defaults(&c);
	/* Pass 1: modes and -c (the file is read before any flag applies). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("launcher-agent %s\n", AGENT_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strncmp(argv[i], "--token", 7) == 0 && strncmp(argv[i], "--token-file", 12) != 0) {
			/* argv is visible to every user of the host (ps, /proc). */
			fprintf(stderr, "launcher-agent: the token is never taken from the command "
			    "line: use --token-file FILE or $%s\n", AGENT_TOKEN_ENV);
			return 2;
		}
		if (strcmp(argv[i], "--once-heartbeat") == 0)
			once = true;
		else if (takes_value(argv[i])) {
			if (i + 1 >= argc) {
				fprintf(stderr, "launcher-agent: %s needs a value\n", argv[i]);
				return 2;
			}
			if (strcmp(argv[i], "-c") == 0)
				conf_path = argv[i + 1];
			i++;
		} else {
			fprintf(stderr, "launcher-agent: unknown option %s (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (conf_path != NULL && agent_conf_load(&c, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-agent: %s\n", err);
		return 2;
	}
	/* Pass 2: flags override the file. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once-heartbeat") == 0)
			continue;
		if (strcmp(argv[i], "-c") != 0 && apply_flag(&c, argv[i], argv[i + 1]) != 0)
			return 2;
		i++;
	}
	if (agent_conf_check(&c, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-agent: %s\n", err);
		return 2;
	}
	if (log_level_parse(c.log_level, &level) == 0)
		log_set_level(level);
	if (agent_token_load(&c, token, sizeof(token), err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-agent: %s\n", err);
		return 2;
	}
	if (make_dirs(c.state_dir) != 0)
		log_error("state_dir %s: cannot create: %s (jobs that write there will fail)",
		    c.state_dir, strerror(errno));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "launcher-agent: libcurl initialisation failed\n");
		return 2;
	}
	rc = once ? agent_loop_once_heartbeat(&c, token) : agent_loop_run(&c, token);
	explicit_bzero(token, sizeof(token));
	curl_global_cleanup();
	return rc;
}
