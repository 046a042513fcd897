/* fuzz_body.c - JSON bodies through a declared field table (every type,
 * nested tables, the item check of an array and a rule across fields). */
#include <stdint.h>
#include <string.h>

#include "core/json.h"
#include "harness.h"

static const char *
check(const cJSON *v)
{
	return v->valuestring[0] == 'x' ? "no x" : NULL;
}

static const char *
key(const char *k)
{
	return k[0] == '_' ? "no _" : NULL;
}

static const char *
item(const cJSON *it, const cJSON *all, const char **sub)
{
	*sub = all->child == it ? NULL : "p";
	return cJSON_GetArraySize(it) > 2 ? "too many" : NULL;
}

static void
rule(struct req *r, const struct field_val *v, cJSON *details)
{
	if (v[0].present && v[10].present && strcmp(v[0].s, v[10].s) == 0)
		json_detail(details, "e", "must differ from name");
}

static const char *const colours[] = {"red", "blue", NULL};
static const struct field inner[] = {
	{"p", F_STRING, true, false, 1, 8, NULL},
	{"q", F_ENUM, false, true, 0, 0, NULL, .options = colours},
};
static const struct field value[] = {
	{"", F_STRING, false, true, 0, 16, NULL},
};

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
	{"e", F_ENUM, false, false, 0, 0, NULL, .options = colours},
	{"nested", F_OBJECT, false, true, 0, 0, NULL, FIELD_SUB(inner)},
	{"items", F_ARRAY, false, true, 0, 5, NULL, FIELD_SUB(inner), .item_check = item},
	{"ids", F_UUIDS, false, true, 0, 5, NULL},
	{"map", F_MAP, false, true, 0, 8, NULL, .key_check = key, FIELD_SUB(value)},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char            *env[] = {"REQUEST_METHOD=POST", "CONTENT_TYPE=application/json", NULL};
	struct req       r;
	struct field_val v[sizeof(fields) / sizeof(*fields)];

	fuzz_req(&r, env);
	fuzz_body(&r, data, size);
	if (http_read_json(&r, true) == ERR_OK)
		(void)JSON_FIELDS_RULE(&r, fields, v, rule);
	return 0;
}
