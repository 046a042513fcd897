/*
 * test_data_layer.c - the data layer (json, perm, db) never answers: a
 * refusal comes back as enum err with its detail recorded in the request
 * (r->fail), which the router alone turns into the answer.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/http.h"
#include "core/json.h"
#include "core/perm.h"
#include "unit.h"

static const struct field fields[] = {
	{"name", F_STRING, true, false, 1, 10, NULL},
	{"count", F_INT, false, false, 0, 5, NULL},
};

int
main(void)
{
	struct arena     a;
	struct req       r;
	struct field_val v[2];
	const cJSON     *d;

	arena_init(&a, 4096);
	memset(&r, 0, sizeof(r));
	r.a = &a;
	r.json = cJSON_Parse("{\"count\": 9}");
	CHECK(json_fields(&r, fields, 2, v) == ERR_BAD_REQUEST, "bad body is ERR_BAD_REQUEST");
	CHECK(!r.responded, "json_fields does not answer");
	CHECK(r.fail.e == ERR_BAD_REQUEST && r.fail.message != NULL &&
	    strcmp(r.fail.message, "invalid request body") == 0, "json_fields records the message");
	d = r.fail.details;
	CHECK(cJSON_GetArraySize(d) == 2 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "field")->valuestring, "name") == 0 &&
	    strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 1), "field")->valuestring, "count") == 0,
	    "json_fields records every bad field as details");
	cJSON_Delete(r.json);

	memset(&r, 0, sizeof(r));
	r.a = &a;
	CHECK(perm_project(&r, "not-a-uuid", CAP_READ) == ERR_NOT_FOUND, "bad project id is 404");
	CHECK(!r.responded && r.fail.e == ERR_NOT_FOUND &&
	    strcmp(r.fail.message, "project not found") == 0, "perm_project records, not answers");
	r.resource = "application";
	CHECK(perm_project(&r, NULL, CAP_WRITE) == ERR_NOT_FOUND && !r.responded &&
	    strcmp(r.fail.message, "application not found") == 0, "the 404 names the route's resource");
	arena_free(&a);
	return unit_done("data-layer");
}
