/*
 * xfer.c - libcurl transfers to the plane and the engine (see xfer.h).
 */
#include "xfer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../core/buf.h"
#include "../core/util.h"
#include "timefmt.h"

#define USER_AGENT "launcher-agent/" AGENT_VERSION

void
xfer_init(struct xfer *x, const struct agent_conf *conf, const char *token)
{
	memset(x, 0, sizeof(*x));
	x->conf = conf;
	x->token = token;
}

void
xfer_cleanup(struct xfer *x)
{
	if (x->plane != NULL)
		curl_easy_cleanup(x->plane);
	if (x->engine != NULL)
		curl_easy_cleanup(x->engine);
	x->plane = x->engine = NULL;
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	buf_add(b, p, size * n);
	/* Returning less than given aborts the transfer (CURLE_WRITE_ERROR). */
	return buf_ok(b) ? size * n : 0;
}

/* Options common to both peers, on a handle just reset. */
static void
set_common(CURL *h, struct buf *b, char *errbuf, long timeout_ms)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

/* The kind of a transfer's failure (enum xfer_fail), by libcurl's code. */
static int
fail_kind(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return XFER_TLS;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return XFER_UNREACHABLE;
	default:
		return XFER_OTHER;
	}
}

/* Performs the prepared transfer and fills r. */
static int
perform(CURL *h, struct buf *b, char *errbuf, struct xfer_resp *r)
{
	int64_t  t0 = timefmt_mono_ms();
	CURLcode cc = curl_easy_perform(h);

	r->ms = timefmt_mono_ms() - t0;
	/* errbuf and b live on the caller's stack: the handle must not keep them. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	if (cc != CURLE_OK) {
		r->fail = fail_kind(cc);
		if (cc == CURLE_WRITE_ERROR && !buf_ok(b))
			util_snprintf(r->err, sizeof(r->err), "answer larger than %zu bytes",
			    XFER_MAX_BODY);
		else	/* curl's detailed message when it has one (it says more) */
			(void)util_snprintf(r->err, sizeof(r->err), "%s",
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = b->data;
	r->len = b->len;
	return 0;
}

static void
resp_init(struct xfer_resp *r, struct arena *a, struct buf *b, char *errbuf)
{
	memset(r, 0, sizeof(*r));
	buf_init(b, a, 4096, XFER_MAX_BODY + 1);
	r->body = b->data;
	errbuf[0] = '\0';
}

int
xfer_plane(struct xfer *x, struct arena *a, const char *method, const char *path,
    const char *body, bool with_token, long timeout_ms, struct xfer_resp *r)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct buf         b;
	char               errbuf[CURL_ERROR_SIZE];
	const char        *url;
	int                rc = -1;

	resp_init(r, a, &b, errbuf);
	if (x->plane == NULL && (x->plane = curl_easy_init()) == NULL) {
		util_snprintf(r->err, sizeof(r->err), "curl_easy_init failed");
		return -1;
	}
	curl_easy_reset(x->plane);
	set_common(x->plane, &b, errbuf, timeout_ms);
	url = arena_printf(a, "%s%s", x->conf->plane_url, path);
	curl_easy_setopt(x->plane, CURLOPT_URL, url);
	curl_easy_setopt(x->plane, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->plane, CURLOPT_SSL_VERIFYHOST, 2L);
	if (x->conf->ca_file[0] != '\0')
		curl_easy_setopt(x->plane, CURLOPT_CAINFO, x->conf->ca_file);
	curl_easy_setopt(x->plane, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Each append is checked: a NULL would silently drop the header. */
	if ((tmp = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto nomem;
	hdrs = tmp;
	if (with_token && x->token != NULL) {
		char h[AGENT_TOKEN_MAX + 32];

		if (util_snprintf(h, sizeof(h), "x-lnchr-agent-token: %s", x->token) < 0)
			goto nomem;
		tmp = curl_slist_append(hdrs, h);
		explicit_bzero(h, sizeof(h));
		if (tmp == NULL)
			goto nomem;
		hdrs = tmp;
	}
	if (strcmp(method, "POST") == 0) {
		if ((tmp = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
			goto nomem;
		hdrs = tmp;
		if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL)
			goto nomem;
		hdrs = tmp;
		curl_easy_setopt(x->plane, CURLOPT_POST, 1L);
		curl_easy_setopt(x->plane, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(x->plane, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? strlen(body) : 0));
	}
	curl_easy_setopt(x->plane, CURLOPT_HTTPHEADER, hdrs);
	rc = perform(x->plane, &b, errbuf, r);
	goto out;
nomem:
	util_snprintf(r->err, sizeof(r->err), "out of memory building headers");
out:
	/* The handle keeps a pointer to the list: unset it before freeing. */
	curl_easy_setopt(x->plane, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}

struct plane_stream {
	CURL            *h;
	xfer_data_fn     fn;
	void            *ud;
	struct xfer_resp *r;
	size_t           errlen;
};

static size_t
on_plane_stream(char *p, size_t size, size_t n, void *ud)
{
	struct plane_stream *s = ud;
	long                 status = 0;
	size_t               room;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return s->fn(s->ud, p, size * n) == 0 ? size * n : 0;
	/* An error answer: its start, for the message. */
	room = sizeof(s->r->err) - 1 - s->errlen;
	if (room > size * n)
		room = size * n;
	memcpy(s->r->err + s->errlen, p, room);
	s->errlen += room;
	s->r->err[s->errlen] = '\0';
	return size * n;
}

int
xfer_plane_stream(struct xfer *x, const char *path, xfer_data_fn on_data, void *ud,
    long timeout_ms, struct xfer_resp *r)
{
	struct plane_stream s = {.fn = on_data, .ud = ud, .r = r};
	struct curl_slist  *hdrs = NULL, *tmp;
	char                errbuf[CURL_ERROR_SIZE], url[2048], h[AGENT_TOKEN_MAX + 32];
	CURLcode            cc;
	int64_t             t0 = timefmt_mono_ms();

	memset(r, 0, sizeof(*r));
	r->body = (char *)"";
	errbuf[0] = '\0';
	if (util_snprintf(url, sizeof(url), "%s%s", x->conf->plane_url, path) < 0 ||
	    x->token == NULL ||
	    util_snprintf(h, sizeof(h), "x-lnchr-agent-token: %s", x->token) < 0) {
		util_snprintf(r->err, sizeof(r->err), "request path too long, or no token");
		return -1;
	}
	if ((s.h = curl_easy_init()) == NULL || (hdrs = curl_slist_append(NULL, h)) == NULL ||
	    (tmp = curl_slist_append(hdrs, "Accept: application/octet-stream, application/json")) == NULL) {
		explicit_bzero(h, sizeof(h));
		util_snprintf(r->err, sizeof(r->err), "out of memory");
		if (hdrs != NULL)
			explicit_bzero(hdrs->data, strlen(hdrs->data));
		curl_slist_free_all(hdrs);
		if (s.h != NULL)
			curl_easy_cleanup(s.h);
		return -1;
	}
	explicit_bzero(h, sizeof(h));
	hdrs = tmp;
	curl_easy_setopt(s.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s.h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_plane_stream);
	curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(s.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s.h, CURLOPT_LOW_SPEED_TIME, 300L);
	curl_easy_setopt(s.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s.h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(s.h, CURLOPT_URL, url);
	curl_easy_setopt(s.h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(s.h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (x->conf->ca_file[0] != '\0')
		curl_easy_setopt(s.h, CURLOPT_CAINFO, x->conf->ca_file);
	curl_easy_setopt(s.h, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(s.h);
	r->ms = timefmt_mono_ms() - t0;
	curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK) {
		r->fail = fail_kind(cc);
		(void)util_snprintf(r->err, sizeof(r->err), "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	curl_easy_cleanup(s.h);
	for (tmp = hdrs; tmp != NULL; tmp = tmp->next)
		explicit_bzero(tmp->data, strlen(tmp->data));
	curl_slist_free_all(hdrs);
	return cc == CURLE_OK ? 0 : -1;
}

int
xfer_engine(struct xfer *x, struct arena *a, const char *path, long timeout_ms,
    struct xfer_resp *r)
{
	return xfer_engine_call(x, a, "GET", path, NULL, timeout_ms, r);
}

int
xfer_engine_call(struct xfer *x, struct arena *a, const char *method, const char *path,
    const char *body, long timeout_ms, struct xfer_resp *r)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct buf         b;
	char               errbuf[CURL_ERROR_SIZE];
	int                rc;

	resp_init(r, a, &b, errbuf);
	if (x->engine == NULL && (x->engine = curl_easy_init()) == NULL) {
		util_snprintf(r->err, sizeof(r->err), "curl_easy_init failed");
		return -1;
	}
	curl_easy_reset(x->engine);
	set_common(x->engine, &b, errbuf, timeout_ms);
	curl_easy_setopt(x->engine, CURLOPT_UNIX_SOCKET_PATH, x->conf->engine_socket);
	curl_easy_setopt(x->engine, CURLOPT_URL, arena_printf(a, "http://d%s", path));
	if (strcmp(method, "GET") != 0) {
		if ((tmp = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL ||
		    (hdrs = tmp, tmp = curl_slist_append(hdrs, "Expect:")) == NULL) {
			curl_slist_free_all(hdrs);
			util_snprintf(r->err, sizeof(r->err), "out of memory building headers");
			return -1;
		}
		hdrs = tmp;
		curl_easy_setopt(x->engine, CURLOPT_HTTPHEADER, hdrs);
		if (strcmp(method, "POST") == 0) {
			curl_easy_setopt(x->engine, CURLOPT_POST, 1L);
			curl_easy_setopt(x->engine, CURLOPT_POSTFIELDS, body != NULL ? body : "");
			curl_easy_setopt(x->engine, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(body != NULL ? strlen(body) : 0));
		} else
			curl_easy_setopt(x->engine, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = perform(x->engine, &b, errbuf, r);
	curl_easy_setopt(x->engine, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}

struct stream_ctx {
	xfer_data_fn fn;
	void        *ud;
	int          fd;
};

static size_t
on_stream(char *p, size_t size, size_t n, void *ud)
{
	struct stream_ctx *s = ud;

	return s->fn(s->ud, p, size * n) == 0 ? size * n : 0;
}

static size_t
on_upload(char *p, size_t size, size_t n, void *ud)
{
	struct stream_ctx *s = ud;

	for (;;) {
		ssize_t got = read(s->fd, p, size * n);

		if (got >= 0)
			return (size_t)got;
		if (errno != EINTR)
			return CURL_READFUNC_ABORT;
	}
}

int
xfer_engine_stream(struct xfer *x, const char *method, const char *path,
    const char *content_type, int upload_fd, const char *body, xfer_data_fn on_data, void *ud,
    long timeout_ms, struct xfer_resp *r)
{
	return xfer_engine_stream_hdr(x, method, path, content_type, upload_fd, body, NULL, on_data,
	    ud, timeout_ms, r);
}

int
xfer_engine_stream_hdr(struct xfer *x, const char *method, const char *path,
    const char *content_type, int upload_fd, const char *body, const char *header,
    xfer_data_fn on_data, void *ud, long timeout_ms, struct xfer_resp *r)
{
	struct stream_ctx  s = {.fn = on_data, .ud = ud, .fd = upload_fd};
	struct curl_slist *hdrs = NULL, *tmp;
	char               errbuf[CURL_ERROR_SIZE], url[2048], ct[128];
	CURL              *h;
	CURLcode           cc;
	int64_t            t0 = timefmt_mono_ms();

	memset(r, 0, sizeof(*r));
	r->body = (char *)"";
	errbuf[0] = '\0';
	if (util_snprintf(url, sizeof(url), "http://d%s", path) < 0 ||
	    util_snprintf(ct, sizeof(ct), "Content-Type: %s",
	    content_type != NULL ? content_type : "application/json") < 0) {
		util_snprintf(r->err, sizeof(r->err), "request path too long");
		return -1;
	}
	if ((h = curl_easy_init()) == NULL) {
		util_snprintf(r->err, sizeof(r->err), "curl_easy_init failed");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, x->conf->engine_socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if ((tmp = curl_slist_append(hdrs, ct)) == NULL ||
	    (hdrs = tmp, tmp = curl_slist_append(hdrs, "Expect:")) == NULL) {
		util_snprintf(r->err, sizeof(r->err), "out of memory building headers");
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return -1;
	}
	hdrs = tmp;
	if (header != NULL) {
		if ((tmp = curl_slist_append(hdrs, header)) == NULL) {
			util_snprintf(r->err, sizeof(r->err), "out of memory building headers");
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			return -1;
		}
		hdrs = tmp;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (upload_fd >= 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, &s);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? strlen(body) : 0));
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(h);
	r->ms = timefmt_mono_ms() - t0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	else {
		(void)util_snprintf(r->err, sizeof(r->err), "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	}
	curl_easy_cleanup(h);
	/* header may carry credentials (X-Registry-Auth): wipe libcurl's copy. */
	if (header != NULL)
		for (struct curl_slist *it = hdrs; it != NULL; it = it->next)
			explicit_bzero(it->data, strlen(it->data));
	curl_slist_free_all(hdrs);
	return cc == CURLE_OK ? 0 : -1;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	buf_add(b, p, size * n);
	return buf_ok(b) ? size * n : 0;
}

int
xfer_remote(struct arena *a, const char *method, const char *url, const char *const *hdrs,
    const char *body, long timeout_ms, struct xfer_resp *r)
{
	return xfer_remote_ca(a, method, url, hdrs, body, NULL, timeout_ms, r);
}

int
xfer_remote_ca(struct arena *a, const char *method, const char *url, const char *const *hdrs,
    const char *body, const char *ca_file, long timeout_ms, struct xfer_resp *r)
{
	struct curl_slist *list = NULL, *tmp;
	struct buf         b, hb;
	char               errbuf[CURL_ERROR_SIZE];
	CURL              *h;
	int                rc = -1;

	resp_init(r, a, &b, errbuf);
	buf_init(&hb, a, 1024, 64 << 10);
	if ((h = curl_easy_init()) == NULL) {
		util_snprintf(r->err, sizeof(r->err), "curl_easy_init failed");
		return -1;
	}
	set_common(h, &b, errbuf, timeout_ms);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL && ca_file[0] != '\0') {
		/* The site's CA file, and the system's CAs beside it. */
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hb);
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++) {
		if ((tmp = curl_slist_append(list, hdrs[i])) == NULL)
			goto nomem;
		list = tmp;
	}
	if (body != NULL) {
		if ((tmp = curl_slist_append(list, "Content-Type: application/json")) == NULL)
			goto nomem;
		list = tmp;
		if ((tmp = curl_slist_append(list, "Expect:")) == NULL)
			goto nomem;
		list = tmp;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (strcmp(method, "GET") != 0 && !(strcmp(method, "POST") == 0 && body != NULL))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	rc = perform(h, &b, errbuf, r);
	r->headers = buf_ok(&hb) ? hb.data : (char *)"";
	goto out;
nomem:
	util_snprintf(r->err, sizeof(r->err), "out of memory building headers");
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_cleanup(h);
	/* The list may hold a credential. */
	for (tmp = list; tmp != NULL; tmp = tmp->next)
		explicit_bzero(tmp->data, strlen(tmp->data));
	curl_slist_free_all(list);
	return rc;
}
