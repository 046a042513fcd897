/*
 * redact.h - secret values out of text: the one redaction of build output,
 * job errors (the agent) and runtime log lines (the plane).
 */
#ifndef LAUNCHER_CORE_REDACT_H
#define LAUNCHER_CORE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[redacted]"

/*
 * Copies in into out (outlen bytes, always terminated when outlen > 0, cut
 * when too small) with every occurrence of the n values vals[] replaced by
 * REDACTED, the longest value first where several match at one place (so
 * that no part of a longer secret survives a shorter one that it starts
 * with); with userinfo, also every URL credential ("scheme://user:secret@").
 * Values of length 0 are ignored.  Returns the length the whole result
 * needs (like snprintf), so that a caller can size out with a first call
 * of outlen 0.
 */
size_t redact(const char *const *vals, size_t n, bool userinfo, const char *in, char *out,
    size_t outlen);

#endif
