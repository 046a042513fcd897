/*
 * cron.c - cron expressions (parse) and their clock in a time zone
 * (cron_next); contracts in cron.h.
 *
 * The clock walks local calendar days and, on matching days, the local
 * times of the expression in order; each local time becomes an instant by
 * asking the zone (localtime_r under TZ) which offsets apply around it.
 * Working on local times and mapping each to one instant is what makes
 * DST come out right: a skipped time maps to the end of the gap, a
 * repeated one to its first occurrence, and the mapping never decreases.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "util.h"

#define ZONEINFO "/usr/share/zoneinfo/"
/* How far cron_next looks: leap days (Feb 29) recur within 8 years. */
#define SEARCH_DAYS (8 * 366)
/* Offsets change by at most this much at a transition (DST is 1 h, a
 * few zones 2 h): local times earlier than the start by more cannot be
 * after it. */
#define SHIFT_MAX (3 * 3600)
#define DAY 86400

struct field {
	const char        *name;
	int                lo, hi;
	const char *const *names;	/* names[i] stands for lo + i */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
    "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day of week", 0, 7, dow_names},
};

static const struct {
	const char *name, *expr;
} shorthands[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

/* A number or a name of f at *s (advanced past it). 0, or -1 with err. */
static int
value(const struct field *f, const char **s, int *out, char *err, size_t errlen)
{
	const char *p = *s;

	if (isdigit((unsigned char)*p)) {
		char *end;
		long  v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || v < f->lo || v > f->hi) {
			util_snprintf(err, errlen, "%s: %.*s is out of range %d-%d", f->name,
			    (int)strspn(p, "0123456789"), p, f->lo, f->hi);
			return -1;
		}
		*out = (int)v;
		*s = end;
		return 0;
	}
	for (int i = 0; f->names != NULL && f->names[i] != NULL; i++)
		if (strncasecmp(p, f->names[i], 3) == 0 && !isalpha((unsigned char)p[3])) {
			*out = f->lo + i;
			*s = p + 3;
			return 0;
		}
	util_snprintf(err, errlen, "%s: \"%.*s\" is not a %s", f->name, (int)strcspn(p, ",-/"), p,
	    f->names ? "number or a name" : "number");
	return -1;
}

/*
 * One field (text s of length n, NUL-terminated copy) into bits.
 * 0, or -1 with err naming the field.
 */
static int
parse_field(const struct field *f, const char *s, uint64_t *bits, char *err, size_t errlen)
{
	*bits = 0;
	for (;;) {
		int lo = f->lo, hi = f->hi, step = 1;

		if (*s == '*')
			s++;
		else {
			if (value(f, &s, &lo, err, errlen) != 0)
				return -1;
			hi = lo;
			if (*s == '-') {
				s++;
				if (value(f, &s, &hi, err, errlen) != 0)
					return -1;
				if (hi < lo) {
					util_snprintf(err, errlen, "%s: range %d-%d runs backwards", f->name, lo, hi);
					return -1;
				}
			} else if (*s == '/')
				hi = f->hi;	/* "N/STEP": N to the maximum */
		}
		if (*s == '/') {
			char *end;
			long  v;

			s++;
			errno = 0;
			v = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : 0;
			if (errno != 0 || v < 1 || v > f->hi) {
				util_snprintf(err, errlen, "%s: step \"%.*s\" must be a number 1-%d", f->name,
				    (int)strcspn(s, ","), s, f->hi);
				return -1;
			}
			step = (int)v;
			s = end;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << v;
		if (*s == '\0')
			return 0;
		if (*s != ',' || s[1] == '\0') {
			util_snprintf(err, errlen, "%s: unexpected \"%s\"", f->name, s);
			return -1;
		}
		s++;
	}
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	char        buf[CRON_EXPR_MAX + 1], *tok[6];
	uint64_t    bits[5];
	int         n = 0;

	memset(c, 0, sizeof(*c));
	if (expr == NULL || strlen(expr) > CRON_EXPR_MAX) {
		util_snprintf(err, errlen, "longer than %d characters", CRON_EXPR_MAX);
		return -1;
	}
	while (isspace((unsigned char)*expr))
		expr++;
	if (*expr == '@') {
		for (size_t i = 0; i < sizeof(shorthands) / sizeof(*shorthands); i++)
			if (strcasecmp(expr, shorthands[i].name) == 0)
				return cron_parse(shorthands[i].expr, c, err, errlen);
		util_snprintf(err, errlen, "unknown shorthand \"%.32s\" (@yearly @monthly @weekly @daily @hourly)",
		    expr);
		return -1;
	}
	memcpy(buf, expr, strlen(expr) + 1);
	for (char *p = buf; *p != '\0' && n < 6;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		tok[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	if (n != 5) {
		util_snprintf(err, errlen,
		    "expected 5 fields (minute hour day-of-month month day-of-week), got %s%d",
		    n > 5 ? "more than " : "", n > 5 ? 5 : n);
		return -1;
	}
	for (int i = 0; i < 5; i++)
		if (parse_field(&fields[i], tok[i], &bits[i], err, errlen) != 0)
			return -1;
	if (bits[4] & (1u << 7))
		bits[4] = (bits[4] | 1u) & 0x7f;	/* 7 is Sunday */
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_star = tok[2][0] == '*';
	c->dow_star = tok[4][0] == '*';
	return 0;
}

bool
cron_tz_valid(const char *tz)
{
	char        path[sizeof(ZONEINFO) + CRON_TZ_MAX], magic[4];
	struct stat st;
	const char *part = tz;
	FILE       *f;
	bool        ok;

	if (tz == NULL || tz[0] == '\0' || strlen(tz) > CRON_TZ_MAX || tz[strspn(tz,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/")] != '\0')
		return false;
	/* Parts: non-empty, not starting with '.' (no "." / "..": the charset
	 * already excludes dots) nor '-' (an option to nothing, but odd). */
	for (const char *p = tz;; p++)
		if (*p == '/' || *p == '\0') {
			if (p == part || *part == '-')
				return false;
			if (*p == '\0')
				break;
			part = p + 1;
		}
	if (util_snprintf(path, sizeof(path), "%s%s", ZONEINFO, tz) < 0 || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode) || (f = fopen(path, "rb")) == NULL)
		return false;
	ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok;
}

/* Local wall-clock time of instant i, as seconds counted like UTC. */
static int64_t
local_civil(time_t i)
{
	struct tm tm;

	localtime_r(&i, &tm);
	return (int64_t)i + tm.tm_gmtoff;
}

/*
 * The instant of local time t (seconds counted like UTC): its first
 * occurrence, or for a skipped time the first instant after the gap.
 */
static time_t
local_instant(int64_t t)
{
	static const int64_t probes[] = {-DAY, 0, DAY};
	int64_t best = INT64_MAX, lo = INT64_MAX, hi = INT64_MIN;

	for (size_t k = 0; k < sizeof(probes) / sizeof(*probes); k++) {
		int64_t i = t - (local_civil((time_t)(t + probes[k])) - (t + probes[k]));

		if (i < lo)
			lo = i;
		if (i > hi)
			hi = i;
		if (local_civil((time_t)i) == t && i < best)
			best = i;
	}
	if (best != INT64_MAX)
		return (time_t)best;
	/* In a gap: local time runs forward across [lo, hi]; the first
	 * instant whose local time is at or past t is the gap's end. */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (local_civil((time_t)mid) >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (time_t)lo;
}

static bool
day_matches(const struct cron *c, const struct tm *d)
{
	bool dom = c->dom & (1u << d->tm_mday), dow = c->dow & (1u << d->tm_wday);

	if (!(c->month & (1u << (d->tm_mon + 1))))
		return false;
	return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

static time_t
next_local(const struct cron *c, time_t after)
{
	int64_t now = local_civil(after), day0 = now - ((now % DAY) + DAY) % DAY - DAY;

	for (int d = 0; d < SEARCH_DAYS; d++) {
		time_t    ds = (time_t)(day0 + (int64_t)d * DAY);
		struct tm tm;

		gmtime_r(&ds, &tm);
		if (!day_matches(c, &tm))
			continue;
		for (int h = 0; h < 24; h++) {
			if (!(c->hour & (1u << h)) || ds + h * 3600 + 3599 < now - SHIFT_MAX)
				continue;
			for (int m = 0; m < 60; m++) {
				int64_t t = ds + h * 3600 + m * 60;
				time_t  i;

				if (!(c->minute & ((uint64_t)1 << m)) || t < now - SHIFT_MAX)
					continue;
				if ((i = local_instant(t)) > after)
					return i;
			}
		}
	}
	return (time_t)-1;
}

time_t
cron_next(const struct cron *c, const char *tz, time_t after)
{
	const char *old = getenv("TZ");
	char       *saved = NULL;
	time_t      r;

	if (!cron_tz_valid(tz) || (old != NULL && (saved = strdup(old)) == NULL))
		return (time_t)-1;
	setenv("TZ", tz, 1);
	tzset();	/* localtime_r reads TZ only through tzset */
	r = next_local(c, after);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return r;
}
