/* test_fingerprint.c - the grouping of error events (core/fingerprint.h):
 * one exception thrown from different lines is one fingerprint, two
 * exceptions are two; frames count by module/filename + function, in-app
 * first; chained exceptions; the normalised message; an SDK fingerprint
 * wins ("{{ default }}" expanding); title, culprit, level, timestamp and
 * the stored data (tags as object or pairs, breadcrumbs as list or values). */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/fingerprint.h"
#include "core/util.h"
#include "unit.h"

static struct arena a;

/* Reads the event json into e (its data deleted; e's strings stay in a). */
static int
read_ev(const char *json, struct fp_event *e)
{
	cJSON *ev = cJSON_Parse(json);
	int    rc;

	if (ev == NULL) {
		printf("bad test JSON: %s\n", json);
		return -1;
	}
	rc = fp_event_read(&a, ev, e);
	if (rc == 0) {
		/* Keep what the checks read beyond the event's life. */
		e->title = arena_strdup(&a, e->title);
		e->culprit = arena_strdup(&a, e->culprit);
		e->message = arena_strdup(&a, e->message);
		e->release = e->release ? arena_strdup(&a, e->release) : NULL;
		e->environment = e->environment ? arena_strdup(&a, e->environment) : NULL;
	}
	cJSON_Delete(ev);
	return rc;
}

static void
fp_of(const char *json, char out[65])
{
	struct fp_event e;

	out[0] = '\0';
	if (read_ev(json, &e) == 0) {
		memcpy(out, e.fingerprint, 65);
		cJSON_Delete(e.data);
	}
}

/* A Python-style TypeError raised at line `line`, in-app frames between
 * library ones. */
static void
python_event(char *out, size_t n, const char *type, const char *value, int line, int col)
{
	if (util_snprintf(out, n, "{\"event_id\":\"%032d\",\"level\":\"error\",\"platform\":\"python\","
	    "\"exception\":{\"values\":[{\"type\":\"%s\",\"value\":\"%s\",\"module\":\"builtins\","
	    "\"stacktrace\":{\"frames\":["
	    "{\"module\":\"flask.app\",\"filename\":\"flask/app.py\",\"function\":\"dispatch\","
	    "\"lineno\":%d,\"in_app\":false},"
	    "{\"module\":\"shop.views\",\"filename\":\"shop/views.py\",\"function\":\"checkout\","
	    "\"lineno\":%d,\"colno\":%d,\"in_app\":true,\"context_line\":\"x = %d\"},"
	    "{\"module\":\"shop.cart\",\"filename\":\"shop/cart.py\",\"function\":\"total\","
	    "\"lineno\":%d,\"in_app\":true}]}}]}}", line, type, value, line * 7, line, col, line,
	    line + 3) < 0)
		out[0] = '\0';
}

static void
test_lines(void)
{
	char first[65], fp[65], ev[2048];
	int  same = 0;

	python_event(ev, sizeof(ev), "TypeError", "unsupported operand", 1, 1);
	fp_of(ev, first);
	CHECK(strlen(first) == 64, "a fingerprint is 64 hex characters");
	for (int i = 0; i < 50; i++) {
		python_event(ev, sizeof(ev), "TypeError", "unsupported operand", 10 + i * 13, i);
		fp_of(ev, fp);
		same += strcmp(fp, first) == 0;
	}
	CHECK(same == 50, "50 occurrences from different lines and columns: one fingerprint");
	python_event(ev, sizeof(ev), "KeyError", "unsupported operand", 1, 1);
	fp_of(ev, fp);
	CHECK(strcmp(fp, first) != 0, "another exception type: another fingerprint");
	python_event(ev, sizeof(ev), "TypeError", "another value entirely", 5, 1);
	fp_of(ev, fp);
	CHECK(strcmp(fp, first) == 0, "with frames, the value does not count");
}

static void
test_frames(void)
{
	char a1[65], a2[65], a3[65], a4[65], a5[65], a6[65];

	/* Node-style: filenames with line suffixes, no module. */
	fp_of("{\"exception\":[{\"type\":\"Error\",\"value\":\"boom\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"/app/server.js:10:5\",\"function\":\"handle\",\"lineno\":10,\"in_app\":true}]}}]}",
	    a1);
	fp_of("{\"exception\":[{\"type\":\"Error\",\"value\":\"boom\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"/app/server.js:99:1\",\"function\":\"handle\",\"lineno\":99,\"in_app\":true}]}}]}",
	    a2);
	CHECK(a1[0] && strcmp(a1, a2) == 0, "exception as a list; filename's :line:col dropped");
	fp_of("{\"exception\":{\"values\":[{\"type\":\"Error\",\"value\":\"boom\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"/app/server.js\",\"function\":\"handle\",\"lineno\":3,\"in_app\":true}]}}]}}",
	    a3);
	CHECK(strcmp(a1, a3) == 0, "exception as {values}: the same");
	fp_of("{\"exception\":[{\"type\":\"Error\",\"value\":\"boom\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"/app/server.js\",\"function\":\"other\",\"in_app\":true}]}}]}", a4);
	CHECK(strcmp(a1, a4) != 0, "another function: another fingerprint");
	/* A library frame changes nothing when in-app frames exist. */
	fp_of("{\"exception\":[{\"type\":\"Error\",\"value\":\"boom\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"node_modules/x.js\",\"function\":\"lib\",\"in_app\":false},"
	    "{\"filename\":\"/app/server.js\",\"function\":\"handle\",\"in_app\":true}]}}]}", a5);
	CHECK(strcmp(a1, a5) == 0, "library frames ignored when in-app frames exist");
	/* No frame in app: all count. */
	fp_of("{\"exception\":[{\"type\":\"Error\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"x.js\",\"function\":\"f\"},{\"filename\":\"y.js\",\"function\":\"g\"}]}}]}",
	    a5);
	fp_of("{\"exception\":[{\"type\":\"Error\",\"stacktrace\":{\"frames\":["
	    "{\"filename\":\"x.js\",\"function\":\"f\"},{\"filename\":\"y.js\",\"function\":\"h\"}]}}]}",
	    a6);
	CHECK(strcmp(a5, a6) != 0, "no in-app frame: every frame counts");
	/* Chained: the cause counts too. */
	fp_of("{\"exception\":{\"values\":[{\"type\":\"OSError\",\"value\":\"disk\"},"
	    "{\"type\":\"RuntimeError\",\"stacktrace\":{\"frames\":[{\"module\":\"m\",\"function\":\"f\","
	    "\"in_app\":true}]}}]}}", a5);
	fp_of("{\"exception\":{\"values\":[{\"type\":\"ValueError\",\"value\":\"disk\"},"
	    "{\"type\":\"RuntimeError\",\"stacktrace\":{\"frames\":[{\"module\":\"m\",\"function\":\"f\","
	    "\"in_app\":true}]}}]}}", a6);
	CHECK(strcmp(a5, a6) != 0, "chained exceptions: the cause's type counts");
	/* Without frames the normalised value counts. */
	fp_of("{\"exception\":[{\"type\":\"ContainerExited\",\"value\":\"exit code 1 at 0x7f3a\"}]}", a5);
	fp_of("{\"exception\":[{\"type\":\"ContainerExited\",\"value\":\"exit code 137 at 0x8b00\"}]}", a6);
	CHECK(strcmp(a5, a6) == 0, "frameless: the value normalised (numbers, hex)");
	fp_of("{\"exception\":[{\"type\":\"ContainerExited\",\"value\":\"out of memory\"}]}", a6);
	CHECK(strcmp(a5, a6) != 0, "frameless: another value, another fingerprint");
}

static void
test_messages(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{"User 42 not found", "User <num> not found"},
		{"took 3.25 s", "took <num> s"},
		{"order 550e8400-e29b-41d4-a716-446655440000 failed",
		 "order <uuid> failed"},
		{"at 0x7ffd5a3c and deadbeef0042", "at <hex> and <hex>"},
		{"from 192.168.1.20:5432 and fe80::1", "from <ip>:<num> and <ip>"},
		{"key 'alpha' missing in \"cfg\"", "key '<str>' missing in \"<str>\""},
		{"can't open 'x'", "can't open '<str>'"},
		{"at 2026-12-06T08:00:01.5Z then 2026-12-06 09:10:11+01:00",
		 "at <ts> then <ts>"},
		{"utf8 sha256 item_7 v2", "utf8 sha256 item_<num> v2"},
		{"Foo::bar at 10:30:00", "Foo::bar at <num>:<num>:<num>"},
		{"", ""},
	};
	char a1[65], a2[65], a3[65];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *got = fp_normalise(&a, cases[i].in);

		if (strcmp(got, cases[i].out) != 0)
			printf("normalise \"%s\": \"%s\", expected \"%s\"\n", cases[i].in, got, cases[i].out);
		CHECK(strcmp(got, cases[i].out) == 0, "message normalisation");
	}
	fp_of("{\"message\":\"payment 1234 failed for 'bob'\"}", a1);
	fp_of("{\"message\":{\"formatted\":\"payment 99 failed for 'alice'\"}}", a2);
	CHECK(a1[0] && strcmp(a1, a2) == 0, "message string / message.formatted: one group");
	fp_of("{\"logentry\":{\"message\":\"payment %s failed\",\"formatted\":\"payment 7 failed\"}}", a3);
	fp_of("{\"logentry\":{\"message\":\"payment %s failed\",\"formatted\":\"payment x failed\"}}", a2);
	CHECK(strcmp(a3, a2) == 0, "logentry: the template groups");
	/* @sentry/node's captureMessage: a synthetic exception beside the message. */
	fp_of("{\"message\":\"payment 5 failed for 'eve'\",\"exception\":{\"values\":[{\"value\":"
	    "\"payment 5 failed for 'eve'\",\"mechanism\":{\"type\":\"generic\",\"synthetic\":true},"
	    "\"stacktrace\":{\"frames\":[{\"filename\":\"/app/a.js\",\"function\":\"f\",\"in_app\":true}]}}]}}",
	    a3);
	CHECK(strcmp(a1, a3) == 0, "a synthetic exception beside a message: a message event");
	fp_of("{\"message\":\"refund 1 failed\"}", a3);
	CHECK(strcmp(a1, a3) != 0, "another message, another fingerprint");
}

static void
test_custom(void)
{
	char d[65], c1[65], c2[65], c3[65], c4[65];
	const char *base = "{\"exception\":[{\"type\":\"E\",\"stacktrace\":{\"frames\":[{\"module\":\"m\","
	    "\"function\":\"f\",\"in_app\":true}]}}]";
	char ev[512];

	util_snprintf(ev, sizeof(ev), "%s}", base);
	fp_of(ev, d);
	util_snprintf(ev, sizeof(ev), "%s,\"fingerprint\":[\"db-timeout\"]}", base);
	fp_of(ev, c1);
	CHECK(strcmp(c1, d) != 0, "an SDK fingerprint wins over the default");
	fp_of("{\"message\":\"something else\",\"fingerprint\":[\"db-timeout\"]}", c2);
	CHECK(strcmp(c1, c2) == 0, "same SDK fingerprint, different events: one group");
	util_snprintf(ev, sizeof(ev), "%s,\"fingerprint\":[\"{{ default }}\",\"eu\"]}", base);
	fp_of(ev, c3);
	util_snprintf(ev, sizeof(ev), "%s,\"fingerprint\":[\"{{default}}\",\"us\"]}", base);
	fp_of(ev, c4);
	CHECK(strcmp(c3, c4) != 0 && strcmp(c3, d) != 0, "{{ default }} plus a part: split by the part");
	util_snprintf(ev, sizeof(ev), "%s,\"fingerprint\":[\"{{ Default }}\",\"eu\"]}",
	    "{\"exception\":[{\"type\":\"E\",\"stacktrace\":{\"frames\":[{\"module\":\"m\","
	    "\"function\":\"f\",\"lineno\":99,\"in_app\":true}]}}]");
	fp_of(ev, c4);
	CHECK(strcmp(c3, c4) == 0, "{{ default }} expands to the default grouping");
	util_snprintf(ev, sizeof(ev), "%s,\"fingerprint\":[]}", base);
	fp_of(ev, c4);
	CHECK(strcmp(c4, d) == 0, "an empty fingerprint is the default");
}

/* An event (in a) with markers "{{ default }}" in its fingerprint (0: none)
 * and frames in-app frames at "/app/x.js:12:7", each of function "fn" but
 * frame odd's ("odd"; -1: none). */
static char *
bomb(int markers, int frames, int odd)
{
	struct buf b;

	buf_init(&b, &a, 1 << 16, 64u << 20);
	buf_adds(&b, "{\"exception\":{\"values\":[{\"type\":\"E\",\"value\":\"v\","
	    "\"stacktrace\":{\"frames\":[");
	for (int i = 0; i < frames; i++)
		buf_adds(&b, arena_printf(&a, "%s{\"filename\":\"/app/x.js:12:7\",\"function\":"
		    "\"%s\",\"in_app\":true}", i ? "," : "", i == odd ? "odd" : "fn"));
	buf_adds(&b, "]}}]}");
	if (markers > 0) {
		buf_adds(&b, ",\"fingerprint\":[");
		for (int i = 0; i < markers; i++)
			buf_adds(&b, i ? ",\"{{ default }}\"" : "\"{{ default }}\"");
		buf_adds(&b, "]");
	}
	buf_adds(&b, "}");
	return buf_ok(&b) ? b.data : NULL;
}

/* A fingerprint of 30,000 markers over 30,000 frames (a ~2 MB event): the
 * default computed once, the first FP_CUSTOM_MAX entries counted, the last
 * FP_FRAMES_MAX frames hashed: bounded memory (the arena's growth is
 * measured; once it was an allocation per frame per marker). */
static void
test_bounded(void)
{
	char   *ev = bomb(30000, 30000, -1), *ev32 = bomb(FP_CUSTOM_MAX, 30000, -1);
	char    f1[65], f2[65], f3[65];
	size_t  before;

	CHECK(ev != NULL && ev32 != NULL, "the bomb is built");
	if (ev == NULL || ev32 == NULL)
		return;
	before = a.total;
	fp_of(ev, f1);
	CHECK(f1[0] != '\0' && a.total - before < 64 * 1024,
	    "30,000 {{ default }} over 30,000 frames: bounded memory");
	fp_of(ev32, f2);
	CHECK(strcmp(f1, f2) == 0, "only the first FP_CUSTOM_MAX entries of a fingerprint count");
	fp_of(bomb(0, FP_FRAMES_MAX + 10, 0), f1);
	fp_of(bomb(0, FP_FRAMES_MAX + 10, -1), f2);
	fp_of(bomb(0, FP_FRAMES_MAX + 10, FP_FRAMES_MAX + 9), f3);
	CHECK(f1[0] && strcmp(f1, f2) == 0, "frames before the last FP_FRAMES_MAX do not count");
	CHECK(strcmp(f2, f3) != 0, "the last FP_FRAMES_MAX frames count");
}

/* 100,000 tags (pairs, every key twice): the first FP_TAGS_MAX entries
 * kept, a duplicate key replacing the earlier value.  Once a delete and an
 * add per tag: quadratic (18 s); now the search is over FP_TAGS_MAX keys. */
static void
test_tags_bounded(void)
{
	struct buf      b;
	struct fp_event e;
	const cJSON    *tags, *x;

	buf_init(&b, &a, 1 << 16, 16u << 20);
	buf_adds(&b, "{\"message\":\"m\",\"tags\":[");
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, arena_printf(&a, "%s[\"k%d\",\"v%d\"]", i ? "," : "", i % 50000 / 2, i));
	buf_adds(&b, "]}");
	CHECK(buf_ok(&b) && read_ev(b.data, &e) == 0, "100,000 tags read");
	if (!buf_ok(&b))
		return;
	tags = cJSON_GetObjectItem(e.data, "tags");
	CHECK(cJSON_GetArraySize(tags) == FP_TAGS_MAX / 2, "the first FP_TAGS_MAX tags kept");
	x = cJSON_GetObjectItem(tags, "k0");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "v1") == 0, "a duplicate key: the later value");
	CHECK(cJSON_GetObjectItem(tags, "k100") == NULL, "tags after the first FP_TAGS_MAX dropped");
	cJSON_Delete(e.data);
}

static void
test_fields(void)
{
	struct fp_event e;
	const cJSON    *x;
	char           *s;

	CHECK(read_ev("{\"level\":\"warning\",\"release\":\"shop@1.2\",\"environment\":\"prod\","
	    "\"timestamp\":\"2026-12-06T08:00:00.500+01:00\",\"tags\":[[\"browser\",\"Firefox\"],"
	    "[\"n\",3]],\"user\":{\"id\":\"7\"},\"breadcrumbs\":{\"values\":[{\"message\":\"a\"},"
	    "{\"message\":\"b\"}]},\"sdk\":{\"name\":\"sentry.python\",\"version\":\"1.9\"},"
	    "\"server_name\":\"web1\",\"exception\":{\"values\":[{\"type\":\"ValueError\","
	    "\"value\":\"bad id 42\\nsecond line\",\"stacktrace\":{\"frames\":["
	    "{\"module\":\"lib\",\"function\":\"call\"},"
	    "{\"module\":\"shop.api\",\"function\":\"get\",\"in_app\":true,\"lineno\":3,"
	    "\"vars\":{\"password\":\"hunter2\"}},"
	    "{\"module\":\"lib2\",\"function\":\"inner\"}]}}]}}", &e) == 0, "an event reads");
	CHECK(strcmp(e.title, "ValueError: bad id 42") == 0, "title: type: value's first line");
	CHECK(strcmp(e.culprit, "shop.api in get") == 0, "culprit: the top in-app frame");
	CHECK(strcmp(e.level, "warning") == 0, "level");
	CHECK(e.release && strcmp(e.release, "shop@1.2") == 0, "release");
	CHECK(e.environment && strcmp(e.environment, "prod") == 0, "environment");
	CHECK(e.timestamp == 1796544000.5 - 3600, "RFC 3339 timestamp with offset");
	{
		static const struct { const char *ts; double want; } ts[] = {
			{"\"2026-12-06T08:00:00.250Z\"", 1796544000.25},	/* Python SDK */
			{"1796544000.5", 1796544000.5},	/* Node SDK */
			{"\"2026-02-30T08:00:00Z\"", 0},	/* no such day */
			{"\"2026-12-06 08:00:00\"", 0},	/* no zone */
			{"\"yesterday\"", 0},
		};

		for (size_t i = 0; i < sizeof(ts) / sizeof(*ts); i++) {
			struct fp_event t;
			char            ev[128];

			util_snprintf(ev, sizeof(ev), "{\"message\":\"m\",\"timestamp\":%s}", ts[i].ts);
			CHECK(read_ev(ev, &t) == 0 && t.timestamp == ts[i].want, "timestamp read");
			if (t.timestamp != ts[i].want)
				printf("timestamp %s: %f\n", ts[i].ts, t.timestamp);
			cJSON_Delete(t.data);
		}
	}
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(e.data, "tags"), "browser");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "Firefox") == 0, "tags from pairs");
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(e.data, "tags"), "n");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "3") == 0, "a number tag as a string");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(e.data, "breadcrumbs")) == 2, "breadcrumbs from values");
	x = cJSON_GetArrayItem(cJSON_GetObjectItem(e.data, "exception"), 0);
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "stacktrace"), "frames")) == 3,
	    "the frames stored, all of them");
	s = cJSON_PrintUnformatted(e.data);
	CHECK(s && strstr(s, "\"sdk\":{\"name\":\"sentry.python\",\"version\":\"1.9\"}") &&
	    strstr(s, "\"user\":{\"id\":\"7\"}") && strstr(s, "\"server_name\":\"web1\"") &&
	    !strstr(s, "hunter2"), "sdk, user, server_name stored; frame vars not");
	cJSON_free(s);
	cJSON_Delete(e.data);

	CHECK(read_ev("{\"message\":\"hello 5\",\"timestamp\":1796544000.25,\"level\":\"bogus\","
	    "\"tags\":{\"a\":\"b\"},\"breadcrumbs\":[{\"message\":\"x\"}],\"transaction\":\"/cart\"}",
	    &e) == 0, "a message event reads");
	CHECK(strcmp(e.title, "hello 5") == 0 && strcmp(e.message, "hello 5") == 0, "title: the message");
	CHECK(strcmp(e.level, "error") == 0, "an unknown level is error");
	CHECK(e.timestamp == 1796544000.25, "numeric timestamp");
	CHECK(strcmp(e.culprit, "/cart") == 0, "no frame: the transaction is the culprit");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(e.data, "breadcrumbs")) == 1, "breadcrumbs as a list");
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(e.data, "tags"), "a");
	CHECK(cJSON_IsString(x), "tags as an object");
	cJSON_Delete(e.data);

	CHECK(read_ev("{}", &e) == 0 && strcmp(e.title, "<unlabeled event>") == 0,
	    "an empty event is unlabeled");
	cJSON_Delete(e.data);
	CHECK(read_ev("[1,2]", &e) == -1, "not an object: -1");
	fp_event_malformed(&a, "{not json", &e);
	CHECK(strcmp(e.title, "Malformed event") == 0 && strlen(e.fingerprint) == 64,
	    "malformed: its own issue");
	cJSON_Delete(e.data);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	arena_init(&a, 65536);
	test_lines();
	test_frames();
	test_messages();
	test_custom();
	test_bounded();
	test_tags_bounded();
	test_fields();
	arena_free(&a);
	return unit_done("fingerprint");
}
