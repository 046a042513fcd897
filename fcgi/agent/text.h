/*
 * text.h - bounded cuts of untrusted text on a character boundary (the
 * UTF-8 repair itself is util_sanitize, core/util.h); and the checks of
 * untrusted values (ids, names, JSON integers) that every reader shares.
 */
#ifndef LAUNCHER_AGENT_TEXT_H
#define LAUNCHER_AGENT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Cuts s to at most max bytes without splitting a UTF-8 character; returns the new length. */
size_t text_truncate(char *s, size_t max);
/*
 * s is 1..max bytes of ASCII letters, digits and bytes of extra: what may go
 * into a label, a file name, a URL path or a query word unescaped.
 */
bool   text_word_ok(const char *s, size_t max, const char *extra);
/* A name: text_word_ok(s, max, "_.-") and starting with a letter or digit. */
bool   text_name_ok(const char *s, size_t max);
/*
 * v is a JSON number with an integral value in [min,max]: 0 with it in *out,
 * else -1 (*out untouched).  The range check comes before the cast, which
 * it makes defined (NaN fails it).
 */
int    text_json_i64(const cJSON *v, int64_t min, int64_t max, int64_t *out);
/* Appends printf-style to out (outlen) at *len; -1 once it does not fit. */
int    text_put(char *out, size_t outlen, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
