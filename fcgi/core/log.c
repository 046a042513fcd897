/*
 * log.c - stderr logging.  The level and request id are per-process
 * logging state (set by the worker for the request it serves).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	enum log_level level;
	char           rid[64];
} log_state = {LOG_INFO, ""};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(enum log_level l)
{
	log_state.level = l;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_set_request_id(const char *rid)
{
	int n = snprintf(log_state.rid, sizeof(log_state.rid), "%s", rid ? rid : "");

	if (n < 0 || (size_t)n >= sizeof(log_state.rid))
		log_state.rid[0] = '\0';
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	char            line[2048], ts[32];
	struct timespec now;
	struct tm       tm;
	va_list         ap;
	int             n;

	if (l > log_state.level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A truncated line is still logged; it is marked with "...". */
	fprintf(stderr, "%s.%03ldZ [%d] %s%s%s %s%s\n", ts, now.tv_nsec / 1000000,
	    (int)getpid(), level_names[l], log_state.rid[0] ? " rid=" : "",
	    log_state.rid, line, (size_t)n >= sizeof(line) ? "..." : "");
}
