/*
 * fnscale.c - scale to zero of functions (see fnscale.h): the idle check,
 * the wake socket and their children, all without waiting in the loop.
 */
#include "fnscale.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "fn.h"
#include "runner.h"
#include "timefmt.h"

int
fnscale_path(const struct agent_conf *c, const char *fid, const char *suffix, char *out,
    size_t outlen)
{
	if (fid == NULL)
		return util_snprintf(out, outlen, "%s/fn-scale", c->state_dir) < 0 ? -1 : 0;
	if (!util_is_uuid(fid))
		return -1;
	return util_snprintf(out, outlen, "%s/fn-scale/%s%s", c->state_dir, fid, suffix) < 0 ? -1 : 0;
}

void
fnscale_socket(const struct agent_conf *c, char *out, size_t outlen)
{
	if (c->fn_wake_socket[0] != '\0')
		(void)util_snprintf(out, outlen, "%s", c->fn_wake_socket);
	else
		(void)util_snprintf(out, outlen, "%s/fn-wake.sock", c->state_dir);
}

int
fnscale_header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	/* Past the request line: header lines only. */
	for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;

			v += strspn(v, " \t");
			return util_snprintf(out, outlen, "%.*s", (int)strcspn(v, " \t\r\n"), v) < 0 ? -1 : 0;
		}
	}
	return -1;
}

void
fnscale_init(struct fnscale *s, const struct agent_conf *c, bool traffic)
{
	struct sockaddr_un sa;
	int                fd;

	memset(s, 0, sizeof(*s));
	s->conf = c;
	s->lfd = -1;
	s->traffic = traffic;
	for (int i = 0; i < FNSCALE_CONNS; i++)
		s->conns[i].fd = -1;
	(void)fnscale_path(c, NULL, "", s->dir, sizeof(s->dir));
	fnscale_socket(c, s->sock, sizeof(s->sock));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(s->sock) >= sizeof(sa.sun_path)) {
		log_warn("fn_wake_socket %s: path too long: no scale to zero", s->sock);
		return;
	}
	memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
	(void)unlink(s->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		log_warn("fn_wake_socket %s: %s: stopped functions are not woken by requests", s->sock,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	/* nginx's workers (another user) connect: the socket is open to all,
	 * only what the edge may ask (a function's start) is served; its
	 * directory (the state dir by default, 0700) searchable for them. */
	(void)chmod(s->sock, 0666);
	{
		char        dir[sizeof(s->sock)];
		char       *slash;
		struct stat st;

		(void)util_snprintf(dir, sizeof(dir), "%s", s->sock);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (stat(dir, &st) == 0 && (st.st_mode & 0011) != 0011)
				(void)chmod(dir, (st.st_mode & 07777) | 0011);
		}
	}
	s->lfd = fd;
}

static void
conn_close(struct fnscale_conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->fid[0] = '\0';
	k->len = 0;
	k->waiting = false;
}

void
fnscale_close(struct fnscale *s)
{
	for (int i = 0; i < FNSCALE_CONNS; i++)
		conn_close(&s->conns[i]);
	for (int i = 0; i < FNSCALE_MAX; i++) {
		if (s->fns[i].stop_fd > 0)
			close(s->fns[i].stop_fd);
		if (s->fns[i].start_fd > 0)
			close(s->fns[i].start_fd);
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		(void)unlink(s->sock);
	}
	s->lfd = -1;
}

static struct fnscale_fn *
find(struct fnscale *s, const char *id, bool add)
{
	struct fnscale_fn *free_slot = NULL;

	for (int i = 0; i < FNSCALE_MAX; i++) {
		if (s->fns[i].used && strcmp(s->fns[i].id, id) == 0)
			return &s->fns[i];
		if (!s->fns[i].used && free_slot == NULL)
			free_slot = &s->fns[i];
	}
	if (!add || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	(void)util_snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	free_slot->last = timefmt_wall();
	return free_slot;
}

void
fnscale_seen(struct fnscale *s, const char *id, double t)
{
	struct fnscale_fn *f = find(s, id, false);

	if (f != NULL && t > f->last)
		f->last = t;
}

/* -------------------------------------------------------------- children */

struct child_arg {
	const struct agent_conf *conf;
	const char              *fid;
	double                   last;
};

/* The stop (a child): no invocation runs (the exclusive lock) and none
 * started since the check; then the container stopped.  0, 2 = busy, 1. */
static int
stop_body(void *ud, int fd)
{
	const struct child_arg *a = ud;
	char                    path[AGENT_STR_MAX + 64], err[512] = "";
	struct stat             st;
	int                     lk;

	if (fnscale_path(a->conf, a->fid, ".seen", path, sizeof(path)) != 0 ||
	    (lk = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 1;
	if (flock(lk, LOCK_EX | LOCK_NB) != 0 ||
	    (fstat(lk, &st) == 0 && (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 > a->last))
		return 2;
	if (fn_container_stop(a->conf, a->fid, err, sizeof(err)) != 0) {
		(void)runner_write_all(fd, err, strlen(err));
		return 1;
	}
	return 0;	/* the lock goes with the process */
}

/* The start (a child): fn_container_start; 0, or 1 with the reason on fd. */
static int
start_body(void *ud, int fd)
{
	const struct child_arg *a = ud;
	char                    err[512] = "";
	int                     port;

	if (fn_container_start(a->conf, a->fid, FN_START_TIMEOUT_S * 1000L, &port, err,
	    sizeof(err)) == 0)
		return 0;
	(void)runner_write_all(fd, err, strlen(err));
	return 1;
}

static int
spawn(struct fnscale *s, struct fnscale_fn *f, bool start)
{
	struct child_arg a = {s->conf, f->id, f->last};
	pid_t            pid;
	int              fd;

	if (runner_fork(f->id, start ? start_body : stop_body, &a, &pid, &fd) != 0) {
		log_warn("function %s: cannot fork its %s: %s", f->id, start ? "start" : "stop",
		    strerror(errno));
		return -1;
	}
	/* The child holds no wake request: each must close when answered. */
	if (start) {
		f->starter = pid;
		f->start_fd = fd;
		f->start_deadline = timefmt_mono_ms() + (FN_START_TIMEOUT_S + 5) * 1000L;
		f->start_wall = timefmt_wall();
	} else {
		f->stopper = pid;
		f->stop_fd = fd;
	}
	return 0;
}

/* A child's words (its failure), read once it has exited. */
static void
child_words(int *fd, char *out, size_t outlen)
{
	ssize_t n = *fd > 0 ? read(*fd, out, outlen - 1) : -1;

	out[n > 0 ? n : 0] = '\0';
	if (*fd > 0)
		close(*fd);
	*fd = 0;
}

/* The JSON error envelope's bytes into out (a message without quotes or backslashes). */
static void
answer(struct fnscale_conn *k, int status, const char *fn_id, const char *msg)
{
	char   body[700], clean[512], head[1024];
	size_t n = 0;
	int    hl;

	for (const char *p = msg; p != NULL && *p && n + 1 < sizeof(clean); p++)
		clean[n++] = (*p == '"' || *p == '\\' || (unsigned char)*p < ' ') ? ' ' : *p;
	clean[n] = '\0';
	if (status == 200) {
		char up[40];
		size_t u = 0;

		for (const char *p = fn_id; *p && u + 1 < sizeof(up); p++)
			if (*p != '-')
				up[u++] = *p;
		up[u] = '\0';
		hl = util_snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nX-Accel-Redirect: @fn_%s\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n", up);
		body[0] = '\0';
	} else {
		(void)util_snprintf(body, sizeof(body), "{\"error\":{\"code\":\"FUNCTION_UNAVAILABLE\","
		    "\"message\":\"%s\"}}", clean);
		hl = util_snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
		    status == 502 ? "Bad Gateway" : status == 404 ? "Not Found" : "Service Unavailable",
		    strlen(body));
	}
	/* Small: the socket's buffer takes it at once; a peer gone is no matter. */
	if (hl > 0 && send(k->fd, head, (size_t)hl, MSG_NOSIGNAL | MSG_DONTWAIT) == hl && body[0])
		(void)send(k->fd, body, strlen(body), MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(k);
}

/* Every request waiting for f's start answered. */
static void
answer_waiters(struct fnscale *s, const struct fnscale_fn *f, int status, const char *msg)
{
	for (int i = 0; i < FNSCALE_CONNS; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].waiting && strcmp(s->conns[i].fid, f->id) == 0)
			answer(&s->conns[i], status, f->id, msg);
}

static bool
has_waiters(const struct fnscale *s, const struct fnscale_fn *f)
{
	for (int i = 0; i < FNSCALE_CONNS; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].waiting && strcmp(s->conns[i].fid, f->id) == 0)
			return true;
	return false;
}

static void
set_zero(struct fnscale *s, struct fnscale_fn *f, bool zero)
{
	char path[AGENT_STR_MAX + 64];

	f->zero = zero;
	if (fnscale_path(s->conf, f->id, ".zero", path, sizeof(path)) != 0)
		return;
	if (!zero)
		(void)unlink(path);
	else if (util_write_atomic(path, "", 0, 0600) != 0)
		log_warn("function %s: %s: %s", f->id, path, strerror(errno));
}

static void
reap(struct fnscale *s, struct fnscale_fn *f, int64_t now)
{
	char words[512];
	int  st;

	if (f->stopper > 0 && waitpid(f->stopper, &st, WNOHANG) == f->stopper) {
		f->stopper = 0;
		child_words(&f->stop_fd, words, sizeof(words));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			log_info("function %s: no request for %lld s: its container stopped (scaled to "
			    "zero)", f->id, (long long)f->idle_s);
			set_zero(s, f, true);
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
			log_warn("function %s: the idle stop failed: %s", f->id,
			    words[0] ? words : "(no reason)");
		if (f->want_start || has_waiters(s, f))
			(void)spawn(s, f, true);
		f->want_start = false;
	}
	if (f->starter > 0 && now > f->start_deadline) {
		(void)kill(-f->starter, SIGKILL);
		f->start_deadline = INT64_MAX;
	}
	if (f->starter > 0 && waitpid(f->starter, &st, WNOHANG) == f->starter) {
		f->starter = 0;
		child_words(&f->start_fd, words, sizeof(words));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			if (f->zero)
				log_info("function %s: started by a request in %.0f ms", f->id,
				    (timefmt_wall() - f->start_wall) * 1000);
			set_zero(s, f, false);
			f->last = timefmt_wall();
			answer_waiters(s, f, 200, NULL);
		} else {
			if (words[0] == '\0')
				(void)util_snprintf(words, sizeof(words), "the function's container did not "
				    "start within %d s", FN_START_TIMEOUT_S);
			log_warn("function %s: start for a request failed: %s", f->id, words);
			answer_waiters(s, f, 503, words);
		}
	}
}

/* ---------------------------------------------------------- wake requests */

static void
accept_all(struct fnscale *s, int64_t now)
{
	int fd;

	while (s->lfd >= 0 && (fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i;

		for (i = 0; i < FNSCALE_CONNS && s->conns[i].fd >= 0; i++)
			;
		if (i == FNSCALE_CONNS) {
			struct fnscale_conn k = {.fd = fd};

			answer(&k, 503, "", "too many requests wait for a function's start");
			continue;
		}
		s->conns[i].fd = fd;
		s->conns[i].len = 0;
		s->conns[i].since = now;
		s->conns[i].waiting = false;
		s->conns[i].fid[0] = '\0';
	}
}

/* A whole head of k: its function's start asked for (or shared). */
static void
on_head(struct fnscale *s, struct fnscale_conn *k)
{
	char               fid[64], sent[128];
	struct fnscale_fn *f;

	if (fnscale_header(k->in, FNSCALE_WAKE_HEADER, fid, sizeof(fid)) != 0 || !util_is_uuid(fid)) {
		answer(k, 404, "", "no function named");
		return;
	}
	/* It reached the container, which then failed: not sent twice. */
	if (fnscale_header(k->in, FNSCALE_SENT_HEADER, sent, sizeof(sent)) == 0 &&
	    strspn(sent, "0, :-") != strlen(sent)) {
		answer(k, 502, fid, "the function's container ended during the request");
		return;
	}
	if ((f = find(s, fid, true)) == NULL) {
		answer(k, 503, fid, "too many functions");
		return;
	}
	(void)util_snprintf(k->fid, sizeof(k->fid), "%s", fid);
	k->waiting = true;
	if (f->starter > 0)
		return;	/* the start under way answers it too */
	if (f->stopper > 0) {
		f->want_start = true;	/* after the stop */
		return;
	}
	if (spawn(s, f, true) != 0)
		answer_waiters(s, f, 503, "the start could not be forked");
}

static void
read_conns(struct fnscale *s, int64_t now)
{
	for (int i = 0; i < FNSCALE_CONNS; i++) {
		struct fnscale_conn *k = &s->conns[i];
		ssize_t              n;

		if (k->fd < 0)
			continue;
		if (k->waiting) {
			char b;

			/* nginx gave up (its proxy_read_timeout, the client left): free it. */
			if ((n = recv(k->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK)) == 0 ||
			    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
				conn_close(k);
			continue;
		}
		while ((n = recv(k->fd, k->in + k->len, sizeof(k->in) - 1 - k->len, MSG_DONTWAIT)) > 0)
			k->len += (size_t)n;
		k->in[k->len] = '\0';
		if (strstr(k->in, "\r\n\r\n") != NULL)
			on_head(s, k);
		else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
		    k->len + 1 >= sizeof(k->in) || now - k->since > FNSCALE_HEAD_MS)
			conn_close(k);
	}
}

/* ------------------------------------------------------------- idle check */

static double
mtime_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 : 0;
}

/* The deployed functions' settings read, the idle ones' stops started. */
static void
check(struct fnscale *s)
{
	DIR           *d = opendir(s->dir);
	struct dirent *e;
	bool           listed[FNSCALE_MAX] = {false};
	double         wall = timefmt_wall();

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct fnscale_fn *f;
		char               path[AGENT_STR_MAX + 64], num[32] = "";
		double             t;
		FILE              *fp;

		if (!util_is_uuid(e->d_name) || (f = find(s, e->d_name, true)) == NULL)
			continue;
		listed[f - s->fns] = true;
		if (fnscale_path(s->conf, f->id, "", path, sizeof(path)) != 0)
			continue;
		/* The deploy's time counts as a request (its container is new). */
		if ((t = mtime_of(path)) > f->last)
			f->last = t;
		if ((fp = fopen(path, "re")) != NULL) {
			if (fgets(num, sizeof(num), fp) == NULL)
				num[0] = '\0';
			fclose(fp);
		}
		num[strcspn(num, "\n")] = '\0';
		if (util_parse_i64(num, 0, INT32_MAX, &f->idle_s) != 0)
			f->idle_s = 0;
		if (fnscale_path(s->conf, f->id, ".seen", path, sizeof(path)) == 0 &&
		    (t = mtime_of(path)) > f->last)
			f->last = t;
		if (fnscale_path(s->conf, f->id, ".zero", path, sizeof(path)) == 0)
			f->zero = mtime_of(path) > 0;
		if (f->idle_s <= 0 || f->zero || f->stopper > 0 || f->starter > 0 || has_waiters(s, f) ||
		    wall - f->last < (double)f->idle_s)
			continue;
		if (!s->traffic) {
			if (!s->said_blind)
				log_warn("function %s has idle_timeout_seconds but traffic_log is not set: "
				    "HTTP requests are not seen, so no function is stopped", f->id);
			s->said_blind = true;
			continue;
		}
		(void)spawn(s, f, false);
	}
	closedir(d);
	/* Removed functions (fn.remove took their files) are forgotten. */
	for (int i = 0; i < FNSCALE_MAX; i++)
		if (s->fns[i].used && !listed[i] && s->fns[i].stopper == 0 && s->fns[i].starter == 0 &&
		    !has_waiters(s, &s->fns[i]))
			s->fns[i].used = false;
}

void
fnscale_service(struct fnscale *s, int64_t now)
{
	for (int i = 0; i < FNSCALE_MAX; i++)
		if (s->fns[i].used && (s->fns[i].stopper > 0 || s->fns[i].starter > 0))
			reap(s, &s->fns[i], now);
	accept_all(s, now);
	read_conns(s, now);
	if (now >= s->next_check) {
		s->next_check = now + s->conf->fn_idle_check_ms;
		check(s);
	}
}

int
fnscale_pollfds(const struct fnscale *s, struct pollfd *pfd, int max)
{
	int n = 0;

	if (s->lfd >= 0 && n < max)
		pfd[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
	for (int i = 0; i < FNSCALE_CONNS && n < max; i++)
		if (s->conns[i].fd >= 0)
			pfd[n++] = (struct pollfd){.fd = s->conns[i].fd,
			    .events = s->conns[i].waiting ? POLLRDHUP : POLLIN};
	return n;
}

int64_t
fnscale_next(const struct fnscale *s, int64_t now)
{
	int64_t t = s->next_check;

	for (int i = 0; i < FNSCALE_MAX; i++) {
		if (!s->fns[i].used)
			continue;
		if (s->fns[i].starter > 0 && s->fns[i].start_deadline < t)
			t = s->fns[i].start_deadline;
		/* Children are reaped on SIGCHLD (ppoll returns); this is the net. */
		if ((s->fns[i].starter > 0 || s->fns[i].stopper > 0) && now + 1000 < t)
			t = now + 1000;
	}
	for (int i = 0; i < FNSCALE_CONNS; i++)
		if (s->conns[i].fd >= 0 && !s->conns[i].waiting && s->conns[i].since + FNSCALE_HEAD_MS < t)
			t = s->conns[i].since + FNSCALE_HEAD_MS + 1;
	return t;
}
