/*
 * test_ws_stream.c - the writing side of launcher-ws's streams
 * (fcgi/ws/stream.c) against a scripted socket: the loop's ws_* calls and
 * libwebsockets' lws_send_pipe_choked are replaced here, so a test decides
 * when the pipe chokes.  The listener is not run: pages are handed to
 * stream_deliver as the listener would queue them.  Linked with
 * stream.o alone (Makefile); the stream is driven through its handler,
 * as server.c drives it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "core/util.h"
#include "ws/stream.h"

#include "unit.h"

/* ------------------------------------------------------ scripted socket */

static char   sent[1024][256];
static int    nsent;
static int    choke_after = -1;	/* the pipe chokes once, after this many sends */
static bool   choked;
static bool   want_write;
static int    closed_status;
static struct ws_fetch *asked;

int
lws_send_pipe_choked(struct lws *wsi)
{
	(void)wsi;
	return choked;
}

int
ws_send(struct ws_conn *c, unsigned char *msg, size_t len, bool binary)
{
	(void)c;
	(void)binary;
	if (nsent < 1024)
		util_snprintf(sent[nsent], sizeof(sent[0]), "%.*s", (int)len, (const char *)msg);
	nsent++;
	if (nsent == choke_after)
		choked = true;
	return 0;
}

void
ws_want_write(struct ws_conn *c)
{
	(void)c;
	want_write = true;
}

void
ws_close(struct ws_conn *c, int status, const char *reason)
{
	(void)c;
	(void)reason;
	closed_status = status;
}

void
ws_fetch_queue(struct ws_listener *l, struct ws_fetch *f)
{
	(void)l;
	f->next = asked;
	asked = f;
}

const char *
ws_query(struct lws *wsi, const char *name, char *buf, size_t size)
{
	(void)wsi;
	(void)name;
	(void)buf;
	(void)size;
	return NULL;
}

int
ws_answer_raw(struct lws *wsi, unsigned status, const char *body, size_t len)
{
	(void)wsi;
	(void)status;
	(void)body;
	(void)len;
	return 1;
}

int
ws_authorize(struct lws *wsi, const char *tenant, const char *rest, struct ws_principal *out)
{
	(void)wsi;
	(void)tenant;
	(void)rest;
	(void)out;
	return 0;
}

/* ------------------------------------------------------------- helpers */

#define DEP "11111111-1111-4111-8111-111111111111"
#define JOB "22222222-2222-4222-8222-222222222222"

static struct ws_listener lst;

static void
push(struct ws_event *e)
{
	if (lst.feed.tail != NULL)
		lst.feed.tail->next = e;
	else
		lst.feed.head = e;
	lst.feed.tail = e;
	lst.feed.n++;
}

/* The listener's answer to the page asked for: rows ids first..last, then
 * the page's end with the deployment's final status. */
static void
answer_page(struct ws_conn *c, int first, int last)
{
	struct ws_fetch *f = asked;

	asked = NULL;
	for (int id = first; id <= last; id++) {
		char             body[64];
		int              n = util_snprintf(body, sizeof(body), "{\"message\":\"line %d\"}", id);
		struct ws_event *e = ws_event_new(TOPIC_JOB, JOB, id, body, (size_t)n);

		e->target = c->serial;
		push(e);
	}
	{
		const char      *st = "{\"status\":\"succeeded\",\"job_id\":\"" JOB "\"}";
		struct ws_event *e = ws_event_new(TOPIC_DEPLOYMENT, DEP, 0, st, strlen(st));

		e->target = c->serial;
		e->end = true;
		e->more = false;
		push(e);
	}
	free(f);
	stream_deliver(&lst);
}

/* The loop: a writable callback whenever one was asked for, the pipe
 * draining between two callbacks; at most max callbacks. */
static void
drive(const struct ws_handler *h, struct ws_conn *c, int max)
{
	for (int k = 0; k < max && want_write && closed_status == 0; k++) {
		want_write = false;
		choked = false;
		(void)h->writable(c);
	}
}

static void
reset(void)
{
	nsent = 0;
	choke_after = -1;
	choked = want_write = false;
	closed_status = 0;
}

/* A finished deployment's stream: its 40 lines, its status, its close. */
static void
finished_deployment(int choke_at)
{
	const struct ws_handler *h = &stream_deployment_logs;
	struct ws_conn           c = {.serial = 7, .open = true};
	char                     name[96];

	reset();
	choke_after = choke_at;
	util_snprintf(c.param, sizeof(c.param), "%s", DEP);
	CHECK(h->admit(NULL, &c) == 0, "admitted");
	h->open(&c);
	CHECK(asked != NULL && asked->target == 7 && asked->after == 0, "the backlog's first page is asked for");
	if (asked == NULL) {
		h->close(&c);
		return;
	}
	answer_page(&c, 1, 40);
	CHECK(want_write && nsent == 0, "the page is queued and a write asked for");
	drive(h, &c, 100);
	util_snprintf(name, sizeof(name), "choked after send %d: every line, then the status", choke_at);
	CHECK(nsent == 41 && strstr(sent[39], "\"line 40\"") != NULL &&
	    strcmp(sent[40], "{\"type\":\"status\",\"status\":\"succeeded\"}") == 0, name);
	util_snprintf(name, sizeof(name), "choked after send %d: closed normally", choke_at);
	CHECK(closed_status == LWS_CLOSE_STATUS_NORMAL, name);
	h->close(&c);
}

int
main(void)
{
	pthread_mutex_init(&lst.q.mu, NULL);
	/* A pipe that never chokes, one that chokes mid-way, and one that
	 * chokes right after the last line: the status must still follow. */
	finished_deployment(-1);
	finished_deployment(10);
	finished_deployment(40);
	while (asked != NULL) {
		struct ws_fetch *f = asked;

		asked = f->next;
		free(f);
	}
	return unit_done("ws-stream");
}
