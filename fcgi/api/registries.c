/*
 * registries.c - API.md §14 registries: the tenant's container registry
 * credentials (list, create, read, update, delete) and their check
 * (POST /registries/:id/test, a registry.test job on an agent: 202).
 *
 * Registries belong to the tenant, as servers do: everyone signed in may
 * read them (to name one in an application's registry_id), tenant admins
 * manage and test them.  The password is write-only: sealed
 * (SECRET_REGISTRY_PASSWORD) on the way in, never in an answer; answers
 * say password_set.  It reaches an agent only in the claim of a job that
 * needs it (agent.c).  The rules (no delete while applications use it)
 * are the database's (sql/029_registries.sql).
 */
#include "api.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/secret.h"
#include "../core/util.h"

#define REG_COLS "r.id, r.name, r.type, r.url, r.username, r.password_sealed IS NOT NULL" \
	" AS password_set, r.created_at, r.updated_at, r.row_version::text AS _version"

DB_STMT st_reg_list = {"registries_list",
    "SELECT " REG_COLS " FROM registries r WHERE true" LIST_TAIL("r.")};
DB_STMT st_reg_get = {"registries_get",
    "SELECT " REG_COLS " FROM registries r WHERE r.id = $1::uuid"};
DB_STMT st_reg_create = {"registries_create",
    "INSERT INTO registries (name, type, url, username, password_sealed)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING id"};
/* $2 = the given fields as a JSON object (password as password_sealed). */
DB_STMT st_reg_update = {"registries_update",
    "UPDATE registries r" DB_PATCH("r", "name, type, url, username, password_sealed")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_reg_delete = {"registries_delete",
    "SELECT delete_unless_used('registries', $1::uuid, $2::bigint, 'registry', 'registry_used_by',"
    " 'registry %s is used by: %s; point them at another registry (registry_id) first')"
    " AS deleted"};
DB_STMT st_reg_test = {"registries_test",
    "SELECT check_server($2::uuid) AS server_id FROM registries WHERE id = $1::uuid"};

#define REGISTRY_NAME_TAKEN "name: a registry with this name already exists"

static const char *const reg_types[] = {"docker_hub", "ghcr", "gitlab", "custom", NULL};

/* Where each type lives when the body names no url (custom has none). */
static const char *
default_url(const char *type)
{
	if (strcmp(type, "docker_hub") == 0)
		return "https://registry-1.docker.io";
	if (strcmp(type, "ghcr") == 0)
		return "https://ghcr.io";
	if (strcmp(type, "gitlab") == 0)
		return "https://registry.gitlab.com";
	return NULL;
}

/*
 * A registry url: [http(s)://]host[:port][/path], no credentials, query or
 * fragment; a bare host is https.  Writes the normalised form (scheme and
 * host lower-case, no trailing '/') into out; NULL, or the message.
 */
static const char *
url_normalise(const char *in, char *out, size_t outlen)
{
	const char *p = in, *scheme = "https://", *host, *end;
	size_t      n;

	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0) {
		scheme = "http://";
		p += 7;
	} else if (strstr(p, "://") != NULL)
		return "must be an http or https URL like https://registry.example.com";
	host = p;
	end = host + strcspn(host, "/");
	if (end == host)
		return "must name a host, like https://registry.example.com";
	for (const char *q = host; q < end; q++)
		if (!(isalnum((unsigned char)*q) || *q == '.' || *q == '-' || *q == ':' || *q == '[' ||
		    *q == ']'))
			return "must be host[:port][/path] with no credentials, query or fragment";
	for (const char *q = end; *q; q++)
		if (*q == '?' || *q == '#' || *q == '@' || *q == '\\' || (unsigned char)*q <= ' ' ||
		    (unsigned char)*q >= 0x7f)
			return "must be host[:port][/path] with no credentials, query or fragment";
	if (util_snprintf(out, outlen, "%s%.*s%s", scheme, (int)(end - host), host, end) < 0)
		return "is too long";
	for (char *q = out + strlen(scheme); *q && *q != '/'; q++)
		*q = (char)tolower((unsigned char)*q);
	n = strlen(out);
	while (n > strlen(scheme) && out[n - 1] == '/')
		out[--n] = '\0';
	return NULL;
}

static const char *
check_url(const cJSON *v)
{
	char buf[2100];

	return url_normalise(v->valuestring, buf, sizeof(buf));
}

static const struct field create_fields[] = {
	{"name", F_STRING, true, false, 1, 100, NULL},
	{"type", F_ENUM, true, false, 0, 0, NULL, .options = reg_types},
	{"url", F_STRING, false, true, 1, 2000, check_url},
	{"username", F_STRING, false, true, 1, 255, NULL},
	{"password", F_STRING, false, true, 1, 8192, NULL},
};
enum { R_NAME, R_TYPE, R_URL, R_USER, R_PASS };

static const struct field update_fields[] = {
	{"name", F_STRING, false, false, 1, 100, NULL},
	{"type", F_ENUM, false, false, 0, 0, NULL, .options = reg_types},
	{"url", F_STRING, false, true, 1, 2000, check_url},
	{"username", F_STRING, false, true, 1, 255, NULL},
	{"password", F_STRING, false, true, 1, 8192, NULL},
};

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (!v[R_URL].present && default_url(v[R_TYPE].s) == NULL)
		json_detail(details, "url", "is required for a custom registry");
	if (v[R_PASS].present && !v[R_USER].present)
		json_detail(details, "username", "is required with a password");
}

/* The url to store: the body's, normalised, else the type's default. */
static const char *
stored_url(struct req *r, const struct field_val *url, const char *type)
{
	char buf[2100];

	if (!url->present)
		return default_url(type);
	return url_normalise(url->s, buf, sizeof(buf)) == NULL ? arena_strdup(r->a, buf) : NULL;
}

static const char *
seal_password(struct req *r, const char *pw)
{
	return secret_seal(r, SECRET_REGISTRY_PASSWORD, pw, strlen(pw));
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_reg_get, "registry not found", id, status);
}

static enum err
list(struct req *r)
{
	return list_all(r, &st_reg_list);
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *url, *sealed = NULL;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK)
		return e;
	if ((url = stored_url(r, &v[R_URL], v[R_TYPE].s)) == NULL)
		return ERR_INTERNAL;
	if (v[R_PASS].present && (sealed = seal_password(r, v[R_PASS].s)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_reg_create, &res, v[R_NAME].s, v[R_TYPE].s, url, v[R_USER].s, sealed);
	if (e == ERR_CONFLICT)
		return http_error(r, e, REGISTRY_NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	return respond(r, arena_strdup(r->a, db_get(res, 0, "id")), 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

/*
 * The given fields as the UPDATE's $2: url normalised (null: the type's
 * default, or the current type's when the body names none: left to SQL as
 * null is refused for custom), password sealed into password_sealed.
 */
static const char *
patch_of(struct req *r, const struct field_val *v)
{
	cJSON      *o = cJSON_CreateObject();
	char       *text;
	const char *out;

	if (o == NULL)
		return NULL;
	if (v[R_NAME].present)
		cJSON_AddStringToObject(o, "name", v[R_NAME].s);
	if (v[R_TYPE].present)
		cJSON_AddStringToObject(o, "type", v[R_TYPE].s);
	if (v[R_URL].present)
		cJSON_AddStringToObject(o, "url", stored_url(r, &v[R_URL], NULL));
	else if (v[R_URL].null || (v[R_TYPE].present && default_url(v[R_TYPE].s) != NULL))
		/* null, or a new type without a url: the type's own address. */
		cJSON_AddItemToObject(o, "url", v[R_TYPE].present && default_url(v[R_TYPE].s) ?
		    cJSON_CreateString(default_url(v[R_TYPE].s)) : cJSON_CreateNull());
	if (v[R_USER].present)
		cJSON_AddStringToObject(o, "username", v[R_USER].s);
	else if (v[R_USER].null)
		cJSON_AddNullToObject(o, "username");
	if (v[R_PASS].present) {
		const char *sealed = seal_password(r, v[R_PASS].s);

		if (sealed == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddStringToObject(o, "password_sealed", sealed);
	} else if (v[R_PASS].null)
		cJSON_AddNullToObject(o, "password_sealed");
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return NULL;
	out = arena_strdup(r->a, text);
	cJSON_free(text);
	return out;
}

static void
update_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (v[R_URL].null && !(v[R_TYPE].present && default_url(v[R_TYPE].s) != NULL))
		json_detail(details, "url", "may be null only with a type that has a default "
		    "(docker_hub, ghcr, gitlab)");
}

static const struct db_update reg_update = {&st_reg_update, &st_reg_get, "registry", "registry not found",
    REGISTRY_NAME_TAKEN};

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *body;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, update_fields, v, update_rule)) != ERR_OK)
		return e;
	if ((body = patch_of(r, v)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_update(r, &reg_update, id, body, version)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

static enum err
del(struct req *r)
{
	enum err e = db_delete(r, &st_reg_delete, "registry", NULL);

	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "applications use the registry"));
	return e == ERR_NOT_FOUND ? http_error(r, e, "registry not found") : e;
}

static const struct field test_fields[] = {
	{"server_id", F_UUID, false, true, 0, 0, NULL},
};

/*
 * Queues registry.test on check_server() (the body's server_id, else the
 * tenant's most recently seen online server) and answers 202 with the job
 * (README "Long calls"): the agent logs in with the registry's v2 API and
 * reports {ok, reason, message, auth, http_status}.  The payload names the
 * registry only; its credentials are added to the claim (agent.c).
 */
static enum err
test(struct req *r)
{
	struct field_val v[1];
	const char      *id = http_param(r, "id"), *job;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, test_fields, v)) != ERR_OK))
		return e;
	if (r->json == NULL)
		v[0].s = NULL;
	if ((e = db_run(r, &st_reg_test, &res, id, v[0].s)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "registry not found");
	if ((e = job_create(r, db_get(res, 0, "server_id"), NULL, "registry.test",
	    arena_printf(r->a, "{\"registry_id\": \"%s\"}", id), &job)) != ERR_OK)
		return e;
	return job_respond_queued(r, job);
}

const struct route api_registry_routes[] = {
	{.methods = HTTP_GET, .pattern = "/registries", .fn = list},
	{.methods = HTTP_POST, .pattern = "/registries", .fn = create, .min_role = ROLE_ADMIN,
	    .audit = "registry.create"},
	{.methods = HTTP_GET, .pattern = "/registries/:id", .fn = get},
	{.methods = HTTP_PUT, .pattern = "/registries/:id", .fn = update, .min_role = ROLE_ADMIN,
	    .audit = "registry.update"},
	{.methods = HTTP_DELETE, .pattern = "/registries/:id", .fn = del, .min_role = ROLE_ADMIN,
	    .audit = "registry.delete"},
	{.methods = HTTP_POST, .pattern = "/registries/:id/test", .fn = test,
	    .min_role = ROLE_ADMIN, .audit = "registry.test"},
	{0},
};
