/*
 * diag.c - the diagnostics checks (see diag.h).  Each check is a function
 * filling one struct check; diag_run() calls them in table order.
 */
#include "diag.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include "../core/spawn.h"
#include "../core/util.h"
#include "engine.h"
#include "hostinfo.h"
#include "netfw.h"
#include "text.h"
#include "timefmt.h"

struct check {
	const char *status;
	char        detail[1024];
	/* value: a number, a string, or neither */
	bool        have_num;
	double      num;
	char        str[128];
};

const char *
diag_headroom_status(double free_pct, double warn_below, double fail_below)
{
	if (free_pct < fail_below)
		return "fail";
	if (free_pct < warn_below)
		return "warn";
	return "ok";
}

double
diag_clock_skew(double plane_time, double received, int64_t rtt_ms)
{
	/* The plane stamped its answer somewhere in flight; the middle of the
	 * round trip is the best estimate of when, on our clock. */
	return (received - (double)rtt_ms / 2000.0) - plane_time;
}

const char *
diag_skew_status(double skew)
{
	double a = skew < 0 ? -skew : skew;

	if (a > 30.0)
		return "fail";
	if (a > 2.0)
		return "warn";
	return "ok";
}

int
diag_url_host(const char *url, char *host, size_t hostlen)
{
	CURLU *u = curl_url();
	char  *h = NULL;
	size_t n;
	int    rc = -1;

	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	n = strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h[n - 1] = '\0';
		rc = util_snprintf(host, hostlen, "%s", h + 1) < 0 ? -1 : 0;
	} else
		rc = util_snprintf(host, hostlen, "%s", h) < 0 ? -1 : 0;
out:
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

/* ------------------------------------------------------------------ checks */

static void
check_engine_ping(const struct diag_input *in, struct arena *a, struct check *c)
{
	c->status = engine_ping(in->x, a, c->detail, sizeof(c->detail)) == 0 ? "ok" : "fail";
}

static void
check_engine_version(const struct diag_input *in, struct arena *a, struct check *c)
{
	struct engine_facts f;
	char                err[512];

	if (engine_facts_get(in->x, a, &f, err, sizeof(err)) != 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "%s", err);
		return;
	}
	c->status = "ok";
	util_snprintf(c->str, sizeof(c->str), "%s", f.version);
	util_snprintf(c->detail, sizeof(c->detail), "%s %s (API %s, %s %s)", f.type, f.version,
	    f.api_version, f.os, f.kernel);
}

static void
check_disk(const struct diag_input *in, struct arena *a, struct check *c)
{
	struct statvfs v;
	double         pct;

	if (statvfs("/", &v) != 0 || v.f_blocks == 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "statvfs /: %s", strerror(errno));
		return;
	}
	pct = 100.0 * (double)v.f_bavail / (double)v.f_blocks;
	c->status = diag_headroom_status(pct, 15.0, 5.0);
	c->have_num = true;
	c->num = (double)(int64_t)(pct * 10.0 + 0.5) / 10.0;
	util_snprintf(c->detail, sizeof(c->detail), "%.1f%% of / free (%.1f GiB of %.1f GiB); "
	    "warn below 15%%, fail below 5%%", pct,
	    (double)v.f_bavail * (double)v.f_frsize / 1073741824.0,
	    (double)v.f_blocks * (double)v.f_frsize / 1073741824.0);
}

static void
check_memory(const struct diag_input *in, struct arena *a, struct check *c)
{
	uint64_t total, avail;
	char    *text;
	double   pct;

	if (hostinfo_read_file(a, "/proc/meminfo", 1 << 20, &text) != 0 ||
	    hostinfo_parse_meminfo(text, &total, &avail) != 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "cannot read /proc/meminfo");
		return;
	}
	pct = 100.0 * (double)avail / (double)total;
	c->status = diag_headroom_status(pct, 10.0, 3.0);
	c->have_num = true;
	c->num = (double)(int64_t)(pct * 10.0 + 0.5) / 10.0;
	util_snprintf(c->detail, sizeof(c->detail), "%.1f%% of memory available (%.0f MiB of "
	    "%.0f MiB); warn below 10%%, fail below 3%%", pct, (double)avail / 1048576.0,
	    (double)total / 1048576.0);
}

/* "host → addr, addr" into out; returns 0 when it resolved. */
static int
resolve(const char *host, char *out, size_t outlen)
{
	struct addrinfo  hints = {0}, *res = NULL, *ai;
	size_t           len;
	int              e, shown = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		util_snprintf(out, outlen, "%s: %s", host, gai_strerror(e));
		return -1;
	}
	if (util_snprintf(out, outlen, "%s ->", host) < 0)
		out[0] = '\0';
	for (ai = res; ai != NULL && shown < 4; ai = ai->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *src = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;

		if (inet_ntop(ai->ai_family, src, addr, sizeof(addr)) == NULL)
			continue;
		len = strlen(out);
		if (util_snprintf(out + len, outlen - len, " %s", addr) < 0)
			break;
		shown++;
	}
	freeaddrinfo(res);
	return 0;
}

static void
check_dns(const struct diag_input *in, struct arena *a, struct check *c)
{
	char host[256], plane[400], local[400];
	int  prc, lrc;

	if (diag_url_host(in->conf->plane_url, host, sizeof(host)) != 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "no host in plane_url");
		return;
	}
	prc = resolve(host, plane, sizeof(plane));
	lrc = resolve("localhost", local, sizeof(local));
	c->status = prc != 0 ? "fail" : lrc != 0 ? "warn" : "ok";
	util_snprintf(c->detail, sizeof(c->detail), "%s; %s", plane, local);
}

static void
check_clock(const struct diag_input *in, struct arena *a, struct check *c)
{
	double skew;

	if (!in->have_plane_time) {
		c->status = "warn";
		util_snprintf(c->detail, sizeof(c->detail), "the claim carried no plane_time");
		return;
	}
	skew = diag_clock_skew(in->plane_time, in->claim_received, in->claim_rtt_ms);
	c->status = diag_skew_status(skew);
	c->have_num = true;
	c->num = (double)(int64_t)(skew * 1000.0 + (skew < 0 ? -0.5 : 0.5)) / 1000.0;
	util_snprintf(c->detail, sizeof(c->detail), "agent clock %s the plane's by %.3f s "
	    "(claim round trip %lld ms); warn above 2 s, fail above 30 s",
	    skew < 0 ? "behind" : "ahead of", skew < 0 ? -skew : skew,
	    (long long)in->claim_rtt_ms);
}

static void
check_nginx(const struct diag_input *in, struct arena *a, struct check *c)
{
	char tail[900];
	int  status = -1;

	if (in->conf->nginx_test_command[0] == '\0') {
		c->status = "warn";
		util_snprintf(c->detail, sizeof(c->detail), "not configured (nginx_test_command)");
		return;
	}
	if (spawn_command(in->conf->nginx_test_command, DIAG_COMMAND_TIMEOUT_MS, &status,
	    tail, sizeof(tail)) != 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "%s", tail);
		return;
	}
	c->status = status == 0 ? "ok" : "fail";
	c->have_num = true;
	c->num = status;
	util_snprintf(c->detail, sizeof(c->detail), "exit %d%s%s", status, tail[0] ? ": " : "",
	    tail);
}

/* The agent's isolation chains between project networks (netfw.h): made current now. */
static void
check_isolation(const struct diag_input *in, struct arena *a, struct check *c)
{
	static const char *const status[] = {"ok", "warn", "fail"};
	static const char *const value[] = {"enforced", "unguarded", "failed"};
	enum netfw_state         st;
	bool                     changed = false;
	char                     detail[900];

	st = netfw_sync(in->x, a, in->conf->firewall_chain, &changed, detail, sizeof(detail));
	c->status = status[st];
	util_snprintf(c->str, sizeof(c->str), "%s", value[st]);
	util_snprintf(c->detail, sizeof(c->detail), "%s%s", detail,
	    changed ? " (rules were missing or stale: rewritten now)" : "");
}

static void
check_plane(const struct diag_input *in, struct arena *a, struct check *c)
{
	struct xfer_resp r;

	if (xfer_plane(in->x, a, "GET", "/healthz", NULL, false, 10000L, &r) != 0) {
		c->status = "fail";
		util_snprintf(c->detail, sizeof(c->detail), "%s/healthz: %s", in->conf->plane_url,
		    r.err);
		return;
	}
	c->have_num = true;
	c->num = (double)r.ms;
	/* 503: the plane answers but its database does not. */
	c->status = r.status == 200 ? "ok" : r.status == 503 ? "warn" : "fail";
	util_snprintf(c->detail, sizeof(c->detail), "GET %s/healthz answered %ld in %lld ms",
	    in->conf->plane_url, r.status, (long long)r.ms);
}

static const struct {
	const char *name;
	void      (*fn)(const struct diag_input *, struct arena *, struct check *);
} checks[] = {
	{"engine_ping", check_engine_ping},
	{"engine_version", check_engine_version},
	{"network_isolation", check_isolation},
	{"disk_headroom", check_disk},
	{"memory_headroom", check_memory},
	{"dns_resolution", check_dns},
	{"clock_skew", check_clock},
	{"edge_nginx", check_nginx},
	{"plane_reachability", check_plane},
};

cJSON *
diag_run(const struct diag_input *in, struct arena *a)
{
	cJSON *out = cJSON_CreateObject(), *list;

	if (out == NULL || (list = cJSON_AddArrayToObject(out, "checks")) == NULL)
		goto oom;
	for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++) {
		struct check c = {.status = "fail"};
		cJSON       *o = cJSON_CreateObject();
		char         line[1200];

		if (o == NULL)
			goto oom;
		cJSON_AddItemToArray(list, o);
		checks[i].fn(in, a, &c);
		util_sanitize(c.detail, 0);
		util_sanitize(c.str, 0);
		if (cJSON_AddStringToObject(o, "name", checks[i].name) == NULL ||
		    cJSON_AddStringToObject(o, "status", c.status) == NULL ||
		    cJSON_AddStringToObject(o, "detail", c.detail) == NULL)
			goto oom;
		if (c.have_num && cJSON_AddNumberToObject(o, "value", c.num) == NULL)
			goto oom;
		if (!c.have_num && c.str[0] && cJSON_AddStringToObject(o, "value", c.str) == NULL)
			goto oom;
		if (in->progress != NULL) {
			/* A long detail is cut; the result keeps it whole. */
			(void)util_snprintf(line, sizeof(line), "%s: %s - %s", checks[i].name,
			    c.status, c.detail);
			in->progress(in->ud, line);
		}
	}
	return out;
oom:
	cJSON_Delete(out);
	return NULL;
}
