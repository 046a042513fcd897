/*
 * test_agent_backup.c - the backup jobs' pure parts (fcgi/agent/backup.h):
 * the engine's frame splitter as the backups use it (appspec.h's
 * app_frames, no raw fallback: binary payloads) fed in every split, and the dump,
 * restore and import commands of each database type (secrets only in the
 * env, never in an argv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/appspec.h"
#include "agent/backup.h"
#include "unit.h"

#define PW "Pw0rdAbcdefGhijKlmn12"

struct acc {
	char   out[256], err[256];
	size_t nout, nerr;
	int    stop_after;	/* pieces; 0 = never */
	int    pieces;
};

static int
piece(void *ud, int stream, const unsigned char *p, size_t n)
{
	struct acc *a = ud;

	if (stream == 1) {
		memcpy(a->out + a->nout, p, n);
		a->nout += n;
	} else if (stream == 2) {
		memcpy(a->err + a->nerr, p, n);
		a->nerr += n;
	}
	a->pieces++;
	return a->stop_after > 0 && a->pieces >= a->stop_after ? 7 : 0;
}

static size_t
frame(unsigned char *dst, int stream, const char *s)
{
	size_t n = strlen(s);

	dst[0] = (unsigned char)stream;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (unsigned char)(n >> 24);
	dst[5] = (unsigned char)(n >> 16);
	dst[6] = (unsigned char)(n >> 8);
	dst[7] = (unsigned char)n;
	memcpy(dst + 8, s, n);
	return n + 8;
}

static void
test_demux_every_split(void)
{
	unsigned char buf[512];
	size_t        len = 0;
	bool          all = true;

	len += frame(buf + len, 1, "PGDMP\x01" "binary\ndata");
	len += frame(buf + len, 2, "pg_dump: warning\n");
	len += frame(buf + len, 1, "");
	len += frame(buf + len, 1, "tail");
	/* Every cut into two pieces, and byte by byte. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct app_frames d;
		struct acc        a = {0};

		app_frames_init(&d, false);
		app_frames_feed(&d, buf, cut, piece, &a);
		app_frames_feed(&d, buf + cut, len - cut, piece, &a);
		if (a.nout != strlen("PGDMP\x01" "binary\ndata") + 4 ||
		    memcmp(a.out, "PGDMP\x01" "binary\ndatatail", a.nout) != 0 ||
		    a.nerr != strlen("pg_dump: warning\n"))
			all = false;
	}
	CHECK(all, "frames split anywhere give the same stdout and stderr");
	{
		struct app_frames d;
		struct acc        a = {0};

		app_frames_init(&d, false);
		for (size_t i = 0; i < len; i++)
			app_frames_feed(&d, buf + i, 1, piece, &a);
		CHECK(a.nout == 21 && memcmp(a.out, "PGDMP\x01" "binary\ndatatail", 21) == 0 &&
		    a.nerr == 17, "byte by byte too");
	}
	{
		struct app_frames d;
		struct acc        a = {.stop_after = 1};

		app_frames_init(&d, false);
		CHECK(app_frames_feed(&d, buf, len, piece, &a) == 7 && a.pieces == 1,
		    "a sink's refusal stops the feed and is returned");
	}
	{
		/* No raw fallback: a header cut short by the end is dropped,
		 * not delivered as stdout (it would end up in the dump). */
		struct app_frames d;
		struct acc        a = {0};

		app_frames_init(&d, false);
		CHECK(app_frames_feed(&d, buf, len - 12 + 3, piece, &a) == 0 &&
		    app_frames_end(&d, piece, &a) == 0 && a.nout == 17 && a.nerr == 17 &&
		    a.pieces == 2, "a header cut short at the end: nothing delivered");
	}
}

static bool
argv_has_secret(const cJSON *cmd)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cmd) {
		if (cJSON_IsString(it) && strstr(it->valuestring, PW) != NULL)
			return true;
	}
	return false;
}

static bool
env_has(const cJSON *env, const char *kv)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, env) {
		if (cJSON_IsString(it) && strcmp(it->valuestring, kv) == 0)
			return true;
	}
	return false;
}

static const char *
arg(const cJSON *cmd, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cmd, i));
}

static void
test_commands(void)
{
	static const char *const types[] = {"postgres", "mysql", "redis"};
	static const char *const whats[] = {"dump", "restore", "import"};
	char                     err[256];
	cJSON                   *cmd, *env;
	bool                     clean = true;

	for (size_t t = 0; t < 3; t++)
		for (size_t w = 0; w < 3; w++) {
			int rc = backup_db_cmd(whats[w], types[t], "app", "appdb", PW, 0, &cmd, &env,
			    err, sizeof(err));

			if (strcmp(types[t], "redis") == 0 && strcmp(whats[w], "restore") == 0) {
				CHECK(rc == -1, "a redis restore is staged, not one command");
				continue;
			}
			if (rc != 0 || argv_has_secret(cmd))
				clean = false;
			cJSON_Delete(cmd);
			cJSON_Delete(env);
		}
	CHECK(clean, "every command builds, with no password in its argv");

	CHECK(backup_db_cmd("dump", "postgres", "app", "appdb", PW, 0, &cmd, &env, err,
	    sizeof(err)) == 0, "postgres dump");
	CHECK(strcmp(arg(cmd, 0), "pg_dump") == 0 && strcmp(arg(cmd, 1), "-Fc") == 0,
	    "pg_dump -Fc");
	CHECK(env_has(env, "PGPASSWORD=" PW) && env_has(env, "PGUSER=app") &&
	    env_has(env, "PGDATABASE=appdb"), "user, database and password by the env");
	cJSON_Delete(cmd);
	cJSON_Delete(env);

	CHECK(backup_db_cmd("restore", "postgres", "app", "appdb", PW, 5433, &cmd, &env, err,
	    sizeof(err)) == 0, "postgres restore");
	{
		char *t = cJSON_PrintUnformatted(cmd);

		CHECK(strstr(t, "\"pg_restore\",\"--clean\",\"--if-exists\",\"--single-transaction\","
		    "\"--exit-on-error\"") != NULL, "pg_restore --clean --if-exists, one transaction");
		free(t);
	}
	CHECK(env_has(env, "PGPORT=5433"), "a port given goes by PGPORT");
	cJSON_Delete(cmd);
	cJSON_Delete(env);

	CHECK(backup_db_cmd("dump", "mysql", "app", "appdb", PW, 0, &cmd, &env, err,
	    sizeof(err)) == 0, "mysql dump");
	CHECK(strstr(arg(cmd, 2), "--single-transaction --routines --events") != NULL &&
	    env_has(env, "MYSQL_PWD=" PW), "mariadb-dump --single-transaction --routines --events");
	cJSON_Delete(cmd);
	cJSON_Delete(env);

	CHECK(backup_db_cmd("dump", "redis", NULL, NULL, PW, 0, &cmd, &env, err, sizeof(err)) == 0,
	    "redis dump");
	{
		char *t = cJSON_PrintUnformatted(cmd);

		CHECK(strcmp(t, "[\"redis-cli\",\"--no-auth-warning\",\"--rdb\",\"-\"]") == 0,
		    "redis-cli --rdb - to stdout");
		free(t);
	}
	CHECK(env_has(env, "REDISCLI_AUTH=" PW), "the password by REDISCLI_AUTH");
	cJSON_Delete(cmd);
	cJSON_Delete(env);

	CHECK(backup_db_cmd("import", "redis", NULL, NULL, PW, 0, &cmd, &env, err,
	    sizeof(err)) == 0 && strcmp(arg(cmd, 2), "--pipe") == 0, "redis import: --pipe");
	cJSON_Delete(cmd);
	cJSON_Delete(env);

	CHECK(backup_db_cmd("dump", "mongodb", "a", "b", PW, 0, &cmd, &env, err, sizeof(err)) == -1 &&
	    strstr(err, "mongodb") != NULL && cmd == NULL && env == NULL, "mongodb: refused, named");
	CHECK(backup_db_cmd("dump", "postgres", NULL, "b", PW, 0, &cmd, &env, err,
	    sizeof(err)) == -1, "postgres without a user: refused");
}

int
main(void)
{
	test_demux_every_split();
	test_commands();
	return unit_done("agent-backup");
}
