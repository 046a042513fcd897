/*
 * volume.c - engine volumes of the plane's volumes (contract in volume.h).
 */
#include "volume.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "../core/util.h"
#include "ctr.h"
#include "engine.h"
#include "text.h"

int
vol_engine_name(const char *volume_id, char *out, size_t outlen)
{
	if (volume_id == NULL || volume_id[0] == '\0' ||
	    !text_word_ok(volume_id, APP_ID_MAX - 1, "-_"))
		return -1;
	return util_snprintf(out, outlen, VOL_PREFIX "%s", volume_id) < 0 ? -1 : 0;
}

static const char *
label(const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc,
	    "Labels"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
label_is(const cJSON *doc, const char *key, const char *want)
{
	const char *v = label(doc, key);

	return v != NULL && strcmp(v, want) == 0;
}

bool
vol_is_ours(const cJSON *doc, const char *volume_id, const char *tenant_id)
{
	return label_is(doc, "launcher.managed", "1") && label_is(doc, "launcher.volume", volume_id) &&
	    (tenant_id == NULL || label_is(doc, "launcher.tenant", tenant_id));
}

/* GET /volumes/<name>: 0 with *doc (caller frees), 1 absent, -1 (err). */
static int
inspect(struct xfer *x, struct arena *a, const char *name, cJSON **doc, char *err, size_t errlen)
{
	struct xfer_resp r;
	char             msg[420];

	*doc = NULL;
	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/volumes/%s", ctr_qs_escape(a, name)),
	    VOL_TIMEOUT_MS, &r) != 0) {
		util_snprintf(err, errlen, "volume %s: %s", name, r.err);
		return -1;
	}
	if (r.status == 404)
		return 1;
	if (r.status != 200 || (*doc = cJSON_Parse(r.body)) == NULL) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "volume %s: %s", name, msg);
		return -1;
	}
	return 0;
}

/* POST /volumes/create of name for s (size: 0 = none); 0, or -1 with msg. */
static int
create(struct xfer *x, struct arena *a, const struct app_spec *s, const struct app_volume *v,
    const char *name, int64_t size, char *msg, size_t msglen)
{
	cJSON           *b = cJSON_CreateObject(), *labels, *opts;
	struct xfer_resp r;
	char            *text, o[64];
	int              rc;

	if (b == NULL)
		return -1;
	cJSON_AddStringToObject(b, "Name", name);
	cJSON_AddStringToObject(b, "Driver", "local");
	labels = cJSON_AddObjectToObject(b, "Labels");
	cJSON_AddStringToObject(labels, "launcher.managed", "1");
	cJSON_AddStringToObject(labels, "launcher.tenant", s->tenant_id);
	cJSON_AddStringToObject(labels, "launcher.project", s->project_id);
	cJSON_AddStringToObject(labels, "launcher.volume", v->volume_id);
	if (size > 0) {
		opts = cJSON_AddObjectToObject(b, "DriverOpts");
		(void)util_snprintf(o, sizeof(o), "size=%lld", (long long)size);
		cJSON_AddStringToObject(opts, "o", o);
	}
	text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	if (text == NULL)
		return -1;
	rc = xfer_engine_call(x, a, "POST", ENGINE_API "/volumes/create", text, VOL_TIMEOUT_MS, &r);
	cJSON_free(text);
	if (rc != 0) {
		util_snprintf(msg, msglen, "%s", r.err);
		return -1;
	}
	if (r.status != 201 && r.status != 200) {
		ctr_engine_msg(&r, msg, msglen);
		return -1;
	}
	return 0;
}

int
vol_ensure(struct xfer *x, struct arena *a, const struct app_spec *s,
    const struct app_volume *v, char *warning, size_t wlen, char *err, size_t errlen)
{
	char   name[VOL_NAME_MAX], msg[420];
	cJSON *doc;
	int    rc;

	warning[0] = '\0';
	if (vol_engine_name(v->volume_id, name, sizeof(name)) != 0) {
		util_snprintf(err, errlen, "bad volume id");
		return -1;
	}
	if ((rc = inspect(x, a, name, &doc, err, errlen)) < 0)
		return -1;
	if (rc == 0) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc,
		    "Options"), "o");
		bool         ours = vol_is_ours(doc, v->volume_id, s->tenant_id);

		cJSON_Delete(doc);
		if (!ours) {
			util_snprintf(err, errlen, "engine volume %s exists but does not carry launcher's "
			    "labels for this volume: not mounting it (rename or remove it on the server)",
			    name);
			return -1;
		}
		if (v->size_limit > 0 && !(cJSON_IsString(o) && strstr(o->valuestring, "size=")))
			util_snprintf(warning, wlen, "size_limit is not enforced: engine volume %s was "
			    "created without a size (the limit was set later, or the engine refused it)",
			    name);
		return 0;
	}
	if (v->size_limit > 0) {
		if (create(x, a, s, v, name, v->size_limit, msg, sizeof(msg)) == 0)
			return 0;
		/* The local driver takes a size only where quotas work (Podman:
		 * XFS project quotas); the volume is made without one. */
		util_snprintf(warning, wlen, "size_limit is not enforced: the engine's local volume "
		    "driver refused a size here (%s); the volume was created without a limit", msg);
	}
	if (create(x, a, s, v, name, 0, msg, sizeof(msg)) != 0) {
		util_snprintf(err, errlen, "creating engine volume %s: %s", name, msg);
		return -1;
	}
	return 0;
}

static void
nap_1s(void)
{
	struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
removed(cJSON **result, bool yes, const char *reason)
{
	if ((*result = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddBoolToObject(*result, "removed", yes);
	cJSON_AddStringToObject(*result, "reason", reason);
	return 0;
}

int
vol_remove(struct xfer *x, struct arena *a, const cJSON *payload,
    void (*say)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen)
{
	const cJSON     *id = cJSON_GetObjectItemCaseSensitive(payload, "volume_id");
	const cJSON     *tenant = cJSON_GetObjectItemCaseSensitive(payload, "tenant_id");
	char             name[VOL_NAME_MAX], line[600], msg[420];
	struct xfer_resp r;
	cJSON           *doc;
	bool             ours;
	int              rc;

	*result = NULL;
	if (!cJSON_IsString(id) || !cJSON_IsString(tenant) ||
	    vol_engine_name(id->valuestring, name, sizeof(name)) != 0) {
		util_snprintf(err, errlen, "bad payload: volume_id and tenant_id are required");
		return -1;
	}
	if ((rc = inspect(x, a, name, &doc, err, errlen)) < 0)
		return -1;
	if (rc == 1) {
		util_snprintf(line, sizeof(line), "engine volume %s does not exist: nothing to remove",
		    name);
		say(ud, line);
		return removed(result, false, "no such engine volume");
	}
	ours = vol_is_ours(doc, id->valuestring, tenant->valuestring);
	cJSON_Delete(doc);
	if (!ours) {
		util_snprintf(line, sizeof(line), "engine volume %s does not carry launcher's labels "
		    "for this volume: left alone", name);
		say(ud, line);
		return removed(result, false, "the engine volume does not carry launcher's labels");
	}
	for (int t = 0;; t++) {
		if (xfer_engine_call(x, a, "DELETE", arena_printf(a, ENGINE_API "/volumes/%s", name),
		    NULL, VOL_TIMEOUT_MS, &r) != 0) {
			util_snprintf(err, errlen, "removing engine volume %s: %s", name, r.err);
			return -1;
		}
		if (r.status == 204 || r.status == 200 || r.status == 404)
			break;
		ctr_engine_msg(&r, msg, sizeof(msg));
		/* In use: the app.remove of its last user may still be running. */
		if (r.status != 409 || t >= VOL_BUSY_WAIT_S) {
			util_snprintf(err, errlen, "removing engine volume %s: %s", name, msg);
			return -1;
		}
		if (t == 0) {
			util_snprintf(line, sizeof(line), "engine volume %s is in use (%s); waiting up "
			    "to %d s", name, msg, VOL_BUSY_WAIT_S);
			say(ud, line);
		}
		nap_1s();
	}
	util_snprintf(line, sizeof(line), "engine volume %s removed", name);
	say(ud, line);
	return removed(result, true, "removed");
}

cJSON *
vol_usage_items(const cJSON *list, const cJSON *df)
{
	cJSON       *out = cJSON_CreateArray();
	const cJSON *it, *dv;

	if (out == NULL)
		return NULL;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "Volumes")) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "Name");
		const char  *id = label(it, "launcher.volume");
		char         want[VOL_NAME_MAX];

		/* Ours and named as ours (an id label on another name is not). */
		if (!cJSON_IsString(n) || id == NULL || !label_is(it, "launcher.managed", "1") ||
		    vol_engine_name(id, want, sizeof(want)) != 0 || strcmp(want, n->valuestring) != 0)
			continue;
		cJSON_ArrayForEach(dv, cJSON_GetObjectItemCaseSensitive(df, "Volumes")) {
			const cJSON *dn = cJSON_GetObjectItemCaseSensitive(dv, "Name");
			const cJSON *sz = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(dv, "UsageData"), "Size");
			cJSON       *item;

			if (!cJSON_IsString(dn) || strcmp(dn->valuestring, n->valuestring) != 0)
				continue;
			if (!cJSON_IsNumber(sz) || sz->valuedouble < 0)
				break;	/* the engine did not size it */
			if ((item = cJSON_CreateObject()) == NULL)
				break;
			cJSON_AddStringToObject(item, "volume_id", id);
			cJSON_AddNumberToObject(item, "used_bytes", sz->valuedouble);
			cJSON_AddItemToArray(out, item);
			break;
		}
	}
	return out;
}

int
vol_usage(struct xfer *x, struct arena *a, long timeout_ms, cJSON **items, char *err,
    size_t errlen)
{
	struct xfer_resp r;
	cJSON           *list = NULL, *df = NULL;

	*items = NULL;
	if (xfer_engine(x, a, ENGINE_API "/volumes?filters=%7B%22label%22%3A%5B%22launcher.managed"
	    "%3D1%22%5D%7D", timeout_ms, &r) != 0 || r.status != 200 ||
	    (list = cJSON_Parse(r.body)) == NULL) {
		util_snprintf(err, errlen, "volume list: %s", r.status ? "bad answer" : r.err);
		return -1;
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "Volumes")) == 0) {
		cJSON_Delete(list);
		*items = cJSON_CreateArray();
		return *items != NULL ? 0 : -1;
	}
	if (xfer_engine(x, a, ENGINE_API "/system/df", timeout_ms, &r) != 0 || r.status != 200 ||
	    (df = cJSON_Parse(r.body)) == NULL) {
		util_snprintf(err, errlen, "system df: %s", r.status ? "bad answer" : r.err);
		cJSON_Delete(list);
		return -1;
	}
	*items = vol_usage_items(list, df);
	cJSON_Delete(list);
	cJSON_Delete(df);
	return *items != NULL ? 0 : -1;
}
