/*
 * xfer.h - the agent's two HTTP peers over libcurl: the plane (HTTPS, TLS
 * verified, optional CA file, agent token header) and the container engine
 * (plain HTTP over its unix socket).
 *
 * One easy handle per peer is kept for the life of the process so that
 * connections are reused (a heartbeat a second must not cost a TLS
 * handshake a second).  Handles are created on first use: a forked job
 * process calls xfer_init() on a fresh struct and never touches its
 * parent's handles (their sockets belong to the parent).
 *
 * Answers are read into the caller's arena up to XFER_MAX_BODY bytes; a
 * larger answer is a transport error.  Nothing here logs; errors are
 * returned in xfer_resp.err and never contain the token.
 */
#ifndef LAUNCHER_AGENT_XFER_H
#define LAUNCHER_AGENT_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/arena.h"
#include "conf.h"

#define XFER_MAX_BODY ((size_t)4 << 20)

struct xfer {
	const struct agent_conf *conf;
	const char              *token;	/* sent to the plane when asked; not owned */
	void                    *plane;	/* CURL *, lazily created */
	void                    *engine;	/* CURL * */
};

/* What kind of failure left a call without an answer (xfer_resp.fail). */
enum xfer_fail {
	XFER_OK = 0,		/* an answer came */
	XFER_UNREACHABLE,	/* no name, no connection, a timeout, a dropped connection */
	XFER_TLS,		/* the TLS handshake or the peer's certificate failed */
	XFER_OTHER,		/* anything else (a body too large, out of memory) */
};

struct xfer_resp {
	long    status;		/* HTTP status; 0 when no answer came */
	char   *body;		/* NUL-terminated, in the arena; "" when empty */
	size_t  len;
	int64_t ms;		/* round trip, milliseconds */
	char   *headers;	/* xfer_remote only: the answer's header lines (arena) */
	int     fail;		/* why no answer came, by kind (enum xfer_fail) */
	char    err[256];	/* why no answer came (for logs) */
};

void xfer_init(struct xfer *x, const struct agent_conf *conf, const char *token);
void xfer_cleanup(struct xfer *x);

/*
 * method "GET" or "POST" to <plane_url><path>; body (JSON text) or NULL;
 * with_token adds x-lnchr-agent-token.  Returns 0 when an HTTP answer came
 * (whatever its status), -1 otherwise (r->err says why).
 */
int  xfer_plane(struct xfer *x, struct arena *a, const char *method, const char *path,
    const char *body, bool with_token, long timeout_ms, struct xfer_resp *r);
/*
 * GET <plane_url><path> with the agent token, streamed: a 2xx answer's
 * bytes go to on_data as they arrive (non-zero aborts); any other answer's
 * first bytes (the JSON envelope, cut) go to r->err.  No total time limit
 * beyond timeout_ms; a transfer slower than 1 byte/s for 5 minutes fails.
 * Its own easy handle.  0 when an HTTP answer came (r->status), -1
 * otherwise (r->err).
 */
typedef int (*xfer_data_fn)(void *ud, const char *p, size_t n);
int  xfer_plane_stream(struct xfer *x, const char *path, xfer_data_fn on_data, void *ud,
    long timeout_ms, struct xfer_resp *r);
/* GET <path> (e.g. "/v1.41/version") on the engine's unix socket; as above. */
int  xfer_engine(struct xfer *x, struct arena *a, const char *path, long timeout_ms,
    struct xfer_resp *r);
/*
 * Any method on the engine: body (JSON text, may be NULL = none) sent with
 * Content-Type application/json.  As xfer_engine otherwise.
 */
int  xfer_engine_call(struct xfer *x, struct arena *a, const char *method, const char *path,
    const char *body, long timeout_ms, struct xfer_resp *r);

/*
 * A call to a remote service (a git provider's or a registry's API):
 * method to url (http or https; TLS verified against the system's CAs;
 * redirects not followed, so that credentials in headers go nowhere else)
 * with the extra header lines hdrs (NULL-terminated, may be NULL; they may
 * carry a credential: nothing here logs or keeps them) and body (JSON
 * text, or NULL = none).  r->headers gets the answer's header lines.  A
 * one-off handle: the call may run beside x's.  Returns 0 when an HTTP
 * answer came (whatever its status), -1 otherwise (r->err, which never
 * holds a header).
 */
int  xfer_remote(struct arena *a, const char *method, const char *url, const char *const *hdrs,
    const char *body, long timeout_ms, struct xfer_resp *r);
/*
 * The same, trusting ca_file (PEM; NULL or "" = none) besides the system's
 * CAs: a site's registries with a private CA (agent registry_ca_file).
 */
int  xfer_remote_ca(struct arena *a, const char *method, const char *url,
    const char *const *hdrs, const char *body, const char *ca_file, long timeout_ms,
    struct xfer_resp *r);

/*
 * A streaming engine call (pull, build, exec): the answer's bytes go to
 * on_data as they arrive (returning non-zero aborts the transfer).  When
 * upload_fd >= 0 its bytes are the request body (chunked, with
 * content_type).  The call uses its own easy handle, so it may run while
 * x's handle is idle.  Returns 0 when an HTTP answer came (r->status set,
 * r->body ""), -1 otherwise (r->err).
 */
int  xfer_engine_stream(struct xfer *x, const char *method, const char *path,
    const char *content_type, int upload_fd, const char *body, xfer_data_fn on_data, void *ud,
    long timeout_ms, struct xfer_resp *r);
/*
 * The same with one more request header ("Name: value", NULL = none),
 * e.g. X-Registry-Auth for a pull or a push; libcurl's copy of it is wiped
 * after the call (the caller wipes its own).
 */
int  xfer_engine_stream_hdr(struct xfer *x, const char *method, const char *path,
    const char *content_type, int upload_fd, const char *body, const char *header,
    xfer_data_fn on_data, void *ud, long timeout_ms, struct xfer_resp *r);

#endif
