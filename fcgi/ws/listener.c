/*
 * listener.c - the LISTEN thread of launcher-ws (see ws.h).
 *
 * Holds its own PostgreSQL connection (the API role), LISTENs on
 * launcher_agent_wake, and hands each notification's payload (a server id)
 * to the event loop.  After every (re)connection it asks the loop to wake
 * every agent once: notifications sent while it was away are lost, and a
 * spurious wake-up only costs an agent one claim.
 */
#include <poll.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "../core/db_conn.h"
#include "../core/log.h"
#include "../core/util.h"
#include "ws.h"

#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 10000

static void
push(struct ws_listener *l, const char *id, bool all)
{
	pthread_mutex_lock(&l->q.mu);
	if (all || l->q.n == WS_QUEUE)
		l->q.all = true;	/* overflow: waking everyone is always safe */
	else if (util_is_uuid(id)) {
		bool dup = false;

		for (int i = 0; i < l->q.n && !dup; i++)
			dup = strcmp(l->q.ids[i], id) == 0;
		if (!dup)
			util_snprintf(l->q.ids[l->q.n++], sizeof(l->q.ids[0]), "%s", id);
	}
	pthread_mutex_unlock(&l->q.mu);
	lws_cancel_service(l->ctx);
}

int
ws_listener_take(struct ws_listener *l, char out[][WS_ID_LEN + 1], int max, bool *all)
{
	int n;

	pthread_mutex_lock(&l->q.mu);
	n = l->q.n < max ? l->q.n : max;
	for (int i = 0; i < n; i++)
		memcpy(out[i], l->q.ids[i], sizeof(out[i]));
	*all = l->q.all || l->q.n > max;
	l->q.n = 0;
	l->q.all = false;
	pthread_mutex_unlock(&l->q.mu);
	return n;
}

static void
nap(struct ws_listener *l, int ms)
{
	for (int i = 0; i < ms / 50 && !l->stop; i++) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
}

/* Serves one connection until it breaks or we stop. */
static void
serve(struct ws_listener *l, struct db_conn *dc)
{
	PGconn *c = dc->pg;

	if (db_conn_simple(dc, "LISTEN launcher_agent_wake") != ERR_OK) {
		log_error("launcher-ws: LISTEN failed: %s", db_conn_error(dc));
		return;
	}
	log_info("launcher-ws: listening for job notifications");
	push(l, NULL, true);
	while (!l->stop) {
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		PGnotify     *n;

		if (poll(&pfd, 1, 500) < 0)
			continue;
		if (PQconsumeInput(c) != 1 || PQstatus(c) != CONNECTION_OK) {
			log_warn("launcher-ws: database connection lost: %s", PQerrorMessage(c));
			return;
		}
		while ((n = PQnotifies(c)) != NULL) {
			push(l, n->extra, false);
			PQfreemem(n);
		}
	}
}

static void *
run(void *arg)
{
	struct ws_listener *l = arg;
	int                 backoff = RECONNECT_MIN_MS;
	struct db_conn      c = {0};

	while (!l->stop) {
		if (db_conn_open(&c, l->cfg->database_url, NULL) == ERR_OK) {
			backoff = RECONNECT_MIN_MS;
			serve(l, &c);
		} else
			log_warn("launcher-ws: database unavailable; retrying in %d ms", backoff);
		db_conn_close(&c);
		nap(l, backoff);
		backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
	}
	return NULL;
}

int
ws_listener_start(struct ws_listener *l, const struct config *cfg,
    const struct crypto_keys *keys, struct lws_context *ctx)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->keys = keys;
	l->ctx = ctx;
	if (pthread_mutex_init(&l->q.mu, NULL) != 0)
		return -1;
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		pthread_mutex_destroy(&l->q.mu);
		return -1;
	}
	l->started = true;
	return 0;
}

void
ws_listener_stop(struct ws_listener *l)
{
	if (!l->started)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->q.mu);
	l->started = false;
}
