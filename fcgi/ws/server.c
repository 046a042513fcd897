/*
 * server.c - launcher-ws's event loop, its route table and the agents'
 * wake channel (see ws.h).
 *
 * The upgrade is decided before it is accepted
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): the route table names the endpoint
 * (else 404), its auth kind runs (an agent's token, or ws_authorize for a
 * user's credentials, admitted as the REST equivalent), then the route's
 * own admit; each refusal is an answer in the API's JSON envelope and no
 * WebSocket is opened.  The agent's credential is looked up as the plane
 * does it: keyed hash of the token, under the URL's tenant
 * (sql/015_tenant_guard.sql, ws_agent_server).  Those lookups are short
 * blocking queries on the loop's own connection, once per connection,
 * never per message.
 *
 * Liveness: lws pings a socket silent for ws_ping_seconds (30) and drops
 * one from which nothing came (a pong or any frame) for two intervals and
 * a half: two missed pongs (retry_and_idle_policy).  SIGTERM:
 * every socket gets a close frame with 1001 (going away), the loop runs
 * until they are gone (at most WS_DRAIN_MS), then the daemon exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "../core/db_conn.h"
#include "../core/log.h"
#include "../core/util.h"
#include "stream.h"
#include "term.h"
#include "wait.h"
#include "ws.h"

#define TOKEN_HEADER "x-lnchr-agent-token:"
#define TOKEN_MAX    128
#define WS_DRAIN_MS  3000	/* SIGTERM: how long close frames may take */

/* The agents' wake channel's state (c->data). */
struct agent {
	bool pending;	/* a "wake" is due */
};

/* Closing, for every socket (next to the handler's data). */
struct live {
	bool closing;
	int  close_status;
	char close_reason[64];
};

struct server {
	const struct config      *cfg;
	const struct crypto_keys *keys;
	struct db_conn            db;
	struct ws_conn           *conns;	/* open sockets */
	uint64_t                  serial;
	struct ws_listener        listener;
	struct lws_context       *ctx;
	lws_retry_bo_t            idle_policy;
};

static struct server srv;

/* A socket's liveness record, kept after the ws_conn in one allocation. */
struct conn_alloc {
	struct ws_conn c;
	struct live    l;
};

static struct live *
live_of(struct ws_conn *c)
{
	return &((struct conn_alloc *)c)->l;
}

/* ------------------------------------------------------------- answers */

static int
answer_body(struct lws *wsi, unsigned status, const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
	              *end = hdr + sizeof(hdr);
	unsigned char *buf;
	int            rc = 1;

	if ((buf = malloc(LWS_PRE + len + 1)) == NULL)
		return -1;
	memcpy(buf + LWS_PRE, body, len);
	if (lws_add_http_common_headers(wsi, status, "application/json", (lws_filepos_t)len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end) ||
	    lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		rc = -1;
	free(buf);
	return rc;
}

int
ws_answer(struct lws *wsi, unsigned status, const char *code, const char *message)
{
	char body[512];
	int  n = util_snprintf(body, sizeof(body),
	    "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);

	return n < 0 ? -1 : answer_body(wsi, status, body, (size_t)n);
}

/* The pool's own answer, held by ws_authorize (authz.c). */
int
ws_answer_raw(struct lws *wsi, unsigned status, const char *body, size_t len)
{
	if (body == NULL || len == 0)
		return ws_answer(wsi, status, "ERROR", "refused");
	return answer_body(wsi, status, body, len);
}

/* ------------------------------------------------------- the agent channel */

struct db_conn *
ws_db(void)
{
	if (db_conn_ok(&srv.db))
		return &srv.db;
	if (db_conn_open(&srv.db, srv.cfg->database_url, NULL) != ERR_OK) {
		log_warn("launcher-ws: database unavailable");
		return NULL;
	}
	return &srv.db;
}

int
ws_sql(const struct db_stmt *st, int n, const char *const *params, PGresult **res)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct db_conn *c = ws_db();

		if (c == NULL)
			return -1;
		if (db_conn_exec(c, st, n, params, res) == ERR_OK)
			return 0;
		if (db_conn_ok(c)) {
			log_error("launcher-ws: %s failed: %s", st->name, db_conn_error(c));
			return -1;
		}
	}
	return -1;
}

DB_STMT st_agent_server = {"ws_agent_server",
    "SELECT server_id, tenant_id FROM launcher.ws_agent_server($1, $2::bytea)"};

enum verdict { GRANTED, DENIED, UNAVAILABLE };

static enum verdict
lookup(const char *tenant, const char *token, struct ws_principal *who)
{
	unsigned char   h[CRYPTO_HASH_BYTES];
	char            hex[2 * CRYPTO_HASH_BYTES + 3];
	const char     *params[2] = {tenant, hex};
	PGresult       *res;
	enum verdict    v = DENIED;

	crypto_keyed_hash(srv.keys, "agent-token", token, strlen(token), h);
	hex[0] = '\\';
	hex[1] = 'x';
	util_hex(hex + 2, h, sizeof(h));
	if (ws_sql(&st_agent_server, 2, params, &res) != 0)
		return UNAVAILABLE;
	if (PQntuples(res) == 1) {
		util_snprintf(who->server_id, sizeof(who->server_id), "%s", PQgetvalue(res, 0, 0));
		util_snprintf(who->tenant_id, sizeof(who->tenant_id), "%s", PQgetvalue(res, 0, 1));
		v = GRANTED;
	}
	PQclear(res);
	return v;
}

/* WS_AUTH_AGENT: the x-lnchr-agent-token of a server of the URL's tenant. */
static int
admit_agent(struct lws *wsi, struct ws_conn *c)
{
	char token[TOKEN_MAX + 2];
	int  len, rc;

	len = lws_hdr_custom_length(wsi, TOKEN_HEADER, (int)strlen(TOKEN_HEADER));
	if (len <= 9 || len > TOKEN_MAX ||
	    lws_hdr_custom_copy(wsi, token, sizeof(token), TOKEN_HEADER, (int)strlen(TOKEN_HEADER)) != len ||
	    strncmp(token, "lnchr_at_", 9) != 0)
		return ws_answer(wsi, HTTP_STATUS_UNAUTHORIZED, "UNAUTHORIZED",
		    "agent authentication required");
	switch (lookup(c->tenant, token, &c->who)) {
	case GRANTED:
		rc = 0;
		break;
	case DENIED:
		rc = ws_answer(wsi, HTTP_STATUS_UNAUTHORIZED, "UNAUTHORIZED", "invalid agent token");
		break;
	default:
		rc = ws_answer(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
		    "service temporarily unavailable");
	}
	explicit_bzero(token, sizeof(token));
	return rc;
}

static int
agent_admit(struct lws *wsi, struct ws_conn *c)
{
	return (c->data = calloc(1, sizeof(struct agent))) == NULL ? -1 : 0;
}

static void
agent_open(struct ws_conn *c)
{
	log_info("launcher-ws: agent of server %s connected", c->who.server_id);
}

static int
agent_writable(struct ws_conn *c)
{
	struct agent *a = c->data;
	unsigned char buf[LWS_PRE + 8];

	if (!a->pending)
		return 0;
	memcpy(buf + LWS_PRE, "wake", 4);
	if (ws_send(c, buf + LWS_PRE, 4, false) != 0)
		return -1;
	a->pending = false;
	return 0;
}

static void
agent_close(struct ws_conn *c)
{
	if (c->open)
		log_info("launcher-ws: agent of server %s disconnected", c->who.server_id);
	free(c->data);
	c->data = NULL;
}

static const struct ws_handler agent_handler = {
	.admit = agent_admit, .open = agent_open, .writable = agent_writable,
	.close = agent_close,
};

/* The listener queued wake-ups: flag the agents they name; and, from a
 * queue of their own, hand back the waits of the jobs that ended (wait.c). */
static void
wake_agents(void)
{
	static char ids[WS_QUEUE][WS_ID_LEN + 1];
	bool        all;
	int         n = ws_listener_take(&srv.listener, ids, WS_QUEUE, &all);

	for (struct ws_conn *c = srv.conns; c != NULL; c = c->next) {
		bool hit = all;

		if (c->route->h != &agent_handler)
			continue;
		for (int i = 0; i < n && !hit; i++)
			hit = strcmp(ids[i], c->who.server_id) == 0;
		if (hit) {
			((struct agent *)c->data)->pending = true;
			ws_want_write(c);
		}
	}
	n = ws_listener_take_finished(&srv.listener, ids, WS_QUEUE, &all);
	ws_wait_wake(ids, n, all);
}

/* ---------------------------------------------------------- route table */

/*
 * Every endpoint of the daemon.  A stream's REST equivalent is the GET
 * that reads the same rows: whoever may read them there may stream them.
 */
static const struct ws_route routes[] = {
	{"/ws/agent", WS_AUTH_AGENT, NULL, &agent_handler},
	{"/ws/deployments/:id/logs", WS_AUTH_USER, "GET /deployments/:id/logs",
	    &stream_deployment_logs},
	{"/ws/applications/:id/logs", WS_AUTH_USER, "GET /applications/:id/runtime-logs",
	    &stream_app_logs},
	{"/ws/applications/:id/traffic", WS_AUTH_USER, "GET /applications/:id",
	    &stream_app_traffic},
	{"/ws/databases/:id/logs", WS_AUTH_USER, "GET /databases/:id/logs", &stream_db_logs},
	{"/ws/servers/:id/metrics", WS_AUTH_USER, "GET /servers/:id/status",
	    &stream_server_metrics},
	{"/ws/logs", WS_AUTH_NONE, NULL, &stream_unified},
	{"/ws/notifications", WS_AUTH_USER, "GET /notifications", &stream_notifications},
	/* Terminals (term.c): the client is admitted as the session's own
	 * POST /<target>s/:id/terminal, which only its row names. */
	{"/ws/terminal/:sessionId", WS_AUTH_NONE, NULL, &ws_term_client},
	{"/ws/agent/terminal/:sessionId", WS_AUTH_AGENT, NULL, &ws_term_agent},
	{NULL, 0, NULL, NULL},
};

static bool
id_name(const char *name, size_t n)
{
	return (n == 2 && strncmp(name, "id", 2) == 0) ||
	    (n > 2 && strncmp(name + n - 2, "Id", 2) == 0);
}

/*
 * Matches path against pattern (one ":name" segment at most, which goes
 * to param): 1 = match, 0 = none, -1 = matched but the id is no UUID.
 */
static int
route_match(const char *pattern, const char *path, char *param, size_t size)
{
	const char *p = pattern, *s = path;

	param[0] = '\0';
	while (*p && *s) {
		if (*p == ':') {
			const char *pe = strchr(p, '/'), *se = strchr(s, '/');
			size_t      pl = pe ? (size_t)(pe - p) : strlen(p);
			size_t      sl = se ? (size_t)(se - s) : strlen(s);
			bool        id = id_name(p + 1, pl - 1);

			if (sl == 0)
				return 0;
			if (sl >= size)
				return id ? -1 : 0;
			memcpy(param, s, sl);
			param[sl] = '\0';
			p += pl;
			s += sl;
			if (id && !util_is_uuid(param)) {
				/* only when the rest matches too */
				return strcmp(p, s) == 0 ? -1 : 0;
			}
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* The REST equivalent of c's route with its :param filled in. */
static void
rest_of(const struct ws_conn *c, char *out, size_t size)
{
	const char *colon = strchr(c->route->rest, ':'), *after;

	if (colon == NULL) {
		util_snprintf(out, size, "%s", c->route->rest);
		return;
	}
	after = strchr(colon, '/');
	util_snprintf(out, size, "%.*s%s%s", (int)(colon - c->route->rest), c->route->rest,
	    c->param, after ? after : "");
}

/* ------------------------------------------------------------ admission */

/* Decides an upgrade: 0 = accept (c attached to the wsi), 1 = answered. */
static int
confirm_upgrade(struct lws *wsi)
{
	char                uri[512], param[WS_ID_LEN + 2], rest[256], *slash;
	const struct ws_route *rt = NULL;
	struct conn_alloc  *ca;
	struct ws_conn     *c;
	int                 m = 0, rc;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || uri[0] != '/' ||
	    (slash = strchr(uri + 1, '/')) == NULL)
		return ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "unknown WebSocket endpoint");
	for (rt = routes; rt->pattern != NULL; rt++)
		if ((m = route_match(rt->pattern, slash, param, sizeof(param))) != 0)
			break;
	if (rt->pattern == NULL)
		return ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "unknown WebSocket endpoint");
	if (m < 0)
		return ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND",
		    "not found: the path parameter is not a valid id");
	*slash = '\0';
	if ((!util_is_uuid(uri + 1) && !util_is_slug(uri + 1)) || strlen(uri + 1) > WS_TENANT_MAX)
		return ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "tenant not found");
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return -1;
	c = &ca->c;
	c->wsi = wsi;
	c->route = rt;
	c->serial = ++srv.serial;
	memcpy(c->tenant, uri + 1, strlen(uri + 1) + 1);
	memcpy(c->param, param, strlen(param) + 1);
	switch (rt->auth) {
	case WS_AUTH_AGENT:
		rc = admit_agent(wsi, c);
		break;
	case WS_AUTH_USER:
		rest_of(c, rest, sizeof(rest));
		rc = ws_authorize(wsi, c->tenant, rest, &c->who);
		break;
	default:
		rc = 0;
	}
	if (rc == 0 && rt->h->admit != NULL)
		rc = rt->h->admit(wsi, c);
	if (rc != 0) {
		if (rt->h->close != NULL)
			rt->h->close(c);
		free(ca);
		return rc;
	}
	lws_set_opaque_user_data(wsi, c);
	return 0;
}

/* ------------------------------------------------------------ sockets */

void
ws_want_write(struct ws_conn *c)
{
	if (c->open)
		lws_callback_on_writable(c->wsi);
}

int
ws_send(struct ws_conn *c, unsigned char *msg, size_t len, bool binary)
{
	return lws_write(c->wsi, msg, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)len ?
	    -1 : 0;
}

void
ws_close(struct ws_conn *c, int status, const char *reason)
{
	struct live *l = live_of(c);

	if (l->closing)
		return;
	l->closing = true;
	l->close_status = status;
	util_snprintf(l->close_reason, sizeof(l->close_reason), "%s", reason ? reason : "");
	ws_want_write(c);
}

static void
unlink_conn(struct ws_conn *c)
{
	for (struct ws_conn **pp = &srv.conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* Ends c's life: the handler's close, then the memory. */
static void
destroy(struct ws_conn *c)
{
	unlink_conn(c);
	if (c->route->h->close != NULL)
		c->route->h->close(c);
	free((struct conn_alloc *)c);
}

static int
writable(struct ws_conn *c)
{
	struct live *l = live_of(c);

	if (l->closing) {
		lws_close_reason(c->wsi, (enum lws_close_status)l->close_status,
		    (unsigned char *)l->close_reason, strlen(l->close_reason));
		return -1;
	}
	return c->route->h->writable != NULL ? c->route->h->writable(c) : 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_conn *c = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		/* A request without an upgrade: a job's wait (from nginx's
		 * internal location), else refused. */
		int rc = in != NULL && ws_wait_path(in) ? ws_wait_http(wsi, in) :
		    ws_answer(wsi, HTTP_STATUS_BAD_REQUEST, "BAD_REQUEST",
		    "this endpoint speaks WebSocket only");

		if (rc == 0)
			return 0;
		return rc > 0 && lws_http_transaction_completed(wsi) == 0 ? 0 : -1;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (ws_wait_held(wsi))
			return ws_wait_writable(wsi);
		break;
	case LWS_CALLBACK_CLOSED_HTTP:
		ws_wait_closed(wsi);
		break;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		if (c == NULL)
			return -1;
		c->open = true;
		c->next = srv.conns;
		srv.conns = c;
		if (c->route->h->open != NULL)
			c->route->h->open(c);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c != NULL && c->open)
			return writable(c);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		if (c->route->h->receive != NULL)
			return c->route->h->receive(c, in, len, lws_frame_is_binary(wsi) != 0,
			    lws_is_final_fragment(wsi) != 0);
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		wake_agents();
		stream_deliver(&srv.listener);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		ws_wait_closed(wsi);
		if (c != NULL) {
			lws_set_opaque_user_data(wsi, NULL);
			destroy(c);
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"launcher", callback, 0, 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

/* ---------------------------------------------------------------- run */

/* SIGTERM: a close frame (1001) to every socket and every held wait
 * handed back, then wait for them. */
static void
drain(struct lws_context *ctx)
{
	struct timespec t0, t;

	for (struct ws_conn *c = srv.conns; c != NULL; c = c->next)
		ws_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (srv.conns != NULL || ws_wait_drain() > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > WS_DRAIN_MS)
			break;
		if (lws_service(ctx, 0) < 0)
			break;
	}
}

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
	/* lws pings a socket silent for ws_ping_seconds and drops one from
	 * which nothing (no pong, no frame) came for two intervals and a half:
	 * two missed pongs. */
	srv.idle_policy.secs_since_valid_ping = (uint16_t)cfg->ws_ping_seconds;
	srv.idle_policy.secs_since_valid_hangup = (uint16_t)(cfg->ws_ping_seconds * 2 +
	    (cfg->ws_ping_seconds + 1) / 2);
	info.retry_and_idle_policy = &srv.idle_policy;
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
	srv.ctx = ctx;
	if ((cfg->ws_listen[0] == '/' &&
	    util_socket_access(cfg->ws_listen, cfg->socket_group, cfg->socket_mode) != 0) ||
	    util_drop_privileges(cfg->user) != 0 || ws_authz_init(cfg, keys) != 0 ||
	    ws_listener_start(&srv.listener, cfg, keys, ctx) != 0) {
		lws_context_destroy(ctx);
		return 1;
	}
	ws_wait_attach(&srv.listener.q.mu);
	log_info("launcher-ws: listening on %s", cfg->ws_listen);
	while (!*stop)
		if (lws_service(ctx, 0) < 0)
			break;
	drain(ctx);
	ws_listener_stop(&srv.listener);
	ws_wait_attach(NULL);	/* (its mutex is gone; the loop is alone) */
	lws_context_destroy(ctx);
	stream_free(&srv.listener);
	ws_authz_free();
	db_conn_close(&srv.db);
	if (cfg->ws_listen[0] == '/')
		(void)unlink(cfg->ws_listen);
	log_info("launcher-ws: stopped");
	return 0;
}
