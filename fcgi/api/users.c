/*
 * users.c - API.md §1 /users: tenant user administration (admins only).
 * Users created here have no password: they sign in with an e-mailed code
 * and then set one with /auth/me/set-initial-password.
 */
#include "api.h"

#include <string.h>

#include "../core/auth.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "users_common.h"

DB_STMT st_list = {"users_list",
    "SELECT " USER_COLS " FROM users WHERE true" LIST_TAIL("")};
DB_STMT st_get = {"users_get",
    "SELECT " USER_COLS " FROM users WHERE id = $1::uuid"};
DB_STMT st_create = {"users_create",
    "INSERT INTO users (email, first_name, last_name, role, must_reset_password)"
    " VALUES (lower($1), $2, $3, $4, true) RETURNING " USER_COLS};
DB_STMT st_update = {"users_update",
    "SELECT * FROM api_user_update($1::uuid, $2::uuid, $3, $4, $5, $6, $7::boolean)"};

static const char *
check_role(const cJSON *v)
{
	return auth_role_parse(v->valuestring) == ROLE_NONE ?
	    "must be one of superadmin, admin, user" : NULL;
}

static enum err
list(struct req *r)
{
	return list_all(r, &st_list);
}

static const struct field create_fields[] = {
	{"email", F_EMAIL, true, false, 0, 0, NULL},
	{"first_name", F_STRING, false, false, 0, 100, NULL},
	{"last_name", F_STRING, false, false, 0, 100, NULL},
	{"role", F_STRING, false, false, 1, 16, check_role},
};

static enum err
create(struct req *r)
{
	struct field_val v[4];
	PGresult        *res;
	const char      *role;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK)
		return e;
	role = v[3].present ? v[3].s : "user";
	if (auth_role_parse(role) == ROLE_SUPERADMIN && r->who.role < ROLE_SUPERADMIN)
		return http_error(r, ERR_FORBIDDEN, "only a superadmin can manage superadmins");
	e = db_run(r, &st_create, &res, v[0].s, v[1].present ? v[1].s : "",
	    v[2].present ? v[2].s : "", role);
	if (e == ERR_CONFLICT)
		return http_error(r, e, "a user with this email already exists");
	if (e != ERR_OK)
		return e;
	return http_respond_row(r, 201, res, 0);
}

static enum err
get(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_get, &res, id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "user not found");
	return http_respond_row(r, 200, res, 0);
}

static enum err
update(struct req *r, const char *first, const char *last, const char *role,
    const char *active, int status)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	e = db_run(r, &st_update, &res, id, r->who.user_id, auth_role_name(r->who.role),
	    first, last, role, active);
	if (e == ERR_NOT_FOUND)
		return http_error(r, e, "user not found");
	if (e == ERR_CONFLICT || e == ERR_FORBIDDEN)
		return http_error(r, e, db_message(r, "conflict"));
	if (e != ERR_OK)
		return e;
	if (status == 204)
		return http_no_content(r);
	return http_respond_row(r, 200, res, 0);
}

static const struct field put_fields[] = {
	{"first_name", F_STRING, false, false, 0, 100, NULL},
	{"last_name", F_STRING, false, false, 0, 100, NULL},
	{"role", F_STRING, false, false, 1, 16, check_role},
	{"active", F_BOOL, false, false, 0, 0, NULL},
};

static enum err
put(struct req *r)
{
	struct field_val v[4];
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, put_fields, v)) != ERR_OK)
		return e;
	return update(r, v[0].s, v[1].s, v[2].s,
	    v[3].present ? (v[3].b ? "true" : "false") : NULL, 200);
}

/* DELETE deactivates: the account and its history stay, sessions end. */
static enum err
del(struct req *r)
{
	return update(r, NULL, NULL, NULL, "false", 204);
}

const struct route api_user_routes[] = {
	{.methods = HTTP_GET, .pattern = "/users", .fn = list, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN},
	{.methods = HTTP_POST, .pattern = "/users", .fn = create, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN, .audit = "user.create"},
	{.methods = HTTP_GET, .pattern = "/users/:id", .fn = get, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN},
	{.methods = HTTP_PUT, .pattern = "/users/:id", .fn = put, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN, .audit = "user.update"},
	{.methods = HTTP_DELETE, .pattern = "/users/:id", .fn = del, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN, .audit = "user.deactivate"},
	{0},
};
