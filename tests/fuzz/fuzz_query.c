/* fuzz_query.c - query string parsing and ?limit= / ?cursor= validation. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/list.h"
#include "harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char      qs[8192 + 16];
	char            *env[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/t/api/v1/projects", qs, NULL};
	struct req       r;
	struct list_page p;

	if (size > 8192)
		return 0;
	memcpy(qs, "QUERY_STRING=", 13);
	memcpy(qs + 13, data, size);
	qs[13 + size] = '\0';
	fuzz_req(&r, env);
	if (http_req_init(&r) == ERR_OK && !r.responded)
		(void)list_begin(&r, &p);
	return 0;
}
