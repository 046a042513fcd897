/* test_agent_diag.c - the diagnostics job: thresholds, the clock-skew
 * estimate, the plane host, * and the result shape with every
 * check reported even when the engine and the plane are both unreachable. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/diag.h"
#include "agent/timefmt.h"
#include "unit.h"

static int progress_lines;

static void
count_line(void *ud, const char *line)
{
	(void)ud;
	if (strchr(line, '\n') == NULL)
		progress_lines++;
}

int
main(void)
{
	static const char *const names[] = {"engine_ping", "engine_version", "network_isolation",
	    "disk_headroom", "memory_headroom", "dns_resolution", "clock_skew", "edge_nginx",
	    "plane_reachability"};
	static const struct { const char *url, *host; } hosts[] = {
		{"https://plane.example.com", "plane.example.com"},
		{"https://plane.example.com:8443/base", "plane.example.com"},
		{"http://127.0.0.1:8080", "127.0.0.1"},
		{"https://[::1]:8443", "::1"},
		{"https://user:pw@h.example", "h.example"},
	};
	struct agent_conf conf;
	struct xfer       x;
	struct arena      a;
	struct diag_input in;
	char              host[256], err[256];
	cJSON            *res, *checks, *c;
	size_t            i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CHECK(strcmp(diag_headroom_status(50, 15, 5), "ok") == 0, "50% free ok");
	CHECK(strcmp(diag_headroom_status(14.9, 15, 5), "warn") == 0, "below 15% warns");
	CHECK(strcmp(diag_headroom_status(4.9, 15, 5), "fail") == 0, "below 5% fails");
	CHECK(strcmp(diag_headroom_status(15, 15, 5), "ok") == 0, "exactly the floor is ok");
	CHECK(strcmp(diag_skew_status(0.5), "ok") == 0 && strcmp(diag_skew_status(-2.0), "ok") == 0,
	    "skew up to 2 s ok");
	CHECK(strcmp(diag_skew_status(-2.5), "warn") == 0 && strcmp(diag_skew_status(30), "warn") == 0,
	    "skew up to 30 s warns");
	CHECK(strcmp(diag_skew_status(31), "fail") == 0 && strcmp(diag_skew_status(-90), "fail") == 0,
	    "skew above 30 s fails");
	/* Received at 1000.4 after a 400 ms round trip: the plane stamped at ~1000.2. */
	CHECK(diag_clock_skew(1000.2, 1000.4, 400) < 1e-9 && diag_clock_skew(1000.2, 1000.4, 400) > -1e-9,
	    "half the round trip corrects the skew");
	CHECK(diag_clock_skew(995.0, 1000.0, 0) > 4.99, "agent ahead: positive skew");
	for (i = 0; i < sizeof(hosts) / sizeof(*hosts); i++)
		CHECK(diag_url_host(hosts[i].url, host, sizeof(host)) == 0 &&
		    strcmp(host, hosts[i].host) == 0, hosts[i].url);
	CHECK(diag_url_host("not a url", host, sizeof(host)) == -1, "no host");

	/* Nothing reachable: every check is still reported, none crashes. */
	agent_conf_defaults(&conf);
	agent_conf_set(&conf, "plane_url", "https://127.0.0.1:1", err, sizeof(err));
	agent_conf_set(&conf, "tenant", "default", err, sizeof(err));
	agent_conf_set(&conf, "engine_socket", "/nonexistent/engine.sock", err, sizeof(err));
	agent_conf_set(&conf, "nginx_test_command", "true", err, sizeof(err));
	xfer_init(&x, &conf, NULL);
	arena_init(&a, 4096);
	memset(&in, 0, sizeof(in));
	in.conf = &conf;
	in.x = &x;
	in.have_plane_time = true;
	in.claim_received = timefmt_wall();
	in.plane_time = in.claim_received - 40.0;
	in.claim_rtt_ms = 10;
	in.progress = count_line;
	res = diag_run(&in, &a);
	checks = cJSON_GetObjectItem(res, "checks");
	CHECK(cJSON_GetArraySize(checks) == 9, "nine checks");
	i = 0;
	cJSON_ArrayForEach(c, checks) {
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));

		CHECK(i < 9 && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")), names[i]) == 0,
		    names[i < 9 ? i : 8]);
		CHECK(st != NULL && (strcmp(st, "ok") == 0 || strcmp(st, "warn") == 0 ||
		    strcmp(st, "fail") == 0), "status is ok|warn|fail");
		CHECK(cJSON_IsString(cJSON_GetObjectItem(c, "detail")), "detail is a string");
		i++;
	}
#define ST(n) cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(checks, n), "status"))
	CHECK(strcmp(ST(0), "fail") == 0 && strcmp(ST(1), "fail") == 0, "engine checks fail");
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(checks, 1), "value") == NULL,
	    "no engine version value without an engine");
	/* No engine to read the project networks from: never "ok" (with no
	 * iptables on the machine: "warn", unguarded). */
	CHECK((strcmp(ST(2), "fail") == 0 && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(checks, 2), "value")), "failed") == 0) || (strcmp(ST(2), "warn") == 0 &&
	    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(checks, 2), "value")),
	    "unguarded") == 0), "network isolation not claimed without an engine");
	CHECK(strcmp(ST(5), "ok") == 0, "127.0.0.1 and localhost resolve");
	CHECK(strcmp(ST(6), "fail") == 0 &&
	    cJSON_GetObjectItem(cJSON_GetArrayItem(checks, 6), "value")->valuedouble > 39.9,
	    "40 s ahead fails, value in seconds");
	CHECK(strcmp(ST(7), "ok") == 0, "nginx test command 'true' ok");
	CHECK(strcmp(ST(8), "fail") == 0, "unreachable plane fails");
	CHECK(progress_lines == 9, "one progress line per check");
	cJSON_Delete(res);

	/* Not configured: warn; no plane time: warn. */
	agent_conf_set(&conf, "nginx_test_command", "", err, sizeof(err));
	in.have_plane_time = false;
	res = diag_run(&in, &a);
	checks = cJSON_GetObjectItem(res, "checks");
	CHECK(strcmp(ST(6), "warn") == 0, "no plane time warns");
	CHECK(strcmp(ST(7), "warn") == 0 && strstr(cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(checks, 7), "detail")), "not configured") != NULL,
	    "edge_nginx not configured warns");
	cJSON_Delete(res);
	xfer_cleanup(&x);
	arena_free(&a);
	curl_global_cleanup();
	return unit_done("agent-diag");
}
