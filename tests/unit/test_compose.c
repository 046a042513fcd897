/*
 * test_compose.c - core/compose.h: the normalised form of a compose file,
 * each refusal named with its key and line, the host-escape keys, word
 * splitting and durations.
 */
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/core/compose.h"
#include "unit.h"

/* "line L: message" of details' entry for field ({field, message, line,
 * column}: yaml_detail), or NULL. */
static const char *
msg(const cJSON *details, const char *field)
{
	static char  out[1024];
	const cJSON *it;

	cJSON_ArrayForEach(it, details) {
		if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "field")->valuestring, field) != 0)
			continue;
		CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "column")) &&
		    cJSON_GetArraySize(it) == 4, "a detail is {field, message, line, column}");
		(void)snprintf(out, sizeof(out), "line %d: %s",
		    cJSON_GetObjectItemCaseSensitive(it, "line")->valueint,
		    cJSON_GetObjectItemCaseSensitive(it, "message")->valuestring);
		return out;
	}
	return NULL;
}

/* Checks text: NULL expected with field's message containing words. */
static void
refused(const char *text, bool superadmin, const char *field, const char *words)
{
	cJSON      *d = cJSON_CreateArray(), *spec = compose_check(text, strlen(text), superadmin, d);
	const char *m = msg(d, field);

	CHECK(spec == NULL && m != NULL && strstr(m, words) != NULL, field);
	if (m == NULL || strstr(m, words) == NULL) {
		char *t = cJSON_PrintUnformatted(d);

		printf("  got %s\n", t);
		free(t);
	}
	cJSON_Delete(spec);
	cJSON_Delete(d);
}

static void
test_normalised(void)
{
	const char *text =
	    "x-r: &r\n  restart: on-failure:3\n"
	    "services:\n"
	    "  web:\n    <<: *r\n    image: reg.example:5000/web:1\n    ports: ['127.0.0.1:8080:80']\n"
	    "    command: echo 'a b' \"c\\\"d\" e\\ f\n"
	    "    environment: [A=1, B]\n    labels: {team: x, v: 1.10}\n"
	    "    depends_on: {db: {condition: service_healthy}, init: {condition: "
	    "service_completed_successfully}}\n"
	    "    volumes: [{type: volume, source: data, target: /d, read_only: true}]\n"
	    "  db:\n    image: postgres:15\n    healthcheck: {test: pg_isready, interval: 1m30s}\n"
	    "    expose: [5432, '5433/tcp']\n"
	    "  init:\n    image: busybox\n    entrypoint: [sh, -c]\n    user: 1000\n"
	    "volumes:\n  data:\n";
	cJSON       *d = cJSON_CreateArray(), *spec = compose_check(text, strlen(text), false, d);
	const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(spec, "services"), *web, *db, *init;
	char        *t;

	CHECK(spec != NULL && cJSON_GetArraySize(d) == 0, "a good file is normalised");
	if (spec == NULL) {
		t = cJSON_PrintUnformatted(d);
		printf("  %s\n", t);
		free(t);
		cJSON_Delete(d);
		return;
	}
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(spec, "web_service")->valuestring, "web") == 0 &&
	    cJSON_GetObjectItemCaseSensitive(spec, "port")->valuedouble == 80, "web service and port");
	db = cJSON_GetArrayItem(svcs, 0);
	init = cJSON_GetArrayItem(svcs, 1);
	web = cJSON_GetArrayItem(svcs, 2);
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(db, "name")->valuestring, "db") == 0 &&
	    strcmp(cJSON_GetObjectItemCaseSensitive(init, "name")->valuestring, "init") == 0 &&
	    strcmp(cJSON_GetObjectItemCaseSensitive(web, "name")->valuestring, "web") == 0,
	    "dependencies first");
	t = cJSON_PrintUnformatted(web);
	CHECK(strstr(t, "\"command\":[\"echo\",\"a b\",\"c\\\"d\",\"e f\"]") != NULL, t);
	CHECK(strstr(t, "\"environment\":{\"A\":\"1\"}") != NULL, "list env; B left to the store");
	CHECK(strstr(t, "\"restart\":\"on-failure\"") != NULL, "merge key and on-failure:N");
	CHECK(strstr(t, "{\"name\":\"data\",\"mount_path\":\"/d\",\"read_only\":true}") != NULL,
	    "long-form named volume");
	CHECK(strstr(t, "\"host\":null") != NULL, "nothing for the engine's host config");
	CHECK(strstr(t, "\"v\":\"1.10\"") != NULL, "a label's number as written");
	free(t);
	t = cJSON_PrintUnformatted(db);
	CHECK(strstr(t, "\"test\":[\"/bin/sh\",\"-c\",\"pg_isready\"]") != NULL &&
	    strstr(t, "\"interval_ms\":90000") != NULL && strstr(t, "\"retries\":3") != NULL &&
	    strstr(t, "\"expose\":[5432,5433]") != NULL, t);
	free(t);
	t = cJSON_PrintUnformatted(init);
	CHECK(strstr(t, "\"user\":\"1000\"") != NULL && strstr(t, "\"entrypoint\":[\"sh\",\"-c\"]"),
	    t);
	free(t);
	cJSON_Delete(spec);
	cJSON_Delete(d);
}

static void
test_refusals(void)
{
	refused("services:\n  web:\n    image: a\n    build: .\n", false, "compose.services.web.build",
	    "line 4: build is not supported");
	refused("services:\n  web:\n    image: a\n    privileged: true\n", false,
	    "compose.services.web.privileged", "line 4: privileged is refused");
	refused("services:\n  web:\n    image: a\n    volumes: ['./x:/x']\n", false,
	    "compose.services.web.volumes", "host paths are refused");
	refused("services:\n  web:\n    image: a\n    volumes: ['./x:/x']\n", true,
	    "compose.services.web.volumes", "must be absolute");
	refused("services:\n  web:\n    image: a\n    volumes: ['/x']\n", false,
	    "compose.services.web.volumes", "anonymous volumes");
	refused("services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n"
	    "    depends_on: [c]\n  c:\n    image: c\n    depends_on: [a]\n", false,
	    "compose.services.a.depends_on", "cycle: a -> b -> c -> a");
	refused("services:\n  web:\n    image: a\n    ports: [80, 81]\n", false,
	    "compose.services.web.ports", "one port");
	refused("services:\n  web:\n    image: a\n    ports: ['53/udp']\n", false,
	    "compose.services.web.ports", "tcp");
	refused("services:\n  web:\n    image: a\n    healthcheck: {test: x, interval: soon}\n", false,
	    "compose.services.web.healthcheck", "duration");
	refused("services:\n  web:\n    image: a\n    labels: {launcher.app: x}\n", false,
	    "compose.services.web.labels", "platform's");
	refused("services:\n  web:\n    image: a\n    restart: sometimes\n", false,
	    "compose.services.web.restart", "must be no");
	refused("services:\n  web:\n    image: 'a b'\n", false, "compose.services.web.image",
	    "image reference");
	refused("secrets: {}\nservices:\n  web:\n    image: a\n", false, "compose.secrets", "line 1");
	refused("services:\n  db-main-0123abcd:\n    image: a\n", false,
	    "compose.services.db-main-0123abcd", "must not start with db-");
	refused("services:\n  lnchr-x:\n    image: a\n", false, "compose.services.lnchr-x",
	    "must not start with db- or lnchr-");
	refused("services:\n  web:\n    image: a\n    healthcheck: {test: x, interval: 500ms}\n", false,
	    "compose.services.web.healthcheck", "interval must be at least 1s");
	refused("services:\n  web:\n    image: a\n    healthcheck: {test: x, timeout: 0.2s}\n", false,
	    "compose.services.web.healthcheck", "timeout must be at least 1s");
	refused("services:\n  web:\n    image: a\n    volumes: ['data:/d']\nvolumes:\n  Data:\n",
	    false, "compose.services.web.volumes", "must be declared");
	refused("services:\n  web:\n    image: a\n    volumes: ['~/x:/x']\n", false,
	    "compose.services.web.volumes", "host paths are refused");
	refused("services:\n  web:\n    image: a\n    volumes: [{type: bind, source: /x, target: /x}]\n",
	    false, "compose.services.web.volumes", "refused");
	refused("services: [a]\n", false, "compose.services", "mapping");
	refused("services:\n  web:\n    image: a\n    command: \"echo 'x\"\n", false,
	    "compose.services.web.command", "unterminated");
	refused("{services: {web: {image: a}}, services: {}}", false, "compose", "not valid YAML");
	refused("volumes:\n  data: {driver: nfs}\nservices:\n  web:\n    image: a\n", false,
	    "compose.volumes.data", "plain named volumes");
}

static void
test_superadmin(void)
{
	const char *text = "services:\n  web:\n    image: a\n    privileged: true\n    network_mode: host\n"
	    "    cap_add: [SYS_ADMIN]\n    devices: ['/dev/fuse']\n    pid: host\n"
	    "    sysctls: [net.ipv4.ip_forward=1]\n    volumes: ['/srv:/srv:ro']\n";
	cJSON *d = cJSON_CreateArray(), *spec = compose_check(text, strlen(text), true, d);
	char  *t = spec ? cJSON_PrintUnformatted(spec) : NULL;

	CHECK(t != NULL && strstr(t, "\"Privileged\":true") && strstr(t, "\"NetworkMode\":\"host\"") &&
	    strstr(t, "\"CapAdd\":[\"SYS_ADMIN\"]") &&
	    strstr(t, "{\"PathOnHost\":\"/dev/fuse\",\"PathInContainer\":\"/dev/fuse\","
	    "\"CgroupPermissions\":\"rwm\"}") && strstr(t, "\"PidMode\":\"host\"") &&
	    strstr(t, "\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}") &&
	    strstr(t, "\"Binds\":[\"/srv:/srv:ro\"]"), t ? t : "superadmin's file refused");
	free(t);
	cJSON_Delete(spec);
	cJSON_Delete(d);
}

static void
test_words_and_durations(void)
{
	cJSON *w = compose_split_words("  a  'b c'd \"e\\\\f\" \\$g ");
	char  *t = w ? cJSON_PrintUnformatted(w) : NULL;

	CHECK(t != NULL && strcmp(t, "[\"a\",\"b cd\",\"e\\\\f\",\"$g\"]") == 0, t ? t : "split");
	free(t);
	cJSON_Delete(w);
	CHECK(compose_split_words("'open") == NULL, "unterminated quote");
	CHECK(compose_duration_ms("1m30s") == 90000 && compose_duration_ms("500ms") == 500 &&
	    compose_duration_ms("1h") == 3600000 && compose_duration_ms("10") == 10000 &&
	    compose_duration_ms("1.5s") == 1500, "durations");
	CHECK(compose_duration_ms("") < 0 && compose_duration_ms("5x") < 0 &&
	    compose_duration_ms("-1s") < 0 && compose_duration_ms("9999h") < 0, "bad durations");
	CHECK(compose_duration_ms("nans") < 0 && compose_duration_ms("infs") < 0 &&
	    compose_duration_ms("1snanms") < 0 && compose_duration_ms("+1s") < 0 &&
	    compose_duration_ms("inf") < 0, "no nan, inf or sign for strtod");
	/* Beyond any long long: refused before the conversion (a fuzzer find;
	 * without the check the two casts wrapped to 0 here). */
	CHECK(compose_duration_ms("1e19ms1e19ms") < 0 && compose_duration_ms("1e30s") < 0 &&
	    compose_duration_ms("17777777777777777777777h") < 0, "durations past a long long");
}

int
main(void)
{
	test_normalised();
	test_refusals();
	test_superadmin();
	test_words_and_durations();
	return unit_done("compose");
}
