/*
 * edge.h - the edge nginx's site files in edge_sites_dir:
 *
 *   app-<app_id>.conf     an application's upstream (its containers' loopback
 *                         ports; "server 127.0.0.1:1 down" without any) and its
 *                         default hostname's server (503 without a container);
 *                         A public bucket's site is an app-<bucket_id>.conf
 *                         too (ids are UUIDs: never an app's): edge_install
 *                         and edge_remove with the bucket's id;
 *   host-<hostname>.conf  a custom hostname (edge.host jobs): the routes by
 *                         path prefix to the apps' (and functions': with
 *                         their methods filter) upstreams, the ACME
 *                         challenge directory, TLS once a certificate is
 *                         installed (domain.cert jobs), 308 to https.
 *
 * Every change is one change set under the edge lock (<edge_sites_dir>/
 * .launcher-edge.lock, so that concurrent writers never interleave): files
 * written atomically,
 * checked with nginx_test_command, made live with one reload (by the
 * master's pid, or edge_reload_command); when the test or the reload fails
 * every file of the set is put back as it was.  Installing or removing an
 * app's site re-renders, in the same set, the host files that route to it
 * (from their own header: no plane needed).
 */
#ifndef LAUNCHER_AGENT_EDGE_H
#define LAUNCHER_AGENT_EDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conf.h"

#define EDGE_SITE_MAX    65536
#define EDGE_ROUTES_MAX  64
#define EDGE_PREFIX_MAX  256
#define EDGE_METHODS_MAX 64	/* "GET|POST|...": a function's http trigger */

/*
 * Renders an app's site into out (outlen bytes).  ports[0..n) are the
 * loopback host ports; n == 0 renders "return 503;" (and an upstream whose
 * one server is down, so host files can always name it).  Returns the
 * length, or -1 when it does not fit.
 */
int edge_render(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, char *out,
    size_t outlen);

/* A function's site (methods non-NULL: its http trigger's "GET|POST", others
 * answer 405; "" = every method), or an app's (NULL).  methods is [A-Z|].
 * The header names the function's methods, which host files routing to it
 * apply too (edge_site_fn_methods). */
int edge_render_methods(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, const char *methods,
    char *out, size_t outlen);

/* The same for a function whose container may be stopped for idleness
 * (fnscale.h): wake is the agent's wake socket (NULL = none: as above). */
int edge_render_fn(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, const char *methods,
    const char *wake, char *out, size_t outlen);

/*
 * A public bucket's site (bucket.public): hostname's GET and HEAD go to
 * <endpoint>/<bucket_name>/ (endpoint http(s)://host[:port]) without the
 * client's Authorization or Cookie; other methods answer 405.  Length, or
 * -1 when it does not fit or hostname, endpoint or bucket_name is not one.
 */
int edge_render_bucket(const char *bucket_id, const char *bucket_name, const char *hostname,
    const char *listen, const char *endpoint, char *out, size_t outlen);

/* A site's header: a function's (0, its methods into methods, "" = all) or
 * not (-1: an app's, a bucket's, not ours). */
int edge_site_fn_methods(const char *site, char *methods, size_t len);

/* The site's path (<edge_sites_dir>/app-<app_id>.conf); 0 or -1. */
int edge_path(const struct agent_conf *c, const char *app_id, char *out, size_t outlen);

/*
 * Installs content as the app's site (and re-renders the host files naming
 * the app): write, test, reload, everything put back when either fails.
 * Refused, before anything is written, when another site in edge_sites_dir
 * has the same server_name.  Returns 0, or -1 with the reason (nginx's
 * message) in err.
 */
int edge_install(const struct agent_conf *c, const char *app_id, const char *content,
    char *err, size_t errlen);

/* Removes the app's site (absent is fine), re-renders the host files naming
 * it (503 there), tests and reloads; 0 or -1 (err). */
int edge_remove(const struct agent_conf *c, const char *app_id, char *err, size_t errlen);

/* ------------------------------------------------------------ custom hosts */

struct edge_route {
	char prefix[EDGE_PREFIX_MAX + 1];
	char app_id[37];
	bool redirect;		/* 308 to https once the host has a certificate */
	bool function;		/* a function's route: served only with its site's
				 * methods (fn_methods), else 503 */
};

struct edge_host {
	char              hostname[254];
	int64_t           version;
	size_t            n;
	struct edge_route r[EDGE_ROUTES_MAX];	/* longest prefix first */
};

/* What a host file's rendering depends on besides the routes. */
struct edge_host_env {
	const char *listen, *tls_listen, *webroot;
	int64_t     https_port;
	const char *cert, *key;			/* both set: TLS on */
	bool        app_up[EDGE_ROUTES_MAX];	/* per route: app-<id>.conf exists */
	/* per route: the target is a function, with its methods ("" = all);
	 * NULL: an application, or a function's site without its header
	 * (an older agent's): 503 for a function's route */
	const char *fn_methods[EDGE_ROUTES_MAX];
	/* the agent's wake socket (fnscale.h) for function routes; NULL: none */
	const char *fn_wake;
};

/*
 * An edge.host payload {"hostname", "version", "routes": [{"path_prefix",
 * "app_id" (an application's or a function's id: its site's), "https_redirect",
 * "function" (true: a function's route)}]}
 * into h, checked (hostname per
 * acme_hostname_ok, prefixes '/'-rooted of [A-Za-z0-9/._~%!+,=:@-] without
 * "..", UUIDs, no prefix twice, none under /.well-known/acme-challenge/).
 * 0, or -1 with the reason in err.
 */
int edge_host_parse(const cJSON *payload, struct edge_host *h, char *err, size_t errlen);
/* A host file's header back into h; 0, or -1 when it is not one of ours. */
int edge_host_read(const char *text, struct edge_host *h);
/* Renders a host file (header, plain server, TLS server); length or -1. */
int edge_host_render(const struct edge_host *h, const struct edge_host_env *env, char *out,
    size_t outlen);
/* host-<hostname>.conf ("*." made "_wildcard_."), under edge_sites_dir; 0 or -1. */
int edge_host_path(const struct agent_conf *c, const char *hostname, char *out, size_t outlen);

/*
 * The edge.host job: renders (or, with no routes, removes) the host file,
 * tests, reloads.  A payload whose version is not newer than the last one
 * applied is skipped (*skipped true, nothing changed).  0 or -1 (err).
 */
int edge_host_apply(const struct agent_conf *c, const struct edge_host *h, bool *skipped,
    char *err, size_t errlen);

/* acme_webroot, or <state_dir>/acme-webroot; edge_certs_dir, or <state_dir>/certs. */
int edge_webroot(const struct agent_conf *c, char *out, size_t outlen);
int edge_certs_dir(const struct agent_conf *c, char *out, size_t outlen);
/*
 * Makes the webroot exist, readable by nginx's workers (0755; the default,
 * under state_dir, makes state_dir searchable: 0711).  0 or -1 (err).
 */
int edge_webroot_ready(const struct agent_conf *c, char *out, size_t outlen, char *err,
    size_t errlen);

/*
 * Installs a certificate for hostname (<edge_certs_dir>/<hostname>/
 * fullchain.pem and key.pem, 0600) and re-renders its host file with TLS,
 * as one change set: the previous certificate is back when nginx refuses.
 * The host file must exist (edge.host ran).  0 or -1 (err).
 */
int edge_cert_install(const struct agent_conf *c, const char *hostname, const char *fullchain,
    size_t fullchain_len, const char *key, size_t key_len, char *err, size_t errlen);

#endif
