/* fuzz_template.c - template YAML from API bodies (core/template.c
 * template_check, with a clash lookup).  Beyond the sanitizers, it checks
 * the contract: exactly one of plan and errors; every error names a field
 * and a message, with line and column >= 0, in the order of the text; a
 * plan has its three parts and only the four kinds of resources. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/template.h"

static bool
taken(const char *kind, const char *name, void *arg)
{
	(void)arg;
	return strcmp(kind, "database") == 0 && strcmp(name, "taken") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_ctx ctx = {taken, NULL};
	cJSON              *errors = NULL, *plan;
	const cJSON        *e, *r;
	int                 last = 0;

	plan = template_check((const char *)data, size, &ctx, &errors);
	if ((plan == NULL) == (errors == NULL))
		abort();
	cJSON_ArrayForEach(e, errors) {
		const cJSON *f = cJSON_GetObjectItem(e, "field"), *m = cJSON_GetObjectItem(e, "message");
		const cJSON *l = cJSON_GetObjectItem(e, "line"), *c = cJSON_GetObjectItem(e, "column");

		if (!cJSON_IsString(f) || !cJSON_IsString(m) || m->valuestring[0] == '\0' ||
		    !cJSON_IsNumber(l) || !cJSON_IsNumber(c) || l->valueint < last || c->valueint < 0)
			abort();
		last = l->valueint;
	}
	if (plan != NULL) {
		if (!cJSON_IsObject(cJSON_GetObjectItem(plan, "metadata")) ||
		    !cJSON_IsArray(cJSON_GetObjectItem(plan, "variables")))
			abort();
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(plan, "resources")) {
			const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(r, "kind"));

			if (k == NULL || (strcmp(k, "volume") && strcmp(k, "database") &&
			    strcmp(k, "bucket") && strcmp(k, "application")))
				abort();
		}
	}
	cJSON_Delete(plan);
	cJSON_Delete(errors);
	return 0;
}
