/* fuzz_agent_wake.c - the agent's WebSocket frame reader (wake_parse): any
 * bytes from the network, whole or cut anywhere; what it consumes stays
 * within what it was given and a pong fits its 125 bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/wake.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char pong[125];
	int           wakes = 0, pong_len = -1;
	long          used = wake_parse(data, size, &wakes, pong, &pong_len);

	if (used < -1 || used > (long)size || pong_len < -1 || pong_len > 125 || wakes < 0 ||
	    (size_t)wakes * 6 > size)
		abort();
	/* The loop keeps the rest for the next read: parse it again after more
	 * bytes would arrive, i.e. the tail on its own must also be safe. */
	if (used > 0 && (size_t)used < size) {
		long more = wake_parse(data + used, size - (size_t)used, &wakes, pong, &pong_len);

		if (more < -1 || more > (long)(size - (size_t)used))
			abort();
	}
	return 0;
}
