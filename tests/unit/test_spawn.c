/* test_spawn.c - running external programs (core/spawn.h): exit codes,
 * the output tail, timeouts, argv verbatim, stdin, the environment, and the
 * signals a started program finds at default. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/spawn.h"
#include "unit.h"

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sink_buf {
	char   text[256];
	size_t len;
};

static void
sink(void *ud, const char *p, size_t n)
{
	struct sink_buf *b = ud;

	if (b->len + n < sizeof(b->text)) {
		memcpy(b->text + b->len, p, n);
		b->len += n;
		b->text[b->len] = '\0';
	}
}

/* A signal mask line of /proc/self/status ("SigIgn:\t0000000000001000"). */
static int
status_mask(const char *text, const char *key, unsigned long long *mask)
{
	const char *at = strstr(text, key);
	char       *end;

	if (at == NULL)
		return -1;
	*mask = strtoull(at + strlen(key), &end, 16);
	return end > at + strlen(key) && *end == '\n' ? 0 : -1;
}

int
main(void)
{
	char    tail[256], err[256];
	int     status = 0;
	int64_t t0;

	CHECK(spawn_command("exit 0", 5000, &status, tail, sizeof(tail)) == 0 && status == 0,
	    "command ok");
	CHECK(spawn_command("echo one; echo two >&2; exit 7", 5000, &status, tail,
	    sizeof(tail)) == 0 && status == 7 && strcmp(tail, "one\ntwo") == 0,
	    "exit code and both streams captured");
	CHECK(spawn_command("for i in $(seq 1 5000); do echo line $i; done; exit 1", 5000,
	    &status, tail, sizeof(tail)) == 0 && status == 1 && strstr(tail, "line 5000") != NULL &&
	    strstr(tail, "line 4995") == NULL && strlen(tail) < sizeof(tail), "only the last lines kept");
	CHECK(spawn_command("kill -9 $$", 5000, &status, tail, sizeof(tail)) == 0 &&
	    status == 128 + 9, "killed by a signal");
	t0 = mono_ms();
	CHECK(spawn_command("sleep 30", 300, &status, tail, sizeof(tail)) == -1 &&
	    strstr(tail, "timed out") != NULL && mono_ms() - t0 < 2000, "timeout kills it");
	t0 = mono_ms();
	CHECK(spawn_command("sleep 30 & echo started", 5000, &status, tail, sizeof(tail)) == 0 &&
	    status == 0 && mono_ms() - t0 < 2000, "a background child holding the pipe does not block");
	CHECK(spawn_command("printf 'bad \\377\\033[31m utf8\\n'; exit 2", 5000, &status, tail,
	    sizeof(tail)) == 0 && strchr(tail, '\033') == NULL && strchr(tail, '\377') == NULL,
	    "output made clean text");

	/* spawn_argv: argv as given (no shell to read "$(...)" or ';'), input on stdin,
	 * a missing program is an error. */
	{
		const char *const echo[] = {"printf", "%s|", "$(id); x", NULL};
		const char *const cat[] = {"cat", NULL};
		const char *const none[] = {"/nonexistent/tool", "-S", NULL};
		struct sink_buf   b = {0};

		CHECK(spawn_argv(echo, NULL, NULL, 5000, &status, sink, &b, err, sizeof(err)) == 0 &&
		    status == 0 && strcmp(b.text, "$(id); x|") == 0, "argv reaches the program verbatim");
		b.len = 0;
		b.text[0] = '\0';
		CHECK(spawn_argv(cat, NULL, "*filter\nCOMMIT\n", 5000, &status, sink, &b, err,
		    sizeof(err)) == 0 && status == 0 && strcmp(b.text, "*filter\nCOMMIT\n") == 0,
		    "input reaches stdin");
		CHECK(spawn_argv(none, NULL, NULL, 5000, &status, sink, &b, err, sizeof(err)) == -1 &&
		    strstr(err, "cannot run /nonexistent/tool") != NULL, "a missing program is an error");
	}

	/* envp replaces the environment (secrets go there, never in argv). */
	{
		const char *const env[] = {"SPAWN_TEST_VALUE=from-envp", "PATH=/usr/bin:/bin", NULL};
		const char *const show[] = {"sh", "-c", "printf '%s|%s' \"$SPAWN_TEST_VALUE\" \"${HOME:-none}\"", NULL};
		struct sink_buf   b = {0};

		CHECK(spawn_argv(show, env, NULL, 5000, &status, sink, &b, err, sizeof(err)) == 0 &&
		    status == 0 && strcmp(b.text, "from-envp|none") == 0, "envp is the whole environment");
	}
	/* Our programs ignore SIGPIPE and block signals; what they start does
	 * not inherit that (an ignored SIGPIPE survives exec: `yes | head`
	 * would print "Broken pipe" in a terminal session). */
	{
		const char *const show[] = {"sh", "-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status", NULL};
		struct sink_buf   b = {0};
		unsigned long long blk = 1, ign = 1;
		sigset_t          set, old;
		pid_t             pid;
		int               ws = -1;

		signal(SIGPIPE, SIG_IGN);
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, &old);
		CHECK(spawn_argv(show, NULL, NULL, 5000, &status, sink, &b, err, sizeof(err)) == 0 &&
		    status_mask(b.text, "SigBlk:", &blk) == 0 && status_mask(b.text, "SigIgn:", &ign) == 0 &&
		    blk == 0 && (ign & (1ULL << (SIGPIPE - 1))) == 0, "spawn_argv: SIGPIPE at default, nothing blocked");
		if ((pid = fork()) == 0) {
			struct sigaction sa;
			sigset_t         now;

			spawn_child_signals();
			sigprocmask(SIG_SETMASK, NULL, &now);
			_exit(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
			    !sigismember(&now, SIGTERM) ? 0 : 1);
		}
		CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		    "spawn_child_signals: SIGPIPE at default, nothing blocked");
		sigprocmask(SIG_SETMASK, &old, NULL);
		signal(SIGPIPE, SIG_DFL);
	}
	return unit_done("spawn");
}
