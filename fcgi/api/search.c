/*
 * search.c - API.md §20: GET /search, one ranked, prefix- and typo-tolerant
 * query over every searchable resource of the tenant, limited to what the
 * caller may see.  The documents, their triggers and the query itself are
 * sql/046_search.sql (search_find); this file checks the query parameters
 * and says who is asking.
 */
#include "api.h"

#include <string.h>

#include "../core/db.h"
#include "../core/json.h"
#include "../core/util.h"

#define SEARCH_Q_MAX       200	/* characters of ?q= */
#define SEARCH_LIMIT_DEF   20
#define SEARCH_LIMIT_MAX   100

/* The types of ?types=, as search_documents.type names them. */
static const char *const search_types[] = {
	"project", "application", "database", "volume", "domain", "deployment", "env_var",
	"issue", "user",
};

/* One statement (sql/046): $1 q, $2 types "a,b" or NULL, $3 projectId, $4
 * limit, $5 sees every project, $6 user, $7 key's project, $8 sees users. */
DB_STMT st_search = {"search_find",
    "SELECT type, id, name, project_id, title, snippet FROM search_find($1, string_to_array($2, ','),"
    " $3::uuid, $4::int, $5::boolean, $6::uuid, $7::uuid, $8::boolean)"};

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool
known_type(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(search_types) / sizeof(search_types[0]); i++)
		if (strlen(search_types[i]) == len && strncmp(search_types[i], s, len) == 0)
			return true;
	return false;
}

/* ?types=a,b: every name known, none empty. */
static bool
types_ok(const char *s)
{
	for (const char *p = s;; ) {
		const char *end = strchr(p, ',');
		size_t      len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (!known_type(p, len))
			return false;
		if (end == NULL)
			return true;
		p = end + 1;
	}
}

static enum err
search(struct req *r)
{
	const char *q = http_query(r, "q"), *types = http_query(r, "types");
	const char *project = http_query(r, "projectId"), *limit_s = http_query(r, "limit");
	int64_t     limit = SEARCH_LIMIT_DEF;
	cJSON      *details = cJSON_CreateArray();
	PGresult   *res;
	enum err    e;

	if (q == NULL || !json_utf8_ok(q) || utf8_chars(q) < 1 || utf8_chars(q) > SEARCH_Q_MAX)
		json_detail(details, "q", "is required: 1 to 200 characters");
	if (types != NULL && *types == '\0')
		types = NULL;
	if (types != NULL && !types_ok(types))
		json_detail(details, "types", "must be a comma-separated list of project, "
		    "application, database, volume, domain, deployment, env_var, issue, user");
	if (project != NULL && *project == '\0')
		project = NULL;
	if (project != NULL && !util_is_uuid(project))
		json_detail(details, "projectId", "must be a UUID");
	if (limit_s != NULL && util_parse_i64(limit_s, 1, SEARCH_LIMIT_MAX, &limit) != 0)
		json_detail(details, "limit", "must be an integer from 1 to 100");
	if (cJSON_GetArraySize(details) > 0)
		return http_error_details(r, "invalid query parameter", details);
	cJSON_Delete(details);
	/* Who sees what: every project for tenant admins, else the caller's
	 * memberships, within a project-bound key's project; users to whom
	 * GET /users is open (the users section's own rule). */
	if ((e = db_run(r, &st_search, &res, q, types, project,
	    arena_printf(r->a, "%lld", (long long)limit),
	    r->who.role >= ROLE_ADMIN ? "true" : "false", r->who.user_id, r->who.key_project_id,
	    router_admits(r, HTTP_GET, "/users") ? "true" : "false")) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

const struct route api_search_routes[] = {
	{.methods = HTTP_GET, .pattern = "/search", .fn = search},
	{0},
};
