/*
 * terminals.c - API.md §22 interactive terminals, the REST half:
 * POST /applications/:id/terminal and POST /servers/:id/terminal (and the
 * session machinery POST /databases/:id/terminal shares, databases.c).
 *
 * A call stores a single-use session (sql/031_terminals.sql,
 * api_terminal_open: the tenant's limit, the target, a terminal.open job
 * for the target's server) and answers 201 {sessionId, expires_at, url}
 * at once.  The client then opens url on launcher-ws within
 * TERMINAL_TTL_SECONDS; the agent, woken by the job, opens its own socket
 * for the session (fcgi/agent/term.c) and launcher-ws pairs the two
 * (fcgi/ws/term.c).  No pool worker waits for any of it.
 */
#include "api.h"

#include <string.h>

#include "../core/config.h"
#include "../core/db.h"
#include "../core/perm.h"
#include "../core/worker.h"
#include "apps_common.h"

/* Long enough for a client to open the WebSocket, short enough to be spent. */
#define TERMINAL_TTL_SECONDS 60
/* What a full tenant is told to wait: an unused session expires by then. */
#define TERMINAL_RETRY_AFTER "60"

DB_STMT st_terminal_open = {"terminal_open",
    "SELECT \"sessionId\", expires_at FROM api_terminal_open($1, $2::uuid, $3, $4::jsonb, $5,"
    " $6::uuid, $7::uuid, $8::int, $9::int)"};

enum err
terminal_open(struct req *r, const char *target, const char *command_json,
    const char *password_env)
{
	const char *inst = http_query(r, "instance");
	PGresult   *res;
	cJSON      *d;
	enum err    e;

	if (inst != NULL && (*inst == '\0' || strcmp(target, "application") != 0))
		inst = NULL;
	if (inst != NULL && strlen(inst) > 128)
		return http_field_error(r, "invalid query parameter", "instance",
		    "must be an instance's id, name or container id");
	e = db_run(r, &st_terminal_open, &res, target, http_param(r, "id"), inst, command_json,
	    password_env, r->who.user_id, r->who.key_id,
	    arena_printf(r->a, "%d", TERMINAL_TTL_SECONDS),
	    arena_printf(r->a, "%lld", (long long)r->w->cfg->terminal_sessions_max));
	if (e == ERR_TOO_MANY_REQUESTS)
		http_add_header(r, "Retry-After", TERMINAL_RETRY_AFTER);
	if (e != ERR_OK)
		return e;
	d = json_row(res, 0);
	cJSON_AddStringToObject(d, "url", arena_printf(r->a, "/%s/ws/terminal/%s",
	    r->tenant_ref ? r->tenant_ref : r->who.tenant_id, PQgetvalue(res, 0, 0)));
	return http_respond_json(r, 201, d, NULL);
}

/* A shell in one running instance (?instance=: id, name or container id);
 * not in a stack with host settings unless the caller may (apps_host_guard). */
static enum err
app_terminal(struct req *r)
{
	enum err e;

	if ((e = apps_host_guard(r, http_param(r, "id"), NULL)) != ERR_OK)
		return e;
	return terminal_open(r, "application", "[\"/bin/sh\"]", NULL);
}

/* A login shell on the server's host (superadmins only: it escapes every container). */
static enum err
server_terminal(struct req *r)
{
	return terminal_open(r, "server", "[\"/bin/sh\", \"-l\"]", NULL);
}

const struct route api_terminal_routes[] = {
	/* Write, as exec: whoever runs commands in a container reads its env. */
	APPS_ROUTE(HTTP_POST, "/applications/:id/terminal", app_terminal, CAP_WRITE,
	    "application.terminal"),
	{.methods = HTTP_POST, .pattern = "/servers/:id/terminal", .fn = server_terminal,
	    .min_role = ROLE_SUPERADMIN, .scope = SCOPE_ADMIN, .audit = "server.terminal"},
	{0},
};
