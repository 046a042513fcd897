/*
 * test_agent_pitr.c - pgBackRest's pure parts (fcgi/agent/pitr.h): the
 * repository of a payload (its destination read by the object store layer:
 * local confined under backup_local_root_path's root, S3 with its keys and
 * derived endpoint), the container env and bind mount (no key in anything
 * but the env), and the window from `pgbackrest info --output=json`.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/backup_dest.h"
#include "agent/pitr.h"
#include "core/util.h"
#include "unit.h"

#define TEN "7e4a1c00-aaaa-4bbb-8ccc-dddddddddddd"
#define DB  "0b0e7a52-1111-4222-8333-444455556666"

static char root[PATH_MAX];	/* the local destinations' root of the tests */

static const char *
env(const cJSON *e, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, k));
}

static int
parse(const char *json, struct pitr_repo *r, char *err, size_t n)
{
	cJSON *p = cJSON_Parse(json);
	int    rc = pitr_repo_parse(p, root, TEN, r, err, n);

	/* r points into p: p lives as long as this test process. */
	return rc;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

int
main(void)
{
	struct agent_conf conf;
	struct pitr_repo  r;
	struct app_spec   s;
	struct stat       sb;
	cJSON            *e, *w;
	char              err[512], tmp[] = "/tmp/pitr-test-XXXXXX", base[PATH_MAX], want[PATH_MAX + 200];

	CHECK(mkdtemp(tmp) != NULL && realpath(tmp, base) != NULL, "mkdtemp");
	/* The root is backup_local_root_path's: backup_local_root when set. */
	memset(&conf, 0, sizeof(conf));
	util_snprintf(conf.state_dir, sizeof(conf.state_dir), "%s", base);
	util_snprintf(conf.backup_local_root, sizeof(conf.backup_local_root), "%s/srv", base);
	CHECK(backup_local_root_path(&conf, root, sizeof(root)) == 0 && mkdir(root, 0700) == 0,
	    "root");
	/* Local: <root>/<tenant>/<path>/launcher/pitr/<id>, bind-mounted; no S3 variable. */
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"archive_timeout\":5,"
	    "\"destination\":{\"provider\":\"local\",\"path\":\"team/pg\"}}", &r, err, sizeof(err)) == 0,
	    "local parses");
	util_snprintf(want, sizeof(want), "%s/srv/" TEN "/team/pg/launcher/pitr/" DB, base);
	CHECK(strcmp(r.repo_dir, want) == 0, "local dir");
	CHECK(pitr_repo_dir(&r, err, sizeof(err)) == 0 && stat(want, &sb) == 0 && S_ISDIR(sb.st_mode),
	    "repository directory made");
	memset(&s, 0, sizeof(s));
	e = cJSON_CreateObject();
	CHECK(pitr_container_env(&r, "app", "/var/lib/postgresql/data", true, e, &s, err,
	    sizeof(err)) == 0, "local env");
	CHECK(s.bind_source == r.repo_dir && strcmp(s.bind_target, PITR_REPO_MOUNT) == 0, "bind mount");
	CHECK(strcmp(env(e, "PGBACKREST_REPO1_TYPE"), "posix") == 0 &&
	    strcmp(env(e, "LNCHR_ARCHIVE_TIMEOUT"), "5") == 0 && strcmp(env(e, "LNCHR_PITR"), "1") == 0 &&
	    strcmp(env(e, "PGBACKREST_PG1_USER"), "app") == 0 && env(e, "PGBACKREST_REPO1_S3_KEY") == NULL,
	    "local variables");
	cJSON_Delete(e);
	/* Empty backup_local_root: <state_dir>/backups. */
	{
		cJSON *p = cJSON_Parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\","
		    "\"destination\":{\"provider\":\"local\",\"path\":null}}");
		char   dflt[PATH_MAX];

		conf.backup_local_root[0] = '\0';
		util_snprintf(want, sizeof(want), "%s/backups/" TEN "/launcher/pitr/" DB, base);
		CHECK(backup_local_root_path(&conf, dflt, sizeof(dflt)) == 0 && mkdir(dflt, 0700) == 0 &&
		    pitr_repo_parse(p, dflt, TEN, &r, err, sizeof(err)) == 0 &&
		    strcmp(r.repo_dir, want) == 0 && r.archive_timeout == 60,
		    "state dir default, archive_timeout default");
		cJSON_Delete(p);
	}
	/* Escapes refused: "..", an absolute path, another repo_path. */
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"local\",\"path\":\"a/../../etc\"}}", &r, err, sizeof(err)) != 0, "..");
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"local\",\"path\":\"/etc\"}}", &r, err, sizeof(err)) != 0, "absolute");
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"../x\",\"destination\":"
	    "{\"provider\":\"local\"}}", &r, err, sizeof(err)) != 0, "repo_path");
	/* S3: keys from the claim, only in the env; http refused (pgBackRest speaks HTTPS). */
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"minio\",\"bucket\":\"pitr-b\",\"endpoint\":\"https://s3.example.test:9000/\","
	    "\"region\":\"eu-1\",\"path\":\"pre\",\"url_style\":\"path\",\"access_key\":\"AK\","
	    "\"secret_key\":\"SK-secret\"}}", &r, err, sizeof(err)) == 0, "s3 parses");
	memset(&s, 0, sizeof(s));
	e = cJSON_CreateObject();
	CHECK(pitr_container_env(&r, "app", "/d", false, e, &s, err, sizeof(err)) == 0, "s3 env");
	CHECK(s.bind_source == NULL && env(e, "LNCHR_PITR") == NULL, "no bind, no archiving asked");
	CHECK(strcmp(env(e, "PGBACKREST_REPO1_S3_ENDPOINT"), "s3.example.test") == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_STORAGE_PORT"), "9000") == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_PATH"), "/pre/launcher/pitr/" DB) == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_S3_URI_STYLE"), "path") == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_S3_REGION"), "eu-1") == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_S3_KEY_SECRET"), "SK-secret") == 0, "s3 variables");
	cJSON_Delete(e);
	/* No endpoint: the provider's, as the object store layer derives it. */
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"r2\",\"bucket\":\"pitr-b\",\"account_id\":\"acct1\",\"jurisdiction\":"
	    "\"eu\",\"path\":\"pre/\",\"access_key\":\"AK\",\"secret_key\":\"SK\"}}", &r, err,
	    sizeof(err)) == 0, "r2 parses");
	e = cJSON_CreateObject();
	CHECK(pitr_container_env(&r, "app", "/d", true, e, &s, err, sizeof(err)) == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_S3_ENDPOINT"), "acct1.eu.r2.cloudflarestorage.com") == 0 &&
	    env(e, "PGBACKREST_REPO1_STORAGE_PORT") == NULL &&
	    strcmp(env(e, "PGBACKREST_REPO1_S3_REGION"), "auto") == 0 &&
	    strcmp(env(e, "PGBACKREST_REPO1_PATH"), "/pre/launcher/pitr/" DB) == 0, "r2 endpoint derived");
	cJSON_Delete(e);
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"custom\",\"bucket\":\"pitr-b\",\"endpoint\":\"http://127.0.0.1:7480\","
	    "\"access_key\":\"AK\",\"secret_key\":\"SK\"}}", &r, err, sizeof(err)) == 0, "http parses");
	e = cJSON_CreateObject();
	CHECK(pitr_container_env(&r, "app", "/d", true, e, &s, err, sizeof(err)) != 0 &&
	    strstr(err, "HTTPS") != NULL, "http refused");
	cJSON_Delete(e);
	CHECK(parse("{\"stanza\":\"db\",\"repo_path\":\"launcher/pitr/" DB "\",\"destination\":"
	    "{\"provider\":\"s3\",\"bucket\":\"pitr-b\"}}", &r, err, sizeof(err)) != 0 &&
	    strstr(err, "credentials") != NULL, "s3 without keys");
	/* The window: oldest stop, newest stop and type, archived time when later. */
	w = pitr_window_parse("[{\"name\":\"db\",\"backup\":[{\"type\":\"full\",\"timestamp\":"
	    "{\"start\":1796520000,\"stop\":1796520010}},{\"type\":\"diff\",\"timestamp\":"
	    "{\"start\":1796600000,\"stop\":1796600020}}]}]", 1796600100.5, err, sizeof(err));
	CHECK(w != NULL, "window parses");
	CHECK(w && strncmp(env(w, "earliest"), "2026-12-06T", 11) == 0, "earliest");
	CHECK(w && strcmp(env(w, "backup_type"), "diff") == 0, "newest type");
	CHECK(w && strcmp(env(w, "latest"), env(w, "backup_at")) != 0, "latest from the archiver");
	cJSON_Delete(w);
	w = pitr_window_parse("[{\"name\":\"db\",\"backup\":[{\"type\":\"full\",\"timestamp\":"
	    "{\"stop\":1796520010}}]}]", 0, err, sizeof(err));
	CHECK(w && strcmp(env(w, "latest"), env(w, "backup_at")) == 0, "never archived: the backup's end");
	cJSON_Delete(w);
	w = pitr_window_parse("[{\"name\":\"db\",\"backup\":[]}]", 0, err, sizeof(err));
	CHECK(w && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(w, "earliest")), "no backup: null");
	cJSON_Delete(w);
	CHECK(pitr_window_parse("ERROR: [055]", 0, err, sizeof(err)) == NULL, "not JSON");
	CHECK(nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cleanup");
	return unit_done("agent-pitr");
}
