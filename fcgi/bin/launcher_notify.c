/*
 * launcher_notify.c - delivers the alert outbox (alert_deliveries,
 * sql/040_alerts.sql): Slack and Discord incoming webhooks, e-mail over
 * SMTP, signed webhooks; retries with back-off for 24 h, every attempt
 * recorded.
 *
 *   launcher-notify -c FILE --once                  deliver what is due, then exit
 *   launcher-notify -c FILE --loop [--interval S]   stay: at once on NOTIFY launcher_notify
 *                                                   (routing queued a delivery), when a
 *                                                   retry falls due, and every S seconds (60)
 *   --KEY VALUE                                     override a launcher.conf key
 *
 * A delivery is taken with a lease (alert_delivery_take: FOR UPDATE SKIP
 * LOCKED, so processes on several machines never send one twice at once;
 * a process that died mid-attempt leaves a lease that expires and the
 * delivery is taken again), sent once, and its outcome recorded
 * (alert_delivery_attempt), which plans the next attempt after
 * alert_retry_base_seconds * 2^(n-1) (at most an hour) or fails it 24 h
 * after it was queued.  An attempt succeeds on a 2xx answer (SMTP: the
 * message accepted); it ends after alert_timeout_seconds (a receiver that
 * hangs).  Deliveries are sent one after another: a hanging receiver
 * delays the others by at most that timeout per attempt.
 *
 * Secrets (sealed in the database, core/crypto.h with the plane's master
 * key ring) are opened here only, in memory, wiped after the attempt; they
 * never reach a log, an error stored in history, or argv.  The address a
 * name resolves to is checked again when connecting (core/alert_url.h): a
 * channel host that now resolves to a loopback or private address is
 * refused unless alert_allowed_hosts lists it.  Redirects are not followed.
 *
 * Webhook requests (POST, application/json) carry x-lnchr-event,
 * x-lnchr-delivery (the delivery id: the receiver's de-duplication key,
 * the same on every retry), x-lnchr-timestamp (unix seconds of this
 * attempt) and, when the channel has a secret, x-lnchr-signature:
 * sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>.  README
 * "Alerts" documents the receiver's check and its replay window.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../core/alert_url.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/db_conn.h"
#include "../core/helper.h"
#include "../core/log.h"
#include "../core/mail.h"
#include "../core/util.h"

/* Deliveries taken per round trip. */
#define TAKE_BATCH 5
/* A lease covers the batch's attempts (each at most alert_timeout_seconds)
 * and this much more. */
#define LEASE_SLACK 60
/* No attempt starts with less than its timeout plus this much of the lease
 * left: the rest of the batch is handed back and taken again. */
#define LEASE_MARGIN 5
/* What of an answer body is read (and dropped): no more. */
#define ANSWER_MAX 65536
/* Discord's content is at most 2000 characters, Slack's text 3000 in a block. */
#define CHAT_TEXT_MAX 1900

static struct crypto_keys    keys;

DB_STMT st_take = {"alert_delivery_take",
    "SELECT id, lease_token, tenant_id, event, message, payload::text AS payload, resource_type, resource_id,"
    " project_id, attempts, channel_id, channel_name, channel_type, channel_config::text AS"
    " channel_config, channel_secret, smtp::text AS smtp, smtp_password"
    " FROM launcher.alert_delivery_take($1::int, $2::int)"};
DB_STMT st_attempt = {"alert_delivery_attempt",
    "SELECT launcher.alert_delivery_attempt($1::uuid, $2::uuid, to_timestamp($3::double precision),"
    " $4::int, $5::int, $6, $7::boolean, $8::double precision) AS status"};
DB_STMT st_release = {"alert_delivery_release",
    "SELECT launcher.alert_delivery_release($1::uuid, $2::uuid)"};
DB_STMT st_next = {"alert_delivery_next", "SELECT launcher.alert_delivery_next() AS s"};

/* One taken delivery, its secrets opened. */
struct delivery {
	const char *id, *tenant, *event, *message, *payload, *rtype, *rid, *project, *channel,
	           *channel_name, *type;
	cJSON      *config;	/* the channel's shown config */
	cJSON      *secret;	/* its opened secrets, NULL: none */
	cJSON      *smtp;	/* the tenant's SMTP settings, NULL: the plane's */
	char       *smtp_password;
};

/* The outcome of one attempt. */
struct outcome {
	int  status;	/* HTTP status, 0: none */
	bool ok;
	char error[200];
};

struct conn_check {
	const struct config *cfg;
	char                 host[256];
	int                  port;
};

/* A connection to addr: refused when it is internal and not allowed. */
static int
addr_ok(void *ud, const void *addr)
{
	const struct conn_check *k = ud;

	return !alert_addr_internal(addr) || alert_host_allowed(k->cfg->alert_allowed_hosts, k->host,
	    k->port);
}

static curl_socket_t
open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)purpose;
	if (!addr_ok(ud, &a->addr))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
drop_cb(char *buf, size_t size, size_t n, void *ud)
{
	size_t *seen = ud;

	(void)buf;
	*seen += size * n;
	return *seen > ANSWER_MAX ? 0 : size * n;
}

/* POSTs body (JSON) to url with headers h; fills o. */
static void
http_post(const struct config *cfg, const char *url, struct curl_slist *h, const char *body,
    struct outcome *o)
{
	struct conn_check k = {.cfg = cfg};
	CURL             *c;
	CURLcode          rc;
	long              code = 0;
	size_t            seen = 0;

	if (alert_url_host(url, k.host, sizeof(k.host), &k.port) != 0) {
		util_snprintf(o->error, sizeof(o->error), "the channel's URL is not http(s)");
		return;
	}
	if ((c = curl_easy_init()) == NULL) {
		util_snprintf(o->error, sizeof(o->error), "out of memory");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* No proxy, whatever the environment says: the connect-time address
	 * check (open_cb) must see the receiver's own address. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Launcher-Alerts/" LAUNCHER_VERSION);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->alert_timeout_seconds);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(cfg->alert_timeout_seconds < 10 ?
	    cfg->alert_timeout_seconds : 10));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &k);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	o->status = (int)code;
	if (rc == CURLE_WRITE_ERROR && code >= 200 && code < 300)
		rc = CURLE_OK;	/* a long answer body we stopped reading */
	if (rc == CURLE_COULDNT_CONNECT && code == 0 && seen == 0) {
		/* Maybe our own refusal (open_cb): say which, without the URL. */
		util_snprintf(o->error, sizeof(o->error), "could not connect to %s:%d (refused, "
		    "unreachable, or a loopback/private address not in alert_allowed_hosts)", k.host,
		    k.port);
		return;
	}
	if (rc != CURLE_OK) {
		util_snprintf(o->error, sizeof(o->error), "%s", curl_easy_strerror(rc));
		return;
	}
	if (code < 200 || code >= 300) {
		util_snprintf(o->error, sizeof(o->error), "the receiver answered HTTP %ld", code);
		return;
	}
	o->ok = true;
}

/* The event as the webhook body (and the source of the other formats). */
static char *
event_body(const struct delivery *d, time_t now)
{
	cJSON *o = cJSON_CreateObject(), *p = cJSON_Parse(d->payload);
	char   ts[32], *text;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "event", d->event);
	cJSON_AddStringToObject(o, "message", d->message);
	cJSON_AddStringToObject(o, "tenant_id", d->tenant);
	cJSON_AddItemToObject(o, "project_id", d->project ? cJSON_CreateString(d->project) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "resource_type", d->rtype ? cJSON_CreateString(d->rtype) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "resource_id", d->rid ? cJSON_CreateString(d->rid) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "payload", p ? p : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "sent_at", ts);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* The chat line's forms: "[event] message", "*event*\nmessage" (Slack
 * mrkdwn), "**event** message" (Discord markdown), "message". */
enum chat_form { CHAT_PLAIN, CHAT_SLACK, CHAT_DISCORD, CHAT_MESSAGE };

/* The line in form f, cut to max bytes at a UTF-8 boundary. */
static void
chat_line(const struct delivery *d, enum chat_form f, char *out, size_t max)
{
	size_t n;

	switch (f) {
	case CHAT_PLAIN:
		util_snprintf(out, max, "[%s] %s", d->event, d->message);
		break;
	case CHAT_SLACK:
		util_snprintf(out, max, "*%s*\n%s", d->event, d->message);
		break;
	case CHAT_DISCORD:
		util_snprintf(out, max, "**%s** %s", d->event, d->message);
		break;
	default:
		util_snprintf(out, max, "%s", d->message);
	}
	/* snprintf may have cut a character: drop its lead and continuation bytes. */
	n = strlen(out);
	for (size_t i = n; i > 0; i--) {
		unsigned char b = (unsigned char)out[i - 1];
		size_t        need;

		if ((b & 0xc0) == 0x80)
			continue;
		need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
		if (i - 1 + need > n)
			out[i - 1] = '\0';
		break;
	}
}

static const char *
secret_str(const struct delivery *d, const char *key)
{
	const cJSON *x = d->secret ? cJSON_GetObjectItemCaseSensitive(d->secret, key) : NULL;

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/*
 * Slack incoming webhook: {"text", "blocks"}; text is the notification's
 * fallback, blocks a section (mrkdwn) and a context line.
 */
static char *
slack_body(const struct delivery *d)
{
	cJSON *o = cJSON_CreateObject(), *blocks = cJSON_AddArrayToObject(o, "blocks");
	cJSON *sec = cJSON_CreateObject(), *t = cJSON_CreateObject(), *ctx, *els, *el;
	char   line[CHAT_TEXT_MAX + 8], ctxt[200];
	char  *text;

	chat_line(d, CHAT_PLAIN, line, CHAT_TEXT_MAX);
	cJSON_AddStringToObject(o, "text", line);
	chat_line(d, CHAT_SLACK, line, CHAT_TEXT_MAX);
	cJSON_AddStringToObject(sec, "type", "section");
	cJSON_AddStringToObject(t, "type", "mrkdwn");
	cJSON_AddStringToObject(t, "text", line);
	cJSON_AddItemToObject(sec, "text", t);
	cJSON_AddItemToArray(blocks, sec);
	ctx = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx, "type", "context");
	els = cJSON_AddArrayToObject(ctx, "elements");
	el = cJSON_CreateObject();
	cJSON_AddStringToObject(el, "type", "mrkdwn");
	util_snprintf(ctxt, sizeof(ctxt), "Launcher · %s %s", d->rtype ? d->rtype : "",
	    d->rid ? d->rid : "");
	cJSON_AddStringToObject(el, "text", ctxt);
	cJSON_AddItemToArray(els, el);
	cJSON_AddItemToArray(blocks, ctx);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/*
 * Discord webhook: {"content", "embeds", "allowed_mentions"}; mentions
 * off (a message quoting "@everyone" pings nobody).
 */
static char *
discord_body(const struct delivery *d, time_t now)
{
	cJSON *o = cJSON_CreateObject(), *embeds = cJSON_AddArrayToObject(o, "embeds");
	cJSON *e = cJSON_CreateObject(), *am = cJSON_CreateObject();
	char   line[CHAT_TEXT_MAX + 8], ts[32], foot[200];
	char  *text;
	cJSON *footer = cJSON_CreateObject();

	chat_line(d, CHAT_DISCORD, line, CHAT_TEXT_MAX);
	cJSON_AddStringToObject(o, "content", line);
	cJSON_AddStringToObject(e, "title", d->event);
	chat_line(d, CHAT_MESSAGE, line, CHAT_TEXT_MAX);
	cJSON_AddStringToObject(e, "description", line);
	cJSON_AddNumberToObject(e, "color", strstr(d->event, "failed") || strstr(d->event, "crash") ||
	    strstr(d->event, "offline") || strstr(d->event, "threshold") ? 0xd93025 : 0x1e8e3e);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	cJSON_AddStringToObject(e, "timestamp", ts);
	util_snprintf(foot, sizeof(foot), "Launcher · %s %s", d->rtype ? d->rtype : "",
	    d->rid ? d->rid : "");
	cJSON_AddStringToObject(footer, "text", foot);
	cJSON_AddItemToObject(e, "footer", footer);
	cJSON_AddItemToArray(embeds, e);
	cJSON_AddItemToObject(am, "parse", cJSON_CreateArray());
	cJSON_AddItemToObject(o, "allowed_mentions", am);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static struct curl_slist *
json_headers(void)
{
	return curl_slist_append(NULL, "Content-Type: application/json");
}

static void
send_chat(const struct config *cfg, const struct delivery *d, time_t now, struct outcome *o)
{
	const char        *url = secret_str(d, "webhook_url");
	char              *body;
	struct curl_slist *h;

	if (url == NULL) {
		util_snprintf(o->error, sizeof(o->error), "the channel has no webhook_url");
		return;
	}
	body = strcmp(d->type, "slack") == 0 ? slack_body(d) : discord_body(d, now);
	h = json_headers();
	if (body != NULL && h != NULL)
		http_post(cfg, url, h, body, o);
	else
		util_snprintf(o->error, sizeof(o->error), "out of memory");
	curl_slist_free_all(h);
	cJSON_free(body);
}

static struct curl_slist *
add_header(struct curl_slist *h, const char *name, const char *value)
{
	size_t             n = strlen(name) + strlen(value) + 3;
	char              *line = malloc(n);
	struct curl_slist *r;

	if (line == NULL)
		return h;
	util_snprintf(line, n, "%s: %s", name, value);
	r = curl_slist_append(h, line);
	sodium_memzero(line, n);
	free(line);
	return r ? r : h;
}

static void
send_webhook(const struct config *cfg, const struct delivery *d, time_t now, struct outcome *o)
{
	const cJSON       *url = cJSON_GetObjectItemCaseSensitive(d->config, "url");
	const cJSON       *hdrs = d->secret ? cJSON_GetObjectItemCaseSensitive(d->secret, "headers") :
	    NULL, *x;
	const char        *secret = secret_str(d, "secret");
	char              *body = event_body(d, now), ts[24];
	struct curl_slist *h = json_headers();

	if (!cJSON_IsString(url) || body == NULL || h == NULL) {
		util_snprintf(o->error, sizeof(o->error), body ? "the channel has no url" : "out of memory");
		goto out;
	}
	util_snprintf(ts, sizeof(ts), "%lld", (long long)now);
	cJSON_ArrayForEach(x, hdrs)
		if (cJSON_IsString(x))
			h = add_header(h, x->string, x->valuestring);
	h = add_header(h, "x-lnchr-event", d->event);
	h = add_header(h, "x-lnchr-delivery", d->id);
	h = add_header(h, "x-lnchr-timestamp", ts);
	if (secret != NULL) {
		size_t         tl = strlen(ts), bl = strlen(body);
		unsigned char *msg = malloc(tl + 1 + bl), mac[32];
		char           hex[65], sig[80];

		if (msg == NULL) {
			util_snprintf(o->error, sizeof(o->error), "out of memory");
			goto out;
		}
		memcpy(msg, ts, tl);
		msg[tl] = '.';
		memcpy(msg + tl + 1, body, bl);
		crypto_hmac_sha256(secret, strlen(secret), msg, tl + 1 + bl, mac);
		free(msg);
		sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
		util_snprintf(sig, sizeof(sig), "sha256=%s", hex);
		h = add_header(h, "x-lnchr-signature", sig);
	}
	http_post(cfg, url->valuestring, h, body, o);
out:
	curl_slist_free_all(h);
	cJSON_free(body);
}

/*
 * E-mail: the tenant's SMTP settings (PUT /settings/smtp), else the
 * plane's smtp_url (README "Alerts").
 */
static void
send_email(const struct config *cfg, const struct delivery *d, struct outcome *o)
{
	const cJSON       *to = cJSON_GetObjectItemCaseSensitive(d->config, "to"), *x;
	const char        *list[32];
	size_t             n = 0;
	struct mail_server s = {0};
	struct conn_check  k = {.cfg = cfg};
	char               url[400], subject[200], body[4096], err[160];

	cJSON_ArrayForEach(x, to)
		if (cJSON_IsString(x) && n < sizeof(list) / sizeof(*list))
			list[n++] = x->valuestring;
	if (d->smtp != NULL) {
		const char *host = cJSON_GetObjectItemCaseSensitive(d->smtp, "host")->valuestring;
		const char *mode = cJSON_GetObjectItemCaseSensitive(d->smtp, "tls_mode")->valuestring;
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(d->smtp, "username");
		int          port = cJSON_GetObjectItemCaseSensitive(d->smtp, "port")->valueint;

		util_snprintf(url, sizeof(url), strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
		    strcmp(mode, "tls") == 0 ? "smtps" : "smtp", host, port);
		util_snprintf(k.host, sizeof(k.host), "%s", host);
		k.port = port;
		s.url = url;
		s.from = cJSON_GetObjectItemCaseSensitive(d->smtp, "from")->valuestring;
		s.user = cJSON_IsString(user) ? user->valuestring : NULL;
		s.password = d->smtp_password;
		s.starttls = strcmp(mode, "starttls") == 0;
		s.open_ok = addr_ok;
		s.ud = &k;
	} else {
		if (cfg->smtp_url[0] == '\0') {
			util_snprintf(o->error, sizeof(o->error), "no SMTP server: the tenant has no "
			    "/settings/smtp and the plane's smtp_url is empty");
			return;
		}
		s.url = cfg->smtp_url;
		s.from = cfg->smtp_from;
		s.user = cfg->smtp_user;
		s.password = getenv("LAUNCHER_SMTP_PASSWORD");
		s.starttls = cfg->smtp_user[0] != '\0';
	}
	s.timeout = (long)cfg->alert_timeout_seconds;
	util_snprintf(subject, sizeof(subject), "[Launcher] %s", d->event);
	for (char *q = subject; *q; q++)
		if (*q == '\r' || *q == '\n')
			*q = ' ';
	util_snprintf(body, sizeof(body), "%s\r\n\r\nEvent: %s\r\nResource: %s %s\r\n"
	    "Delivery: %s\r\n", d->message, d->event, d->rtype ? d->rtype : "-",
	    d->rid ? d->rid : "", d->id);
	if (mail_send_via(&s, list, n, subject, body, err, sizeof(err)) != 0) {
		util_snprintf(o->error, sizeof(o->error), "SMTP: %s", err[0] ? err : "invalid message");
		return;
	}
	o->ok = true;
	o->status = 250;
}

static char *
open_sealed(const char *tenant, const char *purpose, const char *binding, const char *sealed)
{
	char  p[128];
	char *plain;

	if (sealed == NULL || *sealed == '\0')
		return NULL;
	if (binding != NULL)
		util_snprintf(p, sizeof(p), "%s:%s", purpose, binding);
	else
		util_snprintf(p, sizeof(p), "%s", purpose);
	plain = crypto_open(&keys, tenant, p, sealed, NULL);
	return plain;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static const char *
col(PGresult *res, int row, const char *name)
{
	int c = PQfnumber(res, name);

	return c < 0 || PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* Sends row i of res and records the outcome.  -1 when the database failed. */
static int
deliver(struct db_conn *c, const struct config *cfg, PGresult *res, int i)
{
	struct delivery d = {0};
	struct outcome  o = {0};
	struct timespec wall, t0, t1;
	time_t          now = time(NULL);
	char           *plain = NULL;
	char            started[32], dur[16], code[16], base[24];
	const char     *p[8];
	PGresult       *r2;
	int             rc = 0;

	d.id = col(res, i, "id");
	d.tenant = col(res, i, "tenant_id");
	d.event = col(res, i, "event");
	d.message = col(res, i, "message");
	d.payload = col(res, i, "payload");
	d.rtype = col(res, i, "resource_type");
	d.rid = col(res, i, "resource_id");
	d.project = col(res, i, "project_id");
	d.channel = col(res, i, "channel_id");
	d.type = col(res, i, "channel_type");
	d.config = cJSON_Parse(col(res, i, "channel_config"));
	if (col(res, i, "smtp") != NULL)
		d.smtp = cJSON_Parse(col(res, i, "smtp"));
	/* The wall clock for when it started, the monotonic one for how long. */
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (col(res, i, "channel_secret") != NULL) {
		plain = open_sealed(d.tenant, "alert-channel", d.channel, col(res, i, "channel_secret"));
		if (plain == NULL || (d.secret = cJSON_Parse(plain)) == NULL)
			util_snprintf(o.error, sizeof(o.error), "the channel's secrets do not open "
			    "(master key ring?)");
	}
	if (col(res, i, "smtp_password") != NULL &&
	    (d.smtp_password = open_sealed(d.tenant, "smtp-password", NULL,
	    col(res, i, "smtp_password"))) == NULL)
		util_snprintf(o.error, sizeof(o.error), "the tenant's SMTP password does not open "
		    "(master key ring?)");
	if (o.error[0] == '\0') {
		if (d.config == NULL)
			util_snprintf(o.error, sizeof(o.error), "the channel's config is unreadable");
		else if (strcmp(d.type, "webhook") == 0)
			send_webhook(cfg, &d, now, &o);
		else if (strcmp(d.type, "email") == 0)
			send_email(cfg, &d, &o);
		else
			send_chat(cfg, &d, now, &o);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	util_snprintf(started, sizeof(started), "%.6f", (double)wall.tv_sec + wall.tv_nsec / 1e9);
	util_snprintf(dur, sizeof(dur), "%lld", (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	util_snprintf(code, sizeof(code), "%d", o.status);
	util_snprintf(base, sizeof(base), "%lld", (long long)cfg->alert_retry_base_seconds);
	p[0] = d.id;
	p[1] = col(res, i, "lease_token");
	p[2] = started;
	p[3] = dur;
	p[4] = o.status ? code : NULL;
	p[5] = o.ok ? NULL : o.error;
	p[6] = o.ok ? "true" : "false";
	p[7] = base;
	if (db_conn_exec(c, &st_attempt, 8, p, &r2) != ERR_OK) {
		log_error("recording delivery %s failed: %s", d.id, db_conn_error(c));
		rc = -1;
	} else {
		const char *st = PQgetisnull(r2, 0, 0) ? "not recorded (lease lost or channel gone)" :
		    PQgetvalue(r2, 0, 0);

		if (o.ok)
			log_info("delivery %s (%s, %s channel %s): delivered", d.id, d.event, d.type,
			    d.channel);
		else
			log_warn("delivery %s (%s, %s channel %s): %s; now %s", d.id, d.event, d.type,
			    d.channel, o.error, st);
		PQclear(r2);
	}
	cJSON_Delete(d.config);
	cJSON_Delete(d.secret);
	cJSON_Delete(d.smtp);
	wipe_free(plain);
	wipe_free(d.smtp_password);
	return rc;
}

/* Hands rows from..n-1 of a take back untouched.  0, or -1 when the
 * database failed (their leases then expire). */
static int
release_rest(struct db_conn *c, PGresult *res, int from, int n)
{
	for (int i = from; i < n; i++) {
		const char *p[2] = {col(res, i, "id"), col(res, i, "lease_token")};
		PGresult   *r;

		if (db_conn_exec(c, &st_release, 2, p, &r) != ERR_OK) {
			log_error("handing delivery %s back failed: %s", p[0], db_conn_error(c));
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

static double
mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Delivers everything due.  0, or -1 when the database failed.  A take's
 * lease covers its whole batch; before each delivery the stop flag and the
 * lease left are checked, and what is not attempted is handed back (pending,
 * lease ended), so a stop loses no attempt and no attempt outlives its lease.
 */
static int
drain(struct db_conn *c, const struct config *cfg)
{
	long long   per = (long long)cfg->alert_timeout_seconds, lease_s = TAKE_BATCH * per + LEASE_SLACK;
	char        lim[16], lease[24];
	const char *p[2] = {lim, lease};

	util_snprintf(lim, sizeof(lim), "%d", TAKE_BATCH);
	util_snprintf(lease, sizeof(lease), "%lld", lease_s);
	while (!helper_stop) {
		PGresult *res;
		double    until = mono_now() + (double)lease_s;
		int       n;

		if (db_conn_exec(c, &st_take, 2, p, &res) != ERR_OK) {
			log_error("alert_delivery_take failed: %s", db_conn_error(c));
			return -1;
		}
		if ((n = PQntuples(res)) == 0) {
			PQclear(res);
			return 0;
		}
		for (int i = 0; i < n; i++) {
			if (helper_stop || mono_now() + (double)(per + LEASE_MARGIN) > until) {
				int rc = release_rest(c, res, i, n);

				PQclear(res);
				return rc;
			}
			if (deliver(c, cfg, res, i) != 0) {
				(void)release_rest(c, res, i + 1, n);
				PQclear(res);
				return -1;
			}
		}
		PQclear(res);
	}
	return 0;
}

/* Seconds until the next delivery is due, -1 when none waits or on error. */
static double
next_due(struct db_conn *c)
{
	PGresult *res;
	double    s = -1;

	if (db_conn_exec(c, &st_next, 0, NULL, &res) != ERR_OK)
		return -1;
	if (!PQgetisnull(res, 0, 0))
		s = atof(PQgetvalue(res, 0, 0));
	PQclear(res);
	return s;
}

/*
 * helper_loop's run: delivers what is due; in --loop, also waits for the
 * retries that fall due before the loop's next interval (woken early by a
 * NOTIFY), so that a back-off shorter than --interval is kept.
 */
static int
run(struct db_conn *c, void *ud)
{
	const struct helper_args *a = ud;

	for (;;) {
		double next;

		if (drain(c, &a->cfg) != 0)
			return 1;
		if (a->once || helper_stop)
			return 0;
		next = next_due(c);
		if (next < 0 || next >= (double)a->interval)
			return 0;
		if (helper_wait_notify(c, (int64_t)ceil(next) > 0 ? (int64_t)ceil(next) : 1, &helper_stop) != 0)
			return 1;
	}
}

/* Keys a --KEY VALUE flag may override; never a database URL (argv is
 * world-readable). */
static const char *const flag_keys[] = {
	"notify_lock_file", "alert_retry_base_seconds", "alert_timeout_seconds", "log_level",
};

int
main(int argc, char **argv)
{
	struct helper_args a;
	char               err[256];
	int                rc, lock;

	db_conn_check_names();
	if ((rc = helper_args_parse(&a, argc, argv, "launcher-notify", flag_keys,
	    sizeof(flag_keys) / sizeof(*flag_keys), false)) != 0)
		return rc;
	helper_lock_default(a.cfg.notify_lock_file, sizeof(a.cfg.notify_lock_file), &a.cfg, "notify");
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "launcher-notify: libsodium or libcurl did not initialise\n");
		return 1;
	}
	if (crypto_keys_load(&keys, a.cfg.master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-notify: %s\n", err);
		return 1;
	}
	if ((lock = helper_lock_take(a.cfg.notify_lock_file)) == -2) {
		log_info("another launcher-notify holds %s; nothing to do", a.cfg.notify_lock_file);
		return 0;
	}
	if (lock < 0)
		return 1;
	helper_stop_on_signals();
	signal(SIGPIPE, SIG_IGN);
	if (a.once) {
		struct db_conn c = {0};

		if (db_conn_open(&c, a.cfg.maintenance_database_url, NULL) != ERR_OK) {
			log_error("database unavailable");
			rc = 1;
		} else {
			rc = run(&c, &a);
			db_conn_close(&c);
		}
	} else
		rc = helper_loop(a.cfg.maintenance_database_url, "launcher_notify", a.interval, &helper_stop,
		    run, &a);
	crypto_keys_wipe(&keys);
	close(lock);
	curl_global_cleanup();
	return rc;
}
