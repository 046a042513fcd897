/* fuzz_agent_term.c - what a terminal session's process reads from
 * launcher-ws: frames (wake_frame, any bytes, cut anywhere, any maximum)
 * and a client's text message (term_parse_resize): payloads stay inside
 * the input, sizes in their range. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/term.h"
#include "agent/wake.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p;
	size_t               used = 0, plen, max = size > 0 ? 16 + data[0] * 16u : WAKE_BUF;
	unsigned             op;
	int                  cols, rows;

	for (;;) {
		long n = wake_frame(data + used, size - used, max, &op, &p, &plen);

		if (n < -1 || n > (long)(size - used))
			abort();
		if (n <= 0)
			break;
		if (p < data + used || p + plen > data + used + (size_t)n || op > 15)
			abort();
		if (term_parse_resize((const char *)p, plen, &cols, &rows) == 0 &&
		    (cols < 1 || cols > 1000 || rows < 1 || rows > 1000))
			abort();
		used += (size_t)n;
	}
	if (term_parse_resize((const char *)data, size, &cols, &rows) == 0 &&
	    (cols < 1 || cols > 1000 || rows < 1 || rows > 1000))
		abort();
	return 0;
}
