/* test_agent_fnshim.c - the functions' runtimes compiled into the agent:
 * the shims and Dockerfiles are conf/functions/'s files byte for byte (the
 * Makefile's generator escapes nothing away), the runtime table, and the
 * handler's name rules and file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fnshim.h"
#include "unit.h"

/* The file's bytes equal s[0..n). */
static int
same_as_file(const char *path, const char *s, size_t n)
{
	FILE  *f = fopen(path, "rb");
	char  *buf;
	size_t got;
	int    same;

	if (f == NULL || (buf = malloc(n + 2)) == NULL) {
		if (f != NULL)
			fclose(f);
		return 0;
	}
	got = fread(buf, 1, n + 1, f);
	fclose(f);
	same = got == n && memcmp(buf, s, n) == 0;
	free(buf);
	return same;
}

int
main(void)
{
	size_t      len = 1;
	const char *s;
	char        file[160];

	CHECK(fn_runtime_ok("node20") && fn_runtime_ok("python3"), "node20 and python3 are runtimes");
	CHECK(!fn_runtime_ok("node18") && !fn_runtime_ok("") && !fn_runtime_ok(NULL), "others are not");
	s = fn_shim("node20", &len);
	CHECK(s != NULL && len == strlen(s) && same_as_file("conf/functions/shim.js", s, len),
	    "node20's shim is conf/functions/shim.js");
	s = fn_shim("python3", &len);
	CHECK(s != NULL && len == strlen(s) && same_as_file("conf/functions/shim.py", s, len),
	    "python3's shim is conf/functions/shim.py");
	CHECK(fn_shim("ruby", &len) == NULL && len == 0, "no shim for an unknown runtime");
	CHECK(strcmp(fn_shim_name("node20"), "shim.js") == 0 && strcmp(fn_shim_name("python3"), "shim.py") == 0,
	    "shim names");
	CHECK(fn_shim_name("x") == NULL && fn_dockerfile("x") == NULL, "unknown runtime: NULL");
	s = fn_dockerfile("node20");
	CHECK(s != NULL && same_as_file("conf/functions/Dockerfile.node20", s, strlen(s)),
	    "node20's Dockerfile is conf/functions/Dockerfile.node20");
	CHECK(strstr(s, "FROM ${" FN_DOCKERFILE_BASE_ARG "}") != NULL && strstr(s, "USER 65534") != NULL &&
	    strstr(s, "EXPOSE 8080") != NULL && strstr(s, "CMD [\"node\", \"/launcher/shim.js\"]") != NULL,
	    "node20's Dockerfile: FROM the build arg, non-root, 8080, the shim");
	s = fn_dockerfile("python3");
	CHECK(s != NULL && same_as_file("conf/functions/Dockerfile.python3", s, strlen(s)),
	    "python3's Dockerfile is conf/functions/Dockerfile.python3");
	CHECK(strstr(s, "ARG " FN_DOCKERFILE_HANDLER_ARG) != NULL && strstr(s, "/launcher/shim.py\", \"--check\"") != NULL,
	    "python3's Dockerfile checks the handler at build");

	CHECK(fn_handler_ok("node20", "index.handler") && fn_handler_ok("python3", "index.handler"), "index.handler");
	CHECK(fn_handler_ok("node20", "src/api-v1.$main") && !fn_handler_ok("python3", "main.$x"),
	    "'$' in a JS name only");
	CHECK(fn_handler_ok("python3", "lib/my_mod.run_it"), "a file in a directory");
	CHECK(!fn_handler_ok("node20", "index") && !fn_handler_ok("node20", ".handler") &&
	    !fn_handler_ok("node20", "index.") && !fn_handler_ok("node20", "../x.handler") &&
	    !fn_handler_ok("node20", "/abs.handler") && !fn_handler_ok("node20", "a//b.handler") &&
	    !fn_handler_ok("node20", "a/.h") && !fn_handler_ok("node20", "index.1st") &&
	    !fn_handler_ok("node20", "in dex.handler") && !fn_handler_ok("ruby", "index.handler") &&
	    !fn_handler_ok("node20", NULL), "bad handlers");
	CHECK(fn_handler_file("node20", "index.handler", file, sizeof(file)) == 0 && strcmp(file, "index.js") == 0,
	    "node20: index.js");
	CHECK(fn_handler_file("python3", "lib/app.main", file, sizeof(file)) == 0 && strcmp(file, "lib/app.py") == 0,
	    "python3: lib/app.py");
	CHECK(fn_handler_file("python3", "index.handler", file, 8) == -1, "too small an out");
	CHECK(fn_handler_file("python3", "x", file, sizeof(file)) == -1, "bad handler: -1");
	return unit_done("agent-fnshim");
}
