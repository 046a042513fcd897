/*
 * launcher_admin.c - operator CLI: applies migrations and manages tenants.
 *
 *   launcher-admin -c FILE migrate               apply sql/NNN_*.sql in order, then the
 *       data steps that need the master key (env_migrate below)
 *   launcher-admin -c FILE tenant create SLUG [NAME]
 *   launcher-admin -c FILE tenant ensure SLUG [NAME]   (no error if present)
 *   launcher-admin -c FILE tenant list
 *   launcher-admin -c FILE server ensure TENANT NAME --token-file FILE
 *                  [--host HOST] [--base-domain DOMAIN]
 *       creates the tenant's server NAME if absent, gives it a fresh agent
 *       token and writes the token to FILE (mode 0600): how `make run`
 *       registers the machine's own agent.
 *   launcher-admin -c FILE quota list TENANT
 *   launcher-admin -c FILE quota set TENANT KIND N|unlimited|default
 *       a tenant's limits (KIND: projects, applications, databases): its
 *       own (N >= 0, or unlimited), or back to the config's quota_KIND
 *       default (sql/018_quotas.sql).  TENANT is a slug or an id.
 *   launcher-admin -c FILE rotate-master-key [--batch N] [--resume] [--pool-stopped]
 *       re-encrypts every sealed value (sql/022_sealed_columns.sql) under
 *       the newest key of the master key ring, adding a new key first when
 *       every value is under the newest already; killed anywhere, a re-run
 *       resumes with the same key (--resume: only that, never a new key).
 *       Progress (done/total per column) on stderr.  README, Security.
 *   launcher-admin -c FILE check-sealed
 *       opens every sealed value with the ring (changes nothing): per
 *       column, the values under each key; exit 1 if one does not open.
 *
 * Connects with admin_database_url (the owner role).  Each migration runs
 * in its own transaction together with its row in schema_migrations, under
 * an advisory lock, so re-running is a no-op and two runs cannot interleave.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/db_conn.h"
#include "../core/secret.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define MAX_MIGRATIONS 512
/* Applications env_migrate reads per round (each then in its own transaction). */
#define ENV_MIGRATE_BATCH 100

/* main()'s connection: its SQL runs through the one SQL layer (db_conn.h). */
static struct db_conn db;

DB_STMT st_mig_get = {"admin_migration_get",
    "SELECT checksum FROM launcher.schema_migrations WHERE version = $1::int"};
DB_STMT st_mig_put = {"admin_migration_put",
    "INSERT INTO launcher.schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)"};
DB_STMT st_tenants = {"admin_tenants",
    "SELECT id, slug, name, created_at FROM launcher.tenants ORDER BY created_at"};
DB_STMT st_tenant_ensure = {"admin_tenant_ensure",
    "WITH i AS (INSERT INTO launcher.tenants (slug, name) VALUES ($1, $2)"
    " ON CONFLICT (slug) DO NOTHING RETURNING id)"
    " SELECT id FROM i UNION ALL SELECT id FROM launcher.tenants WHERE slug = $1"};
DB_STMT st_tenant_create = {"admin_tenant_create",
    "INSERT INTO launcher.tenants (slug, name) VALUES ($1, $2) RETURNING id"};
DB_STMT st_server_ensure = {"admin_server_ensure",
    "INSERT INTO launcher.servers (tenant_id, name, agent_token_hash, host, base_domain)"
    " SELECT t.id, $2, $3::bytea, $4, $5 FROM launcher.tenants t WHERE t.slug = $1"
    " ON CONFLICT (tenant_id, name) DO UPDATE SET agent_token_hash = EXCLUDED.agent_token_hash"
    " RETURNING id"};

/* env_migrate: applications and functions (sql/057) whose map of the
 * previous version is still to move, with their scope. */
DB_STMT st_env_todo = {"admin_env_todo",
    "SELECT id, tenant_id, project_id, scope FROM"
    " (SELECT id, tenant_id, project_id, 'application' AS scope FROM launcher.applications"
    "  WHERE env_sealed IS NOT NULL AND id > $1::uuid"
    "  UNION ALL SELECT id, tenant_id, project_id, 'function' FROM launcher.functions"
    "  WHERE env_sealed IS NOT NULL AND id > $1::uuid) t ORDER BY id LIMIT $2::int"};
/* A function has no env_version (NULL). */
DB_STMT st_env_app = {"admin_env_app",
    "WITH a AS (SELECT env_sealed, env_version::text AS v FROM launcher.applications"
    "  WHERE id = $1::uuid AND env_sealed IS NOT NULL FOR UPDATE),"
    " f AS (SELECT env_sealed, NULL::text AS v FROM launcher.functions"
    "  WHERE id = $1::uuid AND env_sealed IS NOT NULL FOR UPDATE)"
    " SELECT * FROM a UNION ALL SELECT * FROM f"};
DB_STMT st_env_lock = {"admin_env_lock",
    "SELECT launcher.env_scope_lock($1::uuid, $3, $2::uuid)"};
/* A key the store already holds (written through the API since the
 * upgrade) is newer than the map's: it stays. */
DB_STMT st_env_rows = {"admin_env_rows",
    "INSERT INTO launcher.env_vars (tenant_id, project_id, scope, application_id, function_id,"
    " key, value_sealed, value_length)"
    " SELECT $1::uuid, $2::uuid, $5, CASE WHEN $5 = 'application' THEN $3::uuid END,"
    " CASE WHEN $5 = 'function' THEN $3::uuid END, x.key, x.sealed, x.len"
    " FROM jsonb_to_recordset($4::jsonb) AS x(key text, sealed text, len int)"
    " ON CONFLICT ON CONSTRAINT env_vars_key_key DO NOTHING"};
/* The rows' trigger bumped env_version; what a deploy reads did not change.
 * ($2 NULL for a function: no application has its id.)  A function that
 * deployed before sql/057 runs with this map (passed as written): it
 * becomes the env of its latest deploy (release_env_sealed, same purpose,
 * sql/057), what its claim and its log redaction read until it deploys again. */
DB_STMT st_env_done = {"admin_env_done",
    "WITH a AS (UPDATE launcher.applications SET env_sealed = NULL, env_version = $2::int"
    " WHERE id = $1::uuid RETURNING id)"
    " UPDATE launcher.functions SET release_env_sealed = coalesce(release_env_sealed, env_sealed),"
    " env_sealed = NULL WHERE id = $1::uuid"};

/* e is ERR_OK, else says what failed (the server's own words: an operator's terminal). */
static int
ok(enum err e, const char *what)
{
	if (e == ERR_OK)
		return 1;
	fprintf(stderr, "launcher-admin: %s: %s", what, db_conn_error(&db));
	return 0;
}

static int
exec_simple(PGconn *c, const char *sql, const char *what)
{
	return ok(db_conn_simple(&db, sql), what);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long  n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies one file unless recorded; returns 1 applied, 0 skipped, -1 error. */
static int
apply_one(PGconn *c, const char *dir, const char *name)
{
	char          path[2048], ver[16], sum[65];
	unsigned char h[32];
	const char   *params[3];
	PGresult     *res;
	size_t        len = 0, i;
	char         *sql;
	int           rc = -1;

	for (i = 0; i < 3; i++)
		ver[i] = name[i];
	ver[3] = '\0';
	if (util_snprintf(path, sizeof(path), "%s/%s", dir, name) < 0 ||
	    (sql = slurp(path, &len)) == NULL) {
		fprintf(stderr, "launcher-admin: cannot read %s/%s\n", dir, name);
		return -1;
	}
	crypto_generichash(h, sizeof(h), (unsigned char *)sql, len, NULL, 0);
	util_hex(sum, h, sizeof(h));
	params[0] = ver;
	if (!ok(db_conn_exec(&db, &st_mig_get, 1, params, &res), "read schema_migrations"))
		goto out;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), sum) != 0)
			fprintf(stderr, "launcher-admin: warning: %s changed after it was applied\n", name);
		rc = 0;
		goto out_res;
	}
	PQclear(res);
	if (!exec_simple(c, "BEGIN", "begin"))
		goto out;
	if (!exec_simple(c, sql, name)) {
		exec_simple(c, "ROLLBACK", "rollback");
		goto out;
	}
	params[1] = name;
	params[2] = sum;
	if (!ok(db_conn_exec(&db, &st_mig_put, 3, params, NULL), "record migration")) {
		exec_simple(c, "ROLLBACK", "rollback");
		goto out;
	}
	if (!exec_simple(c, "COMMIT", "commit"))
		goto out;
	printf("applied %s\n", name);
	rc = 1;
	goto out;
out_res:
	PQclear(res);
out:
	free(sql);
	return rc;
}

static int
migrate(PGconn *c, const char *dir)
{
	char          *names[MAX_MIGRATIONS];
	size_t         n = 0;
	struct dirent *de;
	DIR           *d;
	int            rc = 0, applied = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "launcher-admin: cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < MAX_MIGRATIONS) {
		size_t l = strlen(de->d_name);

		if (l > 8 && de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    de->d_name[1] >= '0' && de->d_name[1] <= '9' &&
		    de->d_name[2] >= '0' && de->d_name[2] <= '9' && de->d_name[3] == '_' &&
		    strcmp(de->d_name + l - 4, ".sql") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	if (!exec_simple(c, "SELECT pg_advisory_lock(727274)", "lock"))
		rc = 1;
	if (rc == 0 && !exec_simple(c,
	    "CREATE SCHEMA IF NOT EXISTS launcher;"
	    "CREATE TABLE IF NOT EXISTS launcher.schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", "create schema_migrations"))
		rc = 1;
	for (size_t i = 0; i < n; i++) {
		int r = rc == 0 ? apply_one(c, dir, names[i]) : 0;

		if (r < 0)
			rc = 1;
		applied += r > 0;
		free(names[i]);
	}
	if (rc == 0)
		printf("migrations: %d applied, %zu known\n", applied, n);
	return rc;
}

/*
 * The maps of the previous version (applications.env_sealed, and
 * functions.env_sealed since sql/057; SECRET_APP_ENV) become
 * application- (function-) scope rows of the env store (sql/020_env_vars.sql),
 * each value sealed for its row (SECRET_ENV_VAR, secret.h).  SQL cannot
 * open them, so this runs here, after the SQL migrations, with the master
 * key.  One transaction per application, under the application's row lock
 * and its scope's lock: a run that stops (killed, a value that does not
 * open) leaves every application either moved or untouched, and the next
 * run takes up the rest (a moved one has env_sealed NULL).  env_version is
 * put back to what it was: the application's env is the same as before,
 * so an application in sync with its running release stays in sync, and
 * one pending stays pending.  A map that does not open is reported and
 * left as it is (exit status 1); nothing is dropped.
 */
/*
 * A copy of v; with escape, every "${" written "$${" (resolve.h): a
 * function's map was passed as written before sql/057, and the store's
 * values are resolved at deploy, so the moved value must resolve to v.
 */
static char *
literal_dup(const char *v, int escape)
{
	size_t n = strlen(v), extra = 0;
	char  *out, *o;

	for (const char *p = v; escape && (p = strstr(p, "${")) != NULL; p += 2)
		extra++;
	if ((out = malloc(n + extra + 1)) == NULL)
		return NULL;
	for (o = out; *v; v++) {
		if (escape && v[0] == '$' && v[1] == '{')
			*o++ = '$';
		*o++ = *v;
	}
	*o = '\0';
	return out;
}

static int
env_migrate_one(const struct crypto_keys *k, const char *app, const char *tenant,
    const char *project, const char *scope)
{
	const char *params[5];
	PGresult   *res = NULL;
	cJSON      *map = NULL, *rows = NULL;
	char       *plain = NULL, *text = NULL, *version = NULL;
	size_t      n = 0;
	int         rc = -1;

	if (!exec_simple(db.pg, "BEGIN", "begin"))
		return -1;
	params[0] = app;
	if (!ok(db_conn_exec(&db, &st_env_app, 1, params, &res), "read env"))
		goto out;
	if (PQntuples(res) != 1) {	/* moved meanwhile */
		rc = 0;
		goto out;
	}
	version = PQgetisnull(res, 0, 1) ? NULL : strdup(PQgetvalue(res, 0, 1));
	plain = crypto_open(k, tenant, SECRET_APP_ENV, PQgetvalue(res, 0, 0), &n);
	if (plain == NULL || (version == NULL && !PQgetisnull(res, 0, 1)) ||
	    (map = cJSON_ParseWithLength(plain, n)) == NULL || !cJSON_IsObject(map)) {
		fprintf(stderr, "launcher-admin: %s %s: its env does not open with this "
		    "master key; left as it is\n", scope, app);
		goto out;
	}
	rows = cJSON_CreateArray();
	for (const cJSON *it = map->child; it; it = it->next) {
		char  binding[512], *purpose, *sealed, *value = NULL;
		cJSON *row;

		if (!cJSON_IsString(it) || (value = literal_dup(it->valuestring,
		    strcmp(scope, "function") == 0)) == NULL ||
		    util_snprintf(binding, sizeof(binding), "%s:%s:%s", scope, app, it->string) < 0 ||
		    (purpose = secret_bound_purpose_dup(SECRET_ENV_VAR, binding)) == NULL) {
			free(value);
			goto out;
		}
		sealed = crypto_seal(k, tenant, purpose, value, strlen(value));
		free(purpose);
		if (sealed == NULL) {
			sodium_memzero(value, strlen(value));
			free(value);
			goto out;
		}
		row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "key", it->string);
		cJSON_AddStringToObject(row, "sealed", sealed);
		cJSON_AddNumberToObject(row, "len", (double)strlen(value));
		sodium_memzero(value, strlen(value));
		free(value);
		cJSON_AddItemToArray(rows, row);
		free(sealed);
	}
	if ((text = cJSON_PrintUnformatted(rows)) == NULL)
		goto out;
	params[0] = project;
	params[1] = app;
	params[2] = scope;
	if (!ok(db_conn_exec(&db, &st_env_lock, 3, params, NULL), "lock scope"))
		goto out;
	params[0] = tenant;
	params[1] = project;
	params[2] = app;
	params[3] = text;
	params[4] = scope;
	if (!ok(db_conn_exec(&db, &st_env_rows, 5, params, NULL), "write env"))
		goto out;
	params[0] = app;
	params[1] = version;
	if (!ok(db_conn_exec(&db, &st_env_done, 2, params, NULL), "clear env"))
		goto out;
	rc = 1;
out:
	if (rc < 0)
		exec_simple(db.pg, "ROLLBACK", "rollback");
	else if (!exec_simple(db.pg, "COMMIT", "commit"))
		rc = -1;
	if (plain != NULL) {
		sodium_memzero(plain, n);
		free(plain);
	}
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	cJSON_Delete(map);
	cJSON_Delete(rows);
	free(version);
	return rc;
}

static int
env_migrate(const struct config *cfg)
{
	const char        *params[2];
	char               after[37] = "00000000-0000-0000-0000-000000000000", err[512];
	char               batch[16];
	struct crypto_keys k;
	PGresult          *res;
	int                moved = 0, failed = 0, rows, loaded = 0;

	util_snprintf(batch, sizeof(batch), "%d", ENV_MIGRATE_BATCH);
	do {
		params[0] = after;
		params[1] = batch;
		if (!ok(db_conn_exec(&db, &st_env_todo, 2, params, &res), "list env maps"))
			goto fail;
		rows = PQntuples(res);
		if (rows > 0 && !loaded) {
			if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
				fprintf(stderr, "launcher-admin: %s\n", err);
				PQclear(res);
				return 1;
			}
			loaded = 1;
		}
		for (int i = 0; i < rows; i++) {
			int r = env_migrate_one(&k, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));

			moved += r > 0;
			failed += r < 0;
			util_snprintf(after, sizeof(after), "%s", PQgetvalue(res, i, 0));
		}
		PQclear(res);
	} while (rows == ENV_MIGRATE_BATCH);
	if (moved > 0 || failed > 0)
		printf("env: %d application and function maps moved to the env store, %d left\n",
		    moved, failed);
	if (loaded)
		crypto_keys_wipe(&k);
	return failed > 0;
fail:
	if (loaded)
		crypto_keys_wipe(&k);
	return 1;
}

static int
tenant(PGconn *c, int argc, char **argv)
{
	PGresult   *res;
	const char *params[2];
	int         rc = 1;

	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (ok(db_conn_exec(&db, &st_tenants, 0, NULL, &res), "list tenants")) {
			for (int i = 0; i < PQntuples(res); i++)
				printf("%s  %-24s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				    PQgetvalue(res, i, 2));
			PQclear(res);
			rc = 0;
		}
		return rc;
	}
	if (argc < 2 || (strcmp(argv[0], "create") != 0 && strcmp(argv[0], "ensure") != 0)) {
		fprintf(stderr, "usage: tenant create|ensure SLUG [NAME] | tenant list\n");
		return 2;
	}
	if (!util_is_slug(argv[1])) {
		fprintf(stderr, "launcher-admin: slug must match [a-z0-9-]{1,63} and not be a UUID\n");
		return 2;
	}
	params[0] = argv[1];
	params[1] = argc >= 3 ? argv[2] : argv[1];
	if (ok(db_conn_exec(&db, strcmp(argv[0], "ensure") == 0 ? &st_tenant_ensure :
	    &st_tenant_create, 2, params, &res), "create tenant")) {
		if (PQntuples(res) >= 1) {
			printf("%s\n", PQgetvalue(res, 0, 0));
			rc = 0;
		}
		PQclear(res);
	}
	return rc;
}

static int
server(PGconn *c, const struct config *cfg, int argc, char **argv)
{
	const char        *tenant, *name, *file = NULL, *host = NULL, *domain = NULL;
	const char        *params[5];
	char               tok[64], hex[2 * CRYPTO_HASH_BYTES + 3];
	unsigned char      h[CRYPTO_HASH_BYTES];
	struct crypto_keys k;
	char               err[512];
	PGresult          *res;
	int                fd, rc = 1;
	size_t             n;

	if (argc < 3 || strcmp(argv[0], "ensure") != 0) {
		fprintf(stderr, "usage: server ensure TENANT NAME --token-file FILE [--host H] [--base-domain D]\n");
		return 2;
	}
	tenant = argv[1];
	name = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--token-file") == 0)
			file = argv[i + 1];
		else if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--base-domain") == 0)
			domain = argv[i + 1];
		else {
			fprintf(stderr, "launcher-admin: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (file == NULL || !util_is_slug(name)) {
		fprintf(stderr, "launcher-admin: --token-file is required and NAME must be a slug\n");
		return 2;
	}
	if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: %s\n", err);
		return 1;
	}
	/* The same token shape and keyed hash as POST /servers. */
	if (crypto_token(tok, sizeof(tok), "lnchr_at_", 43) != 0)
		goto out;
	crypto_keyed_hash(&k, "agent-token", tok, strlen(tok), h);
	hex[0] = '\\';
	hex[1] = 'x';
	util_hex(hex + 2, h, sizeof(h));
	params[0] = tenant;
	params[1] = name;
	params[2] = hex;
	params[3] = host;
	params[4] = domain;
	if (!ok(db_conn_exec(&db, &st_server_ensure, 5, params, &res), "ensure server"))
		goto out;
	if (PQntuples(res) != 1) {
		fprintf(stderr, "launcher-admin: no tenant %s\n", tenant);
		PQclear(res);
		goto out;
	}
	(void)unlink(file);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	n = strlen(tok);
	tok[n] = '\n';
	if (fd < 0 || write(fd, tok, n + 1) != (ssize_t)(n + 1) || close(fd) != 0) {
		fprintf(stderr, "launcher-admin: cannot write %s\n", file);
		PQclear(res);
		goto out;
	}
	printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	rc = 0;
out:
	sodium_memzero(tok, sizeof(tok));
	crypto_keys_wipe(&k);
	return rc;
}

static const char *const quota_kinds[] = {"projects", "applications", "databases"};

DB_STMT st_quota_list = {"admin_quota_list",
    "SELECT k.kind, q.max_count, q.tenant_id IS NOT NULL AS own,"
    " launcher.quota_usage(t.id, k.kind) AS used"
    " FROM launcher.tenants t"
    " CROSS JOIN unnest(ARRAY['projects', 'applications', 'databases']) WITH ORDINALITY k(kind, o)"
    " LEFT JOIN launcher.quotas q ON q.tenant_id = t.id AND q.kind = k.kind"
    " WHERE t.slug = $1 OR t.id::text = $1 ORDER BY k.o"};
/* One statement each: the tenant exists (a row), and its limit is reset or set. */
DB_STMT st_quota_reset = {"admin_quota_reset",
    "WITH t AS (SELECT id FROM launcher.tenants WHERE slug = $1 OR id::text = $1),"
    " d AS (DELETE FROM launcher.quotas q USING t WHERE q.tenant_id = t.id AND q.kind = $2)"
    " SELECT id FROM t"};
DB_STMT st_quota_set = {"admin_quota_set",
    "INSERT INTO launcher.quotas (tenant_id, kind, max_count)"
    " SELECT id, $2, $3::integer FROM launcher.tenants WHERE slug = $1 OR id::text = $1"
    " ON CONFLICT (tenant_id, kind) DO UPDATE SET max_count = EXCLUDED.max_count,"
    " updated_at = now() RETURNING tenant_id"};

/* The config's default for kind (0 = no limit), as quota_enforce reads it. */
static int64_t
quota_default(const struct config *cfg, const char *kind)
{
	return strcmp(kind, "projects") == 0 ? cfg->quota_projects :
	    strcmp(kind, "applications") == 0 ? cfg->quota_applications : cfg->quota_databases;
}

static int
quota(PGconn *c, const struct config *cfg, int argc, char **argv)
{
	const char *params[3];
	PGresult   *res;
	int64_t     n = 0;
	bool        known = false;
	int         rc = 1;

	if (argc >= 2 && strcmp(argv[0], "list") == 0) {
		params[0] = argv[1];
		if (ok(db_conn_exec(&db, &st_quota_list, 1, params, &res), "list quotas")) {
			if (PQntuples(res) == 0)
				fprintf(stderr, "launcher-admin: no tenant %s\n", argv[1]);
			for (int i = 0; i < PQntuples(res); i++) {
				const char *kind = PQgetvalue(res, i, 0);
				bool        own = PQgetvalue(res, i, 2)[0] == 't';
				int64_t     def = quota_default(cfg, kind);
				char        lim[32];

				if (own)
					util_snprintf(lim, sizeof(lim), "%s", PQgetisnull(res, i, 1) ?
					    "unlimited" : PQgetvalue(res, i, 1));
				else if (def == 0)
					util_snprintf(lim, sizeof(lim), "unlimited");
				else
					util_snprintf(lim, sizeof(lim), "%lld", (long long)def);
				printf("%-14s %-10s %-8s used %s\n", kind, lim, own ? "(tenant)" : "(default)",
				    PQgetisnull(res, i, 3) ? "-" : PQgetvalue(res, i, 3));
			}
			rc = PQntuples(res) > 0 ? 0 : 1;
			PQclear(res);
		}
		return rc;
	}
	if (argc < 4 || strcmp(argv[0], "set") != 0) {
		fprintf(stderr, "usage: quota list TENANT | quota set TENANT KIND N|unlimited|default\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(quota_kinds) / sizeof(*quota_kinds); i++)
		known |= strcmp(argv[2], quota_kinds[i]) == 0;
	if (!known || (strcmp(argv[3], "unlimited") != 0 && strcmp(argv[3], "default") != 0 &&
	    util_parse_i64(argv[3], 0, 1000000, &n) != 0)) {
		fprintf(stderr, "launcher-admin: KIND must be projects, applications or databases;"
		    " the limit a number 0..1000000, unlimited or default\n");
		return 2;
	}
	params[0] = argv[1];
	params[1] = argv[2];
	params[2] = strcmp(argv[3], "unlimited") == 0 ? NULL : argv[3];
	if (ok(db_conn_exec(&db, strcmp(argv[3], "default") == 0 ? &st_quota_reset : &st_quota_set,
	    strcmp(argv[3], "default") == 0 ? 2 : 3, params, &res), "set quota")) {
		if (PQntuples(res) == 1) {
			printf("%s %s %s\n", argv[1], argv[2], argv[3]);
			rc = 0;
		} else
			fprintf(stderr, "launcher-admin: no tenant %s\n", argv[1]);
		PQclear(res);
	}
	return rc;
}

/* ---- rotate-master-key ------------------------------------------------ */

DB_STMT st_rot_lock = {"admin_rotate_lock", "SELECT pg_try_advisory_lock(727275)"};
DB_STMT st_rot_columns = {"admin_rotate_columns",
    "SELECT table_name, column_name, to_regclass('launcher.' || quote_ident(table_name)) IS NOT NULL"
    " AS present FROM launcher.sealed_columns ORDER BY table_name, column_name"};
DB_STMT st_rot_count = {"admin_rotate_count",
    "SELECT total, done, foreign_keys FROM launcher.sealed_count($1, $2, $3, $4::integer)"};
DB_STMT st_rot_batch = {"admin_rotate_batch",
    "SELECT row_id, tenant_id, purpose, sealed FROM launcher.sealed_batch($1, $2, $3, $4::integer)"};
DB_STMT st_rot_put = {"admin_rotate_put",
    "SELECT launcher.sealed_put($1, $2, $3, $4, $5) AS ok"};

#define ROTATE_BATCH_MAX 5000
#define ROTATE_POOL_WAIT_S 60

struct sealed_col {
	char table[64], column[64];
	bool present;
};

/* The prefix of values under the ring's newest key ("$N$"; "" for key 0). */
static void
newest_prefix(const struct crypto_keys *k, char out[8])
{
	if (k->nring > 1)
		util_snprintf(out, 8, "$%d$", k->nring - 1);
	else
		out[0] = '\0';
}

/*
 * total and done (under the newest key) of one column; -1 on error, and
 * when a value names a key the ring of nkeys lacks (a key file older than
 * the database: a key added now would reuse that id).
 */
static int
column_count(const struct sealed_col *c, const char *prefix, int nkeys, int64_t *total,
    int64_t *done)
{
	char        n[16];
	const char *params[4] = {c->table, c->column, prefix, n};
	PGresult   *res;
	int64_t     foreign = 0;

	util_snprintf(n, sizeof(n), "%d", nkeys);
	if (!ok(db_conn_exec(&db, &st_rot_count, 4, params, &res), "count sealed values"))
		return -1;
	if (util_parse_i64(db_get(res, 0, "total"), 0, INT64_MAX, total) != 0 ||
	    util_parse_i64(db_get(res, 0, "done"), 0, INT64_MAX, done) != 0 ||
	    util_parse_i64(db_get(res, 0, "foreign_keys"), 0, INT64_MAX, &foreign) != 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (foreign > 0) {
		fprintf(stderr, "launcher-admin: %lld values of %s.%s name a key that the ring of %d"
		    " keys lacks: the key file is older than the database (restore the newer one);"
		    " nothing was changed\n", (long long)foreign, c->table, c->column, nkeys);
		return -1;
	}
	return 0;
}

/* The pid of the running pool's master and the ring size its workers hold. */
static int
pool_state(const char *path, int64_t *pid, int *ring)
{
	char   buf[128], cmd[256], proc[64], *nl, *r;
	FILE  *f;
	int64_t n64;
	int    n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = (int)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID\nring N\n" (launcher_fcgi.c, write_state) */
	if ((nl = strchr(buf, '\n')) == NULL || strncmp(nl + 1, "ring ", 5) != 0 ||
	    (r = strchr(nl + 1, '\n')) == NULL)
		return -1;
	*nl = '\0';
	*r = '\0';
	if (util_parse_i64(buf, 2, INT32_MAX, pid) != 0 ||
	    util_parse_i64(nl + 6, 1, CRYPTO_RING_MAX, &n64) != 0)
		return -1;
	*ring = (int)n64;
	/* A stale file (the pool was killed) may name a recycled pid. */
	util_snprintf(proc, sizeof(proc), "/proc/%lld/cmdline", (long long)*pid);
	if ((f = fopen(proc, "r")) == NULL)
		return -1;
	n = (int)fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n > 0 ? n : 0] = '\0';
	return strstr(cmd, "launcher-fcgi") != NULL ? 0 : -1;
}

/*
 * Makes sure that no running worker lacks the ring's newest key: signals
 * the pool (SIGHUP: its master reads the ring again and replaces every
 * worker) and waits until it says that every worker holds the ring.
 */
static int
pool_sync(const struct config *cfg, int nring, bool pool_stopped)
{
	int64_t pid;
	int     ring;

	if (cfg->fcgi_state_file[0] == '\0') {
		if (pool_stopped)
			return 0;
		fprintf(stderr, "launcher-admin: fcgi_state_file is not set, so the running pool cannot"
		    " be told to read the new key; set it (launcher.conf) or stop launcher-fcgi and"
		    " pass --pool-stopped\n");
		return -1;
	}
	if (pool_state(cfg->fcgi_state_file, &pid, &ring) != 0) {
		/* No live pool behind the file: stopped (it reads the ring when it
		 * starts), or one that does not write it (not reloaded since the
		 * setting was added): only the operator can tell. */
		if (pool_stopped)
			return 0;
		fprintf(stderr, "launcher-admin: %s names no running launcher-fcgi; if the pool is"
		    " stopped, pass --pool-stopped (it reads the ring when it starts); if it runs,"
		    " reload it (SIGHUP) so that it writes the file\n", cfg->fcgi_state_file);
		return -1;
	}
	if (ring >= nring)
		return 0;
	fprintf(stderr, "rotate-master-key: asking launcher-fcgi (pid %lld) to read the ring of %d keys\n",
	    (long long)pid, nring);
	if (kill((pid_t)pid, SIGHUP) != 0) {
		fprintf(stderr, "launcher-admin: cannot signal launcher-fcgi (pid %lld): %s\n",
		    (long long)pid, strerror(errno));
		return -1;
	}
	for (int i = 0; i < ROTATE_POOL_WAIT_S * 10; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (pool_state(cfg->fcgi_state_file, &pid, &ring) != 0) {
			fprintf(stderr, "launcher-admin: launcher-fcgi stopped while reloading;"
			    " nothing was sealed with the new key; run again\n");
			return -1;
		}
		if (ring >= nring)
			return 0;
	}
	fprintf(stderr, "launcher-admin: launcher-fcgi (pid %lld) did not confirm the ring of %d keys"
	    " within %d s (see its log); nothing was sealed with the new key; run again\n",
	    (long long)pid, nring, ROTATE_POOL_WAIT_S);
	return -1;
}

/*
 * One batch of one column in its own transaction: lock up to batch rows
 * not under the newest key, open each with the key its prefix names, seal
 * it under the newest, write it back if unchanged.  Returns the rows
 * re-encrypted (0: none left), or -1 (rolled back; message printed).
 */
static int
rotate_batch(const struct crypto_keys *k, const struct sealed_col *c, const char *prefix,
    int batch)
{
	const char  *params[5];
	char         lim[16];
	PGresult    *res = NULL, **outs = NULL;
	struct db_call *calls = NULL;
	char       **fresh = NULL;
	int          n = 0, rc = -1;

	util_snprintf(lim, sizeof(lim), "%d", batch);
	params[0] = c->table;
	params[1] = c->column;
	params[2] = prefix;
	params[3] = lim;
	if (!ok(db_conn_simple(&db, "BEGIN"), "begin"))
		return -1;
	if (!ok(db_conn_exec(&db, &st_rot_batch, 4, params, &res), "lock a batch"))
		goto out;
	n = PQntuples(res);
	if (n == 0) {
		rc = 0;
		goto out;
	}
	calls = calloc((size_t)n, sizeof(*calls));
	outs = calloc((size_t)n, sizeof(*outs));
	fresh = calloc((size_t)n, sizeof(*fresh));
	if (calls == NULL || outs == NULL || fresh == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		const char *tenant = db_get(res, i, "tenant_id"), *purpose = db_get(res, i, "purpose");
		const char *old = db_get(res, i, "sealed");
		const char **p;
		size_t      len;
		char       *plain = crypto_open(k, tenant, purpose, old, &len);

		if (plain == NULL) {
			fprintf(stderr, "launcher-admin: %s.%s of row %s does not open (key %d, a ring of %d"
			    " keys): damaged, or sealed with a key missing from %s; nothing of this batch"
			    " was changed\n", c->table, c->column, db_get(res, i, "row_id"),
			    crypto_sealed_key(old), k->nring, "the ring");
			goto out;
		}
		fresh[i] = crypto_seal(k, tenant, purpose, plain, len);
		sodium_memzero(plain, len);
		free(plain);
		if (fresh[i] == NULL)
			goto out;
		p = malloc(5 * sizeof(*p));
		if (p == NULL)
			goto out;
		p[0] = c->table;
		p[1] = c->column;
		p[2] = db_get(res, i, "row_id");
		p[3] = old;
		p[4] = fresh[i];
		calls[i].st = &st_rot_put;
		calls[i].n = 5;
		calls[i].params = p;
	}
	if (!ok(db_conn_pipeline(&db, (size_t)n, calls, outs), "re-encrypt a batch"))
		goto out;
	for (int i = 0; i < n; i++)
		if (strcmp(db_get(outs[i], 0, "ok"), "t") != 0) {
			fprintf(stderr, "launcher-admin: %s.%s of row %s changed under its lock\n",
			    c->table, c->column, db_get(res, i, "row_id"));
			goto out;
		}
	if (!ok(db_conn_simple(&db, "COMMIT"), "commit"))
		goto out;
	rc = n;
out:
	if (rc < 0 || n == 0)
		(void)db_conn_simple(&db, "ROLLBACK");
	for (int i = 0; i < n && calls != NULL; i++) {
		free((void *)calls[i].params);
		if (outs != NULL && outs[i] != NULL)
			PQclear(outs[i]);
		free(fresh[i]);
	}
	free(calls);
	free(outs);
	free(fresh);
	if (res != NULL)
		PQclear(res);
	return rc;
}

/* Re-encrypts every value of one column until none is left under an older key. */
static int
rotate_column(const struct crypto_keys *k, const struct sealed_col *c, const char *prefix,
    int batch)
{
	int64_t total, done;
	int     retries = 0;

	if (column_count(c, prefix, k->nring, &total, &done) != 0)
		return -1;
	fprintf(stderr, "rotate-master-key: %s.%s %lld/%lld\n", c->table, c->column,
	    (long long)done, (long long)total);
	for (;;) {
		int n = rotate_batch(k, c, prefix, batch);

		if (n < 0) {
			/* A deadlock with a writer, or a serialization failure: again. */
			if (strncmp(db.sqlstate, "40", 2) == 0 && ++retries <= 10)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		retries = 0;
		done += n;
		/* Rows written meanwhile (by a pool still on the old ring) raise the total. */
		if (done > total)
			total = done;
		fprintf(stderr, "rotate-master-key: %s.%s %lld/%lld\n", c->table, c->column,
		    (long long)done, (long long)total);
	}
	if (column_count(c, prefix, k->nring, &total, &done) != 0)
		return -1;
	fprintf(stderr, "rotate-master-key: %s.%s %lld/%lld done\n", c->table, c->column,
	    (long long)done, (long long)total);
	return done == total ? 0 : -1;
}

DB_STMT st_rot_scan = {"admin_rotate_scan",
    "SELECT row_id, tenant_id, purpose, sealed FROM launcher.sealed_scan($1, $2, $3, $4::integer)"};

/* The sealed columns whose table exists, into cols; -1 on error. */
static int
sealed_columns(struct sealed_col *cols, int max, int *n)
{
	PGresult *res;

	*n = 0;
	if (!ok(db_conn_exec(&db, &st_rot_columns, 0, NULL, &res), "list sealed columns"))
		return -1;
	for (int i = 0; i < PQntuples(res) && *n < max; i++) {
		struct sealed_col *c = &cols[*n];

		util_snprintf(c->table, sizeof(c->table), "%s", db_get(res, i, "table_name"));
		util_snprintf(c->column, sizeof(c->column), "%s", db_get(res, i, "column_name"));
		c->present = db_get(res, i, "present")[0] == 't';
		if (!c->present)
			fprintf(stderr, "launcher-admin: %s.%s: no table %s (its migration is not applied),"
			    " skipped\n", c->table, c->column, c->table);
		else
			(*n)++;
	}
	PQclear(res);
	return 0;
}

/*
 * check-sealed: opens every sealed value with the ring, without changing
 * anything; per column, how many values each key holds and how many do
 * not open (exit 1 if any).
 */
static int
check_sealed(const struct config *cfg)
{
	struct crypto_keys k;
	struct sealed_col  cols[64];
	char               err[512];
	int                ncols, rc = 1;
	int64_t            bad_total = 0;

	if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: %s\n", err);
		return 1;
	}
	if (sealed_columns(cols, (int)(sizeof(cols) / sizeof(*cols)), &ncols) != 0)
		goto out;
	for (int i = 0; i < ncols; i++) {
		int64_t by_key[CRYPTO_RING_MAX + 1] = {0}, bad = 0, n = 0;
		char    after[128] = "", line[1024];
		int     len;

		for (;;) {
			const char *params[4] = {cols[i].table, cols[i].column, after[0] ? after : NULL, "1000"};
			PGresult   *res;
			int         rows;

			if (!ok(db_conn_exec(&db, &st_rot_scan, 4, params, &res), "read sealed values"))
				goto out;
			rows = PQntuples(res);
			for (int j = 0; j < rows; j++) {
				const char *sealed = db_get(res, j, "sealed");
				int         id = crypto_sealed_key(sealed);
				size_t      plen;
				char       *plain = crypto_open(&k, db_get(res, j, "tenant_id"),
				    db_get(res, j, "purpose"), sealed, &plen);

				n++;
				if (plain == NULL) {
					bad++;
					fprintf(stderr, "launcher-admin: %s.%s of row %s does not open (key %d)\n",
					    cols[i].table, cols[i].column, db_get(res, j, "row_id"), id);
				} else {
					by_key[id]++;
					sodium_memzero(plain, plen);
					free(plain);
				}
			}
			if (rows > 0)
				util_snprintf(after, sizeof(after), "%s", db_get(res, rows - 1, "row_id"));
			PQclear(res);
			if (rows < 1000)
				break;
		}
		len = util_snprintf(line, sizeof(line), "%s.%s: %lld values", cols[i].table,
		    cols[i].column, (long long)n);
		for (int id = 0; id < k.nring && len > 0; id++)
			if (by_key[id] > 0)
				len += util_snprintf(line + len, sizeof(line) - (size_t)len, ", key %d: %lld",
				    id, (long long)by_key[id]);
		printf("%s%s\n", line, bad > 0 ? ", DO NOT OPEN: see above" : "");
		bad_total += bad;
	}
	rc = bad_total == 0 ? 0 : 1;
out:
	crypto_keys_wipe(&k);
	return rc;
}

static int
rotate_master_key(const struct config *cfg, int argc, char **argv)
{
	struct crypto_keys k;
	struct sealed_col  cols[64];
	char               err[512], prefix[8];
	PGresult          *res;
	int64_t            left = 0;
	int64_t            batch = 500;
	bool               resume = false, pool_stopped = false;
	int                ncols = 0, rc = 1;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc &&
		    util_parse_i64(argv[i + 1], 1, ROTATE_BATCH_MAX, &batch) == 0)
			i++;
		else if (strcmp(argv[i], "--resume") == 0)
			resume = true;
		else if (strcmp(argv[i], "--pool-stopped") == 0)
			pool_stopped = true;
		else {
			fprintf(stderr, "usage: rotate-master-key [--batch 1..%d] [--resume] [--pool-stopped]\n",
			    ROTATE_BATCH_MAX);
			return 2;
		}
	}
	if (!ok(db_conn_exec(&db, &st_rot_lock, 0, NULL, &res), "lock"))
		return 1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		fprintf(stderr, "launcher-admin: another rotate-master-key is running\n");
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: %s\n", err);
		return 1;
	}
	if (sealed_columns(cols, (int)(sizeof(cols) / sizeof(*cols)), &ncols) != 0)
		goto out;
	/* A rotation in progress (values under an older key) is finished
	 * with the same newest key; a new key only when none is left. */
	newest_prefix(&k, prefix);
	for (int i = 0; i < ncols; i++) {
		int64_t total, done;

		if (column_count(&cols[i], prefix, k.nring, &total, &done) != 0)
			goto out;
		left += total - done;
	}
	if (k.nring == 1 || left == 0) {
		if (resume) {
			fprintf(stderr, "rotate-master-key: every sealed value is under key %d: nothing to"
			    " resume\n", k.nring - 1);
			rc = 0;
			goto out;
		}
		/* The pool can be told (or is stopped) before the ring grows. */
		if (pool_sync(cfg, k.nring, pool_stopped) != 0)
			goto out;
		if (crypto_ring_add(&k, err, sizeof(err)) != 0 ||
		    crypto_ring_write(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
			fprintf(stderr, "launcher-admin: %s\n", err);
			goto out;
		}
		fprintf(stderr, "rotate-master-key: key %d added to %s\n", k.nring - 1, cfg->master_key_file);
		newest_prefix(&k, prefix);
	} else
		fprintf(stderr, "rotate-master-key: resuming: %lld values are not under key %d yet\n",
		    (long long)left, k.nring - 1);
	if (pool_sync(cfg, k.nring, pool_stopped) != 0)
		goto out;
	for (int i = 0; i < ncols; i++)
		if (rotate_column(&k, &cols[i], prefix, (int)batch) != 0)
			goto out;
	fprintf(stderr, "rotate-master-key: every sealed value is under key %d\n", k.nring - 1);
	rc = 0;
out:
	crypto_keys_wipe(&k);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	char          err[512];
	const char   *conf = NULL;
	PGconn       *c;
	int           i = 1, rc;

	db_conn_check_names();
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		conf = argv[2];
		i = 3;
	}
	if (conf == NULL || i >= argc) {
		fprintf(stderr, "usage: launcher-admin -c FILE migrate | tenant create|ensure SLUG [NAME] | tenant list"
		    " | quota list|set ... | rotate-master-key [--batch N] [--resume] [--pool-stopped]"
		    " | check-sealed\n");
		return 2;
	}
	if (config_load(&cfg, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: %s\n", err);
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	c = PQconnectdb(cfg.admin_database_url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "launcher-admin: cannot connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	db.pg = c;
	(void)db_conn_simple(&db, "SET client_min_messages = warning");
	if (strcmp(argv[i], "migrate") == 0) {
		rc = migrate(c, cfg.migrations_dir);
		if (rc == 0)
			rc = env_migrate(&cfg);
	}
	else if (strcmp(argv[i], "tenant") == 0)
		rc = tenant(c, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "server") == 0)
		rc = server(c, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "quota") == 0)
		rc = quota(c, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "rotate-master-key") == 0)
		rc = rotate_master_key(&cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "check-sealed") == 0)
		rc = check_sealed(&cfg);
	else {
		fprintf(stderr, "launcher-admin: unknown command %s\n", argv[i]);
		rc = 2;
	}
	PQfinish(c);
	return rc;
}
