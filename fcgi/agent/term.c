/*
 * term.c - a terminal session's process on the agent (see term.h).
 */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../core/arena.h"
#include "../core/spawn.h"
#include "../core/util.h"
#include "ctr.h"
#include "engine.h"
#include "text.h"
#include "timefmt.h"
#include "wake.h"
#include "xfer.h"

#define TERM_SEND_MS  30000	/* a frame that cannot leave in this long ends the session */
#define TERM_CHUNK    4000	/* bytes of output per binary frame (< WAKE_BUF) */
#define TERM_HDR_MAX  4096	/* the engine's answer to the hijacking start */
#define TERM_COLS     80	/* a host shell's size until the client says its own */
#define TERM_ROWS     24

struct sess {
	const struct agent_conf *c;
	const cJSON             *payload;
	int                      rec;		/* the record pipe; -1 once reported */
	struct wake              ws;
	struct xfer              x;
	struct arena             a;
	bool                     host;		/* a login shell on the host */
	int                      io;		/* engine stream or pty master; -1 */
	pid_t                    shell;		/* the host shell; -1 */
	char                     exec_id[128];
	unsigned char            early[TERM_HDR_MAX];	/* output that came with the answer */
	size_t                   early_len;
};

bool
term_kind(const char *kind)
{
	return strcmp(kind, TERM_KIND) == 0;
}

/* --------------------------------------------------------------- records */

/* The job's one result record, then the pipe closes: the loop completes it. */
static void
report(struct sess *s, const char *error)
{
	cJSON *o = error ? runner_failed(error) : cJSON_CreateObject();
	char  *text;

	if (s->rec < 0)
		return;
	if (o != NULL && error == NULL) {
		cJSON_AddStringToObject(o, "status", "succeeded");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "result"), "session_id",
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s->payload, "session_id"), 1));
	}
	if (o != NULL && (text = cJSON_PrintUnformatted(o)) != NULL) {
		(void)(runner_write_all(s->rec, "R ", 2) == 0 && runner_write_all(s->rec, text, strlen(text)) == 0 &&
		    runner_write_all(s->rec, "\n", 1) == 0);
		cJSON_free(text);
	}
	cJSON_Delete(o);
	close(s->rec);
	s->rec = -1;
}

/* ----------------------------------------------------------------- resize */

int
term_parse_resize(const char *text, size_t len, int *cols, int *rows)
{
	cJSON       *o = cJSON_ParseWithLength(text, len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
	int64_t      c, r;
	int          rc = -1;

	if (cJSON_IsString(t) && strcmp(t->valuestring, "resize") == 0 &&
	    text_json_i64(cJSON_GetObjectItemCaseSensitive(o, "cols"), 1, 1000, &c) == 0 &&
	    text_json_i64(cJSON_GetObjectItemCaseSensitive(o, "rows"), 1, 1000, &r) == 0) {
		*cols = (int)c;
		*rows = (int)r;
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

static void
resize(struct sess *s, int cols, int rows)
{
	struct xfer_resp r;

	if (s->host) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};

		(void)ioctl(s->io, TIOCSWINSZ, &ws);
		return;
	}
	(void)xfer_engine_call(&s->x, &s->a, "POST", arena_printf(&s->a,
	    ENGINE_API "/exec/%s/resize?h=%d&w=%d", s->exec_id, rows, cols), NULL, 10000, &r);
	arena_reset(&s->a);
}

/* ------------------------------------------------------------------ start */

/* The host's login shell under a new pty. */
static int
start_host(struct sess *s, char *err, size_t errlen)
{
	struct winsize ws = {.ws_row = TERM_ROWS, .ws_col = TERM_COLS};
	int            m;
	pid_t          pid = forkpty(&m, NULL, NULL, &ws);

	if (pid < 0) {
		util_snprintf(err, errlen, "cannot open a pty: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		const char *home = getenv("HOME");

		spawn_child_signals();	/* SIGPIPE too: runner_fork's child ignores it */
		setenv("TERM", "xterm", 1);
		if ((home == NULL || chdir(home) != 0) && chdir("/") != 0)
			_exit(126);
		execl("/bin/sh", "-sh", "-l", (char *)NULL);
		_exit(127);
	}
	fcntl(m, F_SETFD, FD_CLOEXEC);
	s->io = m;
	s->shell = pid;
	return 0;
}

/* The exec's start, hijacked on its own connection (ctr_exec_attach). */
static int
exec_attach(struct sess *s, char *err, size_t errlen)
{
	int fd = ctr_exec_attach(s->c->engine_socket, s->exec_id, true, TERM_SETUP_MS, s->early,
	    sizeof(s->early), &s->early_len, err, errlen);

	if (fd < 0)
		return -1;
	s->io = fd;
	return 0;
}

/* The command in the container, with a terminal; env only in the exec's Env. */
static int
start_exec(struct sess *s, char *err, size_t errlen)
{
	const cJSON *ctr = cJSON_GetObjectItemCaseSensitive(s->payload, "container_id");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(s->payload, "command");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(s->payload, "env");

	if (!cJSON_IsString(ctr) || !text_word_ok(ctr->valuestring, 64, "") ||
	    !cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1) {
		util_snprintf(err, errlen, "bad payload: container_id and command are required");
		return -1;
	}
	if (ctr_exec_create(&s->x, &s->a, ctr->valuestring, cmd, cJSON_IsArray(env) ? env : NULL,
	    CTR_EXEC_TTY, s->exec_id, sizeof(s->exec_id), err, errlen) != 0)
		return -1;
	arena_reset(&s->a);
	return exec_attach(s, err, errlen);
}

/* ------------------------------------------------------------------- end */

/* The command's status once it ended: the exec's ExitCode, or the shell's. */
static int
exit_code(struct sess *s)
{
	int st;

	if (s->host) {
		pid_t p;

		while ((p = waitpid(s->shell, &st, 0)) < 0 && errno == EINTR)
			;
		s->shell = -1;
		if (p < 0)
			return -1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	st = ctr_exec_wait(&s->x, &s->a, s->exec_id);
	arena_reset(&s->a);
	return st;
}

static void
stop_command(struct sess *s)
{
	if (s->io >= 0)
		close(s->io);
	s->io = -1;
	if (s->host && s->shell > 0) {
		kill(-s->shell, SIGHUP);
		kill(s->shell, SIGHUP);
		(void)exit_code(s);
	}
}

/* ------------------------------------------------------------------ relay */

/* Output of the command -> binary frames; -1 when it ended. */
static int
pump_out(struct sess *s)
{
	unsigned char buf[TERM_CHUNK];
	ssize_t       n;

	while ((n = read(s->io, buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return -1;	/* EOF (a pty says EIO) */
	if (wake_send(&s->ws, 0x2, buf, (size_t)n, timefmt_mono_ms() + TERM_SEND_MS) != 0)
		return -2;
	return 0;
}

/* The whole frames in ws.in: input, resizes, pings; -1 when the socket ends. */
static int
frames(struct sess *s)
{
	size_t used = 0;

	for (;;) {
		const unsigned char *p;
		size_t               plen;
		unsigned             op;
		long                 n = wake_frame(s->ws.in + used, s->ws.inlen - used, WAKE_BUF, &op,
		    &p, &plen);
		int                  cols, rows;

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		used += (size_t)n;
		switch (op) {
		case 0x0:	/* continuation of a binary message: bytes all the same */
		case 0x2:
			if (plen > 0 && runner_write_all(s->io, p, plen) != 0)
				return -1;
			break;
		case 0x1:
			if (term_parse_resize((const char *)p, plen, &cols, &rows) == 0)
				resize(s, cols, rows);
			break;
		case 0x8:
			return -1;
		case 0x9:
			if (plen > 125 ||
			    wake_send(&s->ws, 0xa, p, plen, timefmt_mono_ms() + TERM_SEND_MS) != 0)
				return -1;
			break;
		default:
			break;
		}
	}
	memmove(s->ws.in, s->ws.in + used, s->ws.inlen - used);
	s->ws.inlen -= used;
	return 0;
}

/* Frames from launcher-ws until the socket has nothing more; -1 when it ended. */
static int
pump_in(struct sess *s)
{
	for (;;) {
		size_t   got = 0;
		CURLcode cc;

		if (frames(s) < 0)
			return -1;
		cc = curl_easy_recv(s->ws.h, s->ws.in + s->ws.inlen, sizeof(s->ws.in) - s->ws.inlen,
		    &got);
		if (cc == CURLE_AGAIN)
			return 0;
		if (cc != CURLE_OK || got == 0)
			return -1;
		s->ws.inlen += got;
	}
}

static void
relay(struct sess *s)
{
	char msg[64];
	int  n;

	/* Output that came with the engine's answer, frames with launcher-ws's. */
	if ((s->early_len > 0 &&
	    wake_send(&s->ws, 0x2, s->early, s->early_len, timefmt_mono_ms() + TERM_SEND_MS) != 0) ||
	    pump_in(s) < 0) {
		stop_command(s);
		return;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = s->ws.fd, .events = POLLIN},
		    {.fd = s->io, .events = POLLIN}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			stop_command(s);
			return;
		}
		if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) && pump_in(s) < 0) {
			stop_command(s);	/* the client left (or launcher-ws did) */
			return;
		}
		if (p[1].revents & (POLLIN | POLLERR | POLLHUP)) {
			n = pump_out(s);
			if (n == -2) {
				stop_command(s);
				return;
			}
			if (n < 0)
				break;	/* the command ended */
		}
	}
	close(s->io);
	s->io = -1;
	n = util_snprintf(msg, sizeof(msg), "{\"type\":\"exit\",\"code\":%d}", exit_code(s));
	if (n > 0)
		(void)wake_send(&s->ws, 0x1, msg, (size_t)n, timefmt_mono_ms() + TERM_SEND_MS);
	(void)wake_send(&s->ws, 0x8, "\x03\xe8", 2, timefmt_mono_ms() + 1000);	/* 1000 */
}

/* --------------------------------------------------------------- session */

static int
session(const struct job *j, const struct agent_conf *c, const char *token, int rec)
{
	struct sess  s = {.c = c, .payload = j->payload, .rec = rec, .io = -1, .shell = -1};
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j->payload, "session_id");
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(j->payload, "target");
	char         path[256], err[512];

	wake_init(&s.ws);
	xfer_init(&s.x, c, NULL);
	arena_init(&s.a, 16384);
	if (!cJSON_IsString(sid) || !util_is_uuid(sid->valuestring)) {
		report(&s, "bad payload: no session_id");
		return 1;
	}
	if (!cJSON_IsString(target)) {
		report(&s, "the terminal session has ended or was never attached in time");
		return 1;
	}
	s.host = strcmp(target->valuestring, "server") == 0;
	util_snprintf(path, sizeof(path), "/%s/ws/agent/terminal/%s", c->tenant, sid->valuestring);
	if (wake_open(&s.ws, c, token, path, timefmt_mono_ms() + TERM_SETUP_MS, err,
	    sizeof(err)) != 0) {
		char msg[600];

		util_snprintf(msg, sizeof(msg), "launcher-ws refused the session's socket: %s", err);
		report(&s, msg);
		return 1;
	}
	if ((s.host ? start_host(&s, err, sizeof(err)) : start_exec(&s, err, sizeof(err))) != 0) {
		char msg[64];
		int  n = util_snprintf(msg, sizeof(msg), "{\"type\":\"exit\",\"code\":%d}", -1);

		/* The client hears that nothing will run. */
		if (n > 0)
			(void)wake_send(&s.ws, 0x1, msg, (size_t)n, timefmt_mono_ms() + 1000);
		report(&s, err);
		wake_close(&s.ws);
		return 1;
	}
	report(&s, NULL);
	relay(&s);
	wake_close(&s.ws);
	xfer_cleanup(&s.x);
	arena_free(&s.a);
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

	return session(s->j, s->c, s->token, fd);
}

int
term_spawn(const struct job *j, const struct agent_conf *c, const char *token, pid_t *pid,
    int *fd)
{
	struct spawn s = {j, c, token};

	return runner_fork(j->id, spawn_body, &s, pid, fd);
}
