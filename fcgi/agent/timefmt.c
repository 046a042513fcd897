/*
 * timefmt.c - monotonic milliseconds and RFC 3339 in and out (see timefmt.h).
 */
#include "timefmt.h"

#include <ctype.h>
#include <stdbool.h>
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

/* Exactly n digits at *p into *v; advances *p. */
static bool
digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

int
timefmt_parse_rfc3339(const char *s, double *epoch)
{
	const char *p = s;
	struct tm   tm = {0};
	int         y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	double      frac = 0.0, scale = 0.1;
	time_t      t;

	if (s == NULL)
		return -1;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10.0)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*epoch = (double)t + frac - (double)(sign * (oh * 3600 + om * 60));
	return 0;
}
