/*
 * auth.c - tenant resolution, service keys, JWT sessions (see auth.h).
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "db.h"
#include "router.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/*
 * The preamble is two prepared statements sent in one round trip (libpq
 * pipeline mode): the first resolves the URL's tenant and makes it the
 * tenant of this session for row-level security ('' = unknown tenant); the
 * second finds the principal, under RLS, so it can only match in that
 * tenant.  Every tenant route runs the first unless the session already
 * holds the very tenant the URL names (preamble_fast), so a stale tenant
 * of an earlier request can never leak into this one.
 */
/* The tenant and its proof under the session's nonce ($2, db.h): the
 * setting counts only with it (sql/015_tenant_guard.sql). */
#define SET_TENANT(expr) "SELECT pg_catalog.set_config('launcher.tenant_id', t.id, false) AS tenant_id," \
	" pg_catalog.set_config('launcher.tenant_proof', tenant_proof(t.id, $2), false) AS _proof" \
	" FROM (SELECT " expr " AS id) t"
DB_STMT st_tenant_slug = {"auth_tenant_slug",
    SET_TENANT("coalesce((SELECT id::text FROM tenants WHERE slug = $1), '')")};
/* A JWT names its tenant: when the URL names the same one, no lookup. */
DB_STMT st_tenant_claim = {"auth_tenant_claim", SET_TENANT("$1::text")};
DB_STMT st_tenant_id = {"auth_tenant_id",
    SET_TENANT("coalesce((SELECT id::text FROM tenants WHERE id = $1::uuid), '')")};
/* The user's id, and the user object as the row keeps it rendered
 * (sql/012_user_json.sql): what /auth/me answers. */
#define PRINCIPAL_USER_COLS "u.id, u.api_json AS _json"
/*
 * The principal statements come in two forms: plain, and for a request
 * whose route prefetches (router.h), one more column that records in
 * launcher.tenant_wide whether the caller reads the whole tenant (tenant
 * admin, no project-bound key), as this request's token ($N, the last
 * parameter) or ''.  A prefetched statement sent after it in the same
 * round trip can only match that token when this very statement found
 * the principal: a request whose principal is not found leaves the
 * previous request's token in place, which no later request repeats.
 */
#define TENANT_WIDE(cond, n) ", pg_catalog.set_config('launcher.tenant_wide', CASE WHEN " cond \
	" THEN $" n " ELSE '' END, false) AS _tenant_wide"
/* The key's effective role is capped by its creator's role at creation. */
#define KEY_ROLE "CASE WHEN role_rank(k.creator_role) < role_rank(u.role) THEN k.creator_role ELSE u.role END"
#define KEY_SELECT "SELECT k.id AS _key_id, k.scopes::text AS _scopes, k.project_id AS _key_project," \
	" " KEY_ROLE " AS _role," \
	" (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS _touch, " \
	PRINCIPAL_USER_COLS
#define KEY_FROM " FROM service_keys k JOIN users u ON u.id = k.created_by AND u.active" \
	" WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL" \
	" AND (k.expires_at IS NULL OR k.expires_at > now())"
DB_STMT st_key = {"auth_key", KEY_SELECT KEY_FROM};
DB_STMT st_key_pf = {"auth_key_pf", KEY_SELECT
    TENANT_WIDE("role_rank(" KEY_ROLE ") >= 2 AND k.project_id IS NULL", "2") KEY_FROM};
/*
 * The same principal without the user object, for every route but those
 * that answer with it (ROUTE_USER_OBJECT): the key row carries its
 * creator's current role and active flag (sql/013_key_owner.sql), so this
 * is one index probe of service_keys.
 */
#define KEY_LITE_ROLE "CASE WHEN role_rank(k.creator_role) < role_rank(k.owner_role)" \
	" THEN k.creator_role ELSE k.owner_role END"
#define KEY_LITE_SELECT "SELECT k.id AS _key_id, k.scopes::text AS _scopes," \
	" k.project_id AS _key_project, " KEY_LITE_ROLE " AS _role," \
	" (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS _touch," \
	" k.created_by AS id"
#define KEY_LITE_FROM " FROM service_keys k WHERE k.key_hash = $1::bytea AND k.owner_active" \
	" AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
DB_STMT st_key_lite = {"auth_key_lite", KEY_LITE_SELECT KEY_LITE_FROM};
DB_STMT st_key_lite_pf = {"auth_key_lite_pf", KEY_LITE_SELECT
    TENANT_WIDE("role_rank(" KEY_LITE_ROLE ") >= 2 AND k.project_id IS NULL", "2") KEY_LITE_FROM};
/*
 * A signed, unexpired token counts while its user is active, its session
 * proof matches the user's session secret (auth_jwt), it is of the user's
 * current session generation (or is the one token a password change
 * kept), and no logout revoked it: all in the user's row
 * (sql/010_session_check.sql), so this is one primary-key lookup.
 * $1 = sub, $2 = gen, $3 = jti.
 */
#define JWT_SELECT "SELECT u.role AS _role, u.session_secret AS _ss, " PRINCIPAL_USER_COLS
#define JWT_FROM " FROM users u WHERE u.id = $1::uuid AND u.active" \
	" AND (u.session_gen = $2::int OR u.kept_session = $3::uuid)" \
	" AND NOT u.revoked_sessions ? $3::uuid::text"
DB_STMT st_jwt = {"auth_jwt", JWT_SELECT JWT_FROM};
DB_STMT st_jwt_pf = {"auth_jwt_pf", JWT_SELECT
    TENANT_WIDE("role_rank(u.role) >= 2", "4") JWT_FROM};
DB_STMT st_agent = {"auth_agent",
    "SELECT id, status, heartbeat_interval_seconds FROM servers WHERE agent_token_hash = $1::bytea"};
/* last_used_at is advisory: written at most once a minute per key. */
DB_STMT st_touch = {"auth_key_touch",
    "UPDATE service_keys SET last_used_at = now() WHERE id = $1::uuid"};
/*
 * A session of user $1 issued at $2 (epoch seconds) that lasts the
 * tenant's jwt_lifetime_seconds (GET/PUT /settings/general,
 * sql/045_settings_issues.sql), else $3, the plane's (launcher.conf).
 */
DB_STMT st_session = {"auth_session",
    "WITH l AS (SELECT coalesce((SELECT jwt_lifetime_seconds FROM tenant_settings"
    "  WHERE tenant_id = current_tenant()), $3::bigint) AS secs),"
    " s AS (INSERT INTO sessions (user_id, expires_at)"
    "  SELECT $1, to_timestamp($2::bigint + l.secs) FROM l RETURNING jti, user_id)"
    " SELECT s.jti, u.session_gen::text AS gen, u.session_secret AS ss,"
    " (SELECT secs FROM l)::text AS lifetime FROM s JOIN users u ON u.id = s.user_id"};

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

static const struct db_stmt *
tenant_stmt(struct req *r)
{
	return util_is_uuid(r->tenant_ref) ? &st_tenant_id : &st_tenant_slug;
}

/* The session holds tid, set or confirmed for this request's URL
 * reference (db.h's held_id; router.c checks it before every handler). */
static void
hold(struct req *r, const char *tid)
{
	struct db *db = &r->w->db;

	if (strlen(tid) < sizeof(db->held_id) && strlen(r->tenant_ref) < sizeof(db->held_ref)) {
		memcpy(db->held_id, tid, strlen(tid) + 1);
		memcpy(db->held_ref, r->tenant_ref, strlen(r->tenant_ref) + 1);
	}
}

/*
 * The session already holds the tenant this request names (the last
 * preamble on this connection resolved the same URL reference, or took
 * the same UUID from a signed claim): the principal statement (and the
 * route's prefetch) can run alone, under the same row-level security.  A
 * slug that has since come to name another tenant cannot be served by it:
 * any change to the tenants table reaches every pool connection as a
 * notification (db.c's forget_tenant), which clears the remembered
 * tenant, and a notification that arrives with this very round trip voids
 * its answers.  Only a principal found counts: no row, an error or a
 * reconnection sends the request through the whole preamble.
 */
static bool
preamble_fast(struct req *r, size_t n, const struct db_call *calls, PGresult **res,
    const char *claimed_tid)
{
	struct db *db = &r->w->db;
	bool       same = claimed_tid != NULL ? strcmp(claimed_tid, db->tenant_id) == 0 :
	    strcmp(r->tenant_ref, db->tenant_ref) == 0;
	uint64_t   seen = db->notified;

	if (calls[0].st == NULL || db->conn.pg == NULL || db->in_tx || db->tenant_id[0] == '\0' || !same)
		return false;
	if (db_pipeline(r, n, calls, res) != ERR_OK || PQntuples(res[0]) == 0 ||
	    db->notified != seen || db->tenant_id[0] == '\0')
		return false;
	r->who.tenant_id = arena_strdup(r->a, db->tenant_id);
	hold(r, db->tenant_id);
	return true;
}

/*
 * Runs the tenant statement, then `st` (if any) in the same round trip
 * (or `st` alone, see preamble_fast), and the route's prefetch after it
 * when it has one (with st_pf, the form of st that records
 * launcher.tenant_wide; params has room for one more).  Answers 404 for an
 * unknown tenant, 503 when the database is down.
 */
static enum err
preamble(struct req *r, const struct db_stmt *st, const struct db_stmt *st_pf, int n,
    const char **params, PGresult **out, const char *claimed_tid)
{
	const char *const tp[] = {claimed_tid ? claimed_tid : r->tenant_ref, r->w->db.nonce};
	struct db_call    calls[3] = {{claimed_tid ? &st_tenant_claim : tenant_stmt(r), 2, tp},
	    {st, n, params}};
	struct db        *db = &r->w->db;
	PGresult         *res[3] = {NULL, NULL, NULL};
	const char       *tid;
	size_t            ncalls = st != NULL ? 2 : 1;
	enum err          e;
	uint64_t          seen;

	if (st != NULL && st_pf != NULL && r->matched != NULL && r->matched->prefetch != NULL &&
	    r->matched->prefetch(r, &calls[2])) {
		/* The token: the principal statement's last parameter, and the
		 * prefetch's (router.h). */
		params[n] = arena_printf(r->a, "%llu", (unsigned long long)++db->prefetch_seq);
		((const char **)calls[2].params)[calls[2].n - 1] = params[n];
		calls[1].st = st_pf;
		calls[1].n = n + 1;
		ncalls = 3;
	}
	db->held_id[0] = db->held_ref[0] = '\0';
	if (preamble_fast(r, ncalls - 1, calls + 1, res + 1, claimed_tid))
		goto found;
	seen = db->notified;
	e = db_pipeline(r, ncalls, calls, res);
	db->tenant_id[0] = db->tenant_ref[0] = '\0';
	if (e != ERR_OK)
		return http_error(r, e, e == ERR_UNAVAILABLE ? "service temporarily unavailable" :
		    "internal error");
	tid = db_get(res[0], 0, "tenant_id");
	if (tid == NULL || *tid == '\0')
		return http_error(r, ERR_NOT_FOUND, "tenant not found");
	r->who.tenant_id = arena_strdup(r->a, tid);
	if (!db->in_tx)
		hold(r, tid);
	/* Committed (its own implicit transaction): the session holds it now,
	 * for this URL reference too unless it came from a claim; unless the
	 * tenants changed meanwhile, when the next request resolves again. */
	if (!db->in_tx && db->notified == seen && strlen(tid) < sizeof(db->tenant_id) &&
	    strlen(r->tenant_ref) < sizeof(db->tenant_ref)) {
		memcpy(db->tenant_id, tid, strlen(tid) + 1);
		if (claimed_tid == NULL)
			memcpy(db->tenant_ref, r->tenant_ref, strlen(r->tenant_ref) + 1);
	}
found:
	if (ncalls == 3 && res[2] != NULL && PQntuples(res[1]) == 1) {
		r->prefetched = res[2];
		r->prefetch_params = calls[2].params;
	}
	if (out != NULL)
		*out = res[1];
	return ERR_OK;
}

/* Bad credentials: still 404 first when the tenant is unknown. */
static enum err
reject(struct req *r, const char *msg)
{
	enum err e = preamble(r, NULL, NULL, 0, NULL, NULL, NULL);

	return e != ERR_OK ? e : http_error(r, ERR_UNAUTHORIZED, msg);
}

enum err
auth_tenant(struct req *r)
{
	return preamble(r, NULL, NULL, 0, NULL, NULL, NULL);
}

const char *
auth_tenant_held(struct req *r)
{
	const struct db *db = &r->w->db;

	return db->conn.pg != NULL && db->tenant_id[0] != '\0' && r->tenant_ref != NULL &&
	    strcmp(r->tenant_ref, db->tenant_ref) == 0 ? db->tenant_id : NULL;
}

enum err
auth_tenant_with(struct req *r, const struct db_stmt *st, int n, const char **params,
    PGresult **out)
{
	enum err e;

	if ((e = preamble(r, st, NULL, n, params, out, NULL)) != ERR_OK)
		return e;
	return router_tenant_gate(r);
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

/* Fills r->who from the principal row; 401 if there is none. */
static enum err
principal_from(struct req *r, PGresult *res)
{
	if (PQntuples(res) != 1)
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	r->who.authenticated = true;
	r->who.user_id = arena_strdup(r->a, db_get(res, 0, "id"));
	r->who.role = auth_role_parse(db_get(res, 0, "_role"));
	/* The user object, when the principal statement read it
	 * (ROUTE_USER_OBJECT; a JWT's always does). */
	r->who.user_row = PQfnumber(res, "_json") >= 0 ? res : NULL;
	return ERR_OK;
}

static enum err
auth_key(struct req *r, const char *key)
{
	const char *params[2];
	PGresult   *res;
	enum err    e;

	/* Shape check first: no hashing for obvious garbage. */
	if (strncmp(key, "lnchr_sk_", 9) != 0 || strlen(key) > 128)
		return reject(r, "invalid or expired credentials");
	params[0] = auth_key_hash_hex(r, "service-key", key);
	if ((e = (r->matched != NULL && (r->matched->flags & ROUTE_USER_OBJECT) == 0) ?
	    preamble(r, &st_key_lite, &st_key_lite_pf, 1, params, &res, NULL) :
	    preamble(r, &st_key, &st_key_pf, 1, params, &res, NULL)) != ERR_OK ||
	    (e = principal_from(r, res)) != ERR_OK)
		return e;
	r->who.key_id = arena_strdup(r->a, db_get(res, 0, "_key_id"));
	r->who.scopes = scopes_parse(db_get(res, 0, "_scopes"));
	if (!db_isnull(res, 0, "_key_project"))
		r->who.key_project_id = arena_strdup(r->a, db_get(res, 0, "_key_project"));
	if (db_get(res, 0, "_touch")[0] == 't')
		(void)db_run(r, &st_touch, NULL, r->who.key_id);
	return ERR_OK;
}

static enum err
auth_jwt(struct req *r, const char *token)
{
	struct jwt_claims c;
	const char       *params[4];
	char              gen[24];
	PGresult         *res;
	enum err          e;

	if (crypto_jwt_verify(&r->w->keys, r->w->cfg->jwt_issuer, token,
	    (int64_t)time(NULL), &c) != 0)
		return reject(r, "invalid or expired credentials");
	util_snprintf(gen, sizeof(gen), "%lld", (long long)c.gen);
	params[0] = c.sub;
	params[1] = gen;
	params[2] = c.jti;
	/* The tid claim is signed: a URL naming that UUID needs no lookup (a
	 * UUID never names another tenant; a slug may come to). */
	e = preamble(r, &st_jwt, &st_jwt_pf, 3, params, &res,
	    strcasecmp(r->tenant_ref, c.tid) == 0 ? c.tid : NULL);
	if (e != ERR_OK)
		return e;
	/* A token of another tenant finds no user here (RLS); the claim is
	 * checked as well. */
	if (strcmp(c.tid, r->who.tenant_id) != 0)
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	/* Its jti was issued to this user by this plane (crypto.h). */
	if (PQntuples(res) == 1 && !crypto_session_proof_ok(db_get(res, 0, "_ss"), c.jti, c.sk))
		return http_error(r, ERR_UNAUTHORIZED, "invalid or expired credentials");
	if ((e = principal_from(r, res)) != ERR_OK)
		return e;
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
	return reject(r, "authentication required");
}

/*
 * An agent: its token names one server of the URL's tenant.  The agent is
 * not a user: r->who.authenticated stays false and r->who.server_id is set.
 */
enum err
auth_agent(struct req *r)
{
	const char *tok = http_header(r, "x-lnchr-agent-token"), *params[2];
	PGresult   *res;
	enum err    e;

	if (tok == NULL || strncmp(tok, "lnchr_at_", 9) != 0 || strlen(tok) > 128)
		return reject(r, "agent authentication required");
	params[0] = auth_key_hash_hex(r, "agent-token", tok);
	if ((e = preamble(r, &st_agent, NULL, 1, params, &res, NULL)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_UNAUTHORIZED, "invalid agent token");
	r->who.server_id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}

enum err
auth_issue(struct req *r, int status, PGresult *res, int row)
{
	struct jwt_claims c;
	PGresult         *sres;
	char              token[2048], iat[32], deflife[32];
	const char       *uid = db_get(res, row, "id");
	int64_t           lifetime;
	cJSON            *data;
	enum err          e;
	time_t            now = time(NULL);

	memset(&c, 0, sizeof(c));
	c.iat = (int64_t)now;
	util_snprintf(iat, sizeof(iat), "%lld", (long long)c.iat);
	util_snprintf(deflife, sizeof(deflife), "%lld", (long long)r->w->cfg->jwt_lifetime_seconds);
	if ((e = db_run(r, &st_session, &sres, uid, iat, deflife)) != ERR_OK)
		return e;
	if (util_parse_i64(db_get(sres, 0, "lifetime"), 1, INT32_MAX, &lifetime) != 0) {
		log_error("auth_issue: the session statement gave no lifetime");
		return ERR_INTERNAL;
	}
	c.exp = c.iat + lifetime;
	if (util_parse_i64(db_get(sres, 0, "gen"), 0, INT64_MAX, &c.gen) != 0 ||
	    util_snprintf(c.sub, sizeof(c.sub), "%s", uid) < 0 ||
	    util_snprintf(c.tid, sizeof(c.tid), "%s", r->who.tenant_id) < 0 ||
	    util_snprintf(c.jti, sizeof(c.jti), "%s", db_get(sres, 0, "jti")) < 0 ||
	    util_snprintf(c.role, sizeof(c.role), "%s", db_get(res, row, "role")) < 0 ||
	    crypto_session_proof(db_get(sres, 0, "ss"), c.jti, c.sk) != 0 ||
	    crypto_jwt_sign(&r->w->keys, r->w->cfg->jwt_issuer, &c, token, sizeof(token)) != 0) {
		log_error("auth_issue: could not sign a token");
		return ERR_INTERNAL;
	}
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "token", token);
	cJSON_AddNumberToObject(data, "expires_in", (double)lifetime);
	cJSON_AddItemToObject(data, "user", json_row(res, row));
	sodium_memzero(token, sizeof(token));
	return http_respond_json(r, status, data, NULL);
}
