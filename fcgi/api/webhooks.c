/*
 * webhooks.c - API.md §21: POST /webhooks/github|gitlab|bitbucket, the
 * git push webhooks that deploy autodeploy applications.
 *
 * No credentials but the signature (ROUTE_PUBLIC): the router still
 * resolves the URL's tenant and sets it for row-level security, so every
 * statement below sees that tenant's applications only.  A delivery is
 *   read (at most webhook_max_body_bytes, 413) -> parsed (400) -> its
 *   event (anything but a push: 200, nothing done) -> its push fields
 *   (ref, repository, commit: 400 naming them) -> the candidate
 *   applications (one statement: autodeploy git applications of that
 *   repository and branch, sql/027) -> the signature checked against every
 *   candidate's own secret in constant time -> none verifies: 401, audited
 *   -> the delivery id recorded (a repeat: 200, nothing done) -> for each
 *   verified application: tags, deleted branches and watch_paths decide,
 *   then the deploy of the pushed commit (api_deploy through
 *   webhook_deploy, the env snapshot as POST /deploy takes it), audited.
 * What an answer may reveal (README, "Push webhooks"): a push for a
 * repository and branch no application watches is 200 with nothing in it,
 * the same answer as a ping, after the same HMAC work as a real check; a
 * 401 says only that the signature fits no application watching that
 * repository and branch; only a caller holding an application's secret
 * learns that application's id and what became of the push.
 */
#include "api.h"

#include <fnmatch.h>
#include <string.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/secret.h"
#include "../core/txn.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "apps_common.h"

/* Autodeploy git applications of the tenant (RLS) of one of the push's
 * repositories ($1: JSON array of URLs, compared by webhook_repo_key) and
 * one of its branches ($2: JSON array), or deploying tags ($3); only the
 * application ?app= names when the URL names one ($4). */
DB_STMT st_candidates = {"webhooks_candidates",
    "SELECT a.id, a.project_id, a.branch, a.deploy_on_tags, a.webhook_secret_sealed AS _secret,"
    " to_jsonb(a.watch_paths)::text AS _watch FROM applications a"
    " WHERE a.autodeploy AND a.source_type = 'git' AND a.webhook_secret_sealed IS NOT NULL"
    " AND webhook_repo_key(a.repository_url) IN (SELECT webhook_repo_key(u)"
    "  FROM jsonb_array_elements_text($1::jsonb) u)"
    " AND (a.branch IN (SELECT jsonb_array_elements_text($2::jsonb))"
    "  OR (a.deploy_on_tags AND $3::boolean))"
    " AND ($4::uuid IS NULL OR a.id = $4::uuid)"
    " ORDER BY a.created_at, a.id"};
DB_STMT st_delivery = {"webhooks_delivery",
    "SELECT webhook_delivery_new($1, $2) AS new"};
DB_STMT st_deploy = {"webhooks_deploy",
    "SELECT deployment_id, created FROM webhook_deploy($1::uuid, $2, $3, $4, $5, $6, $7::int)"};

/* A push names at most this many refs (Bitbucket batches several; GitHub
 * and GitLab send one per delivery); more is a 400. */
#define PUSH_MAX_REFS 32
/* GitHub lists at most 2048 commits in a push; with that many the list may
 * be cut, and the changed files are then unknown. */
#define GITHUB_MAX_COMMITS 2048

/* ------------------------------------------------------------ the push */

struct ref_update {
	const char *name;	/* branch or tag name, without refs/heads/ or refs/tags/ */
	bool        tag;
	bool        deleted;	/* the ref was removed: nothing to deploy */
	const char *sha;	/* the commit to build (lower-case hex) */
	const char *message, *author;
};

struct push {
	cJSON            *urls;	/* the repository's URLs (JSON array of strings) */
	struct ref_update refs[PUSH_MAX_REFS];
	size_t            nrefs;
	const char      **files;	/* added, modified and removed paths of every commit */
	size_t            nfiles;
	bool              files_known;	/* false: the payload cannot list them all */
};

static const cJSON *
get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
add_url(struct push *p, const char *u)
{
	if (u != NULL && *u != '\0')
		cJSON_AddItemToArray(p->urls, cJSON_CreateString(u));
}

/* A commit id: 40 (SHA-1) or 64 (SHA-256) hex digits. */
static bool
is_sha(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdefABCDEF") == n;
}

static bool
is_zero_sha(const char *s)
{
	return s != NULL && s[0] != '\0' && strspn(s, "0") == strlen(s);
}

static const char *
lower(struct req *r, const char *s)
{
	char *o = arena_strdup(r->a, s);

	for (char *c = o; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	return o;
}

/* refs/heads/<b> or refs/tags/<t> into u; false for any other ref. */
static bool
ref_name(const char *ref, struct ref_update *u)
{
	if (strncmp(ref, "refs/heads/", 11) == 0 && ref[11] != '\0') {
		u->name = ref + 11;
		return true;
	}
	if (strncmp(ref, "refs/tags/", 10) == 0 && ref[10] != '\0') {
		u->name = ref + 10;
		u->tag = true;
		return true;
	}
	return false;
}

/* "Name <email>" of an author object {name, email} (GitHub, GitLab). */
static const char *
author_of(struct req *r, const cJSON *a)
{
	const char *n = str(a, "name"), *m = str(a, "email");

	if (n == NULL)
		return NULL;
	return m ? arena_printf(r->a, "%s <%s>", n, m) : n;
}

/* Every added/modified/removed path of commits (GitHub and GitLab). */
static void
collect_files(struct req *r, const cJSON *commits, struct push *p)
{
	static const char *const lists[] = {"added", "modified", "removed"};
	size_t n = 0;
	const cJSON *c, *f;

	cJSON_ArrayForEach(c, commits)
		for (size_t i = 0; i < 3; i++)
			n += (size_t)cJSON_GetArraySize(get(c, lists[i]));
	p->files = arena_alloc(r->a, (n + 1) * sizeof(*p->files));
	cJSON_ArrayForEach(c, commits)
		for (size_t i = 0; i < 3; i++)
			cJSON_ArrayForEach(f, get(c, lists[i]))
				if (cJSON_IsString(f) && p->nfiles < n)
					p->files[p->nfiles++] = f->valuestring;
}

/*
 * GitHub's push event: ref, after, deleted, head_commit {id, message,
 * author}, commits[] {added, modified, removed}, repository {clone_url,
 * ssh_url, git_url, html_url, url}.  A tag's commit is head_commit.id
 * (after is the tag object of an annotated tag).
 */
static void
parse_github(struct req *r, const cJSON *b, struct push *p, cJSON *bad)
{
	static const char *const url_keys[] = {"clone_url", "ssh_url", "git_url", "html_url", "url"};
	const cJSON *repo = get(b, "repository"), *head = get(b, "head_commit"), *commits;
	const char  *ref = str(b, "ref"), *after = str(b, "after"), *sha;
	struct ref_update *u = &p->refs[0];

	if (!cJSON_IsObject(repo))
		json_detail(bad, "repository", "is required (an object with the repository's URLs)");
	else
		for (size_t i = 0; i < sizeof(url_keys) / sizeof(*url_keys); i++)
			add_url(p, str(repo, url_keys[i]));
	if (cJSON_IsObject(repo) && cJSON_GetArraySize(p->urls) == 0)
		json_detail(bad, "repository.clone_url", "is required");
	if (ref == NULL)
		json_detail(bad, "ref", "is required (refs/heads/<branch> or refs/tags/<tag>)");
	else if (!ref_name(ref, u))
		json_detail(bad, "ref", "must be refs/heads/<branch> or refs/tags/<tag>");
	if (after == NULL)
		json_detail(bad, "after", "is required (the pushed commit)");
	u->deleted = cJSON_IsTrue(get(b, "deleted")) || is_zero_sha(after);
	sha = cJSON_IsObject(head) && str(head, "id") ? str(head, "id") : after;
	if (!u->deleted && after != NULL && !is_sha(sha))
		json_detail(bad, "after", "must be a commit id (40 or 64 hex digits)");
	p->nrefs = 1;
	if (is_sha(sha))
		u->sha = lower(r, sha);
	if (cJSON_IsObject(head)) {
		u->message = str(head, "message");
		u->author = author_of(r, get(head, "author"));
	}
	commits = get(b, "commits");
	if (cJSON_IsArray(commits)) {
		collect_files(r, commits, p);
		/* No commit listed (a branch created at an existing commit, a
		 * force-push back): what the push changed is unknown. */
		p->files_known = cJSON_GetArraySize(commits) > 0 &&
		    cJSON_GetArraySize(commits) < GITHUB_MAX_COMMITS;
	}
}

/*
 * GitLab's Push Hook and Tag Push Hook: object_kind, ref, after,
 * checkout_sha (the commit; null when the ref was deleted), commits[] {id,
 * message, author {name, email}, added, modified, removed} (at most 20),
 * total_commits_count, project {git_http_url, git_ssh_url, web_url},
 * repository {git_http_url, git_ssh_url, homepage, url}.
 */
static void
parse_gitlab(struct req *r, const cJSON *b, struct push *p, cJSON *bad)
{
	static const char *const url_keys[] = {"git_http_url", "git_ssh_url", "web_url", "homepage",
		"url"};
	const cJSON *proj = get(b, "project"), *repo = get(b, "repository"), *commits, *c;
	const char  *ref = str(b, "ref"), *after = str(b, "after"), *co = str(b, "checkout_sha");
	const char  *sha = co ? co : after;
	struct ref_update *u = &p->refs[0];

	for (size_t i = 0; i < sizeof(url_keys) / sizeof(*url_keys); i++) {
		add_url(p, str(proj, url_keys[i]));
		add_url(p, str(repo, url_keys[i]));
	}
	if (!cJSON_IsObject(repo) && !cJSON_IsObject(proj))
		json_detail(bad, "repository", "is required (project or repository, with its URLs)");
	else if (cJSON_GetArraySize(p->urls) == 0)
		json_detail(bad, "project.git_http_url", "is required");
	if (ref == NULL)
		json_detail(bad, "ref", "is required (refs/heads/<branch> or refs/tags/<tag>)");
	else if (!ref_name(ref, u))
		json_detail(bad, "ref", "must be refs/heads/<branch> or refs/tags/<tag>");
	if (after == NULL)
		json_detail(bad, "after", "is required (the pushed commit)");
	u->deleted = is_zero_sha(after) && co == NULL;
	if (!u->deleted && after != NULL && !is_sha(sha))
		json_detail(bad, "checkout_sha", "must be a commit id (40 or 64 hex digits)");
	p->nrefs = 1;
	if (is_sha(sha))
		u->sha = lower(r, sha);
	commits = get(b, "commits");
	cJSON_ArrayForEach(c, commits)
		if (str(c, "id") != NULL && sha != NULL && strcasecmp(str(c, "id"), sha) == 0) {
			u->message = str(c, "message");
			u->author = author_of(r, get(c, "author"));
		}
	if (cJSON_IsArray(commits)) {
		const cJSON *total = get(b, "total_commits_count");

		collect_files(r, commits, p);
		p->files_known = cJSON_GetArraySize(commits) > 0 && (!cJSON_IsNumber(total) ||
		    total->valuedouble <= cJSON_GetArraySize(commits));
	}
}

/*
 * Bitbucket Cloud's repo:push: repository {full_name, links {html {href}}},
 * push {changes[] {new {type: branch|tag, name, target {hash, message,
 * author {raw}}} or null (deleted), old, created, closed, truncated}}.  It
 * names no files: watch_paths cannot be applied (files_known false).
 */
static void
parse_bitbucket(struct req *r, const cJSON *b, struct push *p, cJSON *bad)
{
	const cJSON *repo = get(b, "repository"), *changes = get(get(b, "push"), "changes"), *c;
	const cJSON *links = get(repo, "links");

	if (!cJSON_IsObject(repo))
		json_detail(bad, "repository", "is required (an object with links.html.href)");
	else {
		add_url(p, str(get(links, "html"), "href"));
		cJSON_ArrayForEach(c, get(links, "clone"))
			add_url(p, str(c, "href"));
		if (cJSON_GetArraySize(p->urls) == 0)
			json_detail(bad, "repository.links.html.href", "is required");
	}
	if (!cJSON_IsArray(changes) || cJSON_GetArraySize(changes) == 0) {
		json_detail(bad, "push.changes", "is required (the refs the push changed)");
		return;
	}
	if (cJSON_GetArraySize(changes) > PUSH_MAX_REFS) {
		json_detail(bad, "push.changes", "names more refs than one delivery may (32)");
		return;
	}
	cJSON_ArrayForEach(c, changes) {
		const cJSON *nw = get(c, "new"), *old = get(c, "old"), *ref = cJSON_IsObject(nw) ? nw : old;
		const cJSON *target = get(nw, "target");
		struct ref_update *u = &p->refs[p->nrefs];
		const char *type = str(ref, "type"), *hash = str(target, "hash");
		const char *field = arena_printf(r->a, "push.changes[%zu].new", p->nrefs);

		if (type == NULL || str(ref, "name") == NULL ||
		    (strcmp(type, "branch") != 0 && strcmp(type, "tag") != 0)) {
			json_detail(bad, field, "must name a branch or a tag (type, name)");
			continue;
		}
		u->name = str(ref, "name");
		u->tag = strcmp(type, "tag") == 0;
		u->deleted = !cJSON_IsObject(nw);
		if (!u->deleted && !is_sha(hash)) {
			json_detail(bad, arena_printf(r->a, "%s.target.hash", field),
			    "must be a commit id (40 or 64 hex digits)");
			continue;
		}
		if (!u->deleted) {
			u->sha = lower(r, hash);
			u->message = str(target, "message");
			u->author = str(get(target, "author"), "raw");
		}
		p->nrefs++;
	}
}

/* ------------------------------------------------------------ providers */

enum sig_kind { SIG_HMAC, SIG_TOKEN };

struct provider {
	const char   *name;
	const char   *event_header;	/* which event this is */
	const char   *push_events[2];	/* the event header's values that are pushes */
	const char   *delivery_header;	/* the delivery id, for de-duplication */
	const char   *sig_header;
	enum sig_kind sig;
	void (*parse)(struct req *r, const cJSON *body, struct push *p, cJSON *bad);
};

static const struct provider providers[] = {
	{"github", "x-github-event", {"push", NULL}, "x-github-delivery", "x-hub-signature-256",
	    SIG_HMAC, parse_github},
	{"gitlab", "x-gitlab-event", {"Push Hook", "Tag Push Hook"}, "x-gitlab-event-uuid",
	    "x-gitlab-token", SIG_TOKEN, parse_gitlab},
	{"bitbucket", "x-event-key", {"repo:push", NULL}, "x-request-uuid", "x-hub-signature",
	    SIG_HMAC, parse_bitbucket},
};

/* ------------------------------------------------------------ signatures */

/*
 * Whether the request's signature is the one secret gives, in constant
 * time for a given body: an HMAC-SHA256 of the raw body compared with the
 * header's sha256=<hex> (GitHub, Bitbucket), or the header compared with
 * the secret itself through their BLAKE2b digests (GitLab), so that
 * neither the length nor the first differing byte shows.  given is the
 * header's decoded HMAC (valid false when the header was missing or
 * malformed: the work is done all the same).
 */
static bool
signed_with(struct req *r, const struct provider *pv, const char *secret, size_t slen,
    const unsigned char given[32], bool valid)
{
	unsigned char mac[32], h1[32], h2[32];
	const char   *tok;

	if (pv->sig == SIG_HMAC) {
		if (crypto_hmac_sha256(secret, slen, r->body, r->body_len, mac) != 0)
			return false;
		return (sodium_memcmp(mac, given, sizeof(mac)) == 0) & valid;
	}
	tok = http_header(r, pv->sig_header);
	crypto_generichash(h1, sizeof(h1), (const unsigned char *)secret, slen, NULL, 0);
	crypto_generichash(h2, sizeof(h2), (const unsigned char *)(tok ? tok : ""),
	    tok ? strlen(tok) : 0, NULL, 0);
	return (sodium_memcmp(h1, h2, sizeof(h1)) == 0) & (tok != NULL);
}

/* The header's sha256=<64 hex> decoded into out; false if absent or malformed. */
static bool
given_hmac(struct req *r, const struct provider *pv, unsigned char out[32])
{
	const char *h = http_header(r, pv->sig_header);
	size_t      n;

	memset(out, 0, 32);
	if (pv->sig != SIG_HMAC || h == NULL || strncmp(h, "sha256=", 7) != 0)
		return false;
	return sodium_hex2bin(out, 32, h + 7, strlen(h + 7), NULL, &n, NULL) == 0 && n == 32 &&
	    strlen(h + 7) == 64;
}

/* ------------------------------------------------------------ watch_paths */

/*
 * One path segment list against a pattern's, where a "**" segment stands
 * for any number of segments (none included) and every other segment is
 * matched by fnmatch (*, ?, [...] inside one segment; FNM_PATHNAME
 * semantics, since no segment holds a '/').
 */
static bool
glob_segments(char **pat, size_t np, char **seg, size_t ns)
{
	while (np > 0) {
		if (strcmp(pat[0], "**") == 0) {
			while (np > 1 && strcmp(pat[1], "**") == 0)	/* "**" "**" is one */
				pat++, np--;
			if (np == 1)	/* a last "**": everything inside, not the directory */
				return ns > 0;
			for (size_t skip = 0; skip <= ns; skip++)
				if (glob_segments(pat + 1, np - 1, seg + skip, ns - skip))
					return true;
			return false;
		}
		if (ns == 0 || fnmatch(pat[0], seg[0], 0) != 0)
			return false;
		pat++, np--, seg++, ns--;
	}
	return ns == 0;
}

static size_t
split(struct req *r, const char *s, char ***out)
{
	char  *c = arena_strdup(r->a, s);
	size_t n = 1;

	for (const char *p = c; *p; p++)
		n += *p == '/';
	*out = arena_alloc(r->a, n * sizeof(**out));
	n = 0;
	for (char *p = c;; ) {
		char *e = strchr(p, '/');

		(*out)[n++] = p;
		if (e == NULL)
			break;
		*e = '\0';
		p = e + 1;
	}
	return n;
}

/*
 * Whether path (relative to the repository's root) matches a watch_paths
 * pattern: a leading '/' is ignored (patterns are relative to the root), a
 * trailing slash means everything beneath ("docs/" is "docs" then "**"),
 * as git's wildmatch reads "**": a leading or inner "**" segment is any
 * number of directories (none too), a last one everything inside.
 */
static bool
glob_match(struct req *r, const char *pattern, const char *path)
{
	char      **ps, **ss;
	size_t      np, ns, n;
	const char *pat = pattern;

	while (*pat == '/')
		pat++;
	n = strlen(pat);
	if (n > 0 && pat[n - 1] == '/')
		pat = arena_printf(r->a, "%s**", pat);
	np = split(r, pat, &ps);
	ns = split(r, path, &ss);
	return glob_segments(ps, np, ss, ns);
}

/* Whether the push touches a file watch (a JSON array of patterns) names. */
static bool
watched(struct req *r, const struct push *p, const char *watch)
{
	cJSON      *w = cJSON_Parse(watch);
	const cJSON *g;
	bool        hit = false;

	if (w == NULL || cJSON_GetArraySize(w) == 0 || !p->files_known) {
		cJSON_Delete(w);
		return true;
	}
	for (size_t i = 0; i < p->nfiles && !hit; i++)
		cJSON_ArrayForEach(g, w)
			if (cJSON_IsString(g) && glob_match(r, g->valuestring, p->files[i])) {
				hit = true;
				break;
			}
	cJSON_Delete(w);
	return hit;
}

/* ------------------------------------------------------------ handler */

static void
skipped(cJSON *list, const char *app, const char *why)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "application_id", app);
	cJSON_AddStringToObject(o, "reason", why);
	cJSON_AddItemToArray(list, o);
}

static enum err
answer(struct req *r, const char *event, const char *delivery, bool duplicate, cJSON *deployed,
    cJSON *skip)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "event", event);
	if (delivery != NULL)
		cJSON_AddStringToObject(d, "delivery", delivery);
	else
		cJSON_AddNullToObject(d, "delivery");
	cJSON_AddBoolToObject(d, "duplicate", duplicate);
	cJSON_AddItemToObject(d, "deployments", deployed ? deployed : cJSON_CreateArray());
	cJSON_AddItemToObject(d, "skipped", skip ? skip : cJSON_CreateArray());
	return http_respond_json(r, 200, d, NULL);
}

/* The ref of the push that application row i follows: its branch, else a
 * tag when it deploys tags; NULL when none. */
static const struct ref_update *
ref_for(const struct push *p, PGresult *res, int i)
{
	bool tags = db_get(res, i, "deploy_on_tags")[0] == 't';

	for (size_t k = 0; k < p->nrefs; k++)
		if (!p->refs[k].tag && strcmp(p->refs[k].name, db_get(res, i, "branch")) == 0)
			return &p->refs[k];
	for (size_t k = 0; tags && k < p->nrefs; k++)
		if (p->refs[k].tag)
			return &p->refs[k];
	return NULL;
}

/*
 * Deploys the pushed commit to application row i (verified): its env
 * snapshot (apps_release_env, as POST /deploy) and webhook_deploy, then the
 * audit record.  A reference that does not resolve skips the application
 * with the reason (the others still deploy); any database error fails the
 * whole delivery (rolled back; the provider's redelivery runs again).
 */
static enum err
deploy_one(struct req *r, const struct provider *pv, const char *delivery, PGresult *res,
    int i, const struct ref_update *u, cJSON *deployed, cJSON *skip)
{
	const char *app = db_get(res, i, "id"), *env, *envv;
	PGresult   *d;
	cJSON      *o;
	enum err    e;

	if ((e = apps_release_env(r, app, &env, &envv, NULL)) == ERR_BAD_REQUEST) {
		skipped(skip, app, "the environment variables have references that do not resolve; "
		    "nothing was deployed");
		return ERR_OK;
	}
	if (e != ERR_OK ||
	    (e = db_run(r, &st_deploy, &d, app, u->sha, u->tag ? NULL : u->name, u->message,
	    u->author, env, envv)) != ERR_OK)
		return e;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "application_id", app);
	cJSON_AddStringToObject(o, "deployment_id", db_get(d, 0, "deployment_id"));
	cJSON_AddStringToObject(o, "commit_sha", u->sha);
	cJSON_AddStringToObject(o, u->tag ? "tag" : "branch", u->name);
	cJSON_AddBoolToObject(o, "created", db_get(d, 0, "created")[0] == 't');
	cJSON_AddItemToArray(deployed, o);
	{
		cJSON *det = cJSON_CreateObject();
		char  *txt;

		cJSON_AddStringToObject(det, "trigger", "webhook");
		cJSON_AddStringToObject(det, "provider", pv->name);
		cJSON_AddStringToObject(det, "commit_sha", u->sha);
		cJSON_AddStringToObject(det, "deployment_id", db_get(d, 0, "deployment_id"));
		if (delivery != NULL)
			cJSON_AddStringToObject(det, "delivery", delivery);
		txt = cJSON_PrintUnformatted(det);
		cJSON_Delete(det);
		e = txt ? txn_audit_in(r, db_get(res, i, "project_id"), "application.deploy",
		    "application", app, arena_strdup(r->a, txt)) : ERR_INTERNAL;
		cJSON_free(txt);
	}
	return e;
}

/* 401, audited (the record commits: ROUTE_COMMIT_REFUSAL), naming nothing. */
static enum err
refuse(struct req *r, const struct provider *pv, const char *delivery, const struct push *p)
{
	cJSON   *det = cJSON_CreateObject();
	char    *txt;
	enum err e;

	cJSON_AddStringToObject(det, "provider", pv->name);
	cJSON_AddStringToObject(det, "reason", http_header(r, pv->sig_header) ?
	    "the signature matches no application of this repository and branch" :
	    "no signature");
	if (delivery != NULL)
		cJSON_AddStringToObject(det, "delivery", delivery);
	/* The repository the unverified payload names, cut to a sane length. */
	{
		const char *u = cJSON_GetArrayItem(p->urls, 0)->valuestring;
		size_t      n = strnlen(u, 512);

		while (n > 0 && ((unsigned char)u[n] & 0xc0) == 0x80)	/* not inside a character */
			n--;
		cJSON_AddItemToObject(det, "repository", cJSON_CreateString(arena_strndup(r->a, u, n)));
	}
	txt = cJSON_PrintUnformatted(det);
	cJSON_Delete(det);
	e = txt ? txn_audit_in(r, NULL, "webhook.reject", "webhook", NULL, arena_strdup(r->a, txt)) :
	    ERR_INTERNAL;
	cJSON_free(txt);
	if (e != ERR_OK)
		return e;
	return http_error(r, ERR_UNAUTHORIZED, "invalid webhook signature");
}

/* The delivery id header: NULL when absent; false when unusable. */
static bool
delivery_id(struct req *r, const struct provider *pv, const char **out)
{
	const char *d = http_header(r, pv->delivery_header);
	size_t      n = d ? strlen(d) : 0;

	*out = NULL;
	if (d == NULL)
		return true;
	if (n == 0 || n > 200)
		return false;
	for (const char *c = d; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return false;
	*out = d;
	return true;
}

/*
 * The provider of the path (404), the body (413; JSON whatever the
 * Content-Type says: GitHub's form encoding is refused with how to fix it)
 * and the headers every delivery needs: the event (400 naming it when
 * missing) and the delivery id (optional).
 */
static enum err
read_delivery(struct req *r, const struct provider **pv, const char **event,
    const char **delivery)
{
	const char *name = http_param(r, "provider");
	cJSON      *bad;
	enum err    e;

	*pv = NULL;
	for (size_t i = 0; i < sizeof(providers) / sizeof(*providers); i++)
		if (strcmp(providers[i].name, name) == 0)
			*pv = &providers[i];
	if (*pv == NULL)
		return http_error(r, ERR_NOT_FOUND,
		    "unknown webhook provider: use github, gitlab or bitbucket");
	if ((e = http_body_max(r, r->w->cfg->webhook_max_body_bytes)) != ERR_OK)
		return e;
	if (r->body_len == 0 || memchr(r->body, '\0', r->body_len) != NULL ||
	    (r->json = cJSON_ParseWithLengthOpts(r->body, r->body_len + 1, NULL, 1)) == NULL)
		return http_error(r, ERR_BAD_REQUEST, "the body must be the provider's JSON payload "
		    "(set the webhook's content type to application/json)");
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, r->json);
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST, "the JSON payload must be an object");
	if ((bad = json_bad_strings(r->a, r->body, r->body_len, r->json)) != NULL)
		return http_error_details(r, "invalid webhook payload", bad);
	if (!delivery_id(r, *pv, delivery))
		return http_field_error(r, "invalid webhook headers", (*pv)->delivery_header,
		    "must be 1 to 200 printable characters");
	if ((*event = http_header(r, (*pv)->event_header)) == NULL)
		return http_field_error(r, "invalid webhook headers", (*pv)->event_header,
		    "is required (the provider's event name)");
	return ERR_OK;
}

static bool
is_push(const struct provider *pv, const char *event)
{
	for (size_t i = 0; i < 2; i++)
		if (pv->push_events[i] != NULL && strcmp(event, pv->push_events[i]) == 0)
			return true;
	return false;
}

/* The push's fields (400 naming each missing or malformed one). */
static enum err
read_push(struct req *r, const struct provider *pv, struct push *p)
{
	cJSON *bad = cJSON_CreateArray();

	p->urls = cJSON_CreateArray();
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, p->urls);
	pv->parse(r, r->json, p, bad);
	if (cJSON_GetArraySize(bad) > 0)
		return http_error_details(r, "invalid webhook payload", bad);
	cJSON_Delete(bad);
	return ERR_OK;
}

/*
 * The candidate applications of the push (st_candidates: one statement).
 * The URL's ?app= (app_webhook_url: one hook per application) narrows them
 * to that application; an id that is not one of them, or not an id, finds
 * none, which is the answer of an unknown repository.
 */
static enum err
candidates(struct req *r, const struct push *p, PGresult **res)
{
	cJSON      *branches = cJSON_CreateArray();
	bool        any_tag = false;
	const char *app = http_query(r, "app");
	char       *u, *b;
	enum err    e;

	if (app != NULL && !util_is_uuid(app))
		app = "00000000-0000-0000-0000-000000000000";

	for (size_t k = 0; k < p->nrefs; k++) {
		if (!p->refs[k].tag)
			cJSON_AddItemToArray(branches, cJSON_CreateString(p->refs[k].name));
		any_tag |= p->refs[k].tag;
	}
	u = cJSON_PrintUnformatted(p->urls);
	b = cJSON_PrintUnformatted(branches);
	cJSON_Delete(branches);
	e = u && b ? db_run(r, &st_candidates, res, arena_strdup(r->a, u), arena_strdup(r->a, b),
	    any_tag ? "true" : "false", app) : ERR_INTERNAL;
	cJSON_free(u);
	cJSON_free(b);
	return e;
}

/*
 * ok[i]: whether candidate i's secret signed the delivery; returns how
 * many did.  Every candidate's signature is computed, whatever the first
 * gives; none at all costs one HMAC under a random key, so that an
 * unknown repository takes the time a known one does.
 */
static int
verify(struct req *r, const struct provider *pv, PGresult *res, bool *ok)
{
	unsigned char given[32], dummy[32];
	bool          valid = given_hmac(r, pv, given);
	const char   *secret;
	size_t        slen;
	int           n = PQntuples(res), nok = 0;

	if (n == 0) {
		randombytes_buf(dummy, sizeof(dummy));
		(void)signed_with(r, pv, (const char *)dummy, sizeof(dummy), given, valid);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		secret = secret_open(r, SECRET_APP_WEBHOOK, db_get(res, i, "_secret"), &slen);
		ok[i] = secret != NULL && signed_with(r, pv, secret, slen, given, valid);
		nok += ok[i];
	}
	return nok;
}

/*
 * What the push does to each verified application: a ref it does not
 * follow, a deleted ref and no watched file skip it (with the reason);
 * else the deploy.  One deploy per verified application of this
 * repository and branch: a handful of statements each, no waiting (the
 * job is queued).
 */
static enum err
deploy_verified(struct req *r, const struct provider *pv, const char *delivery,
    const struct push *p, PGresult *res, const bool *ok, cJSON *deployed, cJSON *skip)
{
	enum err e;

	for (int i = 0; i < PQntuples(res); i++) {
		const struct ref_update *u = ok[i] ? ref_for(p, res, i) : NULL;
		const char              *app = db_get(res, i, "id");

		if (!ok[i])
			continue;
		if (u == NULL)
			skipped(skip, app, "the push changes no ref this application follows "
			    "(tags need deploy_on_tags)");
		else if (u->deleted)
			skipped(skip, app, "the push deletes the ref");
		else if (!watched(r, p, db_get(res, i, "_watch")))
			skipped(skip, app, "the push changes no file that watch_paths names");
		else if ((e = deploy_one(r, pv, delivery, res, i, u, deployed, skip)) != ERR_OK)
			return e;
	}
	return ERR_OK;
}

/* parse -> the candidates -> verify (401) -> de-duplicate -> deploy -> answer */
static enum err
receive(struct req *r)
{
	const struct provider *pv;
	const char            *event = NULL, *delivery = NULL;
	struct push            p = {0};
	PGresult              *res, *dres;
	cJSON                 *deployed, *skip;
	bool                  *ok;
	enum err               e;

	if ((e = read_delivery(r, &pv, &event, &delivery)) != ERR_OK)
		return e;
	/* Anything but a push (ping, issues, ...) is acknowledged, nothing more. */
	if (!is_push(pv, event))
		return answer(r, event, delivery, false, NULL, NULL);
	if ((e = read_push(r, pv, &p)) != ERR_OK || (e = candidates(r, &p, &res)) != ERR_OK)
		return e;
	ok = arena_alloc(r->a, (size_t)(PQntuples(res) + 1) * sizeof(*ok));
	if (verify(r, pv, res, ok) == 0)
		return PQntuples(res) == 0 ? answer(r, event, delivery, false, NULL, NULL) :
		    refuse(r, pv, delivery, &p);
	/* Verified: a delivery seen in the last 7 days does nothing again. */
	if (delivery != NULL) {
		if ((e = db_run(r, &st_delivery, &dres, pv->name, delivery)) != ERR_OK)
			return e;
		if (db_get(dres, 0, "new")[0] != 't')
			return answer(r, event, delivery, true, NULL, NULL);
	}
	deployed = cJSON_CreateArray();
	skip = cJSON_CreateArray();
	if ((e = deploy_verified(r, pv, delivery, &p, res, ok, deployed, skip)) != ERR_OK) {
		cJSON_Delete(deployed);
		cJSON_Delete(skip);
		return e;
	}
	return answer(r, event, delivery, false, deployed, skip);
}

const struct route api_webhook_routes[] = {
	/* The signature is the credential; a wrong one's audit record stays. */
	{.methods = HTTP_POST, .pattern = "/webhooks/:provider", .fn = receive,
	    .flags = ROUTE_PUBLIC | ROUTE_COMMIT_REFUSAL},
	{0},
};
