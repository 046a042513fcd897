/*
 * helper.h - what the plane's periodic helper binaries share
 * (launcher-dnscheck, launcher-backup): their command line
 * (-c FILE --once | --loop [--interval S] [--now T] [--KEY VALUE]...),
 * the configuration it loads, and the lock file that keeps one run at a
 * time on a machine.
 */
#ifndef LAUNCHER_HELPER_H
#define LAUNCHER_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct db_conn;

struct helper_args {
	struct config cfg;	/* launcher.conf with the --KEY overrides applied */
	bool          once;	/* --once, else --loop */
	int64_t       interval;	/* --interval (1..3600), default 60 */
	bool          interval_given;	/* --interval was given (else a helper may
					 * take its default from cfg) */
	time_t        now;	/* --now YYYY-MM-DDTHH:MM:SSZ, 0 = the clock */
};

/*
 * Parses argv of program prog (for messages): keys[nkeys] are the
 * launcher.conf keys a --KEY VALUE flag may override; --now is accepted
 * only when allow_now.  Loads the configuration and sets the log level.
 * Returns 0, or the exit code (after a message on stderr).
 */
int helper_args_parse(struct helper_args *a, int argc, char **argv, const char *prog,
    const char *const *keys, size_t nkeys, bool allow_now);

/*
 * The lock's default into lock (size n) when it is empty: <name>.lock
 * beside cfg->fcgi_state_file, else /run/launcher/<name>.lock.
 */
void helper_lock_default(char *lock, size_t n, const struct config *cfg, const char *name);

/*
 * Takes the run's lock without waiting: the open descriptor (held until
 * closed), -2 when another run holds it, -1 on error (logged).
 */
int helper_lock_take(const char *path);

/*
 * The stop flag of a helper binary (launcher-backup, -dnscheck, -issues,
 * -notify, -scheduler): set by SIGTERM or SIGINT once
 * helper_stop_on_signals() has run; loops end when it is set.
 */
extern volatile sig_atomic_t helper_stop;
void helper_stop_on_signals(void);

/*
 * Waits up to seconds for a NOTIFY on c (a LISTEN the caller issued) or
 * for *stop (a signal handler's flag).  0, or -1 when the connection broke.
 */
int helper_wait_notify(struct db_conn *c, int64_t seconds, volatile sig_atomic_t *stop);

/*
 * The loop of a helper: while !*stop, a connection to url that LISTENs on
 * channel, then run(c, ud) at once and again after each NOTIFY or every
 * interval seconds, until the connection breaks (then a new one after 5 s).
 * Returns run's last result.
 */
int helper_loop(const char *url, const char *channel, int64_t interval, volatile sig_atomic_t *stop,
    int (*run)(struct db_conn *c, void *ud), void *ud);

#endif
