/*
 * edge.c - rendering and installing the edge nginx's site files (see
 * edge.h): apps' sites, custom hosts' files, their certificates, and the
 * one change-set switch (write, test, reload, or put everything back).
 */
#include "edge.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/acme.h"
#include "../core/log.h"
#include "../core/spawn.h"
#include "../core/util.h"
#include "fnscale.h"
#include "text.h"
#include "timefmt.h"

#define APP_UPSTREAM_MAX 80

#define EDGE_CMD_TIMEOUT_MS 60000
#define EDGE_WORKERS_MAX    256
#define EDGE_RELOAD_WAIT_MS 5000	/* for nginx's new workers to appear */
/* One change set: the app's site, and every host file naming it (a host
 * names at most EDGE_ROUTES_MAX apps; an app is behind few hosts). */
#define EDGE_CHANGES_MAX    64
#define EDGE_PATH_MAX       (AGENT_STR_MAX + 300)

/* The app's name in a comment: no newline can end the comment early. */
static void
comment_safe(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 1 < outlen; in++)
		out[o++] = ((unsigned char)*in < ' ' || *in == 0x7f) ? ' ' : *in;
	out[o] = '\0';
}

/* lnchr_<app id without dashes>: the app's upstream, named by host files too. */
static void
upstream_name(const char *app_id, char *up, size_t uplen)
{
	size_t u = 0;

	for (const char *p = app_id; *p && u + 1 < uplen; p++)
		if (*p != '-')
			up[u++] = *p;
	up[u] = '\0';
}

/*
 * The proxying part of a location (the app's site and host files alike).
 * $lnchr_app names the application for the traffic log (launcher.conf.in):
 * a variable set here survives error_page's jump to @lnchr_unavailable,
 * where $proxy_host is gone, so the 503s of an outage are logged too.
 * The function shim's own request headers (X-Launcher-Trigger and
 * X-Launcher-Invocation, set by the agent's fn.invoke) never come from a
 * client: a caller through the edge cannot name a trigger or an invocation.
 */
static int
put_proxy(char *out, size_t outlen, size_t *o, const char *up, const char *extra)
{
	return text_put(out, outlen, o,
	    "        set $lnchr_app %s;\n"
	    "        proxy_pass http://lnchr_%s;\n"
	    "        proxy_http_version 1.1;\n"
	    "        proxy_set_header Connection \"\";\n"
	    "        proxy_set_header Host $host;\n"
	    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
	    "        proxy_set_header X-Forwarded-Proto $scheme;\n"
	    "        proxy_set_header X-Request-Id $request_id;\n"
	    "        proxy_set_header X-Launcher-Trigger \"\";\n"
	    "        proxy_set_header X-Launcher-Invocation \"\";\n"
	    "        proxy_next_upstream error timeout http_502 http_503;\n"
	    "%s", up, up, extra);
}

/* A function's site says so in its header, with its methods ("*": all):
 * host files routing to it read the line back (edge_site_fn_methods). */
#define FN_SITE_LINE "# function methods "

int
edge_render(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, char *out,
    size_t outlen)
{
	return edge_render_methods(app_id, app_name, deployment_id, hostname, listen, ports, n, NULL,
	    out, outlen);
}

int
edge_render_methods(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, const char *methods,
    char *out, size_t outlen)
{
	return edge_render_fn(app_id, app_name, deployment_id, hostname, listen, ports, n, methods,
	    NULL, out, outlen);
}

/*
 * A function's location body, the ONE rendering of it: the function's own
 * site (app-<fn id>.conf) and every host-file route to the function call
 * this.  Its http trigger's methods only ("GET|POST"; NULL or "" = every
 * method): any other answers 405 before anything is proxied; then the
 * proxy to the function's upstream up (lnchr_<fn id without dashes>: its
 * container's loopback port).  extra ends the location, as put_proxy's.
 * With wake (the agent's wake socket, fnscale.h), scale to zero's first
 * request: a 502 of nginx's own (no container listens: it was stopped for
 * idleness; proxy_intercept_errors stays off, so the function's own
 * 502/503/504, a timeout or an out-of-memory answer, are never replayed)
 * goes to @wake_<up> (put_fn_wake), which asks the agent without the body
 * (nginx keeps it) and waits for the start; the agent answers
 * X-Accel-Redirect: @fn_<up>, which proxies the request, body included, to
 * the started container.
 */
static int
put_fn_location(char *out, size_t outlen, size_t *o, const char *up, const char *methods,
    const char *wake, const char *extra)
{
	char tail[256];

	if (methods != NULL && methods[0] != '\0' && text_put(out, outlen, o,
	    "        if ($request_method !~ ^(%s)$) {\n"
	    "            return 405;\n        }\n", methods) != 0)
		return -1;
	if (wake == NULL)
		return put_proxy(out, outlen, o, up, extra);
	if (util_snprintf(tail, sizeof(tail), "        error_page 502 = @wake_%s;\n%s", up,
	    extra) < 0)
		return -1;
	return put_proxy(out, outlen, o, up, tail);
}

/* The named locations of put_fn_location's wake, once per server block and
 * function (nginx's named locations are the server's). */
static int
put_fn_wake(char *out, size_t outlen, size_t *o, const char *up, const char *wake)
{
	/* $upstream_bytes_sent: 0 when nothing reached a container (fnscale.h). */
	if (text_put(out, outlen, o,
	    "    location @wake_%s {\n"
	    "        set $lnchr_app %s;\n"
	    "        proxy_pass http://unix:%s;\n"
	    "        proxy_http_version 1.1;\n"
	    "        proxy_pass_request_headers off;\n"
	    "        proxy_pass_request_body off;\n"
	    "        proxy_set_header Content-Length \"\";\n"
	    "        proxy_set_header " "X-Launcher-Wake" " %.8s-%.4s-%.4s-%.4s-%.12s;\n"
	    "        proxy_set_header " "X-Launcher-Sent" " \"$upstream_bytes_sent\";\n"
	    "        proxy_connect_timeout 5s;\n"
	    "        proxy_read_timeout 90s;\n"
	    "    }\n"
	    "    location @fn_%s {\n", up, up, wake, up, up + 8, up + 12, up + 16, up + 20,
	    up) != 0)
		return -1;
	return put_proxy(out, outlen, o, up, "    }\n");
}

/* The wake socket as it may be written into a site: unquoted, so none of
 * nginx's separators; and the upstream a full id's 32 hex digits. */
static bool
wake_ok(const char *up, const char *wake)
{
	return strlen(up) == 32 && strpbrk(wake, " ;{}\"'\n\t") == NULL;
}

int
edge_render_fn(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, const char *methods,
    const char *wake, char *out, size_t outlen)
{
	char   up[APP_UPSTREAM_MAX], name[256];
	size_t o = 0;

	upstream_name(app_id, up, sizeof(up));
	if (wake != NULL && !wake_ok(up, wake))
		return -1;
	comment_safe(app_name != NULL ? app_name : "", name, sizeof(name));
	if (text_put(out, outlen, &o, "# Written by launcher-agent; edits are lost.\n"
	    "# app %s (%s), deployment %s, %zu instance%s\n", name, app_id, deployment_id, n,
	    n == 1 ? "" : "s") != 0)
		return -1;
	if (methods != NULL && text_put(out, outlen, &o, FN_SITE_LINE "%s\n",
	    methods[0] ? methods : "*") != 0)
		return -1;
	if (text_put(out, outlen, &o, "upstream lnchr_%s {\n", up) != 0)
		return -1;
	/* Without an instance the upstream still exists (host files name it):
	 * one server marked down, which nginx never connects to. */
	if (n == 0 && text_put(out, outlen, &o, "    server 127.0.0.1:1 down;\n") != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (text_put(out, outlen, &o, "    server 127.0.0.1:%d max_fails=1 fail_timeout=2s;\n",
		    ports[i]) != 0)
			return -1;
	if (text_put(out, outlen, &o, "%s}\n", n > 0 ? "    keepalive 16;\n" : "") != 0)
		return -1;
	if (text_put(out, outlen, &o, "server {\n    listen %s;\n    server_name %s;\n", listen,
	    hostname) != 0)
		return -1;
	if (n == 0)
		return text_put(out, outlen, &o, "    location / {\n        return 503;\n    }\n}\n") != 0 ?
		    -1 : (int)o;
	if (text_put(out, outlen, &o, "    location / {\n") != 0 ||
	    put_fn_location(out, outlen, &o, up, methods, wake, "    }\n") != 0 ||
	    (wake != NULL && put_fn_wake(out, outlen, &o, up, wake) != 0) ||
	    text_put(out, outlen, &o, "}\n") != 0)
		return -1;
	return (int)o;
}

int
edge_site_fn_methods(const char *site, char *methods, size_t len)
{
	const char *p = site;

	/* Only the header: the comment lines at the top. */
	while (p != NULL && *p == '#') {
		if (strncmp(p, FN_SITE_LINE, strlen(FN_SITE_LINE)) == 0) {
			const char *v = p + strlen(FN_SITE_LINE);
			size_t      n = strcspn(v, "\n");

			if (n == 1 && v[0] == '*') {
				methods[0] = '\0';
				return 0;
			}
			if (n == 0 || n >= len || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ|") < n)
				return -1;
			(void)util_snprintf(methods, len, "%.*s", (int)n, v);
			return 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

/* The store's endpoint: http(s)://host[:port], nothing after it (it is
 * written into the site unquoted). */
static bool
endpoint_ok(const char *e)
{
	size_t n = strncmp(e, "http://", 7) == 0 ? 7 : strncmp(e, "https://", 8) == 0 ? 8 : 0;

	if (n == 0 || e[n] == '\0' || strlen(e) > 300)
		return false;
	for (e += n; *e; e++)
		if (!isalnum((unsigned char)*e) && strchr(".-:[]", *e) == NULL)
			return false;
	return true;
}

int
edge_render_bucket(const char *bucket_id, const char *bucket_name, const char *hostname,
    const char *listen, const char *endpoint, char *out, size_t outlen)
{
	size_t o = 0;

	if (!acme_hostname_ok(hostname) || !endpoint_ok(endpoint) || bucket_name == NULL ||
	    bucket_name[0] == '\0' ||
	    strspn(bucket_name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(bucket_name))
		return -1;
	/* No Authorization of a client reaches the store: every request is
	 * anonymous there, read by the bucket's public-read policy only. */
	if (text_put(out, outlen, &o, "# Written by launcher-agent; edits are lost.\n"
	    "# public bucket %s (%s)\n"
	    "server {\n    listen %s;\n    server_name %s;\n"
	    "    location / {\n"
	    "        if ($request_method !~ ^(GET|HEAD)$) {\n"
	    "            return 405;\n        }\n"
	    "        proxy_pass %s/%s/;\n"
	    "        proxy_http_version 1.1;\n"
	    "        proxy_set_header Connection \"\";\n"
	    "        proxy_set_header Host $proxy_host;\n"
	    "        proxy_set_header Authorization \"\";\n"
	    "        proxy_set_header Cookie \"\";\n"
	    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
	    "        proxy_set_header X-Forwarded-Proto $scheme;\n"
	    "        proxy_set_header X-Request-Id $request_id;\n"
	    "        proxy_ssl_server_name on;\n"
	    "    }\n}\n", bucket_name, bucket_id, listen, hostname, endpoint, bucket_name) != 0)
		return -1;
	return (int)o;
}

int
edge_path(const struct agent_conf *c, const char *app_id, char *out, size_t outlen)
{
	return util_snprintf(out, outlen, "%s/app-%s.conf", c->edge_sites_dir, app_id) < 0 ? -1 : 0;
}

/* The whole file into a malloc'ed string (*out NULL when absent); 0 or -1. */
static int
read_file(const char *path, char **out)
{
	return util_read_file(path, EDGE_SITE_MAX * 4, out, NULL);
}

/* Runs one configured command; "" is success.  0 or -1 (err). */
static int
run(const char *what, const char *cmd, char *err, size_t errlen)
{
	char tail[2048];
	int  st = 0;

	if (cmd[0] == '\0')
		return 0;
	if (spawn_command(cmd, EDGE_CMD_TIMEOUT_MS, &st, tail, sizeof(tail)) != 0) {
		util_snprintf(err, errlen, "%s: %s", what, tail);
		return -1;
	}
	if (st != 0) {
		(void)util_snprintf(err, errlen, "%s failed (exit %d): %s", what, st, tail);
		return -1;
	}
	return 0;
}

/* --------------------------------------------- reload by the master's pid */

/* The parent pid of a process, from /proc/PID/stat; -1 if gone. */
static pid_t
parent_of(pid_t pid)
{
	char    path[64], buf[512], *p, *sp;
	FILE   *f;
	int64_t pp = -1;

	util_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	/* "PID (comm) S PPID ...": the comm may hold anything, so from the last ')' */
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL &&
	    p[1] == ' ' && p[2] != '\0' && p[3] == ' ' && (sp = strchr(p + 4, ' ')) != NULL) {
		*sp = '\0';
		if (util_parse_i64(p + 4, 0, INT32_MAX, &pp) != 0)
			pp = -1;
	}
	fclose(f);
	return (pid_t)pp;
}

/* True when pid's title is an accepting worker ("nginx: worker process",
 * not "... is shutting down"). */
static bool
is_worker(pid_t pid)
{
	char   path[64], buf[128];
	int    fd;
	ssize_t n;

	util_snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strncmp(buf, "nginx: worker process", 21) == 0 && strstr(buf, "shutting down") == NULL;
}

/* The master's accepting workers into out; their number. */
static int
workers_of(pid_t master, pid_t *out, int max)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	int            n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		int64_t pid;

		if (!isdigit((unsigned char)e->d_name[0]) ||
		    util_parse_i64(e->d_name, 1, INT32_MAX, &pid) != 0)
			continue;
		if (parent_of((pid_t)pid) == master && is_worker((pid_t)pid))
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

static bool
listed(pid_t pid, const pid_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

/*
 * SIGHUP to the master named by edge_nginx_pid, then SIGQUIT (graceful: stop
 * accepting, finish what is in flight) to the workers of the old
 * configuration as soon as the new ones run.  nginx itself retires them only
 * after a fixed 100 ms sleep, and until then they keep answering with the
 * old routes.  A worker titles itself "worker process" once its listening
 * sockets are in its event loop, so no connection waits on a retired one
 * (and the listen queue would hold it meanwhile anyway).
 */
static int
reload_master(const struct agent_conf *c, char *err, size_t errlen)
{
	pid_t   old[EDGE_WORKERS_MAX], cur[EDGE_WORKERS_MAX], master;
	int     nold, ncur = 0, fresh = 0;
	int64_t t0, first = 0;
	char    buf[32];
	FILE   *f = fopen(c->edge_nginx_pid, "re");
	int64_t v = 0;

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL ||
	    util_parse_i64(util_trim(buf), 2, INT32_MAX, &v) != 0) {
		util_snprintf(err, errlen, "nginx reload: no pid in %s", c->edge_nginx_pid);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	master = (pid_t)v;
	nold = workers_of(master, old, EDGE_WORKERS_MAX);
	if (kill(master, SIGHUP) != 0) {
		util_snprintf(err, errlen, "nginx reload: signal to %d: %s", (int)master, strerror(errno));
		return -1;
	}
	t0 = timefmt_mono_ms();
	for (;;) {
		struct timespec ts = {0, 2 * 1000000L};
		int64_t         now;

		nanosleep(&ts, NULL);
		now = timefmt_mono_ms();
		ncur = workers_of(master, cur, EDGE_WORKERS_MAX);
		fresh = 0;
		for (int i = 0; i < ncur; i++)
			fresh += !listed(cur[i], old, nold);
		if (fresh > 0 && first == 0)
			first = now;
		/* All of them, or the config asked for fewer: give it 20 ms. */
		if (fresh > 0 && (fresh >= nold || now - first >= 20))
			break;
		if (now - t0 >= EDGE_RELOAD_WAIT_MS) {
			/* nginx keeps its old configuration when the new one does
			 * not load: its old workers go on serving. */
			util_snprintf(err, errlen, "nginx did not load the new configuration (no new "
			    "workers %d ms after the reload signal)", EDGE_RELOAD_WAIT_MS);
			return -1;
		}
	}
	for (int i = 0; i < nold; i++)
		if (parent_of(old[i]) == master && is_worker(old[i]))
			(void)kill(old[i], SIGQUIT);
	return 0;
}

/* The configured reload: by pid file, else the command. */
static int
reload(const struct agent_conf *c, char *err, size_t errlen)
{
	if (c->edge_nginx_pid[0] != '\0')
		return reload_master(c, err, errlen);
	return run("nginx reload", c->edge_reload_command, err, errlen);
}

/* The first "server_name NAME;" of a site into out ("" when none). */
static void
server_name_of(const char *site, char *out, size_t outlen)
{
	const char *p = strstr(site, "\n    server_name "), *end;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("\n    server_name ");
	if ((end = strchr(p, ';')) != NULL && (size_t)(end - p) < outlen) {
		memcpy(out, p, (size_t)(end - p));
		out[end - p] = '\0';
	}
}

/* ------------------------------------------------------------ change sets */

/* One file of a change set: its new content (NULL: removed) and, once
 * applied, what was there (NULL: nothing). */
struct change {
	char        path[EDGE_PATH_MAX];
	char       *next;	/* owned */
	size_t      next_len;
	unsigned    mode;
	char       *prev;	/* owned; set by apply */
	size_t      prev_len;
	unsigned    prev_mode;
	bool        applied;
};

struct changeset {
	struct change ch[EDGE_CHANGES_MAX];
	size_t        n;
};

static void
changeset_free(struct changeset *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->ch[i].next != NULL)
			explicit_bzero(cs->ch[i].next, cs->ch[i].next_len);
		if (cs->ch[i].prev != NULL)
			explicit_bzero(cs->ch[i].prev, cs->ch[i].prev_len);
		free(cs->ch[i].next);
		free(cs->ch[i].prev);
	}
	cs->n = 0;
}

/* Adds path (content copied; NULL removes it); 0 or -1 (err). */
static int
changeset_add(struct changeset *cs, const char *path, const char *content, size_t len,
    unsigned mode, char *err, size_t errlen)
{
	struct change *ch;

	if (cs->n >= EDGE_CHANGES_MAX) {
		util_snprintf(err, errlen, "more than %d edge files in one change", EDGE_CHANGES_MAX);
		return -1;
	}
	ch = &cs->ch[cs->n];
	memset(ch, 0, sizeof(*ch));
	if (util_snprintf(ch->path, sizeof(ch->path), "%s", path) < 0) {
		util_snprintf(err, errlen, "edge file path too long");
		return -1;
	}
	if (content != NULL) {
		if ((ch->next = malloc(len + 1)) == NULL) {
			util_snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(ch->next, content, len);
		ch->next[len] = '\0';
		ch->next_len = len;
	}
	ch->mode = mode;
	cs->n++;
	return 0;
}

/* Puts back every applied file, last first. */
static void
changeset_restore(struct changeset *cs)
{
	for (size_t i = cs->n; i-- > 0;) {
		struct change *ch = &cs->ch[i];

		if (!ch->applied)
			continue;
		if (ch->prev != NULL)
			(void)util_write_atomic(ch->path, ch->prev, ch->prev_len, ch->prev_mode);
		else
			(void)unlink(ch->path);
		ch->applied = false;
	}
}

/*
 * Writes every file of the set, tests, reloads; on any failure puts every
 * file back (the running nginx keeps the old configuration, and the files
 * stay in step with it).  The caller holds the edge lock.  0 or -1 (err).
 */
static int
changeset_apply(const struct agent_conf *c, struct changeset *cs, char *err, size_t errlen)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct change *ch = &cs->ch[i];
		struct stat    st;

		if (util_read_file(ch->path, EDGE_SITE_MAX * 4, &ch->prev, &ch->prev_len) != 0) {
			util_snprintf(err, errlen, "%s: cannot read: %s", ch->path, strerror(errno));
			goto fail;
		}
		/* Put back with the mode it had (a key stays 0600). */
		ch->prev_mode = ch->prev != NULL && stat(ch->path, &st) == 0 ?
		    (unsigned)(st.st_mode & 0777) : ch->mode;
		if (ch->next != NULL ? util_write_atomic(ch->path, ch->next, ch->next_len, ch->mode) != 0 :
		    (unlink(ch->path) != 0 && errno != ENOENT)) {
			util_snprintf(err, errlen, "%s: cannot %s: %s", ch->path,
			    ch->next != NULL ? "write" : "remove", strerror(errno));
			goto fail;
		}
		ch->applied = true;
	}
	/*
	 * Reloading by the master's pid, the reload is the test: a
	 * configuration that does not load leaves nginx on its old one and
	 * starts no new workers.  Only then is nginx_test_command run, for
	 * its message.
	 */
	if (c->edge_nginx_pid[0] == '\0' &&
	    run("nginx configuration test", c->nginx_test_command, err, errlen) != 0)
		goto fail;
	if (reload(c, err, errlen) != 0) {
		if (c->edge_nginx_pid[0] != '\0')
			(void)run("nginx configuration test", c->nginx_test_command, err, errlen);
		goto fail;
	}
	return 0;
fail:
	changeset_restore(cs);
	return -1;
}

/*
 * The edge lock: one change set at a time on one edge, whoever writes it
 * (job processes of this agent, or agents of several engines sharing the
 * edge).  In the sites directory, under a name nginx's "*.conf" never
 * includes.  Returns the fd to pass to unlock, or -1 (err).
 */
static int
edge_lock(const struct agent_conf *c, char *err, size_t errlen)
{
	char path[EDGE_PATH_MAX];
	int  fd;

	if (util_snprintf(path, sizeof(path), "%s/.launcher-edge.lock", c->edge_sites_dir) < 0 ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		util_snprintf(err, errlen, "edge lock %s/.launcher-edge.lock: %s", c->edge_sites_dir,
		    strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			util_snprintf(err, errlen, "edge lock: %s", strerror(errno));
			close(fd);
			return -1;
		}
	return fd;
}

static void
edge_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

/*
 * The plane gives every application its own hostname (a unique index) and
 * every custom hostname to one tenant, but a site left from before a rename
 * could still claim a name another site now holds, and nginx would then
 * serve whichever it read first.  So no site is installed while another
 * site (app-*.conf or host-*.conf) in the directory has the same
 * server_name: -1 with both named in err.
 */
static int
name_is_free(const struct agent_conf *c, const char *own, const char *name, char *err,
    size_t errlen)
{
	char           path[EDGE_PATH_MAX], *other, theirs[256];
	DIR           *d;
	struct dirent *e;
	int            rc = 0;
	size_t         n;

	if (name[0] == '\0' || (d = opendir(c->edge_sites_dir)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if ((strncmp(e->d_name, "app-", 4) != 0 && strncmp(e->d_name, "host-", 5) != 0) ||
		    n < 10 || strcmp(e->d_name + n - 5, ".conf") != 0 || strcmp(e->d_name, own) == 0 ||
		    util_snprintf(path, sizeof(path), "%s/%s", c->edge_sites_dir, e->d_name) < 0 ||
		    read_file(path, &other) != 0 || other == NULL)
			continue;
		server_name_of(other, theirs, sizeof(theirs));
		free(other);
		if (strcmp(theirs, name) == 0) {
			util_snprintf(err, errlen, "hostname %s is already served by %s; not installing "
			    "a second site with one server_name", name, e->d_name);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

/* ------------------------------------------------------------ custom hosts */

/* What may follow "location ^~ " unquoted: no space, ';', braces, '#', quotes, '$'. */
static bool
prefix_ok(const char *p)
{
	return p[0] == '/' && strlen(p) <= EDGE_PREFIX_MAX && strstr(p, "..") == NULL &&
	    text_word_ok(p, EDGE_PREFIX_MAX, "/._~%!+,=:@-") &&
	    strncmp(p, "/.well-known/acme-challenge/", 28) != 0 &&
	    strcmp(p, "/.well-known/acme-challenge") != 0;
}

static bool
uuid_ok(const char *s)
{
	return util_is_uuid(s);
}

/* Longest prefix first (nginx picks the longest ^~ match anyway; the order
 * makes the file read the way it routes). */
static void
sort_routes(struct edge_host *h)
{
	for (size_t i = 1; i < h->n; i++)
		for (size_t j = i; j > 0 && strlen(h->r[j].prefix) > strlen(h->r[j - 1].prefix); j--) {
			struct edge_route t = h->r[j];

			h->r[j] = h->r[j - 1];
			h->r[j - 1] = t;
		}
}

static int
routes_check(const struct edge_host *h, char *err, size_t errlen)
{
	for (size_t i = 0; i < h->n; i++) {
		if (!prefix_ok(h->r[i].prefix) || !uuid_ok(h->r[i].app_id)) {
			util_snprintf(err, errlen, "bad route %zu: path_prefix must be '/' and "
			    "[A-Za-z0-9/._~%%!+,=:@-] without \"..\" (not the ACME challenge path), "
			    "app_id a UUID", i);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->r[i].prefix, h->r[j].prefix) == 0) {
				util_snprintf(err, errlen, "path_prefix %s routed twice", h->r[i].prefix);
				return -1;
			}
	}
	return 0;
}

int
edge_host_parse(const cJSON *payload, struct edge_host *h, char *err, size_t errlen)
{
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(payload, "hostname");
	const cJSON *routes = cJSON_GetObjectItemCaseSensitive(payload, "routes");
	const cJSON *r;

	memset(h, 0, sizeof(*h));
	if (!cJSON_IsString(host) || !acme_hostname_ok(host->valuestring)) {
		util_snprintf(err, errlen, "bad payload: hostname must be a lower-case DNS name");
		return -1;
	}
	(void)util_snprintf(h->hostname, sizeof(h->hostname), "%s", host->valuestring);
	if (text_json_i64(cJSON_GetObjectItemCaseSensitive(payload, "version"), 0, INT64_MAX / 2,
	    &h->version) != 0) {
		util_snprintf(err, errlen, "bad payload: version must be a non-negative integer");
		return -1;
	}
	if (!cJSON_IsArray(routes) || cJSON_GetArraySize(routes) > EDGE_ROUTES_MAX) {
		util_snprintf(err, errlen, "bad payload: routes must be an array of at most %d",
		    EDGE_ROUTES_MAX);
		return -1;
	}
	cJSON_ArrayForEach(r, routes) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "path_prefix");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "app_id");
		const cJSON *red = cJSON_GetObjectItemCaseSensitive(r, "https_redirect");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(r, "function");
		struct edge_route *e = &h->r[h->n];

		if (!cJSON_IsString(p) || !cJSON_IsString(a) ||
		    util_snprintf(e->prefix, sizeof(e->prefix), "%s", p->valuestring) < 0 ||
		    util_snprintf(e->app_id, sizeof(e->app_id), "%s", a->valuestring) < 0) {
			util_snprintf(err, errlen, "bad payload: route %zu needs path_prefix and app_id",
			    h->n);
			return -1;
		}
		e->redirect = red == NULL || cJSON_IsTrue(red);
		e->function = cJSON_IsTrue(fn);
		h->n++;
	}
	if (routes_check(h, err, errlen) != 0)
		return -1;
	sort_routes(h);
	return 0;
}

int
edge_host_read(const char *text, struct edge_host *h)
{
	const char *p = text;
	char        err[256], line[600];
	bool        have_host = false, have_version = false;

	memset(h, 0, sizeof(*h));
	while (*p == '#') {
		size_t n = strcspn(p, "\n");
		char  *f[5], *save;
		int    k = 0;

		if (n >= sizeof(line))
			return -1;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		/* "# word a b c": split on single spaces (no field holds one). */
		save = line + 2;
		while (k < 5 && save != NULL && *save) {
			f[k++] = save;
			if ((save = strchr(save, ' ')) != NULL)
				*save++ = '\0';
		}
		if (k == 2 && strcmp(f[0], "host") == 0 && acme_hostname_ok(f[1])) {
			(void)util_snprintf(h->hostname, sizeof(h->hostname), "%s", f[1]);
			have_host = true;
		} else if (k == 2 && strcmp(f[0], "version") == 0 &&
		    util_parse_i64(f[1], 0, INT64_MAX / 2, &h->version) == 0)
			have_version = true;
		else if ((k == 4 || (k == 5 && strcmp(f[4], "fn") == 0)) &&
		    strcmp(f[0], "route") == 0 && h->n < EDGE_ROUTES_MAX) {
			struct edge_route *e = &h->r[h->n];

			if (util_snprintf(e->prefix, sizeof(e->prefix), "%s", f[1]) < 0 ||
			    util_snprintf(e->app_id, sizeof(e->app_id), "%s", f[2]) < 0)
				return -1;
			e->redirect = strcmp(f[3], "1") == 0;
			e->function = k == 5;
			h->n++;
		}
	}
	if (!have_host || !have_version || routes_check(h, err, sizeof(err)) != 0)
		return -1;
	sort_routes(h);
	return 0;
}

/* The wake socket for a function route to upstream up, or NULL (none). */
static const char *
fn_wake(const struct edge_host_env *env, const char *up)
{
	return env->fn_wake != NULL && wake_ok(up, env->fn_wake) ? env->fn_wake : NULL;
}

/* Whether route i of a server (tls: the TLS one) proxies to a function's
 * site, as put_routes renders it (not redirected, its site there). */
static bool
fn_proxied(const struct edge_host *h, const struct edge_host_env *env, bool tls, size_t i)
{
	return !(!tls && h->r[i].redirect && env->cert != NULL) && env->app_up[i] &&
	    env->fn_methods[i] != NULL;
}

/* The routes' locations of one server; tls: the TLS server (no redirect). */
static int
put_routes(const struct edge_host *h, const struct edge_host_env *env, bool tls, char *out,
    size_t outlen, size_t *o)
{
	bool root = false, proxy = false;
	char up[APP_UPSTREAM_MAX], port[16] = "";

	if (env->https_port != 443)
		(void)util_snprintf(port, sizeof(port), ":%lld", (long long)env->https_port);
	if (text_put(out, outlen, o,
	    "    location ^~ /.well-known/acme-challenge/ {\n"
	    "        root %s;\n"
	    "        default_type text/plain;\n"
	    "    }\n", env->webroot) != 0)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		const struct edge_route *r = &h->r[i];

		root |= strcmp(r->prefix, "/") == 0;
		if (text_put(out, outlen, o, "    location ^~ %s {\n", r->prefix) != 0)
			return -1;
		if (!tls && r->redirect && env->cert != NULL) {
			if (text_put(out, outlen, o, "        return 308 https://$host%s$request_uri;\n"
			    "    }\n", port) != 0)
				return -1;
		} else if (env->app_up[i] && (!r->function || env->fn_methods[i] != NULL)) {
			static const char end[] = "        error_page 502 =503 @lnchr_unavailable;\n    }\n";

			upstream_name(r->app_id, up, sizeof(up));
			/* No instance: the upstream's one server is down (502), which is 503 here.
			 * A function's route: its own site's location (methods filter). */
			if ((env->fn_methods[i] != NULL ?
			    put_fn_location(out, outlen, o, up, env->fn_methods[i], fn_wake(env, up),
			    fn_wake(env, up) != NULL ? "    }\n" : end) :
			    put_proxy(out, outlen, o, up, end)) != 0)
				return -1;
			proxy = true;
		/* No site, or a function's site that does not name its methods (an
		 * older agent's): 503 until it is deployed again, never a proxy of
		 * every method. */
		} else if (text_put(out, outlen, o, "        return 503;\n    }\n") != 0)
			return -1;
	}
	if (!root && text_put(out, outlen, o, "    location / {\n        return 404;\n    }\n") != 0)
		return -1;
	/* Each function proxied here (the routes above): its wake locations, once. */
	for (size_t i = 0; i < h->n; i++) {
		bool seen = false;

		if (!fn_proxied(h, env, tls, i))
			continue;
		for (size_t j = 0; j < i; j++)
			seen |= fn_proxied(h, env, tls, j) && strcmp(h->r[j].app_id, h->r[i].app_id) == 0;
		upstream_name(h->r[i].app_id, up, sizeof(up));
		if (!seen && fn_wake(env, up) != NULL && put_fn_wake(out, outlen, o, up, env->fn_wake) != 0)
			return -1;
	}
	if (proxy && text_put(out, outlen, o, "    location @lnchr_unavailable {\n        return 503;\n"
	    "    }\n") != 0)
		return -1;
	return 0;
}

int
edge_host_render(const struct edge_host *h, const struct edge_host_env *env, char *out,
    size_t outlen)
{
	size_t o = 0;

	if (text_put(out, outlen, &o, "# Written by launcher-agent; edits are lost.\n"
	    "# host %s\n# version %lld\n", h->hostname, (long long)h->version) != 0)
		return -1;
	for (size_t i = 0; i < h->n; i++)
		if (text_put(out, outlen, &o, "# route %s %s %d%s\n", h->r[i].prefix, h->r[i].app_id,
		    h->r[i].redirect ? 1 : 0, h->r[i].function ? " fn" : "") != 0)
			return -1;
	if (text_put(out, outlen, &o, "server {\n    listen %s;\n    server_name %s;\n", env->listen,
	    h->hostname) != 0 || put_routes(h, env, false, out, outlen, &o) != 0 ||
	    text_put(out, outlen, &o, "}\n") != 0)
		return -1;
	if (env->cert == NULL)
		return (int)o;
	if (text_put(out, outlen, &o, "server {\n    listen %s ssl;\n    server_name %s;\n"
	    "    ssl_certificate %s;\n    ssl_certificate_key %s;\n", env->tls_listen, h->hostname,
	    env->cert, env->key) != 0 || put_routes(h, env, true, out, outlen, &o) != 0 ||
	    text_put(out, outlen, &o, "}\n") != 0)
		return -1;
	return (int)o;
}

/* host-<hostname>.conf's base name. */
static int
host_file_name(const char *hostname, char *out, size_t outlen)
{
	if (strncmp(hostname, "*.", 2) == 0)
		return util_snprintf(out, outlen, "host-_wildcard_%s.conf", hostname + 1) < 0 ? -1 : 0;
	return util_snprintf(out, outlen, "host-%s.conf", hostname) < 0 ? -1 : 0;
}

int
edge_host_path(const struct agent_conf *c, const char *hostname, char *out, size_t outlen)
{
	char name[300];

	if (host_file_name(hostname, name, sizeof(name)) != 0)
		return -1;
	return util_snprintf(out, outlen, "%s/%s", c->edge_sites_dir, name) < 0 ? -1 : 0;
}

int
edge_webroot(const struct agent_conf *c, char *out, size_t outlen)
{
	if (c->acme_webroot[0])
		return util_snprintf(out, outlen, "%s", c->acme_webroot) < 0 ? -1 : 0;
	return util_snprintf(out, outlen, "%s/acme-webroot", c->state_dir) < 0 ? -1 : 0;
}

int
edge_certs_dir(const struct agent_conf *c, char *out, size_t outlen)
{
	if (c->edge_certs_dir[0])
		return util_snprintf(out, outlen, "%s", c->edge_certs_dir) < 0 ? -1 : 0;
	return util_snprintf(out, outlen, "%s/certs", c->state_dir) < 0 ? -1 : 0;
}

/* <certs>/<hostname>/{fullchain,key}.pem ("*." as in the host file's name). */
static int
cert_paths(const struct agent_conf *c, const char *hostname, char *dir, char *cert, char *key,
    size_t len)
{
	char base[EDGE_PATH_MAX];

	if (edge_certs_dir(c, base, sizeof(base)) != 0 ||
	    util_snprintf(dir, len, "%s/%s%s", base, strncmp(hostname, "*.", 2) == 0 ? "_wildcard_" : "",
	    strncmp(hostname, "*.", 2) == 0 ? hostname + 1 : hostname) < 0 ||
	    util_snprintf(cert, len, "%s/fullchain.pem", dir) < 0 ||
	    util_snprintf(key, len, "%s/key.pem", dir) < 0)
		return -1;
	return 0;
}

int
edge_webroot_ready(const struct agent_conf *c, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct stat st;

	if (edge_webroot(c, out, outlen) != 0) {
		util_snprintf(err, errlen, "acme_webroot path too long");
		return -1;
	}
	if (mkdir(out, 0755) != 0 && errno != EEXIST) {
		util_snprintf(err, errlen, "acme_webroot %s: %s", out, strerror(errno));
		return -1;
	}
	(void)chmod(out, 0755);
	/* The default lives in state_dir (0700): nginx's workers must pass it. */
	if (c->acme_webroot[0] == '\0' && stat(c->state_dir, &st) == 0 && (st.st_mode & 011) != 011)
		(void)chmod(c->state_dir, (st.st_mode & 0777) | 011);
	return 0;
}

/*
 * Renders h into a new string for the change set.  The app whose site this
 * change set writes or removes (app_id; app_site its new content, NULL when
 * removed) counts as it will be; other apps as their files are now (a
 * function's site says it is one, and its methods: the route filters them
 * too); TLS when with_cert, or when the certificate's files exist.
 */
static int
host_render_now(const struct agent_conf *c, const struct edge_host *h, const char *app_id,
    const char *app_site, bool with_cert, char *out, size_t outlen, char *err, size_t errlen)
{
	struct edge_host_env env = {0};
	char                 webroot[EDGE_PATH_MAX], dir[EDGE_PATH_MAX], cert[EDGE_PATH_MAX],
	    key[EDGE_PATH_MAX], p[EDGE_PATH_MAX], wake[EDGE_PATH_MAX], methods[EDGE_ROUTES_MAX][EDGE_METHODS_MAX];
	struct stat          st;
	int                  len;

	if (edge_webroot_ready(c, webroot, sizeof(webroot), err, errlen) != 0)
		return -1;
	if (cert_paths(c, h->hostname, dir, cert, key, sizeof(cert)) != 0) {
		util_snprintf(err, errlen, "certificate path too long");
		return -1;
	}
	fnscale_socket(c, wake, sizeof(wake));
	env.fn_wake = wake;
	env.listen = c->edge_listen;
	env.tls_listen = c->edge_tls_listen;
	env.https_port = c->edge_https_port;
	env.webroot = webroot;
	if (with_cert || (stat(cert, &st) == 0 && stat(key, &st) == 0)) {
		env.cert = cert;
		env.key = key;
	}
	for (size_t i = 0; i < h->n; i++) {
		char       *text = NULL;
		const char *site = NULL;

		if (app_id != NULL && strcmp(h->r[i].app_id, app_id) == 0)
			site = app_site;
		else if (edge_path(c, h->r[i].app_id, p, sizeof(p)) == 0 && read_file(p, &text) == 0)
			site = text;
		env.app_up[i] = site != NULL;
		if (site != NULL && edge_site_fn_methods(site, methods[i], sizeof(methods[i])) == 0)
			env.fn_methods[i] = methods[i];
		free(text);
	}
	if ((len = edge_host_render(h, &env, out, outlen)) < 0) {
		util_snprintf(err, errlen, "the host file of %s does not fit in %d bytes", h->hostname,
		    EDGE_SITE_MAX);
		return -1;
	}
	return len;
}

/* Adds to cs every host file that routes to app_id, re-rendered. */
static int
add_dependent_hosts(const struct agent_conf *c, struct changeset *cs, const char *app_id,
    const char *app_site, char *err, size_t errlen)
{
	DIR              *d = opendir(c->edge_sites_dir);
	struct dirent    *e;
	struct edge_host *h = malloc(sizeof(*h));
	char             *site = malloc(EDGE_SITE_MAX), *text, path[EDGE_PATH_MAX];
	int               rc = 0, len;

	if (d == NULL || h == NULL || site == NULL) {
		rc = d == NULL ? 0 : -1;	/* no directory: no hosts */
		if (rc != 0)
			util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		bool   names = false;

		if (strncmp(e->d_name, "host-", 5) != 0 || n < 11 ||
		    strcmp(e->d_name + n - 5, ".conf") != 0 ||
		    util_snprintf(path, sizeof(path), "%s/%s", c->edge_sites_dir, e->d_name) < 0 ||
		    read_file(path, &text) != 0 || text == NULL)
			continue;
		if (edge_host_read(text, h) != 0) {
			log_warn("edge: %s has no header launcher-agent can read; left alone", path);
			free(text);
			continue;
		}
		free(text);
		for (size_t i = 0; i < h->n; i++)
			names |= strcmp(h->r[i].app_id, app_id) == 0;
		if (!names)
			continue;
		if ((len = host_render_now(c, h, app_id, app_site, false, site, EDGE_SITE_MAX, err,
		    errlen)) < 0 || changeset_add(cs, path, site, (size_t)len, 0644, err, errlen) != 0)
			rc = -1;
	}
out:
	if (d != NULL)
		closedir(d);
	free(site);
	free(h);
	return rc;
}

int
edge_install(const struct agent_conf *c, const char *app_id, const char *content, char *err,
    size_t errlen)
{
	struct changeset *cs = calloc(1, sizeof(*cs));
	char              path[EDGE_PATH_MAX], own[128], name[256];
	int               rc = -1, lock = -1;

	if (cs == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (edge_path(c, app_id, path, sizeof(path)) != 0 ||
	    util_snprintf(own, sizeof(own), "app-%s.conf", app_id) < 0) {
		util_snprintf(err, errlen, "edge site path too long");
		goto out;
	}
	if ((lock = edge_lock(c, err, errlen)) < 0)
		goto out;
	server_name_of(content, name, sizeof(name));
	if (name_is_free(c, own, name, err, errlen) != 0 ||
	    changeset_add(cs, path, content, strlen(content), 0644, err, errlen) != 0 ||
	    add_dependent_hosts(c, cs, app_id, content, err, errlen) != 0)
		goto out;
	rc = changeset_apply(c, cs, err, errlen);
out:
	edge_unlock(lock);
	changeset_free(cs);
	free(cs);
	return rc;
}

int
edge_remove(const struct agent_conf *c, const char *app_id, char *err, size_t errlen)
{
	struct changeset *cs;
	char              path[EDGE_PATH_MAX];
	int               rc = -1, lock = -1;

	if (c->edge_sites_dir[0] == '\0')
		return 0;
	if (edge_path(c, app_id, path, sizeof(path)) != 0) {
		util_snprintf(err, errlen, "edge site path too long");
		return -1;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((lock = edge_lock(c, err, errlen)) < 0)
		goto out;
	if (changeset_add(cs, path, NULL, 0, 0644, err, errlen) != 0 ||
	    add_dependent_hosts(c, cs, app_id, NULL, err, errlen) != 0)
		goto out;
	rc = changeset_apply(c, cs, err, errlen);
out:
	edge_unlock(lock);
	changeset_free(cs);
	free(cs);
	return rc;
}

/* <state_dir>/edge-hosts/<file name>: the last version applied, kept when
 * the host file is removed so that a stale payload cannot bring it back. */
static int
version_path(const struct agent_conf *c, const char *hostname, char *out, size_t outlen,
    bool make)
{
	char name[300];

	if (host_file_name(hostname, name, sizeof(name)) != 0 ||
	    util_snprintf(out, outlen, "%s/edge-hosts", c->state_dir) < 0)
		return -1;
	if (make && mkdir(out, 0700) != 0 && errno != EEXIST)
		return -1;
	return util_snprintf(out, outlen, "%s/edge-hosts/%s.version", c->state_dir, name) < 0 ? -1 : 0;
}

/* The last version applied for hostname (its file's header, or the record). */
static int64_t
applied_version(const struct agent_conf *c, const char *path, const char *hostname)
{
	struct edge_host *h = malloc(sizeof(*h));
	char              vpath[EDGE_PATH_MAX], *text = NULL;
	int64_t           v = -1, rec;

	if (h != NULL && read_file(path, &text) == 0 && text != NULL && edge_host_read(text, h) == 0)
		v = h->version;
	free(text);
	free(h);
	text = NULL;
	if (version_path(c, hostname, vpath, sizeof(vpath), false) == 0 &&
	    read_file(vpath, &text) == 0 && text != NULL &&
	    util_parse_i64(util_trim(text), 0, INT64_MAX, &rec) == 0 && rec > v)
		v = rec;
	free(text);
	return v;
}

static void
record_version(const struct agent_conf *c, const char *hostname, int64_t version)
{
	char vpath[EDGE_PATH_MAX], text[32];
	int  n = util_snprintf(text, sizeof(text), "%lld\n", (long long)version);

	if (n < 0 || version_path(c, hostname, vpath, sizeof(vpath), true) != 0 ||
	    util_write_atomic(vpath, text, (size_t)n, 0600) != 0)
		log_warn("edge: cannot record version %lld of %s", (long long)version, hostname);
}

int
edge_host_apply(const struct agent_conf *c, const struct edge_host *h, bool *skipped,
    char *err, size_t errlen)
{
	struct changeset *cs = NULL;
	char              path[EDGE_PATH_MAX], own[300], *site = NULL;
	int               rc = -1, lock = -1, len;

	*skipped = false;
	if (c->edge_sites_dir[0] == '\0') {
		util_snprintf(err, errlen, "edge routing is off on this server (no edge_sites_dir)");
		return -1;
	}
	if (edge_host_path(c, h->hostname, path, sizeof(path)) != 0 ||
	    host_file_name(h->hostname, own, sizeof(own)) != 0) {
		util_snprintf(err, errlen, "host file path too long");
		return -1;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL || (site = malloc(EDGE_SITE_MAX)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((lock = edge_lock(c, err, errlen)) < 0)
		goto out;
	if (h->version <= applied_version(c, path, h->hostname)) {
		*skipped = true;
		rc = 0;
		goto out;
	}
	if (h->n == 0) {
		if (changeset_add(cs, path, NULL, 0, 0644, err, errlen) != 0)
			goto out;
	} else if (name_is_free(c, own, h->hostname, err, errlen) != 0 ||
	    (len = host_render_now(c, h, NULL, NULL, false, site, EDGE_SITE_MAX, err, errlen)) < 0 ||
	    changeset_add(cs, path, site, (size_t)len, 0644, err, errlen) != 0)
		goto out;
	if ((rc = changeset_apply(c, cs, err, errlen)) == 0)
		record_version(c, h->hostname, h->version);
out:
	edge_unlock(lock);
	if (cs != NULL)
		changeset_free(cs);
	free(cs);
	free(site);
	return rc;
}

int
edge_cert_install(const struct agent_conf *c, const char *hostname, const char *fullchain,
    size_t fullchain_len, const char *key, size_t key_len, char *err, size_t errlen)
{
	struct changeset *cs = NULL;
	struct edge_host *h = NULL;
	char              path[EDGE_PATH_MAX], dir[EDGE_PATH_MAX], cert[EDGE_PATH_MAX],
	    keyp[EDGE_PATH_MAX], base[EDGE_PATH_MAX], *text = NULL, *site = NULL;
	int               rc = -1, lock = -1, len;

	if (edge_host_path(c, hostname, path, sizeof(path)) != 0 ||
	    cert_paths(c, hostname, dir, cert, keyp, sizeof(dir)) != 0 ||
	    edge_certs_dir(c, base, sizeof(base)) != 0) {
		util_snprintf(err, errlen, "certificate path too long");
		return -1;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL || (h = malloc(sizeof(*h))) == NULL ||
	    (site = malloc(EDGE_SITE_MAX)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((lock = edge_lock(c, err, errlen)) < 0)
		goto out;
	if (read_file(path, &text) != 0 || text == NULL || edge_host_read(text, h) != 0) {
		util_snprintf(err, errlen, "no edge route for %s on this server (%s): the certificate "
		    "is installed once an edge.host job has routed it", hostname, path);
		goto out;
	}
	if ((mkdir(base, 0700) != 0 && errno != EEXIST) || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
		util_snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* The key first: the certificate never names a key not yet in place. */
	if (changeset_add(cs, keyp, key, key_len, 0600, err, errlen) != 0 ||
	    changeset_add(cs, cert, fullchain, fullchain_len, 0644, err, errlen) != 0 ||
	    (len = host_render_now(c, h, NULL, NULL, true, site, EDGE_SITE_MAX, err, errlen)) < 0 ||
	    changeset_add(cs, path, site, (size_t)len, 0644, err, errlen) != 0)
		goto out;
	rc = changeset_apply(c, cs, err, errlen);
out:
	edge_unlock(lock);
	if (cs != NULL)
		changeset_free(cs);
	free(cs);
	free(h);
	free(text);
	free(site);
	return rc;
}
