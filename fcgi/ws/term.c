/*
 * term.c - launcher-ws's terminal relay (see term.h).  Runs on the loop
 * only; the few queries (admission, attach, end, seen) are short and once
 * per socket or per minute, on the loop's connection (ws_db).
 */
#include "term.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "../core/db_conn.h"
#include "../core/log.h"
#include "../core/util.h"

/* One queued message, LWS_PRE bytes of room before it (ws_send). */
struct msg {
	struct msg   *next;
	size_t        len;
	bool          binary;
	unsigned char buf[];
};

struct queue {
	struct msg *head, *tail;
	size_t      bytes;
};

/* A session's two sockets; either may be missing (not yet, or gone). */
struct pair {
	struct pair    *next;
	char            id[WS_ID_LEN + 1];
	char            tenant_id[WS_ID_LEN + 1];
	struct ws_conn *client, *agent;
	bool            had_client, had_agent;
	struct queue    to_client, to_agent;
	unsigned char   text[2][TERM_TEXT_MAX];	/* a text message being assembled, per side */
	size_t          text_len[2];
	bool            text_over[2];
	bool            paused[2];	/* that side is not read (the other's queue is full) */
	int             exit_code;
	bool            have_exit;
	bool            ended;	/* recorded (ws_terminal_end) */
	time_t          deadline;	/* an end alone past this is closed */
	time_t          seen;	/* when seen_at was last refreshed */
};

enum { CLIENT, AGENT };

static struct {
	struct pair            *pairs;
	struct lws_context     *ctx;
	lws_sorted_usec_list_t  sul;
	bool                    ticking;
} term;

/* ------------------------------------------------------------------ SQL */

DB_STMT st_term_session = {"ws_term_session",
    "SELECT tenant_id, target, target_id, created_by, state"
    " FROM launcher.ws_terminal_session($1, $2::uuid)"};
DB_STMT st_term_attach = {"ws_term_attach",
    "SELECT launcher.ws_terminal_attach($1::uuid, $2::uuid, $3, $4::uuid, $5::uuid, $6)"};
DB_STMT st_term_agent = {"ws_term_agent",
    "SELECT launcher.ws_terminal_agent($1::uuid, $2::uuid, $3::uuid)"};
DB_STMT st_term_seen = {"ws_term_seen",
    "SELECT launcher.ws_terminal_seen($1::uuid, $2::uuid)"};
DB_STMT st_term_end = {"ws_term_end",
    "SELECT launcher.ws_terminal_end($1::uuid, $2::uuid, $3::int)"};

/* A boolean function's answer: 1 true, 0 false, -1 unavailable. */
static int
sql_bool(const struct db_stmt *st, int n, const char *const *params)
{
	PGresult *res;
	int       v;

	if (ws_sql(st, n, params, &res) != 0)
		return -1;
	v = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return v;
}

/* --------------------------------------------------------------- queues */

static void
queue_free(struct queue *q)
{
	while (q->head != NULL) {
		struct msg *m = q->head;

		q->head = m->next;
		free(m);
	}
	q->tail = NULL;
	q->bytes = 0;
}

static int
queue_put(struct queue *q, const void *p, size_t len, bool binary)
{
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (m == NULL)
		return -1;
	m->next = NULL;
	m->len = len;
	m->binary = binary;
	memcpy(m->buf + LWS_PRE, p, len);
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += len;
	return 0;
}

/* ---------------------------------------------------------------- pairs */

static struct pair *
pair_find(const char *id)
{
	for (struct pair *p = term.pairs; p != NULL; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

static void tick(lws_sorted_usec_list_t *sul);

static struct pair *
pair_get(struct lws *wsi, const char *id, const char *tenant_id)
{
	struct pair *p = pair_find(id);

	if (p != NULL)
		return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	util_snprintf(p->id, sizeof(p->id), "%s", id);
	util_snprintf(p->tenant_id, sizeof(p->tenant_id), "%s", tenant_id);
	p->deadline = time(NULL) + TERM_PAIR_WAIT_S;
	p->seen = time(NULL);
	p->next = term.pairs;
	term.pairs = p;
	if (!term.ticking) {
		term.ctx = lws_get_context(wsi);
		term.ticking = true;
		lws_sul_schedule(term.ctx, 0, &term.sul, tick, 5 * LWS_US_PER_SEC);
	}
	return p;
}

static void
pair_free(struct pair *p)
{
	for (struct pair **pp = &term.pairs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	queue_free(&p->to_client);
	queue_free(&p->to_agent);
	free(p);
}

/* Records the end once: ended_at, exit code, duration, terminal.end. */
static void
pair_end(struct pair *p)
{
	char        code[16];
	const char *params[3] = {p->tenant_id, p->id, NULL};
	PGresult   *res;

	if (p->ended)
		return;
	p->ended = true;
	if (p->have_exit) {
		util_snprintf(code, sizeof(code), "%d", p->exit_code);
		params[2] = code;
	}
	log_info("launcher-ws: terminal session %s ended (%s)", p->id, params[2] ? params[2] :
	    "no exit status");
	if (ws_sql(&st_term_end, 3, params, &res) == 0)
		PQclear(res);
	else
		log_warn("launcher-ws: terminal session %s: its end was not recorded", p->id);
}

static struct ws_conn *
side(struct pair *p, int s)
{
	return s == CLIENT ? p->client : p->agent;
}

/* What is queued for side s. */
static struct queue *
inbox(struct pair *p, int s)
{
	return s == CLIENT ? &p->to_client : &p->to_agent;
}

/*
 * The session is over for side s (its peer left or never came): closed
 * once what is queued for it has gone (writable does it).
 */
static void
finish(struct pair *p, int s)
{
	struct ws_conn *c = side(p, s);

	if (c == NULL)
		return;
	if (p->paused[s]) {
		p->paused[s] = false;
		lws_rx_flow_control(c->wsi, 1);
	}
	if (c->open)
		ws_want_write(c);
}

/* Every few seconds: ends alone past their deadline; seen_at of open ones. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	time_t now = time(NULL);

	(void)sul;
	for (struct pair *p = term.pairs; p != NULL; p = p->next) {
		bool alone = (p->client == NULL) != (p->agent == NULL) &&
		    !(p->had_client && p->had_agent);

		if (alone && now > p->deadline) {
			struct ws_conn *c = p->client != NULL ? p->client : p->agent;

			pair_end(p);
			ws_close(c, 1011, "the other side of the session never came");
		} else if (!p->ended && p->client != NULL && now - p->seen >= TERM_SEEN_S) {
			const char *params[2] = {p->tenant_id, p->id};
			PGresult   *res;

			p->seen = now;
			if (ws_sql(&st_term_seen, 2, params, &res) == 0)
				PQclear(res);
		}
	}
	term.ticking = term.pairs != NULL;
	if (term.ticking)
		lws_sul_schedule(term.ctx, 0, &term.sul, tick, 5 * LWS_US_PER_SEC);
}

/* ------------------------------------------------------------ admission */

static int
refuse(struct lws *wsi, unsigned status, const char *code, const char *message)
{
	return ws_answer(wsi, status, code, message);
}

static int
client_admit(struct lws *wsi, struct ws_conn *c)
{
	const char *params[6] = {c->tenant, c->param};
	char        rest[128], ip[64] = "", target[16], target_id[WS_ID_LEN + 1];
	char        creator[WS_ID_LEN + 1], state[16], tenant_id[WS_ID_LEN + 1];
	PGresult   *res;
	struct pair *p;
	int         rc;

	if (ws_sql(&st_term_session, 2, params, &res) != 0)
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
		    "service temporarily unavailable");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return refuse(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "terminal session not found");
	}
	util_snprintf(tenant_id, sizeof(tenant_id), "%s", PQgetvalue(res, 0, 0));
	util_snprintf(target, sizeof(target), "%s", PQgetvalue(res, 0, 1));
	util_snprintf(target_id, sizeof(target_id), "%s", PQgetvalue(res, 0, 2));
	util_snprintf(creator, sizeof(creator), "%s", PQgetvalue(res, 0, 3));
	util_snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 4));
	PQclear(res);
	/* Whoever may create such a session now (the cap is checked again). */
	util_snprintf(rest, sizeof(rest), "POST /%ss/%s/terminal", target, target_id);
	if ((rc = ws_authorize(wsi, c->tenant, rest, &c->who)) != 0)
		return rc;
	if (strcmp(c->who.user_id, creator) != 0)
		return refuse(wsi, HTTP_STATUS_FORBIDDEN, "FORBIDDEN",
		    "this terminal session was opened by another user");
	if (strcmp(state, "ok") != 0)
		return refuse(wsi, 410, "GONE", strcmp(state, "expired") == 0 ?
		    "this terminal session has expired" : "this terminal session was already used");
	(void)lws_hdr_custom_copy(wsi, ip, sizeof(ip), "x-real-ip:", 10);
	params[0] = tenant_id;
	params[2] = c->who.key_id[0] ? "service_key" : "user";
	params[3] = c->who.key_id[0] ? c->who.key_id : c->who.user_id;
	params[4] = c->who.user_id;
	params[5] = ip[0] ? ip : NULL;
	switch (sql_bool(&st_term_attach, 6, params)) {
	case 1:
		break;
	case 0:	/* attached (or expired) between the two queries */
		return refuse(wsi, 410, "GONE", "this terminal session was already used");
	default:
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
		    "service temporarily unavailable");
	}
	if ((p = pair_get(wsi, c->param, tenant_id)) == NULL || p->had_client)
		return -1;	/* (attached once by the database: cannot happen twice) */
	p->client = c;
	p->had_client = true;
	c->data = p;
	log_info("launcher-ws: terminal session %s: client attached", p->id);
	return 0;
}

static int
agent_admit(struct lws *wsi, struct ws_conn *c)
{
	const char  *params[3] = {c->who.tenant_id, c->param, c->who.server_id};
	struct pair *p;

	switch (sql_bool(&st_term_agent, 3, params)) {
	case 1:
		break;
	case 0:
		return refuse(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND",
		    "no terminal session of this server is waiting for its agent");
	default:
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
		    "service temporarily unavailable");
	}
	if ((p = pair_get(wsi, c->param, c->who.tenant_id)) == NULL || p->had_agent)
		return -1;
	p->agent = c;
	p->had_agent = true;
	c->data = p;
	log_info("launcher-ws: terminal session %s: agent attached", p->id);
	return 0;
}

/* ---------------------------------------------------------------- relay */

static int
who_of(struct pair *p, struct ws_conn *c)
{
	return c == p->client ? CLIENT : AGENT;
}

static void
opened(struct ws_conn *c)
{
	struct pair *p = c->data;
	int          s = who_of(p, c);

	if (inbox(p, s)->head != NULL)
		ws_want_write(c);
	/* The peer came and went already: this side only drains and closes. */
	if ((s == CLIENT ? p->had_agent && p->agent == NULL : p->had_client && p->client == NULL))
		finish(p, s);
}

/* The exit message of the agent: its code is recorded at the end. */
static void
note_exit(struct pair *p, const unsigned char *text, size_t len)
{
	cJSON       *o = cJSON_ParseWithLength((const char *)text, len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");

	if (cJSON_IsString(t) && strcmp(t->valuestring, "exit") == 0 && cJSON_IsNumber(code) &&
	    code->valuedouble >= -1 && code->valuedouble <= 255) {
		p->exit_code = (int)code->valuedouble;
		p->have_exit = true;
	}
	cJSON_Delete(o);
}

static int
received(struct ws_conn *c, const void *in, size_t len, bool binary, bool final)
{
	struct pair    *p = c->data;
	int             s = who_of(p, c), o = s == CLIENT ? AGENT : CLIENT;
	struct queue   *q = inbox(p, o);
	struct ws_conn *peer = side(p, o);

	if (binary) {
		if (len > 0 && queue_put(q, in, len, true) != 0)
			return -1;
	} else {
		/* Text is a control message: whole, and small, or dropped. */
		if (p->text_len[s] + len > TERM_TEXT_MAX)
			p->text_over[s] = true;
		else {
			memcpy(p->text[s] + p->text_len[s], in, len);
			p->text_len[s] += len;
		}
		if (!final)
			return 0;
		if (!p->text_over[s]) {
			if (s == AGENT)
				note_exit(p, p->text[s], p->text_len[s]);
			if (queue_put(q, p->text[s], p->text_len[s], false) != 0)
				return -1;
		}
		p->text_len[s] = 0;
		p->text_over[s] = false;
	}
	if (peer != NULL && peer->open)
		ws_want_write(peer);
	if (q->bytes > TERM_QUEUE_BYTES && !p->paused[s]) {
		p->paused[s] = true;
		lws_rx_flow_control(c->wsi, 0);
	}
	return 0;
}

static int
writable(struct ws_conn *c)
{
	struct pair    *p = c->data;
	int             s = who_of(p, c), o = s == CLIENT ? AGENT : CLIENT;
	struct queue   *q = inbox(p, s);
	struct msg     *m = q->head;
	struct ws_conn *peer = side(p, o);
	bool            peer_gone = s == CLIENT ? p->had_agent && p->agent == NULL :
	    p->had_client && p->client == NULL;

	if (m != NULL) {
		q->head = m->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->bytes -= m->len;
		if (ws_send(c, m->buf + LWS_PRE, m->len, m->binary) != 0) {
			free(m);
			return -1;
		}
		free(m);
		if (peer != NULL && p->paused[o] && q->bytes <= TERM_QUEUE_BYTES / 2) {
			p->paused[o] = false;
			lws_rx_flow_control(peer->wsi, 1);
		}
		if (q->head != NULL || peer_gone)
			ws_want_write(c);
		return 0;
	}
	if (peer_gone)
		ws_close(c, 1000, "session ended");
	return 0;
}

static void
closed(struct ws_conn *c)
{
	struct pair *p = c->data;
	int          s;

	if (p == NULL)
		return;
	c->data = NULL;
	s = who_of(p, c);
	if (s == CLIENT)
		p->client = NULL;
	else
		p->agent = NULL;
	/* Either side leaving ends the session (an admitted side that never
	 * opened ends it as well: it was attached). */
	pair_end(p);
	finish(p, s == CLIENT ? AGENT : CLIENT);
	if (p->client == NULL && p->agent == NULL)
		pair_free(p);
}

const struct ws_handler ws_term_client = {
	.admit = client_admit,
	.open = opened,
	.receive = received,
	.writable = writable,
	.close = closed,
};

const struct ws_handler ws_term_agent = {
	.admit = agent_admit,
	.open = opened,
	.receive = received,
	.writable = writable,
	.close = closed,
};
