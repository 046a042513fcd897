/*
 * text.h - making untrusted bytes (command output, progress lines) safe to
 * put in a JSON string that PostgreSQL will store: valid UTF-8, no control
 * characters, bounded length cut on a character boundary.
 */
#ifndef LAUNCHER_AGENT_TEXT_H
#define LAUNCHER_AGENT_TEXT_H

#include <stddef.h>

/*
 * In place: each byte of an invalid UTF-8 sequence becomes '?', control
 * characters (and DEL) become ' ' except tab, and NUL ends the string.
 * Newlines become ' ' too unless keep_newlines.
 */
void   text_sanitize(char *s, int keep_newlines);
/* Cuts s to at most max bytes without splitting a UTF-8 character; returns the new length. */
size_t text_truncate(char *s, size_t max);

#endif
