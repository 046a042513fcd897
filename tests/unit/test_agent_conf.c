/* test_agent_conf.c - the agent's configuration table (defaults, values,
 * file:line errors), the flag helpers, the plane URL rules, and where the
 * token may come from (a file without group/other access, or the
 * environment, which is then cleared). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/conf.h"
#include "core/util.h"
#include "unit.h"

static int
load(const char *text, struct agent_conf *c, char *err, size_t errlen)
{
	char  path[] = "/tmp/lnchr-agent-conf-XXXXXX";
	int   fd = mkstemp(path), rc;
	FILE *f;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	agent_conf_defaults(c);
	rc = agent_conf_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

int
main(void)
{
	static const struct { const char *text; const char *err; } bad[] = {
		{"tenant = default\nbogus = 1\n", ":2: unknown key 'bogus'"},
		{"poll_interval_ms = 99\n", ":1: bad value for 'poll_interval_ms'"},
		{"poll_interval_ms = 3600001\n", ":1: bad value for 'poll_interval_ms'"},
		{"invoke_slots = 17\n", ":1: bad value for 'invoke_slots'"},
		{"invoke_slots = -1\n", ":1: bad value for 'invoke_slots'"},
		{"heartbeat_interval_s = 0\n", ":1: bad value for 'heartbeat_interval_s'"},
		{"heartbeat_interval_s = ten\n", ":1: bad value for 'heartbeat_interval_s'"},
		{"tenant = a\ntenant = b\n", ":2: duplicate key 'tenant'"},
		{"# c\n\njust words\n", ":3: expected key = value"},
		{"plane_url = ftp://x\n", ":1: bad value for 'plane_url': must start with https://"},
		{"plane_url = \"https://a b\"\n", ":1: bad value for 'plane_url'"},
		{"tenant = Not_A_Slug\n", ":1: bad value for 'tenant'"},
		{"token_file = relative/path\n", ":1: bad value for 'token_file': must be an absolute path"},
		{"engine_socket = docker.sock\n", ":1: bad value for 'engine_socket'"},
		{"log_level = loud\n", ":1: bad value for 'log_level'"},
		{"token = abcdefabcdefabcdef\n", ":1: unknown key 'token'"},
		{"host_ports = 30000-20000\n", ":1: bad value for 'host_ports': must be LOW-HIGH"},
		{"host_ports = 80-90\n", ":1: bad value for 'host_ports'"},
		{"host_ports = 20000\n", ":1: bad value for 'host_ports'"},
		{"host_ports = 20000-70000\n", ":1: bad value for 'host_ports'"},
	};
	static const struct { const char *v; int ok, lo, hi; } ranges[] = {
		{"20000-32000", 1, 20000, 32000}, {"1024-1024", 1, 1024, 1024},
		{"65535-65535", 1, 65535, 65535}, {"2000-1999", 0, 0, 0}, {"-5", 0, 0, 0},
		{"5-", 0, 0, 0}, {"20000 - 20010", 0, 0, 0}, {"0x5000-0x6000", 0, 0, 0},
	};
	static const struct { const char *s; int ok; int64_t ms; } secs[] = {
		{"1", 1, 1000}, {"0.25", 1, 250}, {"2.5", 1, 2500}, {"3600", 1, 3600000},
		{"0.05", 0, 0}, {"3601", 0, 0}, {"", 0, 0}, {"-1", 0, 0}, {"1s", 0, 0},
		{" 1", 0, 0}, {"nan", 0, 0}, {"inf", 0, 0}, {"1e400", 0, 0},
	};
	static const struct { const char *url; int ok; } urls[] = {
		{"https://plane.example.com", 1}, {"https://plane.example.com/", 1},
		{"http://127.0.0.1:8080", 1}, {"http://localhost:8080/", 1}, {"http://[::1]:80", 1},
		{"http://127.9.9.9", 1}, {"http://example.com", 0}, {"http://127.evil.example", 0},
		{"http://10.0.0.1", 0}, {"http://localhost.example.com", 0},
		{"http://user@10.0.0.1", 0}, {"http://[::2]", 0},
	};
	struct agent_conf c;
	char              err[512], tok[AGENT_TOKEN_MAX], dir[] = "/tmp/lnchr-agent-tok-XXXXXX";
	char              path[256];
	int64_t           ms;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = load(bad[i].text, &c, err, sizeof(err));

		CHECK(rc == -1 && strstr(err, bad[i].err) != NULL, bad[i].err);
	}
	CHECK(load("# defaults\n", &c, err, sizeof(err)) == 0, "empty file loads");
	CHECK(c.poll_interval_ms == 1000 && c.heartbeat_interval_s == 10 && c.invoke_slots == 4 &&
	    strcmp(c.engine_socket, "/var/run/docker.sock") == 0 && c.nginx_test_command[0] == '\0' &&
	    strcmp(c.log_level, "info") == 0, "defaults");
	CHECK(load("plane_url = \"https://p.example.com/\"\ntenant = team-1\n"
	    "nginx_test_command = \"nginx -t -q\"\n  poll_interval_ms=250  \n", &c, err,
	    sizeof(err)) == 0, "values load");
	CHECK(strcmp(c.nginx_test_command, "nginx -t -q") == 0 && c.poll_interval_ms == 250,
	    "quoted value with spaces, no spaces around '='");
	CHECK(agent_conf_check(&c, err, sizeof(err)) == 0 &&
	    strcmp(c.plane_url, "https://p.example.com") == 0, "trailing '/' stripped");
	CHECK(agent_conf_set(&c, "tenant", "550e8400-e29b-41d4-a716-446655440000", err,
	    sizeof(err)) == 0, "tenant as a UUID");
	CHECK(agent_conf_set(&c, "nope", "1", err, sizeof(err)) == -1 &&
	    strstr(err, "unknown key 'nope'") != NULL, "set: unknown key");
	agent_conf_defaults(&c);
	CHECK(strcmp(c.firewall_chain, "LAUNCHER-ISOLATION") == 0, "firewall_chain default");
	CHECK(agent_conf_set(&c, "firewall_chain", "LNCHR-123", err, sizeof(err)) == 0 &&
	    strcmp(c.firewall_chain, "LNCHR-123") == 0, "firewall_chain set");
	CHECK(agent_conf_set(&c, "firewall_chain", "A B", err, sizeof(err)) == -1 &&
	    agent_conf_set(&c, "firewall_chain", "ABCDEFGHIJKLMNOPQRSTUVWXYZ1", err, sizeof(err)) == -1 &&
	    strcmp(c.firewall_chain, "LNCHR-123") == 0, "firewall_chain: no space, at most 26");
	agent_conf_defaults(&c);
	CHECK(agent_conf_check(&c, err, sizeof(err)) == -1 && strstr(err, "plane_url") != NULL,
	    "plane_url required");
	agent_conf_set(&c, "plane_url", "https://p", err, sizeof(err));
	CHECK(agent_conf_check(&c, err, sizeof(err)) == -1 && strstr(err, "tenant") != NULL,
	    "tenant required");
	CHECK(agent_conf_load(&c, "/nonexistent/agent.conf", err, sizeof(err)) == -1 &&
	    strstr(err, "cannot open") != NULL, "missing file");

	for (size_t i = 0; i < sizeof(secs) / sizeof(*secs); i++) {
		int rc = agent_parse_seconds_ms(secs[i].s, 100, 3600000, &ms);

		CHECK(secs[i].ok ? rc == 0 && ms == secs[i].ms : rc == -1, secs[i].s);
	}
	for (size_t i = 0; i < sizeof(ranges) / sizeof(*ranges); i++) {
		int lo = 0, hi = 0, rc = agent_port_range(ranges[i].v, &lo, &hi);

		CHECK(ranges[i].ok ? rc == 0 && lo == ranges[i].lo && hi == ranges[i].hi : rc == -1,
		    ranges[i].v);
	}
	agent_conf_defaults(&c);
	CHECK(strcmp(c.host_ports, "20000-32000") == 0, "host_ports default: below the ephemeral range");
	for (size_t i = 0; i < sizeof(urls) / sizeof(*urls); i++) {
		agent_conf_defaults(&c);
		agent_conf_set(&c, "plane_url", urls[i].url, err, sizeof(err));
		agent_conf_set(&c, "tenant", "default", err, sizeof(err));
		CHECK((agent_conf_check(&c, err, sizeof(err)) == 0) == urls[i].ok, urls[i].url);
	}

	/* The token. */
	CHECK(agent_token_valid("abcdefghijklmnop") && !agent_token_valid("short") &&
	    !agent_token_valid("abcdefgh ijklmnop") && !agent_token_valid("abcdefghijklmnop\r\nX: y"),
	    "token shape");
	if (mkdtemp(dir) == NULL)
		abort();
	util_snprintf(path, sizeof(path), "%s/token", dir);
	agent_conf_defaults(&c);
	agent_conf_set(&c, "token_file", path, err, sizeof(err));
	write_file(path, "  s3cr3t-t0ken-abcdefghij\n", 0600);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == 0 &&
	    strcmp(tok, "s3cr3t-t0ken-abcdefghij") == 0, "0600 file, whitespace trimmed");
	chmod(path, 0640);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == -1 &&
	    strstr(err, "0640") != NULL && strstr(err, "s3cr3t") == NULL, "group-readable refused");
	chmod(path, 0604);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == -1, "world-readable refused");
	write_file(path, "tiny\n", 0600);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == -1 &&
	    strstr(err, "tiny") == NULL, "not a token, and not echoed");
	unlink(path);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == -1 &&
	    strstr(err, "cannot open") != NULL, "missing token file");
	agent_conf_set(&c, "token_file", "", err, sizeof(err));
	unsetenv(AGENT_TOKEN_ENV);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == -1 &&
	    strstr(err, "no token") != NULL, "no token anywhere");
	setenv(AGENT_TOKEN_ENV, "env-token-0123456789", 1);
	CHECK(agent_token_load(&c, tok, sizeof(tok), err, sizeof(err)) == 0 &&
	    strcmp(tok, "env-token-0123456789") == 0, "token from the environment");
	CHECK(getenv(AGENT_TOKEN_ENV) == NULL, "environment cleared after reading");
	rmdir(dir);
	return unit_done("agent-conf");
}
