/*
 * launcher_admin.c - operator CLI: sets a plane up, checks it, applies
 * migrations and manages tenants.  -c FILE defaults to
 * /etc/launcher/launcher.conf (the installed layout).
 *
 *   launcher-admin [-c FILE] setup [--tenant SLUG] [--tenant-name NAME] [--superuser-url URL]
 *       idempotent: pgpass with fresh passwords, the roles and database
 *       (sql/setup/roles.sql, psql as postgres or the superuser URL), the
 *       master key, migrations, the first tenant, a self-signed TLS pair;
 *       then the next steps.  README, Operating Launcher.
 *   launcher-admin [-c FILE] doctor
 *       ok:/problem: lines (config, roles, migrations, key files, TLS,
 *       nginx -t, agents' versions); exit 1 when any problem.
 *   launcher-admin -c FILE migrate [--dry-run]   apply sql/NNN_*.sql in order, then the
 *       data steps that need the master key (env_migrate below); each
 *       migration waits MIGRATE_LOCK_TIMEOUT at most for a lock, and is
 *       tried again.  --dry-run: the pending files, nothing changed.
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
 * Connects with admin_database_url (the owner role; doctor with each role,
 * setup once the roles exist).  Each migration runs
 * in its own transaction together with its row in schema_migrations, under
 * an advisory lock, so re-running is a no-op and two runs cannot interleave.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../core/alert_url.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/db_conn.h"
#include "../core/secret.h"
#include "../core/spawn.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

/* -c FILE's default: the installed layout's (make install). */
#define ADMIN_DEFAULT_CONF "/etc/launcher/launcher.conf"
#define MAX_MIGRATIONS 512
/* How long a migration waits for one lock, and how often it is tried:
 * the pool's requests that queue behind it wait that long at most. */
#define MIGRATE_LOCK_TIMEOUT "5s"
#define MIGRATE_LOCK_TRIES 5
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

/*
 * The migrations of dir, sorted, into names (max; the caller frees each):
 * the files NNN_*.sql only, so that a subdirectory (setup/, the roles
 * psql creates: sql/setup/roles.sql) is never taken for one.  Their
 * count, or -1 (message printed).
 */
static int
migration_files(const char *dir, char **names, size_t max)
{
	struct dirent *de;
	DIR           *d;
	size_t         n = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "launcher-admin: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < max) {
		size_t l = strlen(de->d_name);

		if (l > 8 && de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    de->d_name[1] >= '0' && de->d_name[1] <= '9' &&
		    de->d_name[2] >= '0' && de->d_name[2] <= '9' && de->d_name[3] == '_' &&
		    strcmp(de->d_name + l - 4, ".sql") == 0 && (names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	return (int)n;
}

static void
migration_files_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
}

/* The text of dir/name (caller frees) and its checksum (sum); NULL when unreadable. */
static char *
migration_read(const char *dir, const char *name, char sum[65])
{
	char          path[2048];
	unsigned char h[32];
	size_t        len = 0;
	char         *sql;

	if (util_snprintf(path, sizeof(path), "%s/%s", dir, name) < 0 ||
	    (sql = slurp(path, &len)) == NULL) {
		fprintf(stderr, "launcher-admin: cannot read %s/%s\n", dir, name);
		return NULL;
	}
	crypto_generichash(h, sizeof(h), (unsigned char *)sql, len, NULL, 0);
	util_hex(sum, h, sizeof(h));
	return sql;
}

/* 1 when name is recorded in schema_migrations (warning when its file
 * changed since), 0 when it is not, -1 on error. */
static int
migration_applied(const char *name, const char *sum)
{
	char        ver[4] = {name[0], name[1], name[2], '\0'};
	const char *params[1] = {ver};
	PGresult   *res;
	int         rc;

	if (!ok(db_conn_exec(&db, &st_mig_get, 1, params, &res), "read schema_migrations"))
		return -1;
	rc = PQntuples(res) == 1;
	if (rc && strcmp(PQgetvalue(res, 0, 0), sum) != 0)
		fprintf(stderr, "launcher-admin: warning: %s changed after it was applied\n", name);
	PQclear(res);
	return rc;
}

/*
 * Runs a migration and records it in one transaction.  Each lock it
 * waits for is waited for MIGRATE_LOCK_TIMEOUT at most: a migration that
 * needs a table the live pool is using must not queue the pool's requests
 * behind its own wait (PostgreSQL queues later lockers behind a waiting
 * one).  0 applied, 1 a lock was not granted in time (rolled back),
 * -1 another error (rolled back, message printed).
 */
static int
migration_txn(const char *name, const char *sql, const char *sum)
{
	char        ver[4] = {name[0], name[1], name[2], '\0'};
	const char *params[3] = {ver, name, sum};
	enum err    e;

	if (!ok(db_conn_simple(&db, "BEGIN"), "begin") ||
	    !ok(db_conn_simple(&db, "SET LOCAL lock_timeout = '" MIGRATE_LOCK_TIMEOUT "'"), "lock_timeout"))
		return -1;
	if ((e = db_conn_simple(&db, sql)) != ERR_OK) {
		bool lock = strcmp(db.sqlstate, "55P03") == 0;

		if (!lock)
			(void)ok(e, name);
		(void)db_conn_simple(&db, "ROLLBACK");
		return lock ? 1 : -1;
	}
	if (!ok(db_conn_exec(&db, &st_mig_put, 3, params, NULL), "record migration")) {
		(void)db_conn_simple(&db, "ROLLBACK");
		return -1;
	}
	return ok(db_conn_simple(&db, "COMMIT"), "commit") ? 0 : -1;
}

/* Applies one file unless recorded, again after a lock wait that timed
 * out (MIGRATE_LOCK_TRIES in all); returns 1 applied, 0 skipped, -1 error. */
static int
apply_one(const char *dir, const char *name)
{
	char  sum[65];
	char *sql;
	int   rc, r = 1;

	if ((sql = migration_read(dir, name, sum)) == NULL)
		return -1;
	if ((rc = migration_applied(name, sum)) != 0) {
		free(sql);
		return rc < 0 ? -1 : 0;
	}
	for (int attempt = 1; attempt <= MIGRATE_LOCK_TRIES && r == 1; attempt++) {
		if ((r = migration_txn(name, sql, sum)) == 1 && attempt < MIGRATE_LOCK_TRIES) {
			fprintf(stderr, "launcher-admin: %s waited %s for a lock (attempt %d of %d);"
			    " again in %d s\n", name, MIGRATE_LOCK_TIMEOUT, attempt, MIGRATE_LOCK_TRIES, attempt);
			sleep((unsigned)attempt);
		}
	}
	free(sql);
	if (r == 1)
		fprintf(stderr, "launcher-admin: %s: a lock it needs was not granted within %s, %d times;"
		    " nothing of it was applied (find the long transaction in pg_stat_activity)\n",
		    name, MIGRATE_LOCK_TIMEOUT, MIGRATE_LOCK_TRIES);
	else if (r == 0)
		printf("applied %s\n", name);
	return r == 0 ? 1 : -1;
}

static int
migrate(const char *dir)
{
	char *names[MAX_MIGRATIONS];
	int   n, rc = 0, applied = 0;

	if ((n = migration_files(dir, names, MAX_MIGRATIONS)) < 0)
		return 1;
	if (!ok(db_conn_simple(&db, "SELECT pg_advisory_lock(727274)"), "lock"))
		rc = 1;
	if (rc == 0 && !ok(db_conn_simple(&db,
	    "CREATE SCHEMA IF NOT EXISTS launcher;"
	    "CREATE TABLE IF NOT EXISTS launcher.schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())"), "create schema_migrations"))
		rc = 1;
	for (int i = 0; i < n && rc == 0; i++) {
		int r = apply_one(dir, names[i]);

		if (r < 0)
			rc = 1;
		applied += r > 0;
	}
	migration_files_free(names, n);
	if (rc == 0)
		printf("migrations: %d applied, %d known\n", applied, n);
	return rc;
}

DB_STMT st_mig_table = {"admin_migration_table",
    "SELECT to_regclass('launcher.schema_migrations') IS NOT NULL AS present"};

/*
 * The migrations of dir not applied yet, in order, each printed as
 * "pending NAME" when print; changes nothing (migrate --dry-run, doctor).
 * Their count, or -1 (message printed).
 */
static int
migrations_pending(const char *dir, bool print)
{
	char     *names[MAX_MIGRATIONS];
	char      sum[65];
	PGresult *res;
	bool      table;
	int       n, pending = 0;

	if ((n = migration_files(dir, names, MAX_MIGRATIONS)) < 0)
		return -1;
	if (!ok(db_conn_exec(&db, &st_mig_table, 0, NULL, &res), "look for schema_migrations")) {
		migration_files_free(names, n);
		return -1;
	}
	table = db_get(res, 0, "present")[0] == 't';
	PQclear(res);
	for (int i = 0; i < n && pending >= 0; i++) {
		char *sql = migration_read(dir, names[i], sum);
		int   r = sql == NULL ? -1 : table ? migration_applied(names[i], sum) : 0;

		free(sql);
		if (r < 0)
			pending = -1;
		else if (r == 0) {
			pending++;
			if (print)
				printf("pending %s\n", names[i]);
		}
	}
	migration_files_free(names, n);
	return pending;
}

/* migrate --dry-run: the plan, nothing changed. */
static int
migrate_plan(const char *dir)
{
	int n = migrations_pending(dir, true);

	if (n < 0)
		return 1;
	if (n == 0)
		printf("nothing to do: every migration of %s is applied\n", dir);
	else
		printf("plan: %d migration%s to apply, in the order above (launcher-admin migrate)\n", n,
		    n == 1 ? "" : "s");
	return 0;
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

DB_STMT st_migrations_table = {"admin_migrations_table",
    "SELECT to_regclass('launcher.schema_migrations') IS NOT NULL AS present"};
DB_STMT st_migrations_any = {"admin_migrations_any",
    "SELECT EXISTS (SELECT FROM launcher.schema_migrations) AS present"};

/*
 * One sealed value of the database (the first of the first column that
 * has one) into *res (row_id, tenant_id, purpose, sealed; the caller
 * clears it) and its column into *col: 1; 0 when the database has none
 * (or no migration applied yet); -1 on error (printed).
 */
static int
sealed_sample(struct sealed_col *col, PGresult **res)
{
	const struct db_stmt *const steps[] = {&st_migrations_table, &st_migrations_any};
	struct sealed_col           cols[64];
	int                         ncols;

	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		bool present;

		if (!ok(db_conn_exec(&db, steps[i], 0, NULL, res), "read schema_migrations"))
			return -1;
		present = db_get(*res, 0, "present")[0] == 't';
		PQclear(*res);
		if (!present)
			return 0;
	}
	if (sealed_columns(cols, (int)(sizeof(cols) / sizeof(*cols)), &ncols) != 0)
		return -1;
	for (int i = 0; i < ncols; i++) {
		const char *params[4] = {cols[i].table, cols[i].column, NULL, "1"};

		if (!ok(db_conn_exec(&db, &st_rot_scan, 4, params, res), "read sealed values"))
			return -1;
		if (PQntuples(*res) > 0) {
			*col = cols[i];
			return 1;
		}
		PQclear(*res);
	}
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

/* ---- connections ------------------------------------------------------ */

/* A database that does not answer is given this long (the URL may say otherwise). */
#define CONNECT_TIMEOUT_S "10"

/*
 * Connects c to url (notices below warnings quiet); 0, or -1 with the
 * first line of libpq's reason in err (it names host and role, never a
 * password).
 */
static int
connect_url(struct db_conn *c, const char *url, char *err, size_t errlen)
{
	const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *const vals[] = {CONNECT_TIMEOUT_S, url, NULL};

	c->pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		util_snprintf(err, errlen, "%s", PQerrorMessage(c->pg));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(c->pg);
		c->pg = NULL;
		return -1;
	}
	(void)db_conn_simple(c, "SET client_min_messages = warning");
	return 0;
}

/* main's connection (db) to url; 0, or -1 (printed). */
static int
admin_connect(const char *url)
{
	char err[512];

	if (connect_url(&db, url, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: cannot connect: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

/* The plane's system user: the pool and the helpers run as it and read
 * the secret files, which are its (0600). */
#define SYSTEM_USER "launcher"
/* psql, openssl and the nginx test: what each may take at most. */
#define SETUP_CMD_TIMEOUT_MS 120000
/* Random bytes of each role's password (hex in the passfile), and the
 * longest password setup takes from an existing passfile. */
#define SETUP_PASSWORD_BYTES 24
#define SETUP_PASSWORD_MAX 128
/* A certificate closer than this to its end is a problem (doctor). */
#define TLS_MIN_DAYS 14

/* The roles of sql/setup/roles.sql, the psql variable of each password,
 * and the URL of launcher.conf each is named in. */
struct db_role {
	const char *name, *var, *what;
	size_t      url_off;
};

static const struct db_role roles[] = {
	{"launcher_owner", "owner_pw", "owner", offsetof(struct config, admin_database_url)},
	{"launcher_api", "api_pw", "api", offsetof(struct config, database_url)},
	{"launcher_maint", "maint_pw", "maint", offsetof(struct config, maintenance_database_url)},
};
#define NROLES (sizeof(roles) / sizeof(*roles))

struct setup_opts {
	const char *tenant, *tenant_name, *superuser_url;
	bool        new_master_key;
};

static const char *
role_url(const struct config *cfg, const struct db_role *r)
{
	return (const char *)cfg + r->url_off;
}

/* The value of keyword in the libpq conninfo url into out ("" when
 * absent); -1 when url does not parse. */
static int
url_option(const char *url, const char *keyword, char *out, size_t outlen)
{
	PQconninfoOption *opts, *o;
	char             *perr = NULL;

	out[0] = '\0';
	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		PQfreemem(perr);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
			util_snprintf(out, outlen, "%s", o->val);
	PQconninfoFree(opts);
	return 0;
}

/* Gives path to the system user when it exists; 0, or -1 (printed). */
static int
own_file(const char *path)
{
	struct passwd *pw = getpwnam(SYSTEM_USER);

	if (pw == NULL)
		return 0;
	if (chown(path, pw->pw_uid, pw->pw_gid) != 0) {
		fprintf(stderr, "launcher-admin: cannot give %s to %s: %s\n", path, SYSTEM_USER,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The directory of path (one level: /etc/launcher/tls under an existing
 * /etc/launcher), mode 0755, when missing; 0, or -1 (printed). */
static int
parent_dir_ensure(const char *path)
{
	char  dir[CONFIG_STR_MAX];
	char *slash;

	if (util_snprintf(dir, sizeof(dir), "%s", path) < 0 || (slash = strrchr(dir, '/')) == NULL ||
	    slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "launcher-admin: cannot make the directory %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* A password as the passfile and psql's \set take it unquoted. */
static bool
password_ok(const char *p)
{
	if (*p == '\0')
		return false;
	for (; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* The password of role in the passfile text buf ("" when none) into pw;
 * -1 when it is longer than pw holds. */
static int
pgpass_find(const char *buf, const char *role, char *pw, size_t pwlen)
{
	size_t rl = strlen(role);

	pw[0] = '\0';
	for (const char *line = buf; line != NULL && *line; ) {
		const char *end = strchr(line, '\n'), *f = line;
		size_t      len = end != NULL ? (size_t)(end - line) : strlen(line);
		int         field = 0;

		/* host:port:database:user:password; the fourth field is the user */
		while (field < 3 && (f = memchr(f, ':', len - (size_t)(f - line))) != NULL) {
			f++;
			field++;
		}
		if (line[0] != '#' && f != NULL && field == 3 && (size_t)(f - line) + rl < len &&
		    strncmp(f, role, rl) == 0 && f[rl] == ':') {
			size_t n = len - (size_t)(f - line) - rl - 1;

			if (n >= pwlen)
				return -1;
			memcpy(pw, f + rl + 1, n);
			pw[n] = '\0';
			return 0;
		}
		line = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/*
 * role's password from the passfile its URL names, a fresh one added
 * (the file written whole, atomically, 0600, the system user's) when
 * the file or the role's line is missing.  0, or -1 (printed).
 */
static int
pgpass_role(const struct config *cfg, const struct db_role *r, char *pw, size_t pwlen)
{
	char          path[CONFIG_STR_MAX], *buf = NULL, *out = NULL;
	unsigned char rnd[SETUP_PASSWORD_BYTES];
	size_t        len = 0, outlen;
	int           rc = -1;

	if (url_option(role_url(cfg, r), "passfile", path, sizeof(path)) != 0 || path[0] == '\0') {
		fprintf(stderr, "launcher-admin: the %s role's URL in launcher.conf names no passfile"
		    " (add passfile=/etc/launcher/pgpass to it): setup keeps the passwords there\n",
		    r->what);
		return -1;
	}
	if (util_read_file(path, 65536, &buf, &len) != 0) {
		fprintf(stderr, "launcher-admin: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (pgpass_find(buf != NULL ? buf : "", r->name, pw, pwlen) != 0) {
		fprintf(stderr, "launcher-admin: %s: the password of %s is longer than %d characters\n",
		    path, r->name, SETUP_PASSWORD_MAX);
		free(buf);
		return -1;
	}
	if (pw[0] != '\0') {
		if (!password_ok(pw))
			fprintf(stderr, "launcher-admin: %s: the password of %s has characters other than"
			    " letters and digits; remove its line to get a fresh one\n", path, r->name);
		free(buf);
		return password_ok(pw) ? 0 : -1;
	}
	randombytes_buf(rnd, sizeof(rnd));
	if (pwlen < 2 * sizeof(rnd) + 1)
		goto out;
	util_hex(pw, rnd, sizeof(rnd));
	outlen = len + 128 + strlen(r->name) + strlen(pw);
	if ((out = malloc(outlen)) == NULL ||
	    util_snprintf(out, outlen, "%s%s%s*:*:*:%s:%s\n", buf != NULL ? buf : "",
	    len > 0 && buf[len - 1] != '\n' ? "\n" : "",
	    buf == NULL ? "# host:port:database:user:password (written by launcher-admin setup)\n" : "",
	    r->name, pw) < 0)
		goto out;
	if (util_write_atomic(path, out, strlen(out), 0600) != 0) {
		fprintf(stderr, "launcher-admin: cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (own_file(path) == 0) {
		printf("pgpass: a new password for %s in %s\n", r->name, path);
		rc = 0;
	}
out:
	if (out != NULL) {
		sodium_memzero(out, strlen(out));
		free(out);
	}
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	sodium_memzero(rnd, sizeof(rnd));
	return rc;
}

/* envp's entry for the variable name (its "NAME=" prefix), or NULL. */
static char *
env_find(char **envp, size_t n, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (envp[i] != NULL && strncmp(envp[i], name, l) == 0 && envp[i][l] == '=')
			return envp[i];
	return NULL;
}

/*
 * The environment of psql for the superuser URL (a URL or a conninfo
 * string): ours (a PGPASSFILE given to us reaches psql), each setting of
 * the URL as the PG* variable libpq reads (PGHOST, PGPASSWORD...) in place
 * of ours, so that nothing of it reaches psql's argv, and PGDATABASE
 * postgres unless named.  env gets at most max-1 malloc'ed entries and a
 * NULL; -1 when url does not parse.
 */
static int
superuser_env(const char *url, char **env, size_t max)
{
	extern char     **environ;
	PQconninfoOption *opts, *defs;
	char             *perr = NULL;
	size_t            n = 0;

	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		PQfreemem(perr);
		return -1;
	}
	defs = PQconndefaults();
	for (PQconninfoOption *o = opts; o->keyword != NULL && n + 2 < max; o++)
		for (PQconninfoOption *d = defs; o->val != NULL && d != NULL && d->keyword != NULL; d++)
			if (strcmp(d->keyword, o->keyword) == 0 && d->envvar != NULL) {
				size_t l = strlen(d->envvar) + strlen(o->val) + 2;

				if ((env[n] = malloc(l)) != NULL &&
				    util_snprintf(env[n], l, "%s=%s", d->envvar, o->val) >= 0)
					n++;
			}
	for (char **e = environ; *e != NULL && n + 2 < max; e++) {
		size_t k = strcspn(*e, "=");
		char   name[128];

		if (k >= sizeof(name))
			continue;
		memcpy(name, *e, k);
		name[k] = '\0';
		if (env_find(env, n, name) == NULL && (env[n] = strdup(*e)) != NULL)
			n++;
	}
	if (env_find(env, n, "PGDATABASE") == NULL && (env[n] = strdup("PGDATABASE=postgres")) != NULL)
		n++;
	env[n] = NULL;
	PQconninfoFree(opts);
	PQconninfoFree(defs);
	return 0;
}

static void
env_free(char **env)
{
	for (size_t i = 0; env[i] != NULL; i++) {
		sodium_memzero(env[i], strlen(env[i]));
		free(env[i]);
	}
}

/*
 * The \set lines of roles.sql's variables into out: each role's SCRAM-SHA-256
 * verifier, computed here with libpq (as psql's \password does), so that
 * no password reaches the server, its log or pg_stat_activity.  libpq
 * wants a PGconn for its error message only: an unconnected one (a
 * conninfo it refuses to parse, so nothing is dialled).  0, or -1
 * (printed).
 */
static int
role_verifier_lines(char pw[][SETUP_PASSWORD_MAX + 1], char *out, size_t outlen)
{
	PGconn *c = PQconnectStart("launcher_admin_offline=1");
	size_t  off = 0;
	int     rc = 0;

	if (c == NULL) {
		fprintf(stderr, "launcher-admin: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < NROLES && rc == 0; i++) {
		char *v = PQencryptPasswordConn(c, pw[i], roles[i].name, "scram-sha-256");
		int   w;

		if (v == NULL || strchr(v, '\'') != NULL || strchr(v, '\\') != NULL) {
			fprintf(stderr, "launcher-admin: cannot compute the SCRAM verifier of %s\n",
			    roles[i].name);
			rc = -1;
		} else if ((w = util_snprintf(out + off, outlen - off, "\\set %s '%s'\n", roles[i].var,
		    v)) < 0)
			rc = -1;
		else
			off += (size_t)w;
		PQfreemem(v);
	}
	PQfinish(c);
	return rc;
}

/* The \set lines' room: SCRAM-SHA-256$<iter>:<salt>$<key>:<key> and more. */
#define VERIFIER_LINES_MAX (NROLES * 256)

/*
 * Runs sql/setup/roles.sql with psql as a superuser: the OS user postgres
 * over the local socket (peer authentication; we must be root), or the
 * superuser URL.  The passwords' SCRAM verifiers go first, as \set lines
 * on psql's stdin (role_verifier_lines).
 * 0, or -1 (printed: psql's last lines, terse, so no statement with a
 * password in it is echoed).
 */
static int
roles_apply(const struct config *cfg, const struct setup_opts *o, char pw[][SETUP_PASSWORD_MAX + 1])
{
	const char *const peer[] = {"runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v",
	    "ON_ERROR_STOP=1", "-d", "postgres", NULL};
	const char *const url[] = {"psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", NULL};
	char              path[CONFIG_STR_MAX + 32], err[256], tailtext[2048], *sql = NULL, *in = NULL;
	char             *env[512] = {NULL};
	struct spawn_tail tail = {.len = 0};
	size_t            len = 0, inlen, off;
	int               status = -1, rc = -1;

	if (o->superuser_url != NULL && superuser_env(o->superuser_url, env, sizeof(env) / sizeof(*env)) != 0) {
		fprintf(stderr, "launcher-admin: --superuser-url is not a libpq connection string\n");
		return -1;
	}
	if (util_snprintf(path, sizeof(path), "%s/setup/roles.sql", cfg->migrations_dir) < 0 ||
	    (sql = slurp(path, &len)) == NULL) {
		fprintf(stderr, "launcher-admin: cannot read %s/setup/roles.sql\n", cfg->migrations_dir);
		goto out;
	}
	inlen = len + 64 + VERIFIER_LINES_MAX;
	if ((in = malloc(inlen)) == NULL)
		goto out;
	off = (size_t)util_snprintf(in, inlen, "\\set VERBOSITY terse\n");
	if (role_verifier_lines(pw, in + off, inlen - off) != 0)
		goto out;
	off += strlen(in + off);
	if (off + len >= inlen)
		goto out;
	memcpy(in + off, sql, len + 1);
	if (spawn_argv(o->superuser_url != NULL ? url : peer,
	    o->superuser_url != NULL ? (const char *const *)env : NULL, in, SETUP_CMD_TIMEOUT_MS,
	    &status, spawn_tail_sink, &tail, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: psql: %s\n", err);
		goto out;
	}
	if (status != 0) {
		spawn_tail_text(&tail, 8, tailtext, sizeof(tailtext));
		fprintf(stderr, "launcher-admin: %s with psql failed (exit %d):\n%s\n", path, status,
		    tailtext);
		goto out;
	}
	printf("roles: launcher_owner, launcher_api, launcher_maint and the database launcher (%s)\n",
	    o->superuser_url != NULL ? "--superuser-url" : "as postgres");
	rc = 0;
out:
	if (in != NULL) {
		sodium_memzero(in, inlen);
		free(in);
	}
	free(sql);
	env_free(env);
	return rc;
}

/* The master key (32 random bytes: key 0 of the ring), when missing. */
static int
master_key_ensure(const struct config *cfg, bool new_ok)
{
	unsigned char     key[CRYPTO_KEY_BYTES];
	struct sealed_col col;
	struct stat       st;
	PGresult         *res;
	int               rc;

	if (stat(cfg->master_key_file, &st) == 0) {
		printf("master key: %s is there (kept)\n", cfg->master_key_file);
		return 0;
	}
	/* A database that already holds sealed values was sealed with a key
	 * that is lost here (a purge, a new host): a new key opens none. */
	if (!new_ok) {
		if ((rc = sealed_sample(&col, &res)) < 0)
			return -1;
		if (rc == 1) {
			PQclear(res);
			fprintf(stderr, "launcher-admin: %s is missing, but the database already holds"
			    " values sealed with a master key (%s.%s, and maybe more): put that key file"
			    " back (from your backup of %s), or pass --new-master-key to start with a new"
			    " key, with which those values never open again\n", cfg->master_key_file,
			    col.table, col.column, cfg->master_key_file);
			return -1;
		}
	}
	randombytes_buf(key, sizeof(key));
	rc = util_write_atomic(cfg->master_key_file, (const char *)key, sizeof(key), 0600);
	sodium_memzero(key, sizeof(key));
	if (rc != 0) {
		fprintf(stderr, "launcher-admin: cannot write %s: %s\n", cfg->master_key_file,
		    strerror(errno));
		return -1;
	}
	if (own_file(cfg->master_key_file) != 0)
		return -1;
	printf("master key: new, %s (mode 0600)\n", cfg->master_key_file);
	return 0;
}

/* The host of public_url (alert_url.h's reader), "localhost" when it has none. */
static void
public_host(const char *url, char *out, size_t outlen)
{
	int port;

	if (alert_url_host(url, out, outlen, &port) != 0 || out[0] == '\0')
		util_snprintf(out, outlen, "localhost");
}

/*
 * A self-signed certificate for public_url's host with its key (openssl;
 * the key goes from openssl to its file, never through argv), when either
 * file is missing.  The key 0600 and the system user's, the certificate
 * 0644; each written beside and renamed.
 */
static int
tls_ensure(const struct config *cfg)
{
	char        host[256], subj[300], san[300], cert_tmp[CONFIG_STR_MAX + 8];
	char        key_tmp[CONFIG_STR_MAX + 8], err[256], tailtext[1024];
	struct stat st;
	struct spawn_tail tail = {.len = 0};
	mode_t      old;
	int         status = -1, r;
	unsigned char a[16];

	if (stat(cfg->tls_cert_file, &st) == 0 && stat(cfg->tls_key_file, &st) == 0) {
		printf("tls: %s is there (kept)\n", cfg->tls_cert_file);
		return 0;
	}
	if (parent_dir_ensure(cfg->tls_cert_file) != 0 || parent_dir_ensure(cfg->tls_key_file) != 0)
		return -1;
	public_host(cfg->public_url, host, sizeof(host));
	if (util_snprintf(subj, sizeof(subj), "/CN=%s", host) < 0 ||
	    util_snprintf(san, sizeof(san), "subjectAltName=%s:%s",
	    inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1 ? "IP" : "DNS",
	    host) < 0 ||
	    util_snprintf(cert_tmp, sizeof(cert_tmp), "%s.tmp", cfg->tls_cert_file) < 0 ||
	    util_snprintf(key_tmp, sizeof(key_tmp), "%s.tmp", cfg->tls_key_file) < 0)
		return -1;
	{
		const char *const argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "825", "-subj", subj,
		    "-addext", san, "-keyout", key_tmp, "-out", cert_tmp, NULL};

		old = umask(077);
		r = spawn_argv(argv, NULL, NULL, SETUP_CMD_TIMEOUT_MS, &status, spawn_tail_sink, &tail,
		    err, sizeof(err));
		umask(old);
	}
	if (r != 0 || status != 0) {
		spawn_tail_text(&tail, 5, tailtext, sizeof(tailtext));
		fprintf(stderr, "launcher-admin: openssl could not make the certificate %s: %s\n",
		    cfg->tls_cert_file, r != 0 ? err : tailtext);
		(void)unlink(key_tmp);
		(void)unlink(cert_tmp);
		return -1;
	}
	if (chmod(key_tmp, 0600) != 0 || chmod(cert_tmp, 0644) != 0 || own_file(key_tmp) != 0 ||
	    rename(key_tmp, cfg->tls_key_file) != 0 || rename(cert_tmp, cfg->tls_cert_file) != 0) {
		fprintf(stderr, "launcher-admin: cannot install %s and %s: %s\n", cfg->tls_cert_file,
		    cfg->tls_key_file, strerror(errno));
		return -1;
	}
	printf("tls: a self-signed certificate for %s in %s (key %s)\n", host, cfg->tls_cert_file,
	    cfg->tls_key_file);
	return 0;
}

static void
setup_next_steps(const struct config *cfg, const char *slug)
{
	printf("\nlauncher-admin setup: done.  Next steps:\n"
	    "  1. start the plane:\n"
	    "       systemctl enable --now launcher-fcgi launcher-fcgi-ingest launcher-ws"
	    " launcher-scheduler launcher-notify launcher-issues launcher-backup.timer"
	    " launcher-dnscheck.timer launcher-nginx-reload.path\n"
	    "       systemctl reload nginx\n"
	    "  2. register the first user of the tenant %s (it becomes its superadmin):\n"
	    "       open %s/%s/ in a browser, or\n"
	    "       curl -X POST %s/%s/api/v1/auth/register -H 'Content-Type: application/json' \\\n"
	    "         -d '{\"email\": \"you@example.com\", \"password\": \"...\", \"first_name\": \"...\","
	    " \"last_name\": \"...\"}'\n"
	    "     (the certificate is self-signed until you install yours: %s)\n"
	    "  3. check the installation: launcher-admin doctor\n",
	    slug, cfg->public_url, slug, cfg->public_url, slug, cfg->tls_cert_file);
}

static int
setup_args(int argc, char **argv, struct setup_opts *o)
{
	o->tenant = "default";
	o->tenant_name = "Default";
	o->superuser_url = NULL;
	o->new_master_key = false;
	for (int i = 0; i < argc; i++) {
		const char **dst = strcmp(argv[i], "--tenant") == 0 ? &o->tenant :
		    strcmp(argv[i], "--tenant-name") == 0 ? &o->tenant_name :
		    strcmp(argv[i], "--superuser-url") == 0 ? &o->superuser_url : NULL;

		if (strcmp(argv[i], "--new-master-key") == 0) {
			o->new_master_key = true;
			continue;
		}
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "usage: launcher-admin [-c FILE] setup [--tenant SLUG]"
			    " [--tenant-name NAME] [--superuser-url URL] [--new-master-key]\n");
			return -1;
		}
		*dst = argv[++i];
	}
	if (!util_is_slug(o->tenant)) {
		fprintf(stderr, "launcher-admin: --tenant must match [a-z0-9-]{1,63} and not be a UUID\n");
		return -1;
	}
	if (o->superuser_url != NULL) {
		char pw[8];

		if (url_option(o->superuser_url, "password", pw, sizeof(pw)) != 0) {
			fprintf(stderr, "launcher-admin: --superuser-url is not a libpq connection string\n");
			return -1;
		}
		if (pw[0] != '\0') {
			sodium_memzero(pw, sizeof(pw));
			fprintf(stderr, "launcher-admin: --superuser-url holds a password, which the"
			    " process list shows to every user: put it in a passfile (~/.pgpass, or"
			    " PGPASSFILE=FILE, mode 0600) and give the URL without it\n");
			return -1;
		}
	}
	return 0;
}

/*
 * role-verifiers PASSFILE: the \set lines of sql/setup/roles.sql for the
 * three roles' passwords in PASSFILE (their SCRAM verifiers), for a caller
 * that runs roles.sql itself (the local stack).  No config needed.
 */
static int
role_verifiers(const char *path)
{
	char   pw[NROLES][SETUP_PASSWORD_MAX + 1], out[VERIFIER_LINES_MAX], *buf = NULL;
	size_t len = 0;
	int    rc = 1;

	if (util_read_file(path, 65536, &buf, &len) != 0 || buf == NULL) {
		fprintf(stderr, "launcher-admin: cannot read %s: %s\n", path,
		    strerror(errno != 0 ? errno : ENOENT));
		return 1;
	}
	for (size_t i = 0; i < NROLES; i++)
		if (pgpass_find(buf, roles[i].name, pw[i], sizeof(pw[i])) != 0 || !password_ok(pw[i])) {
			fprintf(stderr, "launcher-admin: %s: no usable password for %s\n", path,
			    roles[i].name);
			goto out;
		}
	if (role_verifier_lines(pw, out, sizeof(out)) == 0) {
		fputs(out, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
out:
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

/*
 * setup: every step is skipped when already done, so a second run (or one
 * after a failure) only does what is left.  Order: the passwords, the
 * roles and database, the master key (an upgrade's data step may need
 * it), the migrations, the first tenant, the certificate.
 */
static int
setup(const struct config *cfg, int argc, char **argv)
{
	char              pw[NROLES][SETUP_PASSWORD_MAX + 1];
	struct setup_opts o;
	const char       *params[2];
	PGresult         *res;
	int               rc = 1;

	if (setup_args(argc, argv, &o) != 0)
		return 2;
	/* Said before anything is written. */
	if (o.superuser_url == NULL && (geteuid() != 0 || getpwnam("postgres") == NULL)) {
		fprintf(stderr, "launcher-admin: setup creates the roles with psql as the OS user postgres:"
		    " run it as root on the PostgreSQL host, or pass --superuser-url URL\n");
		return 1;
	}
	for (size_t i = 0; i < NROLES; i++)
		if (pgpass_role(cfg, &roles[i], pw[i], sizeof(pw[i])) != 0)
			goto out;
	if (roles_apply(cfg, &o, pw) != 0 || admin_connect(cfg->admin_database_url) != 0 ||
	    master_key_ensure(cfg, o.new_master_key) != 0)
		goto out;
	if (migrate(cfg->migrations_dir) != 0 || env_migrate(cfg) != 0)
		goto out;
	params[0] = o.tenant;
	params[1] = o.tenant_name;
	if (!ok(db_conn_exec(&db, &st_tenant_ensure, 2, params, &res), "create tenant"))
		goto out;
	printf("tenant: %s (%s)\n", o.tenant, PQgetvalue(res, 0, 0));
	PQclear(res);
	if (tls_ensure(cfg) != 0)
		goto out;
	setup_next_steps(cfg, o.tenant);
	rc = 0;
out:
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0)
		fprintf(stderr, "launcher-admin: setup stopped; what was done stays, run it again once"
		    " fixed\n");
	return rc;
}

/* ---- doctor ----------------------------------------------------------- */

#define DOCTOR_MAX_PROBLEMS 64
/* Agents listed one by one; the rest are counted. */
#define DOCTOR_AGENTS_LISTED 10

struct doctor {
	char *problems[DOCTOR_MAX_PROBLEMS];
	int   n;
};

DB_STMT st_dr_role = {"admin_doctor_role",
    "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles"
    " WHERE rolname = current_user"};
/* Online agents whose version is not the plane's, and how many are online. */
DB_STMT st_dr_agents = {"admin_doctor_agents",
    "SELECT s.name, t.slug, coalesce(s.agent_version, '(none)') AS version,"
    " count(*) OVER () AS stale, (SELECT count(*) FROM launcher.servers"
    "  WHERE status IN ('online', 'degraded')) AS online"
    " FROM launcher.servers s JOIN launcher.tenants t ON t.id = s.tenant_id"
    " WHERE s.status IN ('online', 'degraded') AND s.agent_version IS DISTINCT FROM $1"
    " ORDER BY t.slug, s.name LIMIT $2::int"};
DB_STMT st_dr_online = {"admin_doctor_online",
    "SELECT count(*) AS online FROM launcher.servers WHERE status IN ('online', 'degraded')"};

static void
dr_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
dr_ok(const char *fmt, ...)
{
	va_list ap;

	fputs("ok: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/* A problem: printed now ("problem: ...", one line) and kept for the list. */
static void
dr_problem(struct doctor *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
dr_problem(struct doctor *d, const char *fmt, ...)
{
	char    line[1024];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = *(p + 1) == '\0' ? '\0' : ' ';
	printf("problem: %s\n", line);
	if (d->n < DOCTOR_MAX_PROBLEMS && (d->problems[d->n] = strdup(line)) != NULL)
		d->n++;
}

/*
 * Each role connects, and none has a privilege that would let the plane
 * step over row-level security or make roles.  The owner's connection
 * stays open in db for the checks that read the database; 0 when it
 * could connect.
 */
static int
dr_roles(struct doctor *d, const struct config *cfg)
{
	int owner = -1;

	for (size_t i = 0; i < NROLES; i++) {
		struct db_conn c = {0};
		PGresult      *res = NULL;
		char           msg[512];

		if (connect_url(&c, role_url(cfg, &roles[i]), msg, sizeof(msg)) != 0) {
			dr_problem(d, "database: the %s role cannot connect: %s", roles[i].what, msg);
			continue;
		}
		if (db_conn_exec(&c, &st_dr_role, 0, NULL, &res) != ERR_OK || PQntuples(res) != 1) {
			dr_problem(d, "database: cannot read the %s role's attributes", roles[i].what);
		} else if (strcmp(db_get(res, 0, "rolsuper"), "t") == 0 ||
		    strcmp(db_get(res, 0, "rolbypassrls"), "t") == 0 ||
		    strcmp(db_get(res, 0, "rolcreaterole"), "t") == 0) {
			dr_problem(d, "database: the %s role %s is%s%s%s: it must be none of these"
			    " (ALTER ROLE %s NOSUPERUSER NOBYPASSRLS NOCREATEROLE)", roles[i].what,
			    db_get(res, 0, "rolname"),
			    strcmp(db_get(res, 0, "rolsuper"), "t") == 0 ? " superuser" : "",
			    strcmp(db_get(res, 0, "rolbypassrls"), "t") == 0 ? " bypassrls" : "",
			    strcmp(db_get(res, 0, "rolcreaterole"), "t") == 0 ? " createrole" : "",
			    db_get(res, 0, "rolname"));
		} else
			dr_ok("database: the %s role %s connects (not superuser, bypassrls nor createrole)",
			    roles[i].what, db_get(res, 0, "rolname"));
		if (res != NULL)
			PQclear(res);
		if (strcmp(roles[i].name, "launcher_owner") == 0 && owner < 0) {
			db = c;
			owner = 0;
		} else
			db_conn_close(&c);
	}
	return owner;
}

/* One sealed value opened with the master key: the key is the one that
 * sealed the database's values (check-sealed opens them all). */
static void
dr_sealed(struct doctor *d, const struct config *cfg)
{
	struct crypto_keys k;
	struct sealed_col  col;
	PGresult          *res;
	char               err[512], *plain;
	size_t             plen;
	int                s;

	if ((s = sealed_sample(&col, &res)) < 0) {
		dr_problem(d, "sealed values: cannot read one from the database");
		return;
	}
	if (s == 0) {
		dr_ok("sealed values: none in the database yet");
		return;
	}
	if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0) {
		/* The master key's own problem is listed by its check. */
		printf("skip: sealed values: not opened (%s)\n", err);
		PQclear(res);
		return;
	}
	if ((plain = crypto_open(&k, db_get(res, 0, "tenant_id"), db_get(res, 0, "purpose"),
	    db_get(res, 0, "sealed"), &plen)) == NULL)
		dr_problem(d, "sealed values: %s.%s of row %s does not open with %s (key %d): it is not"
		    " the key that sealed the database's values (launcher-admin check-sealed counts"
		    " them)", col.table, col.column, db_get(res, 0, "row_id"), cfg->master_key_file,
		    crypto_sealed_key(db_get(res, 0, "sealed")));
	else {
		dr_ok("sealed values: one of %s.%s opens with the master key", col.table, col.column);
		sodium_memzero(plain, plen);
		free(plain);
	}
	crypto_keys_wipe(&k);
	PQclear(res);
}

static void
dr_migrations(struct doctor *d, const struct config *cfg)
{
	int n = migrations_pending(cfg->migrations_dir, false);

	if (n < 0)
		dr_problem(d, "migrations: cannot compare %s with the database", cfg->migrations_dir);
	else if (n > 0)
		dr_problem(d, "migrations: %d of %s not applied (launcher-admin migrate --dry-run lists"
		    " them)", n, cfg->migrations_dir);
	else
		dr_ok("migrations: every file of %s is applied", cfg->migrations_dir);
}

/* A secret file: there, no group or other access, the system user's when
 * it exists.  true when it is. */
static bool
dr_secret_file(struct doctor *d, const char *what, const char *path)
{
	struct passwd *pw = getpwnam(SYSTEM_USER);
	struct stat    st;

	if (stat(path, &st) != 0) {
		dr_problem(d, "%s %s: %s", what, path, strerror(errno));
		return false;
	}
	if ((st.st_mode & 077) != 0) {
		dr_problem(d, "%s %s has mode %04o: group or others may read it (chmod 0600 %s)", what,
		    path, (unsigned)(st.st_mode & 07777), path);
		return false;
	}
	if (pw != NULL && st.st_uid != pw->pw_uid) {
		dr_problem(d, "%s %s is owned by uid %u, not %s (chown %s %s)", what, path,
		    (unsigned)st.st_uid, SYSTEM_USER, SYSTEM_USER, path);
		return false;
	}
	dr_ok("%s %s: mode %04o%s", what, path, (unsigned)(st.st_mode & 07777),
	    pw != NULL ? ", owner " SYSTEM_USER : "");
	return true;
}

static void
dr_files(struct doctor *d, const struct config *cfg)
{
	struct crypto_keys k;
	char               err[512], seen[NROLES][CONFIG_STR_MAX];
	size_t             nseen = 0;

	if (dr_secret_file(d, "master key", cfg->master_key_file)) {
		if (crypto_keys_load(&k, cfg->master_key_file, err, sizeof(err)) != 0)
			dr_problem(d, "master key: %s", err);
		else {
			dr_ok("master key: a ring of %d key%s", k.nring, k.nring == 1 ? "" : "s");
			crypto_keys_wipe(&k);
		}
	}
	for (size_t i = 0; i < NROLES; i++) {
		char   path[CONFIG_STR_MAX];
		bool   dup = false;

		if (url_option(role_url(cfg, &roles[i]), "passfile", path, sizeof(path)) != 0) {
			dr_problem(d, "config: the %s role's URL is not a libpq connection string",
			    roles[i].what);
			continue;
		}
		for (size_t j = 0; j < nseen; j++)
			dup |= strcmp(seen[j], path) == 0;
		if (path[0] == '\0' || dup)
			continue;
		util_snprintf(seen[nseen++], sizeof(seen[0]), "%s", path);
		(void)dr_secret_file(d, "pgpass", path);
	}
	if (nseen == 0)
		dr_ok("pgpass: the database URLs name no passfile");
}

/* The certificate of the plane's nginx: readable, more than TLS_MIN_DAYS left. */
/* A certificate's expiry (more than TLS_MIN_DAYS left), what: its check's name. */
static void
dr_cert(struct doctor *d, const char *what, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;
	int   days = 0, secs = 0;

	if (f == NULL) {
		dr_problem(d, "%s: %s: %s", what, path, strerror(errno));
		return;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL || !ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		dr_problem(d, "%s: %s is not a PEM certificate", what, path);
	else if (days < 0 || secs < 0)
		dr_problem(d, "%s: %s expired %d days ago", what, path, -days);
	else if (days < TLS_MIN_DAYS)
		dr_problem(d, "%s: %s expires in %d days (less than %d): renew it", what, path, days,
		    TLS_MIN_DAYS);
	else
		dr_ok("%s: %s is valid for %d more days", what, path, days);
	X509_free(x);
}

/* nginx's certificate and key; with plane_hostname, the plane's own
 * (launcher-dnscheck renews it: one that nears its end says it does not). */
static void
dr_tls(struct doctor *d, const struct config *cfg)
{
	dr_cert(d, "tls", cfg->tls_cert_file);
	(void)dr_secret_file(d, "tls key", cfg->tls_key_file);
	if (cfg->plane_hostname[0] != '\0')
		dr_cert(d, "plane tls", cfg->plane_tls_cert);
}

static void
dr_nginx(struct doctor *d, const struct config *cfg)
{
	char tail[1024];
	int  status = -1;

	if (cfg->nginx_test_command[0] == '\0') {
		dr_ok("nginx: not checked (nginx_test_command is empty)");
		return;
	}
	if (spawn_command(cfg->nginx_test_command, SETUP_CMD_TIMEOUT_MS, &status, tail,
	    sizeof(tail)) != 0)
		dr_problem(d, "nginx: `%s` did not run: %s", cfg->nginx_test_command, tail);
	else if (status != 0)
		dr_problem(d, "nginx: `%s` failed (exit %d): %s", cfg->nginx_test_command, status, tail);
	else
		dr_ok("nginx: `%s` passes", cfg->nginx_test_command);
}

/* Online agents whose version differs from the plane's (LAUNCHER_VERSION). */
static void
dr_agents(struct doctor *d)
{
	char        lim[16];
	const char *params[2] = {LAUNCHER_VERSION, lim};
	PGresult   *res;
	int64_t     stale = 0;
	int         rows;

	util_snprintf(lim, sizeof(lim), "%d", DOCTOR_AGENTS_LISTED);
	if (db_conn_exec(&db, &st_dr_agents, 2, params, &res) != ERR_OK) {
		dr_problem(d, "agents: cannot read the servers: %s", db_conn_error(&db));
		return;
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++)
		dr_problem(d, "agents: server %s of tenant %s runs agent %s, the plane is %s",
		    db_get(res, i, "name"), db_get(res, i, "slug"), db_get(res, i, "version"),
		    LAUNCHER_VERSION);
	if (rows > 0 && util_parse_i64(db_get(res, 0, "stale"), 0, INT64_MAX, &stale) == 0 &&
	    stale > rows)
		dr_problem(d, "agents: and more (%s online agents are not %s in all)",
		    db_get(res, 0, "stale"), LAUNCHER_VERSION);
	PQclear(res);
	if (rows > 0)
		return;
	if (db_conn_exec(&db, &st_dr_online, 0, NULL, &res) != ERR_OK) {
		dr_problem(d, "agents: cannot count the servers: %s", db_conn_error(&db));
		return;
	}
	dr_ok("agents: the %s online agents run %s, as the plane", db_get(res, 0, "online"),
	    LAUNCHER_VERSION);
	PQclear(res);
}

/*
 * doctor: every check runs and prints ok: or problem: lines; exit 0 only
 * when no problem, else 1 with the list at the end.  A check that cannot
 * run (the database down) is a problem too, never the end of the run.
 */
static int
doctor(const char *conf)
{
	struct config cfg;
	struct doctor d = {.n = 0};
	char          err[512];

	if (config_load(&cfg, conf, err, sizeof(err)) != 0)
		dr_problem(&d, "config: %s", err);
	else {
		dr_ok("config: %s parses", conf);
		if (dr_roles(&d, &cfg) == 0) {
			dr_migrations(&d, &cfg);
			dr_sealed(&d, &cfg);
			dr_agents(&d);
			db_conn_close(&db);
		} else
			dr_problem(&d, "migrations, agents: not checked (the owner role cannot connect)");
		dr_files(&d, &cfg);
		dr_tls(&d, &cfg);
		dr_nginx(&d, &cfg);
	}
	if (d.n == 0) {
		printf("doctor: no problem\n");
		return 0;
	}
	printf("\ndoctor: %d problem%s:\n", d.n, d.n == 1 ? "" : "s");
	for (int i = 0; i < d.n; i++) {
		printf("  - %s\n", d.problems[i]);
		free(d.problems[i]);
	}
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: launcher-admin [-c FILE] COMMAND   (FILE: " ADMIN_DEFAULT_CONF ")\n"
	    "  setup [--tenant SLUG] [--tenant-name NAME] [--superuser-url URL] [--new-master-key]\n"
	    "  doctor\n"
	    "  migrate [--dry-run]\n"
	    "  tenant create|ensure SLUG [NAME] | tenant list\n"
	    "  server ensure TENANT NAME --token-file FILE [--host HOST] [--base-domain DOMAIN]\n"
	    "  quota list TENANT | quota set TENANT KIND N|unlimited|default\n"
	    "  rotate-master-key [--batch N] [--resume] [--pool-stopped]\n"
	    "  check-sealed\n"
	    "  role-verifiers PASSFILE   (roles.sql's \\set lines: SCRAM verifiers, no config)\n");
}

/* The commands that run on main's connection (admin_database_url). */
static int
dispatch(const struct config *cfg, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "migrate") == 0) {
		if (argc == 2 && strcmp(argv[1], "--dry-run") == 0)
			return migrate_plan(cfg->migrations_dir);
		if (argc != 1) {
			usage();
			return 2;
		}
		return migrate(cfg->migrations_dir) != 0 ? 1 : env_migrate(cfg);
	}
	if (strcmp(cmd, "tenant") == 0)
		return tenant(db.pg, argc - 1, argv + 1);
	if (strcmp(cmd, "server") == 0)
		return server(db.pg, cfg, argc - 1, argv + 1);
	if (strcmp(cmd, "quota") == 0)
		return quota(db.pg, cfg, argc - 1, argv + 1);
	if (strcmp(cmd, "rotate-master-key") == 0)
		return rotate_master_key(cfg, argc - 1, argv + 1);
	if (strcmp(cmd, "check-sealed") == 0)
		return check_sealed(cfg);
	fprintf(stderr, "launcher-admin: unknown command %s\n", cmd);
	usage();
	return 2;
}

/*
 * doctor loads the config itself (a config that does not parse is one of
 * its problems) and reports a database it cannot reach; setup runs before
 * the roles exist.  Every other command needs the owner's connection.
 */
int
main(int argc, char **argv)
{
	struct config cfg;
	char          err[512];
	const char   *conf = ADMIN_DEFAULT_CONF;
	int           i = 1, rc;

	db_conn_check_names();
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		conf = argv[2];
		i = 3;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		usage();
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if (strcmp(argv[i], "role-verifiers") == 0) {
		if (argc != i + 2) {
			usage();
			return 2;
		}
		return role_verifiers(argv[i + 1]);
	}
	if (strcmp(argv[i], "doctor") == 0) {
		if (argc > i + 1) {
			usage();
			return 2;
		}
		return doctor(conf);
	}
	if (config_load(&cfg, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-admin: %s\n", err);
		return 1;
	}
	if (strcmp(argv[i], "setup") == 0)
		rc = setup(&cfg, argc - i - 1, argv + i + 1);
	else if (admin_connect(cfg.admin_database_url) != 0)
		return 1;
	else
		rc = dispatch(&cfg, argc - i, argv + i);
	db_conn_close(&db);
	return rc;
}
