/* fuzz_compose.c - the compose file checker (core/compose.c) on arbitrary
 * text, as a user and as a superadmin.  Beyond the sanitizers, it checks the
 * contract: a refusal has at least one {field, message} entry, every field
 * starts with "compose"; an accepted file has its services in an order where
 * each comes after what it depends on, and at most one service with a port. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/compose.h"

static void
check(const uint8_t *data, size_t size, bool superadmin)
{
	cJSON       *d = cJSON_CreateArray(), *spec = compose_check((const char *)data, size,
	    superadmin, d);
	const cJSON *it, *svcs;
	int          ports = 0;

	if (spec == NULL) {
		if (cJSON_GetArraySize(d) == 0)
			abort();
		cJSON_ArrayForEach(it, d) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "field");

			if (!cJSON_IsString(f) || strncmp(f->valuestring, "compose", 7) != 0 ||
			    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "message")))
				abort();
		}
		cJSON_Delete(d);
		return;
	}
	svcs = cJSON_GetObjectItemCaseSensitive(spec, "services");
	cJSON_ArrayForEach(it, svcs) {
		const cJSON *dep;

		ports += cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "port"));
		cJSON_ArrayForEach(dep, cJSON_GetObjectItemCaseSensitive(it, "depends_on")) {
			const char  *name = cJSON_GetObjectItemCaseSensitive(dep, "service")->valuestring;
			const cJSON *before;
			bool         seen = false;

			for (before = svcs->child; before != it; before = before->next)
				seen = seen || strcmp(cJSON_GetObjectItemCaseSensitive(before, "name")->valuestring,
				    name) == 0;
			if (!seen)
				abort();
		}
	}
	if (ports > 1 || cJSON_GetArraySize(d) != 0)
		abort();
	cJSON_Delete(spec);
	cJSON_Delete(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, false);
	check(data, size, true);
	return 0;
}
