/* test_cron.c - cron expressions: parsing (lists, ranges, steps, names,
 * errors naming the field), time zone names, and cron_next across DST in
 * America/New_York and Europe/Berlin (2026: spring forward Mar 8 / Mar 29,
 * fall back Nov 1 / Oct 25). */
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "unit.h"

/* 2026-MM-DD hh:mm:00 UTC as time_t. */
static time_t
utc(int mon, int day, int h, int m)
{
	struct tm tm = {.tm_year = 126, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = h, .tm_min = m};

	return timegm(&tm);
}

static time_t
next(const char *expr, const char *tz, time_t after)
{
	struct cron c;
	char        err[128];

	if (cron_parse(expr, &c, err, sizeof(err)) != 0)
		return (time_t)-2;
	return cron_next(&c, tz, after);
}

/* The error of expr starts with prefix. */
static int
fails_with(const char *expr, const char *prefix)
{
	struct cron c;
	char        err[160] = "";

	if (cron_parse(expr, &c, err, sizeof(err)) == 0)
		return 0;
	if (strncmp(err, prefix, strlen(prefix)) != 0) {
		printf("  %s -> %s\n", expr, err);
		return 0;
	}
	return 1;
}

/*
 * Runs of expr in tz from `from` to `to`: strictly increasing, every gap
 * equal to step except `long_gaps` of twice it (the repeated hour).
 */
static int
series_ok(const char *expr, const char *tz, time_t from, time_t to, time_t step, int long_gaps)
{
	struct cron c;
	char        err[128];
	time_t      t = from, prev = 0;
	int         longs = 0, n = 0;

	if (cron_parse(expr, &c, err, sizeof(err)) != 0)
		return 0;
	while ((t = cron_next(&c, tz, t)) != (time_t)-1 && t <= to) {
		if (prev != 0) {
			if (t <= prev)
				return 0;
			if (t - prev == 2 * step)
				longs++;
			else if (t - prev != step) {
				printf("  %s %s: gap %lld at %lld\n", expr, tz, (long long)(t - prev), (long long)t);
				return 0;
			}
		}
		prev = t;
		n++;
	}
	return n > 10 && longs == long_gaps;
}

int
main(void)
{
	struct cron c;
	char        err[160];

	/* Parsing: bits. */
	CHECK(cron_parse("0 3 * * *", &c, err, sizeof(err)) == 0 && c.minute == 1 && c.hour == 1u << 3 &&
	    c.dom == 0xfffffffeu && c.month == 0x1ffe && c.dow == 0x7f && c.dom_star && c.dow_star, "daily");
	CHECK(cron_parse("*/15 1-5/2 1,15 jan-MAR mon-fri", &c, err, sizeof(err)) == 0 &&
	    c.minute == (1ull | 1ull << 15 | 1ull << 30 | 1ull << 45) &&
	    c.hour == (1u << 1 | 1u << 3 | 1u << 5) && c.dom == (1u << 1 | 1u << 15) &&
	    c.month == (1u << 1 | 1u << 2 | 1u << 3) && c.dow == 0x3e && !c.dom_star && !c.dow_star,
	    "lists, ranges, steps, names");
	CHECK(cron_parse("0 0 * * 7", &c, err, sizeof(err)) == 0 && c.dow == 1, "7 is Sunday");
	CHECK(cron_parse("0 0 * * 5-7", &c, err, sizeof(err)) == 0 && c.dow == (1 | 1 << 5 | 1 << 6),
	    "5-7 wraps Sunday");
	CHECK(cron_parse("10/20 * * * *", &c, err, sizeof(err)) == 0 &&
	    c.minute == (1ull << 10 | 1ull << 30 | 1ull << 50), "N/step");
	CHECK(cron_parse("  0\t12  * * sun ", &c, err, sizeof(err)) == 0 && c.dow == 1, "white space");
	CHECK(cron_parse("@daily", &c, err, sizeof(err)) == 0 && c.minute == 1 && c.hour == 1, "@daily");
	CHECK(cron_parse("@hourly", &c, err, sizeof(err)) == 0 && c.hour == 0xffffff, "@hourly");

	/* Errors name the field. */
	CHECK(fails_with("60 * * * *", "minute: 60 is out of range 0-59"), "minute range");
	CHECK(fails_with("0 24 * * *", "hour: 24 is out of range 0-23"), "hour range");
	CHECK(fails_with("0 0 0 * *", "day of month: 0 is out of range 1-31"), "dom range");
	CHECK(fails_with("0 0 * 13 *", "month: 13 is out of range 1-12"), "month range");
	CHECK(fails_with("0 0 * * 8", "day of week: 8 is out of range 0-7"), "dow range");
	CHECK(fails_with("0 0 * foo *", "month: \"foo\" is not a number or a name"), "month name");
	CHECK(fails_with("0 0 * * mon-xyz", "day of week:"), "dow name");
	CHECK(fails_with("mon * * * *", "minute: \"mon\" is not a number"), "name in minute");
	CHECK(fails_with("5-1 * * * *", "minute: range 5-1 runs backwards"), "backwards");
	CHECK(fails_with("*/0 * * * *", "minute: step"), "step 0");
	CHECK(fails_with("* */x * * *", "hour: step"), "step not a number");
	CHECK(fails_with("1,,2 * * * *", "minute: "), "empty list item");
	CHECK(fails_with("1, * * * *", "minute: "), "trailing comma");
	CHECK(fails_with("0 3 * *", "expected 5 fields"), "4 fields");
	CHECK(fails_with("0 3 * * * *", "expected 5 fields"), "6 fields");
	CHECK(fails_with("", "expected 5 fields"), "empty");
	CHECK(fails_with("@often", "unknown shorthand"), "shorthand");
	CHECK(fails_with("1x * * * *", "minute: unexpected"), "trailing junk");
	CHECK(fails_with("99999999999999999999 * * * *", "minute: "), "overflow");

	/* Time zones. */
	CHECK(cron_tz_valid("UTC") && cron_tz_valid("America/New_York") && cron_tz_valid("Europe/Berlin") &&
	    cron_tz_valid("Etc/GMT+5"), "valid zones");
	CHECK(!cron_tz_valid("Mars/Olympus") && !cron_tz_valid("") && !cron_tz_valid(NULL) &&
	    !cron_tz_valid("../../etc/passwd") && !cron_tz_valid("/etc/passwd") &&
	    !cron_tz_valid("America") && !cron_tz_valid("America/") && !cron_tz_valid("zone.tab") &&
	    !cron_tz_valid("America//New_York") && !cron_tz_valid("UTC "), "invalid zones");

	/* Plain runs. */
	CHECK(next("0 3 * * *", "UTC", utc(12, 6, 1, 0)) == utc(12, 6, 3, 0), "today");
	CHECK(next("0 3 * * *", "UTC", utc(12, 6, 3, 0)) == utc(12, 7, 3, 0), "strictly after");
	CHECK(next("* * * * *", "UTC", utc(12, 6, 1, 0) + 30) == utc(12, 6, 1, 1), "next minute");
	CHECK(next("0 0 1 1 *", "UTC", utc(12, 6, 1, 0)) == timegm(&(struct tm){.tm_year = 127, .tm_mday = 1}),
	    "next year");
	CHECK(next("0 0 29 2 *", "UTC", utc(3, 1, 0, 0)) == timegm(&(struct tm){.tm_year = 128, .tm_mon = 1,
	    .tm_mday = 29}), "leap day");
	CHECK(next("0 0 30 2 *", "UTC", utc(3, 1, 0, 0)) == (time_t)-1, "never");
	CHECK(next("0 0 * * *", "Mars/Olympus", utc(3, 1, 0, 0)) == (time_t)-1, "bad zone");
	CHECK(next("0 9 * * *", "Europe/Berlin", utc(12, 6, 0, 0)) == utc(12, 6, 8, 0), "Berlin winter");
	CHECK(next("0 9 * * *", "Europe/Berlin", utc(7, 6, 0, 0)) == utc(7, 6, 7, 0), "Berlin summer");
	/* Day rule: 13th OR Friday (2026-12-11 is a Friday); with a star both. */
	CHECK(next("0 0 13 * 5", "UTC", utc(12, 6, 0, 0)) == utc(12, 11, 0, 0), "dom or dow: Friday first");
	CHECK(next("0 0 13 * 5", "UTC", utc(12, 11, 0, 0)) == utc(12, 13, 0, 0), "dom or dow: then 13th");
	CHECK(next("0 0 */2 * 1", "UTC", utc(12, 6, 0, 0)) == utc(12, 7, 0, 0), "star dom: and (7th Mon)");
	CHECK(next("0 0 */2 * 1", "UTC", utc(12, 7, 0, 0)) == utc(12, 21, 0, 0), "star dom: and (21st Mon)");

	/* Spring forward: 02:30 does not exist that day; it runs once, at
	 * the end of the gap (03:00 local), and the days around are normal. */
	CHECK(next("30 2 * * *", "America/New_York", utc(3, 7, 0, 0)) == utc(3, 7, 7, 30), "NY day before");
	CHECK(next("30 2 * * *", "America/New_York", utc(3, 7, 7, 30)) == utc(3, 8, 7, 0), "NY gap: 03:00 EDT");
	CHECK(next("30 2 * * *", "America/New_York", utc(3, 8, 7, 0)) == utc(3, 9, 6, 30), "NY day after");
	CHECK(next("30 2 * * *", "Europe/Berlin", utc(3, 28, 1, 30)) == utc(3, 29, 1, 0), "Berlin gap: 03:00 CEST");
	CHECK(next("30 2 * * *", "Europe/Berlin", utc(3, 29, 1, 0)) == utc(3, 30, 0, 30), "Berlin day after");
	/* Fall back: 01:30 (NY) / 02:30 (Berlin) happen twice; the first runs. */
	CHECK(next("30 1 * * *", "America/New_York", utc(10, 31, 6, 0)) == utc(11, 1, 5, 30), "NY first 01:30");
	CHECK(next("30 1 * * *", "America/New_York", utc(11, 1, 5, 30)) == utc(11, 2, 6, 30), "NY not the second");
	CHECK(next("30 2 * * *", "Europe/Berlin", utc(10, 24, 1, 0)) == utc(10, 25, 0, 30), "Berlin first 02:30");
	CHECK(next("30 2 * * *", "Europe/Berlin", utc(10, 25, 0, 30)) == utc(10, 26, 1, 30), "Berlin not the second");
	/* From inside the repeated hour (second pass), the next is after it. */
	CHECK(next("45 1 * * *", "America/New_York", utc(11, 1, 6, 10)) == utc(11, 2, 6, 45), "NY inside repeat");
	CHECK(next("0 2 * * *", "America/New_York", utc(11, 1, 6, 10)) == utc(11, 1, 7, 0), "NY after repeat");

	/* Hourly and quarter-hourly across both transitions: strictly
	 * increasing, one step apart except one double step (the repeated
	 * hour runs once); the skipped hour's runs collapse into 03:00. */
	CHECK(series_ok("0 * * * *", "America/New_York", utc(3, 7, 0, 0), utc(3, 10, 0, 0), 3600, 0), "NY hourly spring");
	CHECK(series_ok("0 * * * *", "America/New_York", utc(10, 31, 0, 0), utc(11, 3, 0, 0), 3600, 1), "NY hourly fall");
	CHECK(series_ok("0 * * * *", "Europe/Berlin", utc(3, 28, 0, 0), utc(3, 31, 0, 0), 3600, 0), "Berlin hourly spring");
	CHECK(series_ok("0 * * * *", "Europe/Berlin", utc(10, 24, 0, 0), utc(10, 27, 0, 0), 3600, 1), "Berlin hourly fall");
	CHECK(series_ok("*/15 * * * *", "Europe/Berlin", utc(3, 28, 0, 0), utc(3, 31, 0, 0), 900, 0), "Berlin 15 min spring");
	/* Quarter-hourly on a fall-back day: the repeated hour is skipped
	 * whole, one gap of 1 h 15 min (not a multiple of the step). */
	{
		time_t t = utc(10, 25, 0, 30), a = next("*/15 * * * *", "Europe/Berlin", t);

		CHECK(a == utc(10, 25, 0, 45) && next("*/15 * * * *", "Europe/Berlin", a) == utc(10, 25, 2, 0),
		    "Berlin 15 min fall: repeated hour once");
	}
	/* The hourly series on NY's spring day has 23 runs. */
	{
		time_t t = utc(3, 8, 5, 0) - 1;	/* 23:59:59 EST the day before */
		int    n = 0;

		while ((t = next("0 * * * *", "America/New_York", t)) > 0 && t < utc(3, 9, 4, 0) && n < 100)
			n++;
		CHECK(n == 23, "NY spring day: 23 hourly runs");
	}

	/* TZ is restored. */
	setenv("TZ", "Asia/Tokyo", 1);
	(void)next("0 0 * * *", "UTC", utc(1, 1, 0, 0));
	CHECK(getenv("TZ") && strcmp(getenv("TZ"), "Asia/Tokyo") == 0, "TZ restored");
	unsetenv("TZ");
	(void)next("0 0 * * *", "UTC", utc(1, 1, 0, 0));
	CHECK(getenv("TZ") == NULL, "TZ unset again");
	return unit_done("cron");
}
