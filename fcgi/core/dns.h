/*
 * dns.h - DNS lookups through the system resolver library (libresolv:
 * res_ninit, res_nquery, ns_initparse/ns_parserr), against the system's
 * servers (/etc/resolv.conf) or one given server (host:port), with a
 * timeout.  Used by launcher-dnscheck; never by a pool worker (a lookup
 * waits).  Binaries that use it link -lresolv.
 *
 * A lookup's outcome is a class, never a message to match: an answer,
 * no data of that type (the name exists), NXDOMAIN, SERVFAIL, REFUSED,
 * no answer within the timeout, or another failure.
 */
#ifndef LAUNCHER_DNS_H
#define LAUNCHER_DNS_H

#include <stddef.h>

#include <resolv.h>

enum dns_type { DNS_A, DNS_AAAA, DNS_CNAME, DNS_TXT };

enum dns_status {
	DNS_OK,		/* one or more records of the type asked */
	DNS_NODATA,	/* the name exists, with no record of that type */
	DNS_NXDOMAIN,
	DNS_SERVFAIL,
	DNS_REFUSED,
	DNS_TIMEOUT,	/* no answer within the resolver's timeout */
	DNS_ERROR	/* anything else: unreachable server, malformed answer */
};

#define DNS_RR_MAX   16
#define DNS_TEXT_MAX 512	/* one record as text (TXT strings joined) */

struct dns_answer {
	enum dns_status status;
	int             n;			/* records in rr[] */
	char            rr[DNS_RR_MAX][DNS_TEXT_MAX];	/* A/AAAA: address text; CNAME: target,
						 * lower case, no trailing dot; TXT: the strings
						 * of one record joined */
	int             elapsed_ms;		/* how long the lookup took */
};

struct dns_resolver {
	struct __res_state st;
	int                timeout_ms;	/* per attempt */
	char               server[300];	/* what was configured, for messages ("" = system) */
};

/*
 * Sets up r: the system resolver configuration, then, when server is not
 * NULL or "", that one server only ("host:port", "host" = port 53, an IPv6
 * address in brackets "[::1]:53"; host must be an address).  timeout_ms
 * (>= 1) is one attempt's wait; one attempt, no retry (the caller's
 * schedule retries).  Returns 0, or -1 with the reason in err.  Release
 * with dns_cleanup.
 */
int  dns_init(struct dns_resolver *r, const char *server, int timeout_ms, char *err,
    size_t errlen);
void dns_cleanup(struct dns_resolver *r);

/*
 * Looks up name (no trailing dot needed) for records of type t; fills
 * *out (its status always set; records only for DNS_OK).  A CNAME met
 * while asking for another type is followed by the server as usual; the
 * records returned are those of the type asked.  Returns out->status.
 */
enum dns_status dns_query(struct dns_resolver *r, const char *name, enum dns_type t,
    struct dns_answer *out);

/*
 * Reads the answer records of type t from a DNS reply (len bytes, from the
 * network: untrusted) into *out: DNS_OK with out->n records, DNS_NODATA,
 * or DNS_ERROR for a malformed reply.  Pure (dns_query's parser; the fuzzer's
 * entry, tests/fuzz/fuzz_dns.c).
 */
enum dns_status dns_parse(const unsigned char *buf, int len, enum dns_type t,
    struct dns_answer *out);

/* "TXT", "CNAME", ... and "NXDOMAIN", "SERVFAIL", "timeout", ... (static). */
const char *dns_type_name(enum dns_type t);
const char *dns_status_name(enum dns_status s);

/*
 * Writes the failure of a: "NXDOMAIN", "SERVFAIL", "REFUSED", "no
 * record", "timeout after N ms", "error" into buf.  DNS_OK: "ok".
 */
void dns_describe(const struct dns_resolver *r, const struct dns_answer *a, char *buf,
    size_t len);

#endif
