/*
 * unit.h - the smallest table-driven test harness: CHECK records a result,
 * unit_done() prints "N passed, N failed" for this binary and its exit code.
 */
#ifndef LAUNCHER_UNIT_H
#define LAUNCHER_UNIT_H

#include <stdio.h>

static int unit_pass, unit_fail;

#define CHECK(cond, name) do { \
	if (cond) { unit_pass++; } \
	else { unit_fail++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, name); } \
} while (0)

static inline int
unit_done(const char *suite)
{
	printf("unit %s: %d passed, %d failed\n", suite, unit_pass, unit_fail);
	return unit_fail ? 1 : 0;
}

#endif
