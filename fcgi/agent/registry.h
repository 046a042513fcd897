/*
 * registry.h - container registries on the agent's side (API.md §14):
 * the registry.test job (the registry v2 login handshake, over libcurl),
 * and what pulls and pushes through the engine need: the X-Registry-Auth
 * header, which registry an image reference lives on, and the tag a built
 * image is pushed under.
 *
 * Where the credentials come from: the claim's answer adds, to a
 * registry.test job and to an app.* job whose application names a
 * registry, "registry": {type, url, username?, password?} (opened by the
 * plane from registries.password_sealed; never in the stored payload).
 * The password goes into a request header only (Authorization: Basic of
 * the check, through xfer_remote_ca; X-Registry-Auth / X-Registry-Config of
 * the engine's calls), wiped after use: never argv, a URL, a progress line
 * or an error.
 *
 * Everything but registry_test() is pure and table-tested
 * (tests/unit/test_agent_registry.c).
 */
#ifndef LAUNCHER_AGENT_REGISTRY_H
#define LAUNCHER_AGENT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "conf.h"

/* A payload's "registry" object, read (strings point into the cJSON). */
struct reg_creds {
	const char *type;	/* docker_hub, ghcr, gitlab, custom */
	const char *url;	/* scheme://host[:port][/path], normalised by the plane */
	const char *username;	/* NULL: anonymous */
	const char *password;	/* NULL: none */
};

/* Reads a payload's "registry" object (may be NULL); false when absent or malformed. */
bool reg_creds_of(const cJSON *registry, struct reg_creds *out);

/* A WWW-Authenticate challenge (RFC 7235) of a registry's GET /v2/. */
struct reg_challenge {
	char scheme[16];	/* "basic" or "bearer" (lower-case); "" none */
	char realm[1024];
	char service[256];
	char scope[512];
};

/*
 * Parses a WWW-Authenticate value: `Basic realm="x"`,
 * `Bearer realm="https://auth.example/token",service="reg",scope="..."`
 * (parameters quoted or not, any order, case-insensitive names).  0, or -1
 * when it is no challenge or a part does not fit.
 */
int  reg_challenge_parse(const char *value, struct reg_challenge *out);

/*
 * The engine's X-Registry-Auth value: base64url (with padding, as Docker
 * and Podman decode it) of {"username", "password", "serveraddress"}.
 * 0, or -1 when it does not fit outlen.  The caller wipes out after use.
 */
int  reg_auth_header(const struct reg_creds *c, char *out, size_t outlen);

/*
 * The engine's X-Registry-Config value for a build (the credentials of the
 * FROM images): base64url of {"<serveraddress>": {username, password,
 * serveraddress}}, the server address as in reg_auth_header.  0 or -1.
 */
int  reg_config_header(const struct reg_creds *c, char *out, size_t outlen);

/*
 * The registry host an image reference is pulled from, the engine's way:
 * the first path component when it has a '.' or ':' or is "localhost",
 * else Docker Hub ("docker.io").  Lower-case.  0 or -1 (does not fit).
 */
int  reg_image_host(const char *ref, char *out, size_t outlen);
/* The host[:port] of a registry url, Docker Hub's names as "docker.io". */
int  reg_url_host(const char *url, char *out, size_t outlen);
/* Whether ref is an image of the registry at url (same host). */
bool reg_serves(const char *url, const char *ref);

/*
 * The reference a build of application app_name (the app's name, a slug),
 * deployment dep_id, is pushed under on registry c:
 *   <host>[/<url path>]/<app_name>:<dep_id>      when the url has a path
 *   <host>/<username>/<app_name>:<dep_id>        else (Docker Hub's,
 *                                                ghcr's and GitLab's namespace)
 *   <host>/launcher/<app_name>:<dep_id>          with neither
 * with Docker Hub's host written docker.io; lower-case.  0 or -1.
 */
int  reg_push_ref(const struct reg_creds *c, const char *app_name, const char *dep_id, char *out,
    size_t outlen);

/*
 * registry.test: GET <url>/v2/; on 401 its challenge: Basic -> the same
 * GET with Basic credentials; Bearer -> GET realm?service=&scope= with
 * Basic credentials (when there are any), then GET /v2/ with the token.
 * *result gets {ok, reason, message, auth, http_status, url}: reason is
 * "ok", "unauthorized", "unreachable", "tls_error" or "error".  Returns 0
 * when the login worked, -1 otherwise (err: the message, also the job's
 * error).  TLS is verified against the system's CAs plus
 * conf->registry_ca_file; plain http:// only when the url says so.
 */
int  registry_test(const struct agent_conf *conf, const cJSON *payload, cJSON **result, char *err,
    size_t errlen);

#endif
