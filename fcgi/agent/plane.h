/*
 * plane.h - calls to the plane's agent API, <plane_url>/<tenant>/api/v1/agent,
 * and the reading of its answer envelope ({"success", "data"|"error"}).
 *
 * Every failure is classified once, here, into what the caller does next:
 * retry later (PLANE_DOWN), fix the token (PLANE_UNAUTHORIZED), stop working
 * on a job (PLANE_CONFLICT, PLANE_GONE) or give up on this request
 * (PLANE_REJECTED).
 */
#ifndef LAUNCHER_AGENT_PLANE_H
#define LAUNCHER_AGENT_PLANE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "xfer.h"

#define PLANE_TIMEOUT_MS 15000L

enum plane_rc {
	PLANE_OK,
	PLANE_DOWN,		/* no answer, 5xx, 408/429, or an answer that is not the envelope */
	PLANE_UNAUTHORIZED,	/* 401/403: token wrong or rotated */
	PLANE_CONFLICT,		/* 409: e.g. the job is no longer running */
	PLANE_GONE,		/* 404 */
	PLANE_REJECTED,		/* any other 4xx: this request will never succeed */
};

struct plane_answer {
	long         status;	/* HTTP status (0: none) */
	int64_t      ms;	/* round trip */
	const cJSON *data;	/* the envelope's data (NULL for 204); freed with the arena */
	char         msg[512];	/* on failure: one line for the log */
};

/*
 * POSTs body (NULL sends {}) to <plane_url>/<tenant>/api/v1/agent<path>.
 * Everything the answer holds lives until the arena is reset.
 */
enum plane_rc plane_post(struct xfer *x, struct arena *a, const char *path,
    const cJSON *body, struct plane_answer *ans);
/* "ok", "plane down", ... for logs. */
const char   *plane_rc_name(enum plane_rc rc);
/*
 * Reads an answer (status, body text) into ans: the pure part of
 * plane_post, for tests.
 */
enum plane_rc plane_read_answer(struct arena *a, long status, const char *body, size_t len,
    struct plane_answer *ans);

#endif
