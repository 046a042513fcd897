/*
 * server.c - launcher-ws's event loop and its endpoints (see ws.h).
 *
 * The upgrade is authenticated before it is accepted
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): an unknown endpoint is 404, bad
 * credentials 401, a database that is down 503, each in the API's JSON
 * envelope, and no WebSocket is opened.  The agent's credential is looked up
 * as the plane does it: keyed hash of the token, under the URL's tenant,
 * through row-level security (sql/008_agent_wake.sql, ws_agent_server).
 * That lookup is a short blocking query on the loop's own connection: it
 * happens once per agent connection, not per message.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "../core/db_conn.h"
#include "../core/log.h"
#include "../core/util.h"
#include "ws.h"

#define TOKEN_HEADER "x-lnchr-agent-token:"
#define TOKEN_MAX    128

/* One agent's WebSocket. */
struct sess {
	struct sess *next;
	struct lws  *wsi;
	char         server_id[WS_ID_LEN + 1];
	bool         pending;	/* a "wake" is due */
};

/* What the upgrade's authentication found, until the socket is open. */
struct grant {
	char server_id[WS_ID_LEN + 1];
};

struct server {
	const struct config      *cfg;
	const struct crypto_keys *keys;
	struct db_conn            db;
	struct sess              *sessions;
	struct ws_listener        listener;
};

static struct server srv;

/* ------------------------------------------------------------- answers */

/* A plain HTTP answer in the API's error envelope; 1 = answered. */
static int
answer(struct lws *wsi, unsigned status, const char *code, const char *message)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
	              *end = hdr + sizeof(hdr);
	unsigned char body[LWS_PRE + 256];
	int           n;

	n = util_snprintf((char *)body + LWS_PRE, sizeof(body) - LWS_PRE,
	    "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
	if (n < 0 ||
	    lws_add_http_common_headers(wsi, status, "application/json", (lws_filepos_t)n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end) ||
	    lws_write(wsi, body + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return -1;
	return 1;
}

/* ------------------------------------------------------- authentication */

static struct db_conn *
db(void)
{
	if (db_conn_ok(&srv.db))
		return &srv.db;
	if (db_conn_open(&srv.db, srv.cfg->database_url, NULL) != ERR_OK) {
		log_warn("launcher-ws: database unavailable");
		return NULL;
	}
	return &srv.db;
}

DB_STMT st_agent_server = {"ws_agent_server",
    "SELECT server_id FROM launcher.ws_agent_server($1, $2::bytea)"};

enum verdict { GRANTED, DENIED, UNAVAILABLE };

static enum verdict
lookup(const char *tenant, const char *token, struct grant *g)
{
	unsigned char h[CRYPTO_HASH_BYTES];
	char          hex[2 * CRYPTO_HASH_BYTES + 3];
	const char   *params[2] = {tenant, hex};
	struct db_conn *c;
	PGresult     *res;
	enum verdict  v = DENIED;

	crypto_keyed_hash(srv.keys, "agent-token", token, strlen(token), h);
	hex[0] = '\\';
	hex[1] = 'x';
	util_hex(hex + 2, h, sizeof(h));
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((c = db()) == NULL)
			return UNAVAILABLE;
		if (db_conn_exec(c, &st_agent_server, 2, params, &res) == ERR_OK) {
			if (PQntuples(res) == 1) {
				util_snprintf(g->server_id, sizeof(g->server_id), "%s", PQgetvalue(res, 0, 0));
				v = GRANTED;
			}
			PQclear(res);
			return v;
		}
		if (db_conn_ok(c)) {
			log_error("launcher-ws: agent lookup failed: %s", db_conn_error(c));
			return UNAVAILABLE;
		}
	}
	return UNAVAILABLE;
}

/*
 * Decides an upgrade: 0 = accept (the grant is attached to the wsi),
 * 1 = answered with an error.
 */
static int
confirm_upgrade(struct lws *wsi)
{
	char          uri[256], token[TOKEN_MAX + 2], *slash;
	struct grant *g;
	int           len;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || uri[0] != '/')
		return answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "unknown WebSocket endpoint");
	/* /<tenant>/ws/agent */
	slash = strchr(uri + 1, '/');
	if (slash == NULL || strcmp(slash, "/ws/agent") != 0)
		return answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "unknown WebSocket endpoint");
	*slash = '\0';
	if (!util_is_uuid(uri + 1) && !util_is_slug(uri + 1))
		return answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "tenant not found");
	len = lws_hdr_custom_length(wsi, TOKEN_HEADER, (int)strlen(TOKEN_HEADER));
	if (len <= 9 || len > TOKEN_MAX ||
	    lws_hdr_custom_copy(wsi, token, sizeof(token), TOKEN_HEADER, (int)strlen(TOKEN_HEADER)) != len ||
	    strncmp(token, "lnchr_at_", 9) != 0)
		return answer(wsi, HTTP_STATUS_UNAUTHORIZED, "UNAUTHORIZED",
		    "agent authentication required");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	switch (lookup(uri + 1, token, g)) {
	case GRANTED:
		explicit_bzero(token, sizeof(token));
		lws_set_opaque_user_data(wsi, g);
		return 0;
	case DENIED:
		free(g);
		explicit_bzero(token, sizeof(token));
		return answer(wsi, HTTP_STATUS_UNAUTHORIZED, "UNAUTHORIZED", "invalid agent token");
	default:
		free(g);
		explicit_bzero(token, sizeof(token));
		return answer(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
		    "service temporarily unavailable");
	}
}

/* ------------------------------------------------------------ sessions */

static void
sess_unlink(struct sess *s)
{
	for (struct sess **pp = &srv.sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

static void
wake(struct sess *s)
{
	s->pending = true;
	lws_callback_on_writable(s->wsi);
}

/* The listener queued notifications: flag the agents they name. */
static void
deliver(void)
{
	static char ids[WS_QUEUE][WS_ID_LEN + 1];
	bool        all;
	int         n = ws_listener_take(&srv.listener, ids, WS_QUEUE, &all);

	for (struct sess *s = srv.sessions; s != NULL; s = s->next) {
		bool hit = all;

		for (int i = 0; i < n && !hit; i++)
			hit = strcmp(ids[i], s->server_id) == 0;
		if (hit)
			wake(s);
	}
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct sess  *s = user;
	struct grant *g;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		/* A request without an upgrade. */
		return answer(wsi, HTTP_STATUS_BAD_REQUEST, "BAD_REQUEST",
		    "this endpoint speaks WebSocket only") > 0 &&
		    lws_http_transaction_completed(wsi) == 0 ? 0 : -1;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		if ((g = lws_get_opaque_user_data(wsi)) == NULL || s == NULL)
			return -1;
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		memcpy(s->server_id, g->server_id, sizeof(s->server_id));
		lws_set_opaque_user_data(wsi, NULL);
		free(g);
		s->next = srv.sessions;
		srv.sessions = s;
		log_info("launcher-ws: agent of server %s connected", s->server_id);
		break;
	case LWS_CALLBACK_CLOSED:
		if (s != NULL && s->wsi == wsi) {
			sess_unlink(s);
			log_info("launcher-ws: agent of server %s disconnected", s->server_id);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (s != NULL && s->pending) {
			unsigned char buf[LWS_PRE + 8];

			memcpy(buf + LWS_PRE, "wake", 4);
			if (lws_write(wsi, buf + LWS_PRE, 4, LWS_WRITE_TEXT) < 4)
				return -1;
			s->pending = false;
		}
		break;
	case LWS_CALLBACK_RECEIVE:
		break;	/* agents have nothing to say on this channel */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		deliver();
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if ((g = lws_get_opaque_user_data(wsi)) != NULL) {
			lws_set_opaque_user_data(wsi, NULL);
			free(g);
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"launcher", callback, sizeof(struct sess), 512, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

/* Idle sockets are pinged after 30 s and dropped 75 s after the last pong. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

/* ---------------------------------------------------------------- run */

int
ws_server_run(const struct config *cfg, const struct crypto_keys *keys, volatile int *stop)
{
	struct lws_context_creation_info info;
	struct lws_context              *ctx;
	char                             host[256];
	int64_t                          port = 0;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	srv.keys = keys;
	memset(&info, 0, sizeof(info));
	info.protocols = protocols;
	info.retry_and_idle_policy = &idle_policy;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->ws_listen[0] == '/') {
		(void)unlink(cfg->ws_listen);
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = cfg->ws_listen;
	} else {
		const char *colon = strrchr(cfg->ws_listen, ':');

		if (colon == NULL || (size_t)(colon - cfg->ws_listen) >= sizeof(host) ||
		    util_parse_i64(colon + 1, 1, 65535, &port) != 0) {
			log_error("launcher-ws: ws_listen must be a unix socket path or host:port");
			return 1;
		}
		memcpy(host, cfg->ws_listen, (size_t)(colon - cfg->ws_listen));
		host[colon - cfg->ws_listen] = '\0';
		info.iface = host;
	}
	info.port = (int)port;
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	if ((ctx = lws_create_context(&info)) == NULL) {
		log_error("launcher-ws: cannot listen on %s", cfg->ws_listen);
		return 1;
	}
	if ((cfg->ws_listen[0] == '/' &&
	    util_socket_access(cfg->ws_listen, cfg->socket_group, cfg->socket_mode) != 0) ||
	    util_drop_privileges(cfg->user) != 0 ||
	    ws_listener_start(&srv.listener, cfg, ctx) != 0) {
		lws_context_destroy(ctx);
		return 1;
	}
	log_info("launcher-ws: listening on %s", cfg->ws_listen);
	while (!*stop)
		if (lws_service(ctx, 0) < 0)
			break;
	ws_listener_stop(&srv.listener);
	lws_context_destroy(ctx);
	db_conn_close(&srv.db);
	if (cfg->ws_listen[0] == '/')
		(void)unlink(cfg->ws_listen);
	log_info("launcher-ws: stopped");
	return 0;
}
