/*
 * acme.c - the ACME runner (see acme.h): lego's command line and
 * environment, its certificate copied into place, and what a certificate
 * says (libcrypto).
 */
#include "acme.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "spawn.h"
#include "util.h"

/* lego's "renew --days N" renews only within N days of expiry: the caller
 * (the plane's schedule) has already decided, so N covers any certificate. */
#define ACME_RENEW_ANY_DAYS "36500"
#define ACME_PEM_MAX        (1024 * 1024)
#define ACME_PATH_MAX       4096

extern char **environ;

int
acme_hostname_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-') ||
		    ++label > 63)
			return 0;
	}
	return label > 0;
}

/* ASN1_TIME to unix seconds; 0 or -1. */
static int
asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
acme_cert_info(const char *pem_path, struct acme_cert *out, char *err, size_t errlen)
{
	FILE          *f = fopen(pem_path, "re");
	X509          *x = NULL;
	BIGNUM        *bn = NULL;
	char          *hex = NULL;
	unsigned char *cn = NULL;
	const X509_NAME *iss;
	int            idx, rc = -1, n;

	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		util_snprintf(err, errlen, "%s: %s", pem_path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		util_snprintf(err, errlen, "%s: no PEM certificate", pem_path);
		return -1;
	}
	iss = X509_get_issuer_name(x);
	if ((idx = X509_NAME_get_index_by_NID(iss, NID_commonName, -1)) >= 0 &&
	    (n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(iss, idx)))) >= 0)
		(void)util_snprintf(out->issuer, sizeof(out->issuer), "%.*s", n, (const char *)cn);
	else {
		/* No CN: the whole name, one line. */
		char *line = X509_NAME_oneline(iss, NULL, 0);

		(void)util_snprintf(out->issuer, sizeof(out->issuer), "%s", line != NULL ? line : "");
		OPENSSL_free(line);
	}
	util_sanitize(out->issuer, 0);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL ||
	    util_snprintf(out->serial, sizeof(out->serial), "%s", hex) < 0) {
		util_snprintf(err, errlen, "%s: unreadable serial number", pem_path);
		goto out;
	}
	for (char *p = out->serial; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (asn1_time_unix(X509_get0_notBefore(x), &out->not_before) != 0 ||
	    asn1_time_unix(X509_get0_notAfter(x), &out->not_after) != 0) {
		util_snprintf(err, errlen, "%s: unreadable validity", pem_path);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(cn);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return rc;
}

/* mkdir -p, mode for what it creates; 0 or -1 (errno). */
static int
make_dirs(const char *path, mode_t mode)
{
	char p[ACME_PATH_MAX];

	if (util_snprintf(p, sizeof(p), "%s", path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) != 0 && errno != EEXIST)
				return -1;
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/* Copies src to dst atomically with mode; 0 or -1 (err). */
static int
copy_file(const char *src, const char *dst, unsigned mode, char *err, size_t errlen)
{
	char  *data = NULL;
	size_t n = 0;
	int    rc;

	if (util_read_file(src, ACME_PEM_MAX, &data, &n) != 0 || data == NULL) {
		util_snprintf(err, errlen, "%s: %s", src, data == NULL && errno == 0 ? "missing" :
		    strerror(errno));
		free(data);
		return -1;
	}
	rc = util_write_atomic(dst, data, n, mode);
	if (rc != 0)
		util_snprintf(err, errlen, "%s: cannot write: %s", dst, strerror(errno));
	explicit_bzero(data, n);
	free(data);
	return rc;
}

/*
 * Our environment without LEGO_* (the operator's lego settings must not
 * redirect ours), plus LEGO_CA_CERTIFICATES when ca_file is set: a
 * malloc'ed array (one block, caller frees), NULL on OOM.
 */
static char **
lego_env(const char *ca_file)
{
	size_t n = 0, k = 0, extra;
	char **env, *var;

	while (environ[n] != NULL)
		n++;
	extra = ca_file != NULL && ca_file[0] ? strlen("LEGO_CA_CERTIFICATES=") + strlen(ca_file) + 1 : 0;
	if ((env = malloc((n + 2) * sizeof(*env) + extra)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LEGO_", 5) != 0)
			env[k++] = environ[i];
	if (extra > 0) {
		var = (char *)(env + n + 2);
		(void)util_snprintf(var, extra, "LEGO_CA_CERTIFICATES=%s", ca_file);
		env[k++] = var;
	}
	env[k] = NULL;
	return env;
}

int
acme_obtain(const struct acme_req *q, const char *cert_dst, const char *key_dst,
    struct acme_cert *out, char *err, size_t errlen)
{
	char              crt[ACME_PATH_MAX], key[ACME_PATH_MAX], dir[ACME_PATH_MAX], name[260];
	char              tail[1500];
	const char       *argv[24];
	char            **env = NULL;
	struct spawn_tail t = {.len = 0};
	struct stat       st;
	bool              renew;
	int               a = 0, status = 0, rc = -1;

	err[0] = '\0';
	if (q->hostname == NULL || !acme_hostname_ok(q->hostname)) {
		util_snprintf(err, errlen, "not a hostname the ACME runner accepts");
		return -1;
	}
	if (q->directory_url == NULL || strncmp(q->directory_url, "https://", 8) != 0 ||
	    q->state_dir == NULL || q->state_dir[0] != '/' || q->webroot == NULL ||
	    q->webroot[0] != '/' || q->client == NULL || q->client[0] == '\0') {
		util_snprintf(err, errlen, "ACME: directory_url (https://), state_dir and webroot "
		    "(absolute) and the client are required");
		return -1;
	}
	/* lego names its files after the domain, '*' made '_'. */
	(void)util_snprintf(name, sizeof(name), "%s", q->hostname);
	if (name[0] == '*')
		name[0] = '_';
	if (util_snprintf(crt, sizeof(crt), "%s/certificates/%s.crt", q->state_dir, name) < 0 ||
	    util_snprintf(key, sizeof(key), "%s/certificates/%s.key", q->state_dir, name) < 0 ||
	    util_snprintf(dir, sizeof(dir), "%s/.well-known/acme-challenge", q->webroot) < 0) {
		util_snprintf(err, errlen, "ACME: paths too long");
		return -1;
	}
	/* Account keys and certificates: ours alone; challenges: world-readable
	 * (nginx's workers serve them). */
	if (make_dirs(q->state_dir, 0700) != 0 || make_dirs(dir, 0755) != 0) {
		util_snprintf(err, errlen, "ACME: cannot create %s or %s: %s", q->state_dir, dir,
		    strerror(errno));
		return -1;
	}
	renew = stat(crt, &st) == 0 && stat(key, &st) == 0;
	argv[a++] = q->client;
	argv[a++] = "--accept-tos";
	if (q->email != NULL && q->email[0] != '\0') {
		argv[a++] = "--email";
		argv[a++] = q->email;
	}
	argv[a++] = "--server";
	argv[a++] = q->directory_url;
	argv[a++] = "--path";
	argv[a++] = q->state_dir;
	argv[a++] = "--http";
	argv[a++] = "--http.webroot";
	argv[a++] = q->webroot;
	argv[a++] = "--domains";
	argv[a++] = q->hostname;
	if (renew) {
		argv[a++] = "renew";
		argv[a++] = "--days";
		argv[a++] = ACME_RENEW_ANY_DAYS;
		/* lego sleeps up to 8 minutes before a renewal unless told not to. */
		argv[a++] = "--no-random-sleep";
	} else
		argv[a++] = "run";
	argv[a] = NULL;
	if ((env = lego_env(q->ca_file)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	log_info("acme: %s %s for %s at %s", q->client, renew ? "renew" : "run", q->hostname,
	    q->directory_url);
	if (spawn_argv(argv, (const char *const *)env, NULL, q->timeout_ms > 0 ? q->timeout_ms : 300000,
	    &status, spawn_tail_sink, &t, tail, sizeof(tail)) != 0) {
		util_snprintf(err, errlen, "%s: %s", q->client, tail);
		goto out;
	}
	if (status != 0) {
		spawn_tail_text(&t, 4, tail, sizeof(tail));
		util_snprintf(err, errlen, "%s %s exited with %d: %s", q->client, renew ? "renew" : "run",
		    status, tail);
		goto out;
	}
	if (acme_cert_info(crt, out, err, errlen) != 0)
		goto out;
	/* The key first: a certificate never names a key not yet in place. */
	if (copy_file(key, key_dst, 0600, err, errlen) != 0 ||
	    copy_file(crt, cert_dst, 0644, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(env);
	return rc;
}
