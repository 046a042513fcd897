/*
 * domain.c - the edge.host and domain.cert jobs (see domain.h).
 */
#include "domain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/acme.h"
#include "../core/util.h"
#include "edge.h"
#include "timefmt.h"

#define DOMAIN_PEM_MAX (1024 * 1024)

static void __attribute__((format(printf, 3, 4)))
say(void (*emit)(void *, const char *), void *ud, const char *fmt, ...)
{
	char    line[1024];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';	/* a cut line is still said */
	va_end(ap);
	emit(ud, line);
}

int
domain_edge_host(const struct agent_conf *c, const cJSON *payload,
    void (*emit)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen)
{
	struct edge_host *h = malloc(sizeof(*h));
	char              file[AGENT_STR_MAX + 300], v[32];
	bool              skipped = false;
	int               rc = -1;

	*result = NULL;
	if (h == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (edge_host_parse(payload, h, err, errlen) != 0 ||
	    edge_host_apply(c, h, &skipped, err, errlen) != 0)
		goto out;
	(void)util_snprintf(v, sizeof(v), "%lld", (long long)h->version);
	(void)edge_host_path(c, h->hostname, file, sizeof(file));
	if (skipped)
		say(emit, ud, "version %s of %s is not newer than the one applied: skipped", v,
		    h->hostname);
	else if (h->n == 0)
		say(emit, ud, "%s removed (version %s)", file, v);
	else
		say(emit, ud, "%s written and nginx reloaded (version %s)", file, v);
	if ((*result = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(*result, "hostname", h->hostname) == NULL ||
	    cJSON_AddNumberToObject(*result, "version", (double)h->version) == NULL ||
	    cJSON_AddNumberToObject(*result, "routes", (double)h->n) == NULL ||
	    cJSON_AddBoolToObject(*result, "skipped", skipped) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		cJSON_Delete(*result);
		*result = NULL;
	}
	free(h);
	return rc;
}

/* payload.acme's string field, or "" when absent; -1 when not a string. */
static int
acme_field(const cJSON *acme, const char *name, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(acme, name);

	*out = "";
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	*out = v->valuestring;
	return 0;
}

int
domain_cert(const struct agent_conf *c, const cJSON *payload, int timeout_ms,
    void (*emit)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen)
{
	const cJSON     *host = cJSON_GetObjectItemCaseSensitive(payload, "hostname");
	const cJSON     *acme = cJSON_GetObjectItemCaseSensitive(payload, "acme");
	const char      *url, *email, *ca_pem;
	char             webroot[AGENT_STR_MAX + 64], state[AGENT_STR_MAX + 64], ca[AGENT_STR_MAX + 64];
	char             crt[AGENT_STR_MAX + 600], key[AGENT_STR_MAX + 600], out[AGENT_STR_MAX + 64];
	char             nb[40], na[40], *chain = NULL, *keytext = NULL;
	size_t           chain_len = 0, key_len = 0;
	struct acme_cert info;
	struct acme_req  q = {0};
	int              rc = -1;

	*result = NULL;
	if (!cJSON_IsString(host) || !acme_hostname_ok(host->valuestring)) {
		util_snprintf(err, errlen, "bad payload: hostname must be a lower-case DNS name");
		return -1;
	}
	if (!cJSON_IsObject(acme) || acme_field(acme, "directory_url", &url) != 0 ||
	    acme_field(acme, "email", &email) != 0 || acme_field(acme, "ca_pem", &ca_pem) != 0 ||
	    strncmp(url, "https://", 8) != 0) {
		util_snprintf(err, errlen, "bad payload: acme.directory_url (https://) is required; "
		    "acme.email and acme.ca_pem are strings");
		return -1;
	}
	if (c->edge_sites_dir[0] == '\0') {
		util_snprintf(err, errlen, "edge routing is off on this server (no edge_sites_dir)");
		return -1;
	}
	if (edge_webroot_ready(c, webroot, sizeof(webroot), err, errlen) != 0)
		return -1;
	if (util_snprintf(state, sizeof(state), "%s/acme", c->state_dir) < 0 ||
	    util_snprintf(ca, sizeof(ca), "%s/acme/ca.pem", c->state_dir) < 0 ||
	    util_snprintf(out, sizeof(out), "%s/acme/issued", c->state_dir) < 0 ||
	    util_snprintf(crt, sizeof(crt), "%s/%s.fullchain.pem", out, host->valuestring) < 0 ||
	    util_snprintf(key, sizeof(key), "%s/%s.key.pem", out, host->valuestring) < 0) {
		util_snprintf(err, errlen, "state_dir path too long");
		return -1;
	}
	if ((mkdir(state, 0700) != 0 && errno != EEXIST) || (mkdir(out, 0700) != 0 && errno != EEXIST)) {
		util_snprintf(err, errlen, "%s: %s", out, strerror(errno));
		return -1;
	}
	/* The plane's acme_ca_file: trust for a private ACME server's TLS. */
	if (ca_pem[0] != '\0' && (strstr(ca_pem, "-----BEGIN CERTIFICATE-----") == NULL ||
	    util_write_atomic(ca, ca_pem, strlen(ca_pem), 0644) != 0)) {
		util_snprintf(err, errlen, "acme.ca_pem: not a PEM certificate, or %s not writable", ca);
		return -1;
	}
	q.client = c->acme_client;
	q.directory_url = url;
	q.email = email;
	q.ca_file = ca_pem[0] != '\0' ? ca : NULL;
	q.state_dir = state;
	q.webroot = webroot;
	q.hostname = host->valuestring;
	q.timeout_ms = timeout_ms;
	say(emit, ud, "requesting a certificate for %s from %s", host->valuestring, url);
	if (acme_obtain(&q, crt, key, &info, err, errlen) != 0)
		return -1;
	say(emit, ud, "issued by %s, serial %s", info.issuer, info.serial);
	if (util_read_file(crt, DOMAIN_PEM_MAX, &chain, &chain_len) != 0 || chain == NULL ||
	    util_read_file(key, DOMAIN_PEM_MAX, &keytext, &key_len) != 0 || keytext == NULL) {
		util_snprintf(err, errlen, "cannot read the issued certificate back from %s", out);
		goto out;
	}
	if (edge_cert_install(c, host->valuestring, chain, chain_len, keytext, key_len, err,
	    errlen) != 0)
		goto out;
	say(emit, ud, "certificate of %s installed; TLS on %s, nginx reloaded", host->valuestring,
	    c->edge_tls_listen);
	if (timefmt_rfc3339(nb, sizeof(nb), (double)info.not_before) != 0 ||
	    timefmt_rfc3339(na, sizeof(na), (double)info.not_after) != 0 ||
	    (*result = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(*result, "hostname", host->valuestring) == NULL ||
	    cJSON_AddStringToObject(*result, "issuer", info.issuer) == NULL ||
	    cJSON_AddStringToObject(*result, "serial", info.serial) == NULL ||
	    cJSON_AddStringToObject(*result, "not_before", nb) == NULL ||
	    cJSON_AddStringToObject(*result, "expires_at", na) == NULL) {
		cJSON_Delete(*result);
		*result = NULL;
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (keytext != NULL)
		explicit_bzero(keytext, key_len);
	free(keytext);
	free(chain);
	/* The staged key goes: the installed copy is the one nginx reads. */
	(void)unlink(key);
	return rc;
}
