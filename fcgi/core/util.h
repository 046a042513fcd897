/*
 * util.h - small checked helpers: numbers, UUIDs, slugs, e-mail shape,
 * bounded string building.  No allocation unless an arena is passed.
 */
#ifndef LAUNCHER_UTIL_H
#define LAUNCHER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a whole decimal string into [min,max]; returns 0 or -1. */
int  util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Canonical 8-4-4-4-12 hex UUID (either case). */
bool util_is_uuid(const char *s);
/* An env key or variable name: [A-Za-z_][A-Za-z0-9_]*, 1 to 255 bytes (the
 * one check of the env store, templates and compose files). */
bool util_env_name_ok(const char *k);
/* As root: become user (and its groups); nothing when user is "" or not root. */
int  util_drop_privileges(const char *user);
/* A unix socket's group ("" = unchanged) and mode; 0 or -1 (logged). */
int  util_socket_access(const char *path, const char *group, int64_t mode);
/* [a-z0-9-]{1,63}, not starting or ending with '-', and not a UUID. */
bool util_is_slug(const char *s);
/* A practical e-mail shape check: local@domain.tld, <= 254 bytes. */
bool util_is_email(const char *s);
/* snprintf that returns -1 on truncation or error (the only sanctioned way). */
int  util_snprintf(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The non-empty string member k of JSON object o (NULL or a non-object o: NULL). */
struct cJSON;
const char *util_json_str(const struct cJSON *o, const char *k);
/* Lower-hex of n bytes into out (2n+1 bytes). */
void util_hex(char *out, const unsigned char *in, size_t n);
/*
 * The one percent-encoder: s (n bytes) into out (outlen bytes, NUL
 * included), RFC 3986's unreserved characters [A-Za-z0-9-._~] and those of
 * keep (NULL: none) as they are, every other byte as %XX (upper case hex,
 * as SigV4 and URLs want).  The length written, or -1 when out is too small
 * (3 * n + 1 always fits).
 */
long util_pct_encode(char *out, size_t outlen, const char *s, size_t n, const char *keep);
/* Strips leading and trailing white space in place; returns the start. */
char *util_trim(char *s);
/* Case-insensitive ASCII comparison. */
bool util_ieq(const char *a, const char *b);
/*
 * Splits "scheme://user:token@host/..." into the URL without the
 * credential (out) and the credential (cred, "" when none); the last '@'
 * of the authority ends it.  The plane seals what it splits off; the agent
 * hands it to git through GIT_ASKPASS.  0 or -1.
 */
int  util_url_split_cred(const char *url, char *out, size_t outlen, char *cred, size_t credlen);
/*
 * In place: each byte of an invalid UTF-8 sequence becomes '?', control
 * characters (and DEL) become ' ' except tab, and NUL ends the string.
 * Newlines become ' ' too unless keep_newlines.  What makes untrusted
 * bytes (command output) safe for a JSON string PostgreSQL will store.
 */
void util_sanitize(char *s, int keep_newlines);
/*
 * The whole file (at most max bytes) into a malloc'ed NUL-terminated
 * buffer (*out, caller frees; *len its length when len is not NULL).
 * Absent: 0 with *out NULL.  -1 (errno; EFBIG when larger than max).
 */
int  util_read_file(const char *path, size_t max, char **out, size_t *len);
/*
 * Replaces path with n bytes of data atomically: path.tmp created with mode
 * (umask aside), written, fsync'ed, renamed over path.  0 or -1 (errno).
 */
int  util_write_atomic(const char *path, const char *data, size_t n, unsigned mode);

#endif
