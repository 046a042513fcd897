/*
 * pitr.c - pgBackRest for managed PostgreSQL (contract in pitr.h): the
 * repository's settings as the container's env, base backups and the
 * recovery window through the engine's exec, the restore in a one-off
 * container of the database's own image.
 */
#include "pitr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/arena.h"
#include "../core/util.h"
#include "ctr.h"
#include "text.h"
#include "timefmt.h"

/* The exec's user: the cluster's owner (pgBackRest refuses root). */
#define AS_POSTGRES "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"

/*
 * $1: the base backup's type, or "" for the window alone.  The markers
 * split the answer (stderr comes in the same stream).
 */
static const char backup_script[] =
    "set -e\n"
    "if [ -n \"$1\" ]; then\n"
    "  pgbackrest stanza-create\n"
    "  pgbackrest backup --type=\"$1\"\n"
    "fi\n"
    "printf '\\nLNCHR_INFO\\n'\n"
    "pgbackrest info --output=json\n"
    "printf '\\nLNCHR_ARCHIVED\\n'\n"
    "psql -h /run/postgresql -U \"$PGBACKREST_PG1_USER\" -d postgres -XAtc "
    "'SELECT coalesce(extract(epoch FROM last_archived_time), 0) FROM pg_stat_archiver'\n";

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
pitr_repo_parse(const cJSON *p, const char *local_root, const char *tenant_id,
    struct pitr_repo *r, char *err, size_t errlen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "archive_timeout");
	char         e[512];

	memset(r, 0, sizeof(*r));
	r->stanza = str(p, "stanza");
	r->repo_path = str(p, "repo_path");
	r->archive_timeout = cJSON_IsNumber(t) && t->valuedouble >= 1 && t->valuedouble <= 3600 ?
	    (int)t->valuedouble : 60;
	if (r->stanza == NULL || !text_word_ok(r->stanza, 64, "_-") || r->repo_path == NULL ||
	    strncmp(r->repo_path, "launcher/pitr/", 14) != 0 ||
	    !text_word_ok(r->repo_path + 14, 64, "-")) {
		util_snprintf(err, errlen, "bad payload: pitr needs stanza and repo_path "
		    "launcher/pitr/<id>");
		return -1;
	}
	/* The destination as every backup reads it (path, local root, provider). */
	if (objstore_dest_from_json(cJSON_GetObjectItemCaseSensitive(p, "destination"), local_root,
	    tenant_id, &r->dest, e, sizeof(e)) != 0) {
		util_snprintf(err, errlen, "bad payload: pitr repository: %s", e);
		return -1;
	}
	r->local = strcmp(r->dest.provider, "local") == 0;
	if (r->local && util_snprintf(r->repo_dir, sizeof(r->repo_dir), "%s/%s", r->dest.local_dir,
	    r->repo_path) < 0) {
		util_snprintf(err, errlen, "the local repository's path is too long");
		return -1;
	}
	return 0;
}

/*
 * objstore_endpoint's "https://host[:port][/...]" -> host and port (0 =
 * the default); -1 for anything but https (pgBackRest speaks HTTPS only).
 */
static int
endpoint_host(const char *url, char *host, size_t hostlen, int *port)
{
	const char *h = url + 8;
	char       *colon, *bracket;
	size_t      n;

	*port = 0;
	if (strncmp(url, "https://", 8) != 0)
		return -1;
	n = strcspn(h, "/");
	if (util_snprintf(host, hostlen, "%.*s", (int)n, h) < 0)
		return -1;
	colon = strrchr(host, ':');
	bracket = host[0] == '[' ? strchr(host, ']') : NULL;	/* [IPv6]:port */
	if (colon != NULL && (host[0] != '[' || (bracket != NULL && colon > bracket))) {
		int64_t v;

		if (util_parse_i64(colon + 1, 1, 65535, &v) != 0)
			return -1;
		*port = (int)v;
		*colon = '\0';
	}
	return 0;
}

static void
put(cJSON *env, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(env, k);
	cJSON_AddStringToObject(env, k, v);
}

int
pitr_container_env(const struct pitr_repo *r, const char *db_user, const char *data_path,
    bool archive, cJSON *env, struct app_spec *s, char *err, size_t errlen)
{
	char host[512], num[32], url[1024], key[2048], path[2100];
	int  port;

	put(env, "PGBACKREST_STANZA", r->stanza);
	put(env, "PGBACKREST_PG1_PATH", data_path);
	put(env, "PGBACKREST_PG1_USER", db_user);
	put(env, "PGBACKREST_PG1_SOCKET_PATH", "/run/postgresql");
	put(env, "PGBACKREST_LOG_LEVEL_FILE", "off");
	put(env, "PGBACKREST_START_FAST", "y");
	put(env, "PGBACKREST_REPO1_RETENTION_FULL", PITR_RETENTION_FULL);
	if (archive) {
		put(env, "LNCHR_PITR", "1");
		util_snprintf(num, sizeof(num), "%d", r->archive_timeout);
		put(env, "LNCHR_ARCHIVE_TIMEOUT", num);
	}
	if (r->local) {
		put(env, "PGBACKREST_REPO1_TYPE", "posix");
		put(env, "PGBACKREST_REPO1_PATH", PITR_REPO_MOUNT);
		s->bind_source = r->repo_dir;
		s->bind_target = PITR_REPO_MOUNT;
		return 0;
	}
	/* S3: the endpoint, key prefix, region and URL style of the object store layer. */
	if (objstore_endpoint(&r->dest, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "the destination has no endpoint pgBackRest can reach");
		return -1;
	}
	if (endpoint_host(url, host, sizeof(host), &port) != 0) {
		util_snprintf(err, errlen, "pgBackRest reaches S3 over HTTPS only: the "
		    "destination's endpoint %s is not https://host[:port]", url);
		return -1;
	}
	if (objstore_full_key(&r->dest, r->repo_path, key, sizeof(key)) != 0 ||
	    util_snprintf(path, sizeof(path), "/%s", key) < 0) {
		util_snprintf(err, errlen, "the repository's path is too long");
		return -1;
	}
	put(env, "PGBACKREST_REPO1_TYPE", "s3");
	put(env, "PGBACKREST_REPO1_PATH", path);
	put(env, "PGBACKREST_REPO1_S3_BUCKET", r->dest.bucket);
	put(env, "PGBACKREST_REPO1_S3_ENDPOINT", host);
	if (port > 0) {
		util_snprintf(num, sizeof(num), "%d", port);
		put(env, "PGBACKREST_REPO1_STORAGE_PORT", num);
	}
	put(env, "PGBACKREST_REPO1_S3_REGION", r->dest.region);
	put(env, "PGBACKREST_REPO1_S3_URI_STYLE", r->dest.path_style ? "path" : "host");
	put(env, "PGBACKREST_REPO1_S3_KEY", r->dest.access_key);
	put(env, "PGBACKREST_REPO1_S3_KEY_SECRET", r->dest.secret_key);
	return 0;
}

int
pitr_repo_dir(const struct pitr_repo *r, char *err, size_t errlen)
{
	char p[sizeof(r->repo_dir)];

	if (!r->local)
		return 0;
	util_snprintf(p, sizeof(p), "%s", r->repo_dir);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			util_snprintf(err, errlen, "making the repository directory %s: %s", p,
			    strerror(errno));
			return -1;
		}
		if ((*s = c) == '\0')
			break;
	}
	return 0;
}

/* Epoch seconds as RFC 3339 into o[k]. */
static void
add_time(cJSON *o, const char *k, double t)
{
	char s[64];

	if (t > 0 && timefmt_rfc3339(s, sizeof(s), t) == 0)
		cJSON_AddStringToObject(o, k, s);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *
pitr_window_parse(const char *info_json, double archived, char *err, size_t errlen)
{
	cJSON       *doc = cJSON_Parse(info_json), *out;
	const cJSON *st = cJSON_GetArrayItem(doc, 0), *b, *it, *stop = NULL;
	double       first = 0, last = 0;
	const char  *type = NULL;

	b = cJSON_GetObjectItemCaseSensitive(st, "backup");
	if (!cJSON_IsArray(doc) || !cJSON_IsArray(b)) {
		cJSON_Delete(doc);
		util_snprintf(err, errlen, "pgbackrest info answered no stanza with backups");
		return NULL;
	}
	cJSON_ArrayForEach(it, b) {
		stop = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it,
		    "timestamp"), "stop");
		if (!cJSON_IsNumber(stop))
			continue;
		if (first == 0 || stop->valuedouble < first)
			first = stop->valuedouble;
		if (stop->valuedouble >= last) {
			last = stop->valuedouble;
			type = str(it, "type");
		}
	}
	if ((out = cJSON_CreateObject()) != NULL) {
		add_time(out, "earliest", first);
		/* Never before the newest backup's end: its WAL is in the repository. */
		add_time(out, "latest", archived > last ? archived : last);
		if (type != NULL)
			cJSON_AddStringToObject(out, "backup_type", type);
		add_time(out, "backup_at", last);
	}
	cJSON_Delete(doc);
	return out;
}

int
pitr_backup(struct xfer *x, struct arena *a, const struct app_io *io, const char *id,
    const char *backup_type, cJSON **pitr, char *err, size_t errlen)
{
	const char *argv[] = {AS_POSTGRES, "sh", "-c", backup_script, "sh",
	    backup_type ? backup_type : ""};
	char       *out = arena_alloc(a, PITR_OUT_MAX), *info, *arch, *end;
	cJSON      *cmd = cJSON_CreateStringArray(argv, (int)(sizeof(argv) / sizeof(*argv)));
	int         code, rc;
	bool        trunc, timed_out;
	double      archived;

	*pitr = NULL;
	if (cmd == NULL || out == NULL) {
		cJSON_Delete(cmd);
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (backup_type != NULL)
		app_say(io, "pgbackrest: stanza-create and a %s base backup", backup_type);
	rc = ctr_exec(x, a, id, cmd, NULL, PITR_EXEC_TIMEOUT_MS, out, PITR_OUT_MAX, &code, &trunc,
	    &timed_out, err, errlen);
	cJSON_Delete(cmd);
	if (rc != 0)
		return -1;
	info = strstr(out, "\nLNCHR_INFO\n");
	arch = info ? strstr(info, "\nLNCHR_ARCHIVED\n") : NULL;
	if (code != 0 || arch == NULL) {
		util_snprintf(err, errlen, "pgbackrest failed (exit %d%s): %.3000s", code,
		    timed_out ? ", timed out" : "", out);
		return -1;
	}
	*arch = '\0';
	archived = strtod(arch + 16, &end);
	if (end == arch + 16)
		archived = 0;
	*pitr = pitr_window_parse(info + 12, archived, err, errlen);
	if (*pitr == NULL)
		return -1;
	if (backup_type != NULL)
		app_say(io, "pgbackrest: %s backup done", backup_type);
	return 0;
}

/* Waits for container id to exit: its exit code, or -1 (err). */
static int
wait_exit(struct xfer *x, const char *id, char *err, size_t errlen)
{
	int64_t t0 = timefmt_mono_ms();

	for (;;) {
		struct arena scratch;
		cJSON       *doc;
		const cJSON *ec;
		int          st, code = -1;

		arena_init(&scratch, 16384);
		st = ctr_inspect(x, &scratch, id, 5000L, &doc, err, errlen);
		if (st == 0 && !ctr_running(doc)) {
			ec = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc,
			    "State"), "ExitCode");
			code = cJSON_IsNumber(ec) ? (int)ec->valuedouble : -1;
		}
		arena_free(&scratch);
		if (st != 0)
			return -1;
		if (code >= 0 || timefmt_mono_ms() - t0 > PITR_EXEC_TIMEOUT_MS)
			return code;
		timefmt_sleep_ms(500);
	}
}

int
pitr_restore_run(struct xfer *x, struct arena *a, const struct app_io *io,
    const struct app_spec *s, const char *image_id, const char *name,
    const struct pitr_repo *src, const char *db_user, const char *data_path,
    const char *target_time, bool in_place, char *err, size_t errlen)
{
	struct app_spec o = *s;
	cJSON          *env = cJSON_CreateObject();
	char            id[128], e2[1024], logs[4096];
	int             code = -1, rc = -1;

	if (env == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	put(env, "POSTGRES_USER", db_user);
	put(env, "LNCHR_PITR_TARGET", target_time);
	if (!in_place)
		put(env, "LNCHR_PITR_ARCHIVE_OFF", "1");
	if (pitr_container_env(src, db_user, data_path, in_place, env, &o, err, errlen) != 0 ||
	    pitr_repo_dir(src, err, errlen) != 0)
		goto out;
	o.env = env;
	o.restart_policy = "no";
	o.exposed_port = 0;
	o.publish_db = false;
	o.net_alias = NULL;
	(void)ctr_remove(x, a, name, e2, sizeof(e2));	/* an earlier attempt's */
	app_say(io, "restoring to %s in the one-off container %s", target_time, name);
	if (ctr_create(x, a, &o, image_id, name, 0, id, sizeof(id), err, errlen) != 0)
		goto out;
	if (ctr_action(x, a, id, "start", err, errlen) != 0 ||
	    (code = wait_exit(x, id, err, errlen)) < 0)
		goto gone;
	if (code != 0) {
		if (ctr_logs_tail(x, a, id, 30, logs, sizeof(logs)) != 0)
			util_snprintf(logs, sizeof(logs), "(no logs)");
		util_snprintf(err, errlen, "the restore to %s failed (exit %d): %s", target_time, code,
		    logs);
		goto gone;
	}
	app_say(io, "restored to %s", target_time);
	rc = 0;
gone:
	(void)ctr_remove(x, a, id, e2, sizeof(e2));
out:
	cJSON_Delete(env);
	return rc;
}
