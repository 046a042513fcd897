/*
 * alert_url.h - where an alert may be sent: the one check of a channel's
 * URL (API, fcgi/api/alerts.c) and of the address launcher-notify connects
 * to (a name may resolve to anything at delivery time).
 *
 * A URL is http:// or https://, names a host, carries no credentials, and
 * its host is not the plane's own loopback or a private, link-local,
 * shared or unspecified address (SSRF), unless launcher.conf's
 * alert_allowed_hosts lists it (host, or host:port).
 */
#ifndef LAUNCHER_ALERT_URL_H
#define LAUNCHER_ALERT_URL_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/*
 * Checks url against allowed (the comma list of alert_allowed_hosts).
 * NULL when it may be used, else the message (a static string).
 */
const char *alert_url_check(const char *url, const char *allowed);

/* Whether addr is loopback, private, link-local, shared or unspecified. */
bool alert_addr_internal(const struct sockaddr *addr);

/*
 * Whether host (an address or a name, brackets of IPv6 removed) with port
 * is in allowed.  An IPv4 address matches in any form inet_aton reads.
 */
bool alert_host_allowed(const char *allowed, const char *host, int port);

/*
 * The host (without brackets) and port of an http(s) URL into host[n] and
 * *port (80 or 443 when absent).  0, or -1 when it is not one.
 */
int alert_url_host(const char *url, char *host, size_t n, int *port);

#endif
