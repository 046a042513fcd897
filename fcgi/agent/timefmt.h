/*
 * timefmt.h - the agent's clocks: a monotonic clock for timers and back-off,
 * and RFC 3339 for what crosses the wire.
 */
#ifndef LAUNCHER_AGENT_TIMEFMT_H
#define LAUNCHER_AGENT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (timers; never goes back). */
int64_t timefmt_mono_ms(void);
/* Sleeps ms milliseconds (through signals). */
void    timefmt_sleep_ms(int64_t ms);
/* Wall-clock seconds since the epoch, with sub-second precision. */
double  timefmt_wall(void);
/* epoch seconds as "YYYY-MM-DDTHH:MM:SS.mmmZ"; returns 0 or -1. */
int     timefmt_rfc3339(char *out, size_t outlen, double epoch);
/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a 't' or ' '
 * separator and a lowercase 'z' are accepted too) into epoch seconds.
 * Returns 0, or -1 on anything else.
 */
int     timefmt_parse_rfc3339(const char *s, double *epoch);
/*
 * The one RFC 3339 reader: the stamp above at the start of s (n bytes, no
 * NUL needed; a '.' needs a digit after it, offsets are at most 23:59).
 * Returns the bytes it took with the instant in *sec and *nsec (digits past
 * the nanosecond are dropped), or 0 when s does not start with one.
 */
size_t  timefmt_scan_rfc3339(const char *s, size_t n, int64_t *sec, int32_t *nsec);

#endif
