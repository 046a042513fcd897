/*
 * zbody.c - Content-Encoding decoding with a ceiling (zbody.h), on zlib.
 */
#include "zbody.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "buf.h"

/* Output produced per inflate() call: small enough that overshooting the
 * ceiling by one chunk is harmless, large enough for few calls. */
#define ZBODY_CHUNK 65536

/* zlib's windowBits: 15 + 16 gzip only, 15 zlib only, -15 raw deflate. */
static enum zbody_result
inflate_capped(struct arena *a, int window, const char *in, size_t inlen, size_t max,
    struct buf *out)
{
	z_stream          z;
	enum zbody_result res = ZBODY_BAD;
	int               rc;

	memset(&z, 0, sizeof(z));
	if (inlen > UINT_MAX || inflateInit2(&z, window) != Z_OK)
		return ZBODY_BAD;
	/* The buffer holds max + 1 bytes and the NUL: one byte past the
	 * ceiling is how "too large" shows. */
	buf_init(out, a, inlen < max / 4 ? inlen * 4 + 64 : max + 2, max + 2);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)inlen;
	for (;;) {
		/* One byte more than the ceiling allows tells "too large". */
		size_t room = max + 1 - out->len;
		char  *p;

		if (room > ZBODY_CHUNK)
			room = ZBODY_CHUNK;
		if ((p = buf_reserve(out, room)) == NULL) {
			res = ZBODY_TOO_LARGE;
			break;
		}
		z.next_out = (Bytef *)p;
		z.avail_out = (uInt)room;
		rc = inflate(&z, Z_NO_FLUSH);
		buf_commit(out, p + (room - z.avail_out));
		if (out->len > max) {
			res = ZBODY_TOO_LARGE;
			break;
		}
		if (rc == Z_STREAM_END) {
			res = z.avail_in == 0 ? ZBODY_OK : ZBODY_BAD;
			break;
		}
		/* Z_BUF_ERROR with output room left: the input ended early. */
		if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
			res = ZBODY_BAD;
			break;
		}
	}
	inflateEnd(&z);
	return res;
}

enum zbody_result
zbody_decode(struct arena *a, const char *encoding, const char *in, size_t inlen, size_t max,
    char **out, size_t *outlen)
{
	struct buf        b;
	enum zbody_result res;

	if (encoding == NULL || *encoding == '\0' || strcasecmp(encoding, "identity") == 0) {
		if (inlen > max)
			return ZBODY_TOO_LARGE;
		*out = arena_strndup(a, in, inlen);
		*outlen = inlen;
		return ZBODY_OK;
	}
	if (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0)
		res = inflate_capped(a, 15 + 16, in, inlen, max, &b);
	else if (strcasecmp(encoding, "deflate") == 0) {
		/* A zlib stream starts with CMF/FLG whose 16-bit value is a
		 * multiple of 31 (RFC 1950); anything else is taken as raw. */
		int zlib_hdr = inlen >= 2 && ((unsigned char)in[0] & 0x0f) == 8 &&
		    (((unsigned char)in[0] << 8) | (unsigned char)in[1]) % 31 == 0;

		res = inflate_capped(a, zlib_hdr ? 15 : -15, in, inlen, max, &b);
	} else
		return ZBODY_UNSUPPORTED;
	if (res == ZBODY_OK) {
		*out = b.data;
		*outlen = b.len;
	}
	return res;
}
