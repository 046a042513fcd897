/*
 * hostname.c - hostname normalisation and the plane's reserved names (see
 * hostname.h).  IDNA is libidn2's: a home-made Punycode would disagree
 * with browsers and resolvers on the edge cases (UTS #46 mappings, ß, the
 * bidi and joiner rules).
 */
#include "hostname.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <idn2.h>

#include "config.h"
#include "util.h"

/* Longest input looked at: a 253-character name in 4-byte UTF-8, spaces. */
#define HOSTNAME_INPUT_MAX 1024

static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Labels of [a-z0-9-], 1..63, not starting or ending with '-'; at least
 * two; the last not all digits (an IPv4 form such as 10.1 or 1.2.3.4). */
static const char *
check_labels(const char *h)
{
	const char *p = h, *dot;
	size_t      n;
	int         labels = 0;

	for (;;) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0)
			return "must not have an empty label (\"..\", or a leading dot)";
		if (n > 63)
			return "must have labels of at most 63 characters";
		for (size_t i = 0; i < n; i++)
			if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '-'))
				return "must have labels of letters, digits and '-' only";
		if (p[0] == '-' || p[n - 1] == '-')
			return "must not have a label that starts or ends with '-'";
		labels++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	if (labels < 2)
		return "must have at least two labels (a name such as example.com)";
	if (all_digits(p, n))
		return "must be a hostname, not an IP address";
	return NULL;
}

const char *
hostname_normalize(const char *in, bool wildcard_ok, char *out, size_t outlen)
{
	char        buf[HOSTNAME_INPUT_MAX + 1], tmp[4], *name;
	const char *why;
	uint8_t    *ascii = NULL;
	size_t      n;
	bool        wild = false;
	int         rc;

	out[0] = '\0';
	if (outlen < HOSTNAME_MAX + 1)
		return "internal: output too small";
	if (in == NULL || strlen(in) > HOSTNAME_INPUT_MAX)
		return "must be at most 253 characters";
	memcpy(buf, in, strlen(in) + 1);
	name = util_trim(buf);
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0)
		return "must not be empty";
	for (char *p = name; *p; p++)
		if ((unsigned char)*p < 0x80)
			*p = (char)tolower((unsigned char)*p);
	if (name[0] == '[' || strchr(name, ':') != NULL) {
		unsigned char addr[16];
		char          v6[64];

		if (util_snprintf(v6, sizeof(v6), "%.*s", (int)(n > 2 && name[0] == '[' ? n - 2 : n),
		    name[0] == '[' ? name + 1 : name) >= 0 && inet_pton(AF_INET6, v6, addr) == 1)
			return "must be a hostname, not an IP address";
		return name[0] == '[' ? "must be a hostname, not an IP address" :
		    "must be a hostname alone (no scheme, port or path)";
	}
	if (inet_pton(AF_INET, name, tmp) == 1)
		return "must be a hostname, not an IP address";
	if (strncmp(name, "*.", 2) == 0) {
		if (!wildcard_ok)
			return "must not be a wildcard (domain_wildcards is off on this installation)";
		wild = true;
		name += 2;
	}
	if (strchr(name, '*') != NULL)
		return wildcard_ok ? "may hold '*' only as a whole leading label (\"*.example.com\")" :
		    "must not be a wildcard (domain_wildcards is off on this installation)";
	if (strpbrk(name, "/ \t\r\n@") != NULL)
		return "must be a hostname alone (no scheme, port or path)";
	rc = idn2_lookup_u8((const uint8_t *)name, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		if (rc == IDN2_TOO_BIG_DOMAIN)
			return "must be at most 253 characters";
		if (rc == IDN2_TOO_BIG_LABEL)
			return "must have labels of at most 63 characters";
		return "is not a valid internationalised domain name (IDNA 2008)";
	}
	rc = util_snprintf(out, outlen, "%s%s", wild ? "*." : "", (const char *)ascii);
	idn2_free(ascii);
	if (rc < 0 || strlen(out) > HOSTNAME_MAX) {
		out[0] = '\0';
		return "must be at most 253 characters";
	}
	if ((why = check_labels(wild ? out + 2 : out)) != NULL) {
		out[0] = '\0';
		return why;
	}
	return NULL;
}

bool
hostname_under(const char *h, const char *zone)
{
	size_t hl = strlen(h), zl = strlen(zone);

	if (zl == 0)
		return false;
	if (strcmp(h, zone) == 0)
		return true;
	return hl > zl + 1 && h[hl - zl - 1] == '.' && strcmp(h + hl - zl, zone) == 0;
}

/* The host of a URL "scheme://[user@]host[:port][/...]", normalised, or "". */
static void
url_host(const char *url, char *out, size_t outlen)
{
	char        host[HOSTNAME_INPUT_MAX + 1];
	const char *p = strstr(url, "://"), *end, *at;
	size_t      n;

	out[0] = '\0';
	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL)
		p = at + 1;
	if (*p == '[')		/* an IPv6 literal is never a user's hostname anyway */
		return;
	n = strcspn(p, ":/?#");
	if (n == 0 || n > HOSTNAME_INPUT_MAX)
		return;
	memcpy(host, p, n);
	host[n] = '\0';
	if (hostname_normalize(host, false, out, outlen) != NULL)
		out[0] = '\0';
}

const char *
hostname_reserved(const struct config *cfg, const char *h)
{
	char        name[HOSTNAME_MAX + 1], list[CONFIG_STR_MAX];
	const char *bare = strncmp(h, "*.", 2) == 0 ? h + 2 : h;

	if (hostname_under(bare, "localhost"))
		return "is reserved (localhost)";
	url_host(cfg->public_url, name, sizeof(name));
	if (name[0] != '\0' && strcmp(bare, name) == 0)
		return "is reserved: it is the control plane's own hostname";
	if (cfg->plane_hostname[0] != '\0' &&
	    hostname_normalize(cfg->plane_hostname, false, name, sizeof(name)) == NULL &&
	    strcmp(bare, name) == 0)
		return "is reserved: it is the control plane's own hostname";
	if (util_snprintf(list, sizeof(list), "%s", cfg->reserved_domains) < 0)
		return NULL;
	for (char *tok = list, *comma; tok != NULL; tok = comma ? comma + 1 : NULL) {
		if ((comma = strchr(tok, ',')) != NULL)
			*comma = '\0';
		if (hostname_normalize(tok, false, name, sizeof(name)) == NULL &&
		    hostname_under(bare, name))
			return "is reserved on this installation (reserved_domains)";
	}
	return NULL;
}
