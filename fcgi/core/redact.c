/*
 * redact.c - secret values out of text (see redact.h).
 */
#include "redact.h"

#include <string.h>

/* Length of a URL userinfo starting at p (just after "://"), 0 = none. */
static size_t
userinfo_len(const char *p)
{
	size_t n = strcspn(p, "/?#@ \t\"'<>");

	return p[n] == '@' && n > 0 ? n : 0;
}

/* Appends n bytes of s at *o, as far as out has room; *o counts them all. */
static void
put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
	if (*o + 1 < outlen)
		memcpy(out + *o, s, *o + n + 1 <= outlen ? n : outlen - 1 - *o);
	*o += n;
}

size_t
redact(const char *const *vals, size_t n, bool userinfo, const char *in, char *out,
    size_t outlen)
{
	size_t o = 0;

	while (*in) {
		size_t best = 0;

		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(vals[i]);

			if (len > best && strncmp(in, vals[i], len) == 0)
				best = len;
		}
		if (best == 0 && userinfo && strncmp(in, "://", 3) == 0 &&
		    (best = userinfo_len(in + 3)) > 0) {
			put(out, outlen, &o, "://", 3);
			in += 3;
		}
		if (best > 0) {
			put(out, outlen, &o, REDACTED, strlen(REDACTED));
			in += best;
		} else
			put(out, outlen, &o, in++, 1);
	}
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}
