/*
 * text.c - UTF-8 repair, bounded cuts and the shared value checks (see text.h).
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t
text_truncate(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	/* Step back over continuation bytes to the start of the cut character. */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
	return n;
}

bool
text_word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || strchr(extra, s[i]) != NULL))
			return false;
	return true;
}

bool
text_name_ok(const char *s, size_t max)
{
	return text_word_ok(s, max, "_.-") && s[0] != '_' && s[0] != '.' && s[0] != '-';
}

int
text_json_i64(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min) ||
	    !(v->valuedouble <= (double)max) ||
	    (double)(int64_t)v->valuedouble != v->valuedouble)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int
text_put(char *out, size_t outlen, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int     n;

	if (*len >= outlen)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(out + *len, outlen - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}
