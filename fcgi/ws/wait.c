/*
 * wait.c - launcher-ws's half of a call that waits for a job's outcome
 * (core/jobs.h job_respond_wait; README "Waiting for a job").
 *
 * The pool answers such a call at once with X-Accel-Redirect to nginx's
 * internal /.lnchr-wait/<tenant>/<job id>?t=<seconds>&ok=<status>
 * (conf/nginx/locations.conf.in), which nginx proxies here as a plain
 * HTTP GET, without the client's credentials or body.  This file only
 * decides when the answer is due:
 *
 *   - a job that is not the tenant's (ws_job_status, sql/055): 404 at
 *     once, in the API's envelope; nothing is waited for;
 *   - a terminal job, the database down, too many waits held: due at once;
 *   - else the request is held, without a thread or a pool worker, until
 *     the job's end is announced (topic f on launcher_stream, sql/055) or
 *     t seconds pass.  The listener queues a job's end for the loop only
 *     when a held request waits on it (the set of waited ids below, under
 *     the listener's queue mutex), in a queue of its own (l->fin): every
 *     other job of every tenant ends without waking the loop.
 *
 * When due, the answer is X-Accel-Redirect to nginx's internal
 * /.lnchr-job/<tenant>/<job>?ok=<status>, which nginx passes to the pool
 * (GET /jobs/:id/outcome, marked LNCHR_JOB_OUTCOME) with the client's own
 * credentials: the pool authorises the read and writes the answer
 * (job_respond_outcome: the result, the job's error, or 202 with the job).
 * So the one response writer stays the pool's, and launcher-ws opens no
 * sealed result (exec output is sealed): it never needs the master key
 * for this.
 *
 * After a reconnection of the listener (notifications may have been lost),
 * or when more waited jobs ended at once than that queue holds, the held
 * requests ask the database again, all in one query (ws_jobs_pending).
 * SIGTERM hands every held request back at once (the client gets the
 * job's state then: its result, or 202 to poll); a daemon killed outright
 * closes its connections and nginx hands the request to the pool the same
 * way (error_page).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "../core/db_conn.h"
#include "../core/jobs.h"
#include "../core/log.h"
#include "../core/util.h"
#include "wait.h"

#define WAIT_PREFIX "/.lnchr-wait/"
#define JOB_LOCATION "/.lnchr-job/"
#define WAIT_MAX 4096	/* requests held at once; more are due at once (202) */
/* lws's own timeout of a held request, past its t: a backstop only. */
#define WAIT_SLACK_S 15
#define WAIT_BUCKETS 1024	/* of the set of waited ids (a power of 2) */

struct waiter {
	struct waiter         *next;
	struct waiter         *hnext;	/* in bucket[hash(job)], under *mu */
	struct lws            *wsi;
	lws_sorted_usec_list_t sul;
	char                   tenant[WS_TENANT_MAX + 1];	/* as the URL names it */
	char                   job[WS_ID_LEN + 1];
	int                    ok;
	bool                   due;	/* the hand-back is asked for (writable) */
	bool                   pending;	/* recheck(): the job is still queued or running */
};

static struct waiter *waiters;
static int            nwaiters;
/* The set of waited ids: the loop writes it under *mu, the listener reads
 * it under *mu (ws_wait_waited); the loop reads it without. */
static struct waiter   *bucket[WAIT_BUCKETS];
static pthread_mutex_t *mu;

DB_STMT st_job_status = {"ws_job_status",
    "SELECT launcher.ws_job_status($1, $2::uuid) AS status"};
/* Of these jobs ($1, a uuid[]), those still queued or running. */
DB_STMT st_jobs_pending = {"ws_jobs_pending",
    "SELECT launcher.ws_jobs_pending($1::uuid[]) AS id"};

static unsigned
hash(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (WAIT_BUCKETS - 1);
}

void
ws_wait_attach(pthread_mutex_t *m)
{
	mu = m;
}

bool
ws_wait_waited(const char *id)
{
	for (struct waiter *w = bucket[hash(id)]; w != NULL; w = w->hnext)
		if (strcmp(w->job, id) == 0)
			return true;
	return false;
}

/* w's job joins (on) or leaves the set of waited ids. */
static void
watch(struct waiter *w, bool on)
{
	struct waiter **pp = &bucket[hash(w->job)];

	if (mu != NULL)
		pthread_mutex_lock(mu);
	if (on) {
		w->hnext = *pp;
		*pp = w;
	} else {
		for (; *pp != NULL; pp = &(*pp)->hnext)
			if (*pp == w) {
				*pp = w->hnext;
				break;
			}
	}
	if (mu != NULL)
		pthread_mutex_unlock(mu);
}

static bool
terminal(const char *status)
{
	return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
	    strcmp(status, "cancelled") == 0;
}

enum state { WAITING, DUE, UNKNOWN };

/* Whether tenant's job is worth waiting for; a failed read makes it due. */
static enum state
state_of(const char *tenant, const char *job)
{
	const char *params[2] = {tenant, job};
	PGresult   *res;
	enum state  s;

	if (ws_sql(&st_job_status, 2, params, &res) != 0)
		return DUE;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		s = UNKNOWN;
	else
		s = terminal(PQgetvalue(res, 0, 0)) ? DUE : WAITING;
	PQclear(res);
	return s;
}

/* Writes the hand-back to the pool: 1 (written) or -1. */
static int
hand_back(struct lws *wsi, const char *tenant, const char *job, int ok)
{
	static const char body[] = "{}";
	unsigned char     hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
	                  *end = hdr + sizeof(hdr), b[LWS_PRE + sizeof(body)];
	char              to[200];
	int               n;

	n = util_snprintf(to, sizeof(to), JOB_LOCATION "%s/%s?ok=%d", tenant, job, ok);
	memcpy(b + LWS_PRE, body, sizeof(body) - 1);
	if (n < 0 ||
	    lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json", sizeof(body) - 1,
	    &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-accel-redirect:",
	    (const unsigned char *)to, n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end) ||
	    lws_write(wsi, b + LWS_PRE, sizeof(body) - 1, LWS_WRITE_HTTP_FINAL) != (int)sizeof(body) - 1)
		return -1;
	return 1;
}

static void
make_due(struct waiter *w)
{
	if (w->due)
		return;
	w->due = true;
	lws_sul_cancel(&w->sul);
	lws_callback_on_writable(w->wsi);
}

static void
expired(lws_sorted_usec_list_t *sul)
{
	make_due(lws_container_of(sul, struct waiter, sul));
}

static struct waiter *
find(struct lws *wsi)
{
	for (struct waiter *w = waiters; w != NULL; w = w->next)
		if (w->wsi == wsi)
			return w;
	return NULL;
}

static void
forget(struct waiter *w)
{
	for (struct waiter **pp = &waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	lws_sul_cancel(&w->sul);
	watch(w, false);
	nwaiters--;
	free(w);
}

/* "<tenant id or slug>/<job uuid>" exactly, into tenant and job. */
static bool
parse(const char *path, char *tenant, char *job)
{
	const char *slash = strchr(path, '/');
	size_t      n = slash ? (size_t)(slash - path) : 0;

	if (n == 0 || n > WS_TENANT_MAX || strlen(slash + 1) != WS_ID_LEN)
		return false;
	memcpy(tenant, path, n);
	tenant[n] = '\0';
	for (int i = 0; i <= WS_ID_LEN; i++)
		job[i] = (char)tolower((unsigned char)slash[1 + i]);	/* as NOTIFY spells it */
	return (util_is_uuid(tenant) || util_is_slug(tenant)) && util_is_uuid(job);
}

bool
ws_wait_path(const char *uri)
{
	return strncmp(uri, WAIT_PREFIX, strlen(WAIT_PREFIX)) == 0;
}

int
ws_wait_http(struct lws *wsi, const char *uri)
{
	char           tenant[WS_TENANT_MAX + 1], job[WS_ID_LEN + 1], arg[16];
	int64_t        t = 0, ok = 200;
	struct waiter *w;
	enum state     s;

	if (!parse(uri + strlen(WAIT_PREFIX), tenant, job))
		return ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "job not found");
	if (ws_query(wsi, "t", arg, sizeof(arg)) != NULL &&
	    util_parse_i64(arg, 0, JOB_WAIT_MAX_SECONDS, &t) != 0)
		t = 0;
	if (ws_query(wsi, "ok", arg, sizeof(arg)) != NULL &&
	    util_parse_i64(arg, 200, 299, &ok) != 0)
		ok = 200;
	if (t == 0 || nwaiters >= WAIT_MAX || (w = calloc(1, sizeof(*w))) == NULL)
		return state_of(tenant, job) == UNKNOWN ?
		    ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "job not found") :
		    hand_back(wsi, tenant, job, (int)ok);
	w->wsi = wsi;
	memcpy(w->tenant, tenant, sizeof(tenant));
	memcpy(w->job, job, sizeof(job));
	w->ok = (int)ok;
	/* Waited for before the read: an end announced meanwhile is queued. */
	watch(w, true);
	if ((s = state_of(tenant, job)) != WAITING) {
		watch(w, false);
		free(w);
		return s == UNKNOWN ?
		    ws_answer(wsi, HTTP_STATUS_NOT_FOUND, "NOT_FOUND", "job not found") :
		    hand_back(wsi, tenant, job, (int)ok);
	}
	w->next = waiters;
	waiters = w;
	nwaiters++;
	lws_sul_schedule(lws_get_context(wsi), 0, &w->sul, expired, t * LWS_US_PER_SEC);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)t + WAIT_SLACK_S);
	return 0;
}

bool
ws_wait_held(struct lws *wsi)
{
	return find(wsi) != NULL;
}

int
ws_wait_writable(struct lws *wsi)
{
	struct waiter *w = find(wsi);
	int            rc;

	if (w == NULL || !w->due)
		return 0;
	rc = hand_back(wsi, w->tenant, w->job, w->ok);
	forget(w);
	return rc > 0 && lws_http_transaction_completed(wsi) == 0 ? 0 : -1;
}

void
ws_wait_closed(struct lws *wsi)
{
	struct waiter *w = find(wsi);

	if (w != NULL)
		forget(w);
}

/*
 * Every held wait asks the database, in one query: those whose job is no
 * longer queued or running (or gone) are due; all of them when the
 * database does not answer (the pool answers each with the job as it is).
 */
static void
recheck(void)
{
	size_t      len = 3;
	char       *list, *p;
	const char *params[1];
	PGresult   *res;
	bool        ok;

	for (struct waiter *w = waiters; w != NULL; w = w->next)
		len += WS_ID_LEN + 1;
	if ((list = malloc(len)) == NULL) {
		(void)ws_wait_drain();
		return;
	}
	p = list;
	*p++ = '{';
	for (struct waiter *w = waiters; w != NULL; w = w->next) {
		w->pending = false;
		if (w->due)
			continue;
		if (p > list + 1)
			*p++ = ',';
		memcpy(p, w->job, WS_ID_LEN);
		p += WS_ID_LEN;
	}
	*p++ = '}';
	*p = '\0';
	if (p == list + 2) {
		free(list);
		return;
	}
	params[0] = list;
	ok = ws_sql(&st_jobs_pending, 1, params, &res) == 0;
	free(list);
	for (int i = 0; ok && i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);

		for (struct waiter *w = bucket[hash(id)]; w != NULL; w = w->hnext)
			if (strcmp(w->job, id) == 0)
				w->pending = true;
	}
	if (ok)
		PQclear(res);
	for (struct waiter *w = waiters; w != NULL; w = w->next)
		if (!w->pending)
			make_due(w);
}

void
ws_wait_wake(char ids[][WS_ID_LEN + 1], int n, bool all)
{
	for (int i = 0; i < n; i++)
		for (struct waiter *w = bucket[hash(ids[i])]; w != NULL; w = w->hnext)
			if (strcmp(w->job, ids[i]) == 0)
				make_due(w);
	if (all && waiters != NULL)
		recheck();
}

int
ws_wait_drain(void)
{
	for (struct waiter *w = waiters; w != NULL; w = w->next)
		make_due(w);
	return nwaiters;
}
