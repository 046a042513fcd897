/*
 * error_tracking.c - API.md §17, the Sentry-compatible ingest and a
 * project's DSN settings:
 *   POST /{tenant}/api/<dsn-id>/envelope/ and /store/ (nginx rewrites them
 *     to /sentry/<dsn-id>/envelope|store below /api/v1 and marks them with
 *     LNCHR_INGEST: conf/nginx/locations.conf.in), authenticated by the
 *     DSN's public key;
 *   GET/PUT /projects/:id/error-tracking.
 * An ingest request is cheap by design: body read (1 MiB) -> decoded with
 * a 1 MiB ceiling (zbody.h) -> parsed (envelope.h) -> the project's
 * per-minute quota counted in shared memory (eventquota.h) -> one
 * statement (error_ingest, sql/043: DSN and key checked, event queued,
 * launcher-issues woken if the queue was empty), sent in the tenant
 * preamble's round trip and committed on its own (ROUTE_ONE_STATEMENT,
 * router.h): one round trip, one commit -> {"id": event_id}.  Grouping is
 * launcher-issues'.
 * README "Error tracking: ingest" gives the caps and the reasons.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../core/auth.h"
#include "../core/db.h"
#include "../core/envelope.h"
#include "../core/eventquota.h"
#include "../core/json.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "../core/zbody.h"

/* The decoded body, as Sentry's own relay takes an event: 1 MiB. */
#define INGEST_MAX_BYTES 1048576
/* An attachment's bytes are kept (base64) up to this size, and up to
 * ATTACH_TOTAL_MAX for all of an event's; beyond, its name, type and size
 * only.  Enough for a log excerpt or a small screenshot. */
#define ATTACH_DATA_MAX  65536
#define ATTACH_TOTAL_MAX 262144

DB_STMT st_ingest = {"error_ingest",
    "SELECT status, project_id, rate_limit FROM error_ingest($1::bigint, $2, $3, $4, $5::jsonb)"};

/* ------------------------------------------------------------ ingest */

struct event_in {
	char        id[33];	/* the event id, normalised */
	const char *payload;	/* the event JSON (NUL-terminated), or NULL */
	cJSON      *attachments;	/* array, or NULL */
	size_t      attach_total;
};

/* The event JSON in[0..len): an object of valid strings, else why not. */
static const char *
event_check(struct req *r, const char *in, size_t len, const cJSON **out)
{
	cJSON *j, *bad;

	if (memchr(in, '\0', len) != NULL ||
	    (j = cJSON_ParseWithLengthOpts(in, len, NULL, 0)) == NULL)
		return "the event is not JSON";
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, j);
	if (!cJSON_IsObject(j))
		return "the event is not a JSON object";
	if ((bad = json_bad_strings(r->a, in, len, j)) != NULL) {
		cJSON_Delete(bad);
		return "the event holds a \\u0000 escape or bytes that are not UTF-8";
	}
	*out = j;
	return NULL;
}

static void
attachment_add(struct req *r, struct event_in *ev, const struct envelope_item *it)
{
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(it->header, "filename");
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(it->header, "content_type");
	cJSON       *a = cJSON_CreateObject();

	if (ev->attachments == NULL)
		ev->attachments = arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete,
		    cJSON_CreateArray());
	cJSON_AddStringToObject(a, "filename", cJSON_IsString(fn) ? fn->valuestring : "");
	cJSON_AddStringToObject(a, "content_type", cJSON_IsString(ct) ? ct->valuestring :
	    "application/octet-stream");
	cJSON_AddNumberToObject(a, "size", (double)it->len);
	if (it->len <= ATTACH_DATA_MAX && ev->attach_total + it->len <= ATTACH_TOTAL_MAX) {
		size_t n = sodium_base64_encoded_len(it->len, sodium_base64_VARIANT_ORIGINAL);
		char  *b64 = arena_alloc(r->a, n);

		sodium_bin2base64(b64, n, (const unsigned char *)it->payload, it->len,
		    sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(a, "data_b64", b64);
		ev->attach_total += it->len;
	} else
		cJSON_AddBoolToObject(a, "data_dropped", true);
	cJSON_AddItemToArray(ev->attachments, a);
}

/*
 * The items of an envelope: the first "event" is the event (a second one
 * is malformed); "attachment" items are kept as attachment_add says;
 * "transaction", "session", "sessions", "client_report" and any other type
 * are accepted and dropped.  NULL, or why the envelope is refused.
 */
static const char *
envelope_read(struct req *r, const char *body, size_t len, struct event_in *ev)
{
	struct envelope *env = arena_alloc(r->a, sizeof(*env));
	const char      *why;
	const cJSON     *obj;

	if ((why = envelope_parse(r->a, body, len, env)) != NULL)
		return why;
	/* The header's id, else the event's; a malformed one is passed over
	 * (ingest generates one). */
	envelope_take_event_id(env->header, ev->id);
	for (size_t i = 0; i < env->nitems; i++) {
		const struct envelope_item *it = &env->items[i];

		if (strcmp(it->type, "event") == 0) {
			if (ev->payload != NULL)
				return "more than one event in the envelope";
			if ((why = event_check(r, it->payload, it->len, &obj)) != NULL)
				return why;
			ev->payload = arena_strndup(r->a, it->payload, it->len);
			envelope_take_event_id(obj, ev->id);
		} else if (strcmp(it->type, "attachment") == 0)
			attachment_add(r, ev, it);
	}
	return NULL;
}

/*
 * The DSN key the SDK sent: X-Sentry-Auth (or Authorization) "Sentry
 * sentry_key=<key>, ...", else ?sentry_key= (browser SDKs).  Written to
 * key[33]; false if none of the right shape.
 */
static bool
ingest_key(struct req *r, char key[33])
{
	const char *h = http_header(r, "x-sentry-auth");

	if (h == NULL)
		h = http_header(r, "authorization");
	if (h != NULL && envelope_auth_key(h, key))
		return true;
	return envelope_key_valid(http_query(r, "sentry_key"), key);
}

/* 429 with what SDKs read: Retry-After and X-Sentry-Rate-Limits. */
static enum err
over_quota(struct req *r, int retry_after)
{
	char s[16];

	if (util_snprintf(s, sizeof(s), "%d", retry_after) < 0)
		return ERR_INTERNAL;
	http_add_header(r, "Retry-After", s);
	http_add_header(r, "X-Sentry-Rate-Limits",
	    arena_printf(r->a, "%d:error;default;security:project:quota_exceeded", retry_after));
	return http_error(r, ERR_TOO_MANY_REQUESTS, "the project's event quota is used up");
}

static enum err
ingest(struct req *r, bool store)
{
	struct event_in ev = {{0}, NULL, NULL, 0};
	const char     *enc, *why, *status, *tenant;
	char           *body, key[33];
	size_t          len;
	int64_t         dsn, now = (int64_t)time(NULL);
	int             slot, retry = 60;
	bool            took = false;
	PGresult       *res;
	enum err        e;

	/* Only through the ingest location (its body limit, its CORS). */
	if (http_env(r, "LNCHR_INGEST") == NULL ||
	    util_parse_i64(http_param(r, "dsn"), 1, INT64_MAX, &dsn) != 0)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	if (!ingest_key(r, key))
		return http_error(r, ERR_UNAUTHORIZED, "missing or malformed DSN key (sentry_key)");
	if ((e = http_body_max(r, INGEST_MAX_BYTES)) != ERR_OK)
		return e;
	enc = http_header(r, "content-encoding");
	switch (zbody_decode(r->a, enc, r->body, r->body_len, INGEST_MAX_BYTES, &body, &len)) {
	case ZBODY_OK:
		break;
	case ZBODY_TOO_LARGE:
		return http_error(r, ERR_PAYLOAD_TOO_LARGE, "the event is over 1 MiB once decompressed");
	case ZBODY_UNSUPPORTED:
		return http_error(r, ERR_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Encoding must be gzip, deflate or identity");
	default:
		return http_error(r, ERR_BAD_REQUEST, "the body is not valid for its Content-Encoding");
	}
	if (store) {
		const cJSON *obj;

		if ((why = event_check(r, body, len, &obj)) != NULL)
			return http_error(r, ERR_BAD_REQUEST, why);
		ev.payload = body;
		envelope_take_event_id(obj, ev.id);
	} else if ((why = envelope_read(r, body, len, &ev)) != NULL)
		return http_error(r, ERR_BAD_REQUEST, why);
	if (ev.id[0] == '\0') {
		unsigned char rnd[16];

		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(ev.id, sizeof(ev.id), rnd, sizeof(rnd));
	}
	/* The quota counts events only, and only once the database has
	 * answered for this DSN (its project, its quota): the DSN under the
	 * tenant this worker's session holds for the URL.  A worker that holds
	 * another tenant resolves this one first (one round trip more, on a
	 * switch of tenant only), so that every event is counted before it
	 * is stored, whichever worker takes it. */
	if (ev.payload != NULL && auth_tenant_held(r) == NULL && (e = auth_tenant(r)) != ERR_OK)
		return e;
	slot = (tenant = auth_tenant_held(r)) != NULL ? eventquota_find(r->w->quota, tenant, dsn) : -1;
	if (ev.payload != NULL && slot >= 0) {
		if (!eventquota_take(r->w->quota, slot, now, &retry))
			return over_quota(r, retry);
		took = true;
	}
	{
		const char *p[5] = {arena_printf(r->a, "%lld", (long long)dsn), key, ev.id, ev.payload,
		    ev.attachments == NULL ? NULL :
		    arena_defer(r->a, free, cJSON_PrintUnformatted(ev.attachments))};

		e = auth_tenant_with(r, &st_ingest, 5, p, &res);
	}
	if (e != ERR_OK || strcmp((status = db_get(res, 0, "status")), "ok") != 0) {
		if (took)
			eventquota_give_back(r->w->quota, slot, now);
		if (e != ERR_OK)
			return e;
		if (strcmp(status, "unknown") == 0)
			return http_error(r, ERR_NOT_FOUND, "no such DSN");
		if (strcmp(status, "key") == 0)
			return http_error(r, ERR_UNAUTHORIZED, "wrong DSN key");
		(void)eventquota_learn(r->w->quota, r->who.tenant_id, dsn, db_get(res, 0, "project_id"), 0);
		return over_quota(r, (int)(60 - now % 60));
	}
	if (ev.payload != NULL) {
		int64_t lim = 0;

		(void)util_parse_i64(db_get(res, 0, "rate_limit"), 0, UINT32_MAX, &lim);
		if (slot < 0 && (slot = eventquota_learn(r->w->quota, r->who.tenant_id, dsn,
		    db_get(res, 0, "project_id"), (uint32_t)lim)) >= 0)
			(void)eventquota_take(r->w->quota, slot, now, &retry);
		else
			eventquota_set_limit(r->w->quota, db_get(res, 0, "project_id"), (uint32_t)lim);
	}
	{
		char out[64];
		int  n = util_snprintf(out, sizeof(out), "{\"id\":\"%s\"}", ev.id);

		return n < 0 ? ERR_INTERNAL : http_respond_raw(r, 200, "application/json", out,
		    (size_t)n);
	}
}

static enum err
ingest_envelope(struct req *r)
{
	return ingest(r, false);
}

static enum err
ingest_store(struct req *r)
{
	return ingest(r, true);
}

/* ------------------------------------------------------------ settings */

DB_STMT st_settings = {"error_tracking_get",
    "SELECT error_dsn_url(p.id, NULL) AS dsn, d.id AS dsn_id, d.public_key,"
    " d.rate_limit_per_minute, p.auto_error_tracking_enabled, d.row_version::text AS _version,"
    " coalesce((SELECT jsonb_agg(jsonb_build_object('application_id', a.id, 'name', a.name,"
    "   'dsn', error_dsn_url(p.id, a.id), 'dsn_id', ad.id) ORDER BY a.name, a.id)"
    "   FROM applications a JOIN error_dsns ad ON ad.application_id = a.id"
    "   WHERE a.project_id = p.id), '[]'::jsonb) AS applications"
    " FROM projects p JOIN error_dsns d ON d.project_id = p.id AND d.application_id IS NULL"
    " WHERE p.id = $1::uuid"};
/*
 * $2 the new quota or NULL; $3 'true': new keys for every DSN of the
 * project; $4 the If-Match version (NULL: none).  The ETag is the
 * row_version of the project's own DSN row, which every PUT updates
 * (sql/045); the row is locked first, so of two PUTs with the same
 * If-Match the second finds the version moved and changes nothing.
 */
DB_STMT st_settings_put = {"error_tracking_put",
    "WITH v AS (SELECT id FROM error_dsns WHERE project_id = $1::uuid AND application_id IS NULL"
    "  AND ($4::bigint IS NULL OR row_version = $4::bigint) FOR UPDATE)"
    " UPDATE error_dsns d SET"
    " rate_limit_per_minute = CASE WHEN d.application_id IS NULL"
    "   THEN coalesce($2::int, d.rate_limit_per_minute) ELSE d.rate_limit_per_minute END,"
    " public_key = CASE WHEN $3::boolean THEN error_dsn_key() ELSE d.public_key END"
    " WHERE d.project_id = $1::uuid AND EXISTS (SELECT 1 FROM v) RETURNING d.id"};

static enum err
settings_get(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_settings, &res, "project not found",
	    http_param(r, "id"))) != ERR_OK)
		return e;
	http_etag(r, db_get(res, 0, "_version"));
	return http_respond_json(r, 200, json_row(res, 0), NULL);
}

static const struct field settings_fields[] = {
	{"rate_limit_per_minute", F_INT, false, false, 0, 1000000, NULL},
	{"rotate_key", F_BOOL, false, false, 0, 0, NULL},
};
enum { S_LIMIT, S_ROTATE };

/* The new quota reaches the pool's counter once the change is committed. */
struct quota_change {
	char     project[40];
	uint32_t limit;
};

static void
quota_apply(struct worker *w, void *arg)
{
	const struct quota_change *c = arg;

	eventquota_set_limit(w->quota, c->project, c->limit);
}

static enum err
settings_put(struct req *r)
{
	struct field_val v[sizeof(settings_fields) / sizeof(*settings_fields)];
	const char      *version;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, settings_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_settings_put, &res, http_param(r, "id"),
	    v[S_LIMIT].present ? arena_printf(r->a, "%lld", (long long)v[S_LIMIT].i) : NULL,
	    v[S_ROTATE].present && v[S_ROTATE].b ? "true" : "false", version)) != ERR_OK)
		return e;
	if (PQntuples(res) == 0)
		return http_changed(r, "error tracking settings");
	if (v[S_LIMIT].present) {
		struct quota_change *c = arena_alloc(r->a, sizeof(*c));

		if (util_snprintf(c->project, sizeof(c->project), "%s", http_param(r, "id")) < 0)
			return ERR_INTERNAL;
		c->limit = (uint32_t)v[S_LIMIT].i;
		http_after(r, quota_apply, c);
	}
	return settings_get(r);
}

const struct route api_error_tracking_routes[] = {
	/* The DSN key is the credential; nothing to audit or replay. */
	{.methods = HTTP_POST, .pattern = "/sentry/:dsn/envelope", .fn = ingest_envelope,
	    .flags = ROUTE_PUBLIC | ROUTE_ONE_STATEMENT | ROUTE_NO_AUDIT | ROUTE_NO_IDEMPOTENCY},
	{.methods = HTTP_POST, .pattern = "/sentry/:dsn/store", .fn = ingest_store,
	    .flags = ROUTE_PUBLIC | ROUTE_ONE_STATEMENT | ROUTE_NO_AUDIT | ROUTE_NO_IDEMPOTENCY},
	{.methods = HTTP_GET, .pattern = "/projects/:id/error-tracking", .fn = settings_get,
	    .cap = CAP_READ},
	{.methods = HTTP_PUT, .pattern = "/projects/:id/error-tracking", .fn = settings_put,
	    .cap = CAP_WRITE, .audit = "error_tracking.update"},
	{0},
};
