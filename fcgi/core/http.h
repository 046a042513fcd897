/*
 * http.h - one request: its parsed parameters, body, principal, and the
 * single response writer.
 *
 * Only the functions here print "Status:", headers and the JSON envelope.
 * Every request gets exactly one response; a second attempt is a bug that
 * is logged and ignored.  All memory hangs off r->a (the request arena).
 */
#ifndef LAUNCHER_HTTP_H
#define LAUNCHER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "arena.h"

struct pg_result;
#include "err.h"

struct worker;
struct route;
struct FCGX_Request;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_PATCH = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_HEAD = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};

/* Service-key scopes; a JWT session carries all of them. */
enum scope {
	SCOPE_READ = 1 << 0,
	SCOPE_WRITE = 1 << 1,
	SCOPE_DEPLOY = 1 << 2,
	SCOPE_ADMIN = 1 << 3,
	SCOPE_ALL = 0xf,
};

enum role { ROLE_NONE = 0, ROLE_USER, ROLE_ADMIN, ROLE_SUPERADMIN };

/* Who is calling.  Filled by the auth preamble before the handler runs. */
struct principal {
	bool        authenticated;
	const char *tenant_id;	/* set whenever the URL named a known tenant */
	const char *user_id;
	enum role   role;	/* effective tenant role (keys: capped at creation) */
	unsigned    scopes;
	const char *key_id;	/* NULL for JWT sessions */
	const char *key_project_id; /* a key restricted to one project, or NULL */
	const char *jti;	/* the session of a JWT, or NULL */
	struct pg_result *user_row;	/* the principal's row: json_row() gives the user object */
	const char *server_id;	/* an agent: the server its token belongs to */
	const char *project_id;	/* set by perm_project() */
	int         project_role;	/* enum prole, set by perm_project() */
};

struct http_kv {
	const char *name;
	const char *value;
};

#define HTTP_MAX_PARAMS 8
#define HTTP_MAX_HEADERS 8

typedef void (*http_after_fn)(struct worker *w, void *arg);

struct req {
	struct worker       *w;
	struct arena        *a;
	struct FCGX_Request *fcgi;

	enum http_method method;
	const char      *method_name;
	const char      *uri;		/* DOCUMENT_URI as nginx decoded it */
	const char      *tenant_ref;	/* the {tenant} path segment, or NULL */
	const char      *path;		/* the part after /api/v1 (or the whole uri) */
	const char      *request_id;
	const char      *remote_addr;

	struct http_kv  *query;
	size_t           nquery;
	struct http_kv   params[HTTP_MAX_PARAMS];	/* route :params */
	size_t           nparams;

	char            *body;		/* NUL-terminated copy, or NULL */
	size_t           body_len;
	cJSON           *json;		/* parsed body, or NULL */

	struct principal who;

	struct http_kv   headers[HTTP_MAX_HEADERS];	/* extra response headers */
	size_t           nheaders;
	bool             responded;
	int              status;

	http_after_fn    after_fn;	/* runs after FCGX_Finish_r */
	void            *after_arg;

	/* Capture mode: the response is held until the transaction commits. */
	bool             capture;
	struct {
		int         status;
		const char *ctype;
		const char *body;
		size_t      len;
	} held;
	bool             body_read;
	/* A sub-request (http_sub_init): its answer is only ever held. */
	bool             sub;

	/* Set by a route's project_of: what a 404 names ("application"). */
	const char      *resource;
	/* The route matched (router_dispatch), and its prefetch's result:
	 * set only when the principal was found in the same round trip. */
	const struct route *matched;
	struct pg_result   *prefetched;
	const char *const  *prefetch_params;
	/*
	 * The detail of the last error a data-layer call (db, json, perm)
	 * returned: the data layer never answers; when the error reaches the
	 * router unanswered, the router answers it with this (router_answer).
	 */
	struct {
		enum err    e;
		const char *message;
		cJSON      *details;	/* 400's error.details, or NULL */
	} fail;
};

/* Fills method, uri, query, request id from the FastCGI params. */
enum err    http_req_init(struct req *r);
/* A FastCGI param (CGI variable), or NULL. */
const char *http_env(struct req *r, const char *name);
/* An incoming header by its lower-case dashed name ("x-lnchr-key"). */
const char *http_header(struct req *r, const char *name);
const char *http_query(struct req *r, const char *name);
const char *http_param(struct req *r, const char *name);

/*
 * Reads the body (CONTENT_LENGTH checked against max before reading) and,
 * when want_json, requires application/json and parses it into r->json.
 * On failure it has already responded (400/413/415) and returns the error.
 */
enum err http_read_json(struct req *r, bool required);

/* Whether the request's Content-Type is application/json (parameters allowed). */
bool     http_content_is_json(struct req *r);

/*
 * Reads the raw body once (CONTENT_LENGTH checked against the ceiling
 * before reading); later calls return the same bytes.  Responds 400/413
 * itself on failure.
 */
enum err http_body(struct req *r);
/* The same with another ceiling than max_body_bytes (a route that takes
 * larger bodies: the push webhooks, webhook_max_body_bytes). */
enum err http_body_max(struct req *r, int64_t max);
/*
 * A sub-request of parent (the MCP endpoint's tool calls, fcgi/api/mcp.c):
 * sub is set up as if nginx had passed method, /{parent's tenant}/api/v1
 * + path, the query pairs (percent-encoded here) and body (JSON text, or
 * NULL), with the parent's credentials (x-lnchr-key, Authorization), client
 * address and request id, and nothing else (no Idempotency-Key, If-Match or
 * nginx marker).  It reads nothing from the FastCGI connection and writes
 * nothing to it: whatever answers it (router_dispatch, txn_run) leaves the
 * answer in sub->held (status, content type, body) and sub->headers.  All
 * in the parent's arena.  Returns http_req_init's result (on an error the
 * answer is held).
 */
enum err http_sub_init(struct req *sub, struct req *parent, enum http_method m, const char *path,
    const struct http_kv *query, size_t nquery, const char *body);
/* Writes a held (captured) response for real (a sub-request's stays held). */
void     http_flush(struct req *r);
/* Discards a held response (the transaction failed). */
void     http_discard(struct req *r);

/* ETag of a versioned resource ("\"<version>\""). */
void     http_etag(struct req *r, const char *version);
/*
 * If-Match of the request: *version = NULL when absent or "*", else the
 * version it names.  A malformed header answers 412 (returned).
 */
enum err http_if_match(struct req *r, const char **version);
/*
 * The answer when a conditional write (... AND row_version = the If-Match
 * version) matched no row of a resource known to exist: 412 "the <what>
 * has changed (If-Match)".  Returns the error.
 */
enum err http_changed(struct req *r, const char *what);

/* Adds a response header (copied into the arena). */
void     http_add_header(struct req *r, const char *name, const char *value);

/* The response writer.  data is consumed (deleted after writing). */
enum err http_respond_json(struct req *r, int status, cJSON *data, cJSON *meta);
enum err http_no_content(struct req *r);
/* Envelope around row `row` of res as json_row() shows it, written as text. */
enum err http_respond_row(struct req *r, int status, struct pg_result *res, int row);
/* http_respond_row with m's member (json.h) last in the object. */
struct json_member;
enum err http_respond_row_with(struct req *r, int status, struct pg_result *res, int row,
    const struct json_member *m);
/* Error envelope; message must be safe to show (no secrets, no libpq text). */
enum err http_error(struct req *r, enum err e, const char *message);
/*
 * An error envelope with a status and a code that are no enum err: what
 * another party decided (a job's result.error {code, message, status},
 * job_respond_outcome); status 400..599.  Returns ERR_OK (answered).
 */
enum err http_error_as(struct req *r, int status, const char *code, const char *message);
/* 400 with error.details (consumed); returns ERR_BAD_REQUEST. */
enum err http_error_details(struct req *r, const char *message, cJSON *details);
/* 400 naming one field: {message, details: [{field, message: detail}]}. */
enum err http_field_error(struct req *r, const char *message, const char *field,
    const char *detail);
/* The same for another error e (a 409 whose cause is one field's value). */
enum err http_error_field(struct req *r, enum err e, const char *message, const char *field,
    const char *detail);
/*
 * Records e with a message safe to show (and, for 400, error.details,
 * consumed) as the request's error detail, without answering; returns e.
 * For the data layer: the router or the handler answers.
 */
enum err req_fail(struct req *r, enum err e, const char *message);
enum err req_fail_details(struct req *r, const char *message, cJSON *details);
/* Raw body with a given content type (e.g. the bench handler). */
enum err http_respond_raw(struct req *r, int status, const char *ctype,
    const char *body, size_t len);

/* Registers work to run once the response has been sent; several run in
 * the order registered. */
void     http_after(struct req *r, http_after_fn fn, void *arg);

/* ?tail= of a log route: only its newest lines (1..HTTP_TAIL_MAX); *tail is
 * NULL when absent (every line); responds 400 naming it otherwise. */
#define HTTP_TAIL_MAX 10000
enum err http_tail(struct req *r, const char **tail);
/* Parses and validates ?limit= (default 50, 1..200); responds on error. */
enum err http_limit(struct req *r, int64_t *limit);
/* The same without answering: false when ?limit= is not 1..200. */
bool     http_limit_ok(struct req *r, int64_t *limit);

const char *http_method_name(enum http_method m);

#endif
