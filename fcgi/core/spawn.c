/*
 * spawn.c - running external programs (see spawn.h): posix_spawn with its
 * own process group, output read through a non-blocking pipe until exit
 * and EOF or the deadline.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a program expects to find at default: the signals our own programs
 * ignore or catch (an ignored SIGPIPE survives exec, and `yes | head`
 * would then print "Broken pipe" instead of ending quietly). */
static const int dfl_signals[] = {SIGPIPE, SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGQUIT};

void
spawn_default_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(dfl_signals) / sizeof(dfl_signals[0]); i++)
		sigaddset(set, dfl_signals[i]);
}

void
spawn_child_signals(void)
{
	sigset_t none;

	for (size_t i = 0; i < sizeof(dfl_signals) / sizeof(dfl_signals[0]); i++)
		signal(dfl_signals[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Appends bytes to a ring that keeps the last cap-1 bytes (NUL-terminated). */
static void
ring_add(char *ring, size_t cap, size_t *len, const char *p, size_t n)
{
	if (n >= cap - 1) {
		p += n - (cap - 1);
		n = cap - 1;
	}
	if (*len + n > cap - 1) {
		size_t drop = *len + n - (cap - 1);

		memmove(ring, ring + drop, *len - drop);
		*len -= drop;
	}
	memcpy(ring + *len, p, n);
	*len += n;
	ring[*len] = '\0';
}

/* The last lines of text that fit in out (whole lines where possible). */
static void
last_lines(const char *text, size_t len, int lines, char *out, size_t outlen)
{
	size_t end = len, start;
	int    seen = 0;

	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0) {
		if (text[start - 1] == '\n' && ++seen == lines)
			break;
		if (end - (start - 1) >= outlen)
			break;
		start--;
	}
	memcpy(out, text + start, end - start);
	out[end - start] = '\0';
	util_sanitize(out, 1);
}

void
spawn_tail_sink(void *ud, const char *p, size_t n)
{
	struct spawn_tail *t = ud;

	ring_add(t->buf, sizeof(t->buf), &t->len, p, n);
}

void
spawn_tail_text(const struct spawn_tail *t, int lines, char *out, size_t outlen)
{
	last_lines(t->buf, t->len, lines, out, outlen);
}

int
spawn_argv(const char *const *argv, const char *const *envp, const char *input,
    int timeout_ms, int *status, void (*sink)(void *ud, const char *p, size_t n), void *ud,
    char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          at;
	sigset_t                   none, dfl;
	char                       chunk[4096];
	size_t                     inlen = input != NULL ? strlen(input) : 0;
	int                        p[2] = {-1, -1}, in[2] = {-1, -1}, ws = 0, rc = -1;
	int64_t                    deadline = mono_ms() + timeout_ms;
	bool                       eof = false, reaped = false, fa_ok = false, at_ok = false;
	pid_t                      pid = -1;

	err[0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0) {
		util_snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Our end only: a grandchild keeping the pipe open must not block us. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
		util_snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto out;
	}
	/* The input goes whole into the pipe before the child starts: it must
	 * fit in the pipe's buffer (64 KiB on Linux), so no write can block. */
	if (input != NULL) {
		if (inlen >= SPAWN_INPUT_MAX || pipe2(in, O_CLOEXEC) != 0 ||
		    (inlen > 0 && write(in[1], input, inlen) != (ssize_t)inlen)) {
			util_snprintf(err, errlen, "cannot pass %zu bytes of input", inlen);
			goto out;
		}
		close(in[1]);
		in[1] = -1;
	}
	fa_ok = posix_spawn_file_actions_init(&fa) == 0;
	at_ok = posix_spawnattr_init(&at) == 0;
	if (!fa_ok || !at_ok) {
		util_snprintf(err, errlen, "posix_spawn setup failed");
		goto out;
	}
	if (input != NULL)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	/* Its own process group (killed whole on timeout), default signals,
	 * nothing blocked: what a shell expects. */
	sigemptyset(&none);
	spawn_default_signals(&dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	if ((errno = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv,
	    envp != NULL ? (char *const *)envp : environ)) != 0) {
		util_snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
		pid = -1;
		goto out;
	}
	close(p[1]);
	p[1] = -1;
	/* Read until EOF and exit, or until the deadline. */
	while (!reaped) {
		int64_t       left = deadline - mono_ms();
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		siginfo_t     si;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			(void)waitpid(pid, &ws, 0);
			util_snprintf(err, errlen, "timed out after %d ms", timeout_ms);
			pid = -1;
			goto out;
		}
		if (!eof) {
			int n = poll(&pfd, 1, left > 100 ? 100 : (int)left);

			if (n > 0) {
				ssize_t got = read(p[0], chunk, sizeof(chunk));

				if (got > 0)
					sink(ud, chunk, (size_t)got);
				else if (got == 0 || (errno != EINTR && errno != EAGAIN))
					eof = true;
			}
		} else
			(void)poll(NULL, 0, 20);
		/* WNOWAIT: the zombie keeps its pid (and so its group id) ours
		 * until reaped, so the group kill below cannot hit a stranger. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != pid)
			continue;
		if (!eof) {
			/* Drain what is left in the pipe. */
			ssize_t got;

			while ((got = read(p[0], chunk, sizeof(chunk))) > 0)
				sink(ud, chunk, (size_t)got);
		}
		/* Whatever it left running in the background goes with it. */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
			;
		reaped = true;
	}
	pid = -1;
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	else
		*status = -1;
	rc = 0;
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		(void)waitpid(pid, &ws, 0);
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	return rc;
}

int
spawn_command(const char *cmd, int timeout_ms, int *status, char *tail, size_t taillen)
{
	const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct spawn_tail t;

	t.buf[0] = '\0';
	t.len = 0;
	tail[0] = '\0';
	if (spawn_argv(argv, NULL, NULL, timeout_ms, status, spawn_tail_sink, &t, tail, taillen) != 0)
		return -1;
	spawn_tail_text(&t, 5, tail, taillen);
	return 0;
}
