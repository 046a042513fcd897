/*
 * multipart.c - multipart/form-data: boundary from Content-Type, parts
 * split on "--boundary", headers up to the blank line (see multipart.h).
 */
#include "multipart.h"

#include <string.h>
#include <strings.h>

#include "json.h"
#include "util.h"

static const char *
memmem_s(const char *hay, size_t hl, const char *needle, size_t nl)
{
	if (nl == 0 || hl < nl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0)
			return hay + i;
	return NULL;
}

static enum err
bad(struct req *r, const char *field, const char *msg)
{
	return http_field_error(r, "invalid upload", field, msg);
}

enum err
multipart_file(struct req *r, const char *field, const char **data, size_t *len)
{
	const char *ct = http_env(r, "CONTENT_TYPE"), *b, *p, *end;
	char        delim[80], want[96];
	size_t      bl;
	enum err    e;

	if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return http_error(r, ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be multipart/form-data");
	if ((b = strstr(ct, "boundary=")) == NULL)
		return bad(r, field, "multipart body without a boundary");
	b += 9;
	if (*b == '"')
		b++;
	bl = strcspn(b, "\";");
	if (bl == 0 || bl > 70)
		return bad(r, field, "multipart boundary must be 1 to 70 characters");
	if ((e = http_body(r)) != ERR_OK)
		return e;
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, b, bl);
	delim[bl + 2] = '\0';
	bl += 2;
	if (util_snprintf(want, sizeof(want), "name=\"%s\"", field) < 0)
		return ERR_INTERNAL;
	end = r->body + r->body_len;
	p = memmem_s(r->body, r->body_len, delim, bl);
	while (p != NULL) {
		const char *hdr = p + bl, *hend, *next;

		if (end - hdr >= 2 && hdr[0] == '-' && hdr[1] == '-')
			break;	/* closing delimiter */
		if (end - hdr < 2 || hdr[0] != '\r' || hdr[1] != '\n')
			return bad(r, field, "malformed multipart body");
		hdr += 2;
		if ((hend = memmem_s(hdr, (size_t)(end - hdr), "\r\n\r\n", 4)) == NULL)
			return bad(r, field, "malformed multipart body");
		/* The part's content runs to CRLF + the next delimiter. */
		next = memmem_s(hend + 4, (size_t)(end - hend - 4), delim, bl);
		if (next == NULL || next - 2 < hend + 4 || next[-2] != '\r' || next[-1] != '\n')
			return bad(r, field, "malformed multipart body");
		if (memmem_s(hdr, (size_t)(hend - hdr), want, strlen(want)) != NULL) {
			*data = hend + 4;
			*len = (size_t)(next - 2 - (hend + 4));
			return ERR_OK;
		}
		p = next;
	}
	return bad(r, field, "is required (a multipart part with this name)");
}
