/*
 * fnshim.c - the functions' runtimes: their shims and Dockerfiles (the
 * strings of $(BUILD)/gen/fnshim_data.c, which the Makefile generates from
 * conf/functions/ with fcgi/agent/fnshim_gen.awk) and the handler's name
 * rules.  Contracts in fnshim.h.
 */
#include "fnshim.h"

#include <string.h>

#include "../core/util.h"

/* $(BUILD)/gen/fnshim_data.c */
extern const char   fn_gen_shim_js[], fn_gen_shim_py[];
extern const char   fn_gen_Dockerfile_node20[], fn_gen_Dockerfile_python3[];
extern const size_t fn_gen_shim_js_len, fn_gen_shim_py_len;

/* One row per runtime: its name, shim file, shim text and Dockerfile, and the handler file's suffix. */
struct fn_runtime {
	const char   *name;
	const char   *shim_name;
	const char   *shim;
	const size_t *shim_len;
	const char   *dockerfile;
	const char   *suffix;
	bool          dollar;	/* '$' may be in the handler's function name (JS identifiers) */
};

static const struct fn_runtime RUNTIMES[] = {
	{"node20", "shim.js", fn_gen_shim_js, &fn_gen_shim_js_len, fn_gen_Dockerfile_node20, ".js", true},
	{"python3", "shim.py", fn_gen_shim_py, &fn_gen_shim_py_len, fn_gen_Dockerfile_python3, ".py", false},
};

#define FN_HANDLER_FILE_MAX 128
#define FN_HANDLER_NAME_MAX 64

static const struct fn_runtime *
runtime_get(const char *runtime)
{
	if (runtime == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(RUNTIMES) / sizeof(RUNTIMES[0]); i++)
		if (strcmp(RUNTIMES[i].name, runtime) == 0)
			return &RUNTIMES[i];
	return NULL;
}

bool
fn_runtime_ok(const char *runtime)
{
	return runtime_get(runtime) != NULL;
}

const char *
fn_shim(const char *runtime, size_t *len)
{
	const struct fn_runtime *rt = runtime_get(runtime);

	if (len != NULL)
		*len = rt != NULL ? *rt->shim_len : 0;
	return rt != NULL ? rt->shim : NULL;
}

const char *
fn_shim_name(const char *runtime)
{
	const struct fn_runtime *rt = runtime_get(runtime);

	return rt != NULL ? rt->shim_name : NULL;
}

const char *
fn_dockerfile(const char *runtime)
{
	const struct fn_runtime *rt = runtime_get(runtime);

	return rt != NULL ? rt->dockerfile : NULL;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* file part: segments of [A-Za-z0-9_-] joined by '/', none empty or dot-only. */
static bool
file_ok(const char *s, size_t n)
{
	size_t seg = 0;

	if (n == 0 || n > FN_HANDLER_FILE_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (seg == 0)
				return false;
			seg = 0;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
		seg++;
	}
	return true;
}

static bool
name_ok(const char *s, bool dollar)
{
	size_t n = strlen(s);

	if (n == 0 || n > FN_HANDLER_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && !(dollar && s[i] == '$'))
			return false;
	return true;
}

bool
fn_handler_ok(const char *runtime, const char *handler)
{
	const struct fn_runtime *rt = runtime_get(runtime);
	const char              *dot;

	if (rt == NULL || handler == NULL || (dot = strrchr(handler, '.')) == NULL)
		return false;
	return file_ok(handler, (size_t)(dot - handler)) && name_ok(dot + 1, rt->dollar);
}

int
fn_handler_file(const char *runtime, const char *handler, char *out, size_t outlen)
{
	const struct fn_runtime *rt = runtime_get(runtime);

	if (rt == NULL || !fn_handler_ok(runtime, handler))
		return -1;
	return util_snprintf(out, outlen, "%.*s%s", (int)(strrchr(handler, '.') - handler), handler,
	    rt->suffix) < 0 ? -1 : 0;
}
