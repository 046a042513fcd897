/*
 * authz.c - ws_authorize: a stream is admitted exactly as its REST
 * equivalent (see ws.h).
 *
 * The daemon holds one worker, as a pool process does (core/worker.h: its
 * database connection, bound to its tenant-proof nonce, its arena and its
 * keys).  An upgrade becomes a request of that worker: the credentials of
 * the upgrade are presented as the pool sees them (the x-lnchr-key header,
 * or the JWT of ?token= or of an Authorization header as a Bearer token),
 * the URI is the REST equivalent's, and router_check runs what the router
 * runs before a handler: core/auth's verification, the route's key scope
 * and tenant role, and core/perm's cap on the route's project.  The answer
 * the pool would give is held (capture mode) and written before the
 * upgrade, in the same envelope.  Nothing here decides a permission.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "../core/arena.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/router.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "../api/api.h"
#include "ws.h"

#define CRED_MAX 2048	/* a JWT; a service key is far shorter */

/* The sections whose routes a stream names as its REST equivalent. */
static const struct route *const sections[] = {
	api_auth_routes,
	api_server_routes,
	api_application_routes,
	api_app_action_routes,
	api_app_log_routes,
	api_deployment_routes,
	api_database_routes,
	api_terminal_routes,	/* a terminal's client: as its session's POST (term.c) */
	api_notification_routes,
};

static struct worker w;
static bool          ready;

int
ws_authz_init(const struct config *cfg, const struct crypto_keys *keys)
{
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.keys = *keys;
	w.listen_fd = -1;
	arena_init(&w.arena, 16 * 1024);
	router_init(sections, sizeof(sections) / sizeof(*sections));
	ready = true;
	return 0;
}

void
ws_authz_free(void)
{
	if (!ready)
		return;
	db_close(&w.db);
	arena_free(&w.arena);
	sodium_memzero(&w.keys, sizeof(w.keys));
	ready = false;
}

const char *
ws_query(struct lws *wsi, const char *name, char *buf, size_t size)
{
	char        n[64];
	const char *v;

	if (size == 0 || util_snprintf(n, sizeof(n), "%s=", name) < 0 ||
	    (v = lws_get_urlarg_by_name(wsi, n, buf, (int)size)) == NULL) {
		if (size > 0)
			buf[0] = '\0';
		return NULL;
	}
	memmove(buf, v, strlen(v) + 1);
	return buf;
}

/* A copy of one (custom) header into buf; false if absent or too long. */
static bool
header(struct lws *wsi, const char *name, char *buf, size_t size)
{
	int n = lws_hdr_custom_length(wsi, name, (int)strlen(name));

	return n > 0 && (size_t)n < size &&
	    lws_hdr_custom_copy(wsi, buf, (int)size, name, (int)strlen(name)) == n;
}

static void
copy_id(char *dst, const char *src)
{
	util_snprintf(dst, WS_ID_LEN + 1, "%s", src != NULL ? src : "");
}

int
ws_authorize(struct lws *wsi, const char *tenant, const char *rest, struct ws_principal *out)
{
	static char  key[CRED_MAX + 32], bearer[CRED_MAX + 32];
	char         tok[CRED_MAX + 1];
	char        *env[3] = {NULL, NULL, NULL};
	FCGX_Request fr;
	struct req   r;
	const char  *sp;
	int          n = 0, rc;
	enum err     e;

	if (!ready || rest == NULL || (sp = strchr(rest, ' ')) == NULL)
		return -1;
	/* The credentials, as nginx would hand them to the pool. */
	memcpy(key, "HTTP_X_LNCHR_KEY=", 17);
	if (header(wsi, "x-lnchr-key:", key + 17, sizeof(key) - 17))
		env[n++] = key;
	if (ws_query(wsi, "token", tok, sizeof(tok)) != NULL && tok[0] != '\0')
		util_snprintf(bearer, sizeof(bearer), "HTTP_AUTHORIZATION=Bearer %s", tok);
	else if (lws_hdr_copy(wsi, tok, sizeof(tok), WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		util_snprintf(bearer, sizeof(bearer), "HTTP_AUTHORIZATION=%s", tok);
	else
		bearer[0] = '\0';
	if (bearer[0] != '\0')
		env[n++] = bearer;
	sodium_memzero(tok, sizeof(tok));

	memset(&fr, 0, sizeof(fr));
	fr.envp = env;
	memset(&r, 0, sizeof(r));
	r.w = &w;
	r.a = &w.arena;
	r.fcgi = &fr;
	r.capture = true;	/* the pool's answer is held, then written here */
	r.request_id = "ws";
	if (strncmp(rest, "GET ", 4) == 0)
		r.method = HTTP_GET;
	else if (strncmp(rest, "POST ", 5) == 0)
		r.method = HTTP_POST;
	else if (strncmp(rest, "PUT ", 4) == 0)
		r.method = HTTP_PUT;
	else if (strncmp(rest, "PATCH ", 6) == 0)
		r.method = HTTP_PATCH;
	else if (strncmp(rest, "DELETE ", 7) == 0)
		r.method = HTTP_DELETE;
	else
		r.method = 0;
	r.method_name = http_method_name(r.method);
	r.uri = arena_printf(r.a, "/%s/api/v1%s", tenant, sp + 1);
	e = r.method != 0 ? router_check(&r) : ERR_INTERNAL;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(bearer, sizeof(bearer));
	if (e == ERR_OK) {
		if (out != NULL) {
			memset(out, 0, sizeof(*out));
			copy_id(out->tenant_id, r.who.tenant_id);
			copy_id(out->user_id, r.who.user_id);
			copy_id(out->key_id, r.who.key_id);
			copy_id(out->project_id, r.who.project_id);
			out->role = (int)r.who.role;
			out->project_role = r.who.project_role;
		}
		rc = 0;
	} else if (r.responded && r.held.status >= 400) {
		rc = ws_answer_raw(wsi, (unsigned)r.held.status, r.held.body, r.held.len);
	} else {
		log_error("launcher-ws: %s was refused without an answer", rest);
		rc = ws_answer(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, "INTERNAL", "internal error");
	}
	arena_reset(&w.arena);
	return rc;
}
