/*
 * service_keys.c - API.md §1 /settings/service-keys: create (key shown
 * once), list, get, revoke.  Keys are stored only as a keyed hash; a key
 * can never carry more than its creator could at creation time.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "../core/auth.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/util.h"
#include "../core/worker.h"

#define KEY_COLS "id, name, prefix, to_jsonb(scopes) AS scopes, project_id, expires_at," \
	" last_used_at, created_by, created_at"

DB_STMT st_create = {"sk_create",
    "INSERT INTO service_keys (name, prefix, key_hash, scopes, project_id, created_by,"
    " creator_role, expires_at) SELECT $1, $2, $3::bytea, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)),"
    " $5::uuid, $6::uuid, $7, $8::timestamptz"
    " WHERE $8::timestamptz IS NULL OR $8::timestamptz > now() RETURNING " KEY_COLS};
/* Admins see every key of the tenant, users their own ($2 = all). */
DB_STMT st_list = {"sk_list",
    "SELECT " KEY_COLS " FROM service_keys WHERE revoked_at IS NULL"
    " AND ($5::boolean OR created_by = $4::uuid)" LIST_TAIL("")};
DB_STMT st_get = {"sk_get",
    "SELECT " KEY_COLS " FROM service_keys WHERE id = $3::uuid AND revoked_at IS NULL"
    " AND ($2::boolean OR created_by = $1::uuid)"};
/*
 * A caller revokes their own keys and, as an admin, the keys of users whose
 * role is not above theirs ($4): an admin cannot revoke a superadmin's.
 * No row: not found (or not visible); revoked = false: visible, not theirs
 * to revoke.
 */
DB_STMT st_revoke = {"sk_revoke",
    "WITH k AS (SELECT id, created_by = $1::uuid OR role_rank(owner_role) <= role_rank($4) AS may"
    " FROM service_keys WHERE id = $3::uuid AND revoked_at IS NULL"
    " AND ($2::boolean OR created_by = $1::uuid)),"
    " u AS (UPDATE service_keys s SET revoked_at = now() FROM k WHERE s.id = k.id AND k.may"
    " RETURNING s.id)"
    " SELECT EXISTS (SELECT 1 FROM u) AS revoked FROM k"};

static const char *const scope_names[] = {"read", "write", "deploy", "admin"};

static const char *
check_scopes(const cJSON *v)
{
	for (const cJSON *it = v->child; it; it = it->next) {
		bool ok = false;

		for (size_t i = 0; i < 4; i++)
			ok |= strcmp(it->valuestring, scope_names[i]) == 0;
		if (!ok)
			return "each scope must be one of read, write, deploy, admin";
	}
	return NULL;
}

static const struct field create_fields[] = {
	{"name", F_STRING, true, false, 1, 100, NULL},
	{"scopes", F_STRINGS, false, true, 1, 4, check_scopes},
	{"project_id", F_UUID, false, true, 0, 0, NULL},
	{"expires_at", F_TIME, false, true, 0, 0, NULL},
};

static const char *
all_keys(struct req *r)
{
	return r->who.role >= ROLE_ADMIN ? "true" : "false";
}

static enum err
key_create(struct req *r)
{
	struct field_val v[4];
	PGresult        *res;
	char             key[64], prefix[16];
	unsigned         want = 0;
	cJSON           *scopes, *d;
	char            *scopes_s;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK)
		return e;
	/* Default: everything but admin. */
	if (v[1].present)
		scopes = cJSON_Duplicate(v[1].node, 1);
	else {
		scopes = cJSON_CreateArray();
		for (size_t i = 0; i < 3; i++)
			cJSON_AddItemToArray(scopes, cJSON_CreateString(scope_names[i]));
	}
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, scopes);
	for (const cJSON *it = scopes->child; it; it = it->next)
		for (unsigned i = 0; i < 4; i++)
			if (strcmp(it->valuestring, scope_names[i]) == 0)
				want |= 1u << i;
	if ((want & ~r->who.scopes) != 0)
		return http_error(r, ERR_FORBIDDEN, "a key cannot have scopes its creator lacks");
	if ((want & SCOPE_ADMIN) && r->who.role < ROLE_ADMIN)
		return http_error(r, ERR_FORBIDDEN, "only tenant admins can create admin keys");
	if (r->who.key_project_id != NULL && (!v[2].present ||
	    strcasecmp(v[2].s, r->who.key_project_id) != 0))
		return http_error(r, ERR_FORBIDDEN, "a project key can only create keys for its project");
	scopes_s = cJSON_PrintUnformatted(scopes);
	arena_defer(r->a, free, scopes_s);
	if (crypto_token(key, sizeof(key), "lnchr_sk_", 43) != 0)
		return ERR_INTERNAL;
	memcpy(prefix, key, 13);
	prefix[13] = '\0';
	e = db_run(r, &st_create, &res, v[0].s, prefix,
	    auth_key_hash_hex(r, "service-key", key), scopes_s, v[2].s, r->who.user_id,
	    auth_role_name(r->who.role), v[3].s);
	if (e != ERR_OK) {
		sodium_memzero(key, sizeof(key));
		return e;
	}
	if (PQntuples(res) != 1) {
		sodium_memzero(key, sizeof(key));
		return http_field_error(r, "invalid request body", "expires_at", "must be in the future");
	}
	d = json_row(res, 0);
	cJSON_AddStringToObject(d, "key", key);
	sodium_memzero(key, sizeof(key));
	return http_respond_json(r, 201, d, NULL);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, r->who.user_id);
	list_filter(&p, all_keys(r));
	return list_run(r, &p, &st_list);
}

static enum err
get(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_get, &res, r->who.user_id, all_keys(r), id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "service key not found");
	return http_respond_row(r, 200, res, 0);
}

static enum err
key_revoke(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_revoke, &res, r->who.user_id, all_keys(r), id,
	    auth_role_name(r->who.role))) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "service key not found");
	if (db_get(res, 0, "revoked")[0] != 't')
		return http_error(r, ERR_FORBIDDEN,
		    "only a superadmin can revoke the keys of a superadmin");
	return http_no_content(r);
}

const struct route api_service_key_routes[] = {
	{.methods = HTTP_GET, .pattern = "/settings/service-keys", .fn = list},
	{.methods = HTTP_POST, .pattern = "/settings/service-keys", .fn = key_create,
	    .flags = ROUTE_SECRET_ANSWER, .audit = "service_key.create"},
	{.methods = HTTP_GET, .pattern = "/settings/service-keys/:id", .fn = get},
	{.methods = HTTP_DELETE, .pattern = "/settings/service-keys/:id", .fn = key_revoke, .audit = "service_key.revoke"},
	{0},
};
