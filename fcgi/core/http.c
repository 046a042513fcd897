/*
 * http.c - request parsing and the single response writer (see http.h).
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#ifndef LAUNCHER_VERSION
#define LAUNCHER_VERSION "0.0.0"
#endif

static const struct {
	enum http_method m;
	const char      *name;
} methods[] = {
	{HTTP_GET, "GET"}, {HTTP_POST, "POST"}, {HTTP_PUT, "PUT"},
	{HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"}, {HTTP_HEAD, "HEAD"},
	{HTTP_OPTIONS, "OPTIONS"},
};

const char *
http_method_name(enum http_method m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "?";
}

const char *
http_env(struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

const char *
http_header(struct req *r, const char *name)
{
	char key[128] = "HTTP_";
	size_t i, n = strlen(name);

	if (n + 6 > sizeof(key))
		return NULL;
	for (i = 0; i < n; i++)
		key[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	key[5 + n] = '\0';
	return http_env(r, key);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into the arena; '+' is a space. NULL if malformed. */
static char *
url_decode(struct arena *a, const char *s, size_t n)
{
	char  *out = arena_alloc(a, n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return NULL;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+')
			*o++ = ' ';
		else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Splits a query string into name/value pairs; -1 when malformed. */
static int
parse_query(struct req *r, const char *qs)
{
	size_t      cap = 1, k = 0;
	const char *p;

	for (p = qs; *p; p++)
		if (*p == '&')
			cap++;
	if (cap > 64)
		return -1;
	r->query = arena_alloc(r->a, cap * sizeof(*r->query));
	for (p = qs; *p;) {
		const char *amp = strchr(p, '&'), *eq;
		size_t      len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > 0) {
			eq = memchr(p, '=', len);
			r->query[k].name = url_decode(r->a, p, eq ? (size_t)(eq - p) : len);
			r->query[k].value = eq ? url_decode(r->a, eq + 1, len - (size_t)(eq - p) - 1)
			    : "";
			if (r->query[k].name == NULL || r->query[k].value == NULL)
				return -1;
			k++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	r->nquery = k;
	return 0;
}

/* Appends s percent-encoded (RFC 3986's unreserved characters kept) to b. */
static void
url_encode(struct buf *b, const char *s)
{
	char   e[3 * 256 + 1];
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i += 256) {
		long w = util_pct_encode(e, sizeof(e), s + i, n - i < 256 ? n - i : 256, NULL);

		if (w > 0)
			buf_add(b, e, (size_t)w);
	}
}

enum err
http_sub_init(struct req *sub, struct req *parent, enum http_method m, const char *path,
    const struct http_kv *query, size_t nquery, const char *body)
{
	static const char *const pass[] = {"HTTP_X_LNCHR_KEY", "HTTP_AUTHORIZATION", "REMOTE_ADDR",
	    "REQUEST_ID"};
	struct arena *a = parent->a;
	FCGX_Request *fr = arena_alloc(a, sizeof(*fr));
	char        **env = arena_alloc(a, 12 * sizeof(*env));
	const char   *v;
	struct buf    qs;
	size_t        n = 0;

	memset(sub, 0, sizeof(*sub));
	sub->w = parent->w;
	sub->a = a;
	sub->fcgi = fr;
	sub->sub = true;
	sub->request_id = parent->request_id;
	sub->body = arena_strdup(a, body != NULL ? body : "");
	sub->body_len = strlen(sub->body);
	sub->body_read = true;
	fr->envp = env;
	for (size_t i = 0; i < sizeof(pass) / sizeof(*pass); i++)
		if ((v = http_env(parent, pass[i])) != NULL)
			env[n++] = arena_printf(a, "%s=%s", pass[i], v);
	env[n++] = arena_printf(a, "REQUEST_METHOD=%s", http_method_name(m));
	env[n++] = arena_printf(a, "DOCUMENT_URI=/%s/api/v1%s", parent->tenant_ref, path);
	buf_init(&qs, a, 256, 64 * 1024);
	buf_adds(&qs, "QUERY_STRING=");
	for (size_t i = 0; i < nquery; i++) {
		if (i > 0)
			buf_adds(&qs, "&");
		url_encode(&qs, query[i].name);
		buf_adds(&qs, "=");
		url_encode(&qs, query[i].value);
	}
	if (!buf_ok(&qs))
		return http_error(sub, ERR_BAD_REQUEST, "query too long");
	env[n++] = qs.data;
	if (body != NULL) {
		env[n++] = "CONTENT_TYPE=application/json";
		env[n++] = arena_printf(a, "CONTENT_LENGTH=%zu", strlen(body));
	}
	env[n] = NULL;
	return http_req_init(sub);
}

enum err
http_req_init(struct req *r)
{
	const char *m = http_env(r, "REQUEST_METHOD"), *qs;

	r->request_id = http_env(r, "REQUEST_ID");
	if (r->request_id == NULL || *r->request_id == '\0')
		r->request_id = "-";
	log_set_request_id(r->request_id);
	r->remote_addr = http_env(r, "REMOTE_ADDR");
	r->uri = http_env(r, "DOCUMENT_URI");
	if (r->uri == NULL)
		r->uri = "/";
	r->path = r->uri;
	r->method_name = m ? m : "";
	for (size_t i = 0; m && i < sizeof(methods) / sizeof(*methods); i++)
		if (strcmp(methods[i].name, m) == 0)
			r->method = methods[i].m;
	if (r->method == 0)
		return http_error(r, ERR_METHOD_NOT_ALLOWED, "method not allowed");
	qs = http_env(r, "QUERY_STRING");
	if (qs != NULL && parse_query(r, qs) != 0)
		return http_error(r, ERR_BAD_REQUEST, "malformed query string");
	return ERR_OK;
}

const char *
http_query(struct req *r, const char *name)
{
	for (size_t i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value;
	return NULL;
}

const char *
http_param(struct req *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

static bool
ctype_is_json(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

bool
http_content_is_json(struct req *r)
{
	return ctype_is_json(http_env(r, "CONTENT_TYPE"));
}

enum err
http_body(struct req *r)
{
	return http_body_max(r, r->w->cfg->max_body_bytes);
}

enum err
http_body_max(struct req *r, int64_t max)
{
	const char *cl;
	int64_t     len = 0;
	int         got;

	if (r->body_read)
		return ERR_OK;
	cl = http_env(r, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0' && util_parse_i64(cl, 0, INT64_MAX, &len) != 0)
		return http_error(r, ERR_BAD_REQUEST, "bad Content-Length");
	/* The ceiling is checked before a single byte is read. */
	if (len > max)
		return http_error(r, ERR_PAYLOAD_TOO_LARGE, "request body too large");
	r->body = arena_alloc(r->a, (size_t)len + 1);
	if (len > 0) {
		got = FCGX_GetStr(r->body, (int)len, r->fcgi->in);
		if (got != (int)len)
			return http_error(r, ERR_BAD_REQUEST, "truncated request body");
	}
	r->body[len] = '\0';
	r->body_len = (size_t)len;
	r->body_read = true;
	return ERR_OK;
}

enum err
http_read_json(struct req *r, bool required)
{
	enum err e;
	cJSON   *bad;

	if ((e = http_body(r)) != ERR_OK)
		return e;
	if (r->body_len == 0) {
		if (required)
			return http_error(r, ERR_BAD_REQUEST, "request body required");
		return ERR_OK;
	}
	if (!http_content_is_json(r))
		return http_error(r, ERR_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Type must be application/json");
	/* A NUL inside the body would hide what follows it from the parser. */
	if (memchr(r->body, '\0', r->body_len) != NULL)
		return http_error(r, ERR_BAD_REQUEST, "malformed JSON body");
	/* The length includes the terminating NUL so that cJSON can insist on
	 * nothing but whitespace after the value. */
	r->json = cJSON_ParseWithLengthOpts(r->body, r->body_len + 1, NULL, 1);
	if (r->json == NULL)
		return http_error(r, ERR_BAD_REQUEST, "malformed JSON body");
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, r->json);
	if (!cJSON_IsObject(r->json))
		return http_error(r, ERR_BAD_REQUEST, "JSON body must be an object");
	if ((bad = json_bad_strings(r->a, r->body, r->body_len, r->json)) != NULL)
		return http_error_details(r, "invalid request body", bad);
	return ERR_OK;
}

void
http_etag(struct req *r, const char *version)
{
	http_add_header(r, "ETag", arena_printf(r->a, "\"%s\"", version));
}

enum err
http_if_match(struct req *r, const char **version)
{
	const char *h = http_header(r, "if-match"), *p;
	size_t      n;

	*version = NULL;
	if (h == NULL)
		return ERR_OK;
	while (*h == ' ')
		h++;
	if (strcmp(h, "*") == 0)
		return ERR_OK;
	if (strncmp(h, "W/", 2) == 0)	/* weak comparison is not allowed here */
		return http_error(r, ERR_PRECONDITION_FAILED, "If-Match must be a strong ETag");
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	if (n < 3 || h[0] != '"' || h[n - 1] != '"')
		return http_error(r, ERR_PRECONDITION_FAILED, "If-Match does not match");
	for (p = h + 1; p < h + n - 1; p++)
		if (*p < '0' || *p > '9' || p - h > 19)
			return http_error(r, ERR_PRECONDITION_FAILED, "If-Match does not match");
	*version = arena_strndup(r->a, h + 1, n - 2);
	return ERR_OK;
}

enum err
http_changed(struct req *r, const char *what)
{
	return http_error(r, ERR_PRECONDITION_FAILED,
	    arena_printf(r->a, "the %s has changed (If-Match)", what));
}

void
http_flush(struct req *r)
{
	if (!r->capture)
		return;
	r->capture = false;
	if (r->sub)
		return;	/* held for good: the parent reads it */
	r->responded = false;
	http_respond_raw(r, r->held.status, r->held.ctype, r->held.body, r->held.len);
}

void
http_discard(struct req *r)
{
	r->capture = false;
	r->responded = false;
	r->nheaders = 0;
}

void
http_add_header(struct req *r, const char *name, const char *value)
{
	if (r->nheaders == HTTP_MAX_HEADERS) {
		log_error("response header table full, dropped %s", name);
		return;
	}
	r->headers[r->nheaders].name = arena_strdup(r->a, name);
	r->headers[r->nheaders].value = arena_strdup(r->a, value);
	r->nheaders++;
}

/*
 * Reads and drops whatever input the handler left: a body it never read
 * (refused before reading: 401, 404, 413, 415 ...) and the end-of-input
 * record.  A socket closed with unread input resets the connection, unix
 * sockets included, and nginx then loses the answer it has not read yet
 * ("readv() failed (104)"): headers arrive without their body.  nginx
 * has the whole body already (fastcgi_request_buffering, at most
 * client_max_body_size), so this is a copy, never a wait on the client.
 */
static void
drain_input(struct req *r)
{
	char buf[16384];

	if (FCGX_HasSeenEOF(r->fcgi->in) == EOF)
		return;
	while (FCGX_GetStr(buf, (int)sizeof(buf), r->fcgi->in) > 0)
		;
}

/* The one place that writes a status line, headers and a body. */
enum err
http_respond_raw(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	FCGX_Stream *out = r->fcgi->out;
	const char  *hdr;

	if (r->responded) {
		log_error("second response attempted (status %d) for %s %s", status,
		    r->method_name, r->uri);
		return ERR_INTERNAL;
	}
	r->responded = true;
	r->status = status;
	if (r->capture || r->sub) {
		r->held.status = status;
		r->held.ctype = ctype ? arena_strdup(r->a, ctype) : NULL;
		r->held.body = len ? arena_strndup(r->a, body, len) : NULL;
		r->held.len = len;
		return ERR_OK;
	}
	drain_input(r);
	/* libfcgi's printf lacks %zu and friends: format here, write raw. */
	hdr = arena_printf(r->a, "Status: %d %s\r\nx-plane-version: %s\r\nx-request-id: %s\r\n"
	    "Cache-Control: no-store\r\n", status, err_reason(status), LAUNCHER_VERSION,
	    r->request_id);
	FCGX_PutS(hdr, out);
	for (size_t i = 0; i < r->nheaders; i++) {
		hdr = arena_printf(r->a, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
		FCGX_PutS(hdr, out);
	}
	if (ctype != NULL) {
		hdr = arena_printf(r->a, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, len);
		FCGX_PutS(hdr, out);
	}
	FCGX_PutS("\r\n", out);
	if (len > 0 && r->method != HTTP_HEAD)
		FCGX_PutStr(body, (int)len, out);
	return ERR_OK;
}

static enum err
respond_envelope(struct req *r, int status, cJSON *env)
{
	char    *s = cJSON_PrintUnformatted(env);
	enum err e;

	cJSON_Delete(env);
	if (s == NULL)
		abort();
	e = http_respond_raw(r, status, "application/json", s, strlen(s));
	cJSON_free(s);
	return e;
}

enum err
http_respond_json(struct req *r, int status, cJSON *data, cJSON *meta)
{
	cJSON *env = cJSON_CreateObject();

	cJSON_AddBoolToObject(env, "success", 1);
	cJSON_AddItemToObject(env, "data", data ? data : cJSON_CreateNull());
	if (meta != NULL)
		cJSON_AddItemToObject(env, "meta", meta);
	return respond_envelope(r, status, env);
}

enum err
http_respond_row(struct req *r, int status, PGresult *res, int row)
{
	return http_respond_row_with(r, status, res, row, NULL);
}

enum err
http_respond_row_with(struct req *r, int status, PGresult *res, int row,
    const struct json_member *m)
{
	struct buf b;

	if (row < 0 || row >= PQntuples(res))
		return http_error(r, ERR_INTERNAL, "internal error");
	buf_init(&b, r->a, 2048, (size_t)16 << 20);
	buf_adds(&b, "{\"success\":true,\"data\":");
	json_write_rows_with(&b, res, row, 1, m);
	buf_adds(&b, "}");
	if (!buf_ok(&b))
		return http_error(r, ERR_INTERNAL, "internal error");
	return http_respond_raw(r, status, "application/json", b.data, b.len);
}

enum err
http_no_content(struct req *r)
{
	return http_respond_raw(r, 204, NULL, NULL, 0);
}

static void
envelope_of_error(struct req *r, int status, const char *code, const char *message,
    cJSON *details)
{
	cJSON *env = cJSON_CreateObject(), *er = cJSON_CreateObject();

	cJSON_AddBoolToObject(env, "success", 0);
	cJSON_AddStringToObject(er, "code", code);
	cJSON_AddStringToObject(er, "message", message);
	if (details != NULL)
		cJSON_AddItemToObject(er, "details", details);
	cJSON_AddItemToObject(env, "error", er);
	respond_envelope(r, status, env);
}

static enum err
error_envelope(struct req *r, enum err e, const char *message, cJSON *details)
{
	if (e == ERR_METHOD_NOT_ALLOWED && r->nheaders == 0)
		http_add_header(r, "Allow", "GET, POST, PUT, PATCH, DELETE");
	envelope_of_error(r, err_status(e), err_code(e), message, details);
	return e;
}

enum err
http_error_as(struct req *r, int status, const char *code, const char *message)
{
	envelope_of_error(r, status, code, message, NULL);
	return ERR_OK;
}

enum err
http_error(struct req *r, enum err e, const char *message)
{
	if (e == ERR_OK)
		e = ERR_INTERNAL;
	return error_envelope(r, e, message, NULL);
}

enum err
http_error_details(struct req *r, const char *message, cJSON *details)
{
	return error_envelope(r, ERR_BAD_REQUEST, message, details);
}

enum err
http_error_field(struct req *r, enum err e, const char *message, const char *field,
    const char *detail)
{
	cJSON *d = cJSON_CreateArray(), *it = cJSON_CreateObject();

	cJSON_AddStringToObject(it, "field", field);
	cJSON_AddStringToObject(it, "message", detail);
	cJSON_AddItemToArray(d, it);
	return error_envelope(r, e, message, d);
}

enum err
http_field_error(struct req *r, const char *message, const char *field, const char *detail)
{
	return http_error_field(r, ERR_BAD_REQUEST, message, field, detail);
}

enum err
req_fail(struct req *r, enum err e, const char *message)
{
	r->fail.e = e;
	r->fail.message = message;
	r->fail.details = NULL;
	return e;
}

enum err
req_fail_details(struct req *r, const char *message, cJSON *details)
{
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, details);
	req_fail(r, ERR_BAD_REQUEST, message);
	r->fail.details = details;
	return ERR_BAD_REQUEST;
}

/* Two deferred actions of one request, run in the order registered. */
struct after_pair {
	http_after_fn first, second;
	void         *first_arg, *second_arg;
};

static void
after_both(struct worker *w, void *arg)
{
	struct after_pair *p = arg;

	p->first(w, p->first_arg);
	p->second(w, p->second_arg);
}

void
http_after(struct req *r, http_after_fn fn, void *arg)
{
	struct after_pair *p;

	if (r->after_fn != NULL) {
		/* A second one (the MCP endpoint's sub-requests, each of which
		 * may defer one): both run, in order (in r's arena, which lives
		 * until they have run). */
		p = arena_alloc(r->a, sizeof(*p));
		p->first = r->after_fn;
		p->first_arg = r->after_arg;
		p->second = fn;
		p->second_arg = arg;
		fn = after_both;
		arg = p;
	}
	r->after_fn = fn;
	r->after_arg = arg;
}

bool
http_limit_ok(struct req *r, int64_t *limit)
{
	const char *s = http_query(r, "limit");

	*limit = 50;
	return s == NULL || util_parse_i64(s, 1, 200, limit) == 0;
}

enum err
http_limit(struct req *r, int64_t *limit)
{
	if (!http_limit_ok(r, limit))
		return http_field_error(r, "invalid query parameter", "limit",
		    "must be an integer from 1 to 200");
	return ERR_OK;
}

enum err
http_tail(struct req *r, const char **tail)
{
	int64_t n;

	*tail = http_query(r, "tail");
	if (*tail == NULL)
		return ERR_OK;
	if (util_parse_i64(*tail, 1, HTTP_TAIL_MAX, &n) != 0)
		return http_field_error(r, "invalid query parameter", "tail",
		    "must be an integer from 1 to 10000");
	return ERR_OK;
}
