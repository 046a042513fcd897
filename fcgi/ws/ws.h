/*
 * ws.h - launcher-ws, the event-driven WebSocket daemon behind nginx's
 * /<tenant>/ws/ location (ARCHITECTURE.md, Processes).
 *
 * One libwebsockets event loop serves every socket.  PostgreSQL
 * notifications arrive on a second thread (listener.c), which queues them
 * and wakes the loop with lws_cancel_service(); the loop alone touches
 * sessions.
 *
 * Endpoints so far:
 *   /<tenant>/ws/agent   an agent's wake channel: authenticated by its
 *                        x-lnchr-agent-token header; the daemon sends the
 *                        text frame "wake" when a job of that server is
 *                        queued or cancelled (sql/008_agent_wake.sql).
 *                        The agent polls as well: a lost frame or a daemon
 *                        that is down only costs it a poll interval.
 */
#ifndef LAUNCHER_WS_H
#define LAUNCHER_WS_H

#include <pthread.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "../core/config.h"
#include "../core/crypto.h"

#define WS_ID_LEN   36		/* a UUID in text form */
#define WS_QUEUE    256		/* queued wake-ups between two loop passes */

struct lws_context;

/* Server ids notified since the loop last looked ("all" after a reconnect). */
struct ws_wakeups {
	pthread_mutex_t mu;
	char            ids[WS_QUEUE][WS_ID_LEN + 1];
	int             n;
	bool            all;	/* notifications may have been missed: wake everyone */
};

struct ws_listener {
	const struct config *cfg;
	struct lws_context  *ctx;
	struct ws_wakeups    q;
	pthread_t            thread;
	volatile int         stop;
	bool                 started;
};

/* Starts the LISTEN thread; it wakes ctx's loop for every notification. */
int  ws_listener_start(struct ws_listener *l, const struct config *cfg, struct lws_context *ctx);
void ws_listener_stop(struct ws_listener *l);
/* Moves what is queued into out (the loop's copy); returns the count. */
int  ws_listener_take(struct ws_listener *l, char out[][WS_ID_LEN + 1], int max, bool *all);

/* The daemon: runs until *stop is set.  Returns a process exit code. */
int  ws_server_run(const struct config *cfg, const struct crypto_keys *keys,
    volatile int *stop);

#endif
