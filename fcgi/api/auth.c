/*
 * auth.c - API.md §1 Authentication: setup-status, register, login, logout,
 * send-code / verify-code, me, me/password, me/set-initial-password.
 */
#include "api.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "../core/auth.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/mail.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "users_common.h"

DB_STMT st_setup = {"auth_setup",
    "SELECT EXISTS (SELECT 1 FROM users) AS setup_complete"};
DB_STMT st_register = {"auth_register",
    "WITH u AS (INSERT INTO users (email, first_name, last_name, role, password_hash, first_user)"
    " SELECT lower($1), $2, $3, 'superadmin', $4, true WHERE NOT EXISTS (SELECT 1 FROM users)"
    " RETURNING *) SELECT " USER_COLS " FROM u"};
DB_STMT st_by_email = {"auth_by_email",
    "SELECT " USER_COLS ", password_hash AS _password_hash FROM users"
    " WHERE email = lower($1) AND active"};
/* The session row records it; the user's row is what requests check
 * (sql/010_session_check.sql). */
DB_STMT st_logout = {"auth_logout",
    "WITH s AS (UPDATE sessions SET revoked_at = now()"
    " WHERE jti = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING jti, expires_at)"
    " UPDATE users u SET revoked_sessions = session_revoked_add(u.revoked_sessions, s.jti, s.expires_at)"
    " FROM s WHERE u.id = $2"};
DB_STMT st_code_new = {"auth_code_new",
    "WITH old AS (UPDATE login_codes SET used_at = now() WHERE email = lower($1) AND used_at IS NULL)"
    " INSERT INTO login_codes (email, code_hash, expires_at)"
    " VALUES (lower($1), $2::bytea, now() + interval '10 minutes')"};
DB_STMT st_code_try = {"auth_code_try",
    "UPDATE login_codes SET attempts = attempts + 1 WHERE id = (SELECT id FROM login_codes"
    " WHERE email = lower($1) AND used_at IS NULL AND expires_at > now()"
    " ORDER BY created_at DESC LIMIT 1) AND attempts < 5 RETURNING id, code_hash::text AS h"};
DB_STMT st_code_use = {"auth_code_use",
    "UPDATE login_codes SET used_at = now() WHERE id = $1 AND used_at IS NULL RETURNING id"};
DB_STMT st_me_update = {"auth_me_update",
    "UPDATE users SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name),"
    " updated_at = now() WHERE id = $1 RETURNING " USER_COLS};
DB_STMT st_pw_get = {"auth_pw_get",
    "SELECT password_hash FROM users WHERE id = $1"};
DB_STMT st_pw_change = {"auth_pw_change",
    "WITH u AS (UPDATE users SET password_hash = $2, must_reset_password = false, updated_at = now(),"
    " session_gen = session_gen + 1, kept_session = $3::uuid, revoked_sessions = '{}'"
    " WHERE id = $1 RETURNING id)"
    " UPDATE sessions SET revoked_at = now() WHERE user_id = (SELECT id FROM u)"
    " AND revoked_at IS NULL AND jti IS DISTINCT FROM $3::uuid"};
DB_STMT st_pw_initial = {"auth_pw_initial",
    "UPDATE users SET password_hash = $2, must_reset_password = false, updated_at = now()"
    " WHERE id = $1 AND password_hash IS NULL RETURNING " USER_COLS};

/* The password hash for a new secret; responds 500 on failure. */
static const char *
hash_password(struct req *r, const char *pw)
{
	char *out = arena_alloc(r->a, crypto_pwhash_STRBYTES);

	if (crypto_password_hash(pw, r->w->cfg->password_hash_cost, out,
	    crypto_pwhash_STRBYTES) != 0) {
		log_error("password hashing failed (out of memory?)");
		return NULL;
	}
	return out;
}

static enum err
setup_status(struct req *r)
{
	PGresult *res;
	enum err  e;
	cJSON    *d;

	if ((e = db_run0(r, &st_setup, &res)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "setup_complete", db_get(res, 0, "setup_complete")[0] == 't');
	return http_respond_json(r, 200, d, NULL);
}

static const struct field register_fields[] = {
	{"email", F_EMAIL, true, false, 0, 0, NULL},
	{"password", F_STRING, true, false, PASSWORD_MIN, PASSWORD_MAX, NULL},
	{"first_name", F_STRING, true, false, 1, 100, NULL},
	{"last_name", F_STRING, true, false, 1, 100, NULL},
};

static enum err
do_register(struct req *r)
{
	struct field_val v[4];
	PGresult        *res;
	const char      *hash;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, register_fields, v)) != ERR_OK)
		return e;
	if ((hash = hash_password(r, v[1].s)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_register, &res, v[0].s, v[2].s, v[3].s, hash);
	if (e == ERR_CONFLICT || (e == ERR_OK && PQntuples(res) == 0))
		return http_error(r, ERR_CONFLICT, "setup is already complete: registration is closed");
	if (e != ERR_OK)
		return e;
	return auth_issue(r, 201, res, 0);
}

static const struct field login_fields[] = {
	{"email", F_STRING, true, false, 1, 254, NULL},
	{"password", F_STRING, true, false, 1, PASSWORD_MAX, NULL},
};

static enum err
login(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	const char      *hash;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, login_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_by_email, &res, v[0].s)) != ERR_OK)
		return e;
	hash = PQntuples(res) == 1 ? db_get(res, 0, "_password_hash") : NULL;
	/* Unknown e-mail, no password yet, or wrong password: same answer,
	 * and the same argon2id work, so the time says nothing either. */
	if (hash == NULL) {
		crypto_password_dummy(v[1].s, r->w->cfg->password_hash_cost);
		return http_error(r, ERR_UNAUTHORIZED, "invalid email or password");
	}
	if (!crypto_password_verify(hash, v[1].s))
		return http_error(r, ERR_UNAUTHORIZED, "invalid email or password");
	return auth_issue(r, 200, res, 0);
}

/* POST /auth/logout: revokes the presented JWT, if any; always 204. */
static enum err
logout(struct req *r)
{
	const char       *h = http_header(r, "authorization");
	struct jwt_claims c;

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    crypto_jwt_verify(&r->w->keys, r->w->cfg->jwt_issuer, h + 7,
	    (int64_t)time(NULL), &c) == 0 && strcmp(c.tid, r->who.tenant_id) == 0)
		(void)db_run(r, &st_logout, NULL, c.jti, c.sub);
	return http_no_content(r);
}

static const char *
check_method(const cJSON *v)
{
	return strcmp(v->valuestring, "email") == 0 ? NULL : "must be \"email\"";
}

static const struct field send_code_fields[] = {
	{"email", F_EMAIL, true, false, 0, 0, NULL},
	{"method", F_STRING, false, false, 1, 16, check_method},
};

static const char *
code_hash(struct req *r, const char *email, const char *code)
{
	const char *material = arena_printf(r->a, "%s\n%s\n%s", r->who.tenant_id, email, code);

	return auth_key_hash_hex(r, "login-code", material);
}

struct code_mail {
	char *to;
	char *code;
};

static void
send_code_mail(struct worker *w, void *arg)
{
	struct code_mail *m = arg;
	char              body[512];

	if (util_snprintf(body, sizeof(body),
	    "Your Launcher sign-in code is %s\r\n\r\nIt is valid for 10 minutes and can be used once.\r\n"
	    "If you did not ask for it, ignore this message.", m->code) < 0)
		return;
	(void)mail_send(w->cfg, m->to, "Your Launcher sign-in code", body);
	sodium_memzero(body, sizeof(body));
	sodium_memzero(m->code, strlen(m->code));
}

/*
 * POST /auth/send-code: a code row is written whether or not the account
 * exists (same work, same answer); the mail goes out after the response,
 * and only to an existing account.
 */
static enum err
send_code(struct req *r)
{
	struct field_val  v[2];
	PGresult         *res;
	struct code_mail *m;
	char              code[7];
	char             *email;
	cJSON            *d;
	enum err          e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, send_code_fields, v)) != ERR_OK)
		return e;
	email = arena_strdup(r->a, v[0].s);
	for (char *p = email; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	crypto_digits(code, 6);
	if ((e = db_run(r, &st_code_new, NULL, email, code_hash(r, email, code))) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_by_email, &res, email)) != ERR_OK)
		return e;
	if (PQntuples(res) == 1) {
		m = arena_alloc(r->a, sizeof(*m));
		m->to = email;
		m->code = arena_strdup(r->a, code);
		http_after(r, send_code_mail, m);
	}
	sodium_memzero(code, sizeof(code));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "message", "if the account exists, a code has been sent");
	return http_respond_json(r, 200, d, NULL);
}

static const char *
check_code(const cJSON *v)
{
	const char *s = v->valuestring;

	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return "must be 6 digits";
	return s[6] == '\0' ? NULL : "must be 6 digits";
}

static const struct field verify_code_fields[] = {
	{"email", F_EMAIL, true, false, 0, 0, NULL},
	{"code", F_STRING, true, false, 6, 6, check_code},
};

static enum err
verify_code(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	const char      *want;
	char            *email;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, verify_code_fields, v)) != ERR_OK)
		return e;
	email = arena_strdup(r->a, v[0].s);
	for (char *p = email; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if ((e = db_run(r, &st_code_try, &res, email)) != ERR_OK)
		return e;
	want = code_hash(r, email, v[1].s);
	if (PQntuples(res) != 1 || strlen(db_get(res, 0, "h")) != strlen(want) ||
	    sodium_memcmp(db_get(res, 0, "h"), want, strlen(want)) != 0)
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired code");
	if ((e = db_run(r, &st_code_use, &res, db_get(res, 0, "id"))) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired code");
	if ((e = db_run(r, &st_by_email, &res, email)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired code");
	return auth_issue(r, 200, res, 0);
}

static enum err
me_get(struct req *r)
{
	if (r->who.user_row == NULL)	/* the route asks for it (ROUTE_USER_OBJECT) */
		return ERR_INTERNAL;
	return http_respond_row(r, 200, r->who.user_row, 0);
}

static const struct field me_fields[] = {
	{"first_name", F_STRING, false, false, 1, 100, NULL},
	{"last_name", F_STRING, false, false, 1, 100, NULL},
};

static enum err
me_put(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, me_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_me_update, &res, r->who.user_id, v[0].s, v[1].s)) != ERR_OK)
		return e;
	return http_respond_row(r, 200, res, 0);
}

static const struct field password_fields[] = {
	{"current_password", F_STRING, true, false, 1, PASSWORD_MAX, NULL},
	{"new_password", F_STRING, true, false, PASSWORD_MIN, PASSWORD_MAX, NULL},
};

static enum err
me_password(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	const char      *old, *hash;
	cJSON           *d;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, password_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_pw_get, &res, r->who.user_id)) != ERR_OK)
		return e;
	if ((old = db_get(res, 0, "password_hash")) == NULL)
		return http_error(r, ERR_CONFLICT,
		    "the account has no password yet: use /auth/me/set-initial-password");
	if (!crypto_password_verify(old, v[0].s)) {
		return http_field_error(r, "invalid request body", "current_password", "is incorrect");
	}
	if ((hash = hash_password(r, v[1].s)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_pw_change, &res, r->who.user_id, hash, r->who.jti)) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddBoolToObject(d, "password_changed", 1);
	cJSON_AddRawToObject(d, "revoked_sessions", PQcmdTuples(res)[0] ? PQcmdTuples(res) : "0");
	return http_respond_json(r, 200, d, NULL);
}

static const struct field initial_fields[] = {
	{"password", F_STRING, true, false, PASSWORD_MIN, PASSWORD_MAX, NULL},
};

static enum err
me_initial_password(struct req *r)
{
	struct field_val v[1];
	PGresult        *res;
	const char      *hash;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, initial_fields, v)) != ERR_OK)
		return e;
	if ((hash = hash_password(r, v[0].s)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_pw_initial, &res, r->who.user_id, hash)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_CONFLICT, "the account already has a password");
	return http_respond_row(r, 200, res, 0);
}

const struct route api_auth_routes[] = {
	{.methods = HTTP_GET, .pattern = "/auth/setup-status", .fn = setup_status, .flags = ROUTE_PUBLIC},
	{.methods = HTTP_POST, .pattern = "/auth/register", .fn = do_register, .flags = ROUTE_PUBLIC},
	{.methods = HTTP_POST, .pattern = "/auth/login", .fn = login, .flags = ROUTE_PUBLIC},
	{.methods = HTTP_POST, .pattern = "/auth/logout", .fn = logout, .flags = ROUTE_PUBLIC},
	{.methods = HTTP_POST, .pattern = "/auth/send-code", .fn = send_code, .flags = ROUTE_PUBLIC},
	{.methods = HTTP_POST, .pattern = "/auth/verify-code", .fn = verify_code,
	    .flags = ROUTE_PUBLIC | ROUTE_COMMIT_REFUSAL},	/* a wrong code's attempt counts */
	{.methods = HTTP_GET, .pattern = "/auth/me", .fn = me_get, .flags = ROUTE_USER_OBJECT},
	{.methods = HTTP_PUT, .pattern = "/auth/me", .fn = me_put, .audit = "user.update_profile"},
	{.methods = HTTP_PUT, .pattern = "/auth/me/password", .fn = me_password, .audit = "user.change_password"},
	{.methods = HTTP_POST, .pattern = "/auth/me/set-initial-password", .fn = me_initial_password, .audit = "user.set_password"},
	{0},
};
