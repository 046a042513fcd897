/*
 * listener.c - the LISTEN thread of launcher-ws (see ws.h).
 *
 * Holds its own PostgreSQL connection (the API role) that LISTENs on
 * launcher_agent_wake (a server id: the agent's wake-up, handed to the
 * loop as is) and on launcher_stream (sql/030_streams.sql: a topic, a
 * tenant, a resource and a range of row ids; topic f, a job that ended,
 * sql/055_job_wait.sql, goes to a queue of its own, l->fin, and only when
 * a held request waits on that job: the loop hands those back, wait.c).
 * For a stream notification
 * whose resource some connection follows, it reads the rows by id on a
 * second connection, a worker's (core/worker.h: bound to its nonce, the
 * tenant set by core/auth's preamble, so row-level security applies as in
 * the pool), and queues them for the loop.  It also reads the pages of
 * backlog the loop asks for (ws_fetch).  One thread does both, in order:
 * a row announced after a page was read arrives after that page.
 *
 * After every (re)connection it asks the loop to wake every agent once and
 * to read every stream on from its cursor (TOPIC_RESYNC): notifications
 * sent while it was away are lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libwebsockets.h>

#include "../core/auth.h"
#include "../core/db.h"
#include "../core/db_conn.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "stream.h"
#include "wait.h"
#include "ws.h"

#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 10000

/* ----------------------------------------------------------- statements */

#define JOB_ROW "SELECT l.id, json_build_object('timestamp', l.created_at, 'stream', 'build'," \
	" 'message', l.line)::text AS body FROM job_logs l"
#define RT_ROW "SELECT l.id, json_build_object('timestamp', l.ts, 'stream', l.stream," \
	" 'instance_id', i.id, 'instance', l.instance_name, 'message', l.message)::text AS body" \
	" FROM runtime_logs l LEFT JOIN instances i ON i.container_id = l.container_id" \
	" AND i.application_id = l.application_id"
#define METRICS_ROW "SELECT m.id, json_build_object('timestamp', m.ts, 'cpu_percent', m.cpu_percent," \
	" 'memory_used_bytes', m.memory_used_bytes, 'memory_total_bytes', m.memory_total_bytes," \
	" 'disk_used_bytes', m.disk_used_bytes, 'disk_total_bytes', m.disk_total_bytes," \
	" 'load1', m.load1, 'net_rx_bytes', m.net_rx_bytes, 'net_tx_bytes', m.net_tx_bytes)::text" \
	" AS body FROM server_metrics m"
#define TRAFFIC_ROW "SELECT t.id, json_build_object('timestamp', t.ts, 'requests', t.requests," \
	" 'status_2xx', t.status_2xx, 'status_3xx', t.status_3xx, 'status_4xx', t.status_4xx," \
	" 'status_5xx', t.status_5xx, 'bytes_out', t.bytes_out, 'latency_p50_ms', t.latency_p50_ms," \
	" 'latency_p95_ms', t.latency_p95_ms, 'latency_p99_ms', t.latency_p99_ms," \
	" 'server_id', t.server_id)::text AS body FROM app_traffic t"

/* The stream's object: the REST one (sql/041) less the cursor it carries. */
#define NOTIF_ROW "SELECT n.seq AS id, (notification_object(n) - 'cursor')::text AS body" \
	" FROM notifications n"

/* Live: the rows of one statement ($1 resource, ids $2..$3). */
DB_STMT st_live_job = {"ws_live_job",
    JOB_ROW " WHERE l.job_id = $1::uuid AND l.id BETWEEN $2::bigint AND $3::bigint ORDER BY l.id"};
DB_STMT st_live_app = {"ws_live_app",
    RT_ROW " WHERE l.application_id = $1::uuid AND l.id BETWEEN $2::bigint AND $3::bigint"
    " ORDER BY l.id"};
DB_STMT st_live_db = {"ws_live_db",
    RT_ROW " WHERE l.database_id = $1::uuid AND l.id BETWEEN $2::bigint AND $3::bigint"
    " ORDER BY l.id"};
DB_STMT st_live_metrics = {"ws_live_metrics",
    METRICS_ROW " WHERE m.server_id = $1::uuid AND m.id BETWEEN $2::bigint AND $3::bigint"
    " ORDER BY m.id"};
DB_STMT st_live_traffic = {"ws_live_traffic",
    TRAFFIC_ROW " WHERE t.application_id = $1::uuid AND t.id BETWEEN $2::bigint AND $3::bigint"
    " ORDER BY t.id"};
DB_STMT st_live_notif = {"ws_live_notif",
    NOTIF_ROW " WHERE n.user_id = $1::uuid AND n.seq BETWEEN $2::bigint AND $3::bigint"
    " ORDER BY n.seq"};
DB_STMT st_deployment = {"ws_deployment",
    "SELECT json_build_object('status', status, 'job_id', job_id)::text AS body,"
    " job_id FROM deployments WHERE id = $1::uuid"};
/* Backlog: a page after $2 ($3 rows). */
DB_STMT st_page_job = {"ws_page_job",
    JOB_ROW " WHERE l.job_id = $1::uuid AND l.id > $2::bigint ORDER BY l.id LIMIT $3::int"};
DB_STMT st_page_app = {"ws_page_app",
    RT_ROW " WHERE l.application_id = $1::uuid AND l.id > $2::bigint ORDER BY l.id LIMIT $3::int"};
DB_STMT st_page_db = {"ws_page_db",
    RT_ROW " WHERE l.database_id = $1::uuid AND l.id > $2::bigint ORDER BY l.id LIMIT $3::int"};
DB_STMT st_page_metrics = {"ws_page_metrics",
    METRICS_ROW " WHERE m.server_id = $1::uuid AND m.id > $2::bigint ORDER BY m.id LIMIT $3::int"};
DB_STMT st_page_traffic = {"ws_page_traffic",
    TRAFFIC_ROW " WHERE t.application_id = $1::uuid AND t.id > $2::bigint ORDER BY t.id LIMIT $3::int"};
DB_STMT st_page_notif = {"ws_page_notif",
    NOTIF_ROW " WHERE n.user_id = $1::uuid AND n.seq > $2::bigint ORDER BY n.seq LIMIT $3::int"};
/* ?tail=N: the cursor before the last N rows ($2 = 0: after the last row). */
DB_STMT st_tail_app = {"ws_tail_app",
    "SELECT coalesce((SELECT min(id) - 1 FROM (SELECT id FROM runtime_logs WHERE application_id = $1::uuid"
    " ORDER BY id DESC LIMIT $2::int) x HAVING $2::int > 0),"
    " (SELECT max(id) FROM runtime_logs WHERE application_id = $1::uuid), 0)"};
DB_STMT st_tail_db = {"ws_tail_db",
    "SELECT coalesce((SELECT min(id) - 1 FROM (SELECT id FROM runtime_logs WHERE database_id = $1::uuid"
    " ORDER BY id DESC LIMIT $2::int) x HAVING $2::int > 0),"
    " (SELECT max(id) FROM runtime_logs WHERE database_id = $1::uuid), 0)"};
DB_STMT st_tail_metrics = {"ws_tail_metrics",
    "SELECT coalesce((SELECT min(id) - 1 FROM (SELECT id FROM server_metrics WHERE server_id = $1::uuid"
    " ORDER BY id DESC LIMIT $2::int) x HAVING $2::int > 0),"
    " (SELECT max(id) FROM server_metrics WHERE server_id = $1::uuid), 0)"};
DB_STMT st_tail_traffic = {"ws_tail_traffic",
    "SELECT coalesce((SELECT min(id) - 1 FROM (SELECT id FROM app_traffic WHERE application_id = $1::uuid"
    " ORDER BY id DESC LIMIT $2::int) x HAVING $2::int > 0),"
    " (SELECT max(id) FROM app_traffic WHERE application_id = $1::uuid), 0)"};
/* Notifications: $2 = 0 starts after the last one made before the stream
 * was admitted ($3, epoch ms): one made between the client's "open" and
 * this read is the stream's, not the past's. */
DB_STMT st_tail_notif = {"ws_tail_notif",
    "SELECT coalesce((SELECT min(seq) - 1 FROM (SELECT seq FROM notifications WHERE user_id = $1::uuid"
    " ORDER BY seq DESC LIMIT $2::int) x HAVING $2::int > 0),"
    " (SELECT max(seq) FROM notifications WHERE user_id = $1::uuid"
    " AND created_at < to_timestamp($3::bigint / 1000.0)), 0)"};

/* ------------------------------------------------------------ the queue */

static void
push(struct ws_listener *l, const char *id, bool all)
{
	pthread_mutex_lock(&l->q.mu);
	if (all)
		l->fin.all = true;	/* a reconnect: the held waits ask too */
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

/* Job id ended: queued only when some held wait waits on it (wait.c's set,
 * under q.mu); on overflow the loop asks the database once for them all. */
static void
push_finished(struct ws_listener *l, const char *id)
{
	bool waited;

	pthread_mutex_lock(&l->q.mu);
	if ((waited = ws_wait_waited(id))) {
		bool dup = false;

		for (int i = 0; i < l->fin.n && !dup; i++)
			dup = strcmp(l->fin.ids[i], id) == 0;
		if (dup)
			;
		else if (l->fin.n == WS_QUEUE)
			l->fin.all = true;
		else
			memcpy(l->fin.ids[l->fin.n++], id, WS_ID_LEN + 1);
	}
	pthread_mutex_unlock(&l->q.mu);
	if (waited)
		lws_cancel_service(l->ctx);
}

int
ws_listener_take_finished(struct ws_listener *l, char out[][WS_ID_LEN + 1], int max, bool *all)
{
	int n;

	pthread_mutex_lock(&l->q.mu);
	n = l->fin.n < max ? l->fin.n : max;
	memcpy(out, l->fin.ids, (size_t)n * sizeof(out[0]));
	*all = l->fin.all || l->fin.n > max;
	l->fin.n = 0;
	l->fin.all = false;
	pthread_mutex_unlock(&l->q.mu);
	return n;
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

void
ws_feed_push(struct ws_listener *l, struct ws_event *head, struct ws_event *tail, size_t n)
{
	if (head == NULL)
		return;
	pthread_mutex_lock(&l->q.mu);
	if (l->feed.tail != NULL)
		l->feed.tail->next = head;
	else
		l->feed.head = head;
	l->feed.tail = tail;
	l->feed.n += n;
	pthread_mutex_unlock(&l->q.mu);
	lws_cancel_service(l->ctx);
}

/* --------------------------------------------------------------- reads */

/* The listener's reading connection: a worker of its own. */
struct reader {
	struct worker w;
	FCGX_Request  fr;
	char         *env[1];
	/* the rows read so far for the loop */
	struct ws_event *head, *tail;
	size_t           n;
};

static void
emit(struct reader *rd, struct ws_event *e)
{
	if (e == NULL)
		return;
	if (rd->tail != NULL)
		rd->tail->next = e;
	else
		rd->head = e;
	rd->tail = e;
	rd->n++;
}

static void
flush(struct ws_listener *l, struct reader *rd)
{
	ws_feed_push(l, rd->head, rd->tail, rd->n);
	rd->head = rd->tail = NULL;
	rd->n = 0;
}

/* A request under tenant (core/auth's preamble: RLS as in the pool). */
static bool
begin(struct reader *rd, struct req *r, const char *tenant)
{
	memset(r, 0, sizeof(*r));
	r->w = &rd->w;
	r->a = &rd->w.arena;
	r->fcgi = &rd->fr;
	r->capture = true;
	r->request_id = "ws-listener";
	r->method = HTTP_GET;
	r->method_name = "GET";
	r->uri = "";
	r->tenant_ref = tenant;
	return auth_tenant(r) == ERR_OK && r->who.tenant_id != NULL;
}

static void
end(struct reader *rd)
{
	arena_reset(&rd->w.arena);
}

/* Rows of res (id, body) as events of topic/key (target, source for a page). */
static int64_t
rows(struct reader *rd, PGresult *res, char topic, const char *key, uint64_t target, int source)
{
	int64_t last = -1;

	for (int i = 0; i < PQntuples(res); i++) {
		struct ws_event *e;
		int64_t          id;

		if (util_parse_i64(PQgetvalue(res, i, 0), 0, INT64_MAX, &id) != 0)
			continue;
		e = ws_event_new(topic, key, id, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
		if (e == NULL)
			continue;
		e->target = target;
		e->source = source;
		emit(rd, e);
		last = id;
	}
	return last;
}

/* "j <tenant> <resource> <first> <last>" and the others (sql/030). */
static void
notified(struct ws_listener *l, struct reader *rd, const char *payload)
{
	char                  topic, tenant[WS_ID_LEN + 1], key[WS_ID_LEN + 1], lo[24], hi[24];
	const struct db_stmt *st;
	struct req            r;
	PGresult             *res;

	char                  copy[160], *f[5], *save = NULL;
	int                   n = 0;

	if (util_snprintf(copy, sizeof(copy), "%s", payload) < 0)
		return;
	for (char *t = strtok_r(copy, " ", &save); t != NULL && n < 5; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n != 5 || strlen(f[0]) != 1 || !util_is_uuid(f[1]) || !util_is_uuid(f[2]) ||
	    strlen(f[3]) >= sizeof(lo) || strlen(f[4]) >= sizeof(hi))
		return;
	topic = f[0][0];
	if (topic == TOPIC_JOB_FINISHED) {
		push_finished(l, f[2]);	/* the waits of that job (wait.c) */
		return;
	}
	memcpy(tenant, f[1], WS_ID_LEN + 1);
	memcpy(key, f[2], WS_ID_LEN + 1);
	memcpy(lo, f[3], strlen(f[3]) + 1);
	memcpy(hi, f[4], strlen(f[4]) + 1);
	switch (topic) {
	case TOPIC_JOB: st = &st_live_job; break;
	case TOPIC_APP: st = &st_live_app; break;
	case TOPIC_DB: st = &st_live_db; break;
	case TOPIC_METRICS: st = &st_live_metrics; break;
	case TOPIC_TRAFFIC: st = &st_live_traffic; break;
	case TOPIC_NOTIFICATION: st = &st_live_notif; break;
	case TOPIC_DEPLOYMENT: st = &st_deployment; break;
	default: return;
	}
	if (!ws_followed(l, topic, key))
		return;
	if (!begin(rd, &r, tenant)) {
		end(rd);
		return;
	}
	if (topic == TOPIC_DEPLOYMENT) {
		if (db_run(&r, st, &res, key) == ERR_OK && PQntuples(res) == 1)
			emit(rd, ws_event_new(topic, key, 0, PQgetvalue(res, 0, 0),
			    (size_t)PQgetlength(res, 0, 0)));
	} else if (db_run(&r, st, &res, key, lo, hi) == ERR_OK)
		(void)rows(rd, res, topic, key, 0, 0);
	end(rd);
	flush(l, rd);
}

/* A page of backlog: rows after f->after, then the page's end. */
static void
fetch(struct ws_listener *l, struct reader *rd, const struct ws_fetch *f)
{
	const struct db_stmt *page = NULL, *tail = NULL;
	struct ws_event      *mark;
	struct req            r;
	PGresult             *res;
	char                  after[24], lim[16], job[WS_ID_LEN + 1] = "";
	const char           *dep_body = NULL;
	size_t                dep_len = 0;
	int64_t               from = f->after, last;
	bool                  ok;

	switch (f->topic) {
	case TOPIC_DEPLOYMENT: page = &st_page_job; break;
	case TOPIC_APP: page = &st_page_app; tail = &st_tail_app; break;
	case TOPIC_DB: page = &st_page_db; tail = &st_tail_db; break;
	case TOPIC_METRICS: page = &st_page_metrics; tail = &st_tail_metrics; break;
	case TOPIC_TRAFFIC: page = &st_page_traffic; tail = &st_tail_traffic; break;
	case TOPIC_NOTIFICATION: page = &st_page_notif; tail = &st_tail_notif; break;
	default: return;
	}
	ok = begin(rd, &r, f->tenant_id);
	util_snprintf(lim, sizeof(lim), "%d", f->limit);
	if (ok && f->topic == TOPIC_DEPLOYMENT) {
		/* The status first: lines written before it are all there. */
		ok = db_run(&r, &st_deployment, &res, f->key) == ERR_OK && PQntuples(res) == 1;
		if (ok) {
			dep_body = PQgetvalue(res, 0, 0);
			dep_len = (size_t)PQgetlength(res, 0, 0);
			util_snprintf(job, sizeof(job), "%s", PQgetvalue(res, 0, 1));
		}
	}
	if (ok && tail != NULL && f->tail != 0) {
		char n[24], at[24];

		util_snprintf(n, sizeof(n), "%lld", (long long)(f->tail < 0 ? 0 : f->tail));
		util_snprintf(at, sizeof(at), "%lld", (long long)f->admitted_ms);
		ok = (tail == &st_tail_notif ? db_run(&r, tail, &res, f->key, n, at) :
		    db_run(&r, tail, &res, f->key, n)) == ERR_OK &&
		    util_parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &from) == 0;
	}
	util_snprintf(after, sizeof(after), "%lld", (long long)from);
	last = -1;
	if (ok && (f->topic != TOPIC_DEPLOYMENT || job[0] != '\0')) {
		ok = db_run(&r, page, &res, f->topic == TOPIC_DEPLOYMENT ? job : f->key, after, lim) ==
		    ERR_OK;
		if (ok) {
			last = rows(rd, res, f->topic == TOPIC_DEPLOYMENT ? TOPIC_JOB : f->topic,
			    f->topic == TOPIC_DEPLOYMENT ? job : f->key, f->target, f->source);
			ok = PQntuples(res) >= 0;
			if (PQntuples(res) < f->limit)
				last = -1;
		}
	}
	/* The page's end: its status (a deployment), whether more follows;
	 * a failed read ends it too (the loop closes that stream). */
	mark = ws_event_new(f->topic, f->key, from, ok ? dep_body : NULL, ok ? dep_len : 0);
	if (mark != NULL) {
		mark->target = f->target;
		mark->source = f->source;
		mark->end = true;
		mark->more = ok && last >= 0;
		if (!ok)
			mark->id = -1;
		emit(rd, mark);
	}
	end(rd);
	flush(l, rd);
}

/* Runs the pages the loop asked for, in the order asked. */
static void
fetches(struct ws_listener *l, struct reader *rd)
{
	for (;;) {
		struct ws_fetch *f;

		pthread_mutex_lock(&l->q.mu);
		if ((f = l->fetches) != NULL)
			l->fetches = f->next;
		pthread_mutex_unlock(&l->q.mu);
		if (f == NULL)
			return;
		fetch(l, rd, f);
		free(f);
	}
}

/* ---------------------------------------------------------------- loop */

static void
nap(struct ws_listener *l, int ms)
{
	for (int i = 0; i < ms / 50 && !l->stop; i++) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
}

static void
drain_pipe(struct ws_listener *l)
{
	char buf[64];

	while (read(l->wake_fd[0], buf, sizeof(buf)) > 0)
		;
}

/* Serves one connection until it breaks or we stop. */
static void
serve(struct ws_listener *l, struct db_conn *dc, struct reader *rd)
{
	PGconn *c = dc->pg;

	/* (launcher_agent_wake last: the backend shows it as its query) */
	if (db_conn_simple(dc, "LISTEN launcher_stream") != ERR_OK ||
	    db_conn_simple(dc, "LISTEN launcher_agent_wake") != ERR_OK) {
		log_error("launcher-ws: LISTEN failed: %s", db_conn_error(dc));
		return;
	}
	log_info("launcher-ws: listening for job and stream notifications");
	push(l, NULL, true);
	emit(rd, ws_event_new(TOPIC_RESYNC, "", 0, NULL, 0));
	flush(l, rd);
	while (!l->stop) {
		struct pollfd pfd[2] = {{.fd = PQsocket(c), .events = POLLIN},
			{.fd = l->wake_fd[0], .events = POLLIN}};
		PGnotify     *n;

		if (poll(pfd, 2, 500) < 0)
			continue;
		if (pfd[1].revents & POLLIN)
			drain_pipe(l);
		if (PQconsumeInput(c) != 1 || PQstatus(c) != CONNECTION_OK) {
			log_warn("launcher-ws: database connection lost: %s", PQerrorMessage(c));
			return;
		}
		while ((n = PQnotifies(c)) != NULL) {
			if (strcmp(n->relname, "launcher_stream") == 0)
				notified(l, rd, n->extra);
			else
				push(l, n->extra, false);
			PQfreemem(n);
		}
		fetches(l, rd);
	}
}

static void *
run(void *arg)
{
	struct ws_listener *l = arg;
	int                 backoff = RECONNECT_MIN_MS;
	struct db_conn      c = {0};
	struct reader      *rd = calloc(1, sizeof(*rd));

	if (rd == NULL)
		return NULL;
	rd->w.cfg = l->cfg;
	rd->w.keys = *l->keys;
	rd->w.listen_fd = -1;
	rd->fr.envp = rd->env;
	arena_init(&rd->w.arena, 16 * 1024);
	while (!l->stop) {
		if (db_conn_open(&c, l->cfg->database_url, NULL) == ERR_OK) {
			backoff = RECONNECT_MIN_MS;
			serve(l, &c, rd);
		} else
			log_warn("launcher-ws: database unavailable; retrying in %d ms", backoff);
		db_conn_close(&c);
		nap(l, backoff);
		backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
	}
	db_close(&rd->w.db);
	arena_free(&rd->w.arena);
	explicit_bzero(&rd->w.keys, sizeof(rd->w.keys));
	free(rd);
	return NULL;
}

void
ws_fetch_queue(struct ws_listener *l, struct ws_fetch *f)
{
	struct ws_fetch **pp;

	f->next = NULL;
	pthread_mutex_lock(&l->q.mu);
	for (pp = &l->fetches; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = f;
	pthread_mutex_unlock(&l->q.mu);
	if (write(l->wake_fd[1], "f", 1) < 0 && errno != EAGAIN)
		log_warn("launcher-ws: cannot wake the listener: %s", strerror(errno));
}

int
ws_listener_start(struct ws_listener *l, const struct config *cfg,
    const struct crypto_keys *keys, struct lws_context *ctx)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->keys = keys;
	l->ctx = ctx;
	if (pipe2(l->wake_fd, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
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
	while (l->fetches != NULL) {
		struct ws_fetch *f = l->fetches;

		l->fetches = f->next;
		free(f);
	}
	pthread_mutex_destroy(&l->q.mu);
	close(l->wake_fd[0]);
	close(l->wake_fd[1]);
	l->started = false;
}
