/*
 * envelope.c - the Sentry envelope parser (envelope.h).
 */
#include "envelope.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* One line of JSON, an object, parsed into a (freed at reset). */
static const cJSON *
json_line(struct arena *a, const char *s, size_t n)
{
	const char *end = NULL;
	cJSON      *j;

	if (n == 0 || memchr(s, '\0', n) != NULL)
		return NULL;
	if ((j = cJSON_ParseWithLengthOpts(s, n, &end, 0)) == NULL)
		return NULL;
	arena_defer(a, (arena_cleanup_fn)cJSON_Delete, j);
	/* Nothing but blanks after the object on its line. */
	while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	return cJSON_IsObject(j) && end == s + n ? j : NULL;
}

/* The line at *pos (without its \n); *pos moves past the \n or to the end. */
static size_t
line(const char *buf, size_t len, size_t *pos)
{
	const char *nl = memchr(buf + *pos, '\n', len - *pos);
	size_t      n = nl ? (size_t)(nl - (buf + *pos)) : len - *pos;

	*pos += n + (nl ? 1 : 0);
	return n;
}

const char *
envelope_parse(struct arena *a, const char *buf, size_t len, struct envelope *env)
{
	size_t pos = 0, start, n;

	memset(env, 0, sizeof(*env));
	start = pos;
	n = line(buf, len, &pos);
	if ((env->header = json_line(a, buf + start, n)) == NULL)
		return "the envelope header is not a JSON object";
	for (;;) {
		struct envelope_item *it;
		const cJSON          *h, *type, *length;

		/* The end, or a trailing newline. */
		while (pos < len && buf[pos] == '\n')
			pos++;
		if (pos >= len)
			return NULL;
		if (env->nitems == ENVELOPE_MAX_ITEMS)
			return "too many items in the envelope";
		start = pos;
		n = line(buf, len, &pos);
		if ((h = json_line(a, buf + start, n)) == NULL)
			return "an item header is not a JSON object";
		type = cJSON_GetObjectItemCaseSensitive(h, "type");
		if (!cJSON_IsString(type) || type->valuestring[0] == '\0')
			return "an item header has no type";
		it = &env->items[env->nitems++];
		it->type = type->valuestring;
		it->header = h;
		length = cJSON_GetObjectItemCaseSensitive(h, "length");
		if (length != NULL && !cJSON_IsNull(length)) {
			double d = cJSON_IsNumber(length) ? length->valuedouble : -1;

			if (d < 0 || d != floor(d) || d > (double)(len - pos))
				return "an item's length is not a whole number within the envelope";
			it->payload = buf + pos;
			it->len = (size_t)d;
			pos += it->len;
			if (pos < len && buf[pos] != '\n')
				return "an item's payload is longer than its length";
			if (pos < len)
				pos++;
		} else {
			/* Newline-delimited: up to the next \n or the end. */
			start = pos;
			it->len = line(buf, len, &pos);
			it->payload = buf + start;
		}
	}
}

int
envelope_event_id(const char *s, char out[33])
{
	char   id[33];
	size_t n = 0;

	if (s == NULL)
		return 0;
	/* Decoded aside: a bad id leaves out as it was. */
	for (const char *p = s; *p; p++) {
		if (*p == '-' && (p - s == 8 || p - s == 13 || p - s == 18 || p - s == 23) &&
		    strlen(s) == 36)
			continue;
		if (!isxdigit((unsigned char)*p) || n == 32)
			return 0;
		id[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 32)
		return 0;
	id[n] = '\0';
	memcpy(out, id, sizeof(id));
	return 1;
}

void
envelope_take_event_id(const cJSON *obj, char out[33])
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "event_id");

	if (out[0] == '\0' && cJSON_IsString(id))
		(void)envelope_event_id(id->valuestring, out);
}

int
envelope_key_valid(const char *s, char out[33])
{
	if (s == NULL || strlen(s) != 32)
		return 0;
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	memcpy(out, s, 33);
	return 1;
}

int
envelope_auth_key(const char *h, char out[33])
{
	static const char name[] = "sentry_key=";

	if (h == NULL || strncasecmp(h, "Sentry", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return 0;
	for (const char *p = h + 6; *p;) {
		const char *end;
		size_t      n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == sizeof(name) - 1 + 32 && strncmp(p, name, sizeof(name) - 1) == 0) {
			char key[33];

			memcpy(key, p + sizeof(name) - 1, 32);
			key[32] = '\0';
			return envelope_key_valid(key, out);
		}
		p = end;
	}
	return 0;
}
