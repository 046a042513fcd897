/* fuzz_resolve.c - the reference resolver (core/resolve.c) on arbitrary maps:
 * the input is lines "KEY=VALUE"; a lookup knows db/bucket/fn resources whose
 * name starts with a letter before 'n' (their value repeats the name, so that
 * resources can be long).  Beyond the sanitizers, it checks the contract:
 * return code, errors sorted by key, no value past RESOLVE_MAX_VALUE, a value
 * without "$" unchanged, and every failed key either has its own error or
 * references something. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/resolve.h"

#define MAX_VARS 64

static int
lookup(void *ctx, const char *kind, const char *name, const char *prop, char **out,
    char **why)
{
	size_t len = strlen(name), reps = (size_t)(name[0] % 8) * 4096 + 1;

	(void)ctx;
	if (strcmp(kind, "db") != 0 && strcmp(kind, "bucket") != 0 && strcmp(kind, "fn") != 0) {
		*why = strdup("unknown resource kind");
		return -1;
	}
	if (name[0] >= 'n' || strcmp(prop, "nope") == 0) {
		*why = strdup("no such resource");
		return -1;
	}
	if ((*out = malloc(len * reps + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < reps; i++)
		memcpy(*out + i * len, name, len);
	(*out)[len * reps] = '\0';
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolve_var    vars[MAX_VARS];
	struct resolve_result res;
	char                 *text = malloc(size + 1), *p = text;
	size_t                n = 0;
	int                   rc;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	while (n < MAX_VARS && p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n'), *eq;

		if (nl)
			*nl++ = '\0';
		if ((eq = strchr(p, '=')) != NULL) {
			*eq = '\0';
			vars[n++] = (struct resolve_var){p, eq + 1};
		}
		p = nl;
	}
	rc = resolve_all(vars, n, lookup, NULL, &res);
	if (rc < 0 || rc > 1 || (rc == 0) != (res.nerr == 0))
		abort();
	for (size_t i = 1; i < res.nerr; i++)
		if (strcmp(res.errs[i - 1].key, res.errs[i].key) > 0)
			abort();
	for (size_t i = 0; i < n; i++) {
		bool own = false;

		if (res.values[i] != NULL) {
			if (strlen(res.values[i]) > RESOLVE_MAX_VALUE ||
			    (strchr(vars[i].value, '$') == NULL && strcmp(res.values[i], vars[i].value) != 0))
				abort();
			continue;
		}
		for (size_t e = 0; e < res.nerr; e++)
			own |= strcmp(res.errs[e].key, vars[i].key) == 0;
		if (rc == 0 || (!own && strstr(vars[i].value, "${") == NULL))
			abort();
	}
	resolve_result_free(&res, n);
	free(text);
	return 0;
}
