/*
 * ws.h - launcher-ws, the event-driven WebSocket daemon behind nginx's
 * /<tenant>/ws/ location (ARCHITECTURE.md, Processes; API.md §22).
 *
 * One libwebsockets event loop serves every socket.  PostgreSQL
 * notifications arrive on a second thread (listener.c), which reads the
 * rows they name and queues them for the loop, waking it with
 * lws_cancel_service(); the loop alone touches connections.
 *
 * Endpoints: a route table (server.c, routes[]) of
 * {pattern, auth kind, REST equivalent, handler}.  Every upgrade is decided
 * before it is accepted: an unknown endpoint is 404, bad credentials 401,
 * a resource the caller may not see 404, too few rights 403, a database
 * that is down 503, each in the API's JSON envelope, and no WebSocket is
 * opened.
 *
 *   /<tenant>/ws/agent   an agent's wake channel: authenticated by its
 *                        x-lnchr-agent-token header; the daemon sends the
 *                        text frame "wake" when a job of that server is
 *                        queued or cancelled (sql/008_agent_wake.sql).
 *                        The agent polls as well: a lost frame or a daemon
 *                        that is down only costs it a poll interval.
 *   /<tenant>/ws/deployments/:id/logs, applications/:id/logs, ...
 *                        the streams (stream.c), admitted as their REST
 *                        equivalent is (ws_authorize).
 *
 * One plain HTTP endpoint (no upgrade), reached only through nginx's
 * internal location: /.lnchr-wait/<tenant>/<job>, a call held until its
 * job ends, then handed back to the pool (wait.c; core/jobs.h
 * job_respond_wait).
 */
#ifndef LAUNCHER_WS_H
#define LAUNCHER_WS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "../core/config.h"
#include "../core/crypto.h"

#define WS_ID_LEN   36		/* a UUID in text form */
#define WS_QUEUE    256		/* queued wake-ups between two loop passes */
#define WS_TENANT_MAX 72	/* a tenant slug or id, as the URL names it */

struct lws;
struct lws_context;

/* ------------------------------------------------------------- routes */

enum ws_auth {
	WS_AUTH_NONE = 0,	/* the handler's admit decides alone */
	WS_AUTH_AGENT,		/* x-lnchr-agent-token of a server of the URL's tenant */
	WS_AUTH_USER,		/* ?token=<jwt>, Authorization: Bearer or x-lnchr-key,
				 * admitted as the route's REST equivalent (ws_authorize) */
};

/* Who opened a socket (what ws_authorize or the agent lookup found). */
struct ws_principal {
	char tenant_id[WS_ID_LEN + 1];
	char user_id[WS_ID_LEN + 1];	/* "" for an agent */
	char key_id[WS_ID_LEN + 1];	/* "" for a JWT session */
	char project_id[WS_ID_LEN + 1];	/* the REST route's project, or "" */
	char server_id[WS_ID_LEN + 1];	/* an agent's server, or "" */
	int  role;			/* enum role (http.h) */
	int  project_role;		/* enum prole (perm.h), with project_id */
};

struct ws_conn;

/*
 * A route's behaviour.  Every member may be NULL.  All run on the loop.
 *   admit     before the upgrade, after the route's auth kind passed:
 *             0 = accept, 1 = refused (answered: ws_answer), -1 = drop.
 *   open      the WebSocket is established.
 *   receive   a frame (or a fragment: final tells) from the client;
 *             -1 closes the socket.
 *   writable  the socket can take one write (ws_want_write asked for it);
 *             -1 closes the socket.
 *   close     the socket is gone (also when admitted but never opened):
 *             free c->data here.
 */
struct ws_handler {
	int  (*admit)(struct lws *wsi, struct ws_conn *c);
	void (*open)(struct ws_conn *c);
	int  (*receive)(struct ws_conn *c, const void *in, size_t len, bool binary, bool final);
	int  (*writable)(struct ws_conn *c);
	void (*close)(struct ws_conn *c);
};

/*
 * One entry of the route table.  pattern is the path after /<tenant>,
 * with at most one ":name" segment ("/ws/deployments/:id/logs"); a name
 * "id" or ending in "Id" must be a UUID (else 404, as the API does).
 * rest (WS_AUTH_USER) is the REST equivalent whose admission applies,
 * "METHOD /path" with the same ":name" ("GET /deployments/:id/logs"):
 * the same credentials, key scope, tenant role and permission-table cap
 * on the same project (router_check).
 */
struct ws_route {
	const char              *pattern;
	enum ws_auth             auth;
	const char              *rest;
	const struct ws_handler *h;
};

/* One socket, from its admission to its end (lws opaque user data). */
struct ws_conn {
	struct ws_conn        *next;	/* server.c's list of open sockets */
	struct lws            *wsi;
	const struct ws_route *route;
	uint64_t               serial;	/* unique in this process */
	char                   tenant[WS_TENANT_MAX + 1];	/* as the URL names it */
	char                   param[WS_ID_LEN + 1];	/* the pattern's :name, or "" */
	struct ws_principal    who;
	bool                   open;	/* established */
	void                  *data;	/* the handler's */
};

/*
 * Admits an upgrade as the REST call rest would be ("GET
 * /deployments/<id>/logs", "POST /applications/<id>/terminal": a concrete
 * path below /<tenant>/api/v1): the credentials of wsi (?token=<jwt>, an
 * Authorization: Bearer header, or the x-lnchr-key header) verified by
 * core/auth, the key's scope and the tenant role the route asks, and the
 * permission table's cap on the route's project (core/perm), all through
 * router_check: the same code as the pool, not a copy.  Returns 0 and
 * fills *out (may be NULL) when admitted; 1 when refused, with the answer
 * written (401/403/404/503 in the API's envelope, as the pool would); -1
 * on an internal failure (drop the connection).  Runs a short query on
 * the loop's own database connection (once per connection).
 */
int  ws_authorize(struct lws *wsi, const char *tenant, const char *rest,
    struct ws_principal *out);

/* A plain HTTP answer in the API's error envelope before the upgrade
 * (message: safe to show, no quotes); returns 1 (answered) or -1. */
int  ws_answer(struct lws *wsi, unsigned status, const char *code, const char *message);

/* The same with the pool's own envelope (body: JSON of len bytes). */
int  ws_answer_raw(struct lws *wsi, unsigned status, const char *body, size_t len);

/*
 * The loop's own database connection (the API role, no tenant set: read
 * through SECURITY DEFINER functions filtered by tenant, as
 * ws_agent_server), connected on demand; NULL while the database is down.
 * Short queries only: the loop waits on them.
 */
struct db_conn *ws_db(void);

/*
 * The loop's one way to run a statement on ws_db(): st once (again after a
 * lost connection; a statement error is logged and not retried).  The
 * caller PQclears *res.  0, or -1 when the database did not answer it.
 */
struct db_stmt;
int ws_sql(const struct db_stmt *st, int n, const char *const *params, PGresult **res);

/* Asks for c's writable callback. */
void ws_want_write(struct ws_conn *c);
/* Writes one text (or binary) message from a caller's buffer that has
 * LWS_PRE bytes of room before msg; 0 or -1. */
int  ws_send(struct ws_conn *c, unsigned char *msg, size_t len, bool binary);
/* Closes c with a status and a short reason, on its next writable. */
void ws_close(struct ws_conn *c, int status, const char *reason);
/* The value of ?name= of c's upgrade request into buf, or NULL. */
const char *ws_query(struct lws *wsi, const char *name, char *buf, size_t size);

/* Sets up ws_authorize's state (authz.c); ws_server_run calls it. */
int  ws_authz_init(const struct config *cfg, const struct crypto_keys *keys);
void ws_authz_free(void);

/* ----------------------------------------------------------- listener */

/* Server ids notified since the loop last looked ("all" after a reconnect). */
struct ws_wakeups {
	pthread_mutex_t mu;
	char            ids[WS_QUEUE][WS_ID_LEN + 1];
	int             n;
	bool            all;	/* notifications may have been missed: wake everyone */
};

/*
 * Ids of jobs that ended and that a held wait waits on (wait.c), since the
 * loop last looked: a queue of their own, so that jobs' ends never crowd
 * out agents' wake-ups nor make the loop wake every agent.
 */
struct ws_finished {
	char ids[WS_QUEUE][WS_ID_LEN + 1];
	int  n;
	bool all;	/* overflow or a reconnect: every held wait asks (one query) */
};

struct ws_event;

/* Rows read for the loop, in the order read (see stream.c). */
struct ws_feed {
	struct ws_event *head, *tail;
	size_t           n;
};

/* A request of the loop to the listener: a page of a stream's backlog. */
struct ws_fetch;

struct ws_listener {
	const struct config      *cfg;
	const struct crypto_keys *keys;
	struct lws_context       *ctx;
	struct ws_wakeups         q;
	struct ws_finished        fin;	/* under q.mu */
	struct ws_feed            feed;	/* under q.mu */
	struct ws_fetch          *fetches;	/* under q.mu: pages asked for */
	bool                      resync;	/* under q.mu: the listener reconnected */
	int                       wake_fd[2];	/* a fetch was queued (poll) */
	pthread_t                 thread;
	volatile int              stop;
	bool                      started;
};

/* Starts the LISTEN thread; it wakes ctx's loop for every notification. */
int  ws_listener_start(struct ws_listener *l, const struct config *cfg,
    const struct crypto_keys *keys, struct lws_context *ctx);
void ws_listener_stop(struct ws_listener *l);
/* Moves what is queued into out (the loop's copy); returns the count. */
int  ws_listener_take(struct ws_listener *l, char out[][WS_ID_LEN + 1], int max, bool *all);
/* The same for the ended jobs some wait waits on (l->fin). */
int  ws_listener_take_finished(struct ws_listener *l, char out[][WS_ID_LEN + 1], int max,
    bool *all);

/* The daemon: runs until *stop is set.  Returns a process exit code. */
int  ws_server_run(const struct config *cfg, const struct crypto_keys *keys,
    volatile int *stop);

#endif
