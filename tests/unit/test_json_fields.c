/* test_json_fields.c - the declared body fields (STYLE rule 2): each field
 * type accepts its values and refuses the others, required and nullable,
 * min/max, the extra check, and every error of a body in one 400 answer. */
#include <string.h>

#include "core/json.h"
#include "core/router.h"
#include "../fuzz/harness.h"
#include "unit.h"

static const char *
no_x(const cJSON *v)
{
	return v->valuestring[0] == 'x' ? "must not start with x" : NULL;
}

static const struct field fields[] = {
	{"name", F_STRING, true, false, 1, 8, json_check_slug},
	{"n", F_INT, false, false, -5, 500, NULL},
	{"x", F_NUMBER, false, true, 0, 100, NULL},
	{"b", F_BOOL, false, false, 0, 0, NULL},
	{"id", F_UUID, false, true, 0, 0, NULL},
	{"email", F_EMAIL, false, false, 0, 0, NULL},
	{"at", F_TIME, false, true, 0, 0, NULL},
	{"tags", F_STRINGS, false, false, 1, 2, NULL},
	{"o", F_OBJECT, false, false, 0, 0, NULL},
	{"s", F_STRING, false, false, 3, 0, no_x},
};
#define NF (sizeof(fields) / sizeof(*fields))

static struct req       r;
static struct field_val v[NF];
static cJSON           *answer;

/* Runs the table on body; the answer's details (NULL when ERR_OK). */
static enum err
run(const char *body)
{
	char    *env[] = {"REQUEST_METHOD=POST", "CONTENT_TYPE=application/json", NULL};
	enum err e;

	cJSON_Delete(answer);
	answer = NULL;
	fuzz_req(&r, env);
	fuzz_body(&r, (const uint8_t *)body, strlen(body));
	if (http_read_json(&r, true) != ERR_OK) {
		printf("test body does not parse: %s\n", body);
		return ERR_INTERNAL;
	}
	/* The data layer records the error; the router answers it. */
	if ((e = JSON_FIELDS(&r, fields, v)) != ERR_OK)
		router_answer(&r, e);
	if (r.held.body != NULL)
		answer = cJSON_Parse(r.held.body);
	return e;
}

/* The message given for field, or NULL. */
static const char *
detail(const char *field)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(err, "details"), *it;

	cJSON_ArrayForEach(it, d) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "field");

		if (cJSON_IsString(f) && strcmp(f->valuestring, field) == 0)
			return cJSON_GetObjectItemCaseSensitive(it, "message")->valuestring;
	}
	return NULL;
}

static int
ndetails(void)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");

	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(err, "details"));
}

/* One bad value of one field: 400 naming that field alone. */
static void
bad(const char *body, const char *field, const char *want_msg)
{
	enum err    e = run(body);
	const char *m = detail(field);

	CHECK(e == ERR_BAD_REQUEST && r.held.status == 400 && ndetails() == 1 && m != NULL &&
	    (want_msg == NULL || strcmp(m, want_msg) == 0), body);
	if (m != NULL && want_msg != NULL && strcmp(m, want_msg) != 0)
		printf("  %s: message '%s', want '%s'\n", field, m, want_msg);
}

static void
good(const char *body)
{
	CHECK(run(body) == ERR_OK && !r.responded, body);
}

int
main(void)
{
	/* the smallest body, and one with every field at a valid value */
	good("{\"name\":\"a\"}");
	CHECK(v[0].present && strcmp(v[0].s, "a") == 0 && !v[1].present && !v[1].null, "values");
	good("{\"name\":\"web-1\",\"n\":-5,\"x\":99.5,\"b\":true,"
	    "\"id\":\"550e8400-e29b-41d4-a716-446655440000\",\"email\":\"a@b.example\","
	    "\"at\":\"2024-01-15T10:30:00.5+02:00\",\"tags\":[\"a\",\"b\"],\"o\":{},\"s\":\"abc\","
	    "\"unknown\":[1,2]}");
	CHECK(v[1].present && v[1].i == -5 && v[3].b && v[9].present && strcmp(v[9].s, "abc") == 0 &&
	    v[8].node != NULL && cJSON_IsObject(v[8].node), "values of every type");
	good("{\"name\":\"a\",\"n\":500,\"x\":0}");
	CHECK(v[1].i == 500, "max is inclusive");
	/* nullable fields take null, and say so */
	good("{\"name\":\"a\",\"x\":null,\"id\":null,\"at\":null}");
	CHECK(v[2].null && !v[2].present && v[4].null && v[6].null, "null recorded");

	/* required, and null where it is not allowed */
	bad("{}", "name", "is required");
	bad("{\"name\":null}", "name", "is required");
	bad("{\"name\":\"a\",\"n\":null}", "n", "must not be null");
	/* strings: type, min, max (bytes), the extra check */
	bad("{\"name\":5}", "name", "must be a string");
	bad("{\"name\":\"\"}", "name", "must not be empty");
	bad("{\"name\":\"abcdefghi\"}", "name", "is too long");
	bad("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", "name", "is too long");
	bad("{\"name\":\"Bad_Name\"}", "name", NULL);
	bad("{\"name\":\"a\",\"s\":\"ab\"}", "s", "is too short");
	bad("{\"name\":\"a\",\"s\":\"xyz\"}", "s", "must not start with x");
	/* integers: type, whole, range */
	bad("{\"name\":\"a\",\"n\":\"1\"}", "n", "must be an integer in range");
	bad("{\"name\":\"a\",\"n\":1.5}", "n", "must be an integer in range");
	bad("{\"name\":\"a\",\"n\":-6}", "n", "must be an integer in range");
	bad("{\"name\":\"a\",\"n\":501}", "n", "must be an integer in range");
	bad("{\"name\":\"a\",\"n\":1e300}", "n", "must be an integer in range");
	/* numbers */
	bad("{\"name\":\"a\",\"x\":100.01}", "x", "must be a number in range");
	bad("{\"name\":\"a\",\"x\":-0.1}", "x", "must be a number in range");
	bad("{\"name\":\"a\",\"x\":true}", "x", "must be a number in range");
	/* booleans */
	bad("{\"name\":\"a\",\"b\":1}", "b", "must be a boolean");
	bad("{\"name\":\"a\",\"b\":\"true\"}", "b", "must be a boolean");
	/* UUID, e-mail, time */
	bad("{\"name\":\"a\",\"id\":\"550e8400-e29b-41d4-a716-44665544000\"}", "id", "must be a UUID");
	bad("{\"name\":\"a\",\"id\":7}", "id", "must be a string");
	bad("{\"name\":\"a\",\"email\":\"not-an-address\"}", "email", "must be an e-mail address");
	bad("{\"name\":\"a\",\"at\":\"2024-01-15 10:30:00Z\"}", "at", "must be an RFC 3339 timestamp");
	bad("{\"name\":\"a\",\"at\":\"2024-01-15T10:30:00\"}", "at", "must be an RFC 3339 timestamp");
	/* arrays of strings: type, items, count */
	bad("{\"name\":\"a\",\"tags\":\"a\"}", "tags", "must be an array of strings");
	bad("{\"name\":\"a\",\"tags\":[\"a\",1]}", "tags", "must be an array of strings");
	bad("{\"name\":\"a\",\"tags\":[]}", "tags", "must have 1 to 2 items");
	bad("{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\"]}", "tags", "must have 1 to 2 items");
	/* objects */
	bad("{\"name\":\"a\",\"o\":[]}", "o", "must be an object");

	/* every error of a body at once, in one 400 envelope */
	CHECK(run("{\"n\":0.5,\"x\":\"1\",\"b\":null,\"id\":\"x\",\"email\":\"x\",\"at\":\"x\","
	    "\"tags\":{},\"o\":1,\"s\":\"\"}") == ERR_BAD_REQUEST, "all bad");
	CHECK(ndetails() == (int)NF, "one detail per bad field");
	for (size_t i = 0; i < NF; i++)
		CHECK(detail(fields[i].name) != NULL, fields[i].name);
	{
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");

		CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(answer, "success")) &&
		    cJSON_IsString(code) && strcmp(code->valuestring, "BAD_REQUEST") == 0,
		    "the error envelope");
	}
	/* nested tables name their fields by path; every problem at once */
	{
		static const char *const colours[] = {"red", "blue", NULL};
		static const struct field item[] = {
			{"path", F_STRING, true, false, 1, 10, NULL},
		};
		static const struct field value[] = {
			{"", F_STRING, false, true, 0, 3, NULL},
		};
		static const struct field outer[] = {
			{"spec", F_OBJECT, true, false, 0, 0, NULL, FIELD_SUB(fields)},
			{"colour", F_ENUM, false, false, 0, 0, NULL, .options = colours},
			{"items", F_ARRAY, false, false, 0, 2, NULL, FIELD_SUB(item)},
			{"ids", F_UUIDS, false, false, 0, 5, NULL},
			{"map", F_MAP, false, false, 0, 2, NULL, FIELD_SUB(value)},
		};
		struct field_val ov[5];
		char        *env[] = {"REQUEST_METHOD=POST", "CONTENT_TYPE=application/json", NULL};
		const char  *body = "{\"spec\":{\"n\":7.5},\"colour\":\"green\","
		    "\"items\":[{\"path\":\"/a\"},{}],\"ids\":[\"nope\"],"
		    "\"map\":{\"A\":\"long value\",\"B\":null}}";
		enum err     e;

		cJSON_Delete(answer);
		fuzz_req(&r, env);
		fuzz_body(&r, (const uint8_t *)body, strlen(body));
		e = http_read_json(&r, true);
		if (e == ERR_OK && (e = JSON_FIELDS(&r, outer, ov)) != ERR_OK)
			router_answer(&r, e);
		answer = r.held.body ? cJSON_Parse(r.held.body) : NULL;
		CHECK(e == ERR_BAD_REQUEST && detail("spec.name") != NULL && detail("spec.n") != NULL,
		    "nested object fields named spec.<field>");
		CHECK(detail("colour") != NULL &&
		    strcmp(detail("colour"), "must be one of red or blue") == 0, "enum message");
		CHECK(detail("items[1].path") != NULL && detail("items[0].path") == NULL,
		    "array items named items[i].<field>");
		CHECK(detail("ids") != NULL, "array of UUIDs");
		CHECK(detail("map.A") != NULL && detail("map.B") == NULL, "map values by key");
		CHECK(ndetails() == 6, "six problems in one answer");
	}
	cJSON_Delete(answer);
	return unit_done("json_fields");
}
