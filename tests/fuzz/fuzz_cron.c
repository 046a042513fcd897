/* fuzz_cron.c - cron expressions from API bodies (core/cron.c cron_parse,
 * then cron_next in UTC for what parsed).  Beyond the sanitizers, it checks
 * the contract: a failure leaves a non-empty message naming the fault; a
 * success has bits only within each field's range, and its next run is
 * strictly after the start (or none). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char        expr[CRON_EXPR_MAX + 2], err[160] = "";
	struct cron c;
	time_t      start = 1796000000, next;

	if (size > CRON_EXPR_MAX + 1)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	if (cron_parse(expr, &c, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if ((c.minute >> 60) != 0 || (c.hour >> 24) != 0 || (c.dom & 1) != 0 ||
	    (c.month & 1) != 0 || (c.month >> 13) != 0 || (c.dow >> 7) != 0)
		abort();
	next = cron_next(&c, "UTC", start);
	if (next != (time_t)-1 && next <= start)
		abort();
	return 0;
}
