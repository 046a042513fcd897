/* test_agent_wire.c - what crosses the agent's wires: RFC 3339 times, clean
 * text, Engine API answers (Docker and Podman), the plane's envelope and
 * its failure classes, the claimed job, back-off steps, and a job run
 * in-process through the child's record protocol (noop, bad payload,
 * unknown kind). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/loop.h"
#include "agent/plane.h"
#include "agent/runner.h"
#include "agent/text.h"
#include "agent/timefmt.h"
#include "core/util.h"
#include "unit.h"

static const char podman_version[] =
    "{\"Platform\":{\"Name\":\"linux/amd64/debian-12\"},\"Components\":[{\"Name\":\"Podman Engine\","
    "\"Version\":\"4.3.1\",\"Details\":{\"APIVersion\":\"4.3.1\"}},{\"Name\":\"Conmon\",\"Version\":"
    "\"conmon version 2.1.6\"}],\"Version\":\"4.3.1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":"
    "\"1.24\",\"Os\":\"linux\",\"Arch\":\"amd64\",\"KernelVersion\":\"6.1.0-18-amd64\"}";
static const char docker_version[] =
    "{\"Platform\":{\"Name\":\"Docker Engine - Community\"},\"Components\":[{\"Name\":\"Engine\","
    "\"Version\":\"24.0.7\"},{\"Name\":\"containerd\",\"Version\":\"1.6.25\"}],\"Version\":\"24.0.7\","
    "\"ApiVersion\":\"1.43\",\"Os\":\"linux\",\"KernelVersion\":\"6.1.0\"}";

/* Reads everything the "child" wrote to a pipe. */
static char *
run_job(const struct job *j, const struct agent_conf *c, int *code)
{
	static char out[65536];
	int         p[2];
	ssize_t     n, got = 0;

	if (pipe(p) != 0)
		abort();
	*code = runner_run(j, c, NULL, p[1]);
	close(p[1]);
	while ((n = read(p[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	out[got] = '\0';
	return out;
}

static int
parse_job(const char *json, struct job *j)
{
	cJSON *o = cJSON_Parse(json);
	char   err[128];
	int    rc = runner_job_parse(o, NULL, 1000.0, 20, j, err, sizeof(err));

	cJSON_Delete(o);
	return rc;
}

int
main(void)
{
	static const struct { const char *s; double t; } times[] = {
		{"1970-01-01T00:00:00Z", 0}, {"2024-02-29T12:00:00.5Z", 1709208000.5},
		{"2024-02-29T14:00:00+02:00", 1709208000}, {"2024-02-29T11:30:00.25-00:30", 1709208000.25},
		{"2024-02-29 12:00:00.123456+00:00", 1709208000.123456}, {"2024-02-29t12:00:00z", 1709208000},
	};
	static const char *const bad_times[] = {"2024-02-29T12:00:00", "2024-02-29", "2024-13-01T00:00:00Z",
		"2024-02-29T12:00:00.Z", "2024-02-29T12:00:00Zjunk", "", "x"};
	static const struct { long status; const char *body; enum plane_rc rc; } answers[] = {
		{200, "{\"success\":true,\"data\":{\"job\":null}}", PLANE_OK},
		{204, "", PLANE_OK},
		{200, "<html>captive portal</html>", PLANE_DOWN},
		{200, "{\"success\":false}", PLANE_DOWN},
		{401, "{\"success\":false,\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":\"invalid agent token\"}}", PLANE_UNAUTHORIZED},
		{403, "", PLANE_UNAUTHORIZED},
		{409, "{\"success\":false,\"error\":{\"code\":\"CONFLICT\",\"message\":\"the job is cancelled\"}}", PLANE_CONFLICT},
		{404, "", PLANE_GONE}, {400, "{}", PLANE_REJECTED}, {422, "", PLANE_REJECTED},
		{429, "", PLANE_DOWN}, {502, "<html>Bad Gateway</html>", PLANE_DOWN}, {503, "", PLANE_DOWN},
		/* the edges of each class: no answer, 1xx, 3xx, 408, 500, 599 */
		{0, "", PLANE_DOWN}, {99, "", PLANE_DOWN}, {100, "", PLANE_REJECTED},
		{299, "", PLANE_OK}, {301, "<html>Moved</html>", PLANE_REJECTED},
		{399, "", PLANE_REJECTED}, {402, "", PLANE_REJECTED}, {408, "", PLANE_DOWN},
		{499, "", PLANE_REJECTED}, {500, "", PLANE_DOWN}, {599, "", PLANE_DOWN},
	};
	struct engine_facts f;
	struct plane_answer ans;
	struct agent_conf   conf;
	struct arena        a;
	struct job          j;
	char                buf[64], s[64], dir[] = "/tmp/lnchr-agent-wire-XXXXXX", path[256];
	char                err[128], *out;
	double              t;
	int64_t             b = 0;
	int                 code;
	cJSON              *o;

	/* Times. */
	for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++)
		CHECK(timefmt_parse_rfc3339(times[i].s, &t) == 0 && t > times[i].t - 1e-6 &&
		    t < times[i].t + 1e-6, times[i].s);
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(*bad_times); i++)
		CHECK(timefmt_parse_rfc3339(bad_times[i], &t) == -1, bad_times[i]);
	CHECK(timefmt_rfc3339(buf, sizeof(buf), 1709208000.25) == 0 &&
	    strcmp(buf, "2024-02-29T12:00:00.250Z") == 0, "formats with milliseconds and Z");
	CHECK(timefmt_parse_rfc3339(buf, &t) == 0 && t > 1709208000.249 && t < 1709208000.251,
	    "round trip");

	/* Text. */
	util_snprintf(s, sizeof(s), "ok\tline\nnext\033[0m \xff\xfe end \xc3\xa9");
	util_sanitize(s, 0);
	CHECK(strcmp(s, "ok\tline next [0m ?? end \xc3\xa9") == 0, "control and invalid bytes replaced");
	util_snprintf(s, sizeof(s), "a\nb");
	util_sanitize(s, 1);
	CHECK(strcmp(s, "a\nb") == 0, "newlines kept on request");
	util_snprintf(s, sizeof(s), "\xed\xa0\x80 \xc0\xaf");	/* surrogate, overlong */
	util_sanitize(s, 0);
	CHECK(strcmp(s, "??? ??") == 0, "surrogates and overlong forms rejected");
	util_snprintf(s, sizeof(s), "ab\xc3\xa9");
	CHECK(text_truncate(s, 3) == 2 && strcmp(s, "ab") == 0, "cut before a split character");
	util_snprintf(s, sizeof(s), "abc");
	CHECK(text_truncate(s, 3) == 3 && strcmp(s, "abc") == 0, "short text untouched");

	/* Engine answers. */
	memset(&f, 0, sizeof(f));
	CHECK(engine_parse_version(podman_version, &f) == 0 && f.reachable &&
	    strcmp(f.type, "podman") == 0 && strcmp(f.version, "4.3.1") == 0 &&
	    strcmp(f.api_version, "1.41") == 0 && strcmp(f.os, "linux") == 0 &&
	    strcmp(f.kernel, "6.1.0-18-amd64") == 0, "podman /version");
	memset(&f, 0, sizeof(f));
	CHECK(engine_parse_version(docker_version, &f) == 0 && strcmp(f.type, "docker") == 0 &&
	    strcmp(f.version, "24.0.7") == 0, "docker /version");
	CHECK(engine_parse_info("{\"Containers\":5,\"ContainersRunning\":2,\"Images\":7}", &f) == 0 &&
	    f.have_info && f.containers == 5 && f.containers_running == 2 && f.images == 7, "/info counts");
	{
		struct engine_facts g;

		memset(&g, 0, sizeof(g));
		CHECK(engine_parse_lists("[{\"Id\":\"a\",\"State\":\"running\"},{\"Id\":\"b\","
		    "\"State\":\"exited\"},{\"Id\":\"c\",\"State\":\"running\"}]",
		    "[{\"Id\":\"i1\"},{\"Id\":\"i2\"}]", &g) == 0 && g.have_info &&
		    g.containers == 3 && g.containers_running == 2 && g.images == 2,
		    "counts from the container and image lists (Podman)");
		memset(&g, 0, sizeof(g));
		CHECK(engine_parse_lists("{\"message\":\"x\"}", "[]", &g) == -1 && !g.have_info,
		    "a list that is not a list");
	}
	o = engine_json(&f);
	CHECK(cJSON_GetArraySize(o) == 9, "reachable engine: every field");
	cJSON_Delete(o);
	memset(&f, 0, sizeof(f));
	CHECK(engine_parse_version("{\"message\":\"page not found\"}", &f) == -1 && !f.reachable,
	    "not an engine");
	CHECK(engine_parse_version("garbage", &f) == -1, "not JSON");
	o = engine_json(&f);
	CHECK(cJSON_GetArraySize(o) == 1 && cJSON_IsFalse(cJSON_GetObjectItem(o, "reachable")),
	    "unreachable engine: only reachable=false");
	cJSON_Delete(o);

	/* The plane's envelope. */
	arena_init(&a, 4096);
	for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
		enum plane_rc rc = plane_read_answer(&a, answers[i].status, answers[i].body,
		    strlen(answers[i].body), &ans);

		CHECK(rc == answers[i].rc, plane_rc_name(answers[i].rc));
		CHECK(strstr(ans.msg, "<html>") == NULL, "raw bodies never echoed");
	}
	plane_read_answer(&a, 200, answers[0].body, strlen(answers[0].body), &ans);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(ans.data, "job")), "data handed over");
	plane_read_answer(&a, 409, answers[6].body, strlen(answers[6].body), &ans);
	CHECK(strcmp(ans.msg, "HTTP 409 CONFLICT: the job is cancelled") == 0, "error message kept");
	arena_free(&a);

	/* Back-off: 1 s doubling to 30 s. */
	{
		static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};

		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
			b = agent_backoff_next(b);
			CHECK(b == want[i], "back-off step");
		}
	}

	/* Slots (loop.h): what a claim asks for, and where its job runs. */
	{
		bool busy[4] = {false, false, false, false};

		CHECK(agent_claim_want(busy, 4) == AGENT_WANT_ANY, "all free: any kind");
		CHECK(agent_slot_pick("app.deploy", busy, 4) == 0, "a deploy takes the main slot");
		CHECK(agent_slot_pick("fn.invoke", busy, 4) == 1, "an invocation an invoke slot");
		busy[0] = true;
		CHECK(agent_claim_want(busy, 4) == AGENT_WANT_INVOKE, "main busy: invocations only");
		CHECK(agent_slot_pick("fn.invoke", busy, 4) == 1, "beside the main job");
		busy[1] = busy[2] = busy[3] = true;
		CHECK(agent_claim_want(busy, 4) == AGENT_WANT_NONE, "all busy: no claim");
		CHECK(agent_slot_pick("fn.invoke", busy, 4) == -1, "no slot");
		busy[0] = false;
		CHECK(agent_claim_want(busy, 4) == AGENT_WANT_OTHER, "invoke slots busy: no invocation");
		CHECK(agent_slot_pick("fn.invoke", busy, 4) == 0, "an invocation falls back to main");
		busy[0] = true;
		busy[2] = false;
		CHECK(agent_slot_pick("app.deploy", busy, 4) == -1,
		    "a plane that ignored the filter: another kind never in an invoke slot");
		CHECK(agent_slot_pick("fn.deploy", busy, 4) == -1, "nor a function's deploy");
		/* invoke_slots = 0: the one slot takes everything, as before slots. */
		busy[0] = false;
		CHECK(agent_claim_want(busy, 1) == AGENT_WANT_ANY, "one slot: any kind");
		CHECK(agent_slot_pick("fn.invoke", busy, 1) == 0, "one slot: invocations in it");
		busy[0] = true;
		CHECK(agent_claim_want(busy, 1) == AGENT_WANT_NONE, "one slot busy: no claim");
	}

	/* The claimed job. */
	CHECK(parse_job("{\"id\":\"550e8400-e29b-41d4-a716-446655440000\",\"kind\":\"noop\","
	    "\"payload\":{\"sleep_ms\":0,\"marker\":\"m\"},\"attempt\":2,\"lease_seconds\":30,"
	    "\"deadline_at\":\"2024-01-01T00:10:00Z\",\"plane_time\":\"2024-01-01T00:00:00Z\"}", &j) == 0,
	    "job parses");
	CHECK(j.attempt == 2 && j.lease_seconds == 30 && j.have_plane_time && j.have_deadline &&
	    j.deadline_in_s == 600 && j.claim_rtt_ms == 20 && cJSON_IsObject(j.payload), "job fields");
	runner_job_clear(&j);
	CHECK(parse_job("{\"id\":\"../../x\",\"kind\":\"noop\"}", &j) == -1, "unsafe id refused");
	runner_job_clear(&j);
	CHECK(parse_job("{\"id\":\"abc\",\"kind\":\"noop\",\"lease_seconds\":0.5}", &j) == 0 &&
	    j.lease_seconds == 30 && j.attempt == 1 && cJSON_IsObject(j.payload) && !j.have_deadline,
	    "odd values get safe defaults");
	runner_job_clear(&j);

	/* Jobs through the record protocol. */
	if (mkdtemp(dir) == NULL)
		abort();
	agent_conf_defaults(&conf);
	agent_conf_set(&conf, "state_dir", dir, err, sizeof(err));
	CHECK(parse_job("{\"id\":\"job-1\",\"kind\":\"noop\",\"attempt\":3,"
	    "\"payload\":{\"sleep_ms\":20,\"marker\":\"hello\"}}", &j) == 0, "noop job");
	out = run_job(&j, &conf, &code);
	CHECK(code == 0 && strcmp(out, "P noop hello attempt 3\nR {\"status\":\"succeeded\","
	    "\"result\":{\"marker\":\"hello\",\"slept_ms\":20}}\n") == 0, out);
	out = run_job(&j, &conf, &code);
	runner_job_clear(&j);
	util_snprintf(path, sizeof(path), "%s/noop.log", dir);
	{
		FILE *fp = fopen(path, "r");
		char  all[256] = "";
		size_t n = fp != NULL ? fread(all, 1, sizeof(all) - 1, fp) : 0;

		all[n] = '\0';
		if (fp != NULL)
			fclose(fp);
		CHECK(strcmp(all, "job-1 hello 3\njob-1 hello 3\n") == 0, "one noop.log line per run");
		unlink(path);
	}
	parse_job("{\"id\":\"job-2\",\"kind\":\"noop\",\"payload\":{\"sleep_ms\":600001}}", &j);
	out = run_job(&j, &conf, &code);
	CHECK(strstr(out, "R {\"status\":\"failed\",\"error\":\"bad payload: sleep_ms") == out,
	    "sleep_ms out of range fails");
	runner_job_clear(&j);
	parse_job("{\"id\":\"job-3\",\"kind\":\"noop\",\"payload\":{\"marker\":7}}", &j);
	out = run_job(&j, &conf, &code);
	CHECK(strstr(out, "marker must be a string") != NULL, "marker not a string fails");
	runner_job_clear(&j);
	parse_job("{\"id\":\"job-4\",\"kind\":\"launch.rockets\"}", &j);
	CHECK(!runner_kind_known(j.kind) && runner_kind_known("noop") &&
	    runner_kind_known("diagnostics"), "known kinds");
	out = run_job(&j, &conf, &code);
	CHECK(strcmp(out, "R {\"status\":\"failed\",\"error\":\"unknown job kind launch.rockets\"}\n") == 0,
	    out);
	runner_job_clear(&j);
	parse_job("{\"id\":\"job-6\",\"kind\":\"noop\",\"payload\":{\"marker\":\"x\",\"lines\":2}}", &j);
	out = run_job(&j, &conf, &code);
	CHECK(strstr(out, "P noop x line 1\nP noop x line 2\nP noop x attempt 1\nR ") == out,
	    "extra progress lines before the attempt line");
	runner_job_clear(&j);
	parse_job("{\"id\":\"job-7\",\"kind\":\"noop\",\"payload\":{\"lines\":1.5}}", &j);
	out = run_job(&j, &conf, &code);
	CHECK(strstr(out, "lines must be an integer") != NULL, "lines not an integer fails");
	runner_job_clear(&j);
	/* A marker with a newline cannot break the one-line-per-run log. */
	parse_job("{\"id\":\"job-5\",\"kind\":\"noop\",\"payload\":{\"marker\":\"a\\nb\"}}", &j);
	out = run_job(&j, &conf, &code);
	CHECK(strstr(out, "P noop a b attempt 1\n") == out, "newline in a marker flattened");
	runner_job_clear(&j);
	unlink(path);
	rmdir(dir);
	return unit_done("agent-wire");
}
