/* fuzz_agent_plane.c - the agent's reading of the plane's answers
 * (plane_read_answer): any status and any body, as a proxy, a captive
 * portal or a hostile plane could send. The first two bytes are the
 * status (0..1023), the rest the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/plane.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct plane_answer  ans;
	enum plane_rc        rc;
	long                 status;

	if (size < 2)
		return 0;
	if (a == NULL) {
		a = calloc(1, sizeof(*a));
		arena_init(a, 4096);
	}
	arena_reset(a);
	status = ((long)data[0] << 8 | data[1]) & 0x3ff;
	rc = plane_read_answer(a, status, (const char *)data + 2, size - 2, &ans);
	if (rc > PLANE_REJECTED || ans.status != status ||
	    memchr(ans.msg, '\0', sizeof(ans.msg)) == NULL ||
	    (rc != PLANE_OK && ans.data != NULL))
		abort();
	return 0;
}
