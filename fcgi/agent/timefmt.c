/*
 * timefmt.c - monotonic milliseconds and RFC 3339 in and out (see timefmt.h).
 */
#include "timefmt.h"

#include <errno.h>

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "../core/util.h"

int64_t
timefmt_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
timefmt_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
timefmt_rfc3339(char *out, size_t outlen, double epoch)
{
	time_t    sec = (time_t)epoch;
	int       ms = (int)((epoch - (double)sec) * 1000.0);
	struct tm tm;
	char      base[32];

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	return util_snprintf(out, outlen, "%s.%03dZ", base, ms) < 0 ? -1 : 0;
}

/* Exactly n digits at p (within the m bytes left) into *v. */
static bool
digits(const char *p, size_t m, int n, int *v)
{
	*v = 0;
	if ((size_t)n > m)
		return false;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		*v = *v * 10 + (p[i] - '0');
	}
	return true;
}

size_t
timefmt_scan_rfc3339(const char *s, size_t n, int64_t *sec, int32_t *nsec)
{
	struct tm tm = {0};
	int       y, mo, d, h, mi, sc, oh = 0, om = 0, sign = 0;
	int32_t   ns = 0, scale = 100000000;
	size_t    i = 19;
	time_t    t;

	if (s == NULL || !digits(s, n, 4, &y) || n < 19 || s[4] != '-' ||
	    !digits(s + 5, n - 5, 2, &mo) || s[7] != '-' || !digits(s + 8, n - 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, n - 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, n - 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, n - 17, 2, &sc))
		return 0;
	if (i < n && s[i] == '.') {
		if (++i >= n || !isdigit((unsigned char)s[i]))
			return 0;
		for (; i < n && isdigit((unsigned char)s[i]); i++, scale /= 10)
			ns += (s[i] - '0') * scale;	/* digits past the nanosecond add 0 */
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (!digits(s + i + 1, n - i - 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    !digits(s + i + 4, n - i - 4, 2, &om) || oh > 23 || om > 59)
			return 0;
		i += 6;
	} else
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sc > 60)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sc;
	if ((t = timegm(&tm)) == (time_t)-1)
		return 0;
	*sec = (int64_t)t - (int64_t)sign * (oh * 3600 + om * 60);
	*nsec = ns;
	return i;
}

int
timefmt_parse_rfc3339(const char *s, double *epoch)
{
	int64_t sec;
	int32_t nsec;
	size_t  n = s != NULL ? strlen(s) : 0;

	if (n == 0 || timefmt_scan_rfc3339(s, n, &sec, &nsec) != n)
		return -1;
	*epoch = (double)sec + (double)nsec / 1e9;
	return 0;
}

void
timefmt_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
