/*
 * image.c - pull, git clone + build, release (see image.h).
 */
#define _XOPEN_SOURCE 700
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <cjson/cJSON.h>

#include "../core/spawn.h"
#include "../core/util.h"
#include "ctr.h"
#include "engine.h"
#include "registry.h"
#include "runner.h"
#include "text.h"
#include "timefmt.h"

#define PULL_TIMEOUT_MS  (15L * 60 * 1000)
#define PUSH_TIMEOUT_MS  (30L * 60 * 1000)
#define BUILD_TIMEOUT_MS (60L * 60 * 1000)
#define GIT_TIMEOUT_MS   (10 * 60 * 1000)
#define STREAM_LINE_MAX  65536

extern char **environ;

void
app_say(const struct app_io *io, const char *fmt, ...)
{
	char    raw[RUNNER_MAX_LINE * 2], red[RUNNER_MAX_LINE + 1];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);	/* a cut line is still a line */
	va_end(ap);
	app_redact(io->red, raw, red, sizeof(red));
	text_truncate(red, RUNNER_MAX_LINE);
	if (io->emit != NULL)
		io->emit(io->ud, red);
}

/*
 * One line of a program's output (build, git): redacted on its own before
 * its prefix goes in front, so that a piece of a value that starts the line
 * (core/redact.h: values cut at a line boundary) is still seen to start it.
 */
static void
say_output(const struct app_io *io, const char *prefix, const char *line)
{
	char red[RUNNER_MAX_LINE + 1];

	app_redact(io->red, line, red, sizeof(red));
	app_say(io, "%s%s", prefix, red);
}

void
image_split_ref(const char *ref, char *repo, size_t repolen, char *tag, size_t taglen)
{
	const char *slash = strrchr(ref, '/'), *colon;

	if (strchr(ref, '@') != NULL) {
		(void)util_snprintf(repo, repolen, "%s", ref);
		tag[0] = '\0';
		return;
	}
	colon = strrchr(slash != NULL ? slash : ref, ':');
	if (colon == NULL) {
		(void)util_snprintf(repo, repolen, "%s", ref);
		(void)util_snprintf(tag, taglen, "latest");
		return;
	}
	(void)util_snprintf(repo, repolen, "%.*s", (int)(colon - ref), ref);
	(void)util_snprintf(tag, taglen, "%s", colon + 1);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 || errno == ENOENT ? 0 : -1;
}

int
image_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------- JSON streams */

/*
 * The engine's pull and build answers: one JSON object per line.  Lines
 * are assembled across chunks and handed to fn.
 */
struct jstream {
	char  *buf;
	size_t len;
	void (*fn)(struct jstream *js, const cJSON *o);
	const struct app_io *io;
	char   error[2048];		/* the first "error" seen */
	char   last[512];		/* last status line (pull), to skip repeats */
	char   aux_id[160];		/* build: aux.ID */
	char   partial[RUNNER_MAX_LINE];	/* build: a "stream" text without its newline yet */
	const char *what;		/* status lines' prefix: "pull" (NULL) or "push" */
	size_t plen;
	int    lines;
};

static void
js_line(struct jstream *js, char *line)
{
	cJSON       *o = cJSON_Parse(line);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
	const cJSON *ed = cJSON_GetObjectItemCaseSensitive(o, "errorDetail");

	if (o == NULL)
		return;
	if (!cJSON_IsString(e) && cJSON_IsObject(ed))
		e = cJSON_GetObjectItemCaseSensitive(ed, "message");
	if (cJSON_IsString(e) && js->error[0] == '\0') {
		(void)util_snprintf(js->error, sizeof(js->error), "%s", e->valuestring);
		util_sanitize(js->error, 0);
	}
	js->fn(js, o);
	cJSON_Delete(o);
}

static int
js_data(void *ud, const char *p, size_t n)
{
	struct jstream *js = ud;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			js->buf[js->len] = '\0';
			js_line(js, js->buf);
			js->len = 0;
		} else if (js->len < STREAM_LINE_MAX - 1)
			js->buf[js->len++] = p[i];
	}
	return 0;
}

static void
js_finish(struct jstream *js)
{
	if (js->len > 0) {
		js->buf[js->len] = '\0';
		js_line(js, js->buf);
		js->len = 0;
	}
}

static void
pull_obj(struct jstream *js, const cJSON *o)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	char         line[512];

	/* Progress bars are noise; the statuses tell the story. */
	if (!cJSON_IsString(st) || cJSON_GetObjectItemCaseSensitive(o, "progress") != NULL)
		return;
	(void)util_snprintf(line, sizeof(line), "%s%s%s", cJSON_IsString(id) ? id->valuestring : "",
	    cJSON_IsString(id) ? ": " : "", st->valuestring);
	if (strcmp(line, js->last) == 0 || js->lines >= 200)
		return;
	memcpy(js->last, line, sizeof(line));
	js->lines++;
	app_say(js->io, "%s: %s", js->what ? js->what : "pull", line);
}

static int
inspect_image(struct xfer *x, struct arena *a, const char *ref, char *id, size_t idlen, char *err,
    size_t errlen)
{
	struct xfer_resp r;
	cJSON           *doc;
	const cJSON     *v;

	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/images/%s/json", ctr_qs_escape(a, ref)),
	    CTR_TIMEOUT_MS, &r) != 0) {
		util_snprintf(err, errlen, "inspecting image %s: %s", ref, r.err);
		return -1;
	}
	if (r.status != 200) {
		util_snprintf(err, errlen, "inspecting image %s: HTTP %ld (no such image?)", ref, r.status);
		return -1;
	}
	doc = cJSON_Parse(r.body);
	v = cJSON_GetObjectItemCaseSensitive(doc, "Id");
	if (!cJSON_IsString(v) || util_snprintf(id, idlen, "%s%s",
	    strncmp(v->valuestring, "sha256:", 7) == 0 ? "" : "sha256:", v->valuestring) < 0) {
		cJSON_Delete(doc);
		util_snprintf(err, errlen, "inspecting image %s: no Id", ref);
		return -1;
	}
	cJSON_Delete(doc);
	return 0;
}

/*
 * The X-Registry-Auth header of a pull or push of ref with s's registry
 * (registry.h) into *hdr (arena; the caller wipes it), or *hdr = NULL when
 * the application names no registry.  An image that is not on that
 * registry is refused: its credentials go to their own registry only.
 */
static int
registry_header(struct arena *a, const struct app_spec *s, const char *ref, char **hdr,
    char *err, size_t errlen)
{
	struct reg_creds c;
	char             host[300], b64[12288];

	*hdr = NULL;
	if (s->registry == NULL)
		return 0;
	if (!reg_creds_of(s->registry, &c)) {
		util_snprintf(err, errlen, "the application's registry has no usable url");
		return -1;
	}
	if (!reg_serves(c.url, ref)) {
		(void)reg_image_host(ref, host, sizeof(host));
		util_snprintf(err, errlen, "image %s is not on the application's registry %s (its host "
		    "is %s): its credentials are sent to their own registry only", ref, c.url, host);
		return -1;
	}
	if (reg_auth_header(&c, b64, sizeof(b64)) != 0) {
		util_snprintf(err, errlen, "the registry's credentials are too long");
		return -1;
	}
	*hdr = arena_printf(a, "X-Registry-Auth: %s", b64);
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

static void
wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

static int
pull(struct xfer *x, struct arena *a, const struct app_spec *s, const struct app_io *io,
    struct image_out *out, char *err, size_t errlen)
{
	struct jstream   js = {.fn = pull_obj, .io = io};
	struct xfer_resp r;
	char             repo[600], tag[200], *auth;
	const char      *path;
	int              rc;

	image_split_ref(s->image, repo, sizeof(repo), tag, sizeof(tag));
	(void)util_snprintf(out->image, sizeof(out->image), "%s", s->image);
	if (registry_header(a, s, s->image, &auth, err, errlen) != 0)
		return -1;
	app_say(io, "pulling image %s%s", s->image, auth ? " (with the registry's credentials)" : "");
	if ((js.buf = malloc(STREAM_LINE_MAX)) == NULL) {
		wipe(auth);
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	path = tag[0] ? arena_printf(a, ENGINE_API "/images/create?fromImage=%s&tag=%s",
	    ctr_qs_escape(a, repo), ctr_qs_escape(a, tag)) :
	    arena_printf(a, ENGINE_API "/images/create?fromImage=%s", ctr_qs_escape(a, repo));
	rc = xfer_engine_stream_hdr(x, "POST", path, NULL, -1, "", auth, js_data, &js,
	    PULL_TIMEOUT_MS, &r);
	wipe(auth);
	js_finish(&js);
	free(js.buf);
	if (rc != 0 && r.status == 0) {
		util_snprintf(err, errlen, "pulling image %s failed: %s", s->image, r.err);
		return -1;
	}
	if (js.error[0] != '\0' || r.status != 200 || rc != 0) {
		char red[2200];

		app_redact(io->red, js.error[0] ? js.error : r.err[0] ? r.err : "the engine refused",
		    red, sizeof(red));
		util_snprintf(err, errlen, "pulling image %s failed: %s", s->image, red);
		return -1;
	}
	if (inspect_image(x, a, s->image, out->image_id, sizeof(out->image_id), err, errlen) != 0)
		return -1;
	app_say(io, "pulled image %s (%.19s)", s->image, out->image_id);
	return 0;
}

/*
 * A release this server lacks (built and pushed by another server, or
 * removed here) pulled from the application's registry by the reference
 * its deployment recorded; it must be the very image of the release.
 */
static int
pull_release(struct xfer *x, struct arena *a, const struct app_spec *s, const struct app_io *io,
    struct image_out *out, char *err, size_t errlen)
{
	app_say(io, "the release's image %.19s is not on this server: pulling %s", s->image_id,
	    s->image);
	if (pull(x, a, s, io, out, err, errlen) != 0)
		return -1;
	if (strcmp(out->image_id, s->image_id) != 0) {
		util_snprintf(err, errlen, "%s is now image %.19s, not the release's %.19s (the tag was "
		    "pushed again?)", s->image, out->image_id, s->image_id);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- git */

/* Lines of a child's output, handed to the job as progress. */
struct proc_out {
	const struct app_io *io;
	const char          *prefix;
	char                 line[1024];
	size_t               len;
	char                *capture;	/* when set: everything, up to caplen */
	size_t               caplen, capused;
};

static void
proc_feed(struct proc_out *po, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (po->capture != NULL && po->capused + 1 < po->caplen) {
			po->capture[po->capused++] = p[i];
			po->capture[po->capused] = '\0';
		}
		if (p[i] == '\n' || p[i] == '\r') {
			if (po->len > 0 && po->capture == NULL) {
				po->line[po->len] = '\0';
				util_sanitize(po->line, 0);
				say_output(po->io, po->prefix, po->line);
			}
			po->len = 0;
		} else if (po->len < sizeof(po->line) - 1)
			po->line[po->len++] = p[i];
	}
}

/*
 * Runs argv (PATH search) in cwd with envp, stdin /dev/null, output to
 * po; kills it (its whole group) after timeout_ms.  Returns the exit
 * status, 128+signal, or -1 when it could not run / timed out (err).
 */
static int
proc_run(char *const argv[], char *const envp[], const char *cwd, int timeout_ms,
    struct proc_out *po, char *err, size_t errlen)
{
	int     p[2], ws = 0;
	pid_t   pid;
	int64_t deadline = timefmt_mono_ms() + timeout_ms;
	char    chunk[4096];

	if (pipe2(p, O_CLOEXEC) != 0) {
		util_snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		util_snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (cwd != NULL && chdir(cwd) != 0)
			_exit(126);
		spawn_child_signals();
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	close(p[1]);
	for (;;) {
		int64_t       left = deadline - timefmt_mono_ms();
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t       n;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			(void)waitpid(pid, &ws, 0);
			close(p[0]);
			util_snprintf(err, errlen, "%s timed out after %d s", argv[0], timeout_ms / 1000);
			return -1;
		}
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;
		n = read(p[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		proc_feed(po, chunk, (size_t)n);
	}
	proc_feed(po, "\n", 1);
	close(p[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return WEXITSTATUS(ws);
}

/* The environment for git: ours minus secrets, plus its own settings. */
static char **
git_env(struct arena *a, const char *askpass, const char *user, const char *pass)
{
	size_t n = 0, o = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	if ((env = arena_alloc(a, (n + 10) * sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GIT_", 4) != 0 && strncmp(environ[i], "LNCHR_GIT_", 10) != 0 &&
		    strncmp(environ[i], AGENT_TOKEN_ENV "=", sizeof(AGENT_TOKEN_ENV)) != 0)
			env[o++] = environ[i];
	env[o++] = "GIT_TERMINAL_PROMPT=0";
	env[o++] = "GIT_CONFIG_NOSYSTEM=1";
	env[o++] = "GIT_CONFIG_GLOBAL=/dev/null";
	env[o++] = "GIT_LFS_SKIP_SMUDGE=1";
	if (askpass != NULL) {
		env[o++] = arena_printf(a, "GIT_ASKPASS=%s", askpass);
		env[o++] = arena_printf(a, "LNCHR_GIT_USER=%s", user);
		env[o++] = arena_printf(a, "LNCHR_GIT_PASS=%s", pass);
	}
	env[o] = NULL;
	return env;
}

static int
write_askpass(const char *path, char *err, size_t errlen)
{
	static const char script[] =
	    "#!/bin/sh\n"
	    "# git's credential prompt (GIT_ASKPASS); the values live only in git's env.\n"
	    "case \"$1\" in\n"
	    "Username*) printf '%s\\n' \"$LNCHR_GIT_USER\" ;;\n"
	    "*) printf '%s\\n' \"$LNCHR_GIT_PASS\" ;;\n"
	    "esac\n";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);

	if (fd < 0 || write(fd, script, sizeof(script) - 1) != (ssize_t)(sizeof(script) - 1)) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Runs git, failing with its last output line. */
static int
git(char *const argv[], char **env, const char *cwd, const struct app_io *io, const char *what,
    char *capture, size_t caplen, char *err, size_t errlen)
{
	struct proc_out po = {.io = io, .prefix = "git: ", .capture = capture, .caplen = caplen};
	int             st;

	if (capture != NULL)
		capture[0] = '\0';
	st = proc_run(argv, env, cwd, GIT_TIMEOUT_MS, &po, err, errlen);
	if (st == 0)
		return 0;
	if (st > 0) {
		char red[600];

		app_redact(io->red, po.line, red, sizeof(red));
		(void)util_snprintf(err, errlen, "%s failed (git exit %d)%s%s", what, st,
		    red[0] ? ": " : "", red);
	}
	return -1;
}

/* The build context tar on a pipe: tar -C dir -cf - . (its pid in *pid). */
static int
tar_start(const char *dir, pid_t *pid, char *err, size_t errlen)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0) {
		util_snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((*pid = fork()) < 0) {
		util_snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (*pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(p[1], 1);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 2);
		}
		spawn_child_signals();
		execlp("tar", "tar", "-C", dir, "--exclude=./.git", "-cf", "-", ".", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	return p[0];
}

static void
build_obj(struct jstream *js, const cJSON *o)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stream");
	const cJSON *aux = cJSON_GetObjectItemCaseSensitive(o, "aux");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(aux, "ID");

	if (cJSON_IsString(id))
		(void)util_snprintf(js->aux_id, sizeof(js->aux_id), "%s", id->valuestring);
	if (!cJSON_IsString(st))
		return;
	/* "stream" texts hold zero or more lines; a line may span two objects. */
	for (const char *p = st->valuestring; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			if (js->plen > 0) {
				js->partial[js->plen] = '\0';
				util_sanitize(js->partial, 0);
				say_output(js->io, "build: ", js->partial);
			}
			js->plen = 0;
		} else if (js->plen < sizeof(js->partial) - 16)
			js->partial[js->plen++] = *p;
	}
}

/*
 * The X-Registry-Config header of a build of s (the application's
 * registry's credentials for the Dockerfile's FROM images on it) into
 * *hdr (arena; the caller wipes it), or NULL without a registry.
 */
static int
build_registry_config(struct arena *a, const struct app_spec *s, char **hdr, char *err,
    size_t errlen)
{
	struct reg_creds c;
	char             b64[12288];

	*hdr = NULL;
	if (s->registry == NULL)
		return 0;
	if (!reg_creds_of(s->registry, &c) || reg_config_header(&c, b64, sizeof(b64)) != 0) {
		util_snprintf(err, errlen, "the application's registry has no usable credentials");
		return -1;
	}
	*hdr = arena_printf(a, "X-Registry-Config: %s", b64);
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

/*
 * A built image (tag) pushed to the application's registry, so that any
 * server can pull this release: tagged as reg_push_ref() says
 * (<host>/<namespace>/<app>:<deployment id>), then the engine's
 * images/{name}/push with X-Registry-Auth.  out->image becomes the pushed
 * reference.  0, or -1 (err: the engine's words): the deployment fails,
 * since the release would exist on this server alone.
 */
static int
push_built(struct xfer *x, struct arena *a, const struct app_spec *s, const struct app_io *io,
    const char *tag, struct image_out *out, char *err, size_t errlen)
{
	struct jstream   js = {.fn = pull_obj, .io = io, .what = "push"};
	struct reg_creds c;
	struct xfer_resp r;
	char             ref[700], repo[600], ptag[200], *auth;
	int              rc;

	if (!reg_creds_of(s->registry, &c) || reg_push_ref(&c, s->name && s->name[0] ? s->name :
	    s->app_id, s->deployment_id, ref, sizeof(ref)) != 0) {
		util_snprintf(err, errlen, "no push reference for the application's registry");
		return -1;
	}
	image_split_ref(ref, repo, sizeof(repo), ptag, sizeof(ptag));
	if (xfer_engine_call(x, a, "POST", arena_printf(a, ENGINE_API "/images/%s/tag?repo=%s&tag=%s",
	    ctr_qs_escape(a, tag), ctr_qs_escape(a, repo), ctr_qs_escape(a, ptag)), NULL, CTR_TIMEOUT_MS,
	    &r) != 0 || (r.status != 201 && r.status != 200)) {
		util_snprintf(err, errlen, "tagging image %s as %s failed: %s", tag, ref,
		    r.err[0] ? r.err : "the engine refused");
		return -1;
	}
	if (registry_header(a, s, ref, &auth, err, errlen) != 0)
		return -1;
	app_say(io, "pushing image %s to the application's registry", ref);
	if ((js.buf = malloc(STREAM_LINE_MAX)) == NULL) {
		wipe(auth);
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = xfer_engine_stream_hdr(x, "POST", arena_printf(a, ENGINE_API "/images/%s/push?tag=%s",
	    ctr_qs_escape(a, repo), ctr_qs_escape(a, ptag)), NULL, -1, "", auth, js_data, &js,
	    PUSH_TIMEOUT_MS, &r);
	wipe(auth);
	js_finish(&js);
	free(js.buf);
	if (rc != 0 || js.error[0] != '\0' || r.status != 200) {
		char red[2200];

		app_redact(io->red, js.error[0] ? js.error : r.err[0] ? r.err : "the engine refused",
		    red, sizeof(red));
		util_snprintf(err, errlen, "pushing image %s failed: %s", ref, red);
		return -1;
	}
	(void)util_snprintf(out->image, sizeof(out->image), "%s", ref);
	app_say(io, "pushed image %s", ref);
	return 0;
}

/*
 * The query words that put a build's RUN steps in net ("none" or a network's
 * name), never in the host's network namespace.  Docker reads networkmode.
 * Podman's compatible /build reads networkmode as buildah's network policy
 * and, without nsoptions, runs RUN in the host's namespace whatever
 * networkmode says (Podman 4.3 .. 5): nsoptions asks for a new namespace,
 * empty (policy NetworkDisabled) or joined to the named network.
 */
static const char *
build_net_query(struct xfer *x, struct arena *a, const char *net, char *err, size_t errlen)
{
	struct engine_facts f = {0};
	struct xfer_resp    r;
	bool                none = strcmp(net, "none") == 0;
	cJSON              *ns, *o;
	char               *text;
	const char         *q;

	if (xfer_engine(x, a, ENGINE_API "/version", CTR_TIMEOUT_MS, &r) != 0 || r.status != 200 ||
	    engine_parse_version(r.body, &f) != 0) {
		util_snprintf(err, errlen, "building the image failed: the engine's kind is unknown "
		    "(GET /version: %s)", r.err[0] ? r.err : "no answer");
		return NULL;
	}
	if (strcmp(f.type, "podman") != 0)
		return arena_printf(a, "&networkmode=%s", ctr_qs_escape(a, net));
	if ((ns = cJSON_CreateArray()) == NULL || (o = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(ns);
		util_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cJSON_AddItemToArray(ns, o);
	cJSON_AddStringToObject(o, "Name", "network");
	cJSON_AddBoolToObject(o, "Host", 0);
	if (!none)
		cJSON_AddStringToObject(o, "Path", net);
	text = cJSON_PrintUnformatted(ns);
	cJSON_Delete(ns);
	if (text == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q = arena_printf(a, "&networkmode=%s&nsoptions=%s",
	    none ? "NetworkDisabled" : "NetworkEnabled", ctr_qs_escape(a, text));
	cJSON_free(text);
	return q;
}

int
image_build(struct xfer *x, struct arena *a, const struct agent_conf *c, const struct app_spec *s,
    const struct app_io *io, const char *ctx_dir, const char *dockerfile, struct image_out *out,
    char *err, size_t errlen)
{
	struct jstream   js = {.fn = build_obj, .io = io};
	struct xfer_resp r;
	cJSON           *args = s->build_args != NULL ? cJSON_Duplicate(s->build_args, 1) :
	    cJSON_CreateObject();
	char            *argtext = args != NULL ? cJSON_PrintUnformatted(args) : NULL;
	char             tag[300], *regcfg = NULL;
	const char      *path, *netq;
	pid_t            tar = -1;
	int              fd, rc, ws;

	cJSON_Delete(args);
	if (argtext == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	(void)util_snprintf(tag, sizeof(tag), "localhost/launcher/%s:%s", s->app_id, s->deployment_id);
	for (char *p = tag; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	(void)util_snprintf(out->image, sizeof(out->image), "%s", tag);
	if ((netq = build_net_query(x, a, c->build_network, err, errlen)) == NULL) {
		cJSON_free(argtext);
		return -1;
	}
	path = arena_printf(a, ENGINE_API "/build?t=%s&dockerfile=%s&buildargs=%s&forcerm=1&rm=1%s",
	    ctr_qs_escape(a, tag), ctr_qs_escape(a, dockerfile), ctr_qs_escape(a, argtext), netq);
	cJSON_free(argtext);
	if ((js.buf = malloc(STREAM_LINE_MAX)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (build_registry_config(a, s, &regcfg, err, errlen) != 0 ||
	    (fd = tar_start(ctx_dir, &tar, err, errlen)) < 0) {
		wipe(regcfg);
		free(js.buf);
		return -1;
	}
	app_say(io, "building image %s (dockerfile %s, network %s%s)", tag, dockerfile,
	    c->build_network, regcfg ? ", the registry's credentials for FROM images" : "");
	rc = xfer_engine_stream_hdr(x, "POST", path, "application/x-tar", fd, NULL, regcfg, js_data,
	    &js, BUILD_TIMEOUT_MS, &r);
	wipe(regcfg);
	js_finish(&js);
	if (js.plen > 0) {	/* a last line without its newline */
		js.partial[js.plen] = '\0';
		util_sanitize(js.partial, 0);
		say_output(io, "build: ", js.partial);
	}
	free(js.buf);
	close(fd);
	kill(tar, SIGKILL);	/* done or not, the engine has read what it wanted */
	while (waitpid(tar, &ws, 0) < 0 && errno == EINTR)
		;
	if (js.error[0] != '\0' || r.status != 200 || rc != 0) {
		char red[2200];

		app_redact(io->red, js.error[0] ? js.error : r.err[0] ? r.err : "the engine refused",
		    red, sizeof(red));
		util_snprintf(err, errlen, "building the image failed: %s", red);
		return -1;
	}
	if (inspect_image(x, a, tag, out->image_id, sizeof(out->image_id), err, errlen) != 0)
		return -1;
	app_say(io, "built image %s (%.19s)", tag, out->image_id);
	return s->registry != NULL ? push_built(x, a, s, io, tag, out, err, errlen) : 0;
}

/* No O_DIRECTORY: on a link it would say ENOTDIR where ELOOP is the truth. */
#define BENEATH_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

/* The last check of both walks: a directory when one is wanted. */
static int
beneath_done(int fd, bool want_dir)
{
	struct stat st;

	if (want_dir && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))) {
		close(fd);
		errno = ENOTDIR;
		return -1;
	}
	return fd;
}

int
image_walk_beneath(int dirfd, const char *rel, bool want_dir)
{
	int         fd, next;
	const char *p = rel;
	struct stat st;

	if ((fd = dup(dirfd)) < 0)
		return -1;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");
		char   comp[NAME_MAX + 1];

		if (n == 0 || (n == 1 && p[0] == '.')) {	/* "//" and "." */
			p += n + (p[n] == '/');
			continue;
		}
		if (n > NAME_MAX || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			errno = n > NAME_MAX ? ENAMETOOLONG : EXDEV;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, BENEATH_FLAGS);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		p += n + (p[n] == '/');
		if (*p != '\0' && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))) {
			close(fd);
			errno = ENOTDIR;
			return -1;
		}
	}
	return beneath_done(fd, want_dir);
}

int
image_open_beneath(int dirfd, const char *rel, bool want_dir)
{
#ifdef SYS_openat2
	struct open_how how = {.flags = (uint64_t)BENEATH_FLAGS,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int             fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	/* The kernel's own walk where it has one (5.6+); ENOSYS: ours. */
	if (fd >= 0)
		return beneath_done(fd, want_dir);
	if (errno != ENOSYS)
		return -1;
#endif
	return image_walk_beneath(dirfd, rel, want_dir);
}

/* Why image_open_beneath refused a user-named path, for the deployment's error. */
const char *
image_beneath_why(int e)
{
	switch (e) {
	case ELOOP:
		return "it is, or passes through, a symbolic link (links are refused: one could "
		    "lead out of the repository)";
	case EXDEV:
		return "it leads out of the repository";
	case ENOENT:
		return "no such file in the repository";
	case ENOTDIR:
		return "a part of it is not a directory";
	default:
		return strerror(e);
	}
}

/*
 * dockerfile_path is relative to the repository; /build wants it relative to
 * the context (ctxfd).  Checks it is a regular file there, reached without
 * a link.  0, or -1 with the reason in err.
 */
static int
dockerfile_in_context(int ctxfd, const struct app_spec *s, char *out, size_t outlen, char *err,
    size_t errlen)
{
	size_t      cl = strlen(s->build_context);
	const char *rel = s->dockerfile;
	struct stat st;
	int         fd;

	if (strcmp(s->build_context, ".") != 0 && strcmp(s->build_context, "./") != 0 &&
	    strncmp(s->dockerfile, s->build_context, cl) == 0 && s->dockerfile[cl] == '/')
		rel = s->dockerfile + cl + 1;
	/* Otherwise it is taken as relative to the context already. */
	if ((fd = image_open_beneath(ctxfd, rel, false)) < 0) {
		util_snprintf(err, errlen, "dockerfile %s is not a file inside the build context %s: %s",
		    s->dockerfile, s->build_context, image_beneath_why(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		util_snprintf(err, errlen, "dockerfile %s is not a regular file", s->dockerfile);
		return -1;
	}
	close(fd);
	if (util_snprintf(out, outlen, "%s", rel) < 0) {
		util_snprintf(err, errlen, "dockerfile %s: path too long", s->dockerfile);
		return -1;
	}
	return 0;
}

int
image_clone(struct arena *a, const struct app_spec *s, const struct app_io *io, const char *dir,
    struct image_out *out, char *err, size_t errlen)
{
	char        url[2100], cred[512], src[PATH_MAX], askpass[PATH_MAX], logout[2048];
	char      **env;
	const char *user = "", *pass = "";
	char       *colon, *nl;
	int         rc = -1;

	if (util_url_split_cred(s->repo_url, url, sizeof(url), cred, sizeof(cred)) != 0) {
		util_snprintf(err, errlen, "source.repository_url is too long");
		return -1;
	}
	(void)image_rmtree(dir);
	if (mkdir(dir, 0700) != 0) {
		util_snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (util_snprintf(src, sizeof(src), "%s/src", dir) < 0 ||
	    util_snprintf(askpass, sizeof(askpass), "%s/askpass.sh", dir) < 0) {
		util_snprintf(err, errlen, "state_dir path too long");
		goto out;
	}
	if (cred[0] != '\0') {
		user = cred;
		if ((colon = strchr(cred, ':')) != NULL) {
			*colon = '\0';
			pass = colon + 1;
		}
		if (write_askpass(askpass, err, errlen) != 0)
			goto out;
	}
	if ((env = git_env(a, cred[0] ? askpass : NULL, user, pass)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	app_say(io, "cloning %s (branch %s%s%s)", url, s->branch, s->commit_sha ? ", commit " : "",
	    s->commit_sha ? s->commit_sha : "");
	if (s->commit_sha == NULL) {
		char *argv[] = {"git", "-c", "credential.helper=", "-c", "protocol.file.allow=always",
		    "clone", "--depth", "50", "--branch", (char *)s->branch, "--single-branch",
		    "--no-tags", "--", url, src, NULL};

		if (git(argv, env, NULL, io, "git clone", NULL, 0, err, errlen) != 0)
			goto out;
	} else {
		char *argv[] = {"git", "-c", "credential.helper=", "-c", "protocol.file.allow=always",
		    "clone", "--no-checkout", "--", url, src, NULL};
		char *co[] = {"git", "-c", "advice.detachedHead=false", "checkout", "--detach",
		    (char *)s->commit_sha, "--", NULL};

		if (git(argv, env, NULL, io, "git clone", NULL, 0, err, errlen) != 0 ||
		    git(co, env, src, io, "git checkout", NULL, 0, err, errlen) != 0)
			goto out;
	}
	{
		char *argv[] = {"git", "log", "-1", "--format=%H%n%s", NULL};

		if (git(argv, env, src, io, "git log", logout, sizeof(logout), err, errlen) != 0)
			goto out;
	}
	if ((nl = strchr(logout, '\n')) != NULL) {
		*nl = '\0';
		(void)util_snprintf(out->commit_message, sizeof(out->commit_message), "%s", nl + 1);
		if ((nl = strchr(out->commit_message, '\n')) != NULL)
			*nl = '\0';
		util_sanitize(out->commit_message, 0);
	}
	(void)util_snprintf(out->commit_sha, sizeof(out->commit_sha), "%s", logout);
	util_sanitize(out->commit_sha, 0);
	app_say(io, "commit %s: %s", out->commit_sha, out->commit_message);
	rc = 0;
out:
	explicit_bzero(cred, sizeof(cred));
	(void)unlink(askpass);
	return rc;
}

static int
from_git(struct xfer *x, struct arena *a, const struct agent_conf *c, const struct app_spec *s,
    const struct app_io *io, const char *dir, struct image_out *out, char *err, size_t errlen)
{
	char src[PATH_MAX], ctx[PATH_MAX], dockerfile[1100];
	int  rc = -1, srcfd = -1, ctxfd = -1;

	if (image_clone(a, s, io, dir, out, err, errlen) != 0)
		goto out;
	/*
	 * build_context and dockerfile_path name things inside the checkout:
	 * opened beneath it with no symbolic link on the way, so that neither
	 * the tar nor the engine is pointed at anything outside it.
	 */
	if (util_snprintf(src, sizeof(src), "%s/src", dir) < 0 ||
	    util_snprintf(ctx, sizeof(ctx), "%s/%s", src, s->build_context) < 0) {
		util_snprintf(err, errlen, "build context %s: path too long", s->build_context);
		goto out;
	}
	if ((srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		util_snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto out;
	}
	if ((ctxfd = image_open_beneath(srcfd, s->build_context, true)) < 0) {
		util_snprintf(err, errlen, "build context %s is not a directory of the repository: %s",
		    s->build_context, image_beneath_why(errno));
		goto out;
	}
	if (dockerfile_in_context(ctxfd, s, dockerfile, sizeof(dockerfile), err, errlen) != 0)
		goto out;
	rc = image_build(x, a, c, s, io, ctx, dockerfile, out, err, errlen);
out:
	if (ctxfd >= 0)
		close(ctxfd);
	if (srcfd >= 0)
		close(srcfd);
	(void)image_rmtree(dir);
	return rc;
}

int
image_ensure(struct xfer *x, struct arena *a, const char *ref, const struct app_io *io,
    struct image_out *out, char *err, size_t errlen)
{
	struct app_spec s;

	memset(out, 0, sizeof(*out));
	(void)util_snprintf(out->image, sizeof(out->image), "%s", ref);
	if (inspect_image(x, a, ref, out->image_id, sizeof(out->image_id), err, errlen) == 0) {
		app_say(io, "image %s is on this server (%.19s)", ref, out->image_id);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.src = APP_SRC_IMAGE;
	s.image = ref;
	return pull(x, a, &s, io, out, err, errlen);
}

int
image_resolve(struct xfer *x, struct arena *a, const struct agent_conf *c,
    const struct app_spec *s, const struct app_io *io, const char *build_dir,
    struct image_out *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	switch (s->src) {
	case APP_SRC_IMAGE:
		return pull(x, a, s, io, out, err, errlen);
	case APP_SRC_GIT:
		return from_git(x, a, c, s, io, build_dir, out, err, errlen);
	case APP_SRC_RELEASE:
		(void)util_snprintf(out->image_id, sizeof(out->image_id), "%s", s->image_id);
		(void)util_snprintf(out->image, sizeof(out->image), "%s", s->image_id);
		if (inspect_image(x, a, s->image_id, out->image_id, sizeof(out->image_id), err,
		    errlen) == 0) {
			app_say(io, "re-using the release's image %.19s", out->image_id);
			return 0;
		}
		if (s->image == NULL || s->registry == NULL) {
			util_snprintf(err, errlen, "the release's image %.19s is not on this server "
			    "(removed?)", s->image_id);
			return -1;
		}
		return pull_release(x, a, s, io, out, err, errlen);
	case APP_SRC_COMPOSE:	/* one image per service: app.c asks image_ensure for each */
	case APP_SRC_NONE:
		break;
	}
	util_snprintf(err, errlen, "no source to deploy");
	return -1;
}
