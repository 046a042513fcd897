/*
 * helper.c - the command line, configuration and lock of the periodic
 * helper binaries; contracts in helper.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db_conn.h"
#include "helper.h"
#include "log.h"
#include "util.h"

static int
usage(const char *prog, const char *const *keys, size_t nkeys, bool allow_now)
{
	fprintf(stderr, "usage: %s -c FILE --once | --loop [--interval SECONDS]%s [--KEY VALUE]...\n"
	    "  KEY: a launcher.conf key among", prog, allow_now ? " [--now YYYY-MM-DDTHH:MM:SSZ]" : "");
	for (size_t i = 0; i < nkeys; i++)
		fprintf(stderr, " %s", keys[i]);
	fprintf(stderr, "\n");
	return 2;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC), or 0. */
static time_t
parse_now(const char *s)
{
	struct tm tm = {0};
	char     *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

	return end != NULL && *end == '\0' ? timegm(&tm) : 0;
}


volatile sig_atomic_t helper_stop;

static void
on_signal(int sig)
{
	(void)sig;
	helper_stop = 1;
}

void
helper_stop_on_signals(void)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
}

int
helper_args_parse(struct helper_args *a, int argc, char **argv, const char *prog,
    const char *const *keys, size_t nkeys, bool allow_now)
{
	const char    *conf = NULL, *over[64];
	char           err[512];
	int            loop = 0, nover = 0;
	enum log_level lvl;

	a->once = false;
	a->interval = 60;
	a->interval_given = false;
	a->now = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			a->once = true;
		else if (strcmp(argv[i], "--loop") == 0)
			loop = 1;
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			if (util_parse_i64(argv[++i], 1, 3600, &a->interval) != 0) {
				fprintf(stderr, "%s: --interval must be 1..3600\n", prog);
				return 2;
			}
			a->interval_given = true;
		} else if (allow_now && strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
			if ((a->now = parse_now(argv[++i])) <= 0) {
				fprintf(stderr, "%s: --now must be YYYY-MM-DDTHH:MM:SSZ\n", prog);
				return 2;
			}
		} else if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc) {
			size_t k = 0;

			while (k < nkeys && strcmp(argv[i] + 2, keys[k]) != 0)
				k++;
			if (k == nkeys || (size_t)nover + 2 > sizeof(over) / sizeof(*over))
				return usage(prog, keys, nkeys, allow_now);
			over[nover++] = keys[k];
			over[nover++] = argv[++i];
		} else
			return usage(prog, keys, nkeys, allow_now);
	}
	if (a->once == (loop != 0))
		return usage(prog, keys, nkeys, allow_now);
	if (conf == NULL || config_load(&a->cfg, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, conf ? err : "-c FILE is required");
		return 1;
	}
	for (int i = 0; i < nover; i += 2)
		if (config_set(&a->cfg, over[i], over[i + 1], err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: --%s\n", prog, err);
			return 2;
		}
	if (log_level_parse(a->cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	return 0;
}

void
helper_lock_default(char *lock, size_t n, const struct config *cfg, const char *name)
{
	char dir[CONFIG_STR_MAX];

	if (lock[0] != '\0')
		return;
	if (cfg->fcgi_state_file[0] == '\0') {
		util_snprintf(lock, n, "/run/launcher/%s.lock", name);
		return;
	}
	util_snprintf(dir, sizeof(dir), "%s", cfg->fcgi_state_file);
	util_snprintf(lock, n, "%s/%s.lock", dirname(dir), name);
}

int
helper_lock_take(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		log_error("lock file %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;

		if (!busy)
			log_error("lock file %s: %s", path, strerror(errno));
		close(fd);
		return busy ? -2 : -1;
	}
	return fd;
}

int
helper_wait_notify(struct db_conn *c, int64_t seconds, volatile sig_atomic_t *stop)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
		PGnotify     *n;
		int64_t       left;
		int           woken = 0;

		while ((n = PQnotifies(c->pg)) != NULL) {
			woken = 1;
			PQfreemem(n);
		}
		if (woken)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = seconds * 1000 - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (*stop || left <= 0)
			return 0;
		if (p.fd < 0)
			return -1;
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) > 0 && PQconsumeInput(c->pg) == 0)
			return -1;
	}
}

int
helper_loop(const char *url, const char *channel, int64_t interval, volatile sig_atomic_t *stop,
    int (*run)(struct db_conn *c, void *ud), void *ud)
{
	char listen[96];
	int  rc = 0;

	if (util_snprintf(listen, sizeof(listen), "LISTEN %s", channel) < 0)
		return 1;
	while (!*stop) {
		struct db_conn c = {0};

		/* One connection while it lasts: it carries the LISTEN. */
		if (db_conn_open(&c, url, NULL) != ERR_OK || db_conn_simple(&c, listen) != ERR_OK) {
			log_error("database unavailable");
			db_conn_close(&c);
			for (int s = 0; s < 5 && !*stop; s++)
				sleep(1);
			continue;
		}
		do
			rc = run(&c, ud);
		while (!*stop && helper_wait_notify(&c, interval, stop) == 0 && db_conn_ok(&c));
		db_conn_close(&c);
	}
	return rc;
}
