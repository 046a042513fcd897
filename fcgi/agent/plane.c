/*
 * plane.c - the agent API's requests and envelope (see plane.h).
 */
#include "plane.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

static void
json_free(void *p)
{
	cJSON_Delete(p);
}

static void
str_free(void *p)
{
	cJSON_free(p);
}

const char *
plane_rc_name(enum plane_rc rc)
{
	switch (rc) {
	case PLANE_OK:           return "ok";
	case PLANE_DOWN:         return "plane unavailable";
	case PLANE_UNAUTHORIZED: return "token rejected";
	case PLANE_CONFLICT:     return "conflict";
	case PLANE_GONE:         return "not found";
	case PLANE_REJECTED:     return "request rejected";
	}
	return "?";
}

static enum plane_rc
classify(long status)
{
	if (status >= 200 && status < 300)
		return PLANE_OK;
	if (status == 401 || status == 403)
		return PLANE_UNAUTHORIZED;
	if (status == 409)
		return PLANE_CONFLICT;
	if (status == 404)
		return PLANE_GONE;
	if (status == 408 || status == 429 || status >= 500 || status < 100)
		return PLANE_DOWN;
	return PLANE_REJECTED;
}

enum plane_rc
plane_read_answer(struct arena *a, long status, const char *body, size_t len,
    struct plane_answer *ans)
{
	enum plane_rc rc = classify(status);
	const cJSON  *ok, *err, *code, *msg;
	cJSON        *doc = NULL;

	ans->status = status;
	ans->data = NULL;
	ans->msg[0] = '\0';
	if (len > 0 && (doc = cJSON_ParseWithLength(body, len)) != NULL)
		arena_defer(a, json_free, doc);
	if (rc == PLANE_OK) {
		if (status == 204 || len == 0)
			return PLANE_OK;
		ok = cJSON_GetObjectItemCaseSensitive(doc, "success");
		if (!cJSON_IsTrue(ok)) {
			/* A proxy's page, or something that is not the plane. */
			util_snprintf(ans->msg, sizeof(ans->msg), "HTTP %ld without the API envelope",
			    status);
			return PLANE_DOWN;
		}
		ans->data = cJSON_GetObjectItemCaseSensitive(doc, "data");
		return PLANE_OK;
	}
	err = cJSON_GetObjectItemCaseSensitive(doc, "error");
	code = cJSON_GetObjectItemCaseSensitive(err, "code");
	msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (util_snprintf(ans->msg, sizeof(ans->msg), "HTTP %ld %.64s%s%.300s", status,
	    cJSON_IsString(code) ? code->valuestring : "",
	    cJSON_IsString(msg) ? ": " : "", cJSON_IsString(msg) ? msg->valuestring : "") < 0)
		util_snprintf(ans->msg, sizeof(ans->msg), "HTTP %ld", status);
	/* Never echo a raw body: it may be an HTML page of any size. */
	return rc;
}

enum plane_rc
plane_post(struct xfer *x, struct arena *a, const char *path, const cJSON *body,
    struct plane_answer *ans)
{
	struct xfer_resp r;
	char            *text = NULL;
	const char      *url;

	memset(ans, 0, sizeof(*ans));
	if (body != NULL) {
		if ((text = cJSON_PrintUnformatted(body)) == NULL) {
			util_snprintf(ans->msg, sizeof(ans->msg), "out of memory printing JSON");
			return PLANE_DOWN;
		}
		arena_defer(a, str_free, text);
	}
	url = arena_printf(a, "/%s/api/v1/agent%s", x->conf->tenant, path);
	if (xfer_plane(x, a, "POST", url, text != NULL ? text : "{}", true, PLANE_TIMEOUT_MS,
	    &r) != 0) {
		ans->ms = r.ms;
		util_snprintf(ans->msg, sizeof(ans->msg), "%s", r.err);
		return PLANE_DOWN;
	}
	ans->ms = r.ms;
	return plane_read_answer(a, r.status, r.body, r.len, ans);
}
