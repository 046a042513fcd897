/*
 * report.c - instances and runtime logs for the plane (see report.h).
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "ctr.h"
#include "engine.h"
#include "fnscale.h"
#include "text.h"
#include "volume.h"

void
report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->pending = cJSON_CreateArray();
}

void
report_free(struct report *r)
{
	free(r->cur);
	free(r->cpu);
	cJSON_Delete(r->pending);
	memset(r, 0, sizeof(*r));
}

/* An older plane without the route: say so once, keep going. */
static bool
unsupported(const struct plane_answer *ans, bool *logged, const char *what)
{
	if (ans->status != 404 && ans->status != 405)
		return false;
	if (!*logged)
		log_warn("the plane does not accept %s (HTTP %ld): not reported (logged once)", what,
		    ans->status);
	*logged = true;
	return true;
}

static const char *
list_label(const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "Labels"),
	    key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
report_instances(struct report *r, struct xfer *x, struct arena *a, report_post_fn post, void *ud)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *list, *it, *body, *arr;
	char                err[512];
	struct cpu_prev    *cpu;
	size_t              ncpu = 0;

	if (ctr_list(x, a, NULL, 0, REPORT_ENGINE_TIMEOUT_MS, &list, err, sizeof(err)) != 0) {
		log_debug("instances: %s (not reported)", err);
		return -1;
	}
	cpu = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*cpu));
	if (cpu == NULL || (body = cJSON_CreateObject()) == NULL) {
		free(cpu);
		return -1;
	}
	arr = cJSON_AddArrayToObject(body, "instances");
	cJSON_ArrayForEach(it, list) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		cJSON       *doc, *inst;

		if (!cJSON_IsString(id) ||
		    ctr_inspect(x, a, id->valuestring, REPORT_ENGINE_TIMEOUT_MS, &doc, err, sizeof(err)) != 0)
			continue;
		/* Applications' containers, databases' (db.h: the crash signal) and
		 * the managed object store's (bucket.h: the same). */
		if (ctr_label(doc, "launcher.app") == NULL &&
		    ctr_label(doc, "launcher.database") == NULL &&
		    ctr_label(doc, "launcher.objstore") == NULL)
			continue;
		if ((inst = ctr_instance(doc, true, NULL)) == NULL)
			continue;
		/* A function's container stopped for idleness (fnscale.h). */
		if (ctr_label(doc, "launcher.function") != NULL && !ctr_running(doc)) {
			char zero[AGENT_STR_MAX + 64];

			if (fnscale_path(x->conf, ctr_label(doc, "launcher.function"), ".zero", zero,
			    sizeof(zero)) == 0 && access(zero, F_OK) == 0)
				cJSON_AddBoolToObject(inst, "scaled_to_zero", true);
		}
		/*
		 * One stats call per running container; without figures (null)
		 * when it fails or the container is not running: the plane
		 * keeps no stale ones.
		 */
		{
			double                 pct = -1;
			int64_t                mem = -1;
			const struct cpu_prev *prev = NULL;

			for (size_t i = 0; i < r->ncpu; i++)
				if (strcmp(r->cpu[i].id, id->valuestring) == 0)
					prev = &r->cpu[i];
			if (ctr_running(doc)) {
				if (ctr_stats(x, a, id->valuestring, REPORT_ENGINE_TIMEOUT_MS,
				    prev != NULL ? &prev->s : NULL, &cpu[ncpu].s, &pct, &mem, err,
				    sizeof(err)) != 0)
					log_debug("instances: %s (reported without them)", err);
				else if (cpu[ncpu].s.system > 0) {
					(void)util_snprintf(cpu[ncpu].id, sizeof(cpu[ncpu].id), "%s",
					    id->valuestring);
					ncpu++;
				}
			}
			if (pct >= 0)
				cJSON_AddNumberToObject(inst, "cpu_percent", pct);
			else
				cJSON_AddNullToObject(inst, "cpu_percent");
			if (mem >= 0)
				cJSON_AddNumberToObject(inst, "memory_bytes", (double)mem);
			else
				cJSON_AddNullToObject(inst, "memory_bytes");
		}
		cJSON_AddItemToArray(arr, inst);
	}
	/* Only the containers seen running now: vanished ones are forgotten. */
	free(r->cpu);
	r->cpu = cpu;
	r->ncpu = ncpu;
	rc = post(ud, "/instances", body, &ans);
	cJSON_Delete(body);
	if (rc == PLANE_OK)
		return 0;
	if (unsupported(&ans, &r->inst_unsupported_logged, "instance reports"))
		return 0;
	if (rc == PLANE_REJECTED)
		log_warn("instances report rejected: %s", ans.msg);
	return -1;
}

int
report_volumes(struct report *r, struct xfer *x, struct arena *a, report_post_fn post, void *ud)
{
	struct plane_answer ans;
	enum plane_rc       rc;
	cJSON              *items, *body;
	char                err[512];

	if (vol_usage(x, a, REPORT_VOLUMES_TIMEOUT_MS, &items, err, sizeof(err)) != 0) {
		log_debug("volumes: %s (not reported)", err);
		return -1;
	}
	if (cJSON_GetArraySize(items) == 0 || (body = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(items);
		return 0;
	}
	cJSON_AddItemToObject(body, "volumes", items);
	rc = post(ud, "/volumes", body, &ans);
	cJSON_Delete(body);
	if (rc == PLANE_OK || unsupported(&ans, &r->vols_unsupported_logged, "volume reports"))
		return 0;
	if (rc == PLANE_REJECTED)
		log_warn("volumes report rejected: %s", ans.msg);
	return -1;
}

/* ---------------------------------------------------------------- logs */

static void
take_line(void *ud, int stream, const char *line, size_t n)
{
	struct log_take *t = ud;
	struct app_ts    ts;
	size_t        off;
	char          msg[REPORT_LINE_MAX + 8], stamp[48];
	cJSON        *e;

	if (app_log_ts(line, n, &ts, &off) != 0)
		return;	/* not a timestamped line */
	if (t->c->have) {
		int cmp = app_ts_cmp(ts, t->c->last);

		if (cmp < 0)
			return;	/* shipped already */
		if (cmp == 0 && t->skip > 0) {
			t->skip--;	/* shipped already, at the same stamp */
			return;
		}
	}
	if (!t->c->have || app_ts_cmp(ts, t->c->last) > 0) {
		t->c->last = ts;
		t->c->have = true;
		t->c->at_last = 0;
		t->skip = 0;
	}
	t->c->at_last++;
	n -= off;
	if (n > REPORT_LINE_MAX + 1)
		n = REPORT_LINE_MAX + 1;
	memcpy(msg, line + off, n);
	msg[n] = '\0';
	text_truncate(msg, REPORT_LINE_MAX);
	util_sanitize(msg, 0);
	if (app_ts_rfc3339(ts, stamp, sizeof(stamp)) != 0 || (e = cJSON_CreateObject()) == NULL)
		return;
	if (t->app != NULL) {
		cJSON_AddStringToObject(e, "app_id", t->app);
		cJSON_AddStringToObject(e, "deployment_id", t->dep);
	} else
		cJSON_AddStringToObject(e, "database_id", t->db);
	cJSON_AddStringToObject(e, "container_id", t->c->id);
	cJSON_AddStringToObject(e, "timestamp", stamp);
	cJSON_AddStringToObject(e, "stream", stream == 2 ? "stderr" : "stdout");
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddItemToArray(t->entries, e);
	t->added++;
}

int
report_take_lines(struct log_cursor *c, const char *body, size_t len, const char *app_id,
    const char *deployment_id, cJSON *entries)
{
	return report_take_db_lines(c, body, len, app_id, deployment_id, NULL, entries);
}

int
report_take_begin(struct log_take *t, struct log_cursor *c, const char *app_id,
    const char *deployment_id, const char *database_id, cJSON *entries)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->app = app_id;
	t->dep = deployment_id;
	t->db = database_id;
	t->entries = entries;
	t->skip = c->have ? c->at_last : 0;
	/* +64: room for the timestamp in front of a line of REPORT_LINE_MAX. */
	return app_demux_init(&t->d, REPORT_LINE_MAX + 64);
}

int
report_take_feed(struct log_take *t, const char *data, size_t len)
{
	int before = t->added;

	(void)app_demux_feed(&t->d, data, len, take_line, t);
	return t->added - before;
}

int
report_take_end(struct log_take *t)
{
	int before = t->added;

	(void)app_demux_end(&t->d, take_line, t);
	app_demux_free(&t->d);
	return t->added - before;
}

int
report_take_db_lines(struct log_cursor *c, const char *body, size_t len, const char *app_id,
    const char *deployment_id, const char *database_id, cJSON *entries)
{
	struct log_take t;

	if (report_take_begin(&t, c, app_id, deployment_id, database_id, entries) != 0)
		return 0;
	(void)report_take_feed(&t, body, len);
	(void)report_take_end(&t);
	return t.added;
}

static struct log_cursor *
cursor(struct report *r, const char *id)
{
	struct log_cursor *c;

	for (size_t i = 0; i < r->ncur; i++)
		if (strcmp(r->cur[i].id, id) == 0)
			return &r->cur[i];
	if (r->ncur == r->capcur) {
		size_t cap = r->capcur ? r->capcur * 2 : 16;

		if ((c = realloc(r->cur, cap * sizeof(*c))) == NULL)
			return NULL;
		r->cur = c;
		r->capcur = cap;
	}
	c = &r->cur[r->ncur++];
	memset(c, 0, sizeof(*c));
	(void)util_snprintf(c->id, sizeof(c->id), "%s", id);
	return c;
}

/* Keeps the pending buffer bounded: the oldest lines go first. */
void
report_bound_pending(struct report *r)
{
	int n = cJSON_GetArraySize(r->pending), drop = n - REPORT_PENDING_MAX;

	if (drop <= 0)
		return;
	for (int i = 0; i < drop; i++)
		cJSON_DeleteItemFromArray(r->pending, 0);
	r->dropped += drop;
	log_warn("runtime logs: the plane is not taking them; dropped the %d oldest lines "
	    "(%lld so far)", drop, (long long)r->dropped);
}

static void
gather(struct report *r, struct xfer *x, struct arena *a)
{
	cJSON *list, *it;
	char   err[512], since[48];
	size_t w = 0;

	if (ctr_list(x, a, NULL, 0, REPORT_ENGINE_TIMEOUT_MS, &list, err, sizeof(err)) != 0)
		return;
	for (size_t i = 0; i < r->ncur; i++)
		r->cur[i].listed = false;
	cJSON_ArrayForEach(it, list) {
		const cJSON       *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		const cJSON       *st = cJSON_GetObjectItemCaseSensitive(it, "State");
		const char        *app = list_label(it, "launcher.app");
		const char        *dep = list_label(it, "launcher.deployment");
		const char        *db = list_label(it, "launcher.database");
		bool               running = cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0;
		struct log_cursor *c = NULL;
		struct xfer_resp   resp;
		const char        *path;

		if (!cJSON_IsString(id) || (app == NULL && db == NULL))
			continue;
		for (size_t i = 0; i < r->ncur; i++)
			if (strcmp(r->cur[i].id, id->valuestring) == 0)
				c = &r->cur[i];
		if (!running && c == NULL)
			continue;	/* stopped before we saw it run: nothing new */
		if (c == NULL && (c = cursor(r, id->valuestring)) == NULL)
			continue;
		c->listed = true;
		if (!running && !c->running)
			continue;	/* read once more after it stopped, then not again */
		c->running = running;
		if (c->have && app_ts_since(c->last, since, sizeof(since)) == 0)
			path = arena_printf(a, ENGINE_API "/containers/%s/logs?stdout=1&stderr=1&"
			    "timestamps=1&since=%s", id->valuestring, since);
		else
			path = arena_printf(a, ENGINE_API "/containers/%s/logs?stdout=1&stderr=1&"
			    "timestamps=1&tail=%d", id->valuestring, REPORT_FIRST_TAIL);
		if (xfer_engine(x, a, path, REPORT_ENGINE_TIMEOUT_MS, &resp) != 0 || resp.status != 200)
			continue;
		(void)report_take_db_lines(c, resp.body, resp.len, app, dep != NULL ? dep : "",
		    app == NULL ? db : NULL, r->pending);
	}
	/* Forget containers that vanished. */
	for (size_t i = 0; i < r->ncur; i++)
		if (r->cur[i].listed)
			r->cur[w++] = r->cur[i];
	r->ncur = w;
	report_bound_pending(r);
}

int
report_logs(struct report *r, struct xfer *x, struct arena *a, report_post_fn post, void *ud)
{
	if (r->pending == NULL && (r->pending = cJSON_CreateArray()) == NULL)
		return -1;
	gather(r, x, a);
	return report_ship(r, post, ud);
}

int
report_ship(struct report *r, report_post_fn post, void *ud)
{
	while (cJSON_GetArraySize(r->pending) > 0) {
		struct plane_answer ans;
		enum plane_rc       rc;
		cJSON              *body = cJSON_CreateObject(), *arr;
		size_t              bytes = 0;
		int                 n = 0;

		if (body == NULL || (arr = cJSON_AddArrayToObject(body, "entries")) == NULL) {
			cJSON_Delete(body);
			return -1;
		}
		for (const cJSON *e = r->pending->child; e != NULL && n < REPORT_BATCH_ENTRIES;
		    e = e->next) {
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
			size_t       sz = 256 + (cJSON_IsString(m) ? strlen(m->valuestring) * 2 : 0);

			if (n > 0 && bytes + sz > REPORT_BATCH_BYTES)
				break;
			bytes += sz;
			cJSON_AddItemToArray(arr, cJSON_Duplicate(e, 1));
			n++;
		}
		rc = post(ud, "/logs", body, &ans);
		cJSON_Delete(body);
		if (rc == PLANE_OK || rc == PLANE_REJECTED ||
		    unsupported(&ans, &r->logs_unsupported_logged, "runtime logs")) {
			if (rc == PLANE_REJECTED && ans.status != 404 && ans.status != 405)
				log_warn("runtime logs rejected (%s): dropping %d lines", ans.msg, n);
			for (int i = 0; i < n; i++)
				cJSON_DeleteItemFromArray(r->pending, 0);
			continue;
		}
		return -1;	/* kept for the next tick */
	}
	return 0;
}
