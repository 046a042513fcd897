/*
 * db.c - the db.* job kinds (contract in db.h).  Runs inside the job's
 * child process; the engine calls are ctr.c's, volume.c's and image.c's.
 */
#include "db.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/util.h"
#include "backup.h"
#include "backup_dest.h"
#include "ctr.h"
#include "engine.h"
#include "image.h"
#include "pitr.h"
#include "runner.h"
#include "text.h"
#include "timefmt.h"
#include "volume.h"
#include "xfer.h"

#define DB_OUT_MAX  4096
#define LOGS_MAX    8192

struct db_ctx {
	struct app_job   *j;
	struct db_spec    d;
	struct app_spec   s;		/* the container (db_container_spec) */
	cJSON            *env;		/* s.env's object (credentials) */
	struct app_redact red;
	struct app_io     io;
	struct xfer       x;
	struct arena      a;
	char              name[96];	/* lnchr-db-<id> */
	/* pitr.h: the database's repository ("pitr"), and the one a restore
	 * reads ("pitr_restore": source) with its target. */
	struct pitr_repo  pitr, src;
	bool              has_pitr, has_restore;
	const char       *target_time;
};

/* ------------------------------------------------------------ pure parts */

int
db_container_name(const char *database_id, char *out, size_t outlen)
{
	if (database_id == NULL || !text_word_ok(database_id, APP_ID_MAX - 1, "-_"))
		return -1;
	return util_snprintf(out, outlen, DB_NAME_PREFIX "%s", database_id) < 0 ? -1 : 0;
}

int
db_container_spec(const struct db_spec *d, const char *host_ip, struct app_spec *s, cJSON **env)
{
	static const cJSON empty = {.type = cJSON_Object};

	memset(s, 0, sizeof(*s));
	if ((*env = cJSON_CreateObject()) == NULL)
		return -1;
	if (d->env_user != NULL && d->db_user != NULL)
		cJSON_AddStringToObject(*env, d->env_user, d->db_user);
	if (d->env_password != NULL && d->password != NULL)
		cJSON_AddStringToObject(*env, d->env_password, d->password);
	if (d->env_database != NULL && d->db_name != NULL)
		cJSON_AddStringToObject(*env, d->env_database, d->db_name);
	memcpy(s->tenant_id, d->tenant_id, sizeof(s->tenant_id));
	memcpy(s->project_id, d->project_id, sizeof(s->project_id));
	memcpy(s->database_id, d->database_id, sizeof(s->database_id));
	s->name = d->name;
	s->app_type = "worker";
	s->replicas = 1;
	s->restart_policy = d->restart_policy != NULL ? d->restart_policy : "always";
	s->exposed_port = d->port;
	s->publish_db = d->is_public;
	s->host_ip = host_ip;
	s->net_alias = d->internal_host;
	s->cpu_limit = d->cpu_limit;
	s->memory_limit = d->memory_limit;
	s->env = *env != NULL ? *env : &empty;
	s->src = APP_SRC_IMAGE;
	s->image = d->image;
	if (d->volume_id[0] != '\0' && d->data_path != NULL) {
		memcpy(s->vols[0].volume_id, d->volume_id, sizeof(s->vols[0].volume_id));
		s->vols[0].mount_path = d->data_path;
		s->nvols = 1;
	}
	return 0;
}

void
db_env_add(cJSON *arr, const char *k, const char *v)
{
	size_t n;
	char  *kv;

	if (k == NULL || v == NULL || (kv = malloc(n = strlen(k) + strlen(v) + 2)) == NULL)
		return;
	(void)util_snprintf(kv, n, "%s=%s", k, v);
	cJSON_AddItemToArray(arr, cJSON_CreateString(kv));
	explicit_bzero(kv, strlen(kv));
	free(kv);
}

cJSON *
db_client_env(const struct db_spec *d, bool with_new_password)
{
	cJSON *e = cJSON_CreateArray();

	if (e == NULL)
		return NULL;
	db_env_add(e, d->env_user, d->db_user);
	db_env_add(e, d->env_password, with_new_password ? d->new_password : d->password);
	db_env_add(e, d->env_database, d->db_name);
	return e;
}

/*
 * The rotation scripts.  The secrets are only in the exec's env
 * (LNCHR_DB_PASSWORD, LNCHR_DB_NEW_PASSWORD); the shell expands them into
 * a here-document, a client's env variable or a mongosh script reading
 * process.env, never into any process's argv.  User and database names
 * are passed by env too (no quoting of them in a script).
 */
static const char rot_postgres[] =
    "export PGCONNECT_TIMEOUT=10\n"
    "set -- -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p \"$LNCHR_DB_PORT\" -U \"$LNCHR_DB_USER\" "
    "-d \"${LNCHR_DB_NAME:-postgres}\"\n"
    "ok=\n"
    "for pw in \"$LNCHR_DB_PASSWORD\" \"$LNCHR_DB_NEW_PASSWORD\"; do\n"
    "  PGPASSWORD=\"$pw\" psql \"$@\" <<LNCHR_EOF && ok=1 && break\n"
    "ALTER USER CURRENT_USER PASSWORD '$LNCHR_DB_NEW_PASSWORD';\n"
    "LNCHR_EOF\n"
    "done\n"
    "[ -n \"$ok\" ] || exit 1\n"
    "PGPASSWORD=\"$LNCHR_DB_NEW_PASSWORD\" psql \"$@\" -t -c 'SELECT 1' >/dev/null || exit 1\n"
    "echo rotated\n";
static const char rot_mysql[] =
    "c=mysql; command -v mariadb >/dev/null 2>&1 && c=mariadb\n"
    "set -- --protocol=TCP -h 127.0.0.1 -P \"$LNCHR_DB_PORT\" -u \"$LNCHR_DB_USER\"\n"
    "ok=\n"
    "for pw in \"$LNCHR_DB_PASSWORD\" \"$LNCHR_DB_NEW_PASSWORD\"; do\n"
    "  MYSQL_PWD=\"$pw\" $c \"$@\" -e 'SELECT 1' >/dev/null || continue\n"
    "  MYSQL_PWD=\"$pw\" $c \"$@\" <<LNCHR_EOF 2>/dev/null && ok=1 && break\n"
    "SET PASSWORD = PASSWORD('$LNCHR_DB_NEW_PASSWORD');\n"
    "LNCHR_EOF\n"
    "  MYSQL_PWD=\"$pw\" $c \"$@\" <<LNCHR_EOF && ok=1 && break\n"
    "ALTER USER CURRENT_USER() IDENTIFIED BY '$LNCHR_DB_NEW_PASSWORD';\n"
    "LNCHR_EOF\n"
    "done\n"
    "[ -n \"$ok\" ] || exit 1\n"
    "MYSQL_PWD=\"$LNCHR_DB_NEW_PASSWORD\" $c \"$@\" -e 'SELECT 1' >/dev/null || exit 1\n"
    "echo rotated\n";
static const char rot_redis[] =
    "set -- redis-cli --no-auth-warning -h 127.0.0.1 -p \"$LNCHR_DB_PORT\"\n"
    "cur=\n"
    "for pw in \"$LNCHR_DB_PASSWORD\" \"$LNCHR_DB_NEW_PASSWORD\"; do\n"
    "  if REDISCLI_AUTH=\"$pw\" \"$@\" PING 2>&1 | grep -q PONG; then cur=$pw; break; fi\n"
    "done\n"
    "[ -n \"$cur\" ] || { echo 'redis accepts neither password' >&2; exit 1; }\n"
    "export REDISCLI_AUTH=\"$cur\"\n"
    "if ! \"$@\" INFO server | grep -q '^config_file:/'; then\n"
    "  echo 'redis runs without a config file: a new password would not survive a restart; "
    "nothing changed' >&2; exit 3\n"
    "fi\n"
    "out=$(\"$@\" <<LNCHR_EOF\n"
    "CONFIG SET requirepass $LNCHR_DB_NEW_PASSWORD\n"
    "CONFIG REWRITE\n"
    "LNCHR_EOF\n"
    ")\n"
    "echo \"$out\"\n"
    "[ \"$(printf '%s\\n' \"$out\" | grep -c '^OK')\" = 2 ] || exit 1\n"
    "export REDISCLI_AUTH=\"$LNCHR_DB_NEW_PASSWORD\"\n"
    "\"$@\" PING | grep -q PONG || exit 1\n"
    "echo rotated\n";
/*
 * ClickHouse keeps its users in a file (the image's
 * launcher-clickhouse-users writes it into the data volume, the password
 * from stdin; the server reloads it by itself): a password is tried over
 * HTTP with a Basic header built in the shell (never argv), so bash for
 * /dev/tcp.  An image without that helper is refused before any change.
 */
static const char rot_clickhouse[] =
    "ok() {\n"
    "  a=$(printf '%s:%s' \"$LNCHR_DB_USER\" \"$1\" | base64 -w0)\n"
    "  exec 3<>\"/dev/tcp/127.0.0.1/$LNCHR_DB_PORT\" || return 1\n"
    "  printf 'GET /?query=SELECT%%201 HTTP/1.0\\r\\nAuthorization: Basic %s\\r\\n\\r\\n' \"$a\" >&3\n"
    "  head -n 1 <&3 | grep -q ' 200 '; r=$?; exec 3<&-; return $r\n"
    "}\n"
    "cur=\n"
    "for pw in \"$LNCHR_DB_PASSWORD\" \"$LNCHR_DB_NEW_PASSWORD\"; do\n"
    "  if ok \"$pw\"; then cur=1; break; fi\n"
    "done\n"
    "[ -n \"$cur\" ] || { echo 'clickhouse accepts neither password' >&2; exit 1; }\n"
    "command -v launcher-clickhouse-users >/dev/null || { echo 'this image has no "
    "launcher-clickhouse-users: nothing changed' >&2; exit 3; }\n"
    "printf '%s' \"$LNCHR_DB_NEW_PASSWORD\" | launcher-clickhouse-users \"$LNCHR_DB_USER\" || exit 1\n"
    "for i in $(seq 100); do\n"
    "  if ok \"$LNCHR_DB_NEW_PASSWORD\"; then echo rotated; exit 0; fi\n"
    "  sleep 0.2\n"
    "done\n"
    "echo 'the new password was written but clickhouse does not take it' >&2; exit 1\n";
static const char rot_mongodb[] =
    "const e = process.env; let m = null;"
    "for (const pw of [e.LNCHR_DB_PASSWORD, e.LNCHR_DB_NEW_PASSWORD]) {"
    " try {"
    "  m = new Mongo('mongodb://' + encodeURIComponent(e.LNCHR_DB_USER) + ':' +"
    "   encodeURIComponent(pw) + '@127.0.0.1:' + e.LNCHR_DB_PORT + '/?authSource=admin');"
    "  m.getDB('admin').runCommand({ping: 1}); break;"
    " } catch (x) { m = null; }"
    "}"
    "if (m === null) throw new Error('mongodb accepts neither password');"
    "m.getDB('admin').changeUserPassword(e.LNCHR_DB_USER, e.LNCHR_DB_NEW_PASSWORD);"
    "print('rotated');";

int
db_rotate_cmd(const struct db_spec *d, cJSON **cmd, cJSON **env, char *err, size_t errlen)
{
	const char *script = NULL;
	char        port[16];

	*cmd = *env = NULL;
	if (d->type == NULL || d->password == NULL || d->new_password == NULL) {
		util_snprintf(err, errlen, "rotate_password needs type, password and new_password");
		return -1;
	}
	if (strcmp(d->type, "postgres") == 0)
		script = rot_postgres;
	else if (strcmp(d->type, "mysql") == 0)
		script = rot_mysql;
	else if (strcmp(d->type, "redis") == 0)
		script = rot_redis;
	else if (strcmp(d->type, "clickhouse") == 0)
		script = rot_clickhouse;
	else if (strcmp(d->type, "mongodb") != 0) {
		util_snprintf(err, errlen, "no password rotation for type %s", d->type);
		return -1;
	}
	if ((*cmd = cJSON_CreateArray()) == NULL || (*env = cJSON_CreateArray()) == NULL)
		goto nomem;
	if (script != NULL) {
		cJSON_AddItemToArray(*cmd, cJSON_CreateString(script == rot_clickhouse ? "bash" : "sh"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString("-c"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString(script));
	} else {
		cJSON_AddItemToArray(*cmd, cJSON_CreateString("mongosh"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString("--nodb"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString("--quiet"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString("--eval"));
		cJSON_AddItemToArray(*cmd, cJSON_CreateString(rot_mongodb));
	}
	util_snprintf(port, sizeof(port), "%d", d->port);
	db_env_add(*env, "LNCHR_DB_PORT", port);
	db_env_add(*env, "LNCHR_DB_USER", d->db_user != NULL ? d->db_user : "default");
	if (d->db_name != NULL)
		db_env_add(*env, "LNCHR_DB_NAME", d->db_name);
	db_env_add(*env, "LNCHR_DB_PASSWORD", d->password);
	db_env_add(*env, "LNCHR_DB_NEW_PASSWORD", d->new_password);
	if (cJSON_GetArraySize(*env) < 4)
		goto nomem;
	return 0;
nomem:
	cJSON_Delete(*cmd);
	cJSON_Delete(*env);
	*cmd = *env = NULL;
	util_snprintf(err, errlen, "out of memory");
	return -1;
}

/* ----------------------------------------------------------------- job */

/* Sets the job's error, redacted. */
#define fail(c, ...) app_job_fail((c)->j, &(c)->red, __VA_ARGS__)

/* The container's last log lines, redacted, into out. */
static void
last_logs(struct db_ctx *c, const char *id, char *out, size_t outlen)
{
	char *raw = arena_alloc(&c->a, LOGS_MAX);

	if (raw == NULL || ctr_logs_tail(&c->x, &c->a, id, APP_LOG_TAIL, raw, LOGS_MAX) != 0 ||
	    raw[0] == '\0')
		util_snprintf(out, outlen, "(the engine gave no logs)");
	else
		app_redact(&c->red, raw, out, outlen);
}

/*
 * Our container: 0 with *doc, 1 when there is none, -1 (error set: e.g.
 * a container of our name that is not this database's).
 */
static int
find(struct db_ctx *c, cJSON **doc)
{
	char        err[1024];
	const char *m, *db;
	int         rc = ctr_inspect(&c->x, &c->a, c->name, CTR_TIMEOUT_MS, doc, err, sizeof(err));

	if (rc < 0)
		return fail(c, "%s", err);
	if (rc == 1)
		return 1;
	m = ctr_label(*doc, "launcher.managed");
	db = ctr_label(*doc, "launcher.database");
	if (m == NULL || strcmp(m, "1") != 0 || db == NULL || strcmp(db, c->d.database_id) != 0)
		return fail(c, "container %s exists but does not carry launcher's labels for this "
		    "database: left alone", c->name);
	return 0;
}

static int
result_running(struct db_ctx *c, const char *id)
{
	cJSON *doc, *r;
	char   err[1024];
	int    port = 0;

	if (ctr_inspect(&c->x, &c->a, id, CTR_TIMEOUT_MS, &doc, err, sizeof(err)) != 0)
		return fail(c, "container %s after its start: %s", c->name, err);
	if (c->d.is_public)
		port = ctr_host_port(doc, c->d.port);
	if ((r = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	cJSON_AddStringToObject(r, "status", "running");
	cJSON_AddStringToObject(r, "container_id", ctr_id(doc));
	if (port > 0)
		cJSON_AddNumberToObject(r, "public_port", port);
	else
		cJSON_AddNullToObject(r, "public_port");
	c->j->result = r;
	if (c->d.is_public && port == 0)
		return fail(c, "container %s runs but the engine published no host port", c->name);
	return 0;
}

void
db_env_free(cJSON *arr)
{
	cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		if (cJSON_IsString(it))
			explicit_bzero(it->valuestring, strlen(it->valuestring));
	}
	cJSON_Delete(arr);
}

/*
 * Runs the readiness argv in the container until it exits 0, the
 * container stops, or ready_timeout_s pass.  0, or -1 (error set, with
 * the last log lines).
 */
static int
readiness(struct db_ctx *c, const char *id)
{
	int64_t t0 = timefmt_mono_ms(), limit = (int64_t)c->d.ready_timeout_s * 1000, nap = 100;
	cJSON  *env = db_client_env(&c->d, false);
	char    out[DB_OUT_MAX], last[DB_OUT_MAX] = "", err[1024], logs[LOGS_MAX];
	char    why[DB_OUT_MAX + 128] = "";
	int     tries = 0, rc = -1;

	if (env == NULL)
		return fail(c, "out of memory");
	app_say(&c->io, "waiting for %s to be ready (timeout %d s)", c->d.type, c->d.ready_timeout_s);
	for (;;) {
		struct arena scratch;
		cJSON       *doc;
		int          code, st;
		bool         trunc, timed_out;

		arena_init(&scratch, 16384);
		st = ctr_inspect(&c->x, &scratch, id, 5000L, &doc, err, sizeof(err));
		if (st != 0 || !ctr_running(doc)) {
			const cJSON *ec = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(doc, "State"), "ExitCode");

			if (st == 0)
				util_snprintf(why, sizeof(why), "container %s exited with code %d", c->name,
				    cJSON_IsNumber(ec) ? (int)ec->valuedouble : -1);
			else
				util_snprintf(why, sizeof(why), "container %s: %s", c->name,
				    st == 1 ? "removed" : err);
			arena_free(&scratch);
			break;
		}
		tries++;
		if (ctr_exec(&c->x, &scratch, id, c->d.readiness, env, DB_EXEC_TIMEOUT_MS, out,
		    sizeof(out), &code, &trunc, &timed_out, err, sizeof(err)) != 0)
			util_snprintf(last, sizeof(last), "%s", err);
		else if (code == 0) {
			arena_free(&scratch);
			rc = 0;
			break;
		} else
			util_snprintf(last, sizeof(last), "exit %d%s: %s", code,
			    timed_out ? " (timed out)" : "", out);
		arena_free(&scratch);
		if (timefmt_mono_ms() - t0 >= limit) {
			util_snprintf(why, sizeof(why), "not ready after %d s (%d probes; last: %s)",
			    c->d.ready_timeout_s, tries, last);
			break;
		}
		timefmt_sleep_ms(nap);
		if (timefmt_mono_ms() - t0 > 2000)
			nap = nap * 2 < 1000 ? nap * 2 : 1000;
	}
	db_env_free(env);
	if (rc == 0) {
		app_say(&c->io, "%s is ready after %.1f s", c->d.type, (timefmt_mono_ms() - t0) / 1000.0);
		return 0;
	}
	last_logs(c, id, logs, sizeof(logs));
	return fail(c, "%s; last log lines:\n%s", why, logs);
}

/*
 * Creates (data volume, network, image, container) and starts the
 * database's container; *id gets it once it exists.  0, or -1 (error set).
 */
static int
create_started(struct db_ctx *c, char *id, size_t idlen)
{
	struct image_out im;
	char             warning[VOL_WARNING_MAX], err[4096];

	id[0] = '\0';
	if (ctr_network_ensure(&c->x, &c->a, c->d.tenant_id, c->d.project_id, err,
	    sizeof(err)) != 0)
		return fail(c, "%s", err);
	app_say(&c->io, "network " CTR_NET_PREFIX "%s ready", c->d.project_id);
	if (image_ensure(&c->x, &c->a, c->d.image, &c->io, &im, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	if (vol_ensure(&c->x, &c->a, &c->s, &c->s.vols[0], warning, sizeof(warning), err,
	    sizeof(err)) != 0)
		return fail(c, "%s", err);
	app_say(&c->io, "volume %s%s ready for %s%s%s", VOL_PREFIX, c->d.volume_id, c->d.data_path,
	    warning[0] ? ": " : "", warning);
	if (c->has_pitr && pitr_repo_dir(&c->pitr, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	/* A point-in-time clone: the source's repository restored into the new
	 * volume before the first start (which then finds a cluster). */
	if (c->has_restore && strcmp(c->j->kind, "db.provision") == 0 &&
	    pitr_restore_run(&c->x, &c->a, &c->io, &c->s, im.image_id, arena_printf(&c->a,
	    "%s-pitr", c->name), &c->src, c->d.db_user, c->d.data_path, c->target_time, false, err,
	    sizeof(err)) != 0)
		return fail(c, "%s", err);
	if (ctr_create(&c->x, &c->a, &c->s, im.image_id, c->name, 0, id, idlen, err,
	    sizeof(err)) != 0)
		return fail(c, "%s", err);
	app_say(&c->io, "starting container %s (%s)", c->name, c->d.is_public ?
	    "public: a host port is published" : "not public: no host port");
	if (ctr_action(&c->x, &c->a, id, "start", err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	return 0;
}

/* What a failed provision made goes: the container, then the data volume (if ours). */
static void
undo_provision(struct db_ctx *c, const char *id, bool say)
{
	char   err[1024], keep[RUNNER_MAX_ERROR];
	cJSON *res = NULL, *doc;

	util_snprintf(keep, sizeof(keep), "%s", c->j->error);
	if (id == NULL || id[0] == '\0')
		id = find(c, &doc) == 0 ? c->name : NULL;
	if (id != NULL) {
		if (ctr_remove(&c->x, &c->a, id, err, sizeof(err)) != 0)
			app_say(&c->io, "could not remove container %s: %s", c->name, err);
		else if (say)
			app_say(&c->io, "removed container %s", c->name);
	}
	if (vol_remove(&c->x, &c->a, c->j->payload, c->io.emit, c->io.ud, &res, err,
	    sizeof(err)) != 0)
		app_say(&c->io, "could not remove the data volume: %s", err);
	cJSON_Delete(res);
	util_snprintf(c->j->error, c->j->errlen, "%s", keep);
}

/*
 * A pitr database's base backup of backup_type (NULL: the window alone)
 * into the result's "pitr"; nothing without "pitr".  0 or -1 (error set).
 */
static int
pitr_result(struct db_ctx *c, const char *id, const char *backup_type)
{
	cJSON *w;
	char   err[4096];

	if (!c->has_pitr)
		return 0;
	if (pitr_backup(&c->x, &c->a, &c->io, id, backup_type, &w, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	if (c->j->result == NULL)
		c->j->result = cJSON_CreateObject();
	cJSON_AddItemToObject(c->j->result, "pitr", w);
	return 0;
}

static int
kind_provision(struct db_ctx *c)
{
	char   id[128];
	cJSON *doc;
	int    rc;

	app_say(&c->io, "database %s (%s): provisioning container %s", c->d.name[0] ? c->d.name :
	    c->d.database_id, c->d.type, c->name);
	if ((rc = find(c, &doc)) < 0)
		return -1;
	if (rc == 0) {
		/* An earlier attempt (an agent killed half-way): the database never
		 * ran for its users, so it starts afresh, data volume included. */
		app_say(&c->io, "container %s from an earlier attempt: removing it and its data "
		    "volume", c->name);
		undo_provision(c, c->name, true);
	}
	if (create_started(c, id, sizeof(id)) != 0 || readiness(c, id) != 0 ||
	    backup_provision_restore(c->j, &c->d, id) != 0 || result_running(c, id) != 0 ||
	    pitr_result(c, id, "full") != 0) {
		undo_provision(c, id, true);
		cJSON_Delete(c->j->result);
		c->j->result = NULL;
		return -1;
	}
	app_say(&c->io, "database %s is running", c->d.name[0] ? c->d.name : c->d.database_id);
	return 0;
}

static int
kind_start(struct db_ctx *c)
{
	char   id[128], err[1024];
	cJSON *doc;
	int    rc = find(c, &doc);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		app_say(&c->io, "container %s is gone: creating it again (the data volume stays)",
		    c->name);
		if (create_started(c, id, sizeof(id)) != 0) {
			char keep[RUNNER_MAX_ERROR];

			util_snprintf(keep, sizeof(keep), "%s", c->j->error);
			if (id[0] != '\0')
				(void)ctr_remove(&c->x, &c->a, id, err, sizeof(err));
			util_snprintf(c->j->error, c->j->errlen, "%s", keep);
			return -1;
		}
	} else {
		util_snprintf(id, sizeof(id), "%s", ctr_id(doc));
		if (ctr_running(doc))
			app_say(&c->io, "container %s is already running", c->name);
		else {
			app_say(&c->io, "starting container %s", c->name);
			if (ctr_action(&c->x, &c->a, id, "start", err, sizeof(err)) != 0)
				return fail(c, "%s", err);
		}
	}
	if (readiness(c, id) != 0)
		return -1;
	return result_running(c, id);
}

/*
 * A restart re-creates the container from the payload (the plane queues one
 * when public, cpu_limit or memory_limit change): the data is on the volume.
 */
static int
kind_restart(struct db_ctx *c)
{
	char   id[128], err[1024];
	cJSON *doc;
	int    rc = find(c, &doc);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return kind_start(c);
	util_snprintf(id, sizeof(id), "%s", ctr_id(doc));
	app_say(&c->io, "restarting: container %s is stopped and created again from the current "
	    "settings (the data volume stays)", c->name);
	if (ctr_running(doc) && ctr_action(&c->x, &c->a, id, "stop", err, sizeof(err)) != 0)
		app_say(&c->io, "%s", err);	/* the removal below forces it */
	if (ctr_remove(&c->x, &c->a, id, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	if (create_started(c, id, sizeof(id)) != 0)
		return -1;
	if (readiness(c, id) != 0)
		return -1;
	return result_running(c, id);
}

static int
kind_stop(struct db_ctx *c)
{
	char   err[1024];
	cJSON *doc, *r;
	int    rc = find(c, &doc);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return fail(c, "container %s does not exist", c->name);
	app_say(&c->io, "stopping container %s", c->name);
	if (ctr_action(&c->x, &c->a, ctr_id(doc), "stop", err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	/* A switch (sql/037): its container goes; a start makes it again from
	 * the row (its new name and alias), the data volume stays. */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->j->payload, "remove_container"))) {
		if (ctr_remove(&c->x, &c->a, ctr_id(doc), err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		app_say(&c->io, "removed container %s (the data volume stays)", c->name);
	}
	if ((r = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	cJSON_AddStringToObject(r, "status", "stopped");
	cJSON_AddStringToObject(r, "container_id", ctr_id(doc));
	c->j->result = r;
	return 0;
}

static int
kind_remove(struct db_ctx *c)
{
	char         err[1024];
	cJSON       *doc, *r, *vr = NULL;
	const cJSON *rem;
	int          rc = find(c, &doc);
	bool         gone = false, vol = false;

	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (ctr_remove(&c->x, &c->a, ctr_id(doc), err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		app_say(&c->io, "removed container %s", c->name);
		gone = true;
	} else
		app_say(&c->io, "container %s does not exist: nothing to remove", c->name);
	if (c->d.delete_data && c->d.volume_id[0] != '\0') {
		if (vol_remove(&c->x, &c->a, c->j->payload, c->j->emit, c->j->ud, &vr, err,
		    sizeof(err)) != 0)
			return fail(c, "%s", err);
		rem = cJSON_GetObjectItemCaseSensitive(vr, "removed");
		vol = cJSON_IsTrue(rem);
		cJSON_Delete(vr);
	} else if (c->d.volume_id[0] != '\0')
		app_say(&c->io, "data volume %s%s kept (delete_data not set)", VOL_PREFIX,
		    c->d.volume_id);
	ctr_network_prune(&c->x, &c->a, c->d.tenant_id, c->d.project_id, err, sizeof(err));
	if (err[0] != '\0')
		app_say(&c->io, "%s", err);
	if ((r = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	cJSON_AddBoolToObject(r, "container_removed", gone);
	cJSON_AddBoolToObject(r, "volume_removed", vol);
	c->j->result = r;
	return 0;
}

static int
kind_rotate(struct db_ctx *c)
{
	char   err[1024], out[DB_OUT_MAX], red[DB_OUT_MAX], logs[LOGS_MAX];
	cJSON *doc, *cmd, *env;
	int    rc = find(c, &doc), code;
	bool   trunc, timed_out;

	if (rc < 0)
		return -1;
	if (rc == 1 || !ctr_running(doc))
		return fail(c, "container %s is not running: the password is changed inside the "
		    "running engine", c->name);
	if (db_rotate_cmd(&c->d, &cmd, &env, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	app_say(&c->io, "changing the password inside %s (%s), no restart", c->name, c->d.type);
	rc = ctr_exec(&c->x, &c->a, ctr_id(doc), cmd, env, 60000L, out, sizeof(out), &code, &trunc,
	    &timed_out, err, sizeof(err));
	cJSON_Delete(cmd);
	db_env_free(env);
	if (rc != 0)
		return fail(c, "%s", err);
	app_redact(&c->red, out, red, sizeof(red));
	if (code != 0) {
		last_logs(c, ctr_id(doc), logs, sizeof(logs));
		return fail(c, "the password change failed (exit %d%s): %s; last log lines:\n%s", code,
		    timed_out ? ", timed out" : "", red, logs);
	}
	app_say(&c->io, "password changed; the new one is accepted");
	if ((c->j->result = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	cJSON_AddBoolToObject(c->j->result, "rotated", 1);
	return 0;
}

/* ----------------------------------------------------------- pitr kinds */

/* The running container of a pitr database into id; 0 or -1 (error set). */
static int
pitr_running(struct db_ctx *c, char *id, size_t idlen)
{
	cJSON *doc;
	int    rc = find(c, &doc);

	if (rc < 0)
		return -1;
	if (!c->has_pitr)
		return fail(c, "database %s has no point-in-time recovery (payload without pitr)",
		    c->d.database_id);
	if (rc == 1 || !ctr_running(doc))
		return fail(c, "container %s is not running", c->name);
	util_snprintf(id, idlen, "%s", ctr_id(doc));
	return 0;
}

static int
kind_pitr_backup(struct db_ctx *c)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->j->payload,
	    "backup_type"));
	char        id[128];

	if (t == NULL || (strcmp(t, "full") != 0 && strcmp(t, "diff") != 0 && strcmp(t, "incr") != 0))
		t = "full";
	if (pitr_running(c, id, sizeof(id)) != 0)
		return -1;
	return pitr_result(c, id, t);
}

static int
kind_pitr_info(struct db_ctx *c)
{
	char id[128];

	if (pitr_running(c, id, sizeof(id)) != 0)
		return -1;
	return pitr_result(c, id, NULL);
}

/*
 * In place: the container stopped, the one-off restore (--delta) on its
 * volume with the same image, the container started again; the result
 * is db.start's with the new window.  A failed restore still starts the
 * container (the job fails with the restore's reason).
 */
static int
kind_pitr_restore(struct db_ctx *c)
{
	struct image_out im;
	char             id[128], err[4096], e2[1024];
	cJSON           *doc;
	int              rc = find(c, &doc);

	if (rc < 0)
		return -1;
	if (rc == 1 || !c->has_restore)
		return fail(c, rc == 1 ? "container %s does not exist" :
		    "bad payload: pitr_restore needs target_time and source", c->name);
	util_snprintf(id, sizeof(id), "%s", ctr_id(doc));
	if (image_ensure(&c->x, &c->a, c->d.image, &c->io, &im, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	app_say(&c->io, "stopping container %s for the restore", c->name);
	if (ctr_running(doc) && ctr_action(&c->x, &c->a, id, "stop", err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	rc = pitr_restore_run(&c->x, &c->a, &c->io, &c->s, im.image_id, arena_printf(&c->a,
	    "%s-pitr", c->name), &c->src, c->d.db_user, c->d.data_path, c->target_time, true, err,
	    sizeof(err));
	if (ctr_action(&c->x, &c->a, id, "start", e2, sizeof(e2)) != 0)
		return fail(c, "%s%s%s", rc != 0 ? err : "", rc != 0 ? "; " : "", e2);
	if (rc != 0) {
		(void)readiness(c, id);
		return fail(c, "%s", err);
	}
	if (readiness(c, id) != 0 || result_running(c, id) != 0)
		return -1;
	return pitr_result(c, id, NULL);
}

/* ------------------------------------------------------------- dispatch */

static const struct {
	const char *kind;
	int       (*run)(struct db_ctx *c);
} db_kinds[] = {
	{"db.provision", kind_provision},
	{"db.start", kind_start},
	{"db.stop", kind_stop},
	{"db.restart", kind_restart},
	{"db.remove", kind_remove},
	{"db.rotate_password", kind_rotate},
	{"db.pitr_backup", kind_pitr_backup},
	{"db.pitr_info", kind_pitr_info},
	{"db.pitr_restore", kind_pitr_restore},
};

static int
db_kind_index(const char *kind)
{
	for (size_t i = 0; i < sizeof(db_kinds) / sizeof(*db_kinds); i++)
		if (strcmp(db_kinds[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

bool
db_kind(const char *kind)
{
	return db_kind_index(kind) >= 0;
}

/*
 * The payload's "pitr" (the container archives: its env and bind mount)
 * and "pitr_restore" (pitr.h).  0 or -1 (j->error set).
 */
static int
pitr_open(struct db_ctx *c, struct app_job *j)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j->payload, "pitr");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j->payload, "pitr_restore");
	char         root[AGENT_STR_MAX + 16];

	if ((cJSON_IsObject(p) || cJSON_IsObject(r)) &&
	    backup_local_root_path(j->conf, root, sizeof(root)) != 0) {
		util_snprintf(j->error, j->errlen, "backup_local_root too long");
		return -1;
	}
	if (cJSON_IsObject(p)) {
		if (pitr_repo_parse(p, root, c->d.tenant_id, &c->pitr, j->error, j->errlen) != 0)
			return -1;
		c->has_pitr = true;
		if (c->d.data_path != NULL && pitr_container_env(&c->pitr, c->d.db_user,
		    c->d.data_path, true, c->env, &c->s, j->error, j->errlen) != 0)
			return -1;
	}
	if (cJSON_IsObject(r)) {
		c->target_time = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "target_time"));
		if (c->target_time == NULL || pitr_repo_parse(cJSON_GetObjectItemCaseSensitive(r,
		    "source"), root, c->d.tenant_id, &c->src, j->error, j->errlen) != 0) {
			if (j->error[0] == '\0')
				util_snprintf(j->error, j->errlen, "bad payload: pitr_restore.target_time");
			return -1;
		}
		c->has_restore = true;
	}
	return 0;
}

/* Parses the payload into c (redaction ready); 0 or -1 (j->error set). */
static int
ctx_open(struct db_ctx *c, struct app_job *j)
{
	memset(c, 0, sizeof(*c));
	c->j = j;
	j->error[0] = '\0';
	if (db_spec_parse(j->payload, j->kind, &c->d, j->error, j->errlen) != 0)
		return -1;
	if (db_container_name(c->d.database_id, c->name, sizeof(c->name)) != 0 ||
	    db_container_spec(&c->d, j->conf->database_host_ip, &c->s, &c->env) != 0) {
		util_snprintf(j->error, j->errlen, "out of memory");
		return -1;
	}
	if (pitr_open(c, j) != 0)
		return -1;
	/* Only the secrets: user and database names stay readable in errors. */
	memset(&c->red, 0, sizeof(c->red));
	app_redact_add(&c->red, c->d.password);
	app_redact_add(&c->red, c->d.new_password);
	app_redact_add(&c->red, c->pitr.dest.secret_key);
	app_redact_add(&c->red, c->src.dest.secret_key);
	c->io.emit = j->emit;
	c->io.ud = j->ud;
	c->io.red = &c->red;
	xfer_init(&c->x, j->conf, NULL);
	arena_init(&c->a, 65536);
	return 0;
}

static void
ctx_close(struct db_ctx *c)
{
	xfer_cleanup(&c->x);
	arena_free(&c->a);
	app_redact_free(&c->red);
	cJSON_Delete(c->env);
}

int
db_run(struct app_job *j)
{
	struct db_ctx c;
	int           k = db_kind_index(j->kind), rc;

	if (k < 0) {
		util_snprintf(j->error, j->errlen, "unknown job kind %s", j->kind);
		return -1;
	}
	if (ctx_open(&c, j) != 0) {
		cJSON_Delete(c.env);
		return -1;
	}
	rc = db_kinds[k].run(&c);
	if (rc != 0 && j->error[0] == '\0')
		fail(&c, "%s failed", j->kind);
	ctx_close(&c);
	return rc;
}

/* ------------------------------------------------------ after a kill */

static void
quiet(void *ud, const char *line)
{
	log_info("job %s: %s", (const char *)ud, line);
}

/* The detached clean-up of a killed db.provision (payload: the job's). */
static void
after_kill_run(const struct agent_conf *conf, const char *job_id, const cJSON *payload)
{
	/* The claim's password is not needed: parsed as a removal. */
	struct app_job j = {.kind = "db.remove", .job_id = job_id, .payload = payload,
	    .conf = conf, .emit = quiet, .ud = (void *)job_id};
	struct db_ctx  c;
	char           err[RUNNER_MAX_ERROR];

	j.error = err;
	j.errlen = sizeof(err);
	if (ctx_open(&c, &j) != 0) {
		cJSON_Delete(c.env);
		return;
	}
	log_info("job %s: killed: removing what the provision of database %s made", job_id,
	    c.d.database_id);
	undo_provision(&c, NULL, true);
	ctx_close(&c);
}

void
db_after_kill(const struct agent_conf *conf, const char *kind, const char *job_id,
    const cJSON *payload)
{
	if (strcmp(kind, "db.provision") == 0)
		app_detached(conf, job_id, payload, after_kill_run);
}
