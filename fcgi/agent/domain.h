/*
 * domain.h - the custom domain job kinds (the plane queues them, see the
 * README's "Custom domains"):
 *
 * edge.host    {"hostname", "version", "routes": [{"path_prefix", "app_id",
 *              "https_redirect"}]} -> the host file (edge.h), or its removal
 *              when routes is empty.  Result {"hostname", "version",
 *              "routes": N, "skipped": bool} (skipped: an older payload than
 *              the one applied, nothing changed).
 * domain.cert  {"hostname", "renew": bool, "acme": {"directory_url",
 *              "email", "ca_pem"?}} -> a certificate by the ACME runner
 *              (core/acme.h) into <state_dir>/acme, installed with the host
 *              file's TLS server (edge_cert_install).  Result {"hostname",
 *              "issuer", "serial", "not_before", "expires_at"} (RFC 3339).
 */
#ifndef LAUNCHER_AGENT_DOMAIN_H
#define LAUNCHER_AGENT_DOMAIN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "conf.h"

/* Both: 0 with *result (caller frees), or -1 with the reason in err. */
int domain_edge_host(const struct agent_conf *c, const cJSON *payload,
    void (*emit)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen);
/* timeout_ms: what the ACME client may take (the job's deadline, less a margin). */
int domain_cert(const struct agent_conf *c, const cJSON *payload, int timeout_ms,
    void (*emit)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen);

#endif
