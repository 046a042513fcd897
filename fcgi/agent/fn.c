/*
 * fn.c - the function job kinds (fn.h): the build context of a function
 * (fnshim.h) built by image.c, the container run and replaced by app.c's
 * app.deploy (one replica, the image just built as a release source), the
 * invocation POSTed to the container's loopback port, the removal by
 * app.remove.  Nothing of the engine, the edge or the health gate is done
 * here: a function is an application of one container with a generated
 * image.
 */
#include "fn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/util.h"
#include "appspec.h"
#include "ctr.h"
#include "edge.h"
#include "fnscale.h"
#include "fnshim.h"
#include "image.h"
#include "xfer.h"

/* The container's port (the shim's) and how long the start may take. */
#define FN_HEALTH_TIMEOUT_S 60
/* An invocation's answer may take the function's timeout and this much more
 * (the shim answers 504 at the timeout; this covers a wedged shim). */
#define FN_INVOKE_SLACK_MS  10000
#define FN_INSPECT_MS       10000

bool
fn_kind(const char *kind)
{
	return strcmp(kind, "fn.deploy") == 0 || strcmp(kind, "fn.invoke") == 0 ||
	    strcmp(kind, "fn.remove") == 0;
}

static int fail(struct app_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets j's error; returns -1. */
static int
fail(struct app_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(j->error, j->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ----------------------------------------------------------- the context */

/* A relative path of the context that names no parent and is not absolute. */
static bool
rel_ok(const char *p)
{
	return p[0] != '\0' && p[0] != '/' && strstr(p, "..") == NULL && strlen(p) < 512;
}

/* Writes data as dir/rel (0644), its parent directories made.  0 or -1. */
static int
put_file(const char *dir, const char *rel, const char *data, size_t n)
{
	char path[1200];

	if (!rel_ok(rel) || util_snprintf(path, sizeof(path), "%s/%s", dir, rel) < 0)
		return -1;
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return util_write_atomic(path, data, n, 0644);
}

/*
 * A git source: the repository cloned as an application's is (image_clone,
 * into dir/git), its directory source.path (default the root; beneath the
 * checkout, no symbolic link on the way) moved to dir/fn without .git.
 * 0 or -1 (j's error).
 */
/* A source.path that names the checkout's root. */
static bool
root_path(const char *p)
{
	return p[0] == '\0' || strcmp(p, ".") == 0 || strcmp(p, "./") == 0;
}

static int
git_code(struct app_job *j, struct arena *a, const struct app_io *io, const char *dir,
    const cJSON *source)
{
	struct app_spec  gs;
	struct image_out out;
	const char      *path = str(source, "path") ? str(source, "path") : ".";
	char             git[1200], from[1800], to[1200];
	int              srcfd = -1, fd = -1, rc = -1;

	memset(&gs, 0, sizeof(gs));
	memset(&out, 0, sizeof(out));
	gs.repo_url = str(source, "repository_url");
	gs.branch = str(source, "branch") ? str(source, "branch") : "main";
	if (gs.repo_url == NULL || util_snprintf(git, sizeof(git), "%s/git", dir) < 0 ||
	    util_snprintf(to, sizeof(to), "%s/fn", dir) < 0 ||
	    /* The root itself is renamed as dir/git/src: rename() refuses "src/." */
	    util_snprintf(from, sizeof(from), "%s/src%s%s", git, root_path(path) ? "" : "/",
	    root_path(path) ? "" : path) < 0)
		return fail(j, "%s", "source: a git source needs repository_url");
	if (image_clone(a, &gs, io, git, &out, j->error, j->errlen) != 0)
		goto out;
	if ((srcfd = open(arena_printf(a, "%s/src", git), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (fd = image_open_beneath(srcfd, path, true)) < 0) {
		rc = fail(j, "source.path %s is not a directory of the repository: %s", path,
		    image_beneath_why(errno));
		goto out;
	}
	if (rename(from, to) != 0) {
		rc = fail(j, "source.path %s: %s", path, strerror(errno));
		goto out;
	}
	(void)image_rmtree(arena_printf(a, "%s/.git", to));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (srcfd >= 0)
		close(srcfd);
	(void)image_rmtree(git);
	return rc;
}

/* The build context in dir: Dockerfile, launcher/<shim>, fn/<code>.  0 or -1 (j's error). */
static int
write_context(struct app_job *j, struct arena *a, const struct app_io *io, const char *dir,
    const char *runtime, const char *handler, const cJSON *source)
{
	const char  *df = fn_dockerfile(runtime), *shim, *code = str(source, "code");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(source, "files"), *f;
	char         rel[600], file[300];
	size_t       len;

	(void)image_rmtree(dir);
	if (mkdir(dir, 0700) != 0)
		return fail(j, "build directory: %s", strerror(errno));
	shim = fn_shim(runtime, &len);
	if (df == NULL || shim == NULL || put_file(dir, "Dockerfile", df, strlen(df)) != 0 ||
	    util_snprintf(rel, sizeof(rel), "launcher/%s", fn_shim_name(runtime)) < 0 ||
	    put_file(dir, rel, shim, len) != 0)
		return fail(j, "the build context of runtime %s cannot be written", runtime);
	if (code != NULL) {
		if (fn_handler_file(runtime, handler, file, sizeof(file)) != 0 ||
		    util_snprintf(rel, sizeof(rel), "fn/%s", file) < 0 ||
		    put_file(dir, rel, code, strlen(code)) != 0)
			return fail(j, "handler %s: its file cannot be written", handler);
		return 0;
	}
	if (str(source, "type") != NULL && strcmp(str(source, "type"), "git") == 0)
		return git_code(j, a, io, dir, source);
	if (!cJSON_IsObject(files))
		return fail(j, "%s", "source: needs code, files or a git repository");
	cJSON_ArrayForEach(f, files) {
		if (!cJSON_IsString(f) || util_snprintf(rel, sizeof(rel), "fn/%s", f->string) < 0 ||
		    put_file(dir, rel, f->valuestring, strlen(f->valuestring)) != 0)
			return fail(j, "source.files.%s: cannot be written", f->string);
	}
	return 0;
}

/* ----------------------------------------------------------- fn.deploy */

/* Whether the fn.deploy payload p has an http trigger. */
static bool
fn_has_http(const cJSON *p)
{
	const cJSON *trig;

	cJSON_ArrayForEach(trig, cJSON_GetObjectItemCaseSensitive(p, "triggers"))
		if (strcmp(str(trig, "type") ? str(trig, "type") : "", "http") == 0)
			return true;
	return false;
}

/* The app.deploy payload that runs image_id as the function's container. */
static cJSON *
app_payload(const cJSON *p, const char *job_id, const char *image_id)
{
	cJSON       *o = cJSON_CreateObject(), *app, *env, *src, *it;
	const cJSON *trig, *m;
	char         methods[64] = "", num[32];
	bool         http;

	cJSON_AddStringToObject(o, "tenant_id", str(p, "tenant_id"));
	cJSON_AddStringToObject(o, "project_id", str(p, "project_id"));
	cJSON_AddStringToObject(o, "app_id", str(p, "function_id"));
	cJSON_AddStringToObject(o, "deployment_id", job_id);
	app = cJSON_AddObjectToObject(o, "app");
	cJSON_AddStringToObject(app, "name", str(p, "name"));
	cJSON_AddStringToObject(app, "app_type", "api");
	cJSON_AddNumberToObject(app, "exposed_port", FN_PORT);
	cJSON_AddNumberToObject(app, "replicas", 1);
	cJSON_AddStringToObject(app, "restart_policy", "always");
	cJSON_AddItemToObject(app, "memory_limit", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(p, "memory_limit"), true));
	cJSON_AddStringToObject(app, "healthcheck_path", FN_HEALTH_PATH);
	cJSON_AddNumberToObject(app, "healthcheck_timeout_seconds", FN_HEALTH_TIMEOUT_S);
	cJSON_AddBoolToObject(app, "function", true);
	/* The edge site only for an http trigger, with its methods. */
	http = fn_has_http(p);
	cJSON_ArrayForEach(trig, cJSON_GetObjectItemCaseSensitive(p, "triggers")) {
		if (strcmp(str(trig, "type") ? str(trig, "type") : "", "http") != 0)
			continue;
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(trig, "methods")) {
			if (cJSON_IsString(m) && strlen(methods) + strlen(m->valuestring) + 2 < sizeof(methods))
				(void)util_snprintf(methods + strlen(methods), sizeof(methods) - strlen(methods),
				    "%s%s", methods[0] ? "|" : "", m->valuestring);
		}
	}
	if (http && str(p, "hostname") != NULL)
		cJSON_AddStringToObject(app, "hostname", str(p, "hostname"));
	if (methods[0] != '\0')
		cJSON_AddStringToObject(app, "methods", methods);
	/* The function's env, then the shim's (which win). */
	env = cJSON_AddObjectToObject(o, "env");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "env")) {
		if (cJSON_IsString(it))
			cJSON_AddStringToObject(env, it->string, it->valuestring);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(env, "LAUNCHER_FN_HANDLER");
	cJSON_DeleteItemFromObjectCaseSensitive(env, "LAUNCHER_FN_TIMEOUT");
	cJSON_DeleteItemFromObjectCaseSensitive(env, "PORT");
	cJSON_AddStringToObject(env, "LAUNCHER_FN_HANDLER", str(p, "handler"));
	(void)util_snprintf(num, sizeof(num), "%d",
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "timeout_seconds")));
	cJSON_AddStringToObject(env, "LAUNCHER_FN_TIMEOUT", num);
	(void)util_snprintf(num, sizeof(num), "%d", FN_PORT);
	cJSON_AddStringToObject(env, "PORT", num);
	/* The shim's workers: the plane's number, which also bounds the
	 * invocations it hands out at once (sql/061 fn_concurrency). */
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "concurrency"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(env, "LAUNCHER_FN_CONCURRENCY");
		(void)util_snprintf(num, sizeof(num), "%d",
		    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "concurrency")));
		cJSON_AddStringToObject(env, "LAUNCHER_FN_CONCURRENCY", num);
	}
	cJSON_AddItemToObject(o, "volumes", cJSON_CreateArray());
	src = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(src, "type", "release");
	cJSON_AddStringToObject(src, "image_id", image_id);
	return o;
}

static void scale_setting(struct app_job *j, const char *fid);

static int
deploy(struct app_job *j)
{
	const cJSON      *p = j->payload;
	const char       *runtime = str(p, "runtime"), *handler = str(p, "handler");
	const char       *base = str(p, "base_image"), *fid = str(p, "function_id");
	struct app_spec   s;
	struct app_redact red;
	struct app_io     io = {j->emit, j->ud, &red};
	struct image_out  out;
	struct xfer       x;
	struct arena      a;
	struct app_job    sub;
	cJSON            *payload, *inst;
	char              dir[1100];
	int               rc;

	if (runtime == NULL || !fn_runtime_ok(runtime))
		return fail(j, "bad payload: runtime %s is not a runtime of this agent",
		    runtime ? runtime : "(none)");
	if (handler == NULL || !fn_handler_ok(runtime, handler))
		return fail(j, "handler %s: not \"file.function\" for this runtime",
		    handler ? handler : "(none)");
	if (base == NULL || fid == NULL || !util_is_uuid(fid) ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "timeout_seconds")))
		return fail(j, "%s", "bad payload: function_id, base_image and timeout_seconds are required");
	if (util_snprintf(dir, sizeof(dir), "%s/fn-%s", j->conf->state_dir, j->job_id) < 0)
		return fail(j, "%s", "state_dir path too long");
	memset(&s, 0, sizeof(s));
	(void)util_snprintf(s.app_id, sizeof(s.app_id), "%s", fid);
	(void)util_snprintf(s.deployment_id, sizeof(s.deployment_id), "%s", j->job_id);
	s.env = cJSON_GetObjectItemCaseSensitive(p, "env");
	s.build_args = cJSON_CreateObject();
	cJSON_AddStringToObject((cJSON *)s.build_args, FN_DOCKERFILE_BASE_ARG, base);
	cJSON_AddStringToObject((cJSON *)s.build_args, FN_DOCKERFILE_HANDLER_ARG, handler);
	app_redact_init(&red, &s);
	xfer_init(&x, j->conf, NULL);
	arena_init(&a, 65536);
	app_say(&io, "function %s: runtime %s, handler %s, base image %s", str(p, "name"), runtime,
	    handler, base);
	rc = write_context(j, &a, &io, dir, runtime, handler,
	    cJSON_GetObjectItemCaseSensitive(p, "source"));
	if (rc == 0 &&
	    (rc = image_build(&x, &a, j->conf, &s, &io, dir, "Dockerfile", &out, j->error,
	    j->errlen)) != 0 && strstr(j->error, "--check") != NULL) {
		/* The Dockerfile's shim check (fnshim.h): the handler does not load. */
		char why[1024];

		(void)util_snprintf(why, sizeof(why), "%s", j->error);
		(void)fail(j, "handler %s: not found or does not load in %s (the shim's check at "
		    "build failed; the deploy's log has its words): %s", handler, runtime, why);
	}
	cJSON_Delete((cJSON *)s.build_args);
	(void)image_rmtree(dir);
	xfer_cleanup(&x);
	arena_free(&a);
	app_redact_free(&red);
	if (rc != 0)
		return -1;
	/* The container, its health gate, the switch and the edge: app.deploy's. */
	if ((payload = app_payload(p, j->job_id, out.image_id)) == NULL)
		return fail(j, "%s", "out of memory");
	sub = *j;
	sub.kind = "app.deploy";
	sub.payload = payload;
	sub.result = NULL;
	rc = app_run(&sub);
	cJSON_Delete(payload);
	j->result = sub.result != NULL ? sub.result : cJSON_CreateObject();
	if (rc != 0)
		return -1;
	inst = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j->result, "instances"), 0);
	if (str(inst, "container_id") != NULL)
		cJSON_AddStringToObject(j->result, "container_id", str(inst, "container_id"));
	scale_setting(j, fid);
	/* Without an http trigger the edge serves nothing of it (app.deploy
	 * writes no site): the site of an earlier deploy goes, and the host
	 * files routing to it answer 503 (edge_remove). */
	if (!fn_has_http(p) && edge_remove(j->conf, fid, j->error, j->errlen) != 0)
		return -1;
	return 0;
}

/*
 * Scale to zero (fnscale.h): the deployed function's idle timeout for the
 * loop's check (0 = never), its new container running (no .zero).  A
 * setting that cannot be written leaves the function up: said in the log.
 */
static void
scale_setting(struct app_job *j, const char *fid)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(j->payload, "idle_timeout_seconds");
	char         path[AGENT_STR_MAX + 64], num[32];
	int          n;

	n = util_snprintf(num, sizeof(num), "%lld\n",
	    cJSON_IsNumber(it) && it->valuedouble > 0 ? (long long)it->valuedouble : 0LL);
	if (fnscale_path(j->conf, fid, "", path, sizeof(path)) != 0 || n < 0 ||
	    (mkdir(j->conf->state_dir, 0700) != 0 && errno != EEXIST) ||
	    (fnscale_path(j->conf, NULL, "", path, sizeof(path)) == 0 && mkdir(path, 0700) != 0 &&
	    errno != EEXIST) || fnscale_path(j->conf, fid, "", path, sizeof(path)) != 0 ||
	    util_write_atomic(path, num, strlen(num), 0600) != 0) {
		app_say(&(struct app_io){j->emit, j->ud, NULL}, "scale to zero: its setting cannot be "
		    "written (%s): the container stays up", strerror(errno));
		return;
	}
	if (fnscale_path(j->conf, fid, ".zero", path, sizeof(path)) == 0)
		(void)unlink(path);
}

/* ------------------------------------------------- its container, on and off */

/* The function's container (the running one, else the newest) into id; 0 or -1 (err). */
static int
fn_container(struct xfer *x, struct arena *a, const char *fid, char *id, size_t idlen,
    cJSON **doc, char *err, size_t errlen)
{
	const char *labels[1] = {arena_printf(a, "launcher.function=%s", fid)};
	cJSON      *items, *it, *d;
	double      newest = -1;

	id[0] = '\0';
	*doc = NULL;
	if (ctr_list(x, a, labels, 1, FN_INSPECT_MS, &items, err, errlen) != 0)
		return -1;
	cJSON_ArrayForEach(it, items) {
		const char *cid = str(it, "Id");
		double      created = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "Created"));

		if (cid == NULL || ctr_inspect(x, a, cid, FN_INSPECT_MS, &d, err, errlen) != 0)
			continue;
		if (!ctr_running(d) && created <= newest)
			continue;
		(void)util_snprintf(id, idlen, "%s", cid);
		*doc = d;
		newest = created;
		if (ctr_running(d))
			return 0;
	}
	if (id[0] == '\0') {
		util_snprintf(err, errlen, "the function has no container: deploy it");
		return -1;
	}
	return 0;
}

int
fn_container_start(const struct agent_conf *c, const char *fid, long timeout_ms, int *port,
    char *err, size_t errlen)
{
	struct xfer      x;
	struct arena     a;
	struct xfer_resp r;
	cJSON           *doc;
	char             id[128];
	struct timespec  t0, t;
	int              rc = -1;

	*port = 0;
	xfer_init(&x, c, NULL);
	arena_init(&a, 65536);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fn_container(&x, &a, fid, id, sizeof(id), &doc, err, errlen) != 0)
		goto out;
	if (!ctr_running(doc) && (ctr_action(&x, &a, id, "start", err, errlen) != 0 ||
	    ctr_inspect(&x, &a, id, FN_INSPECT_MS, &doc, err, errlen) != 0))
		goto out;
	if ((*port = ctr_host_port(doc, FN_PORT)) <= 0) {
		util_snprintf(err, errlen, "the container %.12s publishes no port", id);
		goto out;
	}
	/* Its health check (the shim's) passes, or the bound. */
	for (;;) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0) {
			util_snprintf(err, errlen, "the function's container did not answer its health "
			    "check within %ld s of its start", timeout_ms / 1000);
			goto out;
		}
		if (xfer_remote(&a, "GET", arena_printf(&a, "http://127.0.0.1:%d" FN_HEALTH_PATH, *port),
		    NULL, NULL, left < 2000 ? left : 2000, &r) == 0 && r.status == 200) {
			rc = 0;
			goto out;
		}
		(void)nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
	}
out:
	xfer_cleanup(&x);
	arena_free(&a);
	return rc;
}

int
fn_container_stop(const struct agent_conf *c, const char *fid, char *err, size_t errlen)
{
	const char  *labels[1];
	struct xfer  x;
	struct arena a;
	cJSON       *items, *it;
	int          rc = 0;

	xfer_init(&x, c, NULL);
	arena_init(&a, 65536);
	labels[0] = arena_printf(&a, "launcher.function=%s", fid);
	if (ctr_list(&x, &a, labels, 1, FN_INSPECT_MS, &items, err, errlen) != 0)
		rc = -1;
	else
		cJSON_ArrayForEach(it, items) {
			const char *st = str(it, "State");

			if (str(it, "Id") != NULL && (st == NULL || strcmp(st, "running") == 0) &&
			    ctr_action(&x, &a, str(it, "Id"), "stop", err, errlen) != 0)
				rc = -1;
		}
	xfer_cleanup(&x);
	arena_free(&a);
	return rc;
}

/* ----------------------------------------------------------- fn.invoke */

/* The value of header name in the answer's header lines, into out ("" when absent). */
static void
header_value(const char *headers, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *l = headers; l != NULL && *l; ) {
		const char *e = strchr(l, '\n');

		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;
			size_t      len;

			v += strspn(v, " \t");
			len = strcspn(v, "\r\n");
			(void)util_snprintf(out, outlen, "%.*s", (int)len, v);
			return;
		}
		l = e != NULL ? e + 1 : NULL;
	}
}

/*
 * The function's .seen file (fnscale.h) opened, touched and held with a
 * shared lock for the invocation's time: an idle stop (exclusive lock)
 * waits for no run and cuts none; a run waits for a stop under way, then
 * starts the container.  The descriptor, or -1.
 */
static int
seen_hold(const struct agent_conf *c, const char *fid)
{
	char path[AGENT_STR_MAX + 64];
	int  fd;

	if (fnscale_path(c, fid, ".seen", path, sizeof(path)) != 0)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
		;
	(void)futimens(fd, NULL);
	return fd;
}

static int
invoke(struct app_job *j)
{
	const cJSON     *p = j->payload;
	const char      *fid = str(p, "function_id"), *inv = str(p, "invocation_id");
	const char      *trigger = str(p, "trigger");
	const cJSON     *to = cJSON_GetObjectItemCaseSensitive(p, "timeout_seconds");
	struct xfer      x;
	struct arena     a;
	struct xfer_resp r;
	char             err[512], st[32], *body;
	const char      *hdrs[4];
	cJSON           *res, *o, *parsed;
	char             path[AGENT_STR_MAX + 64];
	int              port, rc = -1, seen = -1;

	if (fid == NULL || !util_is_uuid(fid) || inv == NULL || !util_is_uuid(inv) ||
	    !cJSON_IsNumber(to))
		return fail(j, "%s", "bad payload: function_id, invocation_id and timeout_seconds are required");
	xfer_init(&x, j->conf, NULL);
	arena_init(&a, 65536);
	/* Scale to zero (fnscale.h): no stop while it runs; a stopped container is started first. */
	if ((seen = seen_hold(j->conf, fid)) < 0)
		log_warn("function %s: its .seen file: %s (an idle stop may cut this run)", fid,
		    strerror(errno));
	if (fn_container_start(j->conf, fid, FN_START_TIMEOUT_S * 1000L, &port, err, sizeof(err)) != 0) {
		rc = fail(j, "%s", err);
		goto out;
	}
	if (fnscale_path(j->conf, fid, ".zero", path, sizeof(path)) == 0)
		(void)unlink(path);
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = arena_printf(&a, "%s: %s", FN_HEADER_TRIGGER, trigger ? trigger : "invoke");
	hdrs[2] = arena_printf(&a, "%s: %s", FN_HEADER_INVOCATION, inv);
	hdrs[3] = NULL;
	body = cJSON_GetObjectItemCaseSensitive(p, "payload") != NULL ?
	    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(p, "payload")) : strdup("null");
	if (body == NULL) {
		rc = fail(j, "%s", "out of memory");
		goto out;
	}
	rc = xfer_remote(&a, "POST", arena_printf(&a, "http://127.0.0.1:%d/", port), hdrs, body,
	    (long)to->valuedouble * 1000 + FN_INVOKE_SLACK_MS, &r);
	free(body);
	if (rc != 0) {
		rc = fail(j, "the function did not answer: %s", r.err);
		goto out;
	}
	header_value(r.headers, FN_HEADER_STATUS, st, sizeof(st));
	res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "status", (double)r.status);
	if ((parsed = cJSON_ParseWithLength(r.body, r.len)) != NULL)
		cJSON_AddItemToObject(res, "body", parsed);
	else
		cJSON_AddStringToObject(res, "body", r.body);
	cJSON_AddNumberToObject(res, "duration_ms", (double)r.ms);
	o = cJSON_AddObjectToObject(res, "invocation");
	cJSON_AddStringToObject(o, "id", inv);
	cJSON_AddStringToObject(o, "status", st[0] ? st : r.status < 500 ? "ok" : "error");
	j->result = res;
	rc = 0;
out:
	if (seen >= 0) {
		(void)futimens(seen, NULL);	/* the run's end is its last request */
		close(seen);
	}
	xfer_cleanup(&x);
	arena_free(&a);
	return rc;
}

/* ----------------------------------------------------------- fn.remove */

static int
remove_fn(struct app_job *j)
{
	const char    *fid = str(j->payload, "function_id");
	cJSON         *payload = cJSON_CreateObject();
	struct app_job sub = *j;
	int            rc;

	if (fid == NULL || !util_is_uuid(fid) || payload == NULL) {
		cJSON_Delete(payload);
		return fail(j, "%s", "bad payload: function_id is required");
	}
	cJSON_AddStringToObject(payload, "app_id", fid);
	cJSON_AddItemToObject(payload, "app", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(payload, "app"), "name",
	    str(j->payload, "name") ? str(j->payload, "name") : "fn");
	sub.kind = "app.remove";
	sub.payload = payload;
	sub.result = NULL;
	rc = app_run(&sub);
	cJSON_Delete(payload);
	j->result = sub.result;
	/* No more scale-to-zero state (fnscale.h). */
	for (int i = 0; rc == 0 && i < 3; i++) {
		char path[AGENT_STR_MAX + 64];

		if (fnscale_path(j->conf, fid, (const char *[]){"", ".seen", ".zero"}[i], path,
		    sizeof(path)) == 0)
			(void)unlink(path);
	}
	return rc;
}

int
fn_run(struct app_job *j)
{
	j->error[0] = '\0';
	if (strcmp(j->kind, "fn.deploy") == 0)
		return deploy(j);
	if (strcmp(j->kind, "fn.invoke") == 0)
		return invoke(j);
	if (strcmp(j->kind, "fn.remove") == 0)
		return remove_fn(j);
	return fail(j, "unknown job kind %s", j->kind);
}
