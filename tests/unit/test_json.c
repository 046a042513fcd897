/* test_json.c - the text JSON writer escapes what JSON requires and its
 * output parses back to the same string (checked with cJSON). */
#include <string.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "unit.h"

int
main(void)
{
	static const char *const cases[] = {
		"", "plain", "quote \" and backslash \\", "new\nline\rcr\ttab", "\x01\x02\x1f ctl",
		"utf-8: \xc3\xa9\xe2\x82\xac \xf0\x9f\x9a\x80", "</script>", "\\u0000 literal",
	};
	struct arena a;

	arena_init(&a, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct buf b;
		cJSON     *j;

		buf_init(&b, &a, 8, 1 << 20);
		json_write_string(&b, cases[i]);
		j = cJSON_Parse(b.data);
		CHECK(buf_ok(&b) && j != NULL && cJSON_IsString(j) &&
		    strcmp(j->valuestring, cases[i]) == 0, cases[i]);
		for (size_t k = 0; k < b.len; k++)
			if ((unsigned char)b.data[k] < 0x20) {
				CHECK(0, "raw control character in output");
				break;
			}
		cJSON_Delete(j);
	}
	{
		struct buf b;

		buf_init(&b, &a, 8, 16);
		buf_adds(&b, "0123456789");
		buf_adds(&b, "0123456789");
		CHECK(!buf_ok(&b) && b.len == 10, "ceiling stops the buffer and says so");
	}
	{
		/* json_bad_strings: the field of each bad string, keys and depth included. */
		static const struct {
			const char *body, *field;	/* field NULL: nothing to report */
		} bodies[] = {
			{"{\"a\":\"x\",\"b\":{\"c\":[1,\"ok\",\"n\\u0000\"]}}", "b.c[2]"},
			{"{\"a\\\"\\u0000\":1}", "(body)"},
			{"{\"a\":\"\\\\u0000\"}", NULL},	/* an escaped backslash, then text */
			{"{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80\"}", NULL},
			{"{\"a\":\"\xc3\"}", "a"},
			{"{\"a\":\"\xe0\x80\xaf\"}", "a"},	/* overlong */
			{"{\"a\":\"\xf4\x90\x80\x80\"}", "a"},	/* above U+10FFFF */
			{"{\"k\":{\"\xff\":\"v\"}}", "k"},
		};

		for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
			cJSON *j = cJSON_Parse(bodies[i].body), *d;
			const cJSON *f;

			d = j ? json_bad_strings(&a, bodies[i].body, strlen(bodies[i].body), j) : NULL;
			f = d ? cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "field") : NULL;
			CHECK(j != NULL && (bodies[i].field == NULL ? d == NULL :
			    (f != NULL && strcmp(f->valuestring, bodies[i].field) == 0)), bodies[i].body);
			cJSON_Delete(d);
			cJSON_Delete(j);
		}
	}
	arena_free(&a);
	return unit_done("json");
}
