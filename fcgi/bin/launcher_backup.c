/*
 * launcher_backup.c - backup schedules, retention, stale alerts and the
 * plane's own database, run every minute by cron (conf/crontab) or as a
 * loop:
 *
 *   launcher-backup -c FILE --once                  one run, then exit
 *   launcher-backup -c FILE --loop [--interval S]   a run every S seconds (60),
 *                                                   and at once on NOTIFY launcher_backup
 *                                                   (a schedule created or changed)
 *   --now RFC3339                                   the run's clock (tests:
 *                                                   "what is due at that moment")
 *   --KEY VALUE                                     override a launcher.conf key
 *
 * A run: (1) each due schedule (backup_schedule_take: FOR UPDATE SKIP
 * LOCKED, so helpers on several machines queue it once) gets its backup
 * queued by sql/035's backup_queue and its next_run_at from cron_next, one
 * transaction per schedule; (2) retention queues backup.delete jobs
 * (backup_retention); (3) a schedule with no success within two intervals
 * (the gap between its cron runs around now) is marked stale and raises
 * backup.stale once per episode; (4) the plane's own database, when
 * plane_backup_destination_file is set and plane_backup_cron is due:
 * pg_dump -Fc streamed into the object store (core/objstore.h), read back
 * and compared, older copies beyond plane_backup_keep_last deleted;
 * (5) staged import uploads nobody will read any more are removed.
 * The rules live in sql/036_backup_helper.sql; this binary computes the cron
 * clock (core/cron.h) and moves bytes.  One run at a time per machine:
 * backup_lock_file (flock; a second run says so and exits 0).  Database
 * work runs as the maintenance role (maintenance_database_url).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "../core/config.h"
#include "../core/cron.h"
#include "../core/db_conn.h"
#include "../core/helper.h"
#include "../core/log.h"
#include "../core/objstore.h"
#include "../core/spawn.h"
#include "../core/util.h"

/* Most schedules queued in one run (a backlog drains over runs). */
#define RUN_SCHEDULES_MAX 10000
/* A destination file is a few hundred bytes of JSON. */
#define DEST_FILE_MAX 65536
/* A staged import is swept once older than db.import's deadline (sql/035)
 * and no job waits for it; at most this many per run. */
#define IMPORT_STALE_SECONDS 21600
#define IMPORT_SWEEP_MAX 1000
/* pg_dump's output is read in chunks of this size (memory stays flat). */
#define DUMP_CHUNK 65536

extern char **environ;

DB_STMT st_take = {"backup_schedule_take",
    "SELECT id, cron, timezone FROM launcher.backup_schedule_take(to_timestamp($1::double precision))"};
DB_STMT st_run = {"backup_schedule_run",
    "SELECT launcher.backup_schedule_run($1::uuid, to_timestamp($2::double precision))"};
DB_STMT st_retention = {"backup_retention",
    "SELECT launcher.backup_retention(to_timestamp($1::double precision))"};
DB_STMT st_candidates = {"backup_stale_candidates",
    "SELECT id, cron, timezone, extract(epoch FROM since)::bigint AS since"
    " FROM launcher.backup_stale_candidates()"};
DB_STMT st_stale = {"backup_mark_stale",
    "SELECT launcher.backup_mark_stale($1::uuid, to_timestamp($2::double precision),"
    " make_interval(secs => $3::double precision))"};
DB_STMT st_plane_last = {"plane_backup_last",
    "SELECT extract(epoch FROM t)::bigint AS epoch, t::text AS t FROM launcher.plane_backup_last() t"};
DB_STMT st_plane_start = {"plane_backup_start",
    "SELECT launcher.plane_backup_start($1::timestamptz, $2)"};
DB_STMT st_plane_finish = {"plane_backup_finish",
    "SELECT k FROM launcher.plane_backup_finish($1::uuid, $2::bigint, $3, $4, $5::int) k"};

DB_STMT st_imports = {"backup_imports_in_use",
    "SELECT u FROM launcher.backup_imports_in_use($1::text[]) u"};
/* (4) PITR: base backups and window refreshes due (sql/037_pitr.sql). */
DB_STMT st_pitr_tick = {"backup_pitr_tick", "SELECT launcher.pitr_tick()"};

static void
sql_failed(const struct db_conn *c, const char *what)
{
	log_error("%s failed: %s (%s)", what, c->sqlstate[0] ? c->sqlstate : "no SQLSTATE",
	    db_conn_error(c));
}

/* (1) Due schedules, one transaction each.  0, or 1 when one failed. */
static int
run_due(struct db_conn *c, time_t now)
{
	char        num[32];
	const char *p1[1] = {num};
	int         queued = 0, rc = 0;

	util_snprintf(num, sizeof(num), "%lld", (long long)now);
	for (int i = 0; i < RUN_SCHEDULES_MAX && !helper_stop; i++) {
		PGresult   *res;
		struct cron cr;
		char        err[160], next[32];
		const char *p2[2];
		time_t      t = (time_t)-1;

		if (db_conn_simple(c, "BEGIN") != ERR_OK)
			return 1;
		if (db_conn_exec(c, &st_take, 1, p1, &res) != ERR_OK) {
			sql_failed(c, "backup_schedule_take");
			db_conn_simple(c, "ROLLBACK");
			return 1;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			db_conn_simple(c, "COMMIT");
			break;
		}
		/* The API validated both.  A row that no longer parses, or a zone
		 * this machine cannot read (tzdata missing), is tried again in an
		 * hour rather than dropped: a schedule never stops in silence (and
		 * the stale check below still watches it). */
		if (cron_parse(db_get(res, 0, "cron"), &cr, err, sizeof(err)) == 0) {
			if ((t = cron_next(&cr, db_get(res, 0, "timezone"), now)) == (time_t)-1)
				log_error("schedule %s: no next run in time zone %s (tzdata?); "
				    "trying again in an hour", db_get(res, 0, "id"),
				    db_get(res, 0, "timezone"));
		} else
			log_error("schedule %s: cron: %s; trying again in an hour",
			    db_get(res, 0, "id"), err);
		if (t == (time_t)-1)
			t = now + 3600;
		util_snprintf(next, sizeof(next), "%lld", (long long)t);
		p2[0] = db_get(res, 0, "id");
		p2[1] = t == (time_t)-1 ? NULL : next;
		if (db_conn_exec(c, &st_run, 2, p2, NULL) != ERR_OK) {
			sql_failed(c, "backup_schedule_run");
			PQclear(res);
			db_conn_simple(c, "ROLLBACK");
			rc = 1;
			break;
		}
		PQclear(res);
		if (db_conn_simple(c, "COMMIT") != ERR_OK)
			return 1;
		queued++;
	}
	if (queued > 0)
		log_info("run: %d scheduled backups queued", queued);
	return rc;
}

/* (2) Retention. */
static int
run_retention(struct db_conn *c, time_t now)
{
	char        num[32];
	const char *p[1] = {num};
	PGresult   *res;

	util_snprintf(num, sizeof(num), "%lld", (long long)now);
	if (db_conn_exec(c, &st_retention, 1, p, &res) != ERR_OK) {
		sql_failed(c, "backup_retention");
		return 1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("run: %s backups past their retention queued for deletion", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * The gap between the runs of c around now: from the last run at or
 * before now to the next one.  -1 when the expression has none.
 */
static int64_t
schedule_interval(const struct cron *c, const char *tz, time_t now)
{
	time_t prev = (time_t)-1, x, y;

	/* Look back 1 min, 2, 4, ... until a run at or before now shows. */
	for (int64_t back = 60; back < (int64_t)9 * 366 * 86400; back *= 2)
		if ((x = cron_next(c, tz, now - back)) != (time_t)-1 && x <= now) {
			prev = x;
			break;
		}
	if (prev == (time_t)-1)
		return -1;
	while ((y = cron_next(c, tz, prev)) != (time_t)-1 && y <= now)
		prev = y;
	return y == (time_t)-1 ? -1 : (int64_t)(y - prev);
}

/* (3) Stale schedules. */
static int
run_stale(struct db_conn *c, time_t now)
{
	PGresult *res;
	int       raised = 0, rc = 0;

	if (db_conn_exec(c, &st_candidates, 0, NULL, &res) != ERR_OK) {
		sql_failed(c, "backup_stale_candidates");
		return 1;
	}
	for (int i = 0; i < PQntuples(res) && !helper_stop; i++) {
		struct cron cr;
		char        err[160], nowtxt[32], gap[32];
		const char *p[3] = {db_get(res, i, "id"), nowtxt, gap};
		int64_t     since, iv;
		PGresult   *r;

		if (util_parse_i64(db_get(res, i, "since"), INT64_MIN, INT64_MAX, &since) != 0)
			continue;
		/* An interval that cannot be worked out (a row that no longer
		 * parses, tzdata missing) counts as a day: stale after two. */
		if (cron_parse(db_get(res, i, "cron"), &cr, err, sizeof(err)) != 0 ||
		    (iv = schedule_interval(&cr, db_get(res, i, "timezone"), now)) <= 0)
			iv = 86400;
		if ((int64_t)now - since <= 2 * iv)
			continue;
		util_snprintf(nowtxt, sizeof(nowtxt), "%lld", (long long)now);
		util_snprintf(gap, sizeof(gap), "%lld", (long long)iv);
		if (db_conn_exec(c, &st_stale, 3, p, &r) != ERR_OK) {
			sql_failed(c, "backup_mark_stale");
			rc = 1;
			continue;
		}
		raised += strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
	}
	PQclear(res);
	if (raised > 0)
		log_info("run: %d schedules stale (backup.stale raised)", raised);
	return rc;
}

/*
 * The plane's destination: a directory (local) or a JSON file of mode
 * 0600 at most (an S3-compatible destination with its keys; *json keeps
 * the strings d borrows).  0, or -1 with err.
 */
static int
plane_dest(const char *path, struct objstore_dest *d, cJSON **json, char *err, size_t errlen)
{
	struct stat st;
	char        buf[DEST_FILE_MAX];
	size_t      n;
	FILE       *f;

	memset(d, 0, sizeof(*d));
	*json = NULL;
	if (stat(path, &st) != 0) {
		util_snprintf(err, errlen, "plane_backup_destination_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		d->provider = "local";
		if (realpath(path, d->local_dir) == NULL) {
			util_snprintf(err, errlen, "plane_backup_destination_file %s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((st.st_mode & 077) != 0) {
		util_snprintf(err, errlen, "plane_backup_destination_file %s holds keys: its mode must be 0600",
		    path);
		return -1;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		util_snprintf(err, errlen, "plane_backup_destination_file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((*json = cJSON_Parse(buf)) == NULL || !cJSON_IsObject(*json)) {
		util_snprintf(err, errlen, "plane_backup_destination_file %s: not a JSON object", path);
		return -1;
	}
	if (util_ieq(cJSON_GetStringValue(cJSON_GetObjectItem(*json, "provider")) ?
	    cJSON_GetStringValue(cJSON_GetObjectItem(*json, "provider")) : "", "local")) {
		util_snprintf(err, errlen, "plane_backup_destination_file: for a local destination give the directory itself");
		return -1;
	}
	return objstore_dest_from_json(*json, NULL, NULL, d, err, errlen);
}

/*
 * The environment of pg_dump: the variables of the conninfo url
 * (PQconninfoParse: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE...),
 * then ours except those names, so that no secret is in argv.  NULL with
 * err on a bad url.  The caller frees it (env_free).
 */
static char **
dump_env(const char *url, char *err, size_t errlen)
{
	PQconninfoOption *opts, *o;
	char             *msg = NULL, **env;
	size_t            n = 0, k = 0, set;

	if ((opts = PQconninfoParse(url, &msg)) == NULL) {
		util_snprintf(err, errlen, "plane_backup_database_url is not a valid conninfo");
		PQfreemem(msg);
		return NULL;
	}
	for (char **e = environ; *e != NULL; e++)
		n++;
	for (o = opts; o->keyword != NULL; o++)
		n++;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL) {
		PQconninfoFree(opts);
		return NULL;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->val[0] != '\0' && o->envvar != NULL) {
			size_t len = strlen(o->envvar) + strlen(o->val) + 2;

			if ((env[k] = malloc(len)) != NULL &&
			    util_snprintf(env[k], len, "%s=%s", o->envvar, o->val) >= 0)
				k++;
		}
	set = k;
	for (char **e = environ; *e != NULL; e++) {
		size_t name = strcspn(*e, "="), i = 0;

		while (i < set && !(strncmp(env[i], *e, name + 1) == 0))
			i++;
		if (i == set)
			env[k++] = strdup(*e);
	}
	PQconninfoFree(opts);
	return env;
}

static void
env_free(char **env)
{
	for (char **e = env; e != NULL && *e != NULL; e++)
		free(*e);
	free(env);
}

/*
 * pg_dump -Fc of url streamed into put.  0, or -1 with err (pg_dump's
 * last stderr lines, or the store's error).
 */
static int
dump_into(const char *url, struct objstore_put *put, char *err, size_t errlen)
{
	static const char *const argv[] = {"pg_dump", "-Fc", "--no-password", NULL};
	posix_spawn_file_actions_t fa;
	struct spawn_tail          tail = {0};
	char                     **env, buf[DUMP_CHUNK];
	int                        out[2], er[2], status = 0, rc = 0, open_fds = 2;
	pid_t                      pid;

	if ((env = dump_env(url, err, errlen)) == NULL)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(er, O_CLOEXEC) != 0) {
		util_snprintf(err, errlen, "pipe: %s", strerror(errno));
		env_free(env);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	if (posix_spawnp(&pid, "pg_dump", &fa, NULL, (char *const *)argv, env) != 0) {
		util_snprintf(err, errlen, "pg_dump could not be started: %s", strerror(errno));
		posix_spawn_file_actions_destroy(&fa);
		env_free(env);
		close(out[0]), close(out[1]), close(er[0]), close(er[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	env_free(env);
	close(out[1]);
	close(er[1]);
	while (open_fds > 0) {
		struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = er[0], .events = POLLIN}};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 2; k++) {
			ssize_t got;

			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(p[k].fd, buf, sizeof(buf));
			if (got <= 0) {
				if (got < 0 && errno == EINTR)
					continue;
				close(k == 0 ? out[0] : er[0]);
				if (k == 0)
					out[0] = -1;
				else
					er[0] = -1;
				open_fds--;
			} else if (k == 1)
				spawn_tail_sink(&tail, buf, (size_t)got);
			else if (rc == 0 && objstore_put_write(put, buf, (size_t)got) != 0) {
				util_snprintf(err, errlen, "writing to the destination failed");
				rc = -1;
			}
		}
	}
	waitpid(pid, &status, 0);
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char text[400];

		spawn_tail_text(&tail, 3, text, sizeof(text));
		util_snprintf(err, errlen, "pg_dump failed (status %d): %s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text);
		rc = -1;
	}
	return rc;
}

/* (4) The plane's own database.  0, or 1 when it failed (logged). */
static int
run_plane(struct db_conn *c, const struct config *cfg, time_t now)
{
	struct objstore_dest d;
	struct objstore_put *put = NULL;
	struct cron          cr;
	cJSON               *json = NULL;
	PGresult            *res = NULL;
	char                 err[512] = "", key[128], id[40] = "", sha[65] = "", rsha[65] = "",
	                     size_txt[32], keep[32], stamp[32];
	const char          *last = NULL;
	uint64_t             size = 0, rsize = 0;
	int64_t              last_epoch = 0;
	int                  rc = 1, failed = 0;
	struct tm            tm;

	if (cfg->plane_backup_destination_file[0] == '\0' ||
	    cron_parse(cfg->plane_backup_cron, &cr, err, sizeof(err)) != 0)
		return 0;
	if (db_conn_exec(c, &st_plane_last, 0, NULL, &res) != ERR_OK) {
		sql_failed(c, "plane_backup_last");
		return 1;
	}
	if (!db_isnull(res, 0, "t")) {
		last = db_get(res, 0, "t");
		time_t due;

		if (util_parse_i64(db_get(res, 0, "epoch"), 0, INT64_MAX, &last_epoch) != 0 ||
		    (due = cron_next(&cr, "UTC", (time_t)last_epoch)) == (time_t)-1 || due > now) {
			PQclear(res);
			return 0;	/* not due (or no next run: never every minute) */
		}
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	util_snprintf(key, sizeof(key), "launcher-plane/%s.pgdump", stamp);
	{
		const char *p[2] = {last, key};
		PGresult   *r;

		if (db_conn_exec(c, &st_plane_start, 2, p, &r) != ERR_OK) {
			sql_failed(c, "plane_backup_start");
			PQclear(res);
			return 1;
		}
		if (!PQgetisnull(r, 0, 0))
			util_snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	PQclear(res);
	res = NULL;
	if (id[0] == '\0')
		return 0;	/* another helper has it */
	if (plane_dest(cfg->plane_backup_destination_file, &d, &json, err, sizeof(err)) != 0 ||
	    (put = objstore_put_open(&d, key, err, sizeof(err))) == NULL)
		failed = 1;
	else {
		failed = dump_into(cfg->plane_backup_database_url[0] ? cfg->plane_backup_database_url
		    : cfg->admin_database_url, put, err, sizeof(err)) != 0;
		if (objstore_put_close(put, !failed, &size, sha, failed ? NULL : err,
		    failed ? 0 : sizeof(err)) != 0)
			failed = 1;
		/* Read back: the object must be what was sent. */
		if (!failed && objstore_get(&d, key, NULL, NULL, &rsize, rsha, err, sizeof(err)) != 0)
			failed = 1;
		else if (!failed && (rsize != size || strcmp(rsha, sha) != 0)) {
			util_snprintf(err, sizeof(err), "read-back mismatch: wrote %llu bytes sha256 %s, read %llu"
			    " bytes sha256 %s", (unsigned long long)size, sha, (unsigned long long)rsize, rsha);
			failed = 1;
		}
	}
	util_snprintf(size_txt, sizeof(size_txt), "%llu", (unsigned long long)size);
	util_snprintf(keep, sizeof(keep), "%lld", (long long)cfg->plane_backup_keep_last);
	{
		/* Retention only after a success: a failed run may not have a
		 * usable destination to delete from. */
		const char *p[5] = {id, failed ? NULL : size_txt, failed ? NULL : sha,
		    failed ? (err[0] ? err : "failed") : NULL, failed ? NULL : keep};

		if (db_conn_exec(c, &st_plane_finish, 5, p, &res) != ERR_OK)
			sql_failed(c, "plane_backup_finish");
		else {
			rc = failed;
			for (int i = 0; i < PQntuples(res); i++) {
				char derr[256];

				if (objstore_delete(&d, PQgetvalue(res, i, 0), derr, sizeof(derr)) != 0)
					log_warn("plane backup %s: delete: %s", PQgetvalue(res, i, 0), derr);
			}
			PQclear(res);
		}
	}
	if (failed)
		log_error("plane database backup %s failed: %s", key, err);
	else
		log_info("plane database backup %s: %llu bytes, sha256 %s, read back", key,
		    (unsigned long long)size, sha);
	cJSON_Delete(json);
	return rc;
}

/*
 * (5) Staged import uploads (<imports_dir>/<upload uuid>, sql/035) left
 * behind: older than a db.import may run and no queued or running job
 * names them.  nginx's own temporary files (imports_dir/tmp) are nginx's.
 */
static int
run_imports(struct db_conn *c, const struct config *cfg)
{
	char           names[IMPORT_SWEEP_MAX][37], *arr, path[CONFIG_STR_MAX + 64];
	size_t         n = 0, len = 3, at = 0;
	DIR           *dir;
	struct dirent *e;
	PGresult      *res;
	time_t         now = time(NULL);
	int            removed = 0;

	if (cfg->imports_dir[0] == '\0' || (dir = opendir(cfg->imports_dir)) == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL && n < IMPORT_SWEEP_MAX) {
		struct stat st;

		if (!util_is_uuid(e->d_name) ||
		    util_snprintf(path, sizeof(path), "%s/%s", cfg->imports_dir, e->d_name) < 0 ||
		    lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime > now - IMPORT_STALE_SECONDS)
			continue;
		util_snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	}
	closedir(dir);
	if (n == 0)
		return 0;
	/* A text[] literal of UUIDs: {a,b,...} (no quoting needed). */
	len += n * 37;
	if ((arr = malloc(len)) == NULL)
		return 1;
	arr[at++] = '{';
	for (size_t i = 0; i < n; i++) {
		memcpy(arr + at, names[i], 36);
		at += 36;
		arr[at++] = i + 1 < n ? ',' : '}';
	}
	arr[at] = '\0';
	{
		const char *p[1] = {arr};

		if (db_conn_exec(c, &st_imports, 1, p, &res) != ERR_OK) {
			sql_failed(c, "backup_imports_in_use");
			free(arr);
			return 1;
		}
	}
	free(arr);
	for (size_t i = 0; i < n; i++) {
		int used = 0;

		for (int k = 0; k < PQntuples(res) && !used; k++)
			used = strcmp(PQgetvalue(res, k, 0), names[i]) == 0;
		if (!used && util_snprintf(path, sizeof(path), "%s/%s", cfg->imports_dir, names[i]) >= 0 &&
		    unlink(path) == 0)
			removed++;
	}
	PQclear(res);
	if (removed > 0)
		log_info("run: %d abandoned import uploads removed from %s", removed, cfg->imports_dir);
	return 0;
}

/* (4) Point-in-time recovery: pitr_tick queues what is due. */
static int
run_pitr(struct db_conn *c)
{
	PGresult *res;

	if (db_conn_exec(c, &st_pitr_tick, 0, NULL, &res) != ERR_OK) {
		sql_failed(c, "pitr_tick");
		return 1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("run: %s point-in-time recovery jobs queued", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* One run under the lock.  0, or 1 when a part failed (logged). */
static int
run(struct db_conn *c, const struct config *cfg, time_t fixed_now)
{
	int    fd = helper_lock_take(cfg->backup_lock_file), rc;
	time_t now = fixed_now ? fixed_now : time(NULL);

	if (fd == -2) {
		log_info("another run holds the lock %s: nothing to do", cfg->backup_lock_file);
		return 0;
	}
	if (fd < 0)
		return 1;
	rc = run_due(c, now);
	rc |= run_retention(c, now);
	rc |= run_stale(c, now);
	rc |= run_pitr(c);
	rc |= run_plane(c, cfg, now);
	rc |= run_imports(c, cfg);
	close(fd);
	return rc;
}

/* One run of the parsed command line a (helper_loop's run). */
static int
run_loop(struct db_conn *c, void *a)
{
	const struct helper_args *args = a;

	return run(c, &args->cfg, args->now);
}

/* Keys a --KEY VALUE flag may override (launcher.conf); never a database
 * URL, which may hold a password (argv is world-readable). */
static const char *const flag_keys[] = {
	"backup_lock_file", "plane_backup_destination_file", "plane_backup_cron",
	"plane_backup_keep_last", "imports_dir", "log_level",
};

int
main(int argc, char **argv)
{
	struct helper_args a;
	int                rc;

	db_conn_check_names();
	if ((rc = helper_args_parse(&a, argc, argv, "launcher-backup", flag_keys,
	    sizeof(flag_keys) / sizeof(*flag_keys), true)) != 0)
		return rc;
	helper_lock_default(a.cfg.backup_lock_file, sizeof(a.cfg.backup_lock_file), &a.cfg, "backup");
	helper_stop_on_signals();
	signal(SIGPIPE, SIG_IGN);
	if (a.once) {
		struct db_conn c = {0};

		if (db_conn_open(&c, a.cfg.maintenance_database_url, NULL) != ERR_OK) {
			log_error("database unavailable");
			return 1;
		}
		rc = run_loop(&c, &a);
		db_conn_close(&c);
		return rc;
	}
	return helper_loop(a.cfg.maintenance_database_url, "launcher_backup", a.interval, &helper_stop,
	    run_loop, &a);
}
