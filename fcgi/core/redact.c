/*
 * redact.c - secret values out of text (rules and why in redact.h).
 */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

/* One thing to look for: a whole value, or one line of a value that spans
 * lines (matched only whole). */
struct pat {
	const char *s;
	size_t      len;
	bool        whole;
};

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

/* The values to look for (malloc'd; *np entries), or NULL when out of memory. */
static struct pat *
patterns(const char *const *vals, size_t n, size_t *np)
{
	size_t      m = 0, k = 0;
	struct pat *p;

	/* Each value once whole, and a value of k newlines once per line: at
	 * most k + 1 lines (every multi-line value has one more line than
	 * newlines; counting only the newlines overflowed with two of them). */
	for (size_t i = 0; i < n; i++)
		if (vals[i] != NULL && strchr(vals[i], '\n') != NULL) {
			m++;
			for (const char *nl = vals[i]; (nl = strchr(nl, '\n')) != NULL; nl++)
				m++;
		}
	if ((p = malloc((n + m + 1) * sizeof(*p))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = vals[i], *line;
		size_t      len = v ? strlen(v) : 0;

		if (len < REDACT_MIN_LEN)
			continue;
		p[k++] = (struct pat){v, len, true};
		if (strchr(v, '\n') == NULL)
			continue;
		for (line = v; *line; ) {
			size_t ll = strcspn(line, "\n"), end = ll;

			while (end > 0 && line[end - 1] == '\r')
				end--;
			if (end >= REDACT_MIN_PIECE && end < len)
				p[k++] = (struct pat){line, end, false};
			line += ll + (line[ll] == '\n');
		}
	}
	*np = k;
	return p;
}

/*
 * The longest match at p, 0 if none.  bol: p starts a line; cend: the end
 * of p's line (without "\r"), so the text from p to cend may end the line
 * with a prefix of a value.
 */
static size_t
match(const struct pat *pats, size_t np, const char *p, bool bol, const char *cend)
{
	size_t best = 0, rest = p < cend ? (size_t)(cend - p) : 0;

	for (size_t i = 0; i < np; i++) {
		const struct pat *t = &pats[i];

		if (t->s[0] == *p) {
			if (t->len > best && strncmp(p, t->s, t->len) == 0)
				best = t->len;
			else if (t->whole && rest >= REDACT_MIN_PIECE && rest < t->len && rest > best &&
			    memcmp(p, t->s, rest) == 0)
				best = rest;	/* the line ends with a prefix of the value */
		}
		if (bol && t->whole && t->len > REDACT_MIN_PIECE) {
			/* the line starts with a suffix s[j..len) of the value: the
			 * first j found is the longest suffix */
			size_t      j = t->len > rest ? t->len - rest : 1;
			const char *q;

			while (j + REDACT_MIN_PIECE <= t->len &&
			    (q = memchr(t->s + j, *p, t->len - REDACT_MIN_PIECE - j + 1)) != NULL) {
				j = (size_t)(q - t->s);
				if (memcmp(p, q, t->len - j) == 0) {
					if (t->len - j > best)
						best = t->len - j;
					break;
				}
				j++;
			}
		}
	}
	return best;
}

size_t
redact(const char *const *vals, size_t n, bool userinfo, const char *in, char *out,
    size_t outlen)
{
	const char *p = in, *lend = NULL, *cend = NULL;
	struct pat *pats;
	size_t      np = 0, o = 0;

	if ((pats = patterns(vals, n, &np)) == NULL) {
		put(out, outlen, &o, REDACTED, strlen(REDACTED));
		goto done;
	}
	while (*p) {
		bool   bol = p == in || p[-1] == '\n';
		size_t best;

		if (lend == NULL || p > lend) {	/* entered another line */
			lend = p + strcspn(p, "\n");
			for (cend = lend; cend > p && cend[-1] == '\r'; cend--)
				;
		}
		best = np ? match(pats, np, p, bol, cend) : 0;
		if (best == 0 && userinfo && strncmp(p, "://", 3) == 0 &&
		    (best = userinfo_len(p + 3)) > 0) {
			put(out, outlen, &o, "://", 3);
			p += 3;
		}
		if (best > 0) {
			put(out, outlen, &o, REDACTED, strlen(REDACTED));
			p += best;
		} else
			put(out, outlen, &o, p++, 1);
	}
	free(pats);
done:
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}
