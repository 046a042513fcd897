/*
 * gitprov.c - the git.* jobs: calls to a git provider's REST API (see
 * gitprov.h).  Every call goes through call(), which adds the credential
 * header, reads the answer and turns a refusal into one error message
 * (rate limits with their reset time); every message passes redact()
 * with the token and the secret before it leaves.
 */
#include "gitprov.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "../core/arena.h"
#include "../core/redact.h"
#include "../core/util.h"
#include "text.h"
#include "timefmt.h"
#include "xfer.h"

enum gp_type { GP_GITHUB, GP_GITLAB, GP_BITBUCKET };

struct gp {
	const struct agent_conf *conf;
	struct arena            *a;
	enum gp_type             type;
	const char              *type_name;
	char                     api[2200];	/* the API root, no trailing '/' */
	const char              *token, *username, *secret;
	bool                     username_given;
	void                   (*progress)(void *ud, const char *line);
	void                    *ud;
	char                    *err;
	size_t                   errlen;
};

/* err = the message with the token and the secret redacted; returns -1. */
static int
fail(struct gp *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
fail(struct gp *g, const char *fmt, ...)
{
	char        raw[2048];
	const char *vals[2] = {g->token, g->secret};
	va_list     ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	util_sanitize(raw, 0);
	(void)redact(vals, 2, true, raw, g->err, g->errlen);
	return -1;
}

static void
say(struct gp *g, const char *line)
{
	char        out[1024];
	const char *vals[2] = {g->token, g->secret};

	if (g->progress == NULL)
		return;
	(void)redact(vals, 2, true, line, out, sizeof(out));
	g->progress(g->ud, out);
}

/* The value of the last header name in a header block, in out; false if none. */
static bool
header(const char *block, const char *name, char *out, size_t outlen)
{
	size_t      n = strlen(name);
	bool        found = false;
	const char *p = block;

	while (p != NULL && *p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ' || *v == '\t')
				v++;
			e = v + strcspn(v, "\r\n");
			(void)util_snprintf(out, outlen, "%.*s", (int)(e - v), v);
			found = true;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return found;
}

int
gitprov_link_next(const char *link, char *out, size_t outlen)
{
	const char *p = link;

	/* <url>; rel="next", <url>; rel="last" */
	while ((p = strchr(p, '<')) != NULL) {
		const char *end = strchr(p, '>'), *stop;

		if (end == NULL)
			return -1;
		stop = strchr(end, ',');
		if (stop == NULL)
			stop = end + strlen(end);
		for (const char *q = end; q < stop; q++)
			if (strncmp(q, "rel=\"next\"", 10) == 0 || strncmp(q, "rel=next", 8) == 0)
				return util_snprintf(out, outlen, "%.*s", (int)(end - p - 1), p + 1) < 0 ?
				    -1 : 0;
		p = stop;
	}
	return -1;
}

int
gitprov_repo_path(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *at;
	size_t      n;

	if (p != NULL) {
		p += 3;
		if ((p = strchr(p, '/')) == NULL)
			return -1;
		p++;
	} else if ((p = strchr(url, ':')) != NULL && ((at = strchr(url, '@')) == NULL || at < p))
		p++;	/* git@host:owner/name.git */
	else
		return -1;
	n = strcspn(p, "?#");
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n > 4 && strncmp(p + n - 4, ".git", 4) == 0)
		n -= 4;
	if (n == 0 || memchr(p, '/', n) == NULL)
		return -1;
	return util_snprintf(out, outlen, "%.*s", (int)n, p) < 0 ? -1 : 0;
}

/* s with every byte outside [A-Za-z0-9-._~] percent-encoded (arena). */
static const char *
enc(struct gp *g, const char *s, const char *keep)
{
	size_t n = strlen(s);
	char  *o = arena_alloc(g->a, n * 3 + 1);

	if (o == NULL || util_pct_encode(o, n * 3 + 1, s, n, keep) < 0)
		return "";
	return o;
}

/* When a rate-limited answer may be retried, as text ("" when unknown). */
static void
retry_time(const char *hdrs, char *out, size_t outlen)
{
	char   v[64];
	double at = 0;
	char  *end;

	out[0] = '\0';
	if (header(hdrs, "Retry-After", v, sizeof(v))) {
		long s = strtol(v, &end, 10);

		if (end != v && *end == '\0' && s >= 0 && s < 86400 * 7)
			at = timefmt_wall() + (double)s;
	}
	if (at == 0 && (header(hdrs, "X-RateLimit-Reset", v, sizeof(v)) ||
	    header(hdrs, "RateLimit-Reset", v, sizeof(v)))) {
		long long t = strtoll(v, &end, 10);

		if (end != v && *end == '\0' && t > 0)
			at = t < 86400LL * 7 ? timefmt_wall() + (double)t : (double)t;
	}
	if (at > 0)
		(void)timefmt_rfc3339(out, outlen, at);
}

/*
 * method url (absolute) with the credential; 0 and *out (parsed JSON, or
 * NULL for an empty answer) and *hdrs on a 2xx; -1 with the error set
 * otherwise.  what names the call in errors ("GET /user").
 */
static int
call(struct gp *g, const char *method, const char *url, const char *body, cJSON **out,
    const char **hdrs_out)
{
	struct xfer_resp r;
	const char      *hdrs[4];
	char             auth[4600], remaining[32], when[40], path[300];
	const char      *what;
	cJSON           *j;
	int              rc;

	*out = NULL;
	(void)util_snprintf(path, sizeof(path), "%s", url + strlen(g->api));
	path[strcspn(path, "?")] = '\0';
	what = arena_printf(g->a, "%s %s", method, path);
	if (g->type == GP_BITBUCKET && g->username_given) {
		char  up[4400];
		char *b64 = arena_alloc(g->a, 6000);

		(void)util_snprintf(up, sizeof(up), "%s:%s", g->username, g->token);
		if (b64 == NULL)
			return fail(g, "%s: out of memory", what);
		(void)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)up, (int)strlen(up));
		(void)util_snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
		explicit_bzero(up, sizeof(up));
		explicit_bzero(b64, strlen(b64));
	} else
		(void)util_snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->token);
	hdrs[0] = auth;
	hdrs[1] = g->type == GP_GITHUB ? "Accept: application/vnd.github+json" :
	    "Accept: application/json";
	hdrs[2] = g->type == GP_GITHUB ? "X-GitHub-Api-Version: 2022-11-28" : NULL;
	hdrs[3] = NULL;
	rc = xfer_remote(g->a, method, url, hdrs, body, GITPROV_TIMEOUT_MS, &r);
	explicit_bzero(auth, sizeof(auth));
	if (rc != 0)
		return fail(g, "%s on %s failed: %s", what, g->type_name, r.err);
	if (hdrs_out != NULL)
		*hdrs_out = r.headers;
	if ((r.status == 403 || r.status == 429) &&
	    ((header(r.headers, "X-RateLimit-Remaining", remaining, sizeof(remaining)) &&
	    strcmp(remaining, "0") == 0) || header(r.headers, "Retry-After", when, sizeof(when)) ||
	    r.status == 429)) {
		retry_time(r.headers, when, sizeof(when));
		return fail(g, "%s on %s: rate limited (HTTP %ld); %s%s", what, g->type_name,
		    r.status, when[0] ? "retry after " : "retry later",
		    when[0] ? when : "");
	}
	j = r.len > 0 ? cJSON_Parse(r.body) : NULL;
	if (r.status < 200 || r.status > 299) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
		char         msg[300] = "";

		if (cJSON_IsObject(e))
			m = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (cJSON_IsString(m))
			(void)util_snprintf(msg, sizeof(msg), ": %s", m->valuestring);
		else if (cJSON_IsString(e))
			(void)util_snprintf(msg, sizeof(msg), ": %s", e->valuestring);
		cJSON_Delete(j);
		if (r.status == 401)
			return fail(g, "%s on %s: the provider refused the token (HTTP 401%s)", what,
			    g->type_name, msg);
		return fail(g, "%s on %s answered HTTP %ld%s", what, g->type_name, r.status, msg);
	}
	if (r.len > 0 && j == NULL)
		return fail(g, "%s on %s: the answer is not JSON", what, g->type_name);
	say(g, arena_printf(g->a, "%s: HTTP %ld", what, r.status));
	*out = j;
	return 0;
}

/* GET of api + rel. */
static int
get(struct gp *g, const char *rel, cJSON **out, const char **hdrs)
{
	return call(g, "GET", arena_printf(g->a, "%s%s", g->api, rel), NULL, out, hdrs);
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The next page as a path under the API root (NULL: none, or elsewhere). */
static const char *
next_rel(struct gp *g, const cJSON *body, const char *hdrs)
{
	char        link[4096], next[2200];
	const char *n = NULL;

	if (g->type == GP_BITBUCKET)
		n = str(body, "next");
	else if (hdrs != NULL && header(hdrs, "Link", link, sizeof(link)) &&
	    gitprov_link_next(link, next, sizeof(next)) == 0)
		n = next;
	if (n == NULL || strncmp(n, g->api, strlen(g->api)) != 0 || n[strlen(g->api)] != '/')
		return NULL;
	return arena_strdup(g->a, n + strlen(g->api));
}

/* The relative path a cursor holds (hex), checked: NULL when it is not one of ours. */
static const char *
cursor_rel(struct gp *g, const char *cur)
{
	size_t n = strlen(cur) / 2;
	char  *o = arena_alloc(g->a, n + 1);

	if (o == NULL || strlen(cur) % 2 != 0 || n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char     h[3] = {cur[2 * i], cur[2 * i + 1], 0};
		char    *end;

		v = (unsigned)strtoul(h, &end, 16);
		if (*end != '\0' || v < 0x21 || v > 0x7e)
			return NULL;
		o[i] = (char)v;
	}
	o[n] = '\0';
	if (o[0] != '/' || strstr(o, "..") != NULL || strchr(o, '@') != NULL ||
	    strstr(o, "//") != NULL || strchr(o, '#') != NULL || strchr(o, '\\') != NULL)
		return NULL;
	return o;
}

static const char *
cursor_of(struct gp *g, const char *rel)
{
	size_t n = strlen(rel);
	char  *o = arena_alloc(g->a, 2 * n + 1);

	if (o == NULL)
		return NULL;
	util_hex(o, (const unsigned char *)rel, n);
	return o;
}

/* ------------------------------------------------------------- kinds */

static int
who(struct gp *g, cJSON **result)
{
	cJSON      *u;
	const char *login, *name;

	if (get(g, "/user", &u, NULL) != 0)
		return -1;
	login = str(u, g->type == GP_GITHUB ? "login" : "username");
	name = str(u, g->type == GP_BITBUCKET ? "display_name" : "name");
	if (login == NULL) {
		cJSON_Delete(u);
		return fail(g, "GET /user on %s: the answer names no user", g->type_name);
	}
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "login", login);
	if (name != NULL)
		cJSON_AddStringToObject(*result, "name", name);
	else
		cJSON_AddNullToObject(*result, "name");
	cJSON_AddStringToObject(*result, "api_url", g->api);
	cJSON_Delete(u);
	return 0;
}

/* One repository of any provider's answer in our shape. */
static cJSON *
repo_item(struct gp *g, const cJSON *it)
{
	cJSON       *o = cJSON_CreateObject();
	const char  *full = NULL, *name = NULL, *clone = NULL, *def = NULL;
	bool         priv = false;
	const cJSON *v;

	switch (g->type) {
	case GP_GITHUB:
		full = str(it, "full_name"), name = str(it, "name"), clone = str(it, "clone_url");
		def = str(it, "default_branch");
		priv = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "private"));
		break;
	case GP_GITLAB:
		full = str(it, "path_with_namespace"), name = str(it, "name");
		clone = str(it, "http_url_to_repo"), def = str(it, "default_branch");
		priv = str(it, "visibility") == NULL || strcmp(str(it, "visibility"), "public") != 0;
		break;
	case GP_BITBUCKET:
		full = str(it, "full_name"), name = str(it, "name");
		v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "links"),
		    "clone");
		for (const cJSON *c = cJSON_IsArray(v) ? v->child : NULL; c; c = c->next)
			if (str(c, "name") != NULL && strcmp(str(c, "name"), "https") == 0)
				clone = str(c, "href");
		def = str(cJSON_GetObjectItemCaseSensitive(it, "mainbranch"), "name");
		priv = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "is_private"));
		break;
	}
	/* A clone URL from Bitbucket carries "user@": not a credential, but not ours to keep. */
	if (clone != NULL) {
		char url[2100], cred[300];

		if (util_url_split_cred(clone, url, sizeof(url), cred, sizeof(cred)) == 0)
			clone = arena_strdup(g->a, url);
	}
	cJSON_AddStringToObject(o, "full_name", full ? full : "");
	cJSON_AddStringToObject(o, "name", name ? name : "");
	if (clone)
		cJSON_AddStringToObject(o, "clone_url", clone);
	else
		cJSON_AddNullToObject(o, "clone_url");
	if (def)
		cJSON_AddStringToObject(o, "default_branch", def);
	else
		cJSON_AddNullToObject(o, "default_branch");
	cJSON_AddBoolToObject(o, "private", priv);
	return o;
}

static int
repositories(struct gp *g, const cJSON *p, cJSON **result)
{
	const char  *q = str(p, "q"), *cur = str(p, "cursor"), *rel, *hdrs = NULL, *next;
	const cJSON *items;
	cJSON       *body, *list;

	if (cur != NULL) {
		if ((rel = cursor_rel(g, cur)) == NULL)
			return fail(g, "cursor: not a cursor of this provider's list");
	} else if (g->type == GP_GITHUB)
		rel = q ? arena_printf(g->a, "/search/repositories?q=%s&per_page=%d", enc(g, q, NULL),
		    GITPROV_PAGE) : arena_printf(g->a, "/user/repos?per_page=%d&sort=updated",
		    GITPROV_PAGE);
	else if (g->type == GP_GITLAB)
		rel = arena_printf(g->a, "/projects?membership=true&order_by=last_activity_at"
		    "&per_page=%d%s%s", GITPROV_PAGE, q ? "&search=" : "", q ? enc(g, q, NULL) : "");
	else {
		/* The workspace: the provider's user name, else the token's user. */
		const char *ws = g->username_given ? g->username : NULL;
		cJSON      *u = NULL;

		if (ws == NULL) {
			if (get(g, "/user", &u, NULL) != 0)
				return -1;
			ws = str(u, "username") ? arena_strdup(g->a, str(u, "username")) : NULL;
			cJSON_Delete(u);
			if (ws == NULL)
				return fail(g, "GET /user on bitbucket: the answer names no user");
		}
		rel = arena_printf(g->a, "/repositories/%s?pagelen=%d&sort=-updated_on%s%s",
		    enc(g, ws, NULL), GITPROV_PAGE, q ? "&q=" : "",
		    q ? enc(g, arena_printf(g->a, "name ~ \"%s\"", q), NULL) : "");
	}
	if (get(g, rel, &body, &hdrs) != 0)
		return -1;
	items = g->type == GP_GITHUB && cJSON_IsObject(body) ?
	    cJSON_GetObjectItemCaseSensitive(body, "items") : g->type == GP_BITBUCKET ?
	    cJSON_GetObjectItemCaseSensitive(body, "values") : body;
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(body);
		return fail(g, "GET %.80s on %s: the answer holds no list of repositories", rel,
		    g->type_name);
	}
	list = cJSON_CreateArray();
	for (const cJSON *it = items->child; it; it = it->next)
		cJSON_AddItemToArray(list, repo_item(g, it));
	next = next_rel(g, body, hdrs);
	cJSON_Delete(body);
	*result = cJSON_CreateObject();
	cJSON_AddItemToObject(*result, "repositories", list);
	if (next != NULL && (next = cursor_of(g, next)) != NULL)
		cJSON_AddStringToObject(*result, "next_cursor", next);
	else
		cJSON_AddNullToObject(*result, "next_cursor");
	return 0;
}

/* The repository's API path: /repos/o/r, /projects/o%2Fr, /repositories/o/r. */
static const char *
repo_api(struct gp *g, const char *path)
{
	if (g->type == GP_GITHUB)
		return arena_printf(g->a, "/repos/%s", enc(g, path, "/"));
	if (g->type == GP_GITLAB)
		return arena_printf(g->a, "/projects/%s", enc(g, path, NULL));
	return arena_printf(g->a, "/repositories/%s", enc(g, path, "/"));
}

static int
branches(struct gp *g, const cJSON *p, cJSON **result)
{
	const char *repo = str(p, "repository"), *rel, *hdrs = NULL;
	cJSON      *list, *body;
	bool        more = false;

	if (repo == NULL)
		return fail(g, "bad payload: repository is required");
	rel = arena_printf(g->a, "%s%s", repo_api(g, repo), g->type == GP_GITHUB ?
	    "/branches?per_page=100" : g->type == GP_GITLAB ? "/repository/branches?per_page=100" :
	    "/refs/branches?pagelen=100");
	list = cJSON_CreateArray();
	for (int page = 0; rel != NULL; page++) {
		const cJSON *items;

		if (page == GITPROV_MAX_PAGES) {
			more = true;
			break;
		}
		if (get(g, rel, &body, &hdrs) != 0) {
			cJSON_Delete(list);
			return -1;
		}
		items = g->type == GP_BITBUCKET ? cJSON_GetObjectItemCaseSensitive(body, "values") : body;
		for (const cJSON *it = cJSON_IsArray(items) ? items->child : NULL; it; it = it->next) {
			cJSON       *o = cJSON_CreateObject();
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(it,
			    g->type == GP_BITBUCKET ? "target" : "commit");
			const char  *sha = str(c, g->type == GP_GITHUB ? "sha" :
			    g->type == GP_GITLAB ? "id" : "hash");

			cJSON_AddStringToObject(o, "name", str(it, "name") ? str(it, "name") : "");
			if (sha)
				cJSON_AddStringToObject(o, "commit_sha", sha);
			else
				cJSON_AddNullToObject(o, "commit_sha");
			cJSON_AddBoolToObject(o, "protected",
			    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "protected")));
			cJSON_AddItemToArray(list, o);
		}
		rel = next_rel(g, body, hdrs);
		cJSON_Delete(body);
	}
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "repository", repo);
	cJSON_AddItemToObject(*result, "branches", list);
	cJSON_AddBoolToObject(*result, "truncated", more);
	return 0;
}

/* The id of the repository's hook whose URL is url (arena), NULL if none; -1 on error. */
static int
hook_find(struct gp *g, const char *base, const char *url, const char **id)
{
	const char *rel = arena_printf(g->a, "%s/hooks%s", base, g->type == GP_BITBUCKET ?
	    "?pagelen=100" : "?per_page=100"), *hdrs = NULL;
	cJSON      *body;

	*id = NULL;
	for (int page = 0; rel != NULL && page < GITPROV_MAX_PAGES && *id == NULL; page++) {
		const cJSON *items;

		if (get(g, rel, &body, &hdrs) != 0)
			return -1;
		items = g->type == GP_BITBUCKET ? cJSON_GetObjectItemCaseSensitive(body, "values") : body;
		for (const cJSON *it = cJSON_IsArray(items) ? items->child : NULL; it; it = it->next) {
			const char  *u = g->type == GP_GITHUB ?
			    str(cJSON_GetObjectItemCaseSensitive(it, "config"), "url") : str(it, "url");
			const cJSON *hid = cJSON_GetObjectItemCaseSensitive(it,
			    g->type == GP_BITBUCKET ? "uuid" : "id");

			if (u == NULL || strcmp(u, url) != 0)
				continue;
			if (cJSON_IsNumber(hid))
				*id = arena_printf(g->a, "%.0f", hid->valuedouble);
			else if (cJSON_IsString(hid))
				*id = arena_strdup(g->a, hid->valuestring);
			break;
		}
		rel = next_rel(g, body, hdrs);
		cJSON_Delete(body);
	}
	return 0;
}

static char *
hook_body(struct gp *g, const char *url, bool create)
{
	cJSON *o = cJSON_CreateObject(), *cfg;
	char  *t;

	switch (g->type) {
	case GP_GITHUB:
		if (create)
			cJSON_AddStringToObject(o, "name", "web");
		cJSON_AddBoolToObject(o, "active", 1);
		cJSON_AddItemToObject(o, "events", cJSON_CreateStringArray((const char *[]){"push"}, 1));
		cfg = cJSON_AddObjectToObject(o, "config");
		cJSON_AddStringToObject(cfg, "url", url);
		cJSON_AddStringToObject(cfg, "content_type", "json");
		cJSON_AddStringToObject(cfg, "secret", g->secret);
		cJSON_AddStringToObject(cfg, "insecure_ssl", "0");
		break;
	case GP_GITLAB:
		cJSON_AddStringToObject(o, "url", url);
		cJSON_AddBoolToObject(o, "push_events", 1);
		cJSON_AddBoolToObject(o, "tag_push_events", 1);
		cJSON_AddBoolToObject(o, "enable_ssl_verification", 1);
		cJSON_AddStringToObject(o, "token", g->secret);
		break;
	case GP_BITBUCKET:
		cJSON_AddStringToObject(o, "description", "Launcher autodeploy");
		cJSON_AddStringToObject(o, "url", url);
		cJSON_AddBoolToObject(o, "active", 1);
		cJSON_AddItemToObject(o, "events",
		    cJSON_CreateStringArray((const char *[]){"repo:push"}, 1));
		cJSON_AddStringToObject(o, "secret", g->secret);
		break;
	}
	t = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return t;
}

static int
hook(struct gp *g, const cJSON *p, cJSON **result)
{
	const char *action = str(p, "action"), *repo_url = str(p, "repository_url");
	const char *url = str(p, "url"), *base, *id = NULL, *idenc;
	char        path[600];
	bool        reg;
	cJSON      *ans = NULL;
	int         rc;

	if (action == NULL || (strcmp(action, "register") != 0 && strcmp(action, "remove") != 0) ||
	    repo_url == NULL || url == NULL)
		return fail(g, "bad payload: action (register|remove), repository_url and url are "
		    "required");
	reg = strcmp(action, "register") == 0;
	if (reg && (g->secret == NULL || g->secret[0] == '\0'))
		return fail(g, "the application has no webhook secret (autodeploy off?)");
	if (gitprov_repo_path(repo_url, path, sizeof(path)) != 0)
		return fail(g, "the repository URL names no owner/name path on %s", g->type_name);
	if (url[0] == '/')
		url = arena_printf(g->a, "%s%s", g->conf->plane_url, url);
	base = repo_api(g, path);
	if (hook_find(g, base, url, &id) != 0)
		return fail(g, "%s the push webhook of %s failed: %s", reg ? "registering" :
		    "removing", path, arena_strdup(g->a, g->err));
	idenc = id != NULL ? enc(g, id, NULL) : NULL;
	if (reg) {
		char *body = hook_body(g, url, id == NULL);

		if (body == NULL)
			return fail(g, "out of memory");
		rc = id == NULL ? call(g, "POST", arena_printf(g->a, "%s%s/hooks", g->api, base), body,
		    &ans, NULL) : call(g, g->type == GP_GITHUB ? "PATCH" : "PUT",
		    arena_printf(g->a, "%s%s/hooks/%s", g->api, base, idenc), body, &ans, NULL);
		explicit_bzero(body, strlen(body));
		cJSON_free(body);
		if (rc == 0 && id == NULL) {
			const cJSON *hid = cJSON_GetObjectItemCaseSensitive(ans,
			    g->type == GP_BITBUCKET ? "uuid" : "id");

			if (cJSON_IsNumber(hid))
				id = arena_printf(g->a, "%.0f", hid->valuedouble);
			else if (cJSON_IsString(hid))
				id = arena_strdup(g->a, hid->valuestring);
		}
	} else
		rc = id == NULL ? 0 : call(g, "DELETE", arena_printf(g->a, "%s%s/hooks/%s", g->api,
		    base, idenc), NULL, &ans, NULL);
	cJSON_Delete(ans);
	if (rc != 0)
		return fail(g, "%s the push webhook of %s failed (the token may lack the right to "
		    "manage its webhooks): %s", reg ? "registering" : "removing", path,
		    arena_strdup(g->a, g->err));
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "action", action);
	cJSON_AddStringToObject(*result, "repository", path);
	if (id != NULL)
		cJSON_AddStringToObject(*result, "hook_id", id);
	else
		cJSON_AddNullToObject(*result, "hook_id");
	cJSON_AddStringToObject(*result, "url", url);
	return 0;
}

/* ------------------------------------------------------------- entry */

static int
setup(struct gp *g, const cJSON *p)
{
	const char *type = str(p, "type"), *base = str(p, "base_url");
	int         n;

	g->token = str(p, "token");
	g->username = str(p, "username");
	g->secret = str(p, "secret");
	g->username_given = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "username_given"));
	if (type == NULL)
		return fail(g, "bad payload: type is required");
	g->type_name = type;
	if (g->token == NULL || g->username == NULL)
		return fail(g, "the git provider is gone, or its token could not be read");
	if (base != NULL && strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
		return fail(g, "bad payload: base_url must be an http(s) URL");
	if (strcmp(type, "github") == 0) {
		g->type = GP_GITHUB;
		n = base ? util_snprintf(g->api, sizeof(g->api), "%s/api/v3", base) :
		    util_snprintf(g->api, sizeof(g->api), "https://api.github.com");
	} else if (strcmp(type, "gitlab") == 0) {
		g->type = GP_GITLAB;
		n = util_snprintf(g->api, sizeof(g->api), "%s/api/v4", base ? base : "https://gitlab.com");
	} else if (strcmp(type, "bitbucket") == 0) {
		g->type = GP_BITBUCKET;
		n = base ? util_snprintf(g->api, sizeof(g->api), "%s/2.0", base) :
		    util_snprintf(g->api, sizeof(g->api), "https://api.bitbucket.org/2.0");
	} else
		return fail(g, "bad payload: unknown provider type %s", type);
	return n < 0 ? fail(g, "base_url is too long") : 0;
}

int
gitprov_run(const struct agent_conf *c, const char *kind, const cJSON *payload,
    void (*progress)(void *ud, const char *line), void *ud, cJSON **result, char *err,
    size_t errlen)
{
	struct arena a;
	struct gp    g = {.conf = c, .a = &a, .progress = progress, .ud = ud, .err = err,
	    .errlen = errlen};
	int          rc;

	*result = NULL;
	err[0] = '\0';
	arena_init(&a, 16384);
	if ((rc = setup(&g, payload)) == 0) {
		if (strcmp(kind, "git.test") == 0)
			rc = who(&g, result);
		else if (strcmp(kind, "git.repositories") == 0)
			rc = repositories(&g, payload, result);
		else if (strcmp(kind, "git.branches") == 0)
			rc = branches(&g, payload, result);
		else if (strcmp(kind, "git.hook") == 0)
			rc = hook(&g, payload, result);
		else
			rc = fail(&g, "unknown job kind %s", kind);
	}
	arena_free(&a);
	if (rc == 0 && *result == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	return rc;
}
