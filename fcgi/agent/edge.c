/*
 * edge.c - rendering and installing an app's edge nginx site (see edge.h).
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
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../core/spawn.h"
#include "text.h"
#include "timefmt.h"

#define APP_UPSTREAM_MAX 80

#define EDGE_CMD_TIMEOUT_MS 60000
#define EDGE_WORKERS_MAX    256
#define EDGE_RELOAD_WAIT_MS 5000	/* for nginx's new workers to appear */

/* The app's name in a comment: no newline can end the comment early. */
static void
comment_safe(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 1 < outlen; in++)
		out[o++] = ((unsigned char)*in < ' ' || *in == 0x7f) ? ' ' : *in;
	out[o] = '\0';
}

int
edge_render(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, char *out,
    size_t outlen)
{
	char   up[APP_UPSTREAM_MAX], name[256];
	size_t o = 0, u = 0;

	for (const char *p = app_id; *p && u + 1 < sizeof(up) - 6; p++)
		if (*p != '-')
			up[u++] = *p;
	up[u] = '\0';
	comment_safe(app_name != NULL ? app_name : "", name, sizeof(name));
	if (text_put(out, outlen, &o, "# Written by launcher-agent; edits are lost.\n"
	    "# app %s (%s), deployment %s, %zu instance%s\n", name, app_id, deployment_id, n,
	    n == 1 ? "" : "s") != 0)
		return -1;
	if (n > 0) {
		if (text_put(out, outlen, &o, "upstream lnchr_%s {\n", up) != 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (text_put(out, outlen, &o, "    server 127.0.0.1:%d max_fails=1 fail_timeout=2s;\n",
			    ports[i]) != 0)
				return -1;
		if (text_put(out, outlen, &o, "    keepalive 16;\n}\n") != 0)
			return -1;
	}
	if (text_put(out, outlen, &o, "server {\n    listen %s;\n    server_name %s;\n", listen,
	    hostname) != 0)
		return -1;
	if (n == 0)
		return text_put(out, outlen, &o, "    location / {\n        return 503;\n    }\n}\n") != 0 ?
		    -1 : (int)o;
	if (text_put(out, outlen, &o,
	    "    location / {\n"
	    "        proxy_pass http://lnchr_%s;\n"
	    "        proxy_http_version 1.1;\n"
	    "        proxy_set_header Connection \"\";\n"
	    "        proxy_set_header Host $host;\n"
	    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
	    "        proxy_set_header X-Forwarded-Proto $scheme;\n"
	    "        proxy_set_header X-Request-Id $request_id;\n"
	    "        proxy_next_upstream error timeout http_502 http_503;\n"
	    "    }\n"
	    "}\n", up) != 0)
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

/* Writes content to path through path.tmp + rename; 0 or -1 (errno). */
static int
write_atomic(const char *path, const char *content)
{
	return util_write_atomic(path, content, strlen(content), 0644);
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

/* Puts the previous content back (or removes the file when there was none). */
static void
restore(const char *path, const char *prev)
{
	if (prev != NULL)
		(void)write_atomic(path, prev);
	else
		(void)unlink(path);
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

/*
 * The plane gives every application its own hostname (a unique index),
 * but a site left from before a rename could still claim the name a new
 * application now holds, and nginx would then serve whichever it read
 * first.  So no site is installed while another app's site in the
 * directory has the same server_name: -1 with both named in err.
 */
static int
name_is_free(const struct agent_conf *c, const char *app_id, const char *content, char *err,
    size_t errlen)
{
	char           name[256], own[AGENT_STR_MAX], path[AGENT_STR_MAX + 300], *other, theirs[256];
	DIR           *d;
	struct dirent *e;
	int            rc = 0;
	size_t         n;

	server_name_of(content, name, sizeof(name));
	if (name[0] == '\0' || util_snprintf(own, sizeof(own), "app-%s.conf", app_id) < 0 ||
	    (d = opendir(c->edge_sites_dir)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (strncmp(e->d_name, "app-", 4) != 0 || n < 9 ||
		    strcmp(e->d_name + n - 5, ".conf") != 0 || strcmp(e->d_name, own) == 0 ||
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

int
edge_install(const struct agent_conf *c, const char *app_id, const char *content, char *err,
    size_t errlen)
{
	char  path[AGENT_STR_MAX + 80], *prev = NULL;
	int   rc = -1;

	if (edge_path(c, app_id, path, sizeof(path)) != 0) {
		util_snprintf(err, errlen, "edge site path too long");
		return -1;
	}
	if (name_is_free(c, app_id, content, err, errlen) != 0)
		return -1;
	if (read_file(path, &prev) != 0) {
		util_snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (write_atomic(path, content) != 0) {
		util_snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	/*
	 * Reloading by the master's pid, the reload is the test: a
	 * configuration that does not load leaves nginx on its old one and
	 * starts no new workers.  Only then is nginx_test_command run, for
	 * its message.
	 */
	if (c->edge_nginx_pid[0] == '\0' &&
	    run("nginx configuration test", c->nginx_test_command, err, errlen) != 0) {
		restore(path, prev);
		goto out;
	}
	if (reload(c, err, errlen) != 0) {
		if (c->edge_nginx_pid[0] != '\0')
			(void)run("nginx configuration test", c->nginx_test_command, err, errlen);
		/* The running nginx still has the old routes: keep the files in step. */
		restore(path, prev);
		goto out;
	}
	rc = 0;
out:
	free(prev);
	return rc;
}

int
edge_remove(const struct agent_conf *c, const char *app_id, char *err, size_t errlen)
{
	char path[AGENT_STR_MAX + 80];

	if (c->edge_sites_dir[0] == '\0')
		return 0;
	if (edge_path(c, app_id, path, sizeof(path)) != 0) {
		util_snprintf(err, errlen, "edge site path too long");
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		util_snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
		return -1;
	}
	if (c->edge_nginx_pid[0] == '\0' &&
	    run("nginx configuration test", c->nginx_test_command, err, errlen) != 0)
		return -1;
	return reload(c, err, errlen);
}
