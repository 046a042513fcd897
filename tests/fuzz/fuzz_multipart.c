/* fuzz_multipart.c - multipart/form-data bodies (uploads). */
#include <stdint.h>

#include "core/multipart.h"
#include "harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char       *env[] = {"REQUEST_METHOD=POST",
	    "CONTENT_TYPE=multipart/form-data; boundary=XyZ", NULL};
	struct req  r;
	const char *part;
	size_t      len;

	fuzz_req(&r, env);
	fuzz_body(&r, data, size);
	if (multipart_file(&r, "icon", &part, &len) == ERR_OK &&
	    (part < r.body || part + len > r.body + r.body_len))
		__builtin_trap();	/* a part must lie inside the body */
	return 0;
}
