/* test_dbimages.c - the image table of managed databases: the shipped
 * conf/database-images.conf, the quoting of argv columns, and refusal of
 * bad rows with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dbimages.h"
#include "unit.h"

#define ROW(t, v) t " | " v " | localhost/x/" t ":" v " | 5432 | /var/lib/x | U | P | D | ready -q | client"

static int
parse(const char *text, struct dbimages *t, char *err, size_t errlen)
{
	return dbimages_parse(t, text, strlen(text), "t.conf", err, errlen);
}

static int
argv_is(char **v, const char *const *want)
{
	size_t i = 0;

	for (; want[i] != NULL; i++)
		if (v[i] == NULL || strcmp(v[i], want[i]) != 0)
			return 0;
	return v[i] == NULL;
}

static void
shipped(void)
{
	struct dbimages       t;
	const struct dbimage *d;
	char                  err[512] = "";
	static const char *const pg_ready[] = {"pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", NULL};
	static const char *const mongo_ready[] = {"mongosh", "--quiet", "--eval",
		"db.runCommand({ping: 1})", NULL};

	/* make unit runs from the repository's root */
	CHECK(dbimages_load(&t, "conf/database-images.conf", err, sizeof(err)) == 0, err);
	CHECK(t.n == 5, "five rows shipped");
	d = dbimages_find(&t, "postgres", "15");
	CHECK(d != NULL && strcmp(d->image, "localhost/launcher/postgres:15") == 0 && d->port == 5432 &&
	    strcmp(d->data_path, "/var/lib/postgresql/data") == 0, "postgres 15 row");
	CHECK(d != NULL && strcmp(d->env_user, "POSTGRES_USER") == 0 &&
	    strcmp(d->env_password, "POSTGRES_PASSWORD") == 0 &&
	    strcmp(d->env_database, "POSTGRES_DB") == 0, "postgres env names");
	CHECK(d != NULL && argv_is(d->readiness, pg_ready), "postgres readiness argv");
	CHECK(d != NULL && d->client[0] != NULL && strcmp(d->client[0], "sh") == 0 &&
	    d->client[2] != NULL && strstr(d->client[2], "PGPASSWORD=\"$POSTGRES_PASSWORD\"") != NULL &&
	    d->client[3] == NULL, "postgres client: quoted sh -c word kept whole");
	d = dbimages_find(&t, "mysql", "10.11");
	CHECK(d != NULL && strcmp(d->image, "localhost/launcher/mysql:10.11") == 0 && d->port == 3306 &&
	    strcmp(d->readiness[0], "mysqladmin") == 0, "mysql 10.11 row");
	d = dbimages_find(&t, "redis", "7");
	CHECK(d != NULL && d->env_user == NULL && d->env_database == NULL &&
	    strcmp(d->env_password, "REDIS_PASSWORD") == 0 && strcmp(d->data_path, "/data") == 0,
	    "redis: no user, no database");
	d = dbimages_find(&t, "mongodb", "7");
	CHECK(d != NULL && strcmp(d->image, "docker.io/library/mongo:7") == 0 && d->port == 27017 &&
	    strcmp(d->env_user, "MONGO_INITDB_ROOT_USERNAME") == 0, "mongodb 7 row");
	CHECK(d != NULL && argv_is(d->readiness, mongo_ready), "mongodb readiness: mongosh ping");
	d = dbimages_find(&t, "clickhouse", NULL);
	CHECK(d != NULL && strcmp(d->version, "18.16") == 0 && d->port == 8123 &&
	    strcmp(d->image, "localhost/launcher/clickhouse:18.16") == 0 &&
	    strcmp(d->env_password, "CLICKHOUSE_PASSWORD") == 0 && strcmp(d->readiness[0], "bash") == 0 &&
	    strstr(d->readiness[2], "GET /ping") != NULL && d->readiness[3] == NULL &&
	    strcmp(d->client[0], "launcher-clickhouse-client") == 0, "clickhouse 18.16 row: HTTP ping");
	CHECK(dbimages_find(&t, "postgres", "16") == NULL && dbimages_has_type(&t, "postgres") &&
	    !dbimages_has_type(&t, "oracle"), "unknown version vs unknown type");

	/* the job payload's part of the row */
	{
		cJSON *o = cJSON_CreateObject();
		char  *s;

		d = dbimages_find(&t, "redis", "7");
		CHECK(o != NULL && d != NULL && dbimage_payload(d, o) == 0, "payload built");
		s = cJSON_PrintUnformatted(o);
		CHECK(s != NULL && strcmp(s, "{\"image\":\"localhost/launcher/redis:7\",\"port\":6379,"
		    "\"data_path\":\"/data\",\"readiness\":[\"sh\",\"-c\","
		    "\"redis-cli -h 127.0.0.1 -p 6379 ping 2>&1 | grep -qE 'PONG|NOAUTH'\"],"
		    "\"env_names\":{\"user\":null,\"password\":\"REDIS_PASSWORD\",\"database\":null}}") == 0,
		    s != NULL ? s : "payload printed");
		free(s);
		cJSON_Delete(o);
	}
	dbimages_free(&t);
	CHECK(t.n == 0 && t.rows == NULL, "freed");
}

static void
quoting(void)
{
	struct dbimages t;
	char            err[512] = "";
	static const char *const ready[] = {"a b", "c\"d", "e'f", "g|h", "", "x\\y", "i j", NULL};

	CHECK(parse("# comment\n\n  redis|7|img:1|6379|/data|-|PW|-|'a b' \"c\\\"d\" e\\'f 'g|h' '' "
	    "\"x\\\\y\" i\\ j|cli  \n", &t, err, sizeof(err)) == 0, err);
	CHECK(t.n == 1 && argv_is(t.rows[0].readiness, ready), "quotes, escapes, quoted |, empty word");
	dbimages_free(&t);
	CHECK(parse("", &t, err, sizeof(err)) == 0 && t.n == 0, "empty table is valid");
	CHECK(parse(ROW("postgres", "15") "\n" ROW("postgres", "16") "\n" ROW("mysql", "15"), &t, err,
	    sizeof(err)) == 0 && t.n == 3, "last line without newline");
	CHECK(t.n == 3 && strcmp(dbimages_find(&t, "postgres", "16")->image, "localhost/x/postgres:16") == 0,
	    "find by type and version");
	CHECK(dbimages_find(&t, "postgres", NULL) == &t.rows[0] && dbimages_find(&t, "redis", NULL) == NULL,
	    "version NULL: the type's first row");
	{
		char v[16];

		CHECK(dbimages_versions(&t, "postgres", v, sizeof(v)) == 0 && strcmp(v, "15, 16") == 0,
		    "versions listed");
		CHECK(dbimages_versions(&t, "redis", v, sizeof(v)) == 0 && v[0] == '\0', "no versions");
		CHECK(dbimages_versions(&t, "postgres", v, 5) == -1 && strcmp(v, "15") == 0,
		    "versions truncated to whole ones");
	}
	dbimages_free(&t);
}

static void
refused(void)
{
	static const struct { const char *text, *err; } bad[] = {
		{"# x\n" ROW("oracle", "1") "\n", "t.conf:2: unknown type 'oracle'"},
		{ROW("postgres", "15") "\n" ROW("postgres", "15") "\n", "t.conf:2: postgres 15 is listed twice"},
		{ROW("postgres", "1 5") "\n", "t.conf:1: the version must be one word"},
		{ROW("postgres", "-15") "\n", "t.conf:1: bad version '-15'"},
		{"redis|7|img|6379|/data|-|PW|-|ping\n", "t.conf:1: 9 columns, expected 10"},
		{"redis|7|img|6379|/data|-|PW|-|ping|cli|x\n", "t.conf:1: more than 10 columns"},
		{"redis|7|img|6379|/data|-|PW|-||cli\n", "t.conf:1: the readiness argv is empty"},
		{"redis|7|img|6379|/data|-|PW|-|ping|\n", "t.conf:1: the client argv is empty"},
		{"redis|7|img|0|/data|-|PW|-|ping|cli\n", "t.conf:1: bad port '0'"},
		{"redis|7|img|65536|/data|-|PW|-|ping|cli\n", "t.conf:1: bad port '65536'"},
		{"redis|7|img|6379x|/data|-|PW|-|ping|cli\n", "t.conf:1: bad port '6379x'"},
		{"redis|7|img|6379|data|-|PW|-|ping|cli\n", "t.conf:1: bad data path 'data'"},
		{"redis|7|img|6379|/|-|PW|-|ping|cli\n", "t.conf:1: bad data path '/'"},
		{"redis|7|img|6379|/a/../b|-|PW|-|ping|cli\n", "t.conf:1: bad data path"},
		{"redis|7|img|6379|/a:b|-|PW|-|ping|cli\n", "t.conf:1: bad data path"},
		{"redis|7|img|6379|/data|-|-|-|ping|cli\n", "t.conf:1: bad password env '-' (required)"},
		{"redis|7|img|6379|/data|1X|PW|-|ping|cli\n", "t.conf:1: bad user env '1X'"},
		{"redis|7|img|6379|/data|PW|PW|-|ping|cli\n", "t.conf:1: the password env repeats the user env"},
		{"redis|7|im g|6379|/data|-|PW|-|ping|cli\n", "t.conf:1: the image must be one word"},
		{"redis|7|im$g|6379|/data|-|PW|-|ping|cli\n", "t.conf:1: bad image 'im$g'"},
		{"redis|7|img|6379|/data|-|PW|-|'ping|cli\n", "t.conf:1: unterminated ' quote in the readiness argv"},
		{"redis|7|img|6379|/data|-|PW|-|ping|\"cli\n", "t.conf:1: unterminated \" quote in the client argv"},
		{"redis|7|img|6379|/data|-|PW|-|ping|cli \\", "t.conf:1: a backslash ends the line"},
		{"just words\n", "t.conf:1: 1 columns, expected 10"},
	};
	struct dbimages t;
	char            err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		CHECK(parse(bad[i].text, &t, err, sizeof(err)) == -1 && strstr(err, bad[i].err) == err &&
		    t.n == 0 && t.rows == NULL, bad[i].err);
		if (strstr(err, bad[i].err) != err)
			printf("  got: %s\n", err);
	}
	{
		/* a line past the ceiling, a NUL byte, too many rows, a missing file */
		char  *big = malloc(70 * 100 + 5000);
		size_t n = 0;

		if (big == NULL)
			abort();
		memset(big, 'x', 4097);
		big[4097] = '\n';
		CHECK(dbimages_parse(&t, big, 4098, "t.conf", err, sizeof(err)) == -1 &&
		    strcmp(err, "t.conf:1: line too long") == 0, "line too long");
		CHECK(dbimages_parse(&t, "a\0b", 3, "t.conf", err, sizeof(err)) == -1 &&
		    strstr(err, "NUL byte") != NULL, "NUL byte");
		for (int i = 0; i <= DBIMAGES_MAX; i++)
			n += (size_t)snprintf(big + n, 100, "redis|v%d|img|1|/d|-|P|-|r|c\n", i);
		CHECK(dbimages_parse(&t, big, n, "t.conf", err, sizeof(err)) == -1 &&
		    strcmp(err, "t.conf:65: more than 64 rows") == 0, "row ceiling");
		free(big);
	}
	CHECK(dbimages_load(&t, "/nonexistent/database-images.conf", err, sizeof(err)) == -1 &&
	    strcmp(err, "/nonexistent/database-images.conf: cannot open") == 0, "missing file");
}

int
main(void)
{
	shipped();
	quoting();
	refused();
	return unit_done("dbimages");
}
