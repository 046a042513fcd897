/*
 * backup.c - backup.run, backup.restore, backup.delete, db.import and
 * db.provision's restore block (contract in backup.h).  Every byte of a
 * dump, a restore or an import passes through here once, in pieces: the
 * memory used is the object store layer's one part buffer plus a few
 * 64 KiB buffers, whatever the size of the data.
 */
#include "backup.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/objstore.h"
#include "../core/util.h"
#include "appspec.h"
#include "backup_dest.h"
#include "ctr.h"
#include "db.h"
#include "engine.h"
#include "image.h"
#include "runner.h"
#include "text.h"
#include "timefmt.h"
#include "volume.h"
#include "xfer.h"

#define BK_CHUNK        (64 * 1024)	/* one read of the engine stream */
#define BK_SETUP_MS     30000L		/* an exec attached within this */
#define BK_DEFAULT_MS   (6L * 3600 * 1000)	/* when the claim gave no deadline */
#define BK_HELPER_SLEEP "2147483647"	/* the helper container idles until removed */
#define BK_HELPER_PREFIX "lnchr-volhelper-"	/* + the job's id */

/* The busybox the volume helper image is made of: a static one (no libc in the image). */
static const char *const busybox_paths[] = {"/bin/busybox", "/usr/bin/busybox", NULL};

/* The database of a payload ("database" object, or db.provision's own). */
struct bk_db {
	const char *type, *user, *name, *password;
	char        container[96];
	int         port;		/* 0 = the engine's default */
};

struct bk {
	struct app_job      *j;
	struct app_redact    red;
	struct app_io        io;
	struct xfer          x;
	struct arena         a;
	struct objstore_dest dest;
	char                 local_root[AGENT_STR_MAX + 16];
	int64_t              end_ms;	/* monotonic: the job's time runs out */
};

/* Sets the job's error, redacted (passwords and destination keys); returns -1. */
#define fail(b, ...) app_job_fail((b)->j, &(b)->red, __VA_ARGS__)

/* ----------------------------------------------------------- commands */

static void
add_str(cJSON *arr, const char *s)
{
	cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}

/* mysql: the MariaDB client's names, else MySQL's (an image of the site's own). */
static const char my_dump[] =
    "c=mariadb-dump; command -v $c >/dev/null 2>&1 || c=mysqldump\n"
    "exec $c --single-transaction --routines --events --user=\"$LNCHR_DB_USER\" "
    "-- \"$LNCHR_DB_NAME\"\n";
static const char my_load[] =
    "c=mariadb; command -v $c >/dev/null 2>&1 || c=mysql\n"
    "exec $c --user=\"$LNCHR_DB_USER\" -- \"$LNCHR_DB_NAME\"\n";

int
backup_db_cmd(const char *what, const char *type, const char *user, const char *name,
    const char *password, int port, cJSON **cmd, cJSON **env, char *err, size_t errlen)
{
	bool dump = strcmp(what, "dump") == 0, restore = strcmp(what, "restore") == 0;
	char p[16];

	*cmd = cJSON_CreateArray();
	*env = cJSON_CreateArray();
	if (*cmd == NULL || *env == NULL)
		goto nomem;
	(void)util_snprintf(p, sizeof(p), "%d", port);
	if (strcmp(type, "postgres") == 0) {
		if (user == NULL || name == NULL)
			goto names;
		add_str(*cmd, dump ? "pg_dump" : restore ? "pg_restore" : "psql");
		if (dump)
			add_str(*cmd, "-Fc");
		else if (restore) {
			add_str(*cmd, "--clean");
			add_str(*cmd, "--if-exists");
			add_str(*cmd, "--single-transaction");
			add_str(*cmd, "--exit-on-error");
			add_str(*cmd, "--no-owner");
			/* pg_restore reads no PGDATABASE: without -d it prints a script. */
			db_env_add(*cmd, "--dbname", name);
		} else {
			add_str(*cmd, "-X");
			add_str(*cmd, "-q");
			/* One transaction: an import cut short (killed) leaves nothing. */
			add_str(*cmd, "--single-transaction");
			add_str(*cmd, "-v");
			add_str(*cmd, "ON_ERROR_STOP=1");
		}
		add_str(*cmd, "--no-password");
		db_env_add(*env, "PGUSER", user);
		db_env_add(*env, "PGDATABASE", name);
		db_env_add(*env, "PGPASSWORD", password);
		if (port > 0)
			db_env_add(*env, "PGPORT", p);
	} else if (strcmp(type, "mysql") == 0) {
		if (user == NULL || name == NULL)
			goto names;
		add_str(*cmd, "sh");
		add_str(*cmd, "-c");
		add_str(*cmd, dump ? my_dump : my_load);
		db_env_add(*env, "LNCHR_DB_USER", user);
		db_env_add(*env, "LNCHR_DB_NAME", name);
		db_env_add(*env, "MYSQL_PWD", password);
		if (port > 0)
			db_env_add(*env, "MYSQL_TCP_PORT", p);
	} else if (strcmp(type, "redis") == 0) {
		if (restore) {
			util_snprintf(err, errlen, "redis restores are staged (backup.c), not one command");
			goto fail;
		}
		add_str(*cmd, "redis-cli");
		add_str(*cmd, "--no-auth-warning");
		if (port > 0) {
			add_str(*cmd, "-p");
			add_str(*cmd, p);
		}
		add_str(*cmd, dump ? "--rdb" : "--pipe");
		if (dump)
			add_str(*cmd, "-");
		db_env_add(*env, "REDISCLI_AUTH", password);
	} else {
		util_snprintf(err, errlen, "no %s for database type %s", what, type);
		goto fail;
	}
	return 0;
names:
	util_snprintf(err, errlen, "the database's db_user and db_name are required");
	goto fail;
nomem:
	util_snprintf(err, errlen, "out of memory");
fail:
	cJSON_Delete(*cmd);
	db_env_free(*env);
	*cmd = *env = NULL;
	return -1;
}

/* ------------------------------------------------------- output kept */

/* The command's last output bytes (both streams), for an error message. */
struct keep {
	char   buf[BACKUP_KEEP_OUTPUT];
	size_t len;
	bool   cut;
};

static void
keep_add(struct keep *k, const unsigned char *p, size_t n)
{
	if (n >= sizeof(k->buf)) {
		memcpy(k->buf, p + n - sizeof(k->buf), sizeof(k->buf));
		k->len = sizeof(k->buf);
		k->cut = true;
		return;
	}
	if (k->len + n > sizeof(k->buf)) {
		size_t drop = k->len + n - sizeof(k->buf);

		memmove(k->buf, k->buf + drop, k->len - drop);
		k->len -= drop;
		k->cut = true;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
}

/* The kept output as one redacted, sanitized text into out. */
static void
keep_text(struct bk *b, const struct keep *k, char *out, size_t outlen)
{
	char raw[BACKUP_KEEP_OUTPUT + 8];

	memcpy(raw, k->buf, k->len);
	raw[k->len] = '\0';
	util_sanitize(raw, 1);
	app_redact(&b->red, raw[0] ? raw : "(no output)", out, outlen);
}

/* ------------------------------------------------------ exec streams */

/*
 * One command in a container with its output demultiplexed: stdout to
 * out_fn (NULL: kept like stderr), stderr kept; with stdin, bytes are
 * written to it while its output is read (a command that talks while it
 * reads never blocks us).
 */
struct ex {
	struct bk          *b;
	int                 fd;
	char                eid[128];
	struct app_frames   dm;	/* without raw fallback: no TTY */
	struct keep         keep;
	int               (*out_fn)(void *ud, const void *p, size_t n);
	void               *out_ud;
	bool                out_failed;	/* out_fn refused: the upload failed */
	bool                bad_stream;	/* a stream byte above 2, or cut inside a frame */
	bool                eof;	/* the engine closed the stream */
};

static int
ex_piece(void *ud, int stream, const unsigned char *p, size_t n)
{
	struct ex *e = ud;

	/* Without a TTY every frame is stdout or stderr: anything else is a
	 * corrupt stream, and a dump must not go on with bytes left out. */
	if (stream < 0 || stream > 2) {
		e->bad_stream = true;
		return -1;
	}
	if (stream == 1 && e->out_fn != NULL) {
		if (e->out_fn(e->out_ud, p, n) != 0) {
			e->out_failed = true;
			return -1;
		}
		return 0;
	}
	keep_add(&e->keep, p, n);
	return 0;
}

static int64_t
left_ms(const struct bk *b)
{
	int64_t l = b->end_ms - timefmt_mono_ms();

	return l > 0 ? l : 0;
}

/*
 * Creates and attaches the exec; out_fn (may be NULL) gets its stdout from
 * the first byte on (some may come with the engine's answer).  0 or -1
 * (error set).
 */
static int
ex_open(struct ex *e, struct bk *b, const char *ctr, const cJSON *cmd, const cJSON *env,
    bool with_stdin, int (*out_fn)(void *ud, const void *p, size_t n), void *out_ud)
{
	unsigned char early[4096];
	size_t        got;
	char          err[1024];

	memset(e, 0, sizeof(*e));
	app_frames_init(&e->dm, false);
	e->b = b;
	e->fd = -1;
	e->out_fn = out_fn;
	e->out_ud = out_ud;
	if (ctr_exec_create(&b->x, &b->a, ctr, cmd, env, with_stdin ? CTR_EXEC_STDIN : 0, e->eid,
	    sizeof(e->eid), err, sizeof(err)) != 0)
		return fail(b, "%s", err);
	e->fd = ctr_exec_attach(b->j->conf->engine_socket, e->eid, false, BK_SETUP_MS, early,
	    sizeof(early), &got, err, sizeof(err));
	if (e->fd < 0)
		return fail(b, "%s", err);
	if (got > 0 && app_frames_feed(&e->dm, early, got, ex_piece, e) != 0)
		return fail(b, "the upload to the destination failed at its first bytes");
	return 0;
}

/* Reads what the engine has (waits up to ms); -1 when out_fn refused. */
static int
ex_read(struct ex *e, int ms)
{
	unsigned char buf[BK_CHUNK];
	struct pollfd p = {.fd = e->fd, .events = POLLIN};
	ssize_t       n;

	if (e->eof)
		return 0;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	while ((n = read(e->fd, buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		e->eof = true;
		return 0;
	}
	return app_frames_feed(&e->dm, buf, (size_t)n, ex_piece, e) != 0 ? -1 : 0;
}

/*
 * Writes n bytes to the command's stdin, reading its output meanwhile.
 * 0, or -1 when the command stopped reading (ended) or time ran out.
 */
static int
ex_write(struct ex *e, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		struct pollfd pf = {.fd = e->fd, .events = POLLIN | POLLOUT};
		int           ms = (int)(left_ms(e->b) < 60000 ? left_ms(e->b) : 60000);
		ssize_t       w;

		if (e->eof || ms <= 0)
			return -1;
		if (poll(&pf, 1, ms) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((pf.revents & POLLIN) && ex_read(e, 0) != 0)
			return -1;
		if (pf.revents & (POLLERR | POLLHUP))
			return -1;
		if (!(pf.revents & POLLOUT))
			continue;
		w = send(e->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Ends the command's input (when it had one), reads its output to the end
 * and returns its exit code (-1 unknown, -2 time ran out).  Closes the
 * stream.
 */
static int
ex_finish(struct ex *e, bool close_input)
{
	int code;

	if (close_input)
		(void)shutdown(e->fd, SHUT_WR);
	while (!e->eof) {
		int64_t l = left_ms(e->b);

		if (l <= 0) {
			close(e->fd);
			e->fd = -1;
			return -2;
		}
		if (ex_read(e, (int)(l < 60000 ? l : 60000)) != 0)
			break;
	}
	close(e->fd);
	e->fd = -1;
	if (e->dm.hlen != 0 || e->dm.left != 0)
		e->bad_stream = true;
	if (e->out_failed || e->bad_stream)
		return -1;
	code = ctr_exec_wait(&e->b->x, &e->b->a, e->eid);
	arena_reset(&e->b->a);
	return code;
}

/*
 * Ends the command itself (not just its input: an SQL script cut between
 * two statements is still a valid script).  The exec's Pid is the engine
 * host's (the agent runs beside its engine).
 */
static void
ex_kill(struct ex *e)
{
	struct xfer_resp r;
	cJSON           *doc;
	const cJSON     *pid;

	if (xfer_engine(&e->b->x, &e->b->a, arena_printf(&e->b->a, ENGINE_API "/exec/%s/json",
	    e->eid), CTR_TIMEOUT_MS, &r) == 0 && r.status == 200 &&
	    (doc = cJSON_Parse(r.body)) != NULL) {
		pid = cJSON_GetObjectItemCaseSensitive(doc, "Pid");
		if (cJSON_IsNumber(pid) && pid->valuedouble > 1 &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "Running")))
			(void)kill((pid_t)pid->valuedouble, SIGKILL);
		cJSON_Delete(doc);
	}
	arena_reset(&e->b->a);
}

static void
ex_abort(struct ex *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

/*
 * Runs cmd in ctr to its end, its output kept (a short step: staging,
 * emptying).  0 when it exited 0, else -1 (error set, naming what).
 */
static int
ex_step(struct bk *b, const char *what, const char *ctr, const cJSON *cmd, const cJSON *env)
{
	struct ex e;
	char      out[BACKUP_KEEP_OUTPUT + 64];
	int       code;

	if (ex_open(&e, b, ctr, cmd, env, false, NULL, NULL) != 0) {
		ex_abort(&e);
		return -1;
	}
	code = ex_finish(&e, false);
	if (code == 0)
		return 0;
	keep_text(b, &e.keep, out, sizeof(out));
	return fail(b, "%s failed (%s %d): %s", what, code == -2 ? "timed out," : "exit", code, out);
}

/* ------------------------------------------------------------ objects */

static int
dest_open(struct bk *b, const cJSON *payload)
{
	const cJSON *dest = cJSON_GetObjectItemCaseSensitive(payload, "destination");
	const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(payload, "tenant_id");
	char         err[1024];

	if (!cJSON_IsObject(dest) || !cJSON_IsString(tenant) || !util_is_uuid(tenant->valuestring))
		return fail(b, "bad payload: destination and tenant_id are required");
	app_redact_add(&b->red, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dest,
	    "access_key")));
	app_redact_add(&b->red, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dest,
	    "secret_key")));
	if (objstore_dest_from_json(dest, b->local_root, tenant->valuestring, &b->dest, err,
	    sizeof(err)) != 0)
		return fail(b, "destination: %s", err);
	return 0;
}

static const char *
key_of(const cJSON *o, const char *name)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(k) && k->valuestring[0] != '\0' && strlen(k->valuestring) < 1024 ?
	    k->valuestring : NULL;
}

struct put_sink {
	struct objstore_put *put;
};

static int
put_write(void *ud, const void *p, size_t n)
{
	struct put_sink *s = ud;

	return objstore_put_write(s->put, p, n);
}

/* What a verified backup gives. */
struct made {
	uint64_t size;
	char     sha[65];
	char     verified_at[40];
};

/*
 * The dump of cmd (in ctr) into the object key, then its read-back.
 * 0 with *m, or -1 (error set; nothing committed, or a committed object
 * that did not verify, which the plane's row marks failed).
 */
static int
dump_to(struct bk *b, const char *ctr, const cJSON *cmd, const cJSON *env, const char *key,
    struct made *m)
{
	struct put_sink s;
	struct ex       e;
	char            err[1024], out[BACKUP_KEEP_OUTPUT + 64], sha2[65];
	uint64_t        size2 = 0;
	int             code;

	memset(m, 0, sizeof(*m));
	if ((s.put = objstore_put_open(&b->dest, key, err, sizeof(err))) == NULL)
		return fail(b, "upload to the destination: %s", err);
	if (ex_open(&e, b, ctr, cmd, env, false, put_write, &s) != 0) {
		ex_abort(&e);
		(void)objstore_put_close(s.put, false, NULL, NULL, err, sizeof(err));
		return -1;
	}
	code = ex_finish(&e, false);
	if (code != 0) {
		bool up = e.out_failed;

		err[0] = '\0';
		(void)objstore_put_close(s.put, false, NULL, NULL, err, sizeof(err));
		if (up)
			return fail(b, "upload to the destination failed: %s", err[0] ? err :
			    "(no detail)");
		if (e.bad_stream)
			return fail(b, "the engine's output of the dump was not a whole framed stream "
			    "(cut inside a frame, or an unknown stream): nothing was kept");
		keep_text(b, &e.keep, out, sizeof(out));
		return fail(b, "the dump failed (%s %d): %s", code == -2 ? "timed out," : "exit",
		    code, out);
	}
	if (objstore_put_close(s.put, true, &m->size, m->sha, err, sizeof(err)) != 0)
		return fail(b, "upload to the destination failed: %s", err);
	app_say(&b->io, "uploaded %llu bytes (sha256 %s); reading them back",
	    (unsigned long long)m->size, m->sha);
	if (strcmp(b->j->kind, "backup.run") == 0)	/* the plane's row goes "verifying" */
		b->j->emit(b->j->ud, BACKUP_PHASE_VERIFY);
	if (b->j->conf->backup_verify_delay_ms > 0)
		timefmt_sleep_ms(b->j->conf->backup_verify_delay_ms);
	if (objstore_get(&b->dest, key, NULL, NULL, &size2, sha2, err, sizeof(err)) != 0)
		return fail(b, "read-back failed: %s", err);
	if (size2 != m->size || strcmp(sha2, m->sha) != 0)
		return fail(b, "read-back does not match what was uploaded: %llu bytes, sha256 %s "
		    "(uploaded %llu bytes, sha256 %s)", (unsigned long long)size2, sha2,
		    (unsigned long long)m->size, m->sha);
	if (timefmt_rfc3339(m->verified_at, sizeof(m->verified_at), timefmt_wall()) != 0)
		return fail(b, "clock");
	app_say(&b->io, "verified: %llu bytes, sha256 %s", (unsigned long long)m->size, m->sha);
	return 0;
}

/* The result object of a verified backup (caller frees); NULL on OOM. */
static cJSON *
made_json(const struct made *m, const char *key)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL)
		return NULL;
	cJSON_AddNumberToObject(r, "size_bytes", (double)m->size);
	cJSON_AddStringToObject(r, "sha256", m->sha);
	cJSON_AddStringToObject(r, "verified_at", m->verified_at);
	cJSON_AddStringToObject(r, "object_key", key);
	return r;
}

/* The object's size and sha256 without changing anything; -1 (error set) on a mismatch. */
static int
verify_object(struct bk *b, const char *key, int64_t want_size, const char *want_sha)
{
	char     err[1024], sha[65];
	uint64_t size = 0;

	app_say(&b->io, "checking the object before anything changes");
	if (objstore_get(&b->dest, key, NULL, NULL, &size, sha, err, sizeof(err)) != 0)
		return fail(b, "reading the backup: %s", err);
	if ((want_size >= 0 && size != (uint64_t)want_size) || strcmp(sha, want_sha) != 0)
		return fail(b, "the backup object does not match its record (%llu bytes, sha256 %s; "
		    "expected %lld bytes, sha256 %s): nothing was changed", (unsigned long long)size,
		    sha, (long long)want_size, want_sha);
	return 0;
}

static int
ex_sink(void *ud, const void *p, size_t n)
{
	return ex_write(ud, p, n);
}

/*
 * Streams the object into cmd's stdin (in ctr) and waits for it.  *size
 * and sha of what was read.  0 when the command exited 0, else -1 (error
 * set).  A read failure ends the input early: the command sees a
 * truncated stream (pg_restore then rolls its transaction back).
 */
static int
stream_into(struct bk *b, const char *key, const char *ctr, const cJSON *cmd, const cJSON *env,
    uint64_t *size, char sha[65])
{
	struct ex e;
	char      err[1024], out[BACKUP_KEEP_OUTPUT + 64];
	int       rc, code;

	if (ex_open(&e, b, ctr, cmd, env, true, NULL, NULL) != 0) {
		ex_abort(&e);
		return -1;
	}
	err[0] = '\0';
	rc = objstore_get(&b->dest, key, ex_sink, &e, size, sha, err, sizeof(err));
	if (rc != 0) {
		/* The command's own words on why it stopped reading, if it did. */
		if (!e.eof)
			ex_kill(&e);
		(void)ex_finish(&e, true);
		keep_text(b, &e.keep, out, sizeof(out));
		return fail(b, "reading the backup into the engine failed: %s; the engine said: %s",
		    err, out);
	}
	code = ex_finish(&e, true);
	if (code != 0) {
		keep_text(b, &e.keep, out, sizeof(out));
		return fail(b, "the restore command failed (%s %d): %s", code == -2 ? "timed out," :
		    "exit", code, out);
	}
	return 0;
}

/* --------------------------------------------------------- databases */

static int
db_parse(struct bk *b, const cJSON *o, struct bk_db *db)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "database_id");
	const char  *c = key_of(o, "container");
	int64_t      port = 0;

	memset(db, 0, sizeof(*db));
	db->type = key_of(o, "type");
	db->user = key_of(o, "db_user");
	db->name = key_of(o, "db_name");
	db->password = key_of(o, "password");
	if (cJSON_GetObjectItemCaseSensitive(o, "port") != NULL &&
	    text_json_i64(cJSON_GetObjectItemCaseSensitive(o, "port"), 1, 65535, &port) != 0)
		port = 0;
	db->port = (int)port;
	if (!cJSON_IsString(id) || db->type == NULL ||
	    db_container_name(id->valuestring, db->container, sizeof(db->container)) != 0)
		return fail(b, "bad payload: database.database_id and database.type are required");
	if (c != NULL && strcmp(c, db->container) != 0)
		return fail(b, "bad payload: database.container must be %s", db->container);
	app_redact_add(&b->red, db->password);
	return 0;
}

/* The database's container, running and ours: its id into id.  0 or -1. */
static int
db_container(struct bk *b, const struct bk_db *db, char *id, size_t idlen)
{
	cJSON      *doc;
	char        err[1024];
	const char *m;
	int         rc = ctr_inspect(&b->x, &b->a, db->container, CTR_TIMEOUT_MS, &doc, err,
	    sizeof(err));

	if (rc < 0)
		return fail(b, "%s", err);
	if (rc == 1)
		return fail(b, "container %s does not exist", db->container);
	m = ctr_label(doc, "launcher.managed");
	if (m == NULL || strcmp(m, "1") != 0 || ctr_label(doc, "launcher.database") == NULL)
		return fail(b, "container %s does not carry launcher's labels: left alone",
		    db->container);
	if (!ctr_running(doc))
		return fail(b, "the database is not running (container %s is %s)", db->container,
		    ctr_state(doc));
	util_snprintf(id, idlen, "%s", ctr_id(doc));
	return 0;
}

static int
db_backup(struct bk *b, const struct bk_db *db, const char *ctr, const char *key, struct made *m)
{
	cJSON *cmd, *env;
	char   err[512];
	int    rc;

	if (backup_db_cmd("dump", db->type, db->user, db->name, db->password, db->port, &cmd, &env,
	    err, sizeof(err)) != 0)
		return fail(b, "%s", err);
	app_say(&b->io, "dumping %s database %s of %s into %s", db->type, db->name ? db->name : "0",
	    db->container, key);
	rc = dump_to(b, ctr, cmd, env, key, m);
	cJSON_Delete(cmd);
	db_env_free(env);
	return rc;
}

/*
 * redis: the RDB is staged in the server's data directory (read off its
 * CONFIG GET dir), checked, then loaded by a second redis-server on a
 * loopback port that the database replicates from.  The scripts take the
 * password from REDISCLI_AUTH (the env) only; the staging server has none
 * and listens on 127.0.0.1 inside the container only.
 */
static const char redis_stage[] =
    "set -e\n"
    "dir=$(redis-cli --no-auth-warning ${LNCHR_PORT:+-p $LNCHR_PORT} CONFIG GET dir | sed -n 2p)\n"
    "[ -d \"$dir\" ] || { echo \"no data directory ($dir)\" >&2; exit 1; }\n"
    "d=\"$dir/.lnchr-restore\"\n"
    "rm -rf \"$d\"\n"
    "mkdir -m 700 \"$d\"\n"
    "exec cat > \"$d/dump.rdb\"\n";
static const char redis_load[] =
    "set -u\n"
    "cli() { redis-cli --no-auth-warning ${LNCHR_PORT:+-p $LNCHR_PORT} \"$@\"; }\n"
    "tmp() { env -u REDISCLI_AUTH redis-cli -p \"$port\" \"$@\"; }\n"
    "dir=$(cli CONFIG GET dir | sed -n 2p)\n"
    "d=\"$dir/.lnchr-restore\"\n"
    "[ -s \"$d/dump.rdb\" ] || { echo 'the staged RDB is missing' >&2; exit 1; }\n"
    "port=$(( 30000 + $$ % 20000 ))\n"
    "cleanup() { tmp SHUTDOWN NOSAVE >/dev/null 2>&1; rm -rf \"$d\"; }\n"
    "trap cleanup EXIT\n"
    "redis-server --port \"$port\" --bind 127.0.0.1 --dir \"$d\" --dbfilename dump.rdb "
    "--appendonly no --save '' --daemonize yes --pidfile \"$d/pid\" --logfile \"$d/log\" || exit 1\n"
    "i=0; until tmp PING 2>/dev/null | grep -q PONG; do i=$((i+1)); "
    "[ $i -lt 600 ] || { echo 'the staging redis did not start' >&2; cat \"$d/log\" >&2; exit 1; }; "
    "sleep 0.1; done\n"
    "echo \"staged: $(tmp DBSIZE) keys\"\n"
    "cli REPLICAOF 127.0.0.1 \"$port\" | grep -q OK || { echo 'REPLICAOF refused' >&2; exit 1; }\n"
    "ok=; i=0\n"
    "while [ $i -lt 36000 ]; do\n"
    "  if cli INFO replication | tr -d '\\r' | grep -q '^master_link_status:up'; then ok=1; break; fi\n"
    "  i=$((i+1)); sleep 0.1\n"
    "done\n"
    "cli REPLICAOF NO ONE >/dev/null\n"
    "[ -n \"$ok\" ] || { echo 'the database did not finish its sync from the staged RDB' >&2; "
    "exit 1; }\n"
    "echo \"restored: $(cli DBSIZE) keys\"\n";
static const char redis_unstage[] =
    "dir=$(redis-cli --no-auth-warning ${LNCHR_PORT:+-p $LNCHR_PORT} CONFIG GET dir | sed -n 2p)\n"
    "[ -n \"$dir\" ] && rm -rf \"$dir/.lnchr-restore\"\n";

static cJSON *
sh_cmd(const char *script)
{
	cJSON *c = cJSON_CreateArray();

	if (c != NULL) {
		add_str(c, "sh");
		add_str(c, "-c");
		add_str(c, script);
	}
	return c;
}

static cJSON *
redis_env(const struct bk_db *db)
{
	cJSON *e = cJSON_CreateArray();
	char   p[16];

	if (e == NULL)
		return NULL;
	db_env_add(e, "REDISCLI_AUTH", db->password);
	if (db->port > 0) {
		(void)util_snprintf(p, sizeof(p), "%d", db->port);
		db_env_add(e, "LNCHR_PORT", p);
	}
	return e;
}

/* What a restore reads: the object, its expected size and checksum. */
struct want {
	const char *key;
	int64_t     size;	/* -1 unknown */
	const char *sha;	/* NULL unknown */
};

static int
want_parse(struct bk *b, const cJSON *p, struct want *w)
{
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(p, "expected_size");
	const char  *sha = key_of(p, "expected_sha256");

	w->key = key_of(p, "object_key");
	w->size = -1;
	w->sha = NULL;
	if (w->key == NULL)
		return fail(b, "bad payload: object_key is required");
	if (sz != NULL && !cJSON_IsNull(sz) && text_json_i64(sz, 0, INT64_MAX, &w->size) != 0)
		return fail(b, "bad payload: expected_size must be a non-negative integer");
	if (sha != NULL) {
		if (strlen(sha) != 64 || !text_word_ok(sha, 64, ""))
			return fail(b, "bad payload: expected_sha256 must be 64 hex digits");
		w->sha = sha;
	}
	return 0;
}

/* Compares what the streaming pass read with the record; -1 (error set) on a difference. */
static int
want_check(struct bk *b, const struct want *w, uint64_t size, const char *sha, const char *after)
{
	if ((w->size >= 0 && size != (uint64_t)w->size) || (w->sha != NULL && strcmp(sha, w->sha) != 0))
		return fail(b, "the backup object changed while it was restored (%llu bytes, sha256 "
		    "%s; expected %lld bytes, sha256 %s)%s", (unsigned long long)size, sha,
		    (long long)w->size, w->sha ? w->sha : "unknown", after);
	return 0;
}

static int
db_restore(struct bk *b, const struct bk_db *db, const char *ctr, const struct want *w,
    uint64_t *size, char sha[65])
{
	cJSON *cmd = NULL, *env = NULL;
	char   err[512];
	int    rc = -1;

	if (strcmp(db->type, "redis") == 0) {
		if ((env = redis_env(db)) == NULL || (cmd = sh_cmd(redis_stage)) == NULL) {
			fail(b, "out of memory");
			goto out;
		}
		app_say(&b->io, "staging the RDB in %s's data directory", db->container);
		if (stream_into(b, w->key, ctr, cmd, env, size, sha) != 0 ||
		    want_check(b, w, *size, sha, ": nothing was changed") != 0) {
			cJSON_Delete(cmd);
			if ((cmd = sh_cmd(redis_unstage)) != NULL) {
				char keep[RUNNER_MAX_ERROR];

				util_snprintf(keep, sizeof(keep), "%s", b->j->error);
				(void)ex_step(b, "removing the staged RDB", ctr, cmd, env);
				util_snprintf(b->j->error, b->j->errlen, "%s", keep);
			}
			goto out;
		}
		cJSON_Delete(cmd);
		app_say(&b->io, "loading it: the database replicates from a staging redis-server");
		if ((cmd = sh_cmd(redis_load)) == NULL) {
			fail(b, "out of memory");
			goto out;
		}
		rc = ex_step(b, "loading the RDB", ctr, cmd, env);
		goto out;
	}
	if (w->sha != NULL && verify_object(b, w->key, w->size, w->sha) != 0)
		goto out;
	if (backup_db_cmd("restore", db->type, db->user, db->name, db->password, db->port, &cmd,
	    &env, err, sizeof(err)) != 0) {
		fail(b, "%s", err);
		goto out;
	}
	app_say(&b->io, "restoring %s into %s database %s", w->key, db->type, db->name);
	rc = stream_into(b, w->key, ctr, cmd, env, size, sha);
	if (rc == 0)
		rc = want_check(b, w, *size, sha, "");
out:
	cJSON_Delete(cmd);
	db_env_free(env);
	return rc;
}

/* ------------------------------------------------------------ volumes */

/* Whether the file at path is a static ELF executable (no interpreter). */
static bool
static_elf(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return false;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return false;
		if (ph.p_type == PT_INTERP)
			return false;
	}
	return true;
}

/* One ustar header (512 bytes) for name of size bytes, mode, type ('0' file, '5' dir). */
static void
tar_header(unsigned char h[512], const char *name, uint64_t size, unsigned mode, char type)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	(void)util_snprintf((char *)h, 100, "%s", name);
	(void)util_snprintf((char *)h + 100, 8, "%07o", mode);
	(void)util_snprintf((char *)h + 108, 8, "%07o", 0);
	(void)util_snprintf((char *)h + 116, 8, "%07o", 0);
	(void)util_snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	(void)util_snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	(void)util_snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

static int
discard(void *ud, const char *p, size_t n)
{
	(void)ud;
	(void)p;
	(void)n;
	return 0;
}

/*
 * The helper image: a tar of bin/busybox (the host's static busybox),
 * imported as BACKUP_HELPER_REPO:<size>-<mtime> when the engine lacks it.
 * ref (reflen) gets its reference.  0 or -1 (error set).
 */
static int
helper_image(struct bk *b, char *ref, size_t reflen)
{
	struct xfer_resp r;
	struct stat      st;
	unsigned char    h[512], buf[BK_CHUNK];
	const char      *path = NULL;
	int              src = -1, mfd = -1, rc = -1;
	uint64_t         left;

	for (int i = 0; busybox_paths[i] != NULL && path == NULL; i++) {
		if ((src = open(busybox_paths[i], O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (fstat(src, &st) == 0 && S_ISREG(st.st_mode) && static_elf(src))
			path = busybox_paths[i];
		else {
			close(src);
			src = -1;
		}
	}
	if (path == NULL)
		return fail(b, "volume backups need a static busybox on the server (Debian: "
		    "apt-get install busybox-static) for their helper container");
	(void)util_snprintf(ref, reflen, BACKUP_HELPER_REPO ":%llx-%llx",
	    (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
	if (xfer_engine(&b->x, &b->a, arena_printf(&b->a, ENGINE_API "/images/%s/json",
	    ctr_qs_escape(&b->a, ref)), CTR_TIMEOUT_MS, &r) == 0 && r.status == 200) {
		close(src);
		return 0;
	}
	app_say(&b->io, "importing the volume helper image %s from %s", ref, path);
	if ((mfd = memfd_create("volume-helper.tar", MFD_CLOEXEC)) < 0) {
		fail(b, "memfd: %s", strerror(errno));
		goto out;
	}
	tar_header(h, "bin/", 0, 0755, '5');
	if (runner_write_all(mfd, h, 512) != 0)
		goto io;
	tar_header(h, "bin/busybox", (uint64_t)st.st_size, 0755, '0');
	if (runner_write_all(mfd, h, 512) != 0)
		goto io;
	for (left = (uint64_t)st.st_size; left > 0;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n <= 0 || runner_write_all(mfd, buf, (size_t)n) != 0)
			goto io;
		left -= (uint64_t)n > left ? left : (uint64_t)n;
	}
	memset(buf, 0, 1024 + 512);
	if (runner_write_all(mfd, buf, (size_t)((512 - st.st_size % 512) % 512) + 1024) != 0 ||
	    lseek(mfd, 0, SEEK_SET) != 0)
		goto io;
	rc = xfer_engine_stream(&b->x, "POST", arena_printf(&b->a, ENGINE_API
	    "/images/create?fromSrc=-&repo=%s", ctr_qs_escape(&b->a, ref)), "application/x-tar", mfd,
	    NULL, discard, NULL, 120000L, &r);
	if (rc != 0 || r.status != 200) {
		rc = fail(b, "importing the volume helper image: %s", rc != 0 ? r.err :
		    "the engine refused it");
		goto out;
	}
	if (xfer_engine(&b->x, &b->a, arena_printf(&b->a, ENGINE_API "/images/%s/json",
	    ctr_qs_escape(&b->a, ref)), CTR_TIMEOUT_MS, &r) != 0 || r.status != 200) {
		rc = fail(b, "the engine imported the volume helper image but does not know it as %s",
		    ref);
		goto out;
	}
	rc = 0;
	goto out;
io:
	rc = fail(b, "building the volume helper image: %s", strerror(errno));
out:
	if (src >= 0)
		close(src);
	if (mfd >= 0)
		close(mfd);
	return rc;
}

struct bk_vol {
	char engine_name[VOL_NAME_MAX];
	char helper[96];	/* the helper container's name */
	char helper_id[128];
};

static int
vol_parse(struct bk *b, const cJSON *p, struct bk_vol *v)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(p, "volume");
	const char  *id = key_of(o, "volume_id"), *en = key_of(o, "engine_name");
	const char  *job = b->j->job_id;

	memset(v, 0, sizeof(*v));
	if (id == NULL || vol_engine_name(id, v->engine_name, sizeof(v->engine_name)) != 0)
		return fail(b, "bad payload: volume.volume_id is required");
	if (en != NULL && strcmp(en, v->engine_name) != 0)
		return fail(b, "bad payload: volume.engine_name must be %s", v->engine_name);
	(void)util_snprintf(v->helper, sizeof(v->helper), BK_HELPER_PREFIX "%.36s", job);
	return 0;
}

/* The engine volume exists and is ours; 0 or -1 (error set). */
static int
vol_check(struct bk *b, const struct bk_vol *v, const char *tenant)
{
	struct xfer_resp r;
	cJSON           *doc;
	bool             ours;
	const char      *id = v->engine_name + strlen(VOL_PREFIX);

	if (xfer_engine(&b->x, &b->a, arena_printf(&b->a, ENGINE_API "/volumes/%s", v->engine_name),
	    VOL_TIMEOUT_MS, &r) != 0)
		return fail(b, "volume %s: %s", v->engine_name, r.err);
	if (r.status == 404)
		return fail(b, "engine volume %s does not exist", v->engine_name);
	doc = cJSON_Parse(r.body);
	ours = r.status == 200 && vol_is_ours(doc, id, tenant);
	cJSON_Delete(doc);
	if (!ours)
		return fail(b, "engine volume %s does not carry launcher's labels for this volume: "
		    "left alone", v->engine_name);
	return 0;
}

/* The names of the running containers that mount the volume (other than our helper). */
static int
vol_users(struct bk *b, const struct bk_vol *v, char *names, size_t len)
{
	struct xfer_resp r;
	cJSON           *list, *it;
	size_t           used = 0;
	char             filt[256];

	names[0] = '\0';
	(void)util_snprintf(filt, sizeof(filt), "{\"volume\":[\"%s\"]}", v->engine_name);
	if (xfer_engine(&b->x, &b->a, arena_printf(&b->a, ENGINE_API "/containers/json?filters=%s",
	    ctr_qs_escape(&b->a, filt)), CTR_TIMEOUT_MS, &r) != 0 || r.status != 200)
		return fail(b, "listing the containers that mount %s: %s", v->engine_name,
		    r.status ? "bad answer" : r.err);
	list = cJSON_Parse(r.body);
	cJSON_ArrayForEach(it, list) {
		const cJSON *nm = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "Names"), 0);
		const char  *n = cJSON_GetStringValue(nm);

		if (n == NULL)
			continue;
		if (*n == '/')
			n++;
		if (strcmp(n, v->helper) == 0)
			continue;
		(void)text_put(names, len, &used, "%s%s", used ? ", " : "", n);
	}
	cJSON_Delete(list);
	return 0;
}

/* Creates and starts the helper container mounting the volume; 0 or -1 (error set). */
static int
helper_start(struct bk *b, struct bk_vol *v, bool read_only)
{
	struct xfer_resp r;
	cJSON           *body, *hc, *mnt, *m, *labels, *cmd;
	char             ref[256], *text, msg[700], err[1024];
	const cJSON     *id;
	int              rc;

	if (helper_image(b, ref, sizeof(ref)) != 0)
		return -1;
	(void)ctr_remove(&b->x, &b->a, v->helper, err, sizeof(err));	/* an earlier attempt's */
	if ((body = cJSON_CreateObject()) == NULL)
		return fail(b, "out of memory");
	cJSON_AddStringToObject(body, "Image", ref);
	cmd = cJSON_AddArrayToObject(body, "Cmd");
	add_str(cmd, "/bin/busybox");
	add_str(cmd, "sleep");
	add_str(cmd, BK_HELPER_SLEEP);
	labels = cJSON_AddObjectToObject(body, "Labels");
	cJSON_AddStringToObject(labels, "launcher.managed", "1");
	cJSON_AddStringToObject(labels, "launcher.helper", "volume-backup");
	hc = cJSON_AddObjectToObject(body, "HostConfig");
	cJSON_AddStringToObject(hc, "NetworkMode", "none");
	mnt = cJSON_AddArrayToObject(hc, "Mounts");
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(mnt, m);
	cJSON_AddStringToObject(m, "Type", "volume");
	cJSON_AddStringToObject(m, "Source", v->engine_name);
	cJSON_AddStringToObject(m, "Target", BACKUP_VOLUME_MOUNT);
	cJSON_AddBoolToObject(m, "ReadOnly", read_only);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL)
		return fail(b, "out of memory");
	rc = xfer_engine_call(&b->x, &b->a, "POST", arena_printf(&b->a, ENGINE_API
	    "/containers/create?name=%s", v->helper), text, CTR_TIMEOUT_MS, &r);
	cJSON_free(text);
	if (rc != 0)
		return fail(b, "creating the helper container: %s", r.err);
	if (r.status != 201) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		return fail(b, "creating the helper container: %s", msg);
	}
	body = cJSON_Parse(r.body);
	id = cJSON_GetObjectItemCaseSensitive(body, "Id");
	if (!cJSON_IsString(id) ||
	    util_snprintf(v->helper_id, sizeof(v->helper_id), "%s", id->valuestring) < 0) {
		cJSON_Delete(body);
		return fail(b, "creating the helper container: no id");
	}
	cJSON_Delete(body);
	if (ctr_action(&b->x, &b->a, v->helper_id, "start", err, sizeof(err)) != 0)
		return fail(b, "starting the helper container: %s", err);
	return 0;
}

static void
helper_remove(struct bk *b, struct bk_vol *v)
{
	char err[1024];

	if (v->helper_id[0] != '\0' &&
	    ctr_remove(&b->x, &b->a, v->helper_id, err, sizeof(err)) != 0)
		app_say(&b->io, "could not remove the helper container %s: %s", v->helper, err);
	v->helper_id[0] = '\0';
}

static cJSON *
busybox_cmd(const char *const *args)
{
	cJSON *c = cJSON_CreateArray();

	if (c == NULL)
		return NULL;
	add_str(c, "/bin/busybox");
	for (int i = 0; args[i] != NULL; i++)
		add_str(c, args[i]);
	return c;
}

static int
vol_backup(struct bk *b, struct bk_vol *v, const char *tenant, const char *key, struct made *m)
{
	static const char *const tar[] = {"tar", "-c", "-f", "-", "-C", BACKUP_VOLUME_MOUNT, ".",
	    NULL};
	cJSON *cmd;
	int    rc;

	if (vol_check(b, v, tenant) != 0 || helper_start(b, v, true) != 0) {
		helper_remove(b, v);
		return -1;
	}
	app_say(&b->io, "archiving volume %s (tar) into %s", v->engine_name, key);
	if ((cmd = busybox_cmd(tar)) == NULL) {
		helper_remove(b, v);
		return fail(b, "out of memory");
	}
	rc = dump_to(b, v->helper_id, cmd, NULL, key, m);
	cJSON_Delete(cmd);
	helper_remove(b, v);
	return rc;
}

static int
vol_restore(struct bk *b, struct bk_vol *v, const char *tenant, const struct want *w,
    uint64_t *size, char sha[65])
{
	static const char *const load[] = {"sh", "-c",
	    "set -e; cd " BACKUP_VOLUME_MOUNT "; "
	    "/bin/busybox find . -mindepth 1 -maxdepth 1 -exec /bin/busybox rm -rf {} +; "
	    "exec /bin/busybox tar -x -f - -C " BACKUP_VOLUME_MOUNT, NULL};
	char   users[1024];
	cJSON *cmd;
	int    rc;

	if (vol_check(b, v, tenant) != 0 || vol_users(b, v, users, sizeof(users)) != 0)
		return -1;
	if (users[0] != '\0')
		return fail(b, "volume %s is mounted by running containers (%s): stop them first; "
		    "nothing was changed", v->engine_name, users);
	if (w->sha != NULL && verify_object(b, w->key, w->size, w->sha) != 0)
		return -1;
	if (helper_start(b, v, false) != 0) {
		helper_remove(b, v);
		return -1;
	}
	app_say(&b->io, "emptying volume %s and extracting %s into it", v->engine_name, w->key);
	if ((cmd = busybox_cmd(load)) == NULL) {
		helper_remove(b, v);
		return fail(b, "out of memory");
	}
	rc = stream_into(b, w->key, v->helper_id, cmd, NULL, size, sha);
	cJSON_Delete(cmd);
	helper_remove(b, v);
	if (rc == 0)
		rc = want_check(b, w, *size, sha, "");
	return rc;
}

/* -------------------------------------------------------------- kinds */

/* The backup of the payload's resource to key (backup.run and the safety backup). */
static int
backup_resource(struct bk *b, const cJSON *p, const char *key, struct made *m)
{
	const char *rt = key_of(p, "resource_type");
	const char *tenant = key_of(p, "tenant_id");

	if (rt != NULL && strcmp(rt, "volume") == 0) {
		struct bk_vol v;

		if (vol_parse(b, p, &v) != 0)
			return -1;
		return vol_backup(b, &v, tenant, key, m);
	}
	if (rt != NULL && strcmp(rt, "database") == 0) {
		struct bk_db db;
		char         id[128];

		if (db_parse(b, cJSON_GetObjectItemCaseSensitive(p, "database"), &db) != 0 ||
		    db_container(b, &db, id, sizeof(id)) != 0)
			return -1;
		return db_backup(b, &db, id, key, m);
	}
	return fail(b, "bad payload: resource_type must be database or volume%s",
	    rt != NULL && strcmp(rt, "bucket") == 0 ? " (buckets are not available yet)" : "");
}

static int
kind_run(struct bk *b)
{
	const char *key = key_of(b->j->payload, "object_key");
	struct made m;

	if (key == NULL)
		return fail(b, "bad payload: object_key is required");
	if (dest_open(b, b->j->payload) != 0 || backup_resource(b, b->j->payload, key, &m) != 0)
		return -1;
	if ((b->j->result = made_json(&m, key)) == NULL)
		return fail(b, "out of memory");
	return 0;
}

static int
kind_restore(struct bk *b)
{
	const cJSON *p = b->j->payload;
	const cJSON *safety = cJSON_GetObjectItemCaseSensitive(p, "safety");
	const char  *rt = key_of(p, "resource_type"), *tenant = key_of(p, "tenant_id");
	cJSON       *sj = NULL;
	struct want  w;
	uint64_t     size = 0;
	char         sha[65] = "";
	int          rc;

	if (dest_open(b, p) != 0 || want_parse(b, p, &w) != 0)
		return -1;
	if (cJSON_IsObject(safety)) {
		const char *sk = key_of(safety, "object_key");
		struct made m;

		if (sk == NULL)
			return fail(b, "bad payload: safety.object_key is required");
		app_say(&b->io, "safety backup first, to %s", sk);
		if (backup_resource(b, p, sk, &m) != 0) {
			char keep[RUNNER_MAX_ERROR];

			util_snprintf(keep, sizeof(keep), "%s", b->j->error);
			/* The plane leaves the database running: nothing changed. */
			if ((b->j->result = cJSON_CreateObject()) != NULL) {
				cJSON_AddBoolToObject(b->j->result, "restored", 0);
				cJSON_AddNullToObject(b->j->result, "safety");
			}
			return fail(b, "the safety backup failed, nothing was restored: %s", keep);
		}
		if ((sj = made_json(&m, sk)) == NULL)
			return fail(b, "out of memory");
		cJSON_AddItemToObject(sj, "backup_id", cJSON_Duplicate(
		    cJSON_GetObjectItemCaseSensitive(safety, "backup_id"), 1));
	}
	if (rt != NULL && strcmp(rt, "volume") == 0) {
		struct bk_vol v;

		rc = vol_parse(b, p, &v) == 0 ? vol_restore(b, &v, tenant, &w, &size, sha) : -1;
	} else if (rt != NULL && strcmp(rt, "database") == 0) {
		struct bk_db db;
		char         id[128];

		rc = db_parse(b, cJSON_GetObjectItemCaseSensitive(p, "database"), &db) == 0 &&
		    db_container(b, &db, id, sizeof(id)) == 0 ? db_restore(b, &db, id, &w, &size, sha) :
		    -1;
	} else
		rc = fail(b, "bad payload: resource_type must be database or volume");
	if ((b->j->result = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(sj);
		return fail(b, "out of memory");
	}
	/* A failed restore still says where its safety backup is. */
	if (sj != NULL)
		cJSON_AddItemToObject(b->j->result, "safety", sj);
	else
		cJSON_AddNullToObject(b->j->result, "safety");
	if (rc != 0)
		return -1;
	cJSON_AddBoolToObject(b->j->result, "restored", 1);
	cJSON_AddNumberToObject(b->j->result, "size_bytes", (double)size);
	cJSON_AddStringToObject(b->j->result, "sha256", sha);
	app_say(&b->io, "restored %llu bytes (sha256 %s)", (unsigned long long)size, sha);
	return 0;
}

static int
kind_delete(struct bk *b)
{
	const char *key = key_of(b->j->payload, "object_key");
	char        err[1024];

	if (key == NULL)
		return fail(b, "bad payload: object_key is required");
	if (dest_open(b, b->j->payload) != 0)
		return -1;
	if (objstore_delete(&b->dest, key, err, sizeof(err)) != 0)
		return fail(b, "deleting %s: %s", key, err);
	app_say(&b->io, "deleted %s", key);
	if ((b->j->result = cJSON_CreateObject()) == NULL)
		return fail(b, "out of memory");
	cJSON_AddBoolToObject(b->j->result, "deleted", 1);
	return 0;
}

/* How much of an upload's head the agent holds back and checks before the
 * engine's client sees any of it. */
#define IMP_HEAD 65536

struct imp {
	struct ex     *e;
	uint64_t       n;
	bool           refused;
	const char    *why;     /* the head is not a text dump: why (nothing written) */
	unsigned char *head;    /* IMP_HEAD bytes; NULL once written to the client */
	size_t         hn;
};

/*
 * Whether an upload's first bytes look like a dump in text (SQL, or redis
 * commands): no NUL byte; a gzip or zstd magic or a pg_dump archive says
 * why not.  The plane checks only the upload's size (nginx writes the file
 * for its own user alone), so this is the content check of an import.
 */
static const char *
imp_sniff(const unsigned char *buf, size_t n)
{
	if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return "is gzip-compressed: upload the plain SQL dump";
	if (n >= 4 && buf[0] == 0x28 && buf[1] == 0xb5 && buf[2] == 0x2f && buf[3] == 0xfd)
		return "is zstd-compressed: upload the plain SQL dump";
	if (n >= 5 && memcmp(buf, "PGDMP", 5) == 0)
		return "is a pg_dump archive (custom format): upload a plain SQL dump, or restore it"
		    " with POST /databases/:id/restore-from-path";
	if (memchr(buf, '\0', n) != NULL)
		return "is not a text SQL dump (it holds NUL bytes)";
	return NULL;
}

/* Checks the held head and, when it is a text dump, writes it to the client. */
static int
imp_flush(struct imp *im)
{
	unsigned char *h = im->head;

	if (h == NULL)
		return 0;
	if ((im->why = imp_sniff(h, im->hn)) != NULL)
		return -1;
	im->head = NULL;
	if (im->hn > 0 && ex_write(im->e, (const char *)h, im->hn) != 0) {
		im->refused = true;
		return -1;
	}
	return 0;
}

static int
imp_data(void *ud, const char *p, size_t n)
{
	struct imp *im = ud;

	im->n += n;
	if (im->head != NULL) {
		size_t take = n < IMP_HEAD - im->hn ? n : IMP_HEAD - im->hn;

		memcpy(im->head + im->hn, p, take);
		im->hn += take;
		p += take;
		n -= take;
		if (im->hn < IMP_HEAD)
			return 0;
		if (imp_flush(im) != 0)
			return -1;
	}
	if (n > 0 && ex_write(im->e, p, n) != 0) {
		im->refused = true;
		return -1;
	}
	return 0;
}

static int
kind_import(struct bk *b)
{
	const cJSON     *p = b->j->payload;
	struct bk_db     db;
	struct ex        e;
	struct imp       im = {.e = &e};
	struct xfer_resp r;
	cJSON           *cmd, *env;
	char             id[128], err[512], out[BACKUP_KEEP_OUTPUT + 64];
	unsigned char   *head;
	int64_t          want = -1;
	int              rc, code;

	if (db_parse(b, cJSON_GetObjectItemCaseSensitive(p, "database"), &db) != 0 ||
	    db_container(b, &db, id, sizeof(id)) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(p, "size_bytes") != NULL &&
	    text_json_i64(cJSON_GetObjectItemCaseSensitive(p, "size_bytes"), 0, INT64_MAX, &want) != 0)
		return fail(b, "bad payload: size_bytes must be a non-negative integer");
	if (b->j->token == NULL)
		return fail(b, "no agent token for the upload's download");
	if (backup_db_cmd("import", db.type, db.user, db.name, db.password, db.port, &cmd, &env, err,
	    sizeof(err)) != 0)
		return fail(b, "%s", err);
	app_say(&b->io, "importing the upload into %s database %s", db.type,
	    db.name ? db.name : "0");
	if ((head = malloc(IMP_HEAD)) == NULL) {
		cJSON_Delete(cmd);
		db_env_free(env);
		return fail(b, "out of memory");
	}
	im.head = head;
	rc = ex_open(&e, b, id, cmd, env, true, NULL, NULL);
	cJSON_Delete(cmd);
	db_env_free(env);
	if (rc != 0) {
		free(head);
		ex_abort(&e);
		return -1;
	}
	{
		struct xfer px;

		xfer_init(&px, b->j->conf, b->j->token);
		rc = xfer_plane_stream(&px, arena_printf(&b->a, "/%s/api/v1/agent/imports/%s",
		    b->j->conf->tenant, b->j->job_id), imp_data, &im, (long)left_ms(b), &r);
		xfer_cleanup(&px);
	}
	/* A dump shorter than the head: checked and written now. */
	if (rc == 0 && r.status == 200 && (want < 0 || im.n == (uint64_t)want) && imp_flush(&im) != 0)
		rc = -1;
	free(head);
	if (rc != 0 || r.status != 200 || (want >= 0 && im.n != (uint64_t)want)) {
		/* Killed, not ended: psql's transaction is rolled back. */
		if (!e.eof)
			ex_kill(&e);
		(void)ex_finish(&e, true);
		keep_text(b, &e.keep, out, sizeof(out));
		if (im.why != NULL)
			return fail(b, "the upload %s; nothing was imported", im.why);
		if (rc == 0 && r.status == 200)
			return fail(b, "the upload is %llu bytes, the plane announced %lld: the import "
			    "was stopped", (unsigned long long)im.n, (long long)want);
		if (im.refused)
			return fail(b, "the engine's client stopped reading after %llu bytes: %s",
			    (unsigned long long)im.n, out);
		util_sanitize(r.err, 0);
		return fail(b, "downloading the upload from the plane: %s%s",
		    r.status ? arena_printf(&b->a, "HTTP %ld ", r.status) : "", r.err);
	}
	code = ex_finish(&e, true);
	keep_text(b, &e.keep, out, sizeof(out));
	if (code != 0)
		return fail(b, "the import failed (%s %d): %s", code == -2 ? "timed out," : "exit",
		    code, out);
	app_say(&b->io, "imported %llu bytes", (unsigned long long)im.n);
	if ((b->j->result = cJSON_CreateObject()) == NULL)
		return fail(b, "out of memory");
	cJSON_AddNumberToObject(b->j->result, "imported_bytes", (double)im.n);
	return 0;
}

/* ------------------------------------------------------------ dispatch */

static const struct {
	const char *kind;
	int       (*run)(struct bk *b);
} bk_kinds[] = {
	{"backup.run", kind_run},
	{"backup.restore", kind_restore},
	{"backup.delete", kind_delete},
	{"db.import", kind_import},
};

static int
bk_index(const char *kind)
{
	for (size_t i = 0; i < sizeof(bk_kinds) / sizeof(*bk_kinds); i++)
		if (strcmp(bk_kinds[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

bool
backup_kind(const char *kind)
{
	return bk_index(kind) >= 0;
}

static void
bk_open(struct bk *b, struct app_job *j)
{
	const struct agent_conf *c = j->conf;

	memset(b, 0, sizeof(*b));
	b->j = j;
	j->error[0] = '\0';
	b->io.emit = j->emit;
	b->io.ud = j->ud;
	b->io.red = &b->red;
	(void)backup_local_root_path(c, b->local_root, sizeof(b->local_root));
	b->end_ms = timefmt_mono_ms() + (j->time_left_ms > 0 ? j->time_left_ms : BK_DEFAULT_MS);
	xfer_init(&b->x, c, NULL);
	arena_init(&b->a, 65536);
	/* A stream whose reader went away must fail a write, not kill the job. */
	signal(SIGPIPE, SIG_IGN);
}

static void
bk_close(struct bk *b)
{
	xfer_cleanup(&b->x);
	arena_free(&b->a);
	app_redact_free(&b->red);
}

int
backup_run(struct app_job *j)
{
	struct bk b;
	int       k = bk_index(j->kind), rc;

	if (k < 0) {
		util_snprintf(j->error, j->errlen, "unknown job kind %s", j->kind);
		return -1;
	}
	bk_open(&b, j);
	rc = bk_kinds[k].run(&b);
	if (rc != 0 && j->error[0] == '\0')
		fail(&b, "%s failed", j->kind);
	bk_close(&b);
	return rc;
}

int
backup_provision_restore(struct app_job *j, const struct db_spec *d, const char *container_id)
{
	const cJSON *restore = cJSON_GetObjectItemCaseSensitive(j->payload, "restore");
	struct bk    b;
	struct bk_db db;
	struct want  w;
	uint64_t     size = 0;
	char         sha[65];
	int          rc = -1;

	if (restore == NULL || cJSON_IsNull(restore))
		return 0;
	bk_open(&b, j);
	if (!cJSON_IsObject(restore)) {
		fail(&b, "bad payload: restore must be an object");
		goto out;
	}
	memset(&db, 0, sizeof(db));
	db.type = d->type;
	db.user = d->db_user;
	db.name = d->db_name;
	db.password = d->password;
	app_redact_add(&b.red, d->password);
	if (db_container_name(d->database_id, db.container, sizeof(db.container)) != 0 ||
	    dest_open(&b, restore) != 0 || want_parse(&b, restore, &w) != 0)
		goto out;
	app_say(&b.io, "restoring the backup %s into the new database", w.key);
	rc = db_restore(&b, &db, container_id, &w, &size, sha);
	if (rc == 0)
		app_say(&b.io, "restored %llu bytes (sha256 %s)", (unsigned long long)size, sha);
out:
	bk_close(&b);
	return rc;
}

/* The detached clean-up of a killed volume backup or restore. */
static void
after_kill_run(const struct agent_conf *conf, const char *job_id, const cJSON *payload)
{
	struct xfer  x;
	struct arena a;
	char         name[96], err[1024];

	(void)payload;
	if (util_snprintf(name, sizeof(name), BK_HELPER_PREFIX "%.36s", job_id) < 0)
		return;
	xfer_init(&x, conf, NULL);
	arena_init(&a, 16384);
	if (ctr_remove(&x, &a, name, err, sizeof(err)) == 0)
		log_info("job %s: killed: removed its helper container %s", job_id, name);
	xfer_cleanup(&x);
	arena_free(&a);
}

void
backup_after_kill(const struct agent_conf *c, const char *kind, const char *job_id,
    const cJSON *payload)
{
	const char *rt = key_of(payload, "resource_type");

	if ((strcmp(kind, "backup.run") == 0 || strcmp(kind, "backup.restore") == 0) &&
	    rt != NULL && strcmp(rt, "volume") == 0)
		app_detached(c, job_id, payload, after_kill_run);
}
