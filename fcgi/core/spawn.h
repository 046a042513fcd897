/*
 * spawn.h - the one way a Launcher program runs an external program
 * (the agent's nginx test and reload, iptables, the ACME client):
 * posix_spawn, never a shell unless spawn_command asks for one, its own
 * process group killed whole on timeout, its output handed back as it
 * comes.  Secrets go in through input or the environment, never argv.
 */
#ifndef LAUNCHER_SPAWN_H
#define LAUNCHER_SPAWN_H

#include <signal.h>
#include <stddef.h>

/* The most input spawn_argv passes on stdin (it must fit in a pipe). */
#define SPAWN_INPUT_MAX 65536

/*
 * Runs argv (argv[0] looked up in PATH) with envp as its environment (NULL:
 * ours), input (NULL: /dev/null; else at most SPAWN_INPUT_MAX-1 bytes) on
 * its stdin, stdout and stderr handed to sink as they come, killed (with
 * its process group) after timeout_ms.  *status gets the exit code (128 +
 * signal when killed by one).  0 when it ran, -1 (err) when it could not
 * be started or timed out.
 */
int  spawn_argv(const char *const *argv, const char *const *envp, const char *input,
    int timeout_ms, int *status, void (*sink)(void *ud, const char *p, size_t n), void *ud,
    char *err, size_t errlen);

/*
 * The signals a started program gets at their default action (spawn_argv
 * sets them so): the ones Launcher's programs ignore or catch.  A child
 * forked to exec something of its own (a login shell, tar, the image
 * builder) calls spawn_child_signals between fork and exec: those at
 * default, nothing blocked.
 */
void spawn_default_signals(sigset_t *set);
void spawn_child_signals(void);

/* A sink for spawn_argv that keeps the last bytes of the output. */
struct spawn_tail {
	char   buf[8192];
	size_t len;
};
void spawn_tail_sink(void *ud, const char *p, size_t n);
/* The last `lines` lines of t (whole lines where they fit in outlen), made
 * clean text (util_sanitize, newlines kept). */
void spawn_tail_text(const struct spawn_tail *t, int lines, char *out, size_t outlen);

/*
 * Runs cmd with /bin/sh -c (an operator's configured command: stdin
 * /dev/null, stdout and stderr captured), killing it after timeout_ms.
 * *status as spawn_argv's; tail gets the last lines of its output (at most
 * taillen-1 bytes).  Returns 0 when it ran, -1 when it could not be started
 * or timed out (tail says why).
 */
int  spawn_command(const char *cmd, int timeout_ms, int *status, char *tail, size_t taillen);

#endif
