/*
 * dns.c - DNS lookups with the system resolver library; see dns.h.
 *
 * res_nquery tells its failures apart only through h_errno, which folds
 * SERVFAIL, REFUSED and a timeout into TRY_AGAIN.  The classes come from
 * what the resolver leaves behind instead: glibc receives the server's
 * reply straight into our answer buffer (zeroed before each query) and
 * keeps it there when it gives up on a SERVFAIL or REFUSED, so its header
 * names the rcode; an empty buffer with errno ETIMEDOUT is a timeout.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Large enough for any UDP answer and most TCP ones (a TXT set). */
#define DNS_ANSWER_BYTES 8192

int
dns_init(struct dns_resolver *r, const char *server, int timeout_ms, char *err, size_t errlen)
{
	char               host[256];
	const char        *colon = NULL;
	int64_t            port = 53;
	struct sockaddr_in sin;

	memset(r, 0, sizeof(*r));
	r->timeout_ms = timeout_ms < 1 ? 1 : timeout_ms;
	if (res_ninit(&r->st) != 0) {
		util_snprintf(err, errlen, "res_ninit failed");
		return -1;
	}
	/* One attempt of timeout_ms (whole seconds: the library's unit), no
	 * search list, no appended domain: names are asked as given. */
	r->st.retrans = (r->timeout_ms + 999) / 1000;
	r->st.retry = 1;
	r->st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (server == NULL || server[0] == '\0')
		return 0;
	if (util_snprintf(r->server, sizeof(r->server), "%s", server) < 0 ||
	    util_snprintf(host, sizeof(host), "%s", server) < 0) {
		util_snprintf(err, errlen, "dns_server too long");
		goto fail;
	}
	colon = strrchr(host, ':');
	if (colon != NULL) {
		if (util_parse_i64(colon + 1, 1, 65535, &port) != 0) {
			util_snprintf(err, errlen, "dns_server: bad port in '%s'", server);
			goto fail;
		}
		host[colon - host] = '\0';
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		util_snprintf(err, errlen, "dns_server: '%s' is not an IPv4 address[:port]", server);
		goto fail;
	}
	r->st.nsaddr_list[0] = sin;
	r->st.nscount = 1;
	return 0;
fail:
	res_nclose(&r->st);
	return -1;
}

void
dns_cleanup(struct dns_resolver *r)
{
	res_nclose(&r->st);
}

static const ns_type dns_ns_type[] = {
	[DNS_A] = ns_t_a, [DNS_AAAA] = ns_t_aaaa, [DNS_CNAME] = ns_t_cname, [DNS_TXT] = ns_t_txt,
};

const char *
dns_type_name(enum dns_type t)
{
	static const char *const names[] = {
		[DNS_A] = "A", [DNS_AAAA] = "AAAA", [DNS_CNAME] = "CNAME", [DNS_TXT] = "TXT",
	};
	return names[t];
}

const char *
dns_status_name(enum dns_status s)
{
	static const char *const names[] = {
		[DNS_OK] = "ok", [DNS_NODATA] = "no record", [DNS_NXDOMAIN] = "NXDOMAIN",
		[DNS_SERVFAIL] = "SERVFAIL", [DNS_REFUSED] = "REFUSED", [DNS_TIMEOUT] = "timeout",
		[DNS_ERROR] = "error",
	};
	return names[s];
}

void
dns_describe(const struct dns_resolver *r, const struct dns_answer *a, char *buf, size_t len)
{
	if (a->status == DNS_TIMEOUT)
		util_snprintf(buf, len, "timeout after %d ms", r->timeout_ms);
	else
		util_snprintf(buf, len, "%s", dns_status_name(a->status));
}

/* Lower case, no trailing dot (names compare as text afterwards). */
static void
dns_name_fold(char *s)
{
	size_t n;

	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* One answer record as text into out (DNS_TEXT_MAX); 0, or -1 to skip it. */
static int
dns_rr_text(ns_msg *msg, ns_rr *rr, enum dns_type t, char *out)
{
	const unsigned char *d = ns_rr_rdata(*rr);
	size_t               n = ns_rr_rdlen(*rr), o = 0;

	switch (t) {
	case DNS_A:
		return n == 4 && inet_ntop(AF_INET, d, out, DNS_TEXT_MAX) != NULL ? 0 : -1;
	case DNS_AAAA:
		return n == 16 && inet_ntop(AF_INET6, d, out, DNS_TEXT_MAX) != NULL ? 0 : -1;
	case DNS_CNAME:
		if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), d, out, DNS_TEXT_MAX) < 0)
			return -1;
		dns_name_fold(out);
		return 0;
	case DNS_TXT:
		/* Character-strings (a length byte, then the bytes), joined. */
		for (size_t i = 0; i < n;) {
			size_t l = d[i++];

			if (i + l > n || o + l >= DNS_TEXT_MAX)
				return -1;
			memcpy(out + o, d + i, l);
			o += l;
			i += l;
		}
		out[o] = '\0';
		return 0;
	}
	return -1;
}

enum dns_status
dns_parse(const unsigned char *buf, int len, enum dns_type t, struct dns_answer *out)
{
	ns_msg msg;

	out->n = 0;
	out->status = DNS_ERROR;
	if (len < 0 || ns_initparse(buf, len, &msg) != 0)
		return out->status;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && out->n < DNS_RR_MAX; i++) {
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
			out->n = 0;	/* a malformed reply says nothing */
			return out->status;
		}
		if (ns_rr_type(rr) != dns_ns_type[t] || ns_rr_class(rr) != ns_c_in)
			continue;
		if (dns_rr_text(&msg, &rr, t, out->rr[out->n]) == 0)
			out->n++;
	}
	out->status = out->n > 0 ? DNS_OK : DNS_NODATA;
	return out->status;
}

enum dns_status
dns_query(struct dns_resolver *r, const char *name, enum dns_type t, struct dns_answer *out)
{
	unsigned char   *buf;
	struct timespec  t0, t1;
	int              len;

	memset(out, 0, sizeof(*out));
	out->status = DNS_ERROR;
	if ((buf = calloc(1, DNS_ANSWER_BYTES)) == NULL)
		return out->status;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	len = res_nquery(&r->st, name, ns_c_in, dns_ns_type[t], buf, DNS_ANSWER_BYTES);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->elapsed_ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (len < 0) {
		/* The header of a reply left in buf (see the top of this file). */
		int qr = (buf[2] & 0x80) != 0, rcode = buf[3] & 0x0f;

		switch (r->st.res_h_errno) {
		case HOST_NOT_FOUND:
			out->status = DNS_NXDOMAIN;
			break;
		case NO_DATA:
			out->status = DNS_NODATA;
			break;
		default:
			if (qr && rcode == ns_r_servfail)
				out->status = DNS_SERVFAIL;
			else if (qr && rcode == ns_r_refused)
				out->status = DNS_REFUSED;
			else if (qr && rcode == ns_r_nxdomain)
				out->status = DNS_NXDOMAIN;
			else if (!qr && errno == ETIMEDOUT)
				out->status = DNS_TIMEOUT;
			break;
		}
		goto out;
	}
	dns_parse(buf, len, t, out);
out:
	free(buf);
	return out->status;
}
