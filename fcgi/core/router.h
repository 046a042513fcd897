/*
 * router.h - route tables and dispatch.
 *
 * Each API section (fcgi/api/<section>.c) exports one table of struct
 * route ending with {0}; the program hands the list of tables to
 * router_init (fcgi/bin/launcher_fcgi.c), so core/ knows no section.
 * Patterns are paths below /{tenant}/api/v1 with ":name" segments; a name
 * "id" or ending in "Id" declares a UUID, and the router answers 404
 * naming the parameter for anything else, before the handler runs.
 * ROUTE_GLOBAL patterns are whole URIs without a tenant.
 * The router picks the route (404 / 405 + Allow), runs the auth preamble
 * the route asks for, checks key scope and tenant role, then calls the
 * handler.  A handler returns ERR_OK after responding, or an error that the
 * router answers (router_answer): with the detail the data layer recorded
 * for that error (http.h, req_fail), else with a generic message.
 */
#ifndef LAUNCHER_ROUTER_H
#define LAUNCHER_ROUTER_H

#include "db.h"
#include "http.h"

typedef enum err (*route_fn)(struct req *r);

enum route_flags {
	ROUTE_PUBLIC = 1 << 0,	/* no credentials; the tenant is still resolved */
	ROUTE_GLOBAL = 1 << 1,	/* no tenant in the URL (healthz, bench) */
	ROUTE_AGENT = 1 << 2,	/* agent token instead of user credentials */
	/* The answer shows a secret once (key, token): an idempotent replay
	 * stores and returns it without the secret fields. */
	ROUTE_SECRET_ANSWER = 1 << 3,
	/* The handler answers with the caller's user object (r->who.user_row):
	 * a service key's principal statement then also reads the user. */
	ROUTE_USER_OBJECT = 1 << 4,
	/*
	 * Every mutation (any method but GET/HEAD) runs in txn_run (txn.h).
	 * These switch its parts off where they make no sense; public, agent
	 * and global routes have no user or key to record or to scope an
	 * Idempotency-Key to, so they imply both.
	 */
	ROUTE_NO_AUDIT = 1 << 5,
	ROUTE_NO_IDEMPOTENCY = 1 << 6,
	/* A 4xx answer still commits what the handler wrote (a wrong one-time
	 * code's attempt must count); 5xx always rolls back. */
	ROUTE_COMMIT_REFUSAL = 1 << 7,
	/* The caller's own user data across projects (notifications): out of
	 * reach of a service key bound to one project, as tenant
	 * administration is. */
	ROUTE_NO_PROJECT_KEY = 1 << 8,
	/*
	 * A public route whose work is one statement (Sentry ingest): the
	 * router neither resolves its tenant first nor wraps it in txn_run;
	 * its handler, once it has read the request, sends that statement in
	 * the tenant preamble's own round trip (auth_tenant_with, auth.h), one
	 * implicit transaction and one commit, and the tenant gate runs there.
	 * The statement is its own transaction: it must not need another.
	 */
	ROUTE_ONE_STATEMENT = 1 << 9,
	/*
	 * The handler answers from sub-requests that it runs through
	 * router_dispatch (the MCP endpoint, fcgi/api/mcp.c), each a whole
	 * request with its own credentials, permission check and, for a
	 * mutation, its own txn_run (transaction, audit): the router holds no
	 * transaction of its own around the handler, whatever the method.
	 * Any key scope may call it (route.scope is not checked): each
	 * sub-request's route checks the scope it needs.
	 */
	ROUTE_SUBREQUESTS = 1 << 10,
};

struct route {
	unsigned    methods;
	const char *pattern;
	route_fn    fn;
	unsigned    flags;
	unsigned    scope;	/* key scope needed; 0 = read for GET, write otherwise */
	enum role   min_role;	/* least tenant role; 0 = any authenticated user */
	int         cap;	/* enum cap on the route's project (perm.h); 0 = none */
	const char *audit;	/* audit action ("project.update"); mutations need one */
	/* The project a cap applies to; NULL = the :id param is the project. */
	const char *(*project_of)(struct req *r);
	/*
	 * A read the handler is likely to need, sent in the auth preamble's
	 * round trip (auth.c): fills *call from the request alone and returns
	 * true, or returns false (never responds).  Its last parameter is left
	 * for the request's token, which auth.c fills in: the statement returns
	 * rows only while launcher.tenant_wide holds it (the caller reads the
	 * whole tenant, auth.c).  The handler finds the result in
	 * r->prefetched and decides whether it applies.
	 */
	bool (*prefetch)(struct req *r, struct db_call *call);
};

/* The section tables (each ending with {0}); kept, not copied. */
void router_init(const struct route *const *tables, size_t n);
/*
 * Matches pattern against path exactly (no trailing slash, no empty
 * segment, at most HTTP_MAX_PARAMS params), filling r->params (in r->a).
 */
bool router_match(struct req *r, const char *pattern, const char *path);
/* Whether a pattern's :name is an id (a UUID): "id" or "...Id". */
bool router_id_param(const char *name);
/*
 * Finds and runs the route for r; always leaves r responded.  Between the
 * auth preamble and the handler of every tenant route, it checks that the
 * connection holds the tenant this request resolved (500 otherwise).
 */
void router_dispatch(struct req *r);
/*
 * Everything router_dispatch does for a tenant route before its handler,
 * without running it: the route of r->method and r->uri, the credentials
 * it asks for, key scope, tenant role, ids, and the route's cap on its
 * project (perm.h), for any method.  ERR_OK, or the error, answered.  For
 * launcher-ws, which admits a stream as its REST equivalent (fcgi/ws/ws.h).
 */
enum err router_check(struct req *r);
/*
 * Whether the authenticated caller r would be admitted to the tenant route
 * of method m and exactly this pattern ("/users") by its key scope, tenant
 * role and project-key rule (no project cap: false for project routes and
 * unknown patterns).  For an answer that includes what another route
 * lists, to the same callers (search.c and the users list).
 */
bool router_admits(const struct req *r, enum http_method m, const char *pattern);
/*
 * The tenant gate (router.c) for a ROUTE_ONE_STATEMENT route, which
 * auth_tenant_with runs after its preamble: ERR_OK, or 500 answered.
 */
enum err router_tenant_gate(struct req *r);
/*
 * The one answer to an error e that reached the router (or txn_run)
 * unanswered: the recorded detail when it is e's, else a generic message.
 * Does nothing if r has responded.
 */
void router_answer(struct req *r, enum err e);
/*
 * Every route has an index, 0 .. router_count() - 1, stable for the life
 * of the program (the order of the tables): router_at(i) is the route of
 * index i, router_index(rt) the index of a route of the tables, -1 for
 * anything else (NULL).  For the pool's figures (planestats.h).
 */
size_t              router_count(void);
const struct route *router_at(size_t i);
long                router_index(const struct route *rt);
/* The tenant route of method m and exactly this pattern, or NULL. */
const struct route *router_route(enum http_method m, const char *pattern);
/* The key scope route rt needs for method m: its cap's (perm.h), else its own. */
unsigned            router_scope(const struct route *rt, enum http_method m);
/* Prints "METHOD /pattern cap audit" lines of every route (for the tests). */
void router_print(void);

#endif
