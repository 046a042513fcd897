/* fuzz_envelope.c - error-tracking ingest bodies: the capped decoder
 * (gzip when the bytes start like gzip, deflate like zlib, else as they
 * are) and the envelope parser over what it yields. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/envelope.h"
#include "core/zbody.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	static int          init;
	struct envelope     env;
	const char         *enc = NULL;
	char               *out;
	size_t              len;

	if (!init) {
		arena_init(&a, 65536);
		init = 1;
	}
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		enc = "gzip";
	else if (size >= 1 && (data[0] & 0x0f) == 8)
		enc = "deflate";
	if (zbody_decode(&a, enc, (const char *)data, size, 65536, &out, &len) == ZBODY_OK) {
		if (len > 65536)
			__builtin_trap();	/* the ceiling holds */
		if (envelope_parse(&a, out, len, &env) == NULL)
			for (size_t i = 0; i < env.nitems; i++)
				if (env.items[i].payload < out ||
				    env.items[i].payload + env.items[i].len > out + len)
					__builtin_trap();	/* items lie inside the body */
	}
	arena_reset(&a);
	return 0;
}
