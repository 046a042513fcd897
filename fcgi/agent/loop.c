/*
 * loop.c - the agent's main loop (see loop.h).
 *
 * One struct agent holds all process state.  Each pass of the loop runs
 * whatever timer is due (heartbeat, claim, each running job's lease,
 * progress and completion, slot by slot: loop.h), resets the pass's arena,
 * then sleeps in ppoll() until the next timer, a job's pipe, the wake-up
 * channel, or a signal.  Signals are blocked outside ppoll(), so a stop
 * request can never slip in between checking the flag and going to sleep.
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/util.h"
#include "app.h"
#include "backup.h"
#include "db.h"
#include "engine.h"
#include "follow.h"
#include "hostinfo.h"
#include "metrics.h"
#include "netfw.h"
#include "plane.h"
#include "report.h"
#include "runner.h"
#include "term.h"
#include "fnscale.h"
#include "traffic.h"
#include "text.h"
#include "timefmt.h"
#include "wake.h"
#include "xfer.h"

#define PROGRESS_BATCH    100	/* the plane's limit per request */
#define PROGRESS_DELAY_MS 250	/* lines are batched for this long */
#define RECORD_MAX        (RUNNER_MAX_RESULT + 64)

/*
 * A running job, as the parent sees it: one per slot.  Slot 0 is the main
 * slot (any kind); slots 1..invoke_slots take fn.invoke only, so that an
 * invocation runs beside the main slot's job (loop.h).
 */
struct active {
	bool       on;
	struct job job;
	pid_t      pid;		/* > 0 while the child has not been reaped */
	int        fd;		/* the child's pipe; -1 after EOF */
	char      *in;		/* partial records read from the pipe */
	size_t     inlen;
	int        wstatus;
	char       why[256];	/* why we killed it, when we did */
	cJSON     *pending;	/* progress lines not yet accepted by the plane */
	int64_t    dropped;	/* lines not kept while pending was full */
	cJSON     *final;	/* the complete body, once known */
	int64_t    deadline;	/* monotonic ms; 0 = none */
	int64_t    next_lease, next_progress, next_complete;
};

struct agent {
	const struct agent_conf *conf;
	char                     token[AGENT_TOKEN_MAX];
	bool                     token_stale;	/* re-read before the next plane call */
	struct xfer              x;
	struct arena             a;		/* reset after every pass */
	struct cpu_times         cpu;
	struct engine_cache      engine;
	int64_t                  hb_ms, poll_ms;
	int64_t                  next_hb, next_claim;
	int64_t                  backoff_ms;
	int64_t                  retry_at;	/* no plane call before this (back-off) */
	bool                     plane_up, engine_up, engine_known;
	int64_t                  stop_at;	/* 0 = not stopping */
	struct active            slots[AGENT_SLOTS_MAX];	/* [0] main, then invoke slots */
	int                      nslots;	/* 1 + conf invoke_slots */
	struct report            rep;		/* instances and runtime logs */
	int64_t                  next_inst, next_logs, next_vols;
	struct wake              wake;		/* launcher-ws: "a job is waiting" */
	pid_t                    terms[TERM_MAX];	/* terminal sessions' processes; 0 = free */
	pid_t                    follower;	/* logs_follow's process (follow.h); 0 = none */
	int64_t                  next_follow;	/* no (re)fork before this */
	struct metrics           met;		/* host and container points (metrics.h) */
	int64_t                  next_sample, next_met_send;
	bool                     traffic_on;	/* traffic_log set (traffic.h) */
	struct traffic_tail      tt;
	struct traffic_agg       ta;
	int64_t                  next_traffic, next_traffic_send;
	struct fnscale           fns;		/* functions' scale to zero (fnscale.h) */
};

/* The traffic log is read this often (nginx flushes it every second). */
#define TRAFFIC_READ_MS 1000

/*
 * Signal flags: the only state a handler may touch.  SIGCHLD has a handler
 * only so that it interrupts ppoll(); the loop reaps with waitpid().
 */
static volatile sig_atomic_t got_stop, got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		got_stop = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
}

int64_t
agent_backoff_next(int64_t current_ms)
{
	if (current_ms < AGENT_BACKOFF_MIN_MS)
		return AGENT_BACKOFF_MIN_MS;
	return current_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : current_ms * 2;
}

static void
json_free(void *p)
{
	cJSON_Delete(p);
}

/* ---------------------------------------------------------- log follower */

/* Ends the follower (its whole group) and reaps it. */
static void
follow_stop(struct agent *ag)
{
	if (ag->follower <= 0)
		return;
	kill(-ag->follower, SIGKILL);
	while (waitpid(ag->follower, NULL, 0) < 0 && errno == EINTR)
		;
	ag->follower = 0;
}

/*
 * logs_follow: keeps the follower running while the engine answers (a
 * follower that died is forked again after a second); never waits on it.
 */
static void
follow_service(struct agent *ag, int64_t now)
{
	int st;

	if (ag->follower > 0 && waitpid(ag->follower, &st, WNOHANG) == ag->follower) {
		log_warn("the log follower ended (status %d); starting it again", st);
		ag->follower = 0;
		ag->next_follow = now + 1000;
	}
	if (!ag->conf->logs_follow || ag->follower > 0 || !ag->engine_up || ag->stop_at != 0 ||
	    now < ag->next_follow)
		return;
	if (follow_spawn(ag->conf, ag->token, &ag->follower) != 0) {
		log_warn("cannot fork the log follower: %s", strerror(errno));
		ag->follower = 0;
		ag->next_follow = now + 5000;
	}
}

/* ---------------------------------------------------------- plane calls */

static void
token_reload(struct agent *ag)
{
	char tok[AGENT_TOKEN_MAX], err[512];

	if (ag->conf->token_file[0] == '\0')
		return;	/* from the environment: nothing to re-read */
	if (agent_token_load(ag->conf, tok, sizeof(tok), err, sizeof(err)) != 0) {
		log_error("cannot re-read the token: %s (keeping the current one)", err);
		return;
	}
	if (strcmp(tok, ag->token) != 0) {
		memcpy(ag->token, tok, sizeof(tok));
		log_info("token file %s re-read: the token changed", ag->conf->token_file);
		/* The wake-up channel was opened with the old one, and so was
		 * the log follower: both start again with the new one. */
		wake_close(&ag->wake);
		ag->wake.retry_at = 0;
		follow_stop(ag);
		ag->next_follow = 0;
	}
	explicit_bzero(tok, sizeof(tok));
}

/* Every plane call goes through here: token reload, back-off reset. */
static enum plane_rc
agent_post(struct agent *ag, const char *path, const cJSON *body, struct plane_answer *ans)
{
	enum plane_rc rc;

	if (ag->token_stale) {
		ag->token_stale = false;
		token_reload(ag);
	}
	rc = plane_post(&ag->x, &ag->a, path, body, ans);
	if (rc == PLANE_UNAUTHORIZED)
		ag->token_stale = true;
	if (rc == PLANE_OK)
		ag->backoff_ms = 0;
	if (rc == PLANE_OK || rc == PLANE_CONFLICT || rc == PLANE_GONE) {
		/* The plane answered as itself: it is up.  (A 404 to a heartbeat,
		 * a deleted server, still backs off through plane_failed.) */
		if (!ag->plane_up)
			log_info("plane %s answers", ag->conf->plane_url);
		ag->plane_up = true;
	}
	return rc;
}

/*
 * Logs a failed call and returns how long to wait before the next try.  The
 * wait holds back every plane call (one plane, one back-off): a plane that
 * is down is retried once per step, 1 s doubling to 30 s.
 */
static int64_t
plane_failed(struct agent *ag, const char *what, enum plane_rc rc, const struct plane_answer *ans)
{
	ag->backoff_ms = agent_backoff_next(ag->backoff_ms);
	ag->retry_at = timefmt_mono_ms() + ag->backoff_ms;
	if (rc == PLANE_UNAUTHORIZED)
		log_error("%s: the plane refused the agent token (%s); fix %s; retrying in %.0f s",
		    what, ans->msg, ag->conf->token_file[0] ? ag->conf->token_file :
		    "$" AGENT_TOKEN_ENV " (restart needed)", ag->backoff_ms / 1000.0);
	else
		log_warn("%s: %s (%s); retrying in %.0f s", what, plane_rc_name(rc), ans->msg,
		    ag->backoff_ms / 1000.0);
	if (rc == PLANE_DOWN)
		ag->plane_up = false;
	return ag->backoff_ms;
}

/* ----------------------------------------------------------- heartbeat */

static cJSON *
heartbeat_body(struct agent *ag)
{
	struct engine_facts f;
	struct host_info    h;
	cJSON              *b = cJSON_CreateObject(), *e, *host;
	char                now[40], err[512];

	if (b == NULL)
		return NULL;
	arena_defer(&ag->a, json_free, b);
	if (engine_facts_cached(&ag->x, &ag->a, &ag->engine, timefmt_mono_ms(), &f, err,
	    sizeof(err)) == 0) {
		if (!ag->engine_up || !ag->engine_known)
			log_info("engine reachable: %s %s (API %s)", f.type, f.version, f.api_version);
		ag->engine_up = true;
	} else {
		if (ag->engine_up || !ag->engine_known)
			log_warn("engine unreachable: %s", err);
		ag->engine_up = false;
	}
	ag->engine_known = true;
	hostinfo_collect(&ag->a, &ag->cpu, &h);
	if (timefmt_rfc3339(now, sizeof(now), timefmt_wall()) != 0)
		return NULL;
	if ((e = engine_json(&f)) == NULL)
		return NULL;
	cJSON_AddItemToObject(b, "engine", e);
	if ((host = hostinfo_json(&h)) == NULL)
		return NULL;
	cJSON_AddItemToObject(b, "host", host);
	if (cJSON_AddStringToObject(b, "agent_version", AGENT_VERSION) == NULL ||
	    cJSON_AddNumberToObject(b, "interval_seconds", (double)(ag->hb_ms / 1000)) == NULL ||
	    cJSON_AddStringToObject(b, "time", now) == NULL)
		return NULL;
	return b;
}

/* Takes the intervals the plane asks for, when they are sane. */
static void
adopt_intervals(struct agent *ag, const cJSON *data)
{
	int64_t hb, pi;

	if (text_json_i64(cJSON_GetObjectItemCaseSensitive(data, "heartbeat_interval_seconds"), 1,
	    3600, &hb) == 0 && hb * 1000 != ag->hb_ms) {
		ag->hb_ms = hb * 1000;
		log_info("heartbeat interval set by the plane: %lld s", (long long)(ag->hb_ms / 1000));
	}
	if (text_json_i64(cJSON_GetObjectItemCaseSensitive(data, "poll_interval_ms"), 100, 3600000,
	    &pi) == 0 && pi != ag->poll_ms) {
		ag->poll_ms = pi;
		log_info("poll interval set by the plane: %lld ms", (long long)ag->poll_ms);
	}
}

static void
heartbeat(struct agent *ag, int64_t now)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *body = heartbeat_body(ag);

	if (body == NULL) {
		log_error("heartbeat: out of memory building the body");
		ag->next_hb = now + ag->hb_ms;
		return;
	}
	rc = agent_post(ag, "/heartbeat", body, &ans);
	if (rc != PLANE_OK) {
		ag->next_hb = now + plane_failed(ag, "heartbeat", rc, &ans);
		return;
	}
	adopt_intervals(ag, ans.data);
	ag->next_hb = now + ag->hb_ms;
	log_debug("heartbeat accepted in %lld ms", (long long)ans.ms);
}

/* ---------------------------------------------------------------- jobs */

static void
job_clear(struct active *j)
{
	if (j->pid > 0) {
		kill(-j->pid, SIGKILL);
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (j->fd >= 0)
		close(j->fd);
	free(j->in);
	cJSON_Delete(j->pending);
	cJSON_Delete(j->final);
	runner_job_clear(&j->job);
	memset(j, 0, sizeof(*j));
	j->pid = -1;
	j->fd = -1;
}

/* Sets the complete body to a failure (unless one is already known). */
static void
job_fail(struct active *j, const char *msg)
{
	if (j->final == NULL)
		j->final = runner_failed(msg);
}

/* ------------------------------------------------------ terminal sessions */

/* A free slot of ag->terms, or -1. */
static int
terms_free(const struct agent *ag)
{
	for (int i = 0; i < TERM_MAX; i++)
		if (ag->terms[i] <= 0)
			return i;
	return -1;
}

/*
 * A terminal.open job is done once its session is set up (it sent its
 * result and closed the pipe); the session's process lives on, watched
 * here, so that the loop goes on claiming (term.h).
 */
static void
terms_adopt(struct agent *ag, struct active *j)
{
	int i;

	if (!term_kind(j->job.kind) || j->pid <= 0 || j->fd >= 0 || j->final == NULL ||
	    (i = terms_free(ag)) < 0)
		return;
	ag->terms[i] = j->pid;
	j->pid = -1;
}

/* Reaps the sessions that ended; with kill, ends them all first. */
static void
terms_reap(struct agent *ag, bool kill_all)
{
	for (int i = 0; i < TERM_MAX; i++) {
		if (ag->terms[i] <= 0)
			continue;
		if (kill_all) {
			kill(-ag->terms[i], SIGKILL);
			while (waitpid(ag->terms[i], NULL, 0) < 0 && errno == EINTR)
				;
			ag->terms[i] = 0;
		} else if (waitpid(ag->terms[i], NULL, WNOHANG) == ag->terms[i])
			ag->terms[i] = 0;
	}
}

static void
job_start(struct agent *ag, struct active *j, struct job *claimed, int64_t now)
{
	int64_t lease_ms = claimed->lease_seconds * 1000;
	char    msg[160];

	job_clear(j);
	j->on = true;
	j->job = *claimed;	/* takes the payload */
	memset(claimed, 0, sizeof(*claimed));
	j->pending = cJSON_CreateArray();
	j->next_lease = now + lease_ms / 3;
	j->next_progress = now;
	j->next_complete = now;
	/* The plane's clock read deadline_at - plane_time; plane_time was
	 * stamped about half a round trip before the answer arrived. */
	if (j->job.have_deadline)
		j->deadline = now - j->job.claim_rtt_ms / 2 + (int64_t)(j->job.deadline_in_s * 1000.0);
	log_info("job %s: %s, attempt %lld, lease %llds: started", j->job.id, j->job.kind,
	    (long long)j->job.attempt, (long long)j->job.lease_seconds);
	if (j->pending == NULL) {
		job_fail(j, "the agent is out of memory");
		return;
	}
	if (!runner_kind_known(j->job.kind) && !term_kind(j->job.kind)) {
		util_snprintf(msg, sizeof(msg), "unknown job kind %s", j->job.kind);
		log_warn("job %s: %s", j->job.id, msg);
		job_fail(j, msg);
		return;
	}
	if (term_kind(j->job.kind) && terms_free(ag) < 0) {
		job_fail(j, "this agent runs too many terminal sessions already");
		return;
	}
	if ((j->in = malloc(RECORD_MAX + 1)) == NULL ||
	    (term_kind(j->job.kind) ? term_spawn(&j->job, ag->conf, ag->token, &j->pid, &j->fd) :
	    runner_spawn(&j->job, ag->conf, ag->token, &j->pid, &j->fd)) != 0) {
		util_snprintf(msg, sizeof(msg), "the agent cannot start the job process: %s",
		    strerror(errno));
		log_error("job %s: %s", j->job.id, msg);
		j->pid = -1;
		j->fd = -1;
		job_fail(j, msg);
	}
}

enum agent_want
agent_claim_want(const bool *busy, int nslots)
{
	bool invoke_free = false;

	for (int i = 1; i < nslots; i++)
		invoke_free = invoke_free || !busy[i];
	if (!busy[0])
		return invoke_free || nslots == 1 ? AGENT_WANT_ANY : AGENT_WANT_OTHER;
	return invoke_free ? AGENT_WANT_INVOKE : AGENT_WANT_NONE;
}

int
agent_slot_pick(const char *kind, const bool *busy, int nslots)
{
	if (strcmp(kind, AGENT_INVOKE_KIND) == 0)
		for (int i = 1; i < nslots; i++)
			if (!busy[i])
				return i;
	/* Another kind only in the main slot: two deploys never overlap, even
	 * from a plane that ignored the claim's kinds. */
	return busy[0] ? -1 : 0;
}

/* Which slots run a job, into busy[ag->nslots]. */
static void
slots_busy(const struct agent *ag, bool *busy)
{
	for (int i = 0; i < ag->nslots; i++)
		busy[i] = ag->slots[i].on;
}

/*
 * Asks for a job that a free slot may run (loop.h): any kind with the main
 * slot free (no body: what every agent sent before slots), only fn.invoke
 * while the main slot is busy, anything but fn.invoke while the invoke
 * slots are.  A job claimed leaves the next claim due at once: more may be
 * queued for the slots still free.
 */
static void
claim(struct agent *ag, int64_t now)
{
	struct plane_answer ans;
	struct job          jb;
	enum plane_rc       rc;
	enum agent_want     want;
	const cJSON        *o;
	cJSON              *body = NULL;
	double              received;
	bool                busy[AGENT_SLOTS_MAX] = {false};
	char                err[256];
	int                 slot;

	slots_busy(ag, busy);
	if ((want = agent_claim_want(busy, ag->nslots)) == AGENT_WANT_NONE)
		return;
	if (want != AGENT_WANT_ANY) {
		const char *k = AGENT_INVOKE_KIND;

		if ((body = cJSON_CreateObject()) == NULL)
			return;
		arena_defer(&ag->a, json_free, body);
		if (!cJSON_AddItemToObject(body, want == AGENT_WANT_INVOKE ? "kinds" : "except_kinds",
		    cJSON_CreateStringArray(&k, 1)))
			return;
	}
	rc = agent_post(ag, "/jobs/claim", body, &ans);
	received = timefmt_wall();
	/* Timers of the job start from the answer, not from the start of this
	 * pass (a slow heartbeat may have come first). */
	now = timefmt_mono_ms();
	if (rc != PLANE_OK) {
		ag->next_claim = now + plane_failed(ag, "claim", rc, &ans);
		return;
	}
	ag->next_claim = now + ag->poll_ms;
	o = cJSON_GetObjectItemCaseSensitive(ans.data, "job");
	if (!cJSON_IsObject(o))
		return;
	if (runner_job_parse(o, cJSON_GetObjectItemCaseSensitive(ans.data, "plane_time"),
	    received, ans.ms, &jb, err, sizeof(err)) != 0) {
		log_error("claim: %s", err);
		runner_job_clear(&jb);
		return;
	}
	if ((slot = agent_slot_pick(jb.kind, busy, ag->nslots)) < 0) {
		/* Only from a plane that ignored the claim's kinds (a claim is made
		 * with a slot free for what it asks): the job is ours, and runs
		 * nowhere; it fails at once (else its lease expiry re-queues it). */
		char        path[128];
		const char *why = "claimed while the main slot is busy";
		cJSON      *fin = runner_failed(why);

		log_error("job %s: %s: %s", jb.id, jb.kind, why);
		util_snprintf(path, sizeof(path), "/jobs/%s/complete", jb.id);
		if (fin != NULL) {
			arena_defer(&ag->a, json_free, fin);
			if (agent_post(ag, path, fin, &ans) != PLANE_OK)
				log_warn("job %s: its failure was not heard (%s); its lease expiry "
				    "re-queues it", jb.id, ans.msg);
		}
		runner_job_clear(&jb);
		return;
	}
	job_start(ag, &ag->slots[slot], &jb, now);
	ag->next_claim = now;
}

/* One record from the child. */
static void
job_record(struct active *j, char *rec)
{
	if (rec[0] == 'P' && rec[1] == ' ') {
		char *line = rec + 2;

		text_truncate(line, RUNNER_MAX_LINE);
		util_sanitize(line, 0);
		if (cJSON_GetArraySize(j->pending) >= AGENT_PENDING_MAX)
			j->dropped++;
		else
			cJSON_AddItemToArray(j->pending, cJSON_CreateString(line));
	} else if (rec[0] == 'R' && rec[1] == ' ') {
		cJSON       *o = cJSON_Parse(rec + 2);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");

		if (cJSON_IsString(st) && (strcmp(st->valuestring, "succeeded") == 0 ||
		    strcmp(st->valuestring, "failed") == 0)) {
			cJSON_Delete(j->final);
			j->final = o;
		} else {
			log_warn("job %s: the job process sent a malformed result", j->job.id);
			cJSON_Delete(o);
		}
	}
}

/*
 * Reads what the child wrote; closes the pipe at EOF.  At most 64 reads a
 * pass, so that a chatty job cannot starve heartbeats and lease renewals.
 */
static void
job_read(struct active *j)
{

	for (int reads = 0; j->fd >= 0 && reads < 64; reads++) {
		ssize_t n = read(j->fd, j->in + j->inlen, RECORD_MAX - j->inlen);
		char   *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(j->fd);
			j->fd = -1;
			return;
		}
		j->inlen += (size_t)n;
		j->in[j->inlen] = '\0';
		start = j->in;
		while ((nl = memchr(start, '\n', j->inlen - (size_t)(start - j->in))) != NULL) {
			*nl = '\0';
			job_record(j, start);
			start = nl + 1;
		}
		j->inlen -= (size_t)(start - j->in);
		memmove(j->in, start, j->inlen);
		if (j->inlen == RECORD_MAX) {
			util_snprintf(j->why, sizeof(j->why), "the job wrote a record larger than "
			    "%zu bytes", (size_t)RECORD_MAX);
			if (j->pid > 0)
				kill(-j->pid, SIGKILL);
			close(j->fd);
			j->fd = -1;
		}
	}
}

/* The plane no longer wants this job from us: end it without completing. */
static void
job_abandon(struct agent *ag, struct active *j, const char *what, const struct plane_answer *ans)
{
	char   kind[sizeof(j->job.kind)], id[sizeof(j->job.id)];
	cJSON *payload = app_kind(j->job.kind) || db_kind(j->job.kind) ||
	    backup_kind(j->job.kind) ?
	    cJSON_Duplicate(j->job.payload, 1) : NULL;

	log_warn("job %s: %s answered %s: cancelled or no longer ours; stopped it without "
	    "completing", j->job.id, what, ans->msg);
	memcpy(kind, j->job.kind, sizeof(kind));
	memcpy(id, j->job.id, sizeof(id));
	job_clear(j);	/* the child is dead once this returns */
	if (payload != NULL) {
		app_after_kill(ag->conf, kind, id, payload);
		db_after_kill(ag->conf, kind, id, payload);
		backup_after_kill(ag->conf, kind, id, payload);
		cJSON_Delete(payload);
		ag->next_inst = timefmt_mono_ms();
	}
	ag->next_claim = timefmt_mono_ms();
}

static void
job_lease(struct agent *ag, struct active *j, int64_t now)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	char                path[128];
	int64_t             third = j->job.lease_seconds * 1000 / 3;

	util_snprintf(path, sizeof(path), "/jobs/%s/lease", j->job.id);
	rc = agent_post(ag, path, NULL, &ans);
	if (rc == PLANE_OK)
		j->next_lease = now + third;
	else if (rc == PLANE_CONFLICT || rc == PLANE_GONE)
		job_abandon(ag, j, "lease renewal", &ans);
	else {
		int64_t d = plane_failed(ag, "lease renewal", rc, &ans);

		/* Keep trying well within the lease, whatever the back-off says. */
		j->next_lease = now + (d < third ? d : third);
	}
}

/* Lines (or the note that some were dropped) still to send. */
static bool
progress_waiting(const struct active *j)
{
	return cJSON_GetArraySize(j->pending) > 0 || j->dropped > 0;
}

/* Sends up to one batch of pending lines. */
static void
job_progress(struct agent *ag, struct active *j, int64_t now)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *body, *lines;
	char                path[128], note[96];
	int                 n = cJSON_GetArraySize(j->pending), batch = 0;

	if ((body = cJSON_CreateObject()) == NULL)
		return;
	arena_defer(&ag->a, json_free, body);
	if ((lines = cJSON_AddArrayToObject(body, "lines")) == NULL)
		return;
	for (const cJSON *it = j->pending->child; it != NULL && batch < PROGRESS_BATCH; it = it->next) {
		cJSON_AddItemToArray(lines, cJSON_CreateString(it->valuestring));
		/* A backup's read-back (backup.h): the plane's row shows it. */
		if (strcmp(it->valuestring, BACKUP_PHASE_VERIFY) == 0 &&
		    !cJSON_HasObjectItem(body, "phase"))
			cJSON_AddStringToObject(body, "phase", "verifying");
		batch++;
	}
	if (batch == n && batch < PROGRESS_BATCH && j->dropped > 0) {
		util_snprintf(note, sizeof(note), "(%lld progress lines dropped: the plane was "
		    "unreachable)", (long long)j->dropped);
		cJSON_AddItemToArray(lines, cJSON_CreateString(note));
	}
	util_snprintf(path, sizeof(path), "/jobs/%s/progress", j->job.id);
	rc = agent_post(ag, path, body, &ans);
	if (rc == PLANE_CONFLICT || rc == PLANE_GONE) {
		job_abandon(ag, j, "progress", &ans);
		return;
	}
	if (rc == PLANE_DOWN || rc == PLANE_UNAUTHORIZED) {
		j->next_progress = now + plane_failed(ag, "progress", rc, &ans);
		return;
	}
	if (rc == PLANE_REJECTED)
		log_warn("job %s: progress lines rejected (%s); dropping %d", j->job.id, ans.msg,
		    batch);
	for (int i = 0; i < batch; i++)
		cJSON_DeleteItemFromArray(j->pending, 0);
	if (batch == n && batch < PROGRESS_BATCH)
		j->dropped = 0;
	j->next_progress = now + PROGRESS_DELAY_MS;
}

static enum plane_rc report_post(void *ud, const char *path, const cJSON *body,
    struct plane_answer *ans);
static void          isolation(struct agent *ag);

static void
job_complete(struct agent *ag, struct active *j, int64_t now)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	const cJSON        *st = cJSON_GetObjectItemCaseSensitive(j->final, "status");
	const cJSON        *er = cJSON_GetObjectItemCaseSensitive(j->final, "error");
	char                path[128];
	bool                reported;

	util_snprintf(path, sizeof(path), "/jobs/%s/complete", j->job.id);
	if ((app_kind(j->job.kind) || db_kind(j->job.kind)) && ag->engine_up)
		isolation(ag);
	/*
	 * An application job changed the containers: the plane hears of them
	 * before it hears that the job is done, so that a client that waits
	 * for the job (pending_action, the deployment's status) then reads
	 * instances that are already current.
	 */
	reported = (app_kind(j->job.kind) || db_kind(j->job.kind)) && ag->engine_up &&
	    report_instances(&ag->rep, &ag->x, &ag->a, report_post, ag) == 0;
	rc = agent_post(ag, path, j->final, &ans);
	if (rc == PLANE_DOWN || rc == PLANE_UNAUTHORIZED) {
		j->next_complete = now + plane_failed(ag, "complete", rc, &ans);
		return;
	}
	if (rc == PLANE_OK)
		log_info("job %s: %s%s%.300s", j->job.id, cJSON_IsString(st) ? st->valuestring : "?",
		    cJSON_IsString(er) ? ": " : "", cJSON_IsString(er) ? er->valuestring : "");
	else if (rc == PLANE_CONFLICT || rc == PLANE_GONE)
		log_warn("job %s: completion answered %s: the job was cancelled or is no longer "
		    "ours", j->job.id, ans.msg);
	else
		log_error("job %s: completion rejected (%s); giving it up", j->job.id, ans.msg);
	if ((app_kind(j->job.kind) || db_kind(j->job.kind)) && !reported)
		ag->next_inst = now;	/* the report before completing did not get through */
	job_clear(j);
	/* Work may be queued behind this job: ask at once. */
	ag->next_claim = now;
}

/* Why a child that sent no result ended. */
static void
job_exit_reason(struct active *j, char *out, size_t outlen)
{
	if (j->why[0] != '\0')
		util_snprintf(out, outlen, "%s", j->why);
	else if (WIFSIGNALED(j->wstatus))
		util_snprintf(out, outlen, "the job process was killed by signal %d",
		    WTERMSIG(j->wstatus));
	else
		util_snprintf(out, outlen, "the job process exited with status %d without a result",
		    WIFEXITED(j->wstatus) ? WEXITSTATUS(j->wstatus) : -1);
}

/* Everything the running job needs this pass. */
static void
job_service(struct agent *ag, struct active *j, int64_t now)
{
	char why[300];

	if (j->fd >= 0)
		job_read(j);
	terms_adopt(ag, j);
	if (j->pid > 0 && waitpid(j->pid, &j->wstatus, WNOHANG) == j->pid) {
		j->pid = -1;
		if (j->fd >= 0)
			job_read(j);	/* what it wrote just before exiting */
	}
	if (j->pid > 0 && j->deadline > 0 && now > j->deadline && j->why[0] == '\0') {
		util_snprintf(j->why, sizeof(j->why), "deadline exceeded");
		log_warn("job %s: deadline exceeded: killing it", j->job.id);
		kill(-j->pid, SIGKILL);
	}
	if (j->pid <= 0 && j->fd < 0 && j->final == NULL) {
		job_exit_reason(j, why, sizeof(why));
		/* A deployment killed half-way must not leave its containers behind. */
		app_after_kill(ag->conf, j->job.kind, j->job.id, j->job.payload);
		db_after_kill(ag->conf, j->job.kind, j->job.id, j->job.payload);
		backup_after_kill(ag->conf, j->job.kind, j->job.id, j->job.payload);
		job_fail(j, why);
		if (j->final == NULL)
			return;	/* out of memory: try again next pass */
	}
	/* Below, only plane calls: none while backing off. */
	if (timefmt_mono_ms() < ag->retry_at)
		return;
	if (now >= j->next_lease)
		job_lease(ag, j, now);
	if (!j->on || timefmt_mono_ms() < ag->retry_at)
		return;
	if (progress_waiting(j) &&
	    (now >= j->next_progress || cJSON_GetArraySize(j->pending) >= PROGRESS_BATCH)) {
		job_progress(ag, j, now);
		if (!j->on || timefmt_mono_ms() < ag->retry_at)
			return;
	}
	/* Completion follows the last progress line. */
	if (j->pid <= 0 && j->fd < 0 && j->final != NULL && !progress_waiting(j) &&
	    now >= j->next_complete)
		job_complete(ag, j, now);
}

/* ------------------------------------------------------------- reports */

/* The reporter's way to the plane: our token, our back-off. */
static enum plane_rc
report_post(void *ud, const char *path, const cJSON *body, struct plane_answer *ans)
{
	struct agent *ag = ud;
	enum plane_rc rc = agent_post(ag, path, body, ans);

	if (rc == PLANE_DOWN || rc == PLANE_UNAUTHORIZED)
		(void)plane_failed(ag, path + 1, rc, ans);
	return rc;
}

/*
 * The isolation chains between project networks made current (netfw.h):
 * at start, after every application or database job (their containers
 * and networks changed) and at every instances report (a cheap check that
 * writes only when something differs).
 */
static void
isolation(struct agent *ag)
{
	bool changed;

	(void)netfw_sync(&ag->x, &ag->a, ag->conf->firewall_chain, &changed, NULL, 0);
}

/*
 * Metrics: a sample at every slot boundary, whatever the plane does (the
 * points wait in the queue), and a batch sent whenever points wait and the
 * plane is not backed off; a backlog drains one batch per pass.
 */
static void
metrics_service(struct agent *ag)
{
	struct plane_answer ans;
	int64_t             now = timefmt_mono_ms(), wall;
	enum plane_rc       rc;

	if (ag->stop_at != 0)
		return;
	if (now >= ag->next_sample) {
		wall = (int64_t)(timefmt_wall() * 1000.0);
		metrics_sample(&ag->met, &ag->x, &ag->a, ag->engine_up, wall,
		    ag->conf->metrics_interval_ms);
		arena_reset(&ag->a);
		now = timefmt_mono_ms();
		ag->next_sample = now + metrics_until_next((int64_t)(timefmt_wall() * 1000.0),
		    ag->conf->metrics_interval_ms);
		ag->next_met_send = now;
	}
	if (ag->met.q.len == 0 || now < ag->next_met_send || now < ag->retry_at)
		return;
	rc = metrics_send(&ag->met, report_post, ag, &ans);
	arena_reset(&ag->a);
	/* The rest of a backlog at the next pass; a failure waits for the
	 * back-off (report_post set it) or, refused, the next sample. */
	ag->next_met_send = metrics_next_send(rc, timefmt_mono_ms(), ag->retry_at, ag->next_sample);
}

/* Instances and runtime logs, when due (never while the engine is down). */
static void
reports(struct agent *ag)
{
	int64_t now = timefmt_mono_ms();

	if (!ag->engine_up || ag->stop_at != 0)
		return;
	if (now >= ag->next_inst && now >= ag->retry_at) {
		isolation(ag);
		(void)report_instances(&ag->rep, &ag->x, &ag->a, report_post, ag);
		arena_reset(&ag->a);
		ag->next_inst = timefmt_mono_ms() + ag->conf->instances_interval_ms;
	}
	now = timefmt_mono_ms();
	follow_service(ag, now);
	if (!ag->conf->logs_follow && now >= ag->next_logs && now >= ag->retry_at) {
		(void)report_logs(&ag->rep, &ag->x, &ag->a, report_post, ag);
		ag->next_logs = timefmt_mono_ms() + ag->conf->logs_interval_ms;
	}
	now = timefmt_mono_ms();
	if (now >= ag->next_vols && now >= ag->retry_at) {
		(void)report_volumes(&ag->rep, &ag->x, &ag->a, report_post, ag);
		arena_reset(&ag->a);
		ag->next_vols = timefmt_mono_ms() + ag->conf->volumes_interval_ms;
	}
}

/* One line of the traffic log into the open points. */
static void
traffic_line(void *ud, const char *line, size_t n)
{
	struct agent       *ag = ud;
	struct traffic_line l;

	if (traffic_parse_line(line, n, &l) == 0) {
		traffic_agg_add(&ag->ta, &l);
		fnscale_seen(&ag->fns, l.app, l.t);	/* a function's last request */
	}
	else if (ag->ta.bad_lines++ % 10000 == 0)
		log_warn("traffic: %s has lines not in the lnchr_traffic format (%llu so far)",
		    ag->conf->traffic_log, (unsigned long long)ag->ta.bad_lines + 1);
}

/*
 * The traffic log read, closed buckets queued, and the queue sent one
 * batch per pass while the plane takes them (traffic.h), as metrics do: a
 * backlog after an outage never holds heartbeats, claims or log reading.
 * Independent of the engine: nginx serves whether the engine answers or not.
 */
static void
traffic_service(struct agent *ag, int64_t now)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *body;
	size_t              n;

	if (!ag->traffic_on || ag->stop_at != 0)
		return;
	if (now >= ag->next_traffic) {
		ag->next_traffic = now + TRAFFIC_READ_MS;
		(void)traffic_tail_read(&ag->tt, now, traffic_line, ag);
		traffic_agg_close(&ag->ta, (int64_t)(timefmt_wall() * 1000));
	}
	if (ag->ta.qn == 0 || now < ag->next_traffic_send || timefmt_mono_ms() < ag->retry_at)
		return;
	if ((body = traffic_agg_batch(&ag->ta, TRAFFIC_BATCH, &n)) == NULL) {
		ag->next_traffic_send = ag->next_traffic;	/* out of memory: at the next read */
		return;
	}
	rc = report_post(ag, "/traffic", body, &ans);
	cJSON_Delete(body);
	arena_reset(&ag->a);
	if (rc == PLANE_REJECTED || rc == PLANE_GONE || rc == PLANE_CONFLICT) {
		log_warn("traffic: %zu points refused by the plane: %s", n, ans.msg);
		traffic_agg_ack(&ag->ta, n);	/* they will never be taken */
	} else if (rc == PLANE_OK)
		traffic_agg_ack(&ag->ta, n);
	/* The rest of a backlog at the next pass; a failure after the back-off
	 * (report_post set it), or at the next read when it set none. */
	now = timefmt_mono_ms();
	ag->next_traffic_send = rc == PLANE_OK || rc == PLANE_REJECTED || rc == PLANE_GONE ||
	    rc == PLANE_CONFLICT ? now : ag->retry_at > now ? ag->retry_at : ag->next_traffic;
}

/* ------------------------------------------------------------------ loop */

static void
agent_init(struct agent *ag, const struct agent_conf *c, const char *token)
{
	memset(ag, 0, sizeof(*ag));
	ag->conf = c;
	util_snprintf(ag->token, sizeof(ag->token), "%s", token);
	xfer_init(&ag->x, c, ag->token);
	arena_init(&ag->a, 64 * 1024);
	ag->hb_ms = c->heartbeat_interval_s * 1000;
	ag->poll_ms = c->poll_interval_ms;
	ag->nslots = 1 + (int)c->invoke_slots;
	for (int i = 0; i < AGENT_SLOTS_MAX; i++) {
		ag->slots[i].pid = -1;
		ag->slots[i].fd = -1;
	}
	report_init(&ag->rep);
	wake_init(&ag->wake);
	if (metrics_init(&ag->met, (size_t)c->metrics_queue_max) != 0)
		log_error("metrics: out of memory for a queue of %lld points: no metrics",
		    (long long)c->metrics_queue_max);
	traffic_tail_init(&ag->tt, c->traffic_log);
	ag->traffic_on = c->traffic_log[0] != '\0' && traffic_agg_init(&ag->ta) == 0;
}

/* The scale to zero's socket: only the loop that runs opens it. */
static void
agent_init_fns(struct agent *ag)
{
	fnscale_init(&ag->fns, ag->conf, ag->traffic_on);
}

static void
agent_cleanup(struct agent *ag)
{
	for (int i = 0; i < ag->nslots; i++)
		job_clear(&ag->slots[i]);
	terms_reap(ag, true);
	follow_stop(ag);
	wake_close(&ag->wake);
	report_free(&ag->rep);
	metrics_free(&ag->met);
	traffic_tail_close(&ag->tt);
	traffic_agg_free(&ag->ta);
	fnscale_close(&ag->fns);
	xfer_cleanup(&ag->x);
	arena_free(&ag->a);
	explicit_bzero(ag->token, sizeof(ag->token));
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Milliseconds until the earliest due timer, at most 1 s. */
static int64_t
next_wake(const struct agent *ag, int64_t now)
{
	int64_t gate = ag->retry_at;	/* plane timers wait for it */
	int64_t t = min64(max64(ag->next_hb, gate), now + 1000);
	bool    busy[AGENT_SLOTS_MAX] = {false};

	slots_busy(ag, busy);
	if (agent_claim_want(busy, ag->nslots) != AGENT_WANT_NONE && ag->stop_at == 0)
		t = min64(t, max64(ag->next_claim, gate));
	for (int i = 0; i < ag->nslots; i++) {
		const struct active *j = &ag->slots[i];

		if (!j->on)
			continue;
		t = min64(t, max64(j->next_lease, gate));
		if (progress_waiting(j))
			t = min64(t, max64(j->next_progress, gate));
		if (j->final != NULL && j->pid <= 0 && j->fd < 0)
			t = min64(t, max64(j->next_complete, gate));
		if (j->deadline > 0 && j->pid > 0)
			t = min64(t, j->deadline + 1);
		if (j->pid > 0 && j->fd < 0)
			t = min64(t, now + 50);	/* pipe closed, waiting for the exit */
	}
	if (ag->stop_at == 0 && ag->wake.fd < 0)
		t = min64(t, ag->wake.retry_at);
	else if (ag->wake.fd >= 0)
		t = min64(t, ag->wake.last_rx + ag->conf->wake_idle_ms);
	if (ag->traffic_on && ag->stop_at == 0) {
		t = min64(t, ag->next_traffic);
		if (ag->ta.qn > 0)
			t = min64(t, max64(ag->next_traffic_send, gate));
	}
	if (ag->stop_at != 0)
		t = min64(t, ag->stop_at + AGENT_STOP_GRACE_MS);
	else {
		t = min64(t, fnscale_next(&ag->fns, now));
		t = min64(t, ag->next_sample);
		if (ag->met.q.len > 0)
			t = min64(t, max64(ag->next_met_send, gate));
	}
	if (ag->stop_at == 0 && ag->engine_up) {
		t = min64(t, max64(ag->next_inst, gate));
		if (!ag->conf->logs_follow)
			t = min64(t, max64(ag->next_logs, gate));
		t = min64(t, max64(ag->next_vols, gate));
	}
	return t > now ? t - now : 0;
}

static int
signals_setup(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t         block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: ppoll must return on a signal. */
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0 || sigaction(SIGCHLD, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &block, wait_mask) != 0)
		return -1;
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGHUP);
	sigdelset(wait_mask, SIGCHLD);
	return 0;
}

/*
 * App containers' host ports are DNAT targets of the engine's firewall
 * rules for as long as those rules exist: a port the kernel also hands out
 * to bind(0) could send another program's loopback traffic into a
 * container.  Says so once when the two ranges overlap.
 */
static void
warn_port_overlap(const struct agent_conf *c)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int   lo, hi, elo, ehi;

	if (f == NULL)
		return;
	if (fscanf(f, "%d %d", &elo, &ehi) == 2 && agent_port_range(c->host_ports, &lo, &hi) == 0 &&
	    lo <= ehi && elo <= hi)
		log_warn("host_ports %d-%d overlaps the kernel's ephemeral ports %d-%d "
		    "(net.ipv4.ip_local_port_range): choose a range outside it", lo, hi, elo, ehi);
	fclose(f);
}

/* Slots running a job; the first one's index into *first (-1 when none). */
static int
slots_on(const struct agent *ag, int *first)
{
	int n = 0;

	*first = -1;
	for (int i = 0; i < ag->nslots; i++)
		if (ag->slots[i].on) {
			if (n++ == 0)
				*first = i;
		}
	return n;
}

int
agent_loop_run(const struct agent_conf *c, const char *token)
{
	struct agent ag;
	sigset_t     wait_mask;
	int64_t      now;

	if (signals_setup(&wait_mask) != 0) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		return 1;
	}
	agent_init(&ag, c, token);
	agent_init_fns(&ag);
	log_info("launcher-agent %s: plane %s, tenant %s, engine %s, heartbeat %lld s, poll %lld ms, "
	    "invoke slots %lld", AGENT_VERSION, c->plane_url, c->tenant, c->engine_socket,
	    (long long)c->heartbeat_interval_s, (long long)c->poll_interval_ms,
	    (long long)c->invoke_slots);
	warn_port_overlap(c);
	isolation(&ag);
	now = timefmt_mono_ms();
	ag.next_hb = ag.next_claim = now;
	ag.next_inst = ag.next_logs = ag.next_vols = now + 1000;	/* after the first heartbeat */
	for (;;) {
		/* The slots' pipes, the wake-up channel, then the functions' wake
		 * socket and its connections (fnscale.h). */
		struct pollfd   pfd[AGENT_SLOTS_MAX + 1 + 1 + FNSCALE_CONNS];
		struct timespec ts;
		int64_t         wait_ms;
		int             running, first, npfd;

		now = timefmt_mono_ms();
		running = slots_on(&ag, &first);
		if (got_stop && ag.stop_at == 0) {
			ag.stop_at = now;
			if (running > 0)
				log_info("stopping: waiting up to %d s for job %s%s", AGENT_STOP_GRACE_MS / 1000,
				    ag.slots[first].job.id, running > 1 ? " and the others running" : "");
			else
				log_info("stopping");
		}
		if (got_hup) {
			got_hup = 0;
			log_info("SIGHUP: re-reading the token");
			token_reload(&ag);
		}
		if (ag.stop_at != 0 && running == 0)
			break;
		if (ag.stop_at != 0 && now >= ag.stop_at + AGENT_STOP_GRACE_MS) {
			log_warn("job %s%s: not finished %d s after the stop request: killed; the plane "
			    "re-queues it when its lease expires", ag.slots[first].job.id,
			    running > 1 ? " and the others running" : "", AGENT_STOP_GRACE_MS / 1000);
			break;
		}
		if (now >= ag.next_hb && now >= ag.retry_at)
			heartbeat(&ag, now);
		terms_reap(&ag, false);
		for (int i = 0; i < ag.nslots; i++)
			if (ag.slots[i].on) {
				job_service(&ag, &ag.slots[i], timefmt_mono_ms());
				arena_reset(&ag.a);
			}
		if (ag.stop_at == 0 && now >= ag.next_claim && timefmt_mono_ms() >= ag.retry_at)
			claim(&ag, now);
		arena_reset(&ag.a);
		reports(&ag);
		arena_reset(&ag.a);
		metrics_service(&ag);
		traffic_service(&ag, timefmt_mono_ms());
		if (ag.stop_at == 0)
			fnscale_service(&ag.fns, timefmt_mono_ms());
		now = timefmt_mono_ms();
		/* (Re)open the wake-up channel when due; a fresh one may have
		 * missed a wake-up, so claim at once. */
		(void)wake_check(&ag.wake, now, c->wake_idle_ms);
		if (ag.stop_at == 0 && wake_connect(&ag.wake, c, ag.token, now) == 1)
			ag.next_claim = now = timefmt_mono_ms();
		wait_ms = next_wake(&ag, now);
		ts.tv_sec = (time_t)(wait_ms / 1000);
		ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
		for (int i = 0; i < ag.nslots; i++)
			pfd[i] = (struct pollfd){.fd = ag.slots[i].fd, .events = POLLIN};	/* < 0: ignored */
		pfd[ag.nslots] = (struct pollfd){.fd = ag.wake.fd, .events = POLLIN};
		npfd = ag.nslots + 1 + (ag.stop_at == 0 ?
		    fnscale_pollfds(&ag.fns, pfd + ag.nslots + 1, 1 + FNSCALE_CONNS) : 0);
		if (ppoll(pfd, (nfds_t)npfd, &ts, &wait_mask) < 0 && errno != EINTR) {
			log_error("ppoll: %s", strerror(errno));
			sleep(1);
		}
		if (pfd[ag.nslots].fd >= 0 && (pfd[ag.nslots].revents & (POLLIN | POLLERR | POLLHUP)) &&
		    wake_read(&ag.wake, timefmt_mono_ms()) > 0) {
			/* A job was queued (claim now, when a slot is free) or
			 * cancelled (renew every lease now: the answer says which). */
			now = timefmt_mono_ms();
			for (int i = 0; i < ag.nslots; i++)
				if (ag.slots[i].on)
					ag.slots[i].next_lease = now;
			ag.next_claim = now;
		}
	}
	agent_cleanup(&ag);
	log_info("stopped");
	return 0;
}

int
agent_loop_once_heartbeat(const struct agent_conf *c, const char *token)
{
	struct agent        ag;
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *body;
	char               *text;
	int                 code = 1;

	signal(SIGPIPE, SIG_IGN);
	agent_init(&ag, c, token);
	if ((body = heartbeat_body(&ag)) == NULL) {
		log_error("heartbeat: out of memory");
		goto out;
	}
	rc = agent_post(&ag, "/heartbeat", body, &ans);
	if (rc != PLANE_OK) {
		log_error("heartbeat: %s (%s)", plane_rc_name(rc), ans.msg);
		goto out;
	}
	if ((text = cJSON_Print(ans.data)) != NULL) {
		printf("%s\n", text);
		cJSON_free(text);
	}
	code = 0;
out:
	agent_cleanup(&ag);
	return code;
}
