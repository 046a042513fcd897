/*
 * auth.c - tenant resolution, service keys, JWT sessions (see auth.h).
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "db.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static const struct db_stmt st_tenant = {"auth_tenant",
    "SELECT api_tenant($1) AS tenant_id"};
static const struct db_stmt st_key = {"auth_key",
    "SELECT * FROM api_auth_key($1, $2::bytea)"};
static const struct db_stmt st_jwt = {"auth_jwt",
    "SELECT * FROM api_auth_jwt($1, $2::uuid, $3::uuid)"};
static const struct db_stmt st_session = {"auth_session",
    "INSERT INTO sessions (user_id, expires_at) VALUES ($1, to_timestamp($2))"
    " RETURNING jti"};

static const char *const role_names[] = {"", "user", "admin", "superadmin"};

enum role
auth_role_parse(const char *s)
{
	for (int i = ROLE_USER; i <= ROLE_SUPERADMIN; i++)
		if (s != NULL && strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	return ROLE_NONE;
}

const char *
auth_role_name(enum role r)
{
	return (unsigned)r <= ROLE_SUPERADMIN ? role_names[r] : "";
}

const char *
auth_key_hash_hex(struct req *r, const char *purpose, const char *secret)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char         *out = arena_alloc(r->a, 2 * sizeof(h) + 3);

	crypto_keyed_hash(&r->w->keys, purpose, secret, strlen(secret), h);
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
	return out;
}

/* Unknown tenant wins over bad credentials: 404 names no resource. */
static enum err
tenant_or(struct req *r, enum err e, const char *msg)
{
	PGresult *res;
	enum err  te;

	if ((te = db_run(r, &st_tenant, &res, r->tenant_ref)) != ERR_OK)
		return http_error(r, te, "service temporarily unavailable");
	if (db_isnull(res, 0, "tenant_id"))
		return http_error(r, ERR_NOT_FOUND, "tenant not found");
	return http_error(r, e, msg);
}

enum err
auth_tenant(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_tenant, &res, r->tenant_ref)) != ERR_OK)
		return http_error(r, e, "service temporarily unavailable");
	if (db_isnull(res, 0, "tenant_id"))
		return http_error(r, ERR_NOT_FOUND, "tenant not found");
	r->who.tenant_id = arena_strdup(r->a, db_get(res, 0, "tenant_id"));
	return ERR_OK;
}

static unsigned
scopes_parse(const char *s)
{
	/* A text[] in PostgreSQL's output form: {read,write} */
	unsigned bits = 0;

	if (s == NULL)
		return 0;
	if (strstr(s, "read"))
		bits |= SCOPE_READ;
	if (strstr(s, "write"))
		bits |= SCOPE_WRITE;
	if (strstr(s, "deploy"))
		bits |= SCOPE_DEPLOY;
	if (strstr(s, "admin"))
		bits |= SCOPE_ADMIN;
	return bits;
}

/* Common tail: tenant known? principal found? fill r->who. */
static enum err
principal_from(struct req *r, PGresult *res)
{
	if (db_isnull(res, 0, "_tenant_id"))
		return http_error(r, ERR_NOT_FOUND, "tenant not found");
	r->who.tenant_id = arena_strdup(r->a, db_get(res, 0, "_tenant_id"));
	if (db_isnull(res, 0, "id"))
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	r->who.authenticated = true;
	r->who.user_id = arena_strdup(r->a, db_get(res, 0, "id"));
	r->who.role = auth_role_parse(db_get(res, 0, "_role"));
	r->who.user = arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, json_row(res, 0));
	return ERR_OK;
}

static enum err
auth_key(struct req *r, const char *key)
{
	PGresult *res;
	enum err  e;

	/* Shape check first: no database work for obvious garbage. */
	if (strncmp(key, "lnchr_sk_", 9) != 0 || strlen(key) > 128)
		return tenant_or(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	e = db_run(r, &st_key, &res, r->tenant_ref,
	    auth_key_hash_hex(r, "service-key", key));
	if (e != ERR_OK)
		return http_error(r, e, "service temporarily unavailable");
	if ((e = principal_from(r, res)) != ERR_OK)
		return e;
	r->who.key_id = arena_strdup(r->a, db_get(res, 0, "_key_id"));
	r->who.scopes = scopes_parse(db_get(res, 0, "_scopes"));
	if (!db_isnull(res, 0, "_key_project"))
		r->who.key_project_id = arena_strdup(r->a, db_get(res, 0, "_key_project"));
	return ERR_OK;
}

static enum err
auth_jwt(struct req *r, const char *token)
{
	struct jwt_claims c;
	PGresult         *res;
	enum err          e;

	if (crypto_jwt_verify(&r->w->keys, r->w->cfg->jwt_issuer, token,
	    (int64_t)time(NULL), &c) != 0)
		return tenant_or(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	if ((e = db_run(r, &st_jwt, &res, r->tenant_ref, c.jti, c.sub)) != ERR_OK)
		return http_error(r, e, "service temporarily unavailable");
	if ((e = principal_from(r, res)) != ERR_OK)
		return e;
	/* A token of another tenant never matches a session here (RLS), but
	 * the claim is checked too. */
	if (strcmp(c.tid, r->who.tenant_id) != 0) {
		r->who.authenticated = false;
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	}
	r->who.scopes = SCOPE_ALL;
	r->who.jti = arena_strdup(r->a, c.jti);
	return ERR_OK;
}

/* The bearer token of an Authorization header, or NULL. */
static const char *
bearer(struct req *r)
{
	const char *h = http_header(r, "authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

enum err
auth_authenticate(struct req *r)
{
	const char *key = http_header(r, "x-lnchr-key"), *tok;

	if (key != NULL && *key != '\0')
		return auth_key(r, key);
	if ((tok = bearer(r)) != NULL)
		return auth_jwt(r, tok);
	return tenant_or(r, ERR_UNAUTHORIZED, "authentication required");
}

enum err
auth_agent(struct req *r)
{
	/* The agent API arrives with the Servers section. */
	return tenant_or(r, ERR_UNAUTHORIZED, "agent authentication required");
}

enum err
auth_issue(struct req *r, int status, PGresult *res, int row)
{
	struct jwt_claims c;
	PGresult         *sres;
	char              token[2048], exp[32];
	const char       *uid = db_get(res, row, "id");
	cJSON            *data;
	enum err          e;
	time_t            now = time(NULL);

	memset(&c, 0, sizeof(c));
	c.iat = (int64_t)now;
	c.exp = c.iat + r->w->cfg->jwt_lifetime_seconds;
	util_snprintf(exp, sizeof(exp), "%lld", (long long)c.exp);
	if ((e = db_run(r, &st_session, &sres, uid, exp)) != ERR_OK)
		return e;
	if (util_snprintf(c.sub, sizeof(c.sub), "%s", uid) < 0 ||
	    util_snprintf(c.tid, sizeof(c.tid), "%s", r->who.tenant_id) < 0 ||
	    util_snprintf(c.jti, sizeof(c.jti), "%s", db_get(sres, 0, "jti")) < 0 ||
	    util_snprintf(c.role, sizeof(c.role), "%s", db_get(res, row, "role")) < 0 ||
	    crypto_jwt_sign(&r->w->keys, r->w->cfg->jwt_issuer, &c, token, sizeof(token)) != 0) {
		log_error("auth_issue: could not sign a token");
		return ERR_INTERNAL;
	}
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "token", token);
	cJSON_AddNumberToObject(data, "expires_in", (double)r->w->cfg->jwt_lifetime_seconds);
	cJSON_AddItemToObject(data, "user", json_row(res, row));
	sodium_memzero(token, sizeof(token));
	return http_respond_json(r, status, data, NULL);
}
