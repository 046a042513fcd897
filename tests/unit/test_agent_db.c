/*
 * test_agent_db.c - the db.* jobs' pure parts (fcgi/agent/db.h): the
 * payload, the container spec of each type (mongodb included: the same
 * path, from the payload alone), the readiness env, and the rotation
 * commands (no secret in any argv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/ctr.h"
#include "core/util.h"
#include "agent/db.h"
#include "agent/report.h"
#include "unit.h"

#define DB   "0b0e7a52-1111-4222-8333-444455556666"
#define TEN  "7e4a1c00-aaaa-4bbb-8ccc-dddddddddddd"
#define PRJ  "5f3c2b10-9999-4888-8777-666655554444"
#define VOL  "9a8b7c6d-0000-4111-8222-333344445555"
#define PW   "Pw0rdAbcdefGhijKlmn12"
#define NEWPW "NewPw9876zyxwvutsrqp"

struct type_case {
	const char *type, *image, *data_path, *readiness, *names;
	int         port;
};

static const struct type_case types[] = {
	{"postgres", "localhost/launcher/postgres:15", "/var/lib/postgresql/data",
	    "[\"pg_isready\",\"-h\",\"127.0.0.1\"]",
	    "{\"user\":\"POSTGRES_USER\",\"password\":\"POSTGRES_PASSWORD\",\"database\":\"POSTGRES_DB\"}",
	    5432},
	{"mysql", "localhost/launcher/mysql:10.11", "/var/lib/mysql",
	    "[\"mysqladmin\",\"ping\",\"-h\",\"127.0.0.1\"]",
	    "{\"user\":\"MYSQL_USER\",\"password\":\"MYSQL_PASSWORD\",\"database\":\"MYSQL_DATABASE\"}",
	    3306},
	{"redis", "localhost/launcher/redis:7", "/data", "[\"redis-cli\",\"ping\"]",
	    "{\"user\":null,\"password\":\"REDIS_PASSWORD\",\"database\":null}", 6379},
	{"mongodb", "mongo:7", "/data/db",
	    "[\"mongosh\",\"--quiet\",\"--eval\",\"db.runCommand({ping:1})\"]",
	    "{\"user\":\"MONGO_INITDB_ROOT_USERNAME\",\"password\":\"MONGO_INITDB_ROOT_PASSWORD\","
	    "\"database\":\"MONGO_INITDB_DATABASE\"}", 27017},
	{"clickhouse", "localhost/launcher/clickhouse:18.16", "/var/lib/clickhouse",
	    "[\"bash\",\"-c\",\"exec 3<>/dev/tcp/127.0.0.1/8123\"]",
	    "{\"user\":\"CLICKHOUSE_USER\",\"password\":\"CLICKHOUSE_PASSWORD\","
	    "\"database\":\"CLICKHOUSE_DB\"}", 8123},
};

static cJSON *
payload(const struct type_case *t, bool public, const char *kind)
{
	char   text[4096];
	cJSON *p;

	snprintf(text, sizeof(text), "{\"database_id\":\"" DB "\",\"tenant_id\":\"" TEN "\","
	    "\"project_id\":\"" PRJ "\",\"name\":\"main\",\"type\":\"%s\",\"version\":\"x\","
	    "\"image\":\"%s\",\"port\":%d,\"data_path\":\"%s\",\"readiness\":%s,\"env_names\":%s,"
	    "\"db_user\":\"app\",\"db_name\":\"appdb\",\"internal_host\":\"db-main-0b0e7a52\","
	    "\"network\":\"lnchr-net-" PRJ "\",\"volume\":\"lnchr-vol-" VOL "\",\"volume_id\":\"" VOL
	    "\",\"public\":%s,\"cpu_limit\":0.5,\"memory_limit\":268435456,\"password\":\"" PW "\"%s}",
	    t->type, t->image, t->port, t->data_path, t->readiness, t->names,
	    public ? "true" : "false",
	    strcmp(kind, "db.rotate_password") == 0 ? ",\"new_password\":\"" NEWPW "\"" : "");
	p = cJSON_Parse(text);
	if (p == NULL)
		printf("bad test payload: %s\n", text);
	return p;
}

/* The create body of a type's container, as text (caller frees). */
static char *
body_of(const struct type_case *t, bool public, const char *host_ip)
{
	struct db_spec  d;
	struct app_spec s;
	cJSON          *p = payload(t, public, "db.provision"), *env = NULL, *b;
	char            err[1024], *text = NULL;

	if (db_spec_parse(p, "db.provision", &d, err, sizeof(err)) != 0) {
		CHECK(0, err);
		cJSON_Delete(p);
		return NULL;
	}
	if (db_container_spec(&d, host_ip, &s, &env) == 0 &&
	    (b = ctr_create_body(&s, "sha256:feed", 0, 20000, 4096)) != NULL) {
		text = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
	}
	cJSON_Delete(env);
	cJSON_Delete(p);
	return text;
}

static void
test_container_spec_each_type(void)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		const struct type_case *t = &types[i];
		char  want[512], *text = body_of(t, false, "127.0.0.1");
		cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(doc, "Labels"), *it;
		bool  labels_clean = labels != NULL;

		CHECK(text != NULL, t->type);
		if (text == NULL)
			continue;
		/* Credentials in env, under the table's names. */
		snprintf(want, sizeof(want), "=" PW "\"");
		CHECK(strstr(text, want) != NULL, "the password is in the env");
		if (strcmp(t->type, "redis") != 0) {
			CHECK(strstr(text, "=app\"") != NULL && strstr(text, "=appdb\"") != NULL,
			    "user and database in the env");
		} else
			CHECK(strstr(text, "=app\"") == NULL, "redis: no user variable when it has none");
		/* Nothing secret in labels, no argv at all (the image's own). */
		cJSON_ArrayForEach(it, labels) {
			if (!cJSON_IsString(it) || strstr(it->valuestring, PW) != NULL)
				labels_clean = false;
		}
		CHECK(labels_clean && strstr(text, "\"Cmd\"") == NULL && strstr(text, "Entrypoint") == NULL,
		    "labels hold no secret and no argv is set");
		CHECK(strstr(text, "\"launcher.managed\":\"1\"") && strstr(text,
		    "\"launcher.tenant\":\"" TEN "\"") && strstr(text, "\"launcher.project\":\"" PRJ "\"") &&
		    strstr(text, "\"launcher.database\":\"" DB "\"") &&
		    strstr(text, "launcher.app") == NULL && strstr(text, "launcher.deployment") == NULL,
		    "labelled as the database's");
		snprintf(want, sizeof(want), "\"Image\":\"sha256:feed\"");
		CHECK(strstr(text, want) != NULL, "the resolved image");
		snprintf(want, sizeof(want), "{\"Type\":\"volume\",\"Source\":\"lnchr-vol-" VOL "\","
		    "\"Target\":\"%s\",\"ReadOnly\":false}", t->data_path);
		CHECK(strstr(text, want) != NULL, "the data volume on data_path");
		CHECK(strstr(text, "\"NetworkMode\":\"lnchr-net-" PRJ "\"") != NULL &&
		    strstr(text, "\"EndpointsConfig\":{\"lnchr-net-" PRJ "\":{\"Aliases\":"
		    "[\"db-main-0b0e7a52\"]}}") != NULL, "on the project network with its alias");
		snprintf(want, sizeof(want), "\"ExposedPorts\":{\"%d/tcp\":{}}", t->port);
		CHECK(strstr(text, want) != NULL && strstr(text, "PortBindings") == NULL,
		    "not public: the port is exposed on the network, never published");
		CHECK(strstr(text, "PORT=") == NULL, "no PORT variable for a database");
		CHECK(strstr(text, "\"NanoCpus\":500000000") && strstr(text, "\"Memory\":268435456") &&
		    strstr(text, "\"RestartPolicy\":{\"Name\":\"always\"}"),
		    "limits and the restart policy as apps have them");
		cJSON_Delete(doc);
		free(text);
		text = body_of(t, true, "0.0.0.0");
		snprintf(want, sizeof(want), "\"PortBindings\":{\"%d/tcp\":[{\"HostIp\":\"0.0.0.0\","
		    "\"HostPort\":\"\"}]}", t->port);
		CHECK(text != NULL && strstr(text, want) != NULL,
		    "public: published on database_host_ip, the engine picks the port");
		free(text);
	}
}

static void
test_payload_checks(void)
{
	struct db_spec d;
	char           err[1024];
	cJSON         *p = payload(&types[0], false, "db.provision");
	static const struct {
		const char *key, *json, *kind, *want;
	} bad[] = {
		{"type", "\"oracle\"", "db.provision", "type"},
		{"password", "\"short\"", "db.provision", "password"},
		{"password", "\"has'quote-in-it-long\"", "db.provision", "password"},
		{"network", "\"lnchr-net-other\"", "db.provision", "network"},
		{"volume", "\"lnchr-vol-other\"", "db.provision", "volume"},
		{"readiness", "[]", "db.start", "readiness"},
		{"data_path", "\"relative\"", "db.provision", "data_path"},
		{"internal_host", "\"bad host!\"", "db.restart", "internal_host"},
		{"database_id", "\"../x\"", "db.stop", "database_id"},
		{"env_names", "{\"password\":\"1BAD\"}", "db.provision", "env_names.password"},
	};

	CHECK(db_spec_parse(p, "db.provision", &d, err, sizeof(err)) == 0, err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *q = cJSON_Duplicate(p, 1);

		cJSON_ReplaceItemInObject(q, bad[i].key, cJSON_Parse(bad[i].json));
		CHECK(db_spec_parse(q, bad[i].kind, &d, err, sizeof(err)) != 0 &&
		    strstr(err, bad[i].want) != NULL && strstr(err, "short") == NULL &&
		    strstr(err, "quote") == NULL, bad[i].want);
		cJSON_Delete(q);
	}
	/* A stop or a removal needs no password nor image. */
	{
		cJSON *q = cJSON_Parse("{\"database_id\":\"" DB "\",\"tenant_id\":\"" TEN "\","
		    "\"project_id\":\"" PRJ "\",\"volume_id\":\"" VOL "\",\"delete_data\":true}");

		CHECK(db_spec_parse(q, "db.stop", &d, err, sizeof(err)) == 0, err);
		CHECK(db_spec_parse(q, "db.remove", &d, err, sizeof(err)) == 0 && d.delete_data, err);
		CHECK(db_spec_parse(q, "db.provision", &d, err, sizeof(err)) != 0, "provision needs more");
		cJSON_Delete(q);
	}
	cJSON_Delete(p);
	CHECK(db_kind("db.provision") && db_kind("db.rotate_password") && !db_kind("app.deploy") &&
	    !db_kind("db.backup"), "the kinds");
	{
		char name[96];

		CHECK(db_container_name(DB, name, sizeof(name)) == 0 &&
		    strcmp(name, "lnchr-db-" DB) == 0 && db_container_name("a/b", name,
		    sizeof(name)) != 0, "the container name");
	}
}

static void
test_readiness_env_and_rotation(void)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		struct db_spec d;
		cJSON         *p = payload(&types[i], false, "db.rotate_password"), *cmd, *env, *re;
		char           err[1024], *ct, *et, *rt;

		CHECK(db_spec_parse(p, "db.rotate_password", &d, err, sizeof(err)) == 0, err);
		CHECK(db_rotate_cmd(&d, &cmd, &env, err, sizeof(err)) == 0, types[i].type);
		ct = cJSON_PrintUnformatted(cmd);
		et = cJSON_PrintUnformatted(env);
		CHECK(ct != NULL && strstr(ct, PW) == NULL && strstr(ct, NEWPW) == NULL,
		    "no password in the rotation's argv");
		CHECK(et != NULL && strstr(et, "\"LNCHR_DB_PASSWORD=" PW "\"") != NULL &&
		    strstr(et, "\"LNCHR_DB_NEW_PASSWORD=" NEWPW "\"") != NULL &&
		    strstr(et, "\"LNCHR_DB_USER=app\"") != NULL, "both passwords by env");
		if (strcmp(types[i].type, "postgres") == 0)
			CHECK(strstr(ct, "ALTER USER CURRENT_USER PASSWORD") && strstr(ct, "psql"), ct);
		if (strcmp(types[i].type, "mysql") == 0)
			CHECK(strstr(ct, "SET PASSWORD") && strstr(ct, "ALTER USER CURRENT_USER()") &&
			    strstr(ct, "MYSQL_PWD"), ct);
		if (strcmp(types[i].type, "redis") == 0)
			CHECK(strstr(ct, "CONFIG SET requirepass") && strstr(ct, "CONFIG REWRITE") &&
			    strstr(ct, "config_file") && strstr(ct, "REDISCLI_AUTH"), ct);
		if (strcmp(types[i].type, "mongodb") == 0)
			CHECK(strstr(ct, "changeUserPassword") && strstr(ct, "process.env"), ct);
		if (strcmp(types[i].type, "clickhouse") == 0)
			CHECK(strncmp(ct, "[\"bash\",\"-c\",", 13) == 0 &&
			    strstr(ct, "launcher-clickhouse-users") && strstr(ct, "Authorization: Basic"), ct);
		re = db_client_env(&d, false);
		rt = cJSON_PrintUnformatted(re);
		CHECK(rt != NULL && strstr(rt, "PASSWORD=" PW "\"") != NULL && strstr(rt, NEWPW) == NULL,
		    "readiness runs with the current password by env");
		cJSON_free(rt);
		cJSON_Delete(re);
		re = db_client_env(&d, true);
		rt = cJSON_PrintUnformatted(re);
		CHECK(rt != NULL && strstr(rt, "PASSWORD=" NEWPW "\"") != NULL, "or the new one");
		cJSON_free(rt);
		cJSON_Delete(re);
		cJSON_free(ct);
		cJSON_free(et);
		cJSON_Delete(cmd);
		cJSON_Delete(env);
		cJSON_Delete(p);
	}
}

/* Database containers are in the instance report, named by database_id. */
static void
test_report_item(void)
{
	cJSON *doc = cJSON_Parse("{\"Id\":\"abcdef012345\",\"Name\":\"/lnchr-db-" DB "\","
	    "\"Config\":{\"Labels\":{\"launcher.managed\":\"1\",\"launcher.database\":\"" DB "\"}},"
	    "\"State\":{\"Status\":\"exited\",\"ExitCode\":137},\"RestartCount\":2}");
	cJSON *o = ctr_instance(doc, true, NULL);
	char  *t = cJSON_PrintUnformatted(o);

	CHECK(t != NULL && strstr(t, "\"database_id\":\"" DB "\"") && strstr(t, "app_id") == NULL &&
	    strstr(t, "\"state\":\"exited\"") && strstr(t, "\"exit_code\":137") &&
	    strstr(t, "\"restart_count\":2"), t != NULL ? t : "null");
	cJSON_free(t);
	cJSON_Delete(o);
	cJSON_Delete(doc);
}

/* A database's log lines name it by database_id. */
static void
test_db_log_lines(void)
{
	struct log_cursor c;
	cJSON            *e = cJSON_CreateArray();
	const char        body[] = "2026-12-05T17:00:00.000000001Z LOG:  database system is ready\n";
	char             *t;

	memset(&c, 0, sizeof(c));
	util_snprintf(c.id, sizeof(c.id), "%s", "abcdef012345");
	CHECK(report_take_db_lines(&c, body, sizeof(body) - 1, NULL, "", DB, e) == 1, "one line");
	t = cJSON_PrintUnformatted(e);
	CHECK(t != NULL && strstr(t, "\"database_id\":\"" DB "\"") && strstr(t, "app_id") == NULL &&
	    strstr(t, "deployment_id") == NULL && strstr(t, "database system is ready"), t);
	cJSON_free(t);
	cJSON_Delete(e);
}

/* An app's DATABASE_URL: its password alone is redacted too. */
static void
test_url_password_redacted(void)
{
	struct app_spec   s;
	struct app_redact r;
	cJSON            *env = cJSON_Parse("{\"DATABASE_URL\":\"postgres://app:" PW
	    "@db-main-0b0e7a52:5432/appdb\",\"SHORT\":\"redis://:abc@h:1/0\"}");
	char              out[512];

	memset(&s, 0, sizeof(s));
	s.env = env;
	app_redact_init(&r, &s);
	app_redact(&r, "psql: password " PW " refused; url postgres://app:" PW "@db-main/x", out,
	    sizeof(out));
	CHECK(strstr(out, PW) == NULL && strstr(out, "refused") != NULL, out);
	app_redact_free(&r);
	cJSON_Delete(env);
}

/* Application containers join their project's network too (no alias). */
static void
test_app_on_project_network(void)
{
	struct app_spec s;
	cJSON          *b;
	char           *t;

	memset(&s, 0, sizeof(s));
	util_snprintf(s.tenant_id, sizeof(s.tenant_id), "%s", TEN);
	util_snprintf(s.project_id, sizeof(s.project_id), "%s", PRJ);
	util_snprintf(s.app_id, sizeof(s.app_id), "%s", "a1");
	util_snprintf(s.deployment_id, sizeof(s.deployment_id), "%s", "d1");
	s.restart_policy = "always";
	s.exposed_port = 8080;
	s.env = cJSON_CreateObject();
	b = ctr_create_body(&s, "sha256:abc", 0, 20000, 4096);
	t = cJSON_PrintUnformatted(b);
	CHECK(t != NULL && strstr(t, "\"NetworkMode\":\"lnchr-net-" PRJ "\"") &&
	    strstr(t, "Aliases") == NULL && strstr(t, "\"HostIp\":\"127.0.0.1\"") &&
	    strstr(t, "\"PORT=8080\""), t != NULL ? t : "null");
	cJSON_free(t);
	cJSON_Delete(b);
	cJSON_Delete((cJSON *)s.env);
}

int
main(void)
{
	test_container_spec_each_type();
	test_payload_checks();
	test_readiness_env_and_rotation();
	test_report_item();
	test_db_log_lines();
	test_url_password_redacted();
	test_app_on_project_network();
	return unit_done("agent-db");
}
