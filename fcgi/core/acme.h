/*
 * acme.h - the one ACME runner: certificates by HTTP-01 through a mature
 * client (Debian's lego), for the agent's custom domains and for the
 * plane's own hostname (launcher-dnscheck).
 *
 * The client runs through spawn_argv (core/spawn.h): no shell, the trust
 * for a private ACME server's TLS in the environment (LEGO_CA_CERTIFICATES),
 * its account key and certificates in q->state_dir.  Its challenge files go
 * to <webroot>/.well-known/acme-challenge/, which the caller's nginx serves
 * on port 80.  Nothing here logs key material.
 */
#ifndef LAUNCHER_ACME_H
#define LAUNCHER_ACME_H

#include <stddef.h>
#include <stdint.h>

struct acme_req {
	const char *client;         /* "lego" (PATH) */
	const char *directory_url;
	const char *email;
	const char *ca_file;        /* PEM trusted for the ACME server's TLS; NULL/"" = system */
	const char *state_dir;      /* lego --path: account key, certificates */
	const char *webroot;        /* HTTP-01 files go to <webroot>/.well-known/acme-challenge/ */
	const char *hostname;
	int         timeout_ms;
};

struct acme_cert {
	char    issuer[256], serial[128];
	int64_t not_before, not_after;        /* unix seconds */
};

/*
 * Issues (or renews) a certificate for q->hostname; then copies fullchain and key to
 * cert_dst / key_dst atomically (key 0600).  0, or -1 with the client's reason in err.
 * A certificate of the hostname already in q->state_dir is renewed ("lego renew",
 * whatever its remaining days: the caller decided it is due); else "lego run".
 */
int acme_obtain(const struct acme_req *q, const char *cert_dst, const char *key_dst,
    struct acme_cert *out, char *err, size_t errlen);

/* Reads a PEM certificate file's issuer CN, serial (lower hex), validity. 0 or -1 (err). */
int acme_cert_info(const char *pem_path, struct acme_cert *out, char *err, size_t errlen);

/*
 * Whether s is a hostname the runner (and the agent's site files) accept:
 * 1..253 bytes of [a-z0-9.-], labels not empty, optionally "*." first.
 */
int acme_hostname_ok(const char *s);

#endif
