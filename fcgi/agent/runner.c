/*
 * runner.c - job parsing, the kinds table, and the child that runs a job
 * (see runner.h for the pipe protocol).
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/spawn.h"
#include "../core/util.h"
#include "app.h"
#include "backup.h"
#include "backup_dest.h"
#include "bucket.h"
#include "db.h"
#include "fn.h"
#include "diag.h"
#include "domain.h"
#include "gitprov.h"
#include "registry.h"
#include "text.h"
#include "volume.h"
#include "timefmt.h"
#include "xfer.h"

struct job_ctx {
	const struct job        *job;
	const struct agent_conf *conf;
	const char              *token;
	int                      fd;
	bool                     write_failed;
	cJSON                   *result;	/* set by a kind that succeeded */
	char                     error[RUNNER_MAX_ERROR];	/* set by one that failed */
};

/* ------------------------------------------------------------ the claim */

/* It goes into a URL path: a UUID in practice, never anything else. */
static bool
job_id_ok(const char *s)
{
	return text_word_ok(s, sizeof(((struct job *)0)->id) - 1, "-_");
}

int
runner_job_parse(const cJSON *o, const cJSON *fallback_time, double received, int64_t rtt_ms,
    struct job *j, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "payload");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(o, "plane_time");
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(o, "deadline_at");
	double       deadline;

	memset(j, 0, sizeof(*j));
	if (!cJSON_IsString(pt))
		pt = fallback_time;
	if (!cJSON_IsString(id) || !job_id_ok(id->valuestring)) {
		util_snprintf(err, errlen, "claimed job without a usable id");
		return -1;
	}
	util_snprintf(j->id, sizeof(j->id), "%s", id->valuestring);
	if (!cJSON_IsString(kind) || kind->valuestring[0] == '\0' ||
	    util_snprintf(j->kind, sizeof(j->kind), "%s", kind->valuestring) < 0) {
		util_snprintf(j->kind, sizeof(j->kind), "%s", "(missing)");
	}
	util_sanitize(j->kind, 0);
	if (text_json_i64(cJSON_GetObjectItemCaseSensitive(o, "attempt"), 0, 1000000, &j->attempt) != 0)
		j->attempt = 1;
	/* The plane's leases are 5..3600 s; anything odd gets a safe 30 s. */
	if (text_json_i64(cJSON_GetObjectItemCaseSensitive(o, "lease_seconds"), 3, 86400,
	    &j->lease_seconds) != 0)
		j->lease_seconds = 30;
	j->claim_received = received;
	j->claim_rtt_ms = rtt_ms;
	if (cJSON_IsString(pt) && timefmt_parse_rfc3339(pt->valuestring, &j->plane_time) == 0)
		j->have_plane_time = true;
	if (j->have_plane_time && cJSON_IsString(dl) &&
	    timefmt_parse_rfc3339(dl->valuestring, &deadline) == 0) {
		j->have_deadline = true;
		j->deadline_in_s = deadline - j->plane_time;
	}
	j->payload = cJSON_IsObject(payload) ? cJSON_Duplicate(payload, 1) : cJSON_CreateObject();
	if (j->payload == NULL) {
		util_snprintf(err, errlen, "out of memory copying the payload");
		return -1;
	}
	return 0;
}

void
runner_job_clear(struct job *j)
{
	cJSON_Delete(j->payload);
	memset(j, 0, sizeof(*j));
}

cJSON *
runner_failed(const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char   e[RUNNER_MAX_ERROR];

	if (o == NULL)
		return NULL;
	(void)util_snprintf(e, sizeof(e), "%s", msg);	/* a cut message is still useful */
	text_truncate(e, sizeof(e) - 1);
	util_sanitize(e, 1);
	if (cJSON_AddStringToObject(o, "status", "failed") == NULL ||
	    cJSON_AddStringToObject(o, "error", e) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* -------------------------------------------------------------- records */

int
runner_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends one progress line (cut to RUNNER_MAX_LINE, made one clean line). */
static void
emit(struct job_ctx *ctx, const char *line)
{
	char   rec[RUNNER_MAX_LINE + 4];
	size_t n;

	rec[0] = 'P';
	rec[1] = ' ';
	n = strnlen(line, RUNNER_MAX_LINE + 1);
	if (n > RUNNER_MAX_LINE)
		n = RUNNER_MAX_LINE + 1;	/* text_truncate cuts on a character */
	memcpy(rec + 2, line, n);
	rec[2 + n] = '\0';
	text_truncate(rec + 2, RUNNER_MAX_LINE);
	util_sanitize(rec + 2, 0);
	n = strlen(rec);
	rec[n++] = '\n';
	if (!ctx->write_failed && runner_write_all(ctx->fd, rec, n) != 0)
		ctx->write_failed = true;	/* the agent went away */
}

static void
emit_cb(void *ud, const char *line)
{
	emit(ud, line);
}

/* Writes the R record; returns 0 or -1 (nobody is listening). */
static int
emit_final(struct job_ctx *ctx, bool ok)
{
	cJSON *o;
	char  *text = NULL;
	int    rc = -1;

	if (ok) {
		o = cJSON_CreateObject();
		if (o != NULL) {
			cJSON_AddStringToObject(o, "status", "succeeded");
			cJSON_AddItemToObject(o, "result", ctx->result);
			ctx->result = NULL;
		}
	} else {
		o = runner_failed(ctx->error[0] ? ctx->error : "the job failed");
		/* What a failed job still learned (e.g. the image it built). */
		if (o != NULL && ctx->result != NULL)
			cJSON_AddItemToObject(o, "result", ctx->result);
		else
			cJSON_Delete(ctx->result);
		ctx->result = NULL;
	}
	if (o != NULL)
		text = cJSON_PrintUnformatted(o);
	if (text != NULL && strlen(text) > RUNNER_MAX_RESULT) {
		char msg[128];

		cJSON_free(text);
		cJSON_Delete(o);
		util_snprintf(msg, sizeof(msg), "the job's result is larger than %zu bytes",
		    RUNNER_MAX_RESULT);
		o = runner_failed(msg);
		text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	}
	if (text != NULL && runner_write_all(ctx->fd, "R ", 2) == 0 &&
	    runner_write_all(ctx->fd, text, strlen(text)) == 0 && runner_write_all(ctx->fd, "\n", 1) == 0)
		rc = 0;
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

/* ---------------------------------------------------------------- kinds */

/*
 * noop: {"sleep_ms": 0..600000, "marker": "...", "lines": 0..100000}.
 * Sleeps, sends "lines" extra progress lines (to exercise batching), reports,
 * and appends "<job id> <marker> <attempt>" to <state_dir>/noop.log in one
 * write(), so that tests can count how often a job really ran.
 */
static int
kind_noop(struct job_ctx *ctx)
{
	const cJSON    *m = cJSON_GetObjectItemCaseSensitive(ctx->job->payload, "marker");
	const cJSON    *s = cJSON_GetObjectItemCaseSensitive(ctx->job->payload, "sleep_ms");
	const cJSON    *l = cJSON_GetObjectItemCaseSensitive(ctx->job->payload, "lines");
	char            marker[257] = "", line[512], path[AGENT_STR_MAX + 16];
	int64_t         ms = 0, lines = 0;
	struct timespec ts;
	int             fd, n;

	if (s != NULL && text_json_i64(s, 0, 600000, &ms) != 0) {
		util_snprintf(ctx->error, sizeof(ctx->error),
		    "bad payload: sleep_ms must be an integer 0..600000");
		return -1;
	}
	if (l != NULL && text_json_i64(l, 0, 100000, &lines) != 0) {
		util_snprintf(ctx->error, sizeof(ctx->error),
		    "bad payload: lines must be an integer 0..100000");
		return -1;
	}
	if (m != NULL && (!cJSON_IsString(m) ||
	    util_snprintf(marker, sizeof(marker), "%s", m->valuestring) < 0)) {
		util_snprintf(ctx->error, sizeof(ctx->error),
		    "bad payload: marker must be a string of at most 256 bytes");
		return -1;
	}
	util_sanitize(marker, 0);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	for (int64_t i = 1; i <= lines; i++) {
		util_snprintf(line, sizeof(line), "noop %s line %lld", marker, (long long)i);
		emit(ctx, line);
	}
	util_snprintf(line, sizeof(line), "noop %s attempt %lld", marker,
	    (long long)ctx->job->attempt);
	emit(ctx, line);
	if (util_snprintf(path, sizeof(path), "%s/noop.log", ctx->conf->state_dir) < 0 ||
	    (n = util_snprintf(line, sizeof(line), "%s %s %lld\n", ctx->job->id, marker,
	    (long long)ctx->job->attempt)) < 0) {
		util_snprintf(ctx->error, sizeof(ctx->error), "noop.log path or line too long");
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		util_snprintf(ctx->error, sizeof(ctx->error), "%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, line, (size_t)n) != n) {
		util_snprintf(ctx->error, sizeof(ctx->error), "%s: short write", path);
		close(fd);
		return -1;
	}
	close(fd);
	if ((ctx->result = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(ctx->result, "marker", marker) == NULL ||
	    cJSON_AddNumberToObject(ctx->result, "slept_ms", (double)ms) == NULL) {
		util_snprintf(ctx->error, sizeof(ctx->error), "out of memory");
		return -1;
	}
	return 0;
}

/* diagnostics: every check, each reported as a progress line too. */
static int
kind_diagnostics(struct job_ctx *ctx)
{
	struct arena      a;
	struct xfer       x;
	struct diag_input in = {
		.conf = ctx->conf,
		.x = &x,
		.have_plane_time = ctx->job->have_plane_time,
		.plane_time = ctx->job->plane_time,
		.claim_received = ctx->job->claim_received,
		.claim_rtt_ms = ctx->job->claim_rtt_ms,
		.progress = emit_cb,
		.ud = ctx,
	};

	arena_init(&a, 16384);
	/* Our own handles: the parent's connections are not ours to use. */
	xfer_init(&x, ctx->conf, NULL);
	ctx->result = diag_run(&in, &a);
	xfer_cleanup(&x);
	arena_free(&a);
	if (ctx->result == NULL) {
		util_snprintf(ctx->error, sizeof(ctx->error), "out of memory");
		return -1;
	}
	return 0;
}

/* What is left of the job's time on our clock, less a minute to report; 0 = unknown. */
static int64_t
time_left_ms(const struct job *j)
{
	double left;

	if (!j->have_deadline)
		return 0;
	left = j->deadline_in_s - (timefmt_wall() - j->claim_received) - 60.0;
	return left < 60.0 ? 60000 : (int64_t)(left * 1000.0);
}

/*
 * app.*, db.*, backup.*, db.import, objstore.provision and fn.*: see app.h,
 * db.h, backup.h, bucket.h and fn.h (a failed one may leave a partial result
 * too).
 */
static int
kind_app(struct job_ctx *ctx)
{
	struct app_job aj = {
		.kind = ctx->job->kind,
		.job_id = ctx->job->id,
		.payload = ctx->job->payload,
		.conf = ctx->conf,
		.token = ctx->token,
		.time_left_ms = time_left_ms(ctx->job),
		.emit = emit_cb,
		.ud = ctx,
		.error = ctx->error,
		.errlen = sizeof(ctx->error),
	};
	int rc = backup_kind(aj.kind) ? backup_run(&aj) : db_kind(aj.kind) ? db_run(&aj) :
	    strcmp(aj.kind, "objstore.provision") == 0 ? objstore_provision_run(&aj) :
	    fn_kind(aj.kind) ? fn_run(&aj) : app_run(&aj);

	ctx->result = aj.result;
	if (rc == 0 && ctx->result == NULL) {
		util_snprintf(ctx->error, sizeof(ctx->error), "out of memory");
		return -1;
	}
	return rc;
}

/* volume.remove: see volume.h. */
static int
kind_volume_remove(struct job_ctx *ctx)
{
	struct arena a;
	struct xfer  x;
	int          rc;

	arena_init(&a, 16384);
	xfer_init(&x, ctx->conf, NULL);
	rc = vol_remove(&x, &a, ctx->job->payload, emit_cb, ctx, &ctx->result, ctx->error,
	    sizeof(ctx->error));
	xfer_cleanup(&x);
	arena_free(&a);
	if (rc == 0 && ctx->result == NULL) {
		util_snprintf(ctx->error, sizeof(ctx->error), "out of memory");
		return -1;
	}
	return rc;
}

/* registry.test: see registry.h (a failed login leaves its result too). */
static int
kind_registry_test(struct job_ctx *ctx)
{
	return registry_test(ctx->conf, ctx->job->payload, &ctx->result, ctx->error,
	    sizeof(ctx->error));
}

/* backup.dest_test: write, read back and delete a probe (backup_dest.h);
 * a failed test is a succeeded job whose result says ok=false. */
static int
kind_backup_dest_test(struct job_ctx *ctx)
{
	return backup_dest_test(ctx->conf, ctx->job->payload, &ctx->result, ctx->error,
	    sizeof(ctx->error));
}

/* git.*: a git provider's API (gitprov.h). */
static int
kind_git(struct job_ctx *ctx)
{
	return gitprov_run(ctx->conf, ctx->job->kind, ctx->job->payload, emit_cb, ctx, &ctx->result,
	    ctx->error, sizeof(ctx->error));
}

/* bucket.*: the object-store driver (bucket.h; a refused delete leaves its result). */
static int
kind_bucket(struct job_ctx *ctx)
{
	return bucket_run(ctx->conf, ctx->job->kind, ctx->job->payload, &ctx->result, ctx->error,
	    sizeof(ctx->error));
}

/* edge.host: a custom hostname's routes (domain.h). */
static int
kind_edge_host(struct job_ctx *ctx)
{
	return domain_edge_host(ctx->conf, ctx->job->payload, emit_cb, ctx, &ctx->result, ctx->error,
	    sizeof(ctx->error));
}

/* domain.cert: the ACME client may use the job's time, less a minute to
 * install and report (5 minutes when the claim gave no deadline). */
static int
kind_domain_cert(struct job_ctx *ctx)
{
	double s = ctx->job->have_deadline ? ctx->job->deadline_in_s - 60.0 : 300.0;

	if (!(s >= 60.0))
		s = 60.0;
	if (s > 3600.0)
		s = 3600.0;
	return domain_cert(ctx->conf, ctx->job->payload, (int)(s * 1000.0), emit_cb, ctx,
	    &ctx->result, ctx->error, sizeof(ctx->error));
}

static const struct {
	const char *kind;
	int       (*run)(struct job_ctx *ctx);	/* 0 succeeded, -1 failed (error set) */
} kinds[] = {
	{"noop", kind_noop},
	{"diagnostics", kind_diagnostics},
	{"app.deploy", kind_app},
	{"app.scale", kind_app},
	{"app.start", kind_app},
	{"app.stop", kind_app},
	{"app.restart", kind_app},
	{"app.remove", kind_app},
	{"app.exec", kind_app},
	{"volume.remove", kind_volume_remove},
	{"registry.test", kind_registry_test},
	{"backup.dest_test", kind_backup_dest_test},
	{"db.provision", kind_app},
	{"db.start", kind_app},
	{"db.stop", kind_app},
	{"db.restart", kind_app},
	{"db.remove", kind_app},
	{"db.rotate_password", kind_app},
	{"db.pitr_backup", kind_app},
	{"db.pitr_info", kind_app},
	{"db.pitr_restore", kind_app},
	{"git.test", kind_git},
	{"git.repositories", kind_git},
	{"git.branches", kind_git},
	{"git.hook", kind_git},
	{"edge.host", kind_edge_host},
	{"domain.cert", kind_domain_cert},
	{"backup.run", kind_app},
	{"backup.restore", kind_app},
	{"backup.delete", kind_app},
	{"db.import", kind_app},
	{"bucket.create", kind_bucket},
	{"bucket.rotate", kind_bucket},
	{"bucket.revoke", kind_bucket},
	{"bucket.delete", kind_bucket},
	{"bucket.public", kind_bucket},
	{"bucket.objects", kind_bucket},
	{"objstore.provision", kind_app},
	{"fn.deploy", kind_app},
	{"fn.invoke", kind_app},
	{"fn.remove", kind_app},
};

static int
kind_index(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

bool
runner_kind_known(const char *kind)
{
	return kind_index(kind) >= 0;
}

/* ---------------------------------------------------------------- child */

int
runner_run(const struct job *j, const struct agent_conf *c, const char *token, int fd)
{
	struct job_ctx ctx = {.job = j, .conf = c, .token = token, .fd = fd};
	int            k = kind_index(j->kind), ok;

	if (k < 0) {
		util_snprintf(ctx.error, sizeof(ctx.error), "unknown job kind %s", j->kind);
		ok = 0;
	} else
		ok = kinds[k].run(&ctx) == 0;
	if (emit_final(&ctx, ok) != 0) {
		cJSON_Delete(ctx.result);
		return 1;
	}
	return 0;
}

int
runner_fork(const char *id, int (*body)(void *ud, int fd), void *ud, pid_t *pid, int *fd)
{
	int   p[2];
	pid_t parent = getpid(), child;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((child = fork()) < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (child == 0) {
		close(p[0]);
		/* Its own group, so that a kill reaches whatever it started; and it
		 * dies with the agent rather than running on unobserved. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* The agent's own handlers are not the job's; its sockets still
		 * answer EPIPE rather than kill it. */
		spawn_child_signals();
		signal(SIGPIPE, SIG_IGN);
		/* _exit: no atexit handlers or stdio buffers of the parent run twice. */
		_exit(body(ud, p[1]));
	}
	/* Both sides set the group, so there is no window for kill(-pid). */
	(void)setpgid(child, child);
	close(p[1]);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0)
		log_warn("job %s: cannot make its pipe non-blocking", id);
	*pid = child;
	*fd = p[0];
	return 0;
}

struct spawn {
	const struct job        *j;
	const struct agent_conf *c;
	const char              *token;
};

static int
spawn_body(void *ud, int fd)
{
	struct spawn *s = ud;

	return runner_run(s->j, s->c, s->token, fd);
}

int
runner_spawn(const struct job *j, const struct agent_conf *c, const char *token, pid_t *pid,
    int *fd)
{
	struct spawn s = {j, c, token};

	return runner_fork(j->id, spawn_body, &s, pid, fd);
}
