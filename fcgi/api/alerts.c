/*
 * alerts.c - API.md §18 alerts: channels (list, create, read, update,
 * delete, test), rules (the same without test), the delivery history, and
 * the tenant's SMTP settings (GET/PUT /settings/smtp) e-mail channels go
 * out through.
 *
 * Everything here is the tenant admins' (min_role admin): channels hold
 * secrets, rules span projects.  A channel's secrets (slack/discord
 * webhook_url, a webhook's secret and headers) are sealed on the way in
 * (SECRET_ALERT_CHANNEL bound to the channel) and never answered: the
 * channel's config shows webhook_url_set, secret_set, headers_set instead.
 * A PUT's config replaces the whole config, secrets included.  URLs pass
 * core/alert_url.h (http/https, no loopback or private target unless
 * alert_allowed_hosts lists it).  Routing events to deliveries and the
 * outbox are the database's (sql/040_alerts.sql); launcher-notify sends.
 * POST /alerts/channels/:id/test queues a delivery and answers 202 with it
 * (Location: its GET /alerts/history/:id): nothing here waits on a
 * receiver.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "../core/alert_url.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "../core/worker.h"

/* ------------------------------------------------------------ channels */

#define CH_COLS "c.id, c.name, c.type, c.config, c.created_at, c.updated_at," \
	" c.row_version::text AS _version"

DB_STMT st_ch_list = {"alert_channels_list",
    "SELECT " CH_COLS " FROM alert_channels c WHERE true" LIST_TAIL("c.")};
DB_STMT st_ch_get = {"alert_channels_get",
    "SELECT " CH_COLS " FROM alert_channels c WHERE c.id = $1::uuid"};
DB_STMT st_ch_type = {"alert_channels_type",
    "SELECT type FROM alert_channels WHERE id = $1::uuid"};
DB_STMT st_ch_create = {"alert_channels_create",
    "INSERT INTO alert_channels (id, name, type, config, secret_sealed)"
    " VALUES ($1::uuid, $2, $3, $4::jsonb, $5) RETURNING id"};
/* $2: the given fields (config and secret_sealed together, or neither). */
DB_STMT st_ch_update = {"alert_channels_update",
    "UPDATE alert_channels c" DB_PATCH("c", "name, type, config, secret_sealed")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_ch_delete = {"alert_channels_delete",
    "DELETE FROM alert_channels WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
DB_STMT st_ch_test = {"alert_channels_test",
    "WITH d AS (INSERT INTO alert_deliveries (channel_id, event, resource_type, resource_id,"
    " message, payload) SELECT id, 'alert.test', 'alert_channel', id,"
    " 'Test message from Launcher for the alert channel ' || name || '.',"
    " jsonb_build_object('channel_id', id, 'channel_name', name, 'test', true)"
    " FROM alert_channels WHERE id = $1::uuid RETURNING id)"
    " SELECT d.id, pg_notify('launcher_notify', '') FROM d"};

#define CHANNEL_NAME_TAKEN "name: an alert channel with this name already exists"

static const char *const channel_types[] = {"slack", "discord", "email", "webhook", NULL};

static const struct field ch_create_fields[] = {
	{"name", F_STRING, true, false, 1, 100, NULL},
	{"type", F_ENUM, true, false, 0, 0, NULL, .options = channel_types},
	{"config", F_OBJECT, true, false, 0, 0, NULL},
};
static const struct field ch_update_fields[] = {
	{"name", F_STRING, false, false, 1, 100, NULL},
	{"type", F_ENUM, false, false, 0, 0, NULL, .options = channel_types},
	{"config", F_OBJECT, false, false, 0, 0, NULL},
};
enum { C_NAME, C_TYPE, C_CONFIG };

/* Most recipients of an e-mail channel, headers of a webhook. */
#define EMAIL_TO_MAX 20
#define HEADERS_MAX 20

/* A channel's config checked for its type, split into what may be shown
 * (pub, with the *_set flags) and what is sealed (sec, NULL: nothing). */
struct channel_config {
	cJSON *pub, *sec;
};

static bool
header_name_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 64)
		return false;
	for (const char *q = k; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		    *q == '-' || *q == '_'))
			return false;
	/* What the delivery sets itself. */
	return strncasecmp(k, "x-lnchr-", 8) != 0 && strcasecmp(k, "content-type") != 0 &&
	    strcasecmp(k, "content-length") != 0 && strcasecmp(k, "host") != 0 &&
	    strcasecmp(k, "transfer-encoding") != 0 && strcasecmp(k, "connection") != 0;
}

static bool
header_value_ok(const char *v)
{
	if (strlen(v) > 1024)
		return false;
	for (const char *q = v; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f)
			return false;
	return true;
}

static void
check_url_field(struct req *r, const cJSON *cfg, const char *key, cJSON *details)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(cfg, key);
	const char  *why;
	char         field[40];

	util_snprintf(field, sizeof(field), "config.%s", key);
	if (!cJSON_IsString(u) || u->valuestring[0] == '\0')
		json_detail(details, field, "is required (an http or https URL)");
	else if (strlen(u->valuestring) > 2000)
		json_detail(details, field, "is longer than 2000 bytes");
	else if ((why = alert_url_check(u->valuestring, r->w->cfg->alert_allowed_hosts)) != NULL)
		json_detail(details, field, why);
}

/* Checks cfg for type into *out (both NULL on a detail). */
static void
config_split(struct req *r, const char *type, const cJSON *cfg, cJSON *details,
    struct channel_config *out)
{
	int before = cJSON_GetArraySize(details);

	out->pub = out->sec = NULL;
	if (strcmp(type, "slack") == 0 || strcmp(type, "discord") == 0) {
		check_url_field(r, cfg, "webhook_url", details);
		if (cJSON_GetArraySize(details) > before)
			return;
		out->pub = cJSON_CreateObject();
		cJSON_AddBoolToObject(out->pub, "webhook_url_set", true);
		out->sec = cJSON_CreateObject();
		cJSON_AddStringToObject(out->sec, "webhook_url",
		    cJSON_GetObjectItemCaseSensitive(cfg, "webhook_url")->valuestring);
	} else if (strcmp(type, "email") == 0) {
		const cJSON *to = cJSON_GetObjectItemCaseSensitive(cfg, "to"), *x;
		int          i = 0;

		if (!cJSON_IsArray(to) || cJSON_GetArraySize(to) < 1 ||
		    cJSON_GetArraySize(to) > EMAIL_TO_MAX) {
			json_detail(details, "config.to", "is required: 1 to 20 e-mail addresses");
			return;
		}
		cJSON_ArrayForEach(x, to) {
			const char *s = cJSON_IsString(x) ? x->valuestring : NULL;
			const char *at = s ? strchr(s, '@') : NULL;

			if (s == NULL || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') ||
			    strlen(s) > 254 || strpbrk(s, " \t\r\n<>,;\"") != NULL) {
				char field[32];

				util_snprintf(field, sizeof(field), "config.to[%d]", i);
				json_detail(details, field, "must be an e-mail address");
			}
			i++;
		}
		if (cJSON_GetArraySize(details) > before)
			return;
		out->pub = cJSON_CreateObject();
		cJSON_AddItemToObject(out->pub, "to", cJSON_Duplicate(to, true));
	} else {	/* webhook */
		const cJSON *secret = cJSON_GetObjectItemCaseSensitive(cfg, "secret");
		const cJSON *headers = cJSON_GetObjectItemCaseSensitive(cfg, "headers"), *h;

		check_url_field(r, cfg, "url", details);
		if (secret != NULL && !cJSON_IsNull(secret) &&
		    (!cJSON_IsString(secret) || strlen(secret->valuestring) < 8 ||
		    strlen(secret->valuestring) > 256))
			json_detail(details, "config.secret", "must be a string of 8 to 256 bytes");
		if (headers != NULL && !cJSON_IsNull(headers)) {
			if (!cJSON_IsObject(headers) || cJSON_GetArraySize(headers) > HEADERS_MAX)
				json_detail(details, "config.headers",
				    "must be an object of at most 20 header names to string values");
			else
				cJSON_ArrayForEach(h, headers) {
					char field[96];

					util_snprintf(field, sizeof(field), "config.headers.%s", h->string);
					if (!header_name_ok(h->string))
						json_detail(details, field, "is not a header name a channel may set "
						    "(letters, digits, - and _; not x-lnchr-*, content-type, "
						    "content-length, host)");
					else if (!cJSON_IsString(h) || !header_value_ok(h->valuestring))
						json_detail(details, field, "must be a string of at most 1024 "
						    "bytes without control characters");
				}
		}
		if (cJSON_GetArraySize(details) > before)
			return;
		out->pub = cJSON_CreateObject();
		cJSON_AddStringToObject(out->pub, "url",
		    cJSON_GetObjectItemCaseSensitive(cfg, "url")->valuestring);
		cJSON_AddBoolToObject(out->pub, "secret_set", cJSON_IsString(secret));
		cJSON_AddBoolToObject(out->pub, "headers_set",
		    cJSON_IsObject(headers) && cJSON_GetArraySize(headers) > 0);
		if (cJSON_IsString(secret) || (cJSON_IsObject(headers) && cJSON_GetArraySize(headers) > 0)) {
			out->sec = cJSON_CreateObject();
			if (cJSON_IsString(secret))
				cJSON_AddStringToObject(out->sec, "secret", secret->valuestring);
			if (cJSON_IsObject(headers) && cJSON_GetArraySize(headers) > 0)
				cJSON_AddItemToObject(out->sec, "headers", cJSON_Duplicate(headers, true));
		}
	}
}

static void
config_free(struct channel_config *c)
{
	cJSON_Delete(c->pub);
	cJSON_Delete(c->sec);
	c->pub = c->sec = NULL;
}

/* cJSON as text in the request's arena. */
static const char *
json_text(struct req *r, const cJSON *o)
{
	char       *t = cJSON_PrintUnformatted(o);
	const char *out;

	if (t == NULL)
		return NULL;
	out = arena_strdup(r->a, t);
	cJSON_free(t);
	return out;
}

/* The sealed secrets of channel id (NULL: none), *ok false when out of memory. */
static const char *
seal_secrets(struct req *r, const char *id, const cJSON *sec, bool *ok)
{
	const char *purpose, *sealed;
	char       *plain;

	*ok = true;
	if (sec == NULL)
		return NULL;
	*ok = false;
	if ((purpose = secret_bound_purpose(r, SECRET_ALERT_CHANNEL, id)) == NULL ||
	    (plain = cJSON_PrintUnformatted(sec)) == NULL)
		return NULL;
	sealed = secret_seal(r, purpose, plain, strlen(plain));
	sodium_memzero(plain, strlen(plain));
	cJSON_free(plain);
	*ok = sealed != NULL;
	return sealed;
}

static enum err
ch_respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_ch_get, "alert channel not found", id, status);
}

static enum err
ch_list(struct req *r)
{
	return list_all(r, &st_ch_list);
}

static enum err
ch_get(struct req *r)
{
	return ch_respond(r, http_param(r, "id"), 200);
}

static enum err
ch_create(struct req *r)
{
	struct field_val      v[sizeof(ch_create_fields) / sizeof(*ch_create_fields)];
	struct channel_config cc;
	cJSON                *details;
	const char           *pub, *sealed;
	char                  id[37];
	bool                  ok;
	enum err              e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, ch_create_fields, v)) != ERR_OK)
		return e;
	details = cJSON_CreateArray();
	config_split(r, v[C_TYPE].s, v[C_CONFIG].node, details, &cc);
	if (cJSON_GetArraySize(details) > 0)
		return req_fail_details(r, "invalid config", details);
	cJSON_Delete(details);
	crypto_uuid_new(id);
	pub = json_text(r, cc.pub);
	sealed = seal_secrets(r, id, cc.sec, &ok);
	config_free(&cc);
	if (pub == NULL || !ok)
		return ERR_INTERNAL;
	e = db_run(r, &st_ch_create, NULL, id, v[C_NAME].s, v[C_TYPE].s, pub, sealed);
	if (e == ERR_CONFLICT)
		return http_error(r, e, CHANNEL_NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	return ch_respond(r, arena_strdup(r->a, id), 201);
}

static const struct db_update ch_update_desc = {&st_ch_update, &st_ch_get, "alert channel",
    "alert channel not found", CHANNEL_NAME_TAKEN};

static enum err
ch_update(struct req *r)
{
	struct field_val      v[sizeof(ch_update_fields) / sizeof(*ch_update_fields)];
	struct channel_config cc = {0};
	const char           *version, *id = http_param(r, "id"), *type, *body;
	cJSON                *details, *patch;
	PGresult             *res;
	bool                  ok = true;
	enum err              e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, ch_update_fields, v)) != ERR_OK)
		return e;
	if (v[C_TYPE].present && !v[C_CONFIG].present)
		return http_field_error(r, "a new type needs its config", "config",
		    "is required with type");
	patch = cJSON_CreateObject();
	if (v[C_NAME].present)
		cJSON_AddStringToObject(patch, "name", v[C_NAME].s);
	if (v[C_CONFIG].present) {
		if (v[C_TYPE].present)
			type = v[C_TYPE].s;
		else {
			if ((e = db_get_object(r, &st_ch_type, &res, "alert channel not found", id)) !=
			    ERR_OK) {
				cJSON_Delete(patch);
				return e;
			}
			type = arena_strdup(r->a, db_get(res, 0, "type"));
		}
		details = cJSON_CreateArray();
		config_split(r, type, v[C_CONFIG].node, details, &cc);
		if (cJSON_GetArraySize(details) > 0) {
			cJSON_Delete(patch);
			return req_fail_details(r, "invalid config", details);
		}
		cJSON_Delete(details);
		cJSON_AddStringToObject(patch, "type", type);
		cJSON_AddItemToObject(patch, "config", cJSON_Duplicate(cc.pub, true));
		{
			const char *sealed = seal_secrets(r, id, cc.sec, &ok);

			cJSON_AddItemToObject(patch, "secret_sealed",
			    sealed ? cJSON_CreateString(sealed) : cJSON_CreateNull());
		}
		config_free(&cc);
	}
	body = ok ? json_text(r, patch) : NULL;
	cJSON_Delete(patch);
	if (body == NULL)
		return ERR_INTERNAL;
	if ((e = db_update(r, &ch_update_desc, id, body, version)) != ERR_OK)
		return e;
	return ch_respond(r, id, 200);
}

static enum err
ch_delete(struct req *r)
{
	enum err e = db_delete(r, &st_ch_delete, "alert channel", NULL);

	return e == ERR_NOT_FOUND ? http_error(r, e, "alert channel not found") : e;
}

/* ------------------------------------------------------------ history */

#define HIST_COLS "d.id, d.channel_id, d.rule_id, d.event_id, d.event, d.resource_type," \
	" d.resource_id, d.project_id, d.message, d.status, d.last_status_code, d.last_error," \
	" CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at," \
	" d.delivered_at, d.created_at, d.updated_at," \
	" (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt, 'status_code'," \
	" a.status_code, 'error', a.error, 'duration_ms', a.duration_ms, 'started_at'," \
	" to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))" \
	" ORDER BY a.attempt), '[]') FROM alert_delivery_attempts a" \
	" WHERE a.tenant_id = d.tenant_id AND a.delivery_id = d.id) AS attempts," \
	" d.attempts::text AS _version"

DB_STMT st_hist_list = {"alert_history_list",
    "SELECT " HIST_COLS " FROM alert_deliveries d"
    " WHERE ($4::uuid IS NULL OR d.channel_id = $4::uuid)"
    " AND ($5::uuid IS NULL OR d.rule_id = $5::uuid)"
    " AND ($6::text IS NULL OR d.status = $6)" LIST_TAIL("d.")};
DB_STMT st_hist_get = {"alert_history_get",
    "SELECT " HIST_COLS " FROM alert_deliveries d WHERE d.id = $1::uuid"};

static const char *const delivery_statuses[] = {"pending", "sending", "succeeded", "failed", NULL};

static enum err
hist_list(struct req *r)
{
	struct list_page p;
	const char      *channel, *rule, *status = http_query(r, "status");
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "channelId", &channel)) != ERR_OK ||
	    (e = list_uuid_query(r, "ruleId", &rule)) != ERR_OK)
		return e;
	if (status != NULL && *status) {
		size_t i;

		for (i = 0; delivery_statuses[i] && strcmp(delivery_statuses[i], status) != 0; i++)
			;
		if (delivery_statuses[i] == NULL)
			return http_field_error(r, "invalid status", "status",
			    "one of pending, sending, succeeded, failed");
	}
	list_filter(&p, channel);
	list_filter(&p, rule);
	list_filter(&p, status && *status ? status : NULL);
	return list_run(r, &p, &st_hist_list);
}

static enum err
hist_get(struct req *r)
{
	return db_respond_object(r, &st_hist_get, "alert delivery not found", http_param(r, "id"), 200);
}

/* Queues a test delivery and answers 202 with it (see the header). */
static enum err
ch_test(struct req *r)
{
	PGresult   *res;
	const char *id;
	enum err    e;

	if ((e = db_run(r, &st_ch_test, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "alert channel not found");
	id = arena_strdup(r->a, db_get(res, 0, "id"));
	http_add_header(r, "Location", arena_printf(r->a, "/%s/api/v1/alerts/history/%s",
	    r->tenant_ref ? r->tenant_ref : r->who.tenant_id, id));
	return db_respond_object(r, &st_hist_get, "alert delivery not found", id, 202);
}

/* ------------------------------------------------------------ rules */

#define RULE_COLS "r.id, r.name, r.project_id, r.event, r.condition, r.cooldown_seconds," \
	" r.enabled, coalesce((SELECT jsonb_agg(rc.channel_id ORDER BY rc.channel_id)" \
	" FROM alert_rule_channels rc WHERE rc.tenant_id = r.tenant_id AND rc.rule_id = r.id)," \
	" '[]') AS channel_ids, r.created_at, r.updated_at, r.row_version::text AS _version"

DB_STMT st_rule_list = {"alert_rules_list",
    "SELECT " RULE_COLS " FROM alert_rules r"
    " WHERE ($4::uuid IS NULL OR r.project_id = $4::uuid)"
    " AND ($5::text IS NULL OR r.event = $5)" LIST_TAIL("r.")};
DB_STMT st_rule_get = {"alert_rules_get",
    "SELECT " RULE_COLS " FROM alert_rules r WHERE r.id = $1::uuid"};
DB_STMT st_rule_create = {"alert_rules_create",
    "INSERT INTO alert_rules (id, name, project_id, event, condition, cooldown_seconds, enabled)"
    " SELECT $1::uuid, x.name, x.project_id, x.event, x.condition,"
    " coalesce(x.cooldown_seconds, 300), coalesce(x.enabled, true)"
    " FROM jsonb_populate_record(NULL::alert_rules, $2::jsonb) x RETURNING id"};
DB_STMT st_rule_update = {"alert_rules_update",
    "UPDATE alert_rules r" DB_PATCH("r", "name, project_id, event, condition, cooldown_seconds, enabled")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_rule_channels = {"alert_rules_channels",
    "SELECT alert_rule_channels_set($1::uuid, $2::uuid[])"};
DB_STMT st_rule_delete = {"alert_rules_delete",
    "DELETE FROM alert_rules WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};

/* The events a rule may name (API.md §18). */
static const char *const rule_events[] = {
	"deployment.failed", "deployment.succeeded", "application.crashed", "server.offline",
	"server.disk_high", "backup.failed", "backup.stale", "domain.verification_failed",
	"certificate.expiring", "issue.new", "issue.regressed", "metric.threshold", NULL,
};
/* The metrics a threshold rule may watch (launcher-scheduler evaluates them). */
static const char *const rule_metrics[] = {
	"server.cpu_percent", "server.memory_percent", "server.disk_percent", "server.load1",
	"application.cpu_percent", "application.memory_bytes", "application.restarts",
	"application.requests", "application.status_5xx_percent", "application.latency_p95_ms",
	NULL,
};
static const char *const rule_ops[] = {">", ">=", "<", "<=", NULL};

static const struct field condition_fields[] = {
	{"metric", F_ENUM, true, false, 0, 0, NULL, .options = rule_metrics},
	{"op", F_ENUM, true, false, 0, 0, NULL, .options = rule_ops},
	{"threshold", F_NUMBER, true, false, -1000000000000000LL, 1000000000000000LL, NULL},
	{"for_seconds", F_INT, false, false, 0, 86400, NULL},
	{"resource_id", F_UUID, false, true, 0, 0, NULL},
};

#define RULE_FIELDS(req) \
	{"name", F_STRING, req, false, 1, 100, NULL}, \
	{"project_id", F_UUID, false, true, 0, 0, NULL}, \
	{"event", F_ENUM, req, false, 0, 0, NULL, .options = rule_events}, \
	{"condition", F_OBJECT, false, true, 0, 0, NULL, NULL, FIELD_SUB(condition_fields)}, \
	{"channel_ids", F_UUIDS, req, false, 1, 20, NULL}, \
	{"cooldown_seconds", F_INT, false, false, 0, 604800, NULL}, \
	{"enabled", F_BOOL, false, false, 0, 0, NULL}

static const struct field rule_create_fields[] = {RULE_FIELDS(true)};
static const struct field rule_update_fields[] = {RULE_FIELDS(false)};
enum { R_NAME, R_PROJECT, R_EVENT, R_CONDITION, R_CHANNELS, R_COOLDOWN, R_ENABLED };

static void
rule_create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (strcmp(v[R_EVENT].s, "metric.threshold") == 0 && !v[R_CONDITION].present)
		json_detail(details, "condition", "is required for event metric.threshold");
	else if (strcmp(v[R_EVENT].s, "metric.threshold") != 0 && v[R_CONDITION].present)
		json_detail(details, "condition", "is only for event metric.threshold");
}

static void
rule_update_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)r;
	if (v[R_EVENT].present && strcmp(v[R_EVENT].s, "metric.threshold") != 0 &&
	    v[R_CONDITION].present)
		json_detail(details, "condition", "is only for event metric.threshold");
}

/* The condition as stored: its known fields, for_seconds defaulting to 0. */
static cJSON *
condition_of(const cJSON *c)
{
	cJSON       *o = cJSON_CreateObject();
	const char  *keys[] = {"metric", "op", "threshold", "for_seconds", "resource_id"};
	const cJSON *x;

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if ((x = cJSON_GetObjectItemCaseSensitive(c, keys[i])) != NULL && !cJSON_IsNull(x))
			cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(x, true));
	if (cJSON_GetObjectItemCaseSensitive(o, "for_seconds") == NULL)
		cJSON_AddNumberToObject(o, "for_seconds", 0);
	return o;
}

/* The body's rule columns as JSON text (for populate_record / DB_PATCH). */
static const char *
rule_body(struct req *r, const struct field_val *v)
{
	cJSON      *o = cJSON_CreateObject();
	const char *t;

	if (v[R_NAME].present)
		cJSON_AddStringToObject(o, "name", v[R_NAME].s);
	if (v[R_PROJECT].present)
		cJSON_AddStringToObject(o, "project_id", v[R_PROJECT].s);
	else if (v[R_PROJECT].null)
		cJSON_AddNullToObject(o, "project_id");
	if (v[R_EVENT].present)
		cJSON_AddStringToObject(o, "event", v[R_EVENT].s);
	if (v[R_CONDITION].present)
		cJSON_AddItemToObject(o, "condition", condition_of(v[R_CONDITION].node));
	else if (v[R_CONDITION].null ||
	    (v[R_EVENT].present && strcmp(v[R_EVENT].s, "metric.threshold") != 0))
		cJSON_AddNullToObject(o, "condition");
	if (v[R_COOLDOWN].present)
		cJSON_AddNumberToObject(o, "cooldown_seconds", (double)v[R_COOLDOWN].i);
	if (v[R_ENABLED].present)
		cJSON_AddBoolToObject(o, "enabled", v[R_ENABLED].b);
	t = json_text(r, o);
	cJSON_Delete(o);
	return t;
}

/* channel_ids as a PostgreSQL uuid[] literal (the values are UUIDs). */
static const char *
uuid_array(struct req *r, const cJSON *ids)
{
	const cJSON *x;
	const char  *out = "{";
	bool         first = true;

	cJSON_ArrayForEach(x, ids) {
		out = arena_printf(r->a, "%s%s%s", out, first ? "" : ",", x->valuestring);
		first = false;
	}
	return arena_printf(r->a, "%s}", out);
}

static enum err
rule_respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_rule_get, "alert rule not found", id, status);
}

static enum err
rule_list(struct req *r)
{
	struct list_page p;
	const char      *project, *event = http_query(r, "event");
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK || (e = list_uuid_query(r, "projectId", &project)) != ERR_OK)
		return e;
	if (event != NULL && (strlen(event) > 64 || !json_utf8_ok(event)))
		return http_field_error(r, "invalid event", "event", "an event name such as deployment.failed");
	list_filter(&p, project);
	list_filter(&p, event && *event ? event : NULL);
	return list_run(r, &p, &st_rule_list);
}

static enum err
rule_get(struct req *r)
{
	return rule_respond(r, http_param(r, "id"), 200);
}

static enum err
rule_create(struct req *r)
{
	struct field_val v[sizeof(rule_create_fields) / sizeof(*rule_create_fields)];
	const char      *body;
	char             id[37];
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, rule_create_fields, v, rule_create_rule)) != ERR_OK)
		return e;
	if ((body = rule_body(r, v)) == NULL)
		return ERR_INTERNAL;
	crypto_uuid_new(id);
	if ((e = db_run(r, &st_rule_create, NULL, id, body)) != ERR_OK ||
	    (e = db_run(r, &st_rule_channels, NULL, id, uuid_array(r, v[R_CHANNELS].node))) != ERR_OK)
		return e;
	return rule_respond(r, arena_strdup(r->a, id), 201);
}

static const struct db_update rule_update_desc = {&st_rule_update, &st_rule_get, "alert rule",
    "alert rule not found", "alert rule conflict"};

static enum err
rule_update(struct req *r)
{
	struct field_val v[sizeof(rule_update_fields) / sizeof(*rule_update_fields)];
	const char      *version, *id = http_param(r, "id"), *body;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, rule_update_fields, v, rule_update_rule)) != ERR_OK)
		return e;
	if ((body = rule_body(r, v)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_update(r, &rule_update_desc, id, body, version)) != ERR_OK)
		return e;
	if (v[R_CHANNELS].present &&
	    (e = db_run(r, &st_rule_channels, NULL, id, uuid_array(r, v[R_CHANNELS].node))) != ERR_OK)
		return e;
	return rule_respond(r, id, 200);
}

static enum err
rule_delete(struct req *r)
{
	enum err e = db_delete(r, &st_rule_delete, "alert rule", NULL);

	return e == ERR_NOT_FOUND ? http_error(r, e, "alert rule not found") : e;
}

/* ------------------------------------------------------------ SMTP */

DB_STMT st_smtp_get = {"tenant_smtp_get",
    "SELECT s.tenant_id IS NOT NULL AS configured, s.host, s.port, s.tls_mode, s.username,"
    " coalesce(s.password_sealed IS NOT NULL, false) AS password_set, s.from_address AS \"from\","
    " s.updated_at, coalesce(s.row_version, 0)::text AS _version"
    " FROM (SELECT 1) x LEFT JOIN tenant_smtp s ON true"};
/* $6 password given (sealed $7 or NULL to clear); else the current one stays. */
DB_STMT st_smtp_put = {"tenant_smtp_put",
    "INSERT INTO tenant_smtp AS s (host, port, tls_mode, username, from_address, password_sealed)"
    " VALUES ($1, $2::int, $3, $4, $5, CASE WHEN $6::boolean THEN $7 END)"
    " ON CONFLICT (tenant_id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
    " tls_mode = EXCLUDED.tls_mode, username = EXCLUDED.username,"
    " from_address = EXCLUDED.from_address,"
    " password_sealed = CASE WHEN $6::boolean THEN $7 ELSE s.password_sealed END"
    " WHERE $8::bigint IS NULL OR s.row_version = $8::bigint RETURNING tenant_id"};

static const char *const tls_modes[] = {"none", "starttls", "tls", NULL};

static const struct field smtp_fields[] = {
	{"host", F_STRING, true, false, 1, 253, NULL},
	{"port", F_INT, true, false, 1, 65535, NULL},
	{"tls_mode", F_ENUM, true, false, 0, 0, NULL, .options = tls_modes},
	{"user", F_STRING, false, true, 1, 255, NULL},
	{"password", F_STRING, false, true, 1, 1024, NULL},
	{"from", F_EMAIL, true, false, 0, 0, NULL},
};
enum { M_HOST, M_PORT, M_TLS, M_USER, M_PASS, M_FROM };

/* The SMTP host is checked as a channel URL is (no internal target). */
static void
smtp_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	const char *why = NULL;
	char        url[300];

	if (util_snprintf(url, sizeof(url), strchr(v[M_HOST].s, ':') ? "http://[%s]:%lld" :
	    "http://%s:%lld", v[M_HOST].s, (long long)v[M_PORT].i) < 0 ||
	    (why = alert_url_check(url, r->w->cfg->alert_allowed_hosts)) != NULL)
		json_detail(details, "host", why != NULL && strstr(why, "loopback") ? why :
		    "must be a host name or an IP address");
	if (v[M_PASS].present && !v[M_USER].present)
		json_detail(details, "user", "is required with a password");
	/* The plane's own mail path refuses this too: the password would cross
	 * the network in clear. */
	if (strcmp(v[M_TLS].s, "none") == 0 && (v[M_USER].present || v[M_PASS].present))
		json_detail(details, "tls_mode", "must be starttls or tls when a user or password is set");
}

static enum err
smtp_get(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run0(r, &st_smtp_get, &res)) != ERR_OK)
		return e;
	http_add_header(r, "ETag", arena_printf(r->a, "\"%s\"", db_get(res, 0, "_version")));
	return http_respond_json(r, 200, json_row(res, 0), NULL);
}

static enum err
smtp_put(struct req *r)
{
	struct field_val v[sizeof(smtp_fields) / sizeof(*smtp_fields)];
	const char      *version, *sealed = NULL;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, smtp_fields, v, smtp_rule)) != ERR_OK)
		return e;
	if (v[M_PASS].present &&
	    (sealed = secret_seal(r, SECRET_SMTP_PASSWORD, v[M_PASS].s, strlen(v[M_PASS].s))) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_smtp_put, &res, v[M_HOST].s, arena_printf(r->a, "%lld",
	    (long long)v[M_PORT].i), v[M_TLS].s, v[M_USER].s, v[M_FROM].s,
	    v[M_PASS].present || v[M_PASS].null ? "true" : "false", sealed, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "SMTP settings");
	return smtp_get(r);
}

const struct route api_alert_routes[] = {
	{.methods = HTTP_GET, .pattern = "/alerts/channels", .fn = ch_list, .min_role = ROLE_ADMIN},
	{.methods = HTTP_POST, .pattern = "/alerts/channels", .fn = ch_create, .min_role = ROLE_ADMIN,
	    .audit = "alert_channel.create"},
	{.methods = HTTP_GET, .pattern = "/alerts/channels/:id", .fn = ch_get, .min_role = ROLE_ADMIN},
	{.methods = HTTP_PUT, .pattern = "/alerts/channels/:id", .fn = ch_update, .min_role = ROLE_ADMIN,
	    .audit = "alert_channel.update"},
	{.methods = HTTP_DELETE, .pattern = "/alerts/channels/:id", .fn = ch_delete,
	    .min_role = ROLE_ADMIN, .audit = "alert_channel.delete"},
	{.methods = HTTP_POST, .pattern = "/alerts/channels/:id/test", .fn = ch_test,
	    .min_role = ROLE_ADMIN, .audit = "alert_channel.test"},
	{.methods = HTTP_GET, .pattern = "/alerts/rules", .fn = rule_list, .min_role = ROLE_ADMIN},
	{.methods = HTTP_POST, .pattern = "/alerts/rules", .fn = rule_create, .min_role = ROLE_ADMIN,
	    .audit = "alert_rule.create"},
	{.methods = HTTP_GET, .pattern = "/alerts/rules/:id", .fn = rule_get, .min_role = ROLE_ADMIN},
	{.methods = HTTP_PUT, .pattern = "/alerts/rules/:id", .fn = rule_update, .min_role = ROLE_ADMIN,
	    .audit = "alert_rule.update"},
	{.methods = HTTP_DELETE, .pattern = "/alerts/rules/:id", .fn = rule_delete,
	    .min_role = ROLE_ADMIN, .audit = "alert_rule.delete"},
	{.methods = HTTP_GET, .pattern = "/alerts/history", .fn = hist_list, .min_role = ROLE_ADMIN},
	{.methods = HTTP_GET, .pattern = "/alerts/history/:id", .fn = hist_get, .min_role = ROLE_ADMIN},
	{.methods = HTTP_GET, .pattern = "/settings/smtp", .fn = smtp_get, .min_role = ROLE_ADMIN},
	{.methods = HTTP_PUT, .pattern = "/settings/smtp", .fn = smtp_put, .min_role = ROLE_ADMIN,
	    .scope = SCOPE_ADMIN, .audit = "smtp_settings.update"},
	{0},
};
