/* test_config.c - the declarative config table: defaults, values, and
 * rejection of unknown keys, bad values and duplicates with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "unit.h"

static int
load(const char *text, struct config *c, char *err, size_t errlen)
{
	char  path[] = "/tmp/lnchr-conf-XXXXXX";
	int   fd = mkstemp(path), rc;
	FILE *f;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	rc = config_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

int
main(void)
{
	static const struct { const char *text; const char *err; } bad[] = {
		{"workers = 2\nbogus = 1\n", ":2: unknown key 'bogus'"},
		{"workers = 0\n", ":1: bad value for 'workers'"},
		{"workers = 65\n", ":1: bad value for 'workers'"},
		{"workers = two\n", ":1: bad value for 'workers'"},
		{"workers = 2\nworkers = 3\n", ":2: duplicate key 'workers'"},
		{"# comment\n\njust words\n", ":3: expected key = value"},
		{"log_level = loud\n", ":1: bad value for 'log_level'"},
		{"bench_routes = maybe\n", ":1: bad value for 'bench_routes'"},
		{"socket_mode = 0999\n", ":1: bad value for 'socket_mode'"},
		{"password_hash_cost = none\n", ":1: bad value for 'password_hash_cost'"},
	};
	struct config c;
	char          err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = load(bad[i].text, &c, err, sizeof(err));

		CHECK(rc == -1 && strstr(err, bad[i].err) != NULL, bad[i].err);
	}
	CHECK(load("# all defaults\n", &c, err, sizeof(err)) == 0, "empty file loads");
	CHECK(c.workers == 2 && c.max_body_bytes == 1048576 && !c.bench_routes, "defaults");
	CHECK(load("workers = 8\n database_url = \"host=/x port=1 dbname=y\"  \n"
	    "socket_mode = 0640\nbench_routes = true\n", &c, err, sizeof(err)) == 0, "values load");
	CHECK(c.workers == 8 && c.socket_mode == 0640 && c.bench_routes, "values parsed");
	CHECK(strcmp(c.database_url, "host=/x port=1 dbname=y") == 0, "quoted value with spaces");
	CHECK(config_load(&c, "/nonexistent/launcher.conf", err, sizeof(err)) == -1 &&
	    strstr(err, "cannot open") != NULL, "missing file");
	return unit_done("config");
}
