/*
 * txn.c - transaction, idempotency and audit around mutations (txn.h).
 *
 * Idempotency-Key (POST only): keys are scoped to the tenant and the
 * principal (user or service key).  A transaction-level advisory lock on
 * the key serialises concurrent duplicates: the first runs, the others wait
 * and then replay its answer.  Only 2xx answers are stored (errors changed
 * nothing, so a retry may run again); same key with another method, path or
 * body is 409.
 */
#include "txn.h"

#include <string.h>

#include "auth.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "perm.h"
#include "util.h"
#include "worker.h"

DB_STMT st_idem_lock = {"txn_idem_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"};
DB_STMT st_idem_get = {"txn_idem_get",
    "SELECT request::text AS request, status, response FROM idempotency_keys"
    " WHERE principal = $1::uuid AND key = $2 AND created_at > now() - interval '24 hours'"};
DB_STMT st_idem_put = {"txn_idem_put",
    "INSERT INTO idempotency_keys (principal, key, request, status, response)"
    " VALUES ($1::uuid, $2, $3::bytea, $4::int, $5)"
    " ON CONFLICT (tenant_id, principal, key) DO UPDATE SET request = EXCLUDED.request,"
    " status = EXCLUDED.status, response = EXCLUDED.response, created_at = now()"};
DB_STMT st_audit = {"txn_audit",
    "INSERT INTO audit_log (actor_type, actor_id, user_id, action, resource_type,"
    " resource_id, project_id, request_id, ip, detail)"
    " VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6::uuid, $7::uuid, $8, $9, $10::jsonb)"};

static const char *
principal(struct req *r)
{
	return r->who.key_id ? r->who.key_id : r->who.user_id;
}

/* Idempotency-Key header, validated; NULL if absent. */
static enum err
idem_key(struct req *r, const char **key)
{
	const char *k = http_header(r, "idempotency-key");

	*key = NULL;
	if (k == NULL || r->method != HTTP_POST)
		return ERR_OK;
	if (*k == '\0' || strlen(k) > 255)
		return http_error(r, ERR_BAD_REQUEST, "Idempotency-Key must be 1 to 255 characters");
	for (const char *p = k; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return http_error(r, ERR_BAD_REQUEST,
			    "Idempotency-Key must be printable ASCII without spaces");
	*key = k;
	return ERR_OK;
}

/*
 * Looks the key up under its lock.  Returns ERR_OK to proceed (with the
 * request hash in *hash), or an error after having responded (replay,
 * conflict, failure); *replayed tells a replay from a failure.
 */
static enum err
idem_check(struct req *r, const char *key, const char **hash, bool *replayed)
{
	const char *material, *lockname;
	PGresult   *res;
	enum err    e;

	*replayed = false;
	if ((e = http_body(r)) != ERR_OK)
		return e;
	material = arena_printf(r->a, "%s\n%s\n", r->method_name, r->uri);
	{
		/* Hash method, path and the raw body (which may hold NULs). */
		size_t ml = strlen(material);
		char  *buf = arena_alloc(r->a, ml + r->body_len + 1);

		memcpy(buf, material, ml);
		memcpy(buf + ml, r->body, r->body_len);
		{
			unsigned char h[CRYPTO_HASH_BYTES];
			char         *hex = arena_alloc(r->a, 2 * sizeof(h) + 3);

			crypto_keyed_hash(&r->w->keys, "idempotency", buf, ml + r->body_len, h);
			hex[0] = '\\';
			hex[1] = 'x';
			util_hex(hex + 2, h, sizeof(h));
			*hash = hex;
		}
	}
	lockname = arena_printf(r->a, "%s/%s/%s", r->who.tenant_id, principal(r), key);
	if ((e = db_run(r, &st_idem_lock, NULL, lockname)) != ERR_OK ||
	    (e = db_run(r, &st_idem_get, &res, principal(r), key)) != ERR_OK)
		return e;
	if (PQntuples(res) == 0)
		return ERR_OK;
	if (strcmp(db_get(res, 0, "request"), *hash) != 0)
		return http_error(r, ERR_CONFLICT,
		    "this Idempotency-Key was used with a different request");
	*replayed = true;
	http_add_header(r, "Idempotent-Replayed", "true");
	{
		int64_t     st;
		const char *body = db_get(res, 0, "response");

		if (util_parse_i64(db_get(res, 0, "status"), 200, 299, &st) != 0)
			st = 200;
		http_respond_raw(r, (int)st, body[0] ? "application/json" : NULL, body, strlen(body));
	}
	return ERR_OK;
}

/*
 * The id of the resource a call acted on: what a POST created (data.id),
 * else the last UUID :param of the path.
 */
static const char *
resource_id(struct req *r)
{
	cJSON       *j;
	const cJSON *d, *id;
	const char  *out = NULL;

	if (r->method == HTTP_POST && r->held.body != NULL &&
	    (j = cJSON_ParseWithLength(r->held.body, r->held.len)) != NULL) {
		d = cJSON_GetObjectItemCaseSensitive(j, "data");
		id = cJSON_GetObjectItemCaseSensitive(d, "id");
		if (cJSON_IsString(id) && util_is_uuid(id->valuestring))
			out = arena_strdup(r->a, id->valuestring);
		cJSON_Delete(j);
		if (out != NULL)
			return out;
	}
	for (size_t i = r->nparams; i > 0; i--)
		if (util_is_uuid(r->params[i - 1].value))
			return r->params[i - 1].value;
	return NULL;
}

/* The route's flags with what its kind implies (router.h). */
static unsigned
flags_of(const struct route *rt)
{
	if (rt->flags & (ROUTE_PUBLIC | ROUTE_AGENT | ROUTE_GLOBAL))
		return rt->flags | ROUTE_NO_AUDIT | ROUTE_NO_IDEMPOTENCY;
	return rt->flags;
}

/* The actor is the request's key or user; a request with neither (a push
 * webhook, authenticated by its signature) is the actor "webhook". */
static enum err
record(struct req *r, const char *action, const char *type, const char *resource_id,
    const char *project, const char *detail)
{
	return db_run(r, &st_audit, NULL, r->who.key_id ? "service_key" : r->who.user_id ? "user" :
	    "webhook", principal(r), r->who.user_id, action, type, resource_id, project,
	    r->request_id, r->remote_addr, detail);
}

enum err
txn_audit(struct req *r, const char *action, const char *type, const char *resource_id,
    const char *detail)
{
	return record(r, action, type, resource_id, r->who.project_id, detail);
}

enum err
txn_audit_in(struct req *r, const char *project, const char *action, const char *type,
    const char *resource_id, const char *detail)
{
	return record(r, action, type, resource_id, project, detail);
}

static enum err
audit(struct req *r, const struct route *rt)
{
	const char *action = rt->audit, *dot, *rid, *project;
	char       *type;

	if (action == NULL || (flags_of(rt) & ROUTE_NO_AUDIT))
		return ERR_OK;
	dot = strrchr(action, '.');
	type = arena_strndup(r->a, action, dot ? (size_t)(dot - action) : strlen(action));
	rid = resource_id(r);
	project = r->who.project_id;
	if (project == NULL && strcmp(type, "project") == 0)
		project = rid;
	return record(r, action, type, rid, project, NULL);
}

/* The answer as stored for replays: never with a secret shown once. */
static const char *
stored_answer(struct req *r, const struct route *rt)
{
	static const char *const secret[] = {"key", "agent_token", "install_command",
	    "webhook_secret"};
	cJSON                   *j, *d;
	char                    *s;
	const char              *out;

	if (r->held.body == NULL)
		return "";
	if (!(rt->flags & ROUTE_SECRET_ANSWER) ||
	    (j = cJSON_ParseWithLength(r->held.body, r->held.len)) == NULL)
		return r->held.body;
	d = cJSON_GetObjectItemCaseSensitive(j, "data");
	for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(d, secret[i]);
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s == NULL)
		return "";
	out = arena_strdup(r->a, s);
	cJSON_free(s);
	return out;
}

enum err
txn_run(struct req *r, const struct route *rt)
{
	const char *key, *hash = NULL;
	bool        replayed;
	char        status[16];
	enum err    e;

	key = NULL;
	if (!(flags_of(rt) & ROUTE_NO_IDEMPOTENCY) && (e = idem_key(r, &key)) != ERR_OK)
		return e;
	if ((e = db_begin(r)) != ERR_OK)
		return e;
	if (key != NULL) {
		e = idem_check(r, key, &hash, &replayed);
		if (e != ERR_OK || replayed || r->responded) {
			db_rollback(r);
			return e;
		}
	}
	r->capture = true;
	if (rt->cap != CAP_NONE)
		e = perm_project(r, rt->project_of ? rt->project_of(r) : http_param(r, "id"), rt->cap);
	if (e == ERR_OK)
		e = rt->fn(r);
	router_answer(r, e);
	if (r->held.status >= ((rt->flags & ROUTE_COMMIT_REFUSAL) ? 500 : 400) ||
	    !r->w->db.in_tx) {
		db_rollback(r);
		http_flush(r);
		return ERR_OK;
	}
	e = audit(r, rt);
	if (e == ERR_OK && key != NULL) {
		util_snprintf(status, sizeof(status), "%d", r->held.status);
		e = db_run(r, &st_idem_put, NULL, principal(r), key, hash, status,
		    stored_answer(r, rt));
	}
	if (e == ERR_OK)
		e = db_commit(r);
	else
		db_rollback(r);
	if (e != ERR_OK) {
		log_error("mutation not committed (%s)", err_code(e));
		http_discard(r);
		r->after_fn = NULL;	/* nothing happened: nothing to follow up */
		if (e == ERR_RETRY && (rt->flags & ROUTE_AGENT))
			e = ERR_UNAVAILABLE;	/* to an agent 409 means "stop" */
		return http_error(r, e, e == ERR_UNAVAILABLE ? "service temporarily unavailable" :
		    e == ERR_RETRY ? "conflicting concurrent change; retry" : "internal error");
	}
	http_flush(r);
	return ERR_OK;
}
