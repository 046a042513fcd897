/*
 * git_providers.c - API.md §15 git providers: a tenant's accounts on
 * GitHub, GitLab or Bitbucket (self-hosted with base_url), CRUD with a
 * write-only sealed token, and the calls that reach the provider's REST
 * API: test, repositories, branches.  Those never wait here: each queues
 * a job (git.test, git.repositories, git.branches) on the server that
 * check_server() picks and answers 202 with it (README "Long calls"); the
 * agent makes the calls (fcgi/agent/gitprov.c) with the token the claim
 * hands it.  Private clones and webhook registration use the same token
 * (fcgi/api/agent.c, sql/028_git_providers.sql).
 *
 * Providers belong to the tenant, like servers: everyone signed in may
 * list them (to pick one for an application); tenant admins manage them
 * and run the calls, whose jobs (of no project) only tenant admins read.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/secret.h"

#define GP_COLS "g.id, g.name, g.type, g.base_url, g.username, true AS token_set," \
	" (SELECT count(*) FROM applications a WHERE a.git_provider_id = g.id)::int AS applications," \
	" g.created_at, g.updated_at, g.row_version::text AS _version"

DB_STMT st_gp_list = {"git_providers_list",
    "SELECT " GP_COLS " FROM git_providers g WHERE true" LIST_TAIL("g.")};
DB_STMT st_gp_get = {"git_providers_get",
    "SELECT " GP_COLS " FROM git_providers g WHERE g.id = $1::uuid"};
DB_STMT st_gp_create = {"git_providers_create",
    "INSERT INTO git_providers (name, type, base_url, username, token_sealed)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING id"};
/* $2 = the given fields as a JSON object (token as token_sealed): only those change. */
DB_STMT st_gp_update = {"git_providers_update",
    "UPDATE git_providers g" DB_PATCH("g", "name, type, base_url, username, token_sealed")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_gp_exists = {"git_providers_exists",
    "SELECT 1 FROM git_providers WHERE id = $1::uuid"};
DB_STMT st_gp_delete = {"git_providers_delete",
    "SELECT delete_unless_used('git_providers', $1::uuid, $2::bigint, 'git provider',"
    " 'git_provider_used_by', 'git provider %s is used by the applications: %s; set their"
    " git_provider_id to another provider or null first') AS deleted"};
DB_STMT st_gp_job = {"git_providers_job",
    "SELECT git_provider_job($1::uuid, $2::uuid, $3, $4::jsonb, $5::uuid) AS id"};

#define NAME_TAKEN "name: a git provider with this name already exists"

static const char *const gp_types[] = {"github", "gitlab", "bitbucket", NULL};

/* Printable ASCII, no space, none of bad. */
static bool
plain_word(const char *s, const char *bad)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || strchr(bad, *s) != NULL)
			return false;
	return true;
}

/*
 * A self-hosted instance's web root: http(s)://host[:port][/path], no
 * credentials, query or fragment.  http is allowed: an instance on a
 * private network (the token then crosses it in the clear: the caller's
 * choice, as with a repository URL).
 */
static const char *
check_base_url(const cJSON *v)
{
	const char *s = v->valuestring, *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return "must be an http:// or https:// URL";
	if (*h == '\0' || *h == '/' || !plain_word(h, "@?#\\\"'<>`{}|^"))
		return "must be an http(s) URL with a host, and no credentials, query or fragment";
	return NULL;
}

/*
 * The token reaches git as a Basic credential (the agent's one mechanism
 * for repository credentials: user:token split off a URL, GIT_ASKPASS),
 * so it holds no '@', '/', '?', '#' or space; no provider's token does.
 */
static const char *
check_token(const cJSON *v)
{
	return plain_word(v->valuestring, "@/?#") ? NULL :
	    "must be printable ASCII without spaces, '@', '/', '?' or '#'";
}

static const char *
check_username(const cJSON *v)
{
	return plain_word(v->valuestring, ":/?#") ? NULL :
	    "must be printable ASCII without spaces, ':', '/', '?' or '#'";
}

#define GP_FIELDS(req) \
	{"name", F_STRING, req, false, 1, 100, NULL}, \
	{"type", F_ENUM, req, false, 0, 0, NULL, .options = gp_types}, \
	{"base_url", F_STRING, false, true, 9, 2048, check_base_url}, \
	{"username", F_STRING, false, true, 1, 255, check_username}, \
	{"token", F_STRING, req, false, 1, 4096, check_token}

static const struct field create_fields[] = {GP_FIELDS(true)};
static const struct field update_fields[] = {GP_FIELDS(false)};
enum { G_NAME, G_TYPE, G_BASE, G_USER, G_TOKEN };

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_gp_get, "git provider not found", id, status);
}

static const char *
seal_token(struct req *r, const char *token)
{
	return secret_seal(r, SECRET_GIT_PROVIDER_TOKEN, token, strlen(token));
}

/* base_url without its trailing slashes (the agent appends API paths). */
static const char *
base_url(struct req *r, const struct field_val *v)
{
	char  *s;
	size_t n;

	if (!v->present)
		return NULL;
	s = arena_strdup(r->a, v->s);
	for (n = strlen(s); n > 0 && s[n - 1] == '/'; n--)
		s[n - 1] = '\0';
	return s;
}

static enum err
list(struct req *r)
{
	return list_all(r, &st_gp_list);
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	PGresult        *res;
	const char      *sealed;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK)
		return e;
	if ((sealed = seal_token(r, v[G_TOKEN].s)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_gp_create, &res, v[G_NAME].s, v[G_TYPE].s, base_url(r, &v[G_BASE]),
	    v[G_USER].present ? v[G_USER].s : NULL, sealed);
	if (e == ERR_CONFLICT)
		return http_error(r, e, NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	return respond(r, arena_strdup(r->a, db_get(res, 0, "id")), 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

static const struct db_update gp_update = {&st_gp_update, &st_gp_exists, "git provider",
    "git provider not found", NAME_TAKEN};

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *given, *sealed;
	cJSON           *o;
	char            *text;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	/* The declared fields as given; the token only sealed. */
	if ((given = JSON_GIVEN(r, update_fields)) == NULL || (o = cJSON_Parse(given)) == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, o);
	cJSON_DeleteItemFromObjectCaseSensitive(o, "token");
	if (v[G_TOKEN].present) {
		if ((sealed = seal_token(r, v[G_TOKEN].s)) == NULL)
			return ERR_INTERNAL;
		cJSON_AddStringToObject(o, "token_sealed", sealed);
	}
	if (v[G_BASE].present)
		cJSON_ReplaceItemInObjectCaseSensitive(o, "base_url",
		    cJSON_CreateString(base_url(r, &v[G_BASE])));
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, free, text);
	if ((e = db_update(r, &gp_update, id, text, version)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/* 409 while applications use it (listed), as a mounted volume's delete. */
static enum err
del(struct req *r)
{
	enum err e = db_delete(r, &st_gp_delete, "git provider", NULL);

	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "applications use the git provider"));
	return e == ERR_NOT_FOUND ? http_error(r, e, "git provider not found") : e;
}

/*
 * Queues kind for provider :id with args (a JSON object, consumed; may be
 * NULL) on server (NULL: check_server's choice) and answers 202 with the job.
 */
static enum err
queue(struct req *r, const char *kind, const char *server, cJSON *args)
{
	PGresult *res;
	char     *text = NULL;
	enum err  e;

	if (args != NULL) {
		text = cJSON_PrintUnformatted(args);
		cJSON_Delete(args);
		if (text == NULL)
			return ERR_INTERNAL;
		arena_defer(r->a, free, text);
	}
	r->resource = "git provider";
	e = db_run(r, &st_gp_job, &res, http_param(r, "id"), server, kind, text, r->who.user_id);
	if (e == ERR_NOT_FOUND)
		return http_error(r, e, "git provider not found");
	if (e != ERR_OK)
		return e;
	return job_respond_queued(r, arena_strdup(r->a, db_get(res, 0, "id")));
}

static const struct field test_fields[] = {
	{"server_id", F_UUID, false, true, 0, 0, NULL},
};

/* POST /git-providers/:id/test: who the token is (GitHub /user ...). */
static enum err
test(struct req *r)
{
	struct field_val v[1];
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, test_fields, v)) != ERR_OK))
		return e;
	return queue(r, "git.test", r->json != NULL && v[0].present ? v[0].s : NULL, NULL);
}

/* An opaque cursor of a previous page: hex text (the agent checks the rest). */
static bool
cursor_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 2048 || n % 2 != 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'f') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* owner/name (GitLab: group/sub/name): the repository's path on the provider. */
static bool
repo_path_ok(const char *s)
{
	int parts = 1;

	if (strlen(s) > 512 || *s == '/' || *s == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '/') {
			if (p[1] == '/' || p[1] == '\0' || p[1] == '.')
				return false;
			parts++;
		} else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	}
	return s[0] != '.' && parts >= 2 && parts <= 10;
}

/* ?serverId= (a UUID or absent), 400 naming it otherwise. */
static enum err
server_query(struct req *r, const char **out)
{
	return list_uuid_query(r, "serverId", out);
}

/* GET /git-providers/:id/repositories?q=&cursor=&serverId= */
static enum err
repositories(struct req *r)
{
	const char *q = http_query(r, "q"), *cursor = http_query(r, "cursor"), *server;
	cJSON      *args;
	enum err    e;

	if ((e = server_query(r, &server)) != ERR_OK)
		return e;
	if (q != NULL && (strlen(q) > 256 || !json_utf8_ok(q)))
		return http_field_error(r, "invalid query parameter", "q",
		    "must be text of at most 256 bytes");
	if (cursor != NULL && *cursor && !cursor_ok(cursor))
		return http_field_error(r, "invalid query parameter", "cursor",
		    "not a cursor of this list");
	args = cJSON_CreateObject();
	if (q != NULL && *q)
		cJSON_AddStringToObject(args, "q", q);
	if (cursor != NULL && *cursor)
		cJSON_AddStringToObject(args, "cursor", cursor);
	return queue(r, "git.repositories", server, args);
}

/* GET /git-providers/:id/branches?repository=owner/name&serverId= */
static enum err
branches(struct req *r)
{
	const char *repo = http_query(r, "repository"), *server;
	cJSON      *args;
	enum err    e;

	if ((e = server_query(r, &server)) != ERR_OK)
		return e;
	if (repo == NULL || *repo == '\0')
		return http_field_error(r, "invalid query parameter", "repository", "is required");
	if (!repo_path_ok(repo))
		return http_field_error(r, "invalid query parameter", "repository",
		    "must be the repository's path on the provider, like owner/name");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "repository", repo);
	return queue(r, "git.branches", server, args);
}

#define GP_ADMIN(m, p, f, a) {.methods = (m), .pattern = (p), .fn = (f), .min_role = ROLE_ADMIN, \
	.audit = (a)}

const struct route api_git_provider_routes[] = {
	{.methods = HTTP_GET, .pattern = "/git-providers", .fn = list},
	GP_ADMIN(HTTP_POST, "/git-providers", create, "git_provider.create"),
	{.methods = HTTP_GET, .pattern = "/git-providers/:id", .fn = get},
	GP_ADMIN(HTTP_PUT, "/git-providers/:id", update, "git_provider.update"),
	GP_ADMIN(HTTP_DELETE, "/git-providers/:id", del, "git_provider.delete"),
	GP_ADMIN(HTTP_POST, "/git-providers/:id/test", test, "git_provider.test"),
	/* Reads of the provider (a job each; GET, so neither audited nor in a
	 * transaction: the job is one statement). */
	GP_ADMIN(HTTP_GET, "/git-providers/:id/repositories", repositories, NULL),
	GP_ADMIN(HTTP_GET, "/git-providers/:id/branches", branches, NULL),
	{0},
};
