/*
 * conf.c - launcher-agent's configuration table and token loading (see
 * conf.h).  The line format is the plane's (core/config.c); the table is
 * the agent's own so that the pool's keys never leak into the agent.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../core/util.h"
#include "netfw.h"
#include "text.h"

/* CONF_SECONDS: "2", "0.5" seconds in the file, kept as int64_t milliseconds. */
enum conf_type { CONF_STR, CONF_INT, CONF_SECONDS, CONF_BOOL };	/* CONF_BOOL: true|false */

struct conf_key {
	const char    *key;
	enum conf_type type;
	size_t         off;
	size_t         size;	/* strings: the field's size */
	const char    *def;
	int64_t        min, max;	/* integers */
	/* Optional: returns NULL or why the value is bad. */
	const char  *(*valid)(const char *v);
	const char    *help;
};

static const char *
valid_url(const char *v)
{
	if (*v == '\0')
		return NULL;	/* required-ness is agent_conf_check's job */
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return "must start with https://";
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			return "must not contain spaces or control characters";
	return NULL;
}

static const char *
valid_tenant(const char *v)
{
	if (*v == '\0' || util_is_slug(v) || util_is_uuid(v))
		return NULL;
	return "must be the tenant's slug or UUID";
}

static const char *
valid_path(const char *v)
{
	if (*v != '\0' && *v != '/')
		return "must be an absolute path";
	return NULL;
}

/* Goes into nginx's "listen" directive: address:port, port, [v6]:port. */
static const char *
valid_listen(const char *v)
{
	if (*v == '\0')
		return "must not be empty";
	if (!text_word_ok(v, SIZE_MAX, ".:[]-"))
		return "must be [address:]port";
	return NULL;
}

int
agent_port_range(const char *v, int *lo, int *hi)
{
	int64_t a, b;
	char    first[16];
	const char *dash = strchr(v, '-');

	if (dash == NULL || (size_t)(dash - v) >= sizeof(first))
		return -1;
	memcpy(first, v, (size_t)(dash - v));
	first[dash - v] = '\0';
	if (util_parse_i64(first, 1024, 65535, &a) != 0 ||
	    util_parse_i64(dash + 1, 1024, 65535, &b) != 0 || a > b)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

static const char *
valid_ports(const char *v)
{
	int lo, hi;

	return agent_port_range(v, &lo, &hi) == 0 ? NULL : "must be LOW-HIGH within 1024-65535";
}

/*
 * Where a Dockerfile's RUN steps run: "none" (a network namespace with only
 * its own loopback) or a network the operator made for builds.  Never the
 * host's: a build would reach the plane's loopback listeners.
 */
static const char *
valid_build_network(const char *v)
{
	if (strcmp(v, "host") == 0 || strncmp(v, "container:", 10) == 0 ||
	    strncmp(v, "ns:", 3) == 0)
		return "must be none or the name of an engine network (never the host's)";
	if (!text_name_ok(v, 63))
		return "must be none or an engine network name ([A-Za-z0-9][A-Za-z0-9_.-]*)";
	return NULL;
}

/* Where a public database's port is published: an IPv4 or IPv6 address. */
static const char *
valid_ip(const char *v)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return NULL;
	return "must be an IPv4 or IPv6 address, e.g. 127.0.0.1 or 0.0.0.0";
}

static const char *
valid_chain(const char *v)
{
	return netfw_chain_ok(v) ? NULL : "must be 1 to 26 of [A-Za-z0-9_-] (an iptables chain name; "
	    "<name>-2 is the second chain)";
}

static const char *
valid_level(const char *v)
{
	enum log_level l;

	return log_level_parse(v, &l) == 0 ? NULL : "must be error|warn|info|debug";
}

#define FIELD(k)              offsetof(struct agent_conf, k), sizeof(((struct agent_conf *)0)->k)
#define S(k, d, v, h)         {#k, CONF_STR, FIELD(k), d, 0, 0, v, h}
#define I(k, d, lo, hi, h)    {#k, CONF_INT, FIELD(k), d, lo, hi, NULL, h}
#define T(n, k, d, lo, hi, h) {n, CONF_SECONDS, FIELD(k), d, lo, hi, NULL, h}
#define B(k, d, h)            {#k, CONF_BOOL, FIELD(k), d, 0, 1, NULL, h}

static const struct conf_key conf_keys[] = {
	S(plane_url, "", valid_url, "the plane's base URL, e.g. https://plane.example.com (required)"),
	S(tenant, "", valid_tenant, "tenant slug or UUID the server belongs to (required)"),
	S(token_file, "", valid_path, "file holding the agent token, no group/other access; else $" AGENT_TOKEN_ENV),
	S(ca_file, "", valid_path, "CA bundle to verify the plane's certificate (self-signed planes)"),
	S(registry_ca_file, "", valid_path, "extra CA certificates (PEM) trusted, besides the "
	    "system's, when the agent itself talks to registries (registry.test); the engine's "
	    "pulls use the engine's own trust (certs.d)"),
	S(engine_socket, "/var/run/docker.sock", valid_path, "unix socket of the Docker-compatible Engine API"),
	I(poll_interval_ms, "1000", 100, 3600000, "how often an idle agent asks for a job"),
	I(invoke_slots, "4", 0, 16, "function invocations (fn.invoke jobs) run at once beside the "
	    "one other job (a deploy, a backup...), each in its own process; 0: they wait for that "
	    "job's slot like every kind"),
	I(heartbeat_interval_s, "10", 1, 3600, "seconds between heartbeats (the plane's answer wins)"),
	S(nginx_test_command, "", NULL, "edge nginx config test, run with /bin/sh -c (empty: check skipped)"),
	S(edge_sites_dir, "", valid_path, "directory of the edge nginx's per-app site files (empty: no routing)"),
	S(edge_listen, "80", valid_listen, "what the app sites listen on, e.g. 127.0.0.1:8080"),
	S(edge_reload_command, "", NULL, "edge nginx reload, run with /bin/sh -c (empty: no reload)"),
	S(edge_nginx_pid, "", valid_path, "the edge nginx master's pid file: reload by signals, retiring "
	    "the old workers as soon as the new ones run (edge_reload_command is then unused)"),
	I(edge_drain_ms, "2000", 0, 600000, "ms between the edge reload and stopping old containers"),
	S(edge_tls_listen, "443", valid_listen, "what custom hostnames' TLS servers listen on (once "
	    "their certificate is issued), e.g. 127.0.0.1:8443"),
	I(edge_https_port, "443", 1, 65535, "the https port in the 308 redirects of custom hostnames "
	    "(left out of the URL when 443)"),
	S(acme_webroot, "", valid_path, "directory of the ACME HTTP-01 challenge files, served by the "
	    "edge nginx at /.well-known/acme-challenge/ (empty: <state_dir>/acme-webroot; made "
	    "world-readable, the state dir searchable, for nginx's workers)"),
	S(edge_certs_dir, "", valid_path, "custom hostnames' certificates, <dir>/<hostname>/"
	    "fullchain.pem and key.pem (0600) (empty: <state_dir>/certs)"),
	S(acme_client, "lego", NULL, "the ACME client run by domain.cert jobs (Debian's lego; PATH "
	    "or an absolute path)"),
	S(host_ports, "20000-32000", valid_ports,
	    "host ports the agent publishes app containers on (127.0.0.1), LOW-HIGH; keep it out of "
	    "net.ipv4.ip_local_port_range"),
	S(build_network, "none", valid_build_network, "network of a build's RUN steps: none (no "
	    "network; the default), or an engine network the site made and firewalled for builds "
	    "(see the README's \"What a build can reach\")"),
	S(database_host_ip, "127.0.0.1", valid_ip, "address a public database's host port is "
	    "published on (0.0.0.0: every interface; the default keeps it on loopback)"),
	S(firewall_chain, NETFW_CHAIN_DEFAULT, valid_chain, "the agent's own iptables chains that drop "
	    "traffic between two project networks (<name> and <name>-2, jumped to first from "
	    "FORWARD; see the README's \"Network isolation\"); one name per engine on a host"),
	T("instances_interval", instances_interval_ms, "5", 200, 3600000, "seconds between container reports to the plane"),
	T("logs_interval", logs_interval_ms, "2", 200, 3600000, "seconds between runtime log shipments"),
	B(logs_follow, "true", "follow the running containers' logs as streams (lines shipped as "
	    "they come); false: read them every logs_interval"),
	T("volumes_interval", volumes_interval_ms, "300", 1000, 86400000, "seconds between reports of "
	    "the volumes' used bytes (engine /system/df, which reads every volume: keep it minutes)"),
	T("metrics_interval", metrics_interval_ms, "10", 1000, 3600000, "seconds between host and "
	    "container metrics points (whole seconds; a point's time is its slot, a multiple of this)"),
	I(metrics_queue_max, "50000", 100, 10000000, "metrics points kept while the plane does not "
	    "take them (oldest dropped beyond, counted in the log): 15 minutes at 10 s is 90 per "
	    "host plus 90 per container"),
	T("wake_idle_timeout", wake_idle_ms, "75", 1000, 3600000, "seconds without a frame (launcher-ws "
	    "pings every 30 s) after which the wake-up channel counts as dead and is reopened"),
	S(traffic_log, "", valid_path, "the edge nginx's traffic log (log_format lnchr_traffic, see "
	    "conf/nginx/launcher.conf.in), tailed for the applications' traffic (empty: none)"),
	S(fn_wake_socket, "", valid_path, "the unix socket on which the agent starts a function "
	    "stopped for idleness for the edge's first request to it (fnscale.h; empty: "
	    "<state_dir>/fn-wake.sock; made 0666, nginx's workers need search access to its "
	    "directory)"),
	T("fn_idle_check", fn_idle_check_ms, "10", 200, 3600000, "seconds between the checks that "
	    "stop a function idle for its idle_timeout_seconds (scale to zero)"),
	S(state_dir, "/var/lib/launcher-agent", valid_path, "the agent's own files (created 0700 if missing)"),
	S(backup_local_root, "", valid_path, "root of the `local` backup destinations: a tenant's "
	    "objects go under <root>/<tenant_id>/<path> (empty: <state_dir>/backups)"),
	I(backup_verify_delay_ms, "0", 0, 600000, "ms a backup waits between its upload and the "
	    "read-back that verifies it (for eventually consistent object stores; 0 = none)"),
	S(log_level, "info", valid_level, "error|warn|info|debug"),
};

#define NKEYS (sizeof(conf_keys) / sizeof(*conf_keys))

static const struct conf_key *
conf_find(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(conf_keys[i].key, key) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Sets one key; on a bad value returns the reason, else NULL. */
static const char *
conf_apply(struct agent_conf *c, const struct conf_key *k, const char *v)
{
	char       *base = (char *)c + k->off;
	const char *why;
	int64_t     n;

	switch (k->type) {
	case CONF_STR:
		if (k->valid != NULL && (why = k->valid(v)) != NULL)
			return why;
		return util_snprintf(base, k->size, "%s", v) < 0 ? "too long" : NULL;
	case CONF_INT:
		if (util_parse_i64(v, k->min, k->max, &n) != 0)
			return "not an integer in range";
		*(int64_t *)(void *)base = n;
		return NULL;
	case CONF_SECONDS:
		if (agent_parse_seconds_ms(v, k->min, k->max, &n) != 0)
			return "not a number of seconds in range";
		*(int64_t *)(void *)base = n;
		return NULL;
	case CONF_BOOL:
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
			return "must be true or false";
		*(bool *)(void *)base = strcmp(v, "true") == 0;
		return NULL;
	}
	return "bad type";
}

void
agent_conf_defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		if (conf_apply(c, &conf_keys[i], conf_keys[i].def) != NULL)
			log_error("config: bad built-in default for %s", conf_keys[i].key);
}

int
agent_conf_set(struct agent_conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	const struct conf_key *k = conf_find(key);
	const char            *why;

	if (k == NULL) {
		util_snprintf(err, errlen, "unknown key '%.64s'", key);
		return -1;
	}
	if ((why = conf_apply(c, k, value)) != NULL) {
		util_snprintf(err, errlen, "bad value for '%s': %s", key, why);
		return -1;
	}
	return 0;
}

/* One pair of the file, checked against the agent's table. */
static int
file_set(void *ctx, const char *key, const char *val, char *why, size_t whylen)
{
	const struct conf_key *k = conf_find(key);
	const char            *bad;

	if (k == NULL) {
		util_snprintf(why, whylen, "unknown key '%.64s'", key);
		return -1;
	}
	if ((bad = conf_apply(ctx, k, val)) != NULL) {
		util_snprintf(why, whylen, "bad value for '%s': %s", key, bad);
		return -1;
	}
	return 0;
}

/* The line format is the plane's: one reader (core/config.c) for both. */
int
agent_conf_load(struct agent_conf *c, const char *path, char *err, size_t errlen)
{
	return config_read(path, file_set, c, err, errlen);
}

/* Whether the host of an http(s) URL is a loopback name or address. */
static bool
url_host_is_loopback(const char *url)
{
	const char     *h = strstr(url, "://"), *at;
	char            host[64];
	size_t          n;
	struct in_addr  a4;
	struct in6_addr a6;

	if (h == NULL)
		return false;
	h += 3;
	n = strcspn(h, "/?#");
	if ((at = memchr(h, '@', n)) != NULL) {	/* userinfo */
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	if (*h == '[') {
		const char *e = memchr(h, ']', n);

		if (e == NULL || (size_t)(e - h - 1) >= sizeof(host))
			return false;
		memcpy(host, h + 1, (size_t)(e - h - 1));
		host[e - h - 1] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	n = strcspn(h, ":/?#");
	if (n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int
agent_conf_check(struct agent_conf *c, char *err, size_t errlen)
{
	size_t n = strlen(c->plane_url);

	if (n == 0) {
		util_snprintf(err, errlen, "plane_url is required (--plane URL)");
		return -1;
	}
	while (n > 0 && c->plane_url[n - 1] == '/')
		c->plane_url[--n] = '\0';
	if (strncmp(c->plane_url, "http://", 7) == 0 && !url_host_is_loopback(c->plane_url)) {
		/* The token would cross the network in the clear. */
		util_snprintf(err, errlen, "plane_url: http:// is only accepted towards loopback; "
		    "use https:// (and --ca FILE for a self-signed plane)");
		return -1;
	}
	if (c->tenant[0] == '\0') {
		util_snprintf(err, errlen, "tenant is required (--tenant SLUG)");
		return -1;
	}
	return 0;
}

void
agent_conf_print_keys(void)
{
	for (size_t i = 0; i < NKEYS; i++)
		printf("  %-22s default %-26s %s\n", conf_keys[i].key,
		    conf_keys[i].def[0] ? conf_keys[i].def : "(empty)", conf_keys[i].help);
}

int
agent_parse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out)
{
	char  *end;
	double v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	/* !(v <= max) also rejects NaN; the range check precedes the cast. */
	if (errno != 0 || *end != '\0' || !(v * 1000.0 <= (double)max_ms) ||
	    v * 1000.0 < (double)min_ms)
		return -1;
	*out = (int64_t)(v * 1000.0 + 0.5);
	if (*out > max_ms)
		*out = max_ms;
	return 0;
}

bool
agent_token_valid(const char *tok)
{
	size_t n = strlen(tok);

	if (n < 16 || n >= AGENT_TOKEN_MAX)
		return false;
	/* Goes into an HTTP header: printable ASCII, no spaces, no CR/LF. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f)
			return false;
	return true;
}

/* Reads the token file into tok; the file is checked through its fd. */
static int
token_from_file(const char *path, char *tok, size_t toklen, char *err, size_t errlen)
{
	struct stat st;
	char        raw[AGENT_TOKEN_MAX + 64], *t;
	ssize_t     n;
	size_t      got = 0;
	int         fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		util_snprintf(err, errlen, "token_file %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		util_snprintf(err, errlen, "token_file %s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		util_snprintf(err, errlen, "token_file %s: mode %04o grants group/other access; "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (got < sizeof(raw) - 1 && (n = read(fd, raw + got, sizeof(raw) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			util_snprintf(err, errlen, "token_file %s: read: %s", path, strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	raw[got] = '\0';
	t = util_trim(raw);
	if (!agent_token_valid(t)) {
		util_snprintf(err, errlen, "token_file %s: does not hold a token "
		    "(16..511 printable characters)", path);
		goto out;
	}
	if (util_snprintf(tok, toklen, "%s", t) < 0) {
		util_snprintf(err, errlen, "token_file %s: token too long", path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(raw, sizeof(raw));
	close(fd);
	return rc;
}

int
agent_token_load(const struct agent_conf *c, char *tok, size_t toklen,
    char *err, size_t errlen)
{
	const char *env = getenv(AGENT_TOKEN_ENV);
	int         rc = -1;

	if (c->token_file[0] != '\0')
		rc = token_from_file(c->token_file, tok, toklen, err, errlen);
	else if (env == NULL || *env == '\0')
		util_snprintf(err, errlen, "no token: set token_file (--token-file FILE) or $%s",
		    AGENT_TOKEN_ENV);
	else if (!agent_token_valid(env))
		util_snprintf(err, errlen, "$%s does not hold a token (16..511 printable "
		    "characters)", AGENT_TOKEN_ENV);
	else if (util_snprintf(tok, toklen, "%s", env) < 0)
		util_snprintf(err, errlen, "$%s: token too long", AGENT_TOKEN_ENV);
	else
		rc = 0;
	/* Commands the agent runs (nginx -t, sh) must not inherit it. */
	if (env != NULL)
		unsetenv(AGENT_TOKEN_ENV);
	return rc;
}
