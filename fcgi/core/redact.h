/*
 * redact.h - secret values out of text: the one redaction of build output,
 * job and deployment errors (the agent) and runtime log lines (the plane).
 *
 * What is a secret: every value of the release's env snapshot (each
 * variable's value, with its references resolved), build arguments and a
 * repository URL's credential; the caller gives them.
 *
 * Rules (by exact match, never by pattern):
 *  - every occurrence of a value of REDACT_MIN_LEN bytes or more is
 *    replaced by REDACTED, the longest value first where several match at
 *    one place (so that no part of a longer secret survives a shorter one
 *    that it starts with);
 *  - a value cut by a line boundary: a line (the text's end counts as one)
 *    that ends with a prefix of a value, or starts with a suffix of one, has
 *    that piece replaced when it is REDACT_MIN_PIECE bytes or more (output
 *    that wraps or is cut into lines, a value printed across two lines);
 *    trailing "\r" are not part of a line;
 *  - a value that itself spans lines (a PEM key): each of its lines of
 *    REDACT_MIN_PIECE bytes or more is a value of its own, so that the
 *    middle of a key printed line by line is hidden too;
 *  - with userinfo, every URL credential ("scheme://user:secret@").
 * Values shorter than REDACT_MIN_LEN are never redacted: env maps hold many
 * short non-secrets ("true", "8080", "prod", "info") whose every occurrence
 * in every log line would be blanked, making logs unreadable while hiding
 * nothing worth hiding (a 5-byte secret is guessed, not leaked).
 */
#ifndef LAUNCHER_CORE_REDACT_H
#define LAUNCHER_CORE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[redacted]"
#define REDACT_MIN_LEN   6	/* shorter values are not redacted (see above) */
#define REDACT_MIN_PIECE 8	/* shortest piece of a value cut at a line boundary */

/*
 * Copies in into out (outlen bytes, always terminated when outlen > 0, cut
 * when too small) with the n values vals[] (NULL entries ignored) redacted
 * as above.  Returns the length the whole result needs (like snprintf), so
 * that a caller can size out with a first call of outlen 0.  If it cannot
 * allocate its working table, the whole text is REDACTED (never shown
 * unredacted).
 */
size_t redact(const char *const *vals, size_t n, bool userinfo, const char *in, char *out,
    size_t outlen);

#endif
