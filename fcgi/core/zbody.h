/*
 * zbody.h - a request body decoded by its Content-Encoding (gzip, deflate
 * or none) with a hard ceiling on the decoded size.
 *
 * zlib inflates in fixed chunks into a growable arena buffer (buf.h) that
 * never exceeds the ceiling: a decompression bomb stops after max bytes of
 * output, whatever it would expand to, so it costs at most max bytes of
 * memory and the time to produce them.
 */
#ifndef LAUNCHER_ZBODY_H
#define LAUNCHER_ZBODY_H

#include <stddef.h>

#include "arena.h"

enum zbody_result {
	ZBODY_OK,
	ZBODY_TOO_LARGE,	/* more than max bytes once decoded (413) */
	ZBODY_BAD,		/* not a valid stream of its encoding (400) */
	ZBODY_UNSUPPORTED,	/* an encoding other than these (415) */
};

/*
 * Decodes in[0..inlen) as encoding says: NULL, "" or "identity" (the bytes
 * themselves), "gzip" / "x-gzip" (RFC 1952), "deflate" (RFC 1950 zlib
 * stream as HTTP defines it, or a raw RFC 1951 stream as some clients send
 * it); case-insensitive.  Trailing bytes after a complete stream are BAD.
 * On ZBODY_OK, *out (NUL-terminated, in a) and *outlen hold the result; at
 * most max bytes, never more memory than max + one chunk.
 */
enum zbody_result zbody_decode(struct arena *a, const char *encoding, const char *in,
    size_t inlen, size_t max, char **out, size_t *outlen);

#endif
