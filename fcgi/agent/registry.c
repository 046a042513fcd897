/*
 * registry.c - registries on the agent's side (see registry.h).
 */
#include "registry.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "ctr.h"
#include "text.h"
#include "xfer.h"

#define REG_TIMEOUT_MS  20000L
#define REG_MAX_BODY    ((size_t)256 << 10)	/* a token answer is a few KiB */
#define REG_USER_AGENT  "launcher-agent/" AGENT_VERSION

/* ------------------------------------------------------------- pure parts */

bool
reg_creds_of(const cJSON *r, struct reg_creds *out)
{
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(r) || (out->url = util_json_str(r, "url")) == NULL ||
	    (strncmp(out->url, "https://", 8) != 0 && strncmp(out->url, "http://", 7) != 0))
		return false;
	out->type = util_json_str(r, "type") ? util_json_str(r, "type") : "custom";
	out->username = util_json_str(r, "username");
	out->password = util_json_str(r, "password");
	return true;
}

/* Copies a token or quoted string at *p into out; advances *p.  0 or -1. */
static int
param_value(const char **p, char *out, size_t outlen)
{
	const char *s = *p;
	size_t      n = 0;

	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *s;
		}
		if (*s != '"')
			return -1;
		s++;
	} else
		for (; *s && *s != ',' && *s != ' ' && *s != '\t'; s++) {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *s;
		}
	out[n] = '\0';
	*p = s;
	return 0;
}

int
reg_challenge_parse(const char *value, struct reg_challenge *out)
{
	const char *p = value;
	size_t      n;

	memset(out, 0, sizeof(*out));
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 0 || n >= sizeof(out->scheme))
		return -1;
	for (size_t i = 0; i < n; i++)
		out->scheme[i] = (char)tolower((unsigned char)p[i]);
	if (strcmp(out->scheme, "basic") != 0 && strcmp(out->scheme, "bearer") != 0)
		return -1;
	p += n;
	for (;;) {
		char        name[32], junk[1024];
		char       *dst = junk;
		size_t      dlen = sizeof(junk);

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, "= \t,");
		if (p[n] != '=' || n == 0 || n >= sizeof(name))
			return -1;
		memcpy(name, p, n);
		name[n] = '\0';
		p += n + 1;
		if (strcasecmp(name, "realm") == 0)
			dst = out->realm, dlen = sizeof(out->realm);
		else if (strcasecmp(name, "service") == 0)
			dst = out->service, dlen = sizeof(out->service);
		else if (strcasecmp(name, "scope") == 0)
			dst = out->scope, dlen = sizeof(out->scope);
		if (param_value(&p, dst, dlen) != 0)
			return -1;
	}
	return strcmp(out->scheme, "bearer") == 0 && out->realm[0] == '\0' ? -1 : 0;
}

/* host[:port] of url (after the scheme, up to the path). */
static int
url_hostport(const char *url, char *out, size_t outlen)
{
	const char *h = strstr(url, "://");
	size_t      n;

	h = h ? h + 3 : url;
	n = strcspn(h, "/");
	if (n == 0 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)h[i]);
	out[n] = '\0';
	return 0;
}

static bool
is_docker_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
	    strcmp(host, "registry-1.docker.io") == 0 || strcmp(host, "registry.hub.docker.com") == 0;
}

int
reg_url_host(const char *url, char *out, size_t outlen)
{
	if (url_hostport(url, out, outlen) != 0)
		return -1;
	if (is_docker_hub(out))
		return util_snprintf(out, outlen, "docker.io") < 0 ? -1 : 0;
	return 0;
}

int
reg_image_host(const char *ref, char *out, size_t outlen)
{
	size_t n = strcspn(ref, "/");

	if (ref[n] == '/' && (memchr(ref, '.', n) != NULL || memchr(ref, ':', n) != NULL ||
	    (n == 9 && strncmp(ref, "localhost", 9) == 0))) {
		if (n >= outlen)
			return -1;
		for (size_t i = 0; i < n; i++)
			out[i] = (char)tolower((unsigned char)ref[i]);
		out[n] = '\0';
		if (is_docker_hub(out))
			return util_snprintf(out, outlen, "docker.io") < 0 ? -1 : 0;
		return 0;
	}
	return util_snprintf(out, outlen, "docker.io") < 0 ? -1 : 0;
}

bool
reg_serves(const char *url, const char *ref)
{
	char a[300], b[300];

	return reg_url_host(url, a, sizeof(a)) == 0 && reg_image_host(ref, b, sizeof(b)) == 0 &&
	    strcmp(a, b) == 0;
}

/* {username, password, serveraddress} of c, or NULL; *server points into host or is constant. */
static cJSON *
auth_config(const struct reg_creds *c, char *host, size_t hostlen, const char **server)
{
	cJSON *o;

	if (url_hostport(c->url, host, hostlen) != 0 || (o = cJSON_CreateObject()) == NULL)
		return NULL;
	/* Docker Hub's credentials are keyed by its index URL; others by host. */
	*server = is_docker_hub(host) ? "https://index.docker.io/v1/" : host;
	cJSON_AddStringToObject(o, "username", c->username ? c->username : "");
	cJSON_AddStringToObject(o, "password", c->password ? c->password : "");
	cJSON_AddStringToObject(o, "serveraddress", *server);
	return o;
}

/* base64url (padded) of o's text into out; o is deleted. */
static int
encode_json(cJSON *o, char *out, size_t outlen)
{
	char  *json = o ? cJSON_PrintUnformatted(o) : NULL;
	size_t n, need;
	int    rc = -1;

	cJSON_Delete(o);
	if (json == NULL)
		return -1;
	n = strlen(json);
	need = 4 * ((n + 2) / 3) + 1;
	if (need <= outlen) {
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, (int)n);
		for (char *p = out; *p; p++)
			if (*p == '+')
				*p = '-';
			else if (*p == '/')
				*p = '_';
		rc = 0;
	}
	explicit_bzero(json, n);
	cJSON_free(json);
	return rc;
}

int
reg_auth_header(const struct reg_creds *c, char *out, size_t outlen)
{
	char        host[300];
	const char *server;

	return encode_json(auth_config(c, host, sizeof(host), &server), out, outlen);
}

int
reg_config_header(const struct reg_creds *c, char *out, size_t outlen)
{
	char        host[300];
	const char *server;
	cJSON      *one = auth_config(c, host, sizeof(host), &server), *map;

	if (one == NULL || (map = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(one);
		return -1;
	}
	cJSON_AddItemToObject(map, server, one);
	return encode_json(map, out, outlen);
}

/* A repository path component: lower-case [a-z0-9._-], no leading separator. */
static void
repo_component(char *s)
{
	for (char *p = s; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-' || *p == '/'))
			*p = '-';
	}
}

int
reg_push_ref(const struct reg_creds *c, const char *app_name, const char *dep_id, char *out,
    size_t outlen)
{
	char        host[300], ns[600], name[200];
	const char *h = strstr(c->url, "://"), *path;
	size_t      n;

	if (reg_url_host(c->url, host, sizeof(host)) != 0 || app_name == NULL || app_name[0] == '\0')
		return -1;
	h = h ? h + 3 : c->url;
	path = h + strcspn(h, "/");
	while (*path == '/')
		path++;
	if (util_snprintf(ns, sizeof(ns), "%s", *path ? path : c->username ? c->username :
	    "launcher") < 0 || util_snprintf(name, sizeof(name), "%s", app_name) < 0)
		return -1;
	n = strlen(ns);
	while (n > 0 && ns[n - 1] == '/')
		ns[--n] = '\0';
	repo_component(ns);
	repo_component(name);
	return util_snprintf(out, outlen, "%s/%s/%s:%s", host, ns, name, dep_id) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- HTTP */

/* An answer (xfer.h) and the first WWW-Authenticate value of its headers. */
struct hresp {
	struct xfer_resp x;
	char             www[2048];
};

/* The value of the first header line named name (with its ':') in lines. */
static void
header_value(const char *lines, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = lines; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncasecmp(p, name, n) == 0) {
			p += n;
			while (*p == ' ' || *p == '\t')
				p++;
			(void)util_snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
			return;
		}
	}
}

/*
 * GET url with Basic credentials (user != NULL) or a bearer token, through
 * xfer_remote_ca (TLS against the system's CAs and registry_ca_file).  The
 * Authorization line is wiped after the call.  0 when an answer came.
 */
static int
get(const struct agent_conf *conf, struct arena *a, const char *url, const char *user,
    const char *pass, const char *bearer, struct hresp *r)
{
	const char *hdrs[2] = {NULL, NULL};
	char       *auth = NULL;
	int         rc;

	memset(r, 0, sizeof(*r));
	if (user != NULL) {
		const char *pair = arena_printf(a, "%s:%s", user, pass ? pass : "");
		size_t      n = strlen(pair), b64len = 4 * ((n + 2) / 3) + 1;
		char       *b64 = arena_alloc(a, b64len);

		if (b64 != NULL) {
			EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pair, (int)n);
			auth = arena_printf(a, "Authorization: Basic %s", b64);
			explicit_bzero(b64, strlen(b64));
		}
		explicit_bzero((char *)pair, n);
	} else if (bearer != NULL)
		auth = arena_printf(a, "Authorization: Bearer %s", bearer);
	if ((user != NULL || bearer != NULL) && auth == NULL) {
		r->x.fail = XFER_OTHER;
		(void)util_snprintf(r->x.err, sizeof(r->x.err), "out of memory");
		return -1;
	}
	hdrs[0] = auth;
	rc = xfer_remote_ca(a, "GET", url, hdrs, NULL, conf->registry_ca_file, REG_TIMEOUT_MS, &r->x);
	if (auth != NULL)
		explicit_bzero(auth, strlen(auth));
	if (rc == 0)
		header_value(r->x.headers, "WWW-Authenticate:", r->www, sizeof(r->www));
	return rc;
}

static const char *
reason_of(int fail)
{
	return fail == XFER_TLS ? "tls_error" : fail == XFER_UNREACHABLE ? "unreachable" : "error";
}

/* The job's result; returns 0 for reason "ok", else -1 with err = message. */
static int
verdict(cJSON **result, const char *url, const char *reason, const char *auth, long status,
    const char *msg, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	bool   ok = strcmp(reason, "ok") == 0;

	if (o != NULL) {
		cJSON_AddBoolToObject(o, "ok", ok);
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddStringToObject(o, "message", msg);
		cJSON_AddStringToObject(o, "auth", auth);
		if (status > 0)
			cJSON_AddNumberToObject(o, "http_status", (double)status);
		else
			cJSON_AddNullToObject(o, "http_status");
		cJSON_AddStringToObject(o, "url", url);
	}
	*result = o;
	if (!ok)
		(void)util_snprintf(err, errlen, "%s", msg);
	return ok ? 0 : -1;
}

/* A transport failure of the call to what (the registry, the token service). */
static int
transport(cJSON **result, struct arena *a, const char *url, const char *what,
    const char *auth, const struct hresp *r, char *err, size_t errlen)
{
	const char *reason = reason_of(r->x.fail);
	char        msg[sizeof(r->x.err)];

	(void)util_snprintf(msg, sizeof(msg), "%s", r->x.err);
	util_sanitize(msg, 0);
	return verdict(result, url, reason, auth, 0, arena_printf(a, "%s %s: %s",
	    strcmp(reason, "tls_error") == 0 ? "TLS error with" : "cannot reach", what, msg), err,
	    errlen);
}

/* GET realm?service=&scope= with Basic credentials; the token, or NULL (r says why). */
static const char *
fetch_token(const struct agent_conf *conf, struct arena *a, const struct reg_creds *c,
    const struct reg_challenge *ch, struct hresp *r)
{
	struct buf  u;
	cJSON      *doc;
	const char *tok = NULL;
	bool        first = strchr(ch->realm, '?') == NULL;

	buf_init(&u, a, 256, 8192);
	buf_adds(&u, ch->realm);
	if (ch->service[0]) {
		const char *v = ctr_qs_escape(a, ch->service);

		buf_adds(&u, first ? "?service=" : "&service=");
		buf_adds(&u, v ? v : "");
		first = false;
	}
	if (ch->scope[0]) {
		const char *v = ctr_qs_escape(a, ch->scope);

		buf_adds(&u, first ? "?scope=" : "&scope=");
		buf_adds(&u, v ? v : "");
	}
	buf_add(&u, "", 1);
	if (!buf_ok(&u) || get(conf, a, u.data, c->username, c->password, NULL, r) != 0 ||
	    r->x.status != 200 || (doc = cJSON_Parse(r->x.body)) == NULL)
		return NULL;
	if ((tok = util_json_str(doc, "token")) == NULL)
		tok = util_json_str(doc, "access_token");
	if (tok != NULL)
		tok = arena_strdup(a, tok);
	cJSON_Delete(doc);
	explicit_bzero(r->x.body, r->x.len);
	return tok;
}

static int
handshake(const struct agent_conf *conf, struct arena *a, const struct reg_creds *c,
    cJSON **result, char *err, size_t errlen)
{
	const char          *v2 = arena_printf(a, "%s/v2/", c->url), *tok;
	struct hresp         r, t;
	struct reg_challenge ch;
	bool                 creds = c->username != NULL;

	memset(&t, 0, sizeof(t));
	if (get(conf, a, v2, NULL, NULL, NULL, &r) != 0)
		return transport(result, a, c->url, c->url, "none", &r, err, errlen);
	if (r.x.status == 200)
		return verdict(result, c->url, "ok", "none", 200, creds ?
		    "the registry answers GET /v2/ without credentials (it asks for none)" :
		    "the registry answers GET /v2/ (no credentials needed)", err, errlen);
	if (r.x.status != 401)
		return verdict(result, c->url, "error", "none", r.x.status, arena_printf(a,
		    "GET %s answered HTTP %ld: is this a registry (v2 API)?", v2, r.x.status), err, errlen);
	if (reg_challenge_parse(r.www, &ch) != 0)
		return verdict(result, c->url, "error", "none", 401, arena_printf(a,
		    "GET %s answered 401 without a Basic or Bearer challenge", v2), err, errlen);
	if (!creds)
		return verdict(result, c->url, "unauthorized", ch.scheme, 401,
		    "the registry requires credentials and none are set (username, password)", err,
		    errlen);
	if (strcmp(ch.scheme, "basic") == 0) {
		if (get(conf, a, v2, c->username, c->password, NULL, &r) != 0)
			return transport(result, a, c->url, c->url, "basic", &r, err, errlen);
		if (r.x.status == 200)
			return verdict(result, c->url, "ok", "basic", 200,
			    "logged in with Basic authentication", err, errlen);
		return verdict(result, c->url, r.x.status == 401 || r.x.status == 403 ? "unauthorized" :
		    "error", "basic", r.x.status, arena_printf(a, "the registry refused the credentials "
		    "(HTTP %ld)", r.x.status), err, errlen);
	}
	if ((tok = fetch_token(conf, a, c, &ch, &t)) == NULL) {
		if (t.x.fail != XFER_OK)
			return transport(result, a, c->url, arena_printf(a, "the token service %s",
			    ch.realm), "bearer", &t, err, errlen);
		return verdict(result, c->url, t.x.status == 401 || t.x.status == 403 ? "unauthorized" :
		    "error", "bearer", t.x.status, t.x.status == 401 || t.x.status == 403 ?
		    arena_printf(a, "the token service %s refused the credentials (HTTP %ld)",
		    ch.realm, t.x.status) : arena_printf(a, "the token service %s gave no token "
		    "(HTTP %ld)", ch.realm, t.x.status), err, errlen);
	}
	if (get(conf, a, v2, NULL, NULL, tok, &r) != 0)
		return transport(result, a, c->url, c->url, "bearer", &r, err, errlen);
	explicit_bzero((char *)tok, strlen(tok));
	if (r.x.status == 200)
		return verdict(result, c->url, "ok", "bearer", 200, arena_printf(a,
		    "logged in with a bearer token from %s", ch.realm), err, errlen);
	return verdict(result, c->url, r.x.status == 401 || r.x.status == 403 ? "unauthorized" : "error",
	    "bearer", r.x.status, arena_printf(a, "the registry refused the token of %s (HTTP %ld)",
	    ch.realm, r.x.status), err, errlen);
}

int
registry_test(const struct agent_conf *conf, const cJSON *payload, cJSON **result, char *err,
    size_t errlen)
{
	struct reg_creds c;
	struct arena     a;
	int              rc;

	*result = NULL;
	if (!reg_creds_of(cJSON_GetObjectItemCaseSensitive(payload, "registry"), &c)) {
		(void)util_snprintf(err, errlen, "no such registry (deleted since the test was asked?)");
		return -1;
	}
	arena_init(&a, 16384);
	rc = handshake(conf, &a, &c, result, err, errlen);
	arena_free(&a);
	if (*result == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	return rc;
}
