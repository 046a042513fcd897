/* fuzz_body.c - JSON bodies through a declared field table (every type). */
#include <stdint.h>

#include "core/json.h"
#include "harness.h"

static const char *
check(const cJSON *v)
{
	return v->valuestring[0] == 'x' ? "no x" : NULL;
}

static const struct field fields[] = {
	{"name", F_STRING, true, false, 1, 63, json_check_slug},
	{"n", F_INT, false, false, -5, 500, NULL},
	{"x", F_NUMBER, false, true, 0, 100, NULL},
	{"b", F_BOOL, false, false, 0, 0, NULL},
	{"id", F_UUID, false, true, 0, 0, NULL},
	{"email", F_EMAIL, false, false, 0, 0, NULL},
	{"at", F_TIME, false, true, 0, 0, NULL},
	{"tags", F_STRINGS, false, false, 0, 4, NULL},
	{"o", F_OBJECT, false, false, 0, 0, NULL},
	{"s", F_STRING, false, false, 0, 10, check},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char            *env[] = {"REQUEST_METHOD=POST", "CONTENT_TYPE=application/json", NULL};
	struct req       r;
	struct field_val v[10];

	fuzz_req(&r, env);
	fuzz_body(&r, data, size);
	if (http_read_json(&r, true) == ERR_OK)
		(void)JSON_FIELDS(&r, fields, v);
	return 0;
}
