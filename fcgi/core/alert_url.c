/*
 * alert_url.c - see alert_url.h.
 */
#include "alert_url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util.h"

int
alert_url_host(const char *url, char *host, size_t n, int *port)
{
	const char *p, *end, *colon = NULL;
	size_t      len;

	if (strncasecmp(url, "https://", 8) == 0) {
		p = url + 8;
		*port = 443;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
		*port = 80;
	} else
		return -1;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return -1;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL)
			return -1;
		len = (size_t)(rb - p - 1);
		if (len == 0 || len >= n)
			return -1;
		memcpy(host, p + 1, len);
		host[len] = '\0';
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			colon = rb + 1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		len = (size_t)((colon ? colon : end) - p);
		if (len == 0 || len >= n)
			return -1;
		memcpy(host, p, len);
		host[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (!(isalnum((unsigned char)host[i]) || host[i] == '.' || host[i] == '-' ||
			    host[i] == '_'))
				return -1;
	}
	if (colon != NULL) {
		char *e;
		long  v;

		if (colon + 1 == end || !isdigit((unsigned char)colon[1]))
			return -1;
		v = strtol(colon + 1, &e, 10);
		if (e != end || v < 1 || v > 65535)
			return -1;
		*port = (int)v;
	}
	return 0;
}

static bool
v4_internal(uint32_t a)	/* host order */
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a & 0xffc00000u) == 0x64400000u ||	/* 100.64/10 */
	    (a & 0xffff0000u) == 0xa9fe0000u ||	/* 169.254/16 */
	    (a & 0xfff00000u) == 0xac100000u ||	/* 172.16/12 */
	    (a & 0xffffff00u) == 0xc0000000u ||	/* 192.0.0/24, IETF protocol assignments */
	    (a & 0xffff0000u) == 0xc0a80000u ||	/* 192.168/16 */
	    (a & 0xfffe0000u) == 0xc6120000u ||	/* 198.18/15, benchmarking */
	    (a & 0xf0000000u) == 0xe0000000u ||	/* multicast */
	    (a & 0xf0000000u) == 0xf0000000u;	/* 240/4 reserved, and broadcast */
}

static uint32_t
v4_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool
v6_internal(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};

	/* Prefixes that embed an IPv4 address are judged by that address:
	 * ::ffff:0:0/96 (mapped), ::/96 (compatible), 64:ff9b::/96 (NAT64),
	 * 2002::/16 (6to4, the address in bits 16-47). */
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) || memcmp(b, nat64, 12) == 0)
		return v4_internal(v4_at(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_internal(v4_at(b + 2));
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 &&
	    b[5] == 0x01)
		return true;	/* 64:ff9b:1::/48, local-use NAT64 (RFC 8215) */
	return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
	    IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
	    (b[0] & 0xfe) == 0xfc;	/* fc00::/7 */
}

bool
alert_addr_internal(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
		return v4_internal(ntohl(((const struct sockaddr_in *)(const void *)addr)->sin_addr.s_addr));
	if (addr->sa_family == AF_INET6)
		return v6_internal(&((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr);
	return true;
}

/* host as an address (any inet_aton form), into *v4 or *v6: 4, 6 or 0. */
static int
host_addr(const char *host, struct in_addr *v4, struct in6_addr *v6)
{
	if (inet_aton(host, v4) != 0)
		return 4;
	if (inet_pton(AF_INET6, host, v6) == 1)
		return 6;
	return 0;
}

static bool
same_host(const char *a, const char *b)
{
	struct in_addr  a4, b4;
	struct in6_addr a6, b6;
	int             ka = host_addr(a, &a4, &a6), kb = host_addr(b, &b4, &b6);

	if (ka != kb)
		return false;
	if (ka == 4)
		return a4.s_addr == b4.s_addr;
	if (ka == 6)
		return memcmp(&a6, &b6, sizeof(a6)) == 0;
	return strcasecmp(a, b) == 0;
}

bool
alert_host_allowed(const char *allowed, const char *host, int port)
{
	const char *p = allowed;

	while (p != NULL && *p) {
		char        item[300], *colon;
		size_t      len;
		const char *comma;

		p += strspn(p, " \t,");
		comma = p + strcspn(p, ",");
		len = (size_t)(comma - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && len < sizeof(item)) {
			int64_t iport = 0;

			memcpy(item, p, len);
			item[len] = '\0';
			if (item[0] == '[') {	/* [v6] or [v6]:port */
				char *rb = strchr(item, ']');

				if (rb != NULL) {
					*rb = '\0';
					if (rb[1] == ':' && util_parse_i64(rb + 2, 1, 65535, &iport) != 0)
						iport = -1;	/* a bad entry matches nothing */
					memmove(item, item + 1, strlen(item + 1) + 1);
				}
			} else if ((colon = strrchr(item, ':')) != NULL && strchr(item, ':') == colon) {
				*colon = '\0';
				if (util_parse_i64(colon + 1, 1, 65535, &iport) != 0)
					iport = -1;
			}
			if (same_host(item, host) && (iport == 0 || iport == port))
				return true;
		}
		p = *comma ? comma + 1 : NULL;
	}
	return false;
}

const char *
alert_url_check(const char *url, const char *allowed)
{
	char            host[256];
	int             port;
	struct in_addr  v4;
	struct in6_addr v6;
	int             kind;
	bool            internal;

	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f || *q == '\\')
			return "must be a URL without spaces or control characters";
	if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
		return "must be an http or https URL";
	if (alert_url_host(url, host, sizeof(host), &port) != 0)
		return "must be http(s)://host[:port][/path] without credentials";
	kind = host_addr(host, &v4, &v6);
	if (kind == 4)
		internal = v4_internal(ntohl(v4.s_addr));
	else if (kind == 6)
		internal = v6_internal(&v6);
	else {
		size_t n = strlen(host);

		internal = strcasecmp(host, "localhost") == 0 ||
		    (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0) ||
		    strcasecmp(host, "localhost.localdomain") == 0;
	}
	if (internal && !alert_host_allowed(allowed, host, port))
		return "points at a loopback or private address (the plane's own network); "
		    "only hosts listed in alert_allowed_hosts may";
	return NULL;
}
