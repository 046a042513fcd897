/*
 * cron.h - five-field cron expressions with a time zone: the one parser
 * and clock of backup schedules (the schedules API validates with it,
 * launcher-backup computes next_run_at with it).
 *
 * Syntax (Vixie cron): "minute hour day-of-month month day-of-week",
 * each field a comma list of "*", "N", "N-M", any of them with "/STEP"
 * ("N/STEP" = N to the field's maximum); month names jan-dec and day
 * names sun-sat (any case); day of week 0-7 where 7 is Sunday like 0.
 * The shorthands @yearly @annually @monthly @weekly @daily @midnight
 * @hourly stand for their five fields.
 *
 * Day rule of Vixie cron: when both day of month and day of week are
 * restricted (neither field starts with "*"), a day matches when EITHER
 * matches; otherwise both must.
 */
#ifndef LAUNCHER_CRON_H
#define LAUNCHER_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest expression and time zone name accepted. */
#define CRON_EXPR_MAX 256
#define CRON_TZ_MAX 128

struct cron {
	uint64_t minute;	/* bit m: minute m (0-59) */
	uint32_t hour;		/* bit h: 0-23 */
	uint32_t dom;		/* bit d: 1-31 */
	uint16_t month;		/* bit m: 1-12 */
	uint8_t  dow;		/* bit d: 0-6, Sunday 0 */
	bool     dom_star;	/* the field started with '*' (day rule above) */
	bool     dow_star;
};

/*
 * Parses expr into *c.  0, or -1 with err naming the field and the fault
 * ("hour: 24 is out of range 0-23", "expected 5 fields ... got 4"); *c is
 * then unspecified.
 */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);

/*
 * Whether tz names an IANA zone: a relative name of [A-Za-z0-9_+-] parts
 * separated by '/', no "." or ".." part, whose file under
 * /usr/share/zoneinfo is a TZif file.
 */
bool cron_tz_valid(const char *tz);

/*
 * The first run of c in zone tz strictly after `after`, or (time_t)-1
 * when none within 8 years (e.g. "0 0 30 2 *") or tz is not valid.
 * A local time the zone skips (spring forward) runs once, at the first
 * instant after the gap; a local time it repeats (fall back) runs once,
 * at its first occurrence.  The result is strictly increasing in `after`'s
 * successive results: feeding each result back never repeats an instant.
 * Switches TZ for the call and restores it (single-threaded processes).
 */
time_t cron_next(const struct cron *c, const char *tz, time_t after);

#endif
