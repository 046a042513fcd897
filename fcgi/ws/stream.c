/*
 * stream.c - the streams of launcher-ws (API.md §22; see stream.h).
 *
 * A stream follows one or more sources (a deployment's lines and status,
 * an application's or a database's runtime logs, a server's metrics, a
 * user's notifications).
 * Each source starts with its backlog, read by the listener a page at a
 * time (ws_fetch: after the client's ?since= cursor, or the last ?tail=
 * rows), and goes live when a page comes back short: from then on, the
 * rows the listener read for a notification are fanned out to it.  Live
 * rows that arrive while a source still reads its backlog are skipped:
 * the listener reads pages and notifications in one thread, in order, so
 * a later page has them.  A row is queued only if its id is greater than
 * the last one queued: no duplicate, whatever the overlap of backlog and
 * live rows.
 *
 * Back-pressure: every connection has a ring of STREAM_RING rows (shared,
 * reference-counted: 200 clients of one app hold one copy of each line).
 * A live row for a full ring is not queued but counted, and the client
 * gets {"type":"dropped","count":n} before the next row it does get.  A
 * backlog page is asked for only when the ring has room for a whole page,
 * so a backlog is never dropped.  Memory per connection is bounded by the
 * ring, whatever the client reads.
 *
 * Messages (text frames): {"type":"log"|"metrics"|"traffic"|"notification","cursor":"<c>",
 * ...row}
 * where the cursor is the row's id (a single-resource stream) or the ids
 * of every resource of a /ws/logs stream joined with "." in the order of
 * ?resources=; ?since=<cursor> resumes after it.  A deployment's stream
 * ends with {"type":"status","status":...} and a close (1000) once the
 * deployment is over and every line has been sent.
 */
#include "stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "../core/log.h"
#include "../core/util.h"

#define STREAM_RING   512	/* rows queued per connection */
#define STREAM_PAGE   256	/* rows per backlog page (<= STREAM_RING) */
#define MAX_SOURCES   8		/* resources of one /ws/logs stream */
#define TAIL_DEFAULT  100	/* runtime logs: backlog without ?since= or ?tail= */
#define TAIL_MAX      1000
#define WRITES_PER_CB 32	/* messages per writable callback (while not choked) */

enum kind { K_DEPLOYMENT, K_APP, K_DB, K_METRICS, K_TRAFFIC, K_UNIFIED, K_NOTIFICATIONS };

struct source {
	char    topic;			/* TOPIC_DEPLOYMENT, _APP, _DB, _METRICS, _TRAFFIC */
	char    key[WS_ID_LEN + 1];	/* its resource */
	char    job[WS_ID_LEN + 1];	/* a deployment's job ("" until known) */
	char    label[16 + WS_ID_LEN];	/* /ws/logs: "app:<id>" */
	int64_t queued;			/* greatest id queued */
	int64_t sent;			/* greatest id sent: the cursor */
	int64_t tail;			/* first page: the last tail rows (-1: none) */
	int64_t admitted_ms;		/* when its stream was admitted (epoch ms) */
	bool    syncing;		/* reading its backlog */
	bool    asked;			/* a page is on its way */
	char    final[16];		/* a deployment's final status */
	bool    status_sent;
};

struct item {
	struct ws_event *e;
	int              source;
};

struct stream {
	struct stream  *next;
	struct ws_conn *c;
	enum kind       kind;
	int             nsrc;
	struct source   src[MAX_SOURCES];
	struct item    *ring;
	unsigned        head, n;
	uint64_t        dropped;
	bool            failed;
};

static struct stream      *streams;
static struct ws_listener *listener;

/* ----------------------------------------------------------- follow set */

/* What connections follow, for the listener (ws_followed); its own lock. */
struct follow {
	char topic;
	char key[WS_ID_LEN + 1];
	int  count;
};

static pthread_mutex_t follow_mu = PTHREAD_MUTEX_INITIALIZER;
static struct follow  *follows;
static size_t          nfollows, capfollows;

static void
follow(char topic, const char *key, int delta)
{
	if (key[0] == '\0')
		return;
	pthread_mutex_lock(&follow_mu);
	for (size_t i = 0; i < nfollows; i++)
		if (follows[i].topic == topic && strcmp(follows[i].key, key) == 0) {
			follows[i].count += delta;
			if (follows[i].count <= 0)
				follows[i] = follows[--nfollows];
			pthread_mutex_unlock(&follow_mu);
			return;
		}
	if (delta > 0) {
		if (nfollows == capfollows) {
			size_t         cap = capfollows ? capfollows * 2 : 64;
			struct follow *f = realloc(follows, cap * sizeof(*f));

			if (f == NULL) {
				pthread_mutex_unlock(&follow_mu);
				return;
			}
			follows = f;
			capfollows = cap;
		}
		follows[nfollows].topic = topic;
		util_snprintf(follows[nfollows].key, sizeof(follows[0].key), "%s", key);
		follows[nfollows].count = delta;
		nfollows++;
	}
	pthread_mutex_unlock(&follow_mu);
}

bool
ws_followed(struct ws_listener *l, char topic, const char *key)
{
	bool hit = false;

	(void)l;
	pthread_mutex_lock(&follow_mu);
	for (size_t i = 0; i < nfollows && !hit; i++)
		hit = follows[i].topic == topic && strcmp(follows[i].key, key) == 0;
	pthread_mutex_unlock(&follow_mu);
	return hit;
}

static void
follow_source(struct source *s, int delta)
{
	follow(s->topic, s->key, delta);
	if (s->topic == TOPIC_DEPLOYMENT)
		follow(TOPIC_JOB, s->job, delta);
}

/* --------------------------------------------------------------- events */

struct ws_event *
ws_event_new(char topic, const char *key, int64_t id, const char *body, size_t len)
{
	struct ws_event *e = malloc(sizeof(*e) + len + 1);

	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->refs = 1;
	e->topic = topic;
	util_snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
	e->id = id;
	e->len = len;
	if (len > 0)
		memcpy(e->body, body, len);
	e->body[len] = '\0';
	return e;
}

void
ws_event_unref(struct ws_event *e)
{
	if (e != NULL && --e->refs == 0)
		free(e);
}

/* ------------------------------------------------------------- queueing */

static void
ask(struct stream *st, int i)
{
	struct source   *s = &st->src[i];
	struct ws_fetch *f;

	if (!s->syncing || s->asked || STREAM_RING - st->n < STREAM_PAGE)
		return;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return;
	f->target = st->c->serial;
	f->source = i;
	f->topic = s->topic;
	memcpy(f->key, s->key, sizeof(f->key));
	memcpy(f->tenant_id, st->c->who.tenant_id, sizeof(f->tenant_id));
	f->after = s->queued;
	f->tail = s->tail;
	f->admitted_ms = s->admitted_ms;
	f->limit = STREAM_PAGE;
	s->tail = 0;
	s->asked = true;
	ws_fetch_queue(listener, f);
}

static void
ask_all(struct stream *st)
{
	for (int i = 0; i < st->nsrc; i++)
		ask(st, i);
}

static void
enqueue(struct stream *st, int i, struct ws_event *e)
{
	struct source *s = &st->src[i];

	if (e->id <= s->queued)
		return;		/* sent already (backlog and live overlap) */
	if (st->n == STREAM_RING) {
		st->dropped++;
		s->queued = e->id;	/* a later row must not fill the gap out of order */
		ws_want_write(st->c);
		return;
	}
	st->ring[(st->head + st->n) % STREAM_RING] = (struct item){e, i};
	st->n++;
	e->refs++;
	s->queued = e->id;
	ws_want_write(st->c);
}

/* A deployment's {"status","job_id"}: follows its job, notes a final status. */
static void
deployment_state(struct source *s, const char *body)
{
	cJSON       *j = cJSON_Parse(body);
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(j, "job_id");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");

	if (cJSON_IsString(job) && strcmp(job->valuestring, s->job) != 0) {
		follow(TOPIC_JOB, s->job, -1);
		util_snprintf(s->job, sizeof(s->job), "%s", job->valuestring);
		follow(TOPIC_JOB, s->job, 1);
	}
	if (cJSON_IsString(status) && s->final[0] == '\0' &&
	    (strcmp(status->valuestring, "succeeded") == 0 || strcmp(status->valuestring, "failed") == 0 ||
	    strcmp(status->valuestring, "cancelled") == 0 ||
	    strcmp(status->valuestring, "superseded") == 0))
		util_snprintf(s->final, sizeof(s->final), "%s", status->valuestring);
	cJSON_Delete(j);
}

/* A live row: to every source that follows it and is live. */
static void
fan_out(struct ws_event *e)
{
	for (struct stream *st = streams; st != NULL; st = st->next)
		for (int i = 0; i < st->nsrc; i++) {
			struct source *s = &st->src[i];

			if (s->syncing)
				continue;
			if (e->topic == TOPIC_JOB) {
				if (s->topic == TOPIC_DEPLOYMENT && strcmp(s->job, e->key) == 0)
					enqueue(st, i, e);
			} else if (e->topic == s->topic && strcmp(s->key, e->key) == 0) {
				if (e->topic == TOPIC_DEPLOYMENT) {
					deployment_state(s, e->body);
					ws_want_write(st->c);
				} else
					enqueue(st, i, e);
			}
		}
}

static struct stream *
by_serial(uint64_t serial)
{
	for (struct stream *st = streams; st != NULL; st = st->next)
		if (st->c->serial == serial)
			return st;
	return NULL;
}

/* A row (or the end) of a page this connection asked for. */
static void
backlog(struct ws_event *e)
{
	struct stream *st = by_serial(e->target);
	struct source *s;

	if (st == NULL || e->source < 0 || e->source >= st->nsrc)
		return;		/* gone meanwhile */
	s = &st->src[e->source];
	if (!e->end) {
		enqueue(st, e->source, e);
		return;
	}
	s->asked = false;
	if (e->id < 0) {
		st->failed = true;	/* the read failed: the client reconnects */
		ws_close(st->c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "stream unavailable");
		return;
	}
	if (e->id > s->queued) {	/* ?tail= started later: the cursor is there */
		s->queued = e->id;
		if (e->id > s->sent)
			s->sent = e->id;
	}
	if (s->topic == TOPIC_DEPLOYMENT && e->len > 0)
		deployment_state(s, e->body);
	if (!e->more)
		s->syncing = false;
	else
		ask(st, e->source);
	ws_want_write(st->c);
}

void
stream_deliver(struct ws_listener *l)
{
	struct ws_event *e, *next;

	listener = l;
	pthread_mutex_lock(&l->q.mu);
	e = l->feed.head;
	l->feed.head = l->feed.tail = NULL;
	l->feed.n = 0;
	pthread_mutex_unlock(&l->q.mu);
	for (; e != NULL; e = next) {
		next = e->next;
		e->next = NULL;
		if (e->topic == TOPIC_RESYNC) {
			/* Notifications were lost: every source reads on from its cursor. */
			for (struct stream *st = streams; st != NULL; st = st->next) {
				for (int i = 0; i < st->nsrc; i++)
					st->src[i].syncing = true;
				ask_all(st);
			}
		} else if (e->target != 0)
			backlog(e);
		else
			fan_out(e);
		ws_event_unref(e);
	}
}

void
stream_free(struct ws_listener *l)
{
	struct ws_event *e = l->feed.head, *next;

	for (; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	l->feed.head = l->feed.tail = NULL;
	pthread_mutex_lock(&follow_mu);
	free(follows);
	follows = NULL;
	nfollows = capfollows = 0;
	pthread_mutex_unlock(&follow_mu);
}

/* -------------------------------------------------------------- writing */

static int
send_text(struct ws_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
send_text(struct ws_conn *c, const char *fmt, ...)
{
	unsigned char buf[LWS_PRE + 256];
	va_list       ap;
	int           n;

	va_start(ap, fmt);
	n = vsnprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
		return -1;
	return ws_send(c, buf + LWS_PRE, (size_t)n, false);
}

/* The cursor of a message of source i at id. */
static void
cursor(const struct stream *st, int i, int64_t id, char *out, size_t size)
{
	size_t n = 0;

	if (st->kind != K_UNIFIED) {
		util_snprintf(out, size, "%lld", (long long)id);
		return;
	}
	out[0] = '\0';
	for (int k = 0; k < st->nsrc && n < size; k++) {
		int w = snprintf(out + n, size - n, "%s%lld", k ? "." : "",
		    (long long)(k == i ? id : st->src[k].sent));

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static int
send_row(struct stream *st, const struct item *it)
{
	const struct ws_event *e = it->e;
	struct source         *s = &st->src[it->source];
	char                   cur[MAX_SOURCES * 21 + 1], label[64] = "";
	unsigned char         *buf;
	size_t                 room;
	int                    n, rc;

	cursor(st, it->source, e->id, cur, sizeof(cur));
	if (st->kind == K_UNIFIED)
		util_snprintf(label, sizeof(label), ",\"resource\":\"%s\"", s->label);
	room = LWS_PRE + 64 + strlen(cur) + strlen(label) + e->len;
	if ((buf = malloc(room)) == NULL)
		return -1;
	n = snprintf((char *)buf + LWS_PRE, room - LWS_PRE, "{\"type\":\"%s\",\"cursor\":\"%s\"%s%s%s",
	    e->topic == TOPIC_METRICS ? "metrics" : e->topic == TOPIC_TRAFFIC ? "traffic" :
	    e->topic == TOPIC_NOTIFICATION ? "notification" : "log", cur, label,
	    e->len > 2 ? "," : "}", e->len > 2 ? e->body + 1 : "");
	rc = n < 0 || (size_t)n >= room - LWS_PRE ? -1 : ws_send(st->c, buf + LWS_PRE, (size_t)n, false);
	free(buf);
	if (rc == 0)
		s->sent = e->id;
	return rc;
}

/* Whether a deployment of st is over, every line sent, and not said yet. */
static bool
status_due(const struct stream *st)
{
	for (int i = 0; i < st->nsrc; i++) {
		const struct source *s = &st->src[i];

		if (s->topic == TOPIC_DEPLOYMENT && s->final[0] != '\0' && !s->syncing &&
		    !s->status_sent)
			return true;
	}
	return false;
}

static int
writable(struct ws_conn *c)
{
	struct stream *st = c->data;

	if (st == NULL)
		return 0;
	for (int k = 0; k < WRITES_PER_CB && !lws_send_pipe_choked(c->wsi); k++) {
		if (st->dropped > 0) {
			if (send_text(c, "{\"type\":\"dropped\",\"count\":%llu}",
			    (unsigned long long)st->dropped) != 0)
				return -1;
			st->dropped = 0;
			continue;
		}
		if (st->n > 0) {
			struct item it = st->ring[st->head];

			st->head = (st->head + 1) % STREAM_RING;
			st->n--;
			if (send_row(st, &it) != 0) {
				ws_event_unref(it.e);
				return -1;
			}
			ws_event_unref(it.e);
			continue;
		}
		/* Nothing queued: a deployment that is over says so, once. */
		for (int i = 0; i < st->nsrc; i++) {
			struct source *s = &st->src[i];

			if (s->topic != TOPIC_DEPLOYMENT || s->final[0] == '\0' || s->syncing ||
			    s->status_sent)
				continue;
			s->status_sent = true;
			if (st->kind == K_UNIFIED) {
				if (send_text(c, "{\"type\":\"status\",\"resource\":\"%s\",\"status\":\"%s\"}",
				    s->label, s->final) != 0)
					return -1;
			} else {
				if (send_text(c, "{\"type\":\"status\",\"status\":\"%s\"}", s->final) != 0)
					return -1;
				ws_close(c, LWS_CLOSE_STATUS_NORMAL, s->final);
				return 0;
			}
		}
		break;
	}
	ask_all(st);
	/* Left for a later call (the pipe choked): the rows, the dropped
	 * marker, and a status still to say once the last row went out. */
	if (st->n > 0 || st->dropped > 0 || status_due(st))
		ws_want_write(c);
	return 0;
}

/* ------------------------------------------------------------ admission */

static int
bad_query(struct lws *wsi, const char *field, const char *why)
{
	char body[512];
	int  n = util_snprintf(body, sizeof(body),
	    "{\"success\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"invalid query parameter\","
	    "\"details\":[{\"field\":\"%s\",\"message\":\"%s\"}]}}", field, why);

	return n < 0 ? -1 : ws_answer_raw(wsi, HTTP_STATUS_BAD_REQUEST, body, (size_t)n);
}

static int
parse_cursor(const char *s, int64_t *out)
{
	return util_parse_i64(s, 0, INT64_MAX, out);
}

static struct stream *
stream_new(struct ws_conn *c, enum kind kind)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	if ((st->ring = calloc(STREAM_RING, sizeof(*st->ring))) == NULL) {
		free(st);
		return NULL;
	}
	st->c = c;
	st->kind = kind;
	c->data = st;
	return st;
}

static void
source_init(struct source *s, char topic, const char *key, const char *label)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	s->admitted_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	s->topic = topic;
	util_snprintf(s->key, sizeof(s->key), "%s", key);
	util_snprintf(s->label, sizeof(s->label), "%s", label ? label : "");
	s->syncing = true;
}

/* ?since= and ?tail= of a one-resource stream: key's rows of topic. */
static int
admit_key(struct lws *wsi, struct ws_conn *c, enum kind kind, char topic, const char *key,
    int64_t tail_default)
{
	struct stream *st;
	char           q[64];
	int64_t        since = 0, tail = tail_default;
	bool           has_since = ws_query(wsi, "since", q, sizeof(q)) != NULL;

	if (has_since && parse_cursor(q, &since) != 0)
		return bad_query(wsi, "since", "must be a cursor of this stream (a non-negative integer)");
	if (ws_query(wsi, "tail", q, sizeof(q)) != NULL &&
	    util_parse_i64(q, 0, TAIL_MAX, &tail) != 0)
		return bad_query(wsi, "tail", "must be an integer from 0 to 1000");
	if ((st = stream_new(c, kind)) == NULL)
		return -1;
	st->nsrc = 1;
	source_init(&st->src[0], topic, key, NULL);
	st->src[0].queued = st->src[0].sent = since;
	/* Without ?since=: the last tail rows (a deployment: every line). */
	if (!has_since && topic != TOPIC_DEPLOYMENT)
		st->src[0].tail = tail > 0 ? tail : 0;
	if (!has_since && topic != TOPIC_DEPLOYMENT && tail == 0)
		st->src[0].tail = -1;	/* none: start after the last row */
	return 0;
}

/* A stream of the route's :id resource. */
static int
admit_one(struct lws *wsi, struct ws_conn *c, enum kind kind, char topic, int64_t tail_default)
{
	return admit_key(wsi, c, kind, topic, c->param, tail_default);
}

static int
admit_deployment(struct lws *wsi, struct ws_conn *c)
{
	return admit_one(wsi, c, K_DEPLOYMENT, TOPIC_DEPLOYMENT, 0);
}

static int
admit_app(struct lws *wsi, struct ws_conn *c)
{
	return admit_one(wsi, c, K_APP, TOPIC_APP, TAIL_DEFAULT);
}

static int
admit_db(struct lws *wsi, struct ws_conn *c)
{
	return admit_one(wsi, c, K_DB, TOPIC_DB, TAIL_DEFAULT);
}

static int
admit_metrics(struct lws *wsi, struct ws_conn *c)
{
	return admit_one(wsi, c, K_METRICS, TOPIC_METRICS, 1);
}

/* Traffic points: the last one first (as metrics), then each as it comes. */
static int
admit_traffic(struct lws *wsi, struct ws_conn *c)
{
	return admit_one(wsi, c, K_TRAFFIC, TOPIC_TRAFFIC, 1);
}

/* The caller's own notifications: without ?since=, those made from now on. */
static int
admit_notifications(struct lws *wsi, struct ws_conn *c)
{
	return admit_key(wsi, c, K_NOTIFICATIONS, TOPIC_NOTIFICATION, c->who.user_id, 0);
}

/*
 * /ws/logs?resources=app:<id>,db:<id>,deployment:<id>: each resource is
 * admitted as its own stream is (ws_authorize, the REST equivalent of
 * each); the first refusal answers.
 */
static int
admit_unified(struct lws *wsi, struct ws_conn *c)
{
	static const struct {
		const char *prefix;
		char        topic;
		const char *rest, *rest_end;
	} kinds[] = {
		{"app:", TOPIC_APP, "GET /applications/", "/runtime-logs"},
		{"db:", TOPIC_DB, "GET /databases/", "/logs"},
		{"deployment:", TOPIC_DEPLOYMENT, "GET /deployments/", "/logs"},
	};
	char           list[MAX_SOURCES * 50 + 64], q[MAX_SOURCES * 21 + 64], rest[128];
	char          *save = NULL, *tok;
	struct stream *st;
	int64_t        cursors[MAX_SOURCES], tail = TAIL_DEFAULT;
	int            ncur = 0, rc;
	bool           has_since;

	if (ws_query(wsi, "resources", list, sizeof(list)) == NULL || list[0] == '\0')
		return bad_query(wsi, "resources", "required: app:<id>,db:<id>,deployment:<id>");
	if ((has_since = ws_query(wsi, "since", q, sizeof(q)) != NULL)) {
		for (tok = strtok_r(q, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save))
			if (ncur == MAX_SOURCES || parse_cursor(tok, &cursors[ncur++]) != 0)
				return bad_query(wsi, "since", "must be a cursor of this stream");
	}
	if (ws_query(wsi, "tail", q, sizeof(q)) != NULL && util_parse_i64(q, 0, TAIL_MAX, &tail) != 0)
		return bad_query(wsi, "tail", "must be an integer from 0 to 1000");
	if ((st = stream_new(c, K_UNIFIED)) == NULL)
		return -1;
	save = NULL;
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t k, pl = 0;

		for (k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
			if (strncmp(tok, kinds[k].prefix, (pl = strlen(kinds[k].prefix))) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(*kinds) || !util_is_uuid(tok + pl))
			return bad_query(wsi, "resources",
			    "each resource is app:<id>, db:<id> or deployment:<id>");
		if (st->nsrc == MAX_SOURCES)
			return bad_query(wsi, "resources", "at most 8 resources");
		util_snprintf(rest, sizeof(rest), "%s%s%s", kinds[k].rest, tok + pl, kinds[k].rest_end);
		if ((rc = ws_authorize(wsi, c->tenant, rest, st->nsrc == 0 ? &c->who : NULL)) != 0)
			return rc;
		source_init(&st->src[st->nsrc], kinds[k].topic, tok + pl, tok);
		st->nsrc++;
	}
	if (has_since && ncur != st->nsrc)
		return bad_query(wsi, "since", "must be a cursor of this stream (one id per resource)");
	for (int i = 0; i < st->nsrc; i++) {
		struct source *s = &st->src[i];

		if (has_since)
			s->queued = s->sent = cursors[i];
		else if (s->topic != TOPIC_DEPLOYMENT)
			s->tail = tail > 0 ? tail : -1;
	}
	return 0;
}

/* ------------------------------------------------------------- lifetime */

static void
open_stream(struct ws_conn *c)
{
	struct stream *st = c->data;

	if (st == NULL)
		return;
	st->next = streams;
	streams = st;
	for (int i = 0; i < st->nsrc; i++)
		follow_source(&st->src[i], 1);
	ask_all(st);
}

static void
close_stream(struct ws_conn *c)
{
	struct stream *st = c->data;

	if (st == NULL)
		return;
	if (c->open) {
		for (struct stream **pp = &streams; *pp != NULL; pp = &(*pp)->next)
			if (*pp == st) {
				*pp = st->next;
				break;
			}
		for (int i = 0; i < st->nsrc; i++)
			follow_source(&st->src[i], -1);
	}
	for (; st->n > 0; st->n--) {
		ws_event_unref(st->ring[st->head].e);
		st->head = (st->head + 1) % STREAM_RING;
	}
	free(st->ring);
	free(st);
	c->data = NULL;
}

#define STREAM_HANDLER(admit_fn) {.admit = (admit_fn), .open = open_stream, \
	.writable = writable, .close = close_stream}

const struct ws_handler stream_deployment_logs = STREAM_HANDLER(admit_deployment);
const struct ws_handler stream_app_logs = STREAM_HANDLER(admit_app);
const struct ws_handler stream_db_logs = STREAM_HANDLER(admit_db);
const struct ws_handler stream_server_metrics = STREAM_HANDLER(admit_metrics);
const struct ws_handler stream_app_traffic = STREAM_HANDLER(admit_traffic);
const struct ws_handler stream_unified = STREAM_HANDLER(admit_unified);
const struct ws_handler stream_notifications = STREAM_HANDLER(admit_notifications);
