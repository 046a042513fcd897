/*
 * follow.c - runtime logs followed as streams (see follow.h).
 */
#include "follow.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/util.h"
#include "ctr.h"
#include "engine.h"
#include "loop.h"
#include "plane.h"
#include "report.h"
#include "runner.h"
#include "timefmt.h"
#include "xfer.h"

/* One managed container: its cursor lives as long as it is listed. */
struct fctr {
	struct log_cursor cur;
	char              app[64], dep[64], db[64];
	CURL             *h;		/* the follow transfer; NULL when none */
	struct log_take   take;		/* while h */
	bool              listed;
	int               missing;	/* lists in a row without it */
};

struct fol {
	const struct agent_conf *c;
	struct xfer              x;
	struct arena             a;
	struct report            rep;	/* pending lines; report_ship's state */
	CURLM                   *m;
	struct fctr             *ctr[FOLLOW_MAX];
	size_t                   n;
	time_t                   started;	/* wall clock */
	int64_t                  pending_since;	/* mono ms; 0 = nothing pending */
	int64_t                  retry_at, backoff_ms;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct fctr *f = ud;

	(void)report_take_feed(&f->take, p, size * nmemb);
	return size * nmemb;
}

static void
stream_end(struct fol *s, struct fctr *f)
{
	if (f->h == NULL)
		return;
	curl_multi_remove_handle(s->m, f->h);
	curl_easy_cleanup(f->h);
	f->h = NULL;
	(void)report_take_end(&f->take);
}

static void
stream_start(struct fol *s, struct fctr *f, bool from_start)
{
	char since[48], url[512];

	if (f->cur.have && app_ts_since(f->cur.last, since, sizeof(since)) == 0)
		(void)util_snprintf(url, sizeof(url), "http://d" ENGINE_API "/containers/%s/logs?"
		    "follow=1&stdout=1&stderr=1&timestamps=1&since=%s", f->cur.id, since);
	else if (from_start)
		(void)util_snprintf(url, sizeof(url), "http://d" ENGINE_API "/containers/%s/logs?"
		    "follow=1&stdout=1&stderr=1&timestamps=1", f->cur.id);
	else
		(void)util_snprintf(url, sizeof(url), "http://d" ENGINE_API "/containers/%s/logs?"
		    "follow=1&stdout=1&stderr=1&timestamps=1&tail=%d", f->cur.id, REPORT_FIRST_TAIL);
	if (report_take_begin(&f->take, &f->cur, f->app[0] ? f->app : NULL, f->dep,
	    f->app[0] ? NULL : f->db, s->rep.pending) != 0)
		return;
	if ((f->h = curl_easy_init()) == NULL) {
		(void)report_take_end(&f->take);
		return;
	}
	curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->h, CURLOPT_UNIX_SOCKET_PATH, s->c->engine_socket);
	curl_easy_setopt(f->h, CURLOPT_URL, url);
	curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(f->h, CURLOPT_FAILONERROR, 1L);
	if (curl_multi_add_handle(s->m, f->h) != CURLM_OK) {
		curl_easy_cleanup(f->h);
		f->h = NULL;
		(void)report_take_end(&f->take);
	}
}

static const char *
label(const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "Labels"),
	    key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Starts a stream for every running managed container that has none. */
static void
list(struct fol *s)
{
	cJSON *items, *it;
	char   err[512];
	size_t w = 0;

	if (ctr_list(&s->x, &s->a, NULL, 0, REPORT_ENGINE_TIMEOUT_MS, &items, err, sizeof(err)) != 0) {
		log_debug("logs: %s", err);
		arena_reset(&s->a);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->ctr[i]->listed = false;
	cJSON_ArrayForEach(it, items) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "State");
		const cJSON *cr = cJSON_GetObjectItemCaseSensitive(it, "Created");
		const char  *app = label(it, "launcher.app"), *db = label(it, "launcher.database");
		const char  *dep = label(it, "launcher.deployment");
		bool         running = cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0;
		struct fctr *f = NULL;

		if (!cJSON_IsString(id) || (app == NULL && db == NULL))
			continue;
		for (size_t i = 0; i < s->n && f == NULL; i++)
			if (strcmp(s->ctr[i]->cur.id, id->valuestring) == 0)
				f = s->ctr[i];
		if (f == NULL) {
			if (!running || s->n == FOLLOW_MAX || (f = calloc(1, sizeof(*f))) == NULL)
				continue;
			(void)util_snprintf(f->cur.id, sizeof(f->cur.id), "%s", id->valuestring);
			(void)util_snprintf(f->app, sizeof(f->app), "%s", app != NULL ? app : "");
			(void)util_snprintf(f->dep, sizeof(f->dep), "%s", dep != NULL ? dep : "");
			(void)util_snprintf(f->db, sizeof(f->db), "%s", db != NULL ? db : "");
			s->ctr[s->n++] = f;
		}
		f->listed = true;
		f->missing = 0;
		if (running && f->h == NULL)
			stream_start(s, f, cJSON_IsNumber(cr) && cr->valuedouble >= (double)s->started - 1);
	}
	/*
	 * Forget the containers that vanished (their stream ended with them),
	 * after FOLLOW_FORGET_LISTS lists without them: the engine's list may
	 * leave out a container that is being stopped or started, and a cursor
	 * forgotten then would ship its lines again.
	 */
	for (size_t i = 0; i < s->n; i++) {
		if (s->ctr[i]->listed || s->ctr[i]->h != NULL ||
		    ++s->ctr[i]->missing < FOLLOW_FORGET_LISTS)
			s->ctr[w++] = s->ctr[i];
		else
			free(s->ctr[i]);
	}
	s->n = w;
	arena_reset(&s->a);
}

static enum plane_rc
post(void *ud, const char *path, const cJSON *body, struct plane_answer *ans)
{
	struct fol *s = ud;

	return plane_post(&s->x, &s->a, path, body, ans);
}

static void
ship(struct fol *s, int64_t now)
{
	int rc = report_ship(&s->rep, post, s);

	arena_reset(&s->a);
	if (rc == 0) {
		s->backoff_ms = 0;
		s->pending_since = 0;
		return;
	}
	s->backoff_ms = agent_backoff_next(s->backoff_ms);
	s->retry_at = now + s->backoff_ms;
	log_warn("runtime logs: the plane did not take them; retrying in %.0f s",
	    s->backoff_ms / 1000.0);
}

static int
follower(const struct agent_conf *c, const char *token)
{
	struct fol s = {.c = c};
	int64_t    next_list = 0, now;

	xfer_init(&s.x, c, token);
	arena_init(&s.a, 64 * 1024);
	report_init(&s.rep);
	s.started = time(NULL);
	log_info("logs: following the containers' logs (process %d)", (int)getpid());
	if ((s.m = curl_multi_init()) == NULL || s.rep.pending == NULL) {
		log_error("logs: cannot set up the follower (out of memory)");
		return 1;
	}
	for (;;) {
		int             running, left, timeout;
		CURLMsg        *msg;

		now = timefmt_mono_ms();
		if (now >= next_list) {
			list(&s);
			next_list = timefmt_mono_ms() + FOLLOW_LIST_MS;
		}
		(void)curl_multi_perform(s.m, &running);
		while ((msg = curl_multi_info_read(s.m, &left)) != NULL) {
			struct fctr *f = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			if (f != NULL)
				stream_end(&s, f);	/* read to its end; listed again if it runs */
		}
		report_bound_pending(&s.rep);
		now = timefmt_mono_ms();
		if (cJSON_GetArraySize(s.rep.pending) > 0) {
			if (s.pending_since == 0)
				s.pending_since = now;
			if (now >= s.retry_at && (now >= s.pending_since + FOLLOW_COALESCE_MS ||
			    cJSON_GetArraySize(s.rep.pending) >= REPORT_BATCH_ENTRIES))
				ship(&s, now);
		}
		now = timefmt_mono_ms();
		timeout = (int)(next_list > now ? next_list - now : 0);
		if (s.pending_since != 0) {
			int64_t due = s.pending_since + FOLLOW_COALESCE_MS;

			if (due < s.retry_at)
				due = s.retry_at;
			if (due - now < timeout)
				timeout = (int)(due > now ? due - now : 0);
		}
		(void)curl_multi_poll(s.m, NULL, 0, timeout, NULL);
	}
	return 0;
}

struct spawn {
	const struct agent_conf *c;
	const char              *token;
};

static int
spawn_body(void *ud, int fd)
{
	struct spawn *s = ud;

	/*
	 * Nothing to report (it runs until killed); and none of the loop's
	 * descriptors (its wake-up socket, its cached plane connections) stay
	 * open here for as long as it lives: the loop's closing them must
	 * reach the peer.
	 */
	(void)fd;
	(void)close_range(3, ~0U, 0);
	return follower(s->c, s->token);
}

int
follow_spawn(const struct agent_conf *c, const char *token, pid_t *pid)
{
	struct spawn s = {c, token};
	int          fd;

	if (runner_fork("logs", spawn_body, &s, pid, &fd) != 0)
		return -1;
	close(fd);
	return 0;
}
