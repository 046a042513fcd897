/* test_agent_app.c - the pure parts of the app.* jobs: payload parsing,
 * redaction, the engine's multiplexed frames, log timestamps and the
 * since-cursor of runtime logs, the edge site, the create body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "agent/appspec.h"
#include "agent/ctr.h"
#include "agent/edge.h"
#include "agent/fnscale.h"
#include "agent/image.h"
#include "agent/report.h"
#include "agent/volume.h"
#include "unit.h"

#define APP "0b6f7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"
#define DEP "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"

static const char *const payload_ok =
    "{\"tenant_id\":\"11111111-1111-4111-8111-111111111111\","
    "\"project_id\":\"22222222-2222-4222-8222-222222222222\","
    "\"app_id\":\"" APP "\",\"deployment_id\":\"" DEP "\","
    "\"app\":{\"name\":\"web\",\"app_type\":\"web\",\"exposed_port\":8080,\"replicas\":2,"
    "\"restart_policy\":\"on-failure\",\"start_command\":null,\"cpu_limit\":0.5,"
    "\"memory_limit\":134217728,\"healthcheck_path\":\"/health\","
    "\"healthcheck_timeout_seconds\":30,\"hostname\":\"web.example.com\"},"
    "\"env\":{\"SECRET\":\"hunter2-long\",\"AB\":\"ab\"},"
    "\"source\":{\"type\":\"git\",\"repository_url\":\"https://bob:tok123xyz@git.example/r.git\","
    "\"branch\":\"main\",\"commit_sha\":null,\"dockerfile_path\":\"Dockerfile\","
    "\"build_context\":\".\",\"build_args\":{\"V\":\"1\"}}}";

static int demux_n;
static char demux_got[8][64];
static int demux_stream[8];

static void
on_line(void *ud, int stream, const char *line, size_t n)
{
	(void)ud;
	if (demux_n < 8) {
		(void)snprintf(demux_got[demux_n], sizeof(demux_got[0]), "%.*s", (int)n, line);
		demux_stream[demux_n] = stream;
	}
	demux_n++;
}

/* Appends one frame {stream, 0,0,0, size BE} + bytes. */
static size_t
frame(char *out, int stream, const char *s)
{
	size_t n = strlen(s);

	out[0] = (char)stream;
	out[1] = out[2] = out[3] = 0;
	out[4] = (char)(n >> 24);
	out[5] = (char)(n >> 16);
	out[6] = (char)(n >> 8);
	out[7] = (char)n;
	memcpy(out + 8, s, n);
	return n + 8;
}

static void
test_payload(void)
{
	cJSON          *p = cJSON_Parse(payload_ok), *q;
	struct app_spec s;
	char            err[1024];

	CHECK(app_spec_parse(p, "app.deploy", &s, err, sizeof(err)) == 0, err);
	CHECK(s.src == APP_SRC_GIT && strcmp(s.branch, "main") == 0 && s.commit_sha == NULL,
	    "git source read");
	CHECK(s.replicas == 2 && s.exposed_port == 8080 && s.hc_timeout_s == 30 &&
	    s.memory_limit == 134217728 && s.cpu_limit == 0.5, "app numbers read");
	CHECK(app_spec_is_served(&s), "web with a port is served");
	CHECK(strcmp(s.hostname, "web.example.com") == 0, "hostname read");
	/* Several problems are reported at once. */
	q = cJSON_Duplicate(p, 1);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(q, "app"), "hostname",
	    cJSON_CreateString("evil; include /etc"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(q, "app"), "replicas", cJSON_CreateNumber(1.5));
	CHECK(app_spec_parse(q, "app.deploy", &s, err, sizeof(err)) != 0 &&
	    strstr(err, "hostname") != NULL && strstr(err, "replicas") != NULL,
	    "bad hostname and replicas both reported");
	cJSON_Delete(q);
	q = cJSON_Duplicate(p, 1);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(q, "source"), "build_context",
	    cJSON_CreateString("../etc"));
	CHECK(app_spec_parse(q, "app.deploy", &s, err, sizeof(err)) != 0 &&
	    strstr(err, "build_context") != NULL, "a context outside the repository is refused");
	cJSON_Delete(q);
	q = cJSON_Duplicate(p, 1);
	cJSON_ReplaceItemInObject(q, "app_id", cJSON_CreateString("../../x"));
	CHECK(app_spec_parse(q, "app.deploy", &s, err, sizeof(err)) != 0, "an app_id with / is refused");
	cJSON_Delete(q);
	q = cJSON_Duplicate(p, 1);
	cJSON_DeleteItemFromObject(q, "source");
	CHECK(app_spec_parse(q, "app.deploy", &s, err, sizeof(err)) != 0 &&
	    strstr(err, "source") != NULL, "deploy without a source refused");
	CHECK(app_spec_parse(q, "app.scale", &s, err, sizeof(err)) != 0, "scale needs a release");
	cJSON_AddItemToObject(q, "command", cJSON_Parse("[\"sh\",\"-c\",\"echo hi\"]"));
	cJSON_AddNumberToObject(q, "timeout_seconds", 5000);
	CHECK(app_spec_parse(q, "app.exec", &s, err, sizeof(err)) == 0 && s.exec_timeout_s == 600,
	    "exec: timeout capped at 600");
	cJSON_Delete(q);
	q = cJSON_Parse("{\"app_id\":\"" APP "\",\"deployment_id\":null}");
	CHECK(app_spec_parse(q, "app.remove", &s, err, sizeof(err)) == 0 && s.deployment_id[0] == '\0',
	    "remove: only the app id is needed");
	cJSON_Delete(q);
	q = cJSON_Parse("{\"app_id\":\"" APP "\",\"deployment_id\":\"" DEP "\",\"tenant_id\":\"t\","
	    "\"project_id\":\"p\",\"app\":{\"app_type\":\"worker\"},"
	    "\"source\":{\"type\":\"release\",\"image_id\":\"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}}");
	CHECK(app_spec_parse(q, "app.deploy", &s, err, sizeof(err)) == 0 && !app_spec_is_served(&s) &&
	    s.replicas == 1 && s.hc_timeout_s == 60 && strcmp(s.restart_policy, "always") == 0,
	    "worker release with defaults");
	cJSON_Delete(q);
	cJSON_Delete(p);
}

/* Every value of a big env is remembered (no fixed table to overflow). */
static void
test_redact_many(void)
{
	enum { N = 3000 };
	cJSON            *p = cJSON_Parse(payload_ok), *env = cJSON_CreateObject();
	struct app_spec   s;
	struct app_redact r;
	char              err[512], key[16], val[32], out[128];
	int               missed = 0;

	for (int i = 0; i < N; i++) {
		(void)util_snprintf(key, sizeof(key), "K%d", i);
		(void)util_snprintf(val, sizeof(val), "value-number-%d", i);
		cJSON_AddStringToObject(env, key, val);
	}
	cJSON_ReplaceItemInObject(p, "env", env);
	(void)app_spec_parse(p, "app.deploy", &s, err, sizeof(err));
	app_redact_init(&r, &s);
	for (int i = 0; i < N; i++) {
		char line[64];

		(void)util_snprintf(line, sizeof(line), "v=value-number-%d;", i);
		app_redact(&r, line, out, sizeof(out));
		missed += strcmp(out, "v=[redacted];") != 0;
	}
	CHECK(missed == 0, "all 3,000 env values redacted");
	app_redact_free(&r);
	cJSON_Delete(p);
}

static void
test_redact(void)
{
	cJSON            *p = cJSON_Parse(payload_ok);
	struct app_spec   s;
	struct app_redact r;
	char              err[512], out[512], url[256], cred[128];

	(void)app_spec_parse(p, "app.deploy", &s, err, sizeof(err));
	app_redact_init(&r, &s);
	app_redact(&r, "value hunter2-long and ab here", out, sizeof(out));
	CHECK(strcmp(out, "value [redacted] and ab here") == 0, "env value redacted, short kept");
	app_redact(&r, "fatal: https://bob:tok123xyz@git.example/r.git not found; tok123xyz", out,
	    sizeof(out));
	CHECK(strstr(out, "tok123xyz") == NULL && strstr(out, "bob:") == NULL, out);
	app_redact(&r, "see http://alice:pw@other.example/x", out, sizeof(out));
	CHECK(strcmp(out, "see http://[redacted]@other.example/x") == 0, "any URL credential redacted");
	app_redact(&r, "hunter2-longhunter2-long", out, 12);
	CHECK(strlen(out) < 12 && strstr(out, "hunter") == NULL, "cut output never leaks a prefix");
	/* A value cut by a line boundary, as build output wraps it. */
	app_redact(&r, "token hunter2-l\nong and ok", out, sizeof(out));
	CHECK(strcmp(out, "token [redacted]\nong and ok") == 0, out);
	app_redact_free(&r);
	CHECK(util_url_split_cred("https://u:t@h.example/r.git", url, sizeof(url), cred, sizeof(cred)) == 0 &&
	    strcmp(url, "https://h.example/r.git") == 0 && strcmp(cred, "u:t") == 0, "credential split");
	CHECK(util_url_split_cred("git://127.0.0.1:9418/web.git", url, sizeof(url), cred, sizeof(cred)) == 0 &&
	    strcmp(url, "git://127.0.0.1:9418/web.git") == 0 && cred[0] == '\0', "no credential");
	cJSON_Delete(p);
}

static void
test_demux(void)
{
	char   buf[512], out[64];
	size_t n = 0;
	bool   trunc;

	n += frame(buf + n, 1, "hello\nwor");
	n += frame(buf + n, 2, "err line\n");
	n += frame(buf + n, 1, "ld\nlast");
	demux_n = 0;
	CHECK(app_demux_lines(buf, n, 100, on_line, NULL) == 4, "four lines");
	CHECK(demux_n == 4 && strcmp(demux_got[0], "hello") == 0 && demux_stream[0] == 1 &&
	    strcmp(demux_got[1], "err line") == 0 && demux_stream[1] == 2 &&
	    strcmp(demux_got[2], "world") == 0 && strcmp(demux_got[3], "last") == 0,
	    "lines joined across frames, per stream");
	demux_n = 0;
	app_demux_lines("raw tty\nout\n", 12, 100, on_line, NULL);
	CHECK(demux_n == 2 && strcmp(demux_got[0], "raw tty") == 0 && demux_stream[0] == 1,
	    "no frame header: raw stdout");
	demux_n = 0;
	app_demux_lines(buf, n, 3, on_line, NULL);
	CHECK(strcmp(demux_got[0], "hel") == 0, "long lines cut");
	app_demux_all(buf, n, out, sizeof(out), &trunc);
	CHECK(strcmp(out, "hello\nworerr line\nld\nlast") == 0 && !trunc, "exec output concatenated");
	app_demux_all(buf, n, out, 8, &trunc);
	CHECK(strlen(out) == 7 && trunc, "exec output capped and marked truncated");
	CHECK(app_demux_all("raw tty\n", 8, out, sizeof(out), &trunc) == 8 &&
	    strcmp(out, "raw tty\n") == 0 && !trunc, "exec output of a TTY: as it is");
	CHECK(app_demux_all(buf, 20, out, sizeof(out), &trunc) == 12 &&
	    memcmp(out, "hello\nwor\2\0\0", 13) == 0, "exec output: a header cut short, as it is");
	{
		char   g[64];
		size_t gn = frame(g, 1, "a\n");

		memcpy(g + gn, "oops\nx", 7);
		CHECK(app_demux_all(g, gn + 7, out, sizeof(out), &trunc) == 9 &&
		    strcmp(out, "a\noops\nx") == 0, "exec output: bytes after the frames, as they are");
	}
	/* A frame whose size runs past the end is cut, not overread. */
	buf[7] = (char)200;
	demux_n = 0;
	app_demux_lines(buf, 14, 100, on_line, NULL);
	CHECK(demux_n == 1 && strcmp(demux_got[0], "hello") == 0, "short frame handled");
}

/* The lines of buf (n bytes) fed to a stream demuxer in two pieces, cut at cut. */
static void
demux_split(const char *buf, size_t n, size_t cut)
{
	struct app_demux d;

	demux_n = 0;
	if (app_demux_init(&d, 100) != 0)
		return;
	(void)app_demux_feed(&d, buf, cut, on_line, NULL);
	(void)app_demux_feed(&d, buf + cut, n - cut, on_line, NULL);
	(void)app_demux_end(&d, on_line, NULL);
	app_demux_free(&d);
}

/*
 * The stream demuxer fed a byte at a time, and in every split of two
 * pieces, delivers what the whole body delivers: headers, payloads and
 * lines split anywhere; a line without its '\n' waits until the end.
 */
static void
test_demux_stream(void)
{
	char             buf[512];
	size_t           n = 0, got;
	struct app_demux d;
	bool             ok = true;

	n += frame(buf + n, 1, "hello\nwor");
	n += frame(buf + n, 2, "err line\n");
	n += frame(buf + n, 1, "ld\nlast");
	CHECK(app_demux_init(&d, 100) == 0, "init");
	demux_n = 0;
	got = 0;
	for (size_t i = 0; i < n; i++) {
		got += app_demux_feed(&d, buf + i, 1, on_line, NULL);
		if (i + 1 < n && demux_n == 3 && strcmp(demux_got[2], "world") != 0)
			ok = false;
	}
	CHECK(ok && got == 3 && demux_n == 3, "byte by byte: three complete lines, the last waits");
	CHECK(app_demux_end(&d, on_line, NULL) == 1 && demux_n == 4 &&
	    strcmp(demux_got[3], "last") == 0 && demux_stream[3] == 1, "end: the partial line");
	app_demux_free(&d);
	for (size_t cut = 0; cut <= n; cut++) {
		demux_split(buf, n, cut);
		if (demux_n != 4 || strcmp(demux_got[0], "hello") != 0 ||
		    strcmp(demux_got[1], "err line") != 0 || demux_stream[1] != 2 ||
		    strcmp(demux_got[2], "world") != 0 || strcmp(demux_got[3], "last") != 0)
			ok = false;
	}
	CHECK(ok, "every split point gives the same lines");
	/* Bytes that are no header after frames (garbage, or a TTY attached
	 * late): the rest is raw stdout, in every split. */
	{
		char   g[64];
		size_t gn = frame(g, 2, "e\n");

		gn += frame(g + gn, 1, "o");
		memcpy(g + gn, "\1\0x\nraw", 7);
		gn += 7;
		for (size_t cut = 0; cut <= gn; cut++) {
			demux_split(g, gn, cut);
			if (demux_n != 3 || strcmp(demux_got[0], "e") != 0 || demux_stream[0] != 2 ||
			    memcmp(demux_got[1], "o\1", 3) != 0 || demux_stream[1] != 1 ||
			    strcmp(demux_got[2], "raw") != 0 || demux_stream[2] != 1)
				ok = false;
		}
		CHECK(ok, "bytes after the frames that are no header: raw stdout from there on");
	}
	/* A TTY's raw output, its first bytes shorter than a header. */
	(void)app_demux_init(&d, 100);
	demux_n = 0;
	(void)app_demux_feed(&d, "ab", 2, on_line, NULL);
	(void)app_demux_feed(&d, "c\nraw", 5, on_line, NULL);
	CHECK(demux_n == 1 && strcmp(demux_got[0], "abc") == 0 && demux_stream[0] == 1,
	    "raw: a line split before 8 bytes");
	(void)app_demux_feed(&d, " tty\n", 5, on_line, NULL);
	CHECK(demux_n == 2 && strcmp(demux_got[1], "raw tty") == 0, "raw: the next line");
	CHECK(app_demux_end(&d, on_line, NULL) == 0, "raw: nothing left");
	app_demux_free(&d);
	(void)app_demux_init(&d, 100);
	demux_n = 0;
	(void)app_demux_feed(&d, "x", 1, on_line, NULL);
	CHECK(demux_n == 0 && app_demux_end(&d, on_line, NULL) == 1 && strcmp(demux_got[0], "x") == 0,
	    "a body shorter than a header is raw output");
	app_demux_free(&d);
}

/* Taking lines from a followed stream: pieces split anywhere, then a
 * reconnect with since=<cursor> (inclusive) that replays the last second. */
static void
test_take_stream(void)
{
	char              body[1024];
	size_t            n = 0, cut;
	struct log_cursor c;
	struct log_take   t;
	cJSON            *e = cJSON_CreateArray();

	memset(&c, 0, sizeof(c));
	n += frame(body + n, 1, "2024-01-02T03:04:05.000000001Z a\n2024-01-02T03:04:05.000000001Z b\n2024-01");
	cut = n;
	n += frame(body + n, 1, "-02T03:04:05.000000001Z c\n");
	CHECK(report_take_begin(&t, &c, APP, DEP, NULL, e) == 0, "begin");
	CHECK(report_take_feed(&t, body, 5) == 0, "half a header: nothing");
	CHECK(report_take_feed(&t, body + 5, cut - 5) == 2, "two lines, the third waits");
	CHECK(report_take_feed(&t, body + cut, 12) == 0, "still waiting");
	CHECK(report_take_feed(&t, body + cut + 12, n - cut - 12) == 1 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 2), "message")->valuestring, "c") == 0,
	    "the split line, whole");
	CHECK(report_take_end(&t) == 0 && c.at_last == 3, "stream ends: cursor at 3 lines of one stamp");
	/* The engine resends from the cursor's stamp on: skipped, then new ones. */
	n += frame(body + n, 2, "2024-01-02T03:04:06Z d\n");
	CHECK(report_take_begin(&t, &c, APP, DEP, NULL, e) == 0, "reconnect");
	CHECK(report_take_feed(&t, body, n) == 1 && report_take_end(&t) == 0 &&
	    cJSON_GetArraySize(e) == 4 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 3), "message")->valuestring, "d") == 0,
	    "reconnect: no duplicate, nothing lost");
	cJSON_Delete(e);
}

static void
test_ts_and_cursor(void)
{
	struct app_ts     t, u;
	size_t            off;
	char              s[64], body[2048];
	struct log_cursor c;
	cJSON            *e = cJSON_CreateArray();
	size_t            n = 0;

	CHECK(app_log_ts("2024-01-02T03:04:05.123456789Z msg", 34, &t, &off) == 0 &&
	    t.sec == 1704164645 && t.nsec == 123456789 && off == 31, "timestamp with nanoseconds");
	CHECK(app_log_ts("2024-01-02T03:04:05Z x", 22, &u, &off) == 0 && u.nsec == 0 &&
	    app_ts_cmp(u, t) < 0, "whole seconds compare before");
	CHECK(app_log_ts("2024-01-02T04:04:05.5+01:00 x", 29, &u, &off) == 0 && u.sec == t.sec &&
	    u.nsec == 500000000, "offset applied");
	CHECK(app_log_ts("not a time", 10, &u, &off) != 0, "garbage refused");
	CHECK(app_ts_since(t, s, sizeof(s)) == 0 && strcmp(s, "1704164645.123456789") == 0, "since=");
	CHECK(app_ts_rfc3339(t, s, sizeof(s)) == 0 && strcmp(s, "2024-01-02T03:04:05.123456789Z") == 0,
	    "RFC 3339 out");
	/* The cursor: whole-second stamps, since= inclusive. */
	memset(&c, 0, sizeof(c));
	n += frame(body + n, 1, "2024-01-02T03:04:05Z a\n2024-01-02T03:04:05Z b\n");
	CHECK(report_take_lines(&c, body, n, APP, DEP, e) == 2, "first read: both lines");
	n += frame(body + n, 2, "2024-01-02T03:04:05Z c\n2024-01-02T03:04:06Z d\n");
	CHECK(report_take_lines(&c, body, n, APP, DEP, e) == 2 && cJSON_GetArraySize(e) == 4,
	    "second read: a and b skipped, c (same second) and d shipped");
	CHECK(report_take_lines(&c, body, n, APP, DEP, e) == 0, "third read: nothing new");
	CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 2), "stream")->valuestring, "stderr") == 0 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 3), "message")->valuestring, "d") == 0 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 3), "timestamp")->valuestring,
	    "2024-01-02T03:04:06.000000000Z") == 0, "entry fields");
	cJSON_Delete(e);
	CHECK(app_container_name(APP, DEP, NULL, 3, s, sizeof(s)) == 0 &&
	    strcmp(s, "lnchr-0b6f7c1e-9a8b7c6d-3") == 0, "container name");
}

static void
test_edge_and_create(void)
{
	int             ports[] = {40001, 40002};
	char            site[EDGE_SITE_MAX], err[256];
	cJSON          *p = cJSON_Parse(payload_ok), *b;
	struct app_spec s;
	char           *text;

	CHECK(edge_render(APP, "web\n}", DEP, "web.example.com", "127.0.0.1:8080", ports, 2, site,
	    sizeof(site)) > 0, "site rendered");
	CHECK(strstr(site, "upstream lnchr_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {") != NULL &&
	    strstr(site, "server 127.0.0.1:40001 max_fails=1 fail_timeout=2s;") != NULL &&
	    strstr(site, "server 127.0.0.1:40002 max_fails=1 fail_timeout=2s;") != NULL &&
	    strstr(site, "keepalive 16;") != NULL && strstr(site, "listen 127.0.0.1:8080;") != NULL &&
	    strstr(site, "server_name web.example.com;") != NULL &&
	    strstr(site, "proxy_set_header Connection \"\";") != NULL &&
	    strstr(site, "proxy_next_upstream error timeout http_502 http_503;") != NULL &&
	    strstr(site, DEP) != NULL, "site content");
	CHECK(strstr(site, "web }") != NULL, "the app name cannot break out of the comment");
	CHECK(edge_render(APP, "web", DEP, "web.example.com", "80", ports, 0, site, sizeof(site)) > 0 &&
	    strstr(site, "return 503;") != NULL &&
	    strstr(site, "upstream lnchr_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {\n    server 127.0.0.1:1 down;\n}")
	    != NULL, "0 replicas: 503, and the upstream still defined (host files name it)");
	CHECK(edge_render(APP, "web", DEP, "web.example.com", "80", ports, 2, site, 100) < 0,
	    "too small a buffer is an error");
	CHECK(edge_render_methods(APP, "fn", DEP, "fn.example.com", "80", ports, 1, "GET|POST", site,
	    sizeof(site)) > 0 && strstr(site, "if ($request_method !~ ^(GET|POST)$) {\n"
	    "            return 405;") != NULL, "a function's site lets only its methods through");
	CHECK(edge_render(APP, "web", DEP, "web.example.com", "80", ports, 1, site, sizeof(site)) > 0 &&
	    strstr(site, "$request_method") == NULL, "an application's lets every method through");
	/* Scale to zero (fnscale.h): nginx's own 502 wakes the container via the agent's socket. */
	CHECK(edge_render_fn(APP, "fn", DEP, "fn.example.com", "80", ports, 1, "POST", "/s/fn-wake.sock",
	    site, sizeof(site)) > 0 &&
	    strstr(site, "        error_page 502 = @wake_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b;\n    }\n") &&
	    strstr(site, "    location @wake_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {\n") &&
	    strstr(site, "proxy_pass http://unix:/s/fn-wake.sock;") &&
	    strstr(site, "proxy_pass_request_body off;") &&
	    strstr(site, "X-Launcher-Wake " APP ";") &&
	    strstr(site, "X-Launcher-Sent \"$upstream_bytes_sent\";") &&
	    strstr(site, "    location @fn_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {\n        set $lnchr_app") &&
	    strstr(site, "proxy_intercept_errors") == NULL,
	    "a function's site: the wake fallback and the named location back to the container");
	CHECK(edge_render_fn(APP, "fn", DEP, "fn.example.com", "80", ports, 1, NULL, "/s/a b;", site,
	    sizeof(site)) < 0, "a wake socket path that would break the site is refused");
	{
		char v[64];

		CHECK(fnscale_header("GET / HTTP/1.1\r\nHost: x\r\nx-launcher-wake:  " APP "\r\n\r\n",
		    FNSCALE_WAKE_HEADER, v, sizeof(v)) == 0 && strcmp(v, APP) == 0 &&
		    fnscale_header("GET / HTTP/1.1\r\nHost: x\r\n\r\n", FNSCALE_SENT_HEADER, v,
		    sizeof(v)) == -1, "the wake request's headers");
	}
	(void)app_spec_parse(p, "app.deploy", &s, err, sizeof(err));
	b = ctr_create_body(&s, "sha256:abc", 0, 20000, 4096);
	text = cJSON_PrintUnformatted(b);
	CHECK(strstr(text, "\"launcher.managed\":\"1\"") && strstr(text, "\"launcher.app\":\"" APP "\"") &&
	    strstr(text, "\"launcher.deployment\":\"" DEP "\"") && strstr(text, "\"PORT=8080\"") &&
	    strstr(text, "\"SECRET=hunter2-long\"") && strstr(text, "\"StopTimeout\":10") &&
	    strstr(text, "\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"") &&
	    strstr(text, "\"Name\":\"on-failure\",\"MaximumRetryCount\":5") &&
	    strstr(text, "\"NanoCpus\":500000000") && strstr(text, "\"Memory\":134217728") &&
	    strstr(text, "{\"Name\":\"nofile\",\"Soft\":20000,\"Hard\":20000}") &&
	    strstr(text, "\"Cmd\"") == NULL, text);
	cJSON_free(text);
	cJSON_Delete(b);
	{
		cJSON *st = cJSON_Parse("{\"State\":{\"Status\":\"stopped\"}}");
		cJSON *cf = cJSON_Parse("{\"State\":{\"Status\":\"configured\"}}");
		cJSON *ru = cJSON_Parse("{\"State\":{\"Status\":\"running\"}}");

		CHECK(strcmp(ctr_state(st), "exited") == 0 && strcmp(ctr_state(cf), "created") == 0 &&
		    strcmp(ctr_state(ru), "running") == 0, "Podman's states in Docker's words");
		cJSON_Delete(st);
		cJSON_Delete(cf);
		cJSON_Delete(ru);
	}
	b = ctr_create_body(&s, "sha256:abc", 20123, 20000, 4096);
	text = cJSON_PrintUnformatted(b);
	CHECK(strstr(text, "\"HostIp\":\"127.0.0.1\",\"HostPort\":\"20123\"") != NULL,
	    "a chosen host port is published on loopback");
	cJSON_free(text);
	cJSON_Delete(b);
	cJSON_Delete(p);
}

/* No second site with one server_name: a stale site keeps its name. */
static void
test_edge_one_site_per_name(void)
{
	static struct agent_conf c;
	char   dir[] = "/tmp/lnchr-edge-XXXXXX", site[EDGE_SITE_MAX], err[512], path[600];
	int    ports[] = {40001};
	const char *other = "11111111-2222-4333-8444-555555555555";

	memset(&c, 0, sizeof(c));	/* no test or reload command: install only writes */
	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	util_snprintf(c.edge_sites_dir, sizeof(c.edge_sites_dir), "%s", dir);
	CHECK(edge_render(other, "old", DEP, "web.example.com", "80", ports, 1, site,
	    sizeof(site)) > 0 && edge_install(&c, other, site, err, sizeof(err)) == 0,
	    "a first site is installed");
	CHECK(edge_render(APP, "new", DEP, "web.example.com", "80", ports, 1, site,
	    sizeof(site)) > 0 && edge_install(&c, APP, site, err, sizeof(err)) != 0 &&
	    strstr(err, "web.example.com") != NULL && strstr(err, other) != NULL,
	    "a second site with the same server_name is refused, naming the first");
	(void)edge_path(&c, APP, path, sizeof(path));
	CHECK(access(path, F_OK) != 0, "and nothing of it is written");
	CHECK(edge_install(&c, other, site, err, sizeof(err)) == 0, "an app rewrites its own site");
	CHECK(edge_render(APP, "new", DEP, "web2.example.com", "80", ports, 1, site,
	    sizeof(site)) > 0 && edge_install(&c, APP, site, err, sizeof(err)) == 0,
	    "another name is installed");
	(void)edge_remove(&c, APP, err, sizeof(err));
	(void)edge_remove(&c, other, err, sizeof(err));
	/* The edge lock stays (nginx's "*.conf" never includes it). */
	util_snprintf(path, sizeof(path), "%s/.launcher-edge.lock", dir);
	CHECK(unlink(path) == 0, "the edge lock is in the sites directory");
	CHECK(rmdir(dir) == 0, "nothing else was left in the sites directory");
}

#define VOL1 "5a5a5a5a-1111-4222-8333-444444444444"
#define VOL2 "6b6b6b6b-1111-4222-8333-444444444444"

/* Volumes: payload, mounts of the create body, engine names, df sizes. */
static void
test_volumes(void)
{
	static const char *const bad[] = {
		"[{\"volume_id\":\"" VOL1 "\",\"mount_path\":\"relative\"}]",
		"[{\"volume_id\":\"" VOL1 "\",\"mount_path\":\"/a/../etc\"}]",
		"[{\"volume_id\":\"" VOL1 "\",\"mount_path\":\"/d:rw\"}]",
		"[{\"volume_id\":\"../x\",\"mount_path\":\"/d\"}]",
		"[{\"volume_id\":\"" VOL1 "\",\"mount_path\":\"/d\",\"mode\":\"rwx\"}]",
		"[{\"mount_path\":\"/d\"}]",
		"{}",
	};
	cJSON          *p = cJSON_Parse(payload_ok), *b, *list, *df, *items;
	struct app_spec s;
	char            err[512], name[VOL_NAME_MAX], *text;

	cJSON_AddItemToObject(p, "volumes", cJSON_Parse("[{\"volume_id\":\"" VOL1 "\","
	    "\"mount_path\":\"/var/lib/data\",\"mode\":\"rw\",\"size_limit\":10485760},"
	    "{\"volume_id\":\"" VOL2 "\",\"mount_path\":\"/cache\",\"mode\":\"ro\","
	    "\"size_limit\":null}]"));
	CHECK(app_spec_parse(p, "app.deploy", &s, err, sizeof(err)) == 0 && s.nvols == 2 &&
	    strcmp(s.vols[0].volume_id, VOL1) == 0 && s.vols[0].size_limit == 10485760 &&
	    !s.vols[0].read_only && s.vols[1].read_only && s.vols[1].size_limit == 0 &&
	    strcmp(s.vols[1].mount_path, "/cache") == 0, err);
	b = ctr_create_body(&s, "sha256:abc", 0, 20000, 4096);
	text = cJSON_PrintUnformatted(b);
	CHECK(strstr(text, "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"lnchr-vol-" VOL1 "\","
	    "\"Target\":\"/var/lib/data\",\"ReadOnly\":false},{\"Type\":\"volume\","
	    "\"Source\":\"lnchr-vol-" VOL2 "\",\"Target\":\"/cache\",\"ReadOnly\":true}]") != NULL &&
	    strstr(text, "Binds") == NULL, text);
	cJSON_free(text);
	cJSON_Delete(b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON_ReplaceItemInObject(p, "volumes", cJSON_Parse(bad[i]));
		CHECK(app_spec_parse(p, "app.deploy", &s, err, sizeof(err)) != 0 &&
		    strstr(err, "volume") != NULL, bad[i]);
	}
	cJSON_Delete(p);
	CHECK(vol_engine_name(VOL1, name, sizeof(name)) == 0 &&
	    strcmp(name, "lnchr-vol-" VOL1) == 0, "engine volume name");
	CHECK(vol_engine_name("../../etc", name, sizeof(name)) != 0 &&
	    vol_engine_name("", name, sizeof(name)) != 0, "no name from a bad id");
	/* Ours only with every label; sizes from df by name; -1 = not sized. */
	list = cJSON_Parse("{\"Volumes\":["
	    "{\"Name\":\"lnchr-vol-" VOL1 "\",\"Labels\":{\"launcher.managed\":\"1\","
	    "\"launcher.volume\":\"" VOL1 "\"}},"
	    "{\"Name\":\"lnchr-vol-" VOL2 "\",\"Labels\":{\"launcher.managed\":\"1\","
	    "\"launcher.volume\":\"" VOL2 "\"}},"
	    "{\"Name\":\"other\",\"Labels\":{\"launcher.managed\":\"1\","
	    "\"launcher.volume\":\"" VOL1 "\"}},"
	    "{\"Name\":\"lnchr-vol-7c7c7c7c-1111-4222-8333-444444444444\",\"Labels\":{}}]}");
	df = cJSON_Parse("{\"Volumes\":["
	    "{\"Name\":\"other\",\"UsageData\":{\"Size\":5}},"
	    "{\"Name\":\"lnchr-vol-7c7c7c7c-1111-4222-8333-444444444444\",\"UsageData\":{\"Size\":7}},"
	    "{\"Name\":\"lnchr-vol-" VOL2 "\",\"UsageData\":{\"Size\":-1}},"
	    "{\"Name\":\"lnchr-vol-" VOL1 "\",\"UsageData\":{\"Size\":10485760}}]}");
	items = vol_usage_items(list, df);
	text = cJSON_PrintUnformatted(items);
	CHECK(strcmp(text, "[{\"volume_id\":\"" VOL1 "\",\"used_bytes\":10485760}]") == 0, text);
	cJSON_free(text);
	CHECK(vol_is_ours(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "Volumes"), 0), VOL1, NULL) &&
	    !vol_is_ours(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "Volumes"), 0), VOL2, NULL) &&
	    !vol_is_ours(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "Volumes"), 0), VOL1,
	    "11111111-1111-4111-8111-111111111111") &&
	    !vol_is_ours(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "Volumes"), 3),
	    "7c7c7c7c-1111-4222-8333-444444444444", NULL), "labels decide what is ours");
	cJSON_Delete(items);
	cJSON_Delete(list);
	cJSON_Delete(df);
}

/* The docker CLI's arithmetic on an engine's stats document. */
static void
test_stats(void)
{
	double                cpu;
	int64_t               mem;
	struct ctr_cpu_sample now, prev = {.total = 200000000, .system = 20000000000.0 - 4e9};
	cJSON                *v1 = cJSON_Parse("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":3000000000},"
	    "\"system_cpu_usage\":20000000000,\"online_cpus\":2},"
	    "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":2000000000},"
	    "\"system_cpu_usage\":10000000000},"
	    "\"memory_stats\":{\"usage\":50000000,\"stats\":{\"total_inactive_file\":8000000,"
	    "\"cache\":9000000}}}");
	cJSON                *v2 = cJSON_Parse("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":5,"
	    "\"percpu_usage\":[1,2,3,4]},\"system_cpu_usage\":100},"
	    "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":5},\"system_cpu_usage\":50},"
	    "\"memory_stats\":{\"usage\":4096,\"stats\":{\"inactive_file\":1024}}}");
	cJSON                *first = cJSON_Parse("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":5},"
	    "\"system_cpu_usage\":100},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0},\"system_cpu_usage\":0},"
	    "\"memory_stats\":{\"usage\":4096}}");
	cJSON                *none = cJSON_Parse("{\"read\":\"0001-01-01T00:00:00Z\",\"memory_stats\":{}}");

	CHECK(ctr_stats_parse(v1, &prev, &now, &cpu, &mem) == 0 && cpu > 19.99 && cpu < 20.01 &&
	    mem == 42000000, "cgroup v1: 10%% of the system's time on 2 CPUs, usage minus inactive file");
	CHECK(now.total == 3000000000.0 && now.system == 20000000000.0, "the sample kept for next time");
	CHECK(ctr_stats_parse(v2, NULL, &now, &cpu, &mem) == 0 && cpu == 0 && mem == 3072,
	    "cgroup v2: idle, usage minus inactive_file");
	CHECK(ctr_stats_parse(first, NULL, &now, &cpu, &mem) == 0 && cpu == -1 && mem == 4096,
	    "no previous sample: memory without cpu");
	prev.total = 3;
	prev.system = 60;
	CHECK(ctr_stats_parse(first, &prev, &now, &cpu, &mem) == 0 && cpu > 4.99 && cpu < 5.01,
	    "a zero precpu (Podman without stream): the delta against our previous sample");
	CHECK(ctr_stats_parse(none, &prev, &now, &cpu, &mem) == -1 && cpu == -1 && mem == -1,
	    "a stopped container's empty stats give nothing");
	cJSON_Delete(v1);
	cJSON_Delete(v2);
	cJSON_Delete(first);
	cJSON_Delete(none);
}

/* A compose source: parsed, and one service's container as ctr.c builds it. */
static void
test_compose_service(void)
{
	const char *text =
	    "{\"tenant_id\":\"t1\",\"project_id\":\"p1\",\"app_id\":\"" APP "\",\"deployment_id\":\"" DEP "\","
	    "\"app\":{\"name\":\"shop\",\"app_type\":\"web\",\"exposed_port\":80},"
	    "\"env\":{\"db.POSTGRES_PASSWORD\":\"pw-0123456789\",\"web.GREETING\":\"hi\","
	    "\"web.PORT\":\"1\"},"
	    "\"source\":{\"type\":\"compose\",\"web_service\":\"web\",\"services\":["
	    "{\"name\":\"db\",\"image\":\"postgres:15\",\"healthcheck\":{\"test\":[\"pg_isready\"],"
	    "\"interval_ms\":500,\"timeout_ms\":1000,\"retries\":5,\"start_period_ms\":0},"
	    "\"volumes\":[{\"name\":\"data\",\"mount_path\":\"/var/lib/pg\",\"read_only\":false,"
	    "\"volume_id\":\"11111111-2222-3333-4444-555555555555\"}],\"labels\":{\"team\":\"x\"},"
	    "\"cap_drop\":[\"NET_RAW\"],\"host\":{\"Privileged\":true}},"
	    "{\"name\":\"web\",\"image\":\"web:1\",\"port\":80,\"command\":[\"httpd\",\"-f\"],"
	    "\"depends_on\":[{\"service\":\"db\",\"condition\":\"service_healthy\"}],\"restart\":\"no\","
	    "\"working_dir\":\"/srv\",\"user\":\"1000\",\"extra_hosts\":[\"a.example:10.0.0.1\"]}]}}";
	cJSON            *p = cJSON_Parse(text), *b;
	struct app_spec  *s = calloc(1, sizeof(*s));
	char              err[512], name[128], *t;

	CHECK(app_spec_parse(p, "app.deploy", s, err, sizeof(err)) == 0, err);
	CHECK(s->src == APP_SRC_COMPOSE && s->nsvcs == 2 && strcmp(s->web_service, "web") == 0 &&
	    s->svcs[0].hc_interval_ms == 500 && s->svcs[0].nvols == 1 && s->svcs[1].port == 80,
	    "compose source parsed");
	CHECK(s->svcs[0].restart == NULL, "a service others wait on to be healthy keeps the app's restart");
	CHECK(app_container_name(APP, DEP, "db", 1, name, sizeof(name)) == 0 &&
	    strcmp(name, "lnchr-0b6f7c1e-9a8b7c6d-db-1") == 0, name);
	s->svc = &s->svcs[0];
	s->exposed_port = 0;
	s->vols[0] = s->svcs[0].vols[0];
	s->nvols = 1;
	b = ctr_create_body(s, "sha256:abc", 0, 20000, 4096);
	t = cJSON_PrintUnformatted(b);
	CHECK(strstr(t, "\"Env\":[\"POSTGRES_PASSWORD=pw-0123456789\"]") != NULL &&
	    strstr(t, "\"launcher.service\":\"db\"") && strstr(t, "\"team\":\"x\"") &&
	    strstr(t, "\"Aliases\":[\"db\"]") && strstr(t, "\"CapDrop\":[\"NET_RAW\"]") &&
	    strstr(t, "\"Privileged\":true") && strstr(t, "\"PortBindings\"") == NULL &&
	    strstr(t, "lnchr-vol-11111111-2222-3333-4444-555555555555"), t);
	cJSON_free(t);
	cJSON_Delete(b);
	s->svc = &s->svcs[1];
	s->exposed_port = 80;
	s->nvols = 0;
	b = ctr_create_body(s, "sha256:abc", 20001, 20000, 4096);
	t = cJSON_PrintUnformatted(b);
	CHECK(strstr(t, "\"GREETING=hi\"") && strstr(t, "\"PORT=80\"") && !strstr(t, "PORT=1") &&
	    !strstr(t, "POSTGRES_PASSWORD") && strstr(t, "\"Cmd\":[\"httpd\",\"-f\"]") &&
	    strstr(t, "\"WorkingDir\":\"/srv\"") && strstr(t, "\"User\":\"1000\"") &&
	    strstr(t, "\"HostPort\":\"20001\"") && strstr(t, "\"ExtraHosts\":[\"a.example:10.0.0.1\"]") &&
	    !strstr(t, "Privileged"), t);
	cJSON_free(t);
	cJSON_Delete(b);
	/* host: only the HostConfig members a compose file can set reach the engine... */
	{
		cJSON       *own = cJSON_Parse("{\"Privileged\":true,\"Memory\":1,"
		    "\"Ulimits\":[],\"PortBindings\":{\"1/tcp\":[]}}"), *q, *h;
		const cJSON *keep = s->svcs[0].host;

		s->svc = &s->svcs[0];
		s->svcs[0].host = own;
		s->exposed_port = 0;
		b = ctr_create_body(s, "sha256:abc", 0, 20000, 4096);
		t = cJSON_PrintUnformatted(b);
		CHECK(strstr(t, "\"Privileged\":true") && !strstr(t, "\"Memory\":1") &&
		    !strstr(t, "\"Ulimits\":[]") && !strstr(t, "1/tcp"), t);
		cJSON_free(t);
		cJSON_Delete(b);
		s->svcs[0].host = keep;
		/* ...and a job whose host names another is refused. */
		q = cJSON_Duplicate(p, true);
		h = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(q, "source"), "services"), 0), "host");
		cJSON_AddNumberToObject(h, "Memory", 1);
		CHECK(app_spec_parse(q, "app.deploy", s, err, sizeof(err)) != 0 && strstr(err, "host"),
		    err);
		cJSON_Delete(q);
		cJSON_Delete(own);
	}
	/* A one-shot service (waited on to complete) without its own restart: "no". */
	{
		cJSON *q = cJSON_Duplicate(p, true), *dep;

		dep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(q, "source"),
		    "services"), 1), "depends_on"), 0);
		cJSON_ReplaceItemInObjectCaseSensitive(dep, "condition",
		    cJSON_CreateString("service_completed_successfully"));
		CHECK(app_spec_parse(q, "app.deploy", s, err, sizeof(err)) == 0 &&
		    s->svcs[0].restart != NULL && strcmp(s->svcs[0].restart, "no") == 0, err);
		cJSON_Delete(q);
	}
	/* The env of another shape, or a service after what depends on it, is refused. */
	cJSON_ReplaceItemInObject(p, "env", cJSON_Parse("{\"PLAIN\":\"x\"}"));
	CHECK(app_spec_parse(p, "app.deploy", s, err, sizeof(err)) != 0 && strstr(err, "env"), err);
	free(s);
	cJSON_Delete(p);
}

/* The project network's bridge name: the agent's, one per engine and project. */
static void
test_bridge_name(void)
{
	const char *p1 = "22222222-2222-4222-8222-222222222222";
	const char *p2 = "22222222-2222-4222-8222-222222222223";
	char        a[16], b[16], c[16], d[16], small[15];

	CHECK(ctr_bridge_name("/srv/a/podman.sock", p1, 0, a, sizeof(a)) == 0 &&
	    strlen(a) == CTR_BRIDGE_LEN && strncmp(a, "lnchr", 5) == 0 &&
	    strspn(a + 5, "0123456789abcdef") == 10, a);
	/* What the name is made of (the tests/api e2e reads it back from the engine). */
	/* printf '/srv/a/podman.sock\n2222...2222' | sha256sum: 764a146a8389... */
	CHECK(strcmp(a, "lnchr764a146a83") == 0, "lnchr + SHA-256(engine \\n project) in hex, cut at 15 bytes");
	CHECK(ctr_bridge_name("/srv/a/podman.sock", p1, 0, b, sizeof(b)) == 0 && strcmp(a, b) == 0,
	    "stable: the same engine and project give the same name");
	CHECK(ctr_bridge_name("/srv/b/podman.sock", p1, 0, b, sizeof(b)) == 0 && strcmp(a, b) != 0,
	    "another engine on the host (another stack or installation): another bridge");
	CHECK(ctr_bridge_name("/srv/a/podman.sock", p2, 0, c, sizeof(c)) == 0 && strcmp(a, c) != 0 &&
	    strcmp(b, c) != 0, "another project: another bridge");
	CHECK(ctr_bridge_name("/srv/a/podman.sock", p1, 1, d, sizeof(d)) == 0 && strcmp(a, d) != 0 &&
	    strncmp(d, "lnchr", 5) == 0 && strlen(d) == CTR_BRIDGE_LEN, "the next candidate differs");
	CHECK(ctr_bridge_name("", p1, 0, d, sizeof(d)) == 0 && strlen(d) == CTR_BRIDGE_LEN,
	    "no engine path: still a name");
	CHECK(ctr_bridge_name("/srv/a/podman.sock", p1, 0, small, sizeof(small)) == -1,
	    "no room for 15 bytes and the NUL: refused");
	CHECK(ctr_bridge_name("/srv/a/podman.sock", "a b", 0, d, sizeof(d)) == -1 &&
	    ctr_bridge_name("/srv/a/podman.sock", NULL, 0, d, sizeof(d)) == -1, "not a plane id: refused");
}

int
main(void)
{
	char repo[128], tag[64];

	test_stats();
	test_volumes();
	test_payload();
	test_redact();
	test_redact_many();
	test_demux();
	test_demux_stream();
	test_take_stream();
	test_ts_and_cursor();
	test_edge_and_create();
	test_edge_one_site_per_name();
	test_compose_service();
	test_bridge_name();
	image_split_ref("127.0.0.1:5000/launcher-test/web:v1", repo, sizeof(repo), tag, sizeof(tag));
	CHECK(strcmp(repo, "127.0.0.1:5000/launcher-test/web") == 0 && strcmp(tag, "v1") == 0,
	    "ref with a registry port split at the tag");
	image_split_ref("127.0.0.1:5000/web", repo, sizeof(repo), tag, sizeof(tag));
	CHECK(strcmp(repo, "127.0.0.1:5000/web") == 0 && strcmp(tag, "latest") == 0, "no tag: latest");
	return unit_done("agent-app");
}
