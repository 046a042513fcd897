/*
 * hostname.h - the one normalisation of hostnames users give (custom
 * domains, API.md §10), and the names the plane keeps for itself.
 *
 * A user's name becomes what DNS and nginx compare: ASCII, lower case,
 * IDNA 2008 (UTS #46 non-transitional) Punycode, no trailing dot.
 */
#ifndef LAUNCHER_HOSTNAME_H
#define LAUNCHER_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

struct config;

#define HOSTNAME_MAX 253

/*
 * Normalises in into out (outlen >= HOSTNAME_MAX + 1): white space
 * trimmed, case folded, one trailing dot stripped, Unicode labels to
 * Punycode (libidn2), then checked: at most 253 characters, at least two
 * labels of 1..63 [a-z0-9-] not starting or ending with '-', no IP
 * literal (v4, v6, bracketed, or a last label of digits), no '*' unless
 * wildcard_ok, and then only as a leading "*." label.  Returns NULL, or
 * the reason for the caller to show (a constant string); out is then "".
 */
const char *hostname_normalize(const char *in, bool wildcard_ok, char *out, size_t outlen);

/* Whether h equals zone or is a name under it (both normalised). */
bool hostname_under(const char *h, const char *zone);

/*
 * Whether the plane keeps h (normalised) for itself: localhost and names
 * under it, the host of cfg->public_url, cfg->plane_hostname, and each
 * name of cfg->reserved_domains (comma list) and names under it.  Returns
 * NULL or the reason.  (Servers' base_domains are the database's check:
 * they belong to every tenant, sql/032_domains.sql.)
 */
const char *hostname_reserved(const struct config *cfg, const char *h);

#endif
