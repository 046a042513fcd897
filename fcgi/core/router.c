/*
 * router.c - route matching, the auth preamble hook and dispatch.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "db.h"
#include "log.h"
#include "perm.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

/* Every section's table (router_init); order does not matter (patterns
 * don't overlap). */
static const struct route *const *sections;
static size_t                     nsections;

void
router_init(const struct route *const *tables, size_t n)
{
	sections = tables;
	nsections = n;
}

bool
router_match(struct req *r, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;

	r->nparams = 0;
	while (*p && *s) {
		if (*p == ':') {
			const char *pe = strchr(p, '/'), *se = strchr(s, '/');
			size_t      pl = pe ? (size_t)(pe - p) : strlen(p);
			size_t      sl = se ? (size_t)(se - s) : strlen(s);

			if (sl == 0 || r->nparams == HTTP_MAX_PARAMS)
				return false;
			r->params[r->nparams].name = arena_strndup(r->a, p + 1, pl - 1);
			r->params[r->nparams].value = arena_strndup(r->a, s, sl);
			r->nparams++;
			p += pl;
			s += sl;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	/* One canonical form: "/auth/login/" is not "/auth/login" (nginx's
	 * per-location limits match the exact path). */
	return *p == '\0' && *s == '\0';
}

bool
router_id_param(const char *name)
{
	size_t n = strlen(name);

	return strcmp(name, "id") == 0 || (n > 2 && strcmp(name + n - 2, "Id") == 0);
}

/* The route's id parameters (router_id_param) are UUIDs: else 404 naming
 * the parameter, before any handler runs. */
static enum err
check_ids(struct req *r)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (router_id_param(r->params[i].name) && !util_is_uuid(r->params[i].value))
			return http_error(r, ERR_NOT_FOUND, arena_printf(r->a,
			    "not found: the path parameter %s is not a valid id", r->params[i].name));
	return ERR_OK;
}

/*
 * The one gate between the auth preamble and any handler of a tenant
 * route (public, agent, authenticated, with or without a prefetch): the
 * connection's session must hold, as its launcher.tenant_id, the very
 * tenant this request resolved from its own URL in this request's
 * preamble (db.h: held_id/held_ref, written by auth.c's preamble alone).
 * A route kind that did not run the preamble, a preamble that failed
 * part-way, or a memory that disagrees with the URL gets a 500 and a log
 * line, never an answer computed under another tenant.
 */
static enum err
tenant_gate(struct req *r, const struct route *rt)
{
	const struct db *db = &r->w->db;

	if (r->who.tenant_id == NULL || db->held_id[0] == '\0' ||
	    strcmp(r->who.tenant_id, db->held_id) != 0 || r->tenant_ref == NULL ||
	    strcmp(r->tenant_ref, db->held_ref) != 0) {
		log_error("tenant check refused %s: the connection does not hold the request's tenant",
		    rt->pattern);
		return ERR_INTERNAL;
	}
	log_debug("tenant check %s %s", rt->pattern, db->held_id);
	return ERR_OK;
}

enum err
router_tenant_gate(struct req *r)
{
	return r->matched != NULL ? tenant_gate(r, r->matched) : ERR_INTERNAL;
}

/* Splits "/{tenant}/api/v1/rest" into tenant_ref and path; false if not. */
static bool
split_tenant(struct req *r)
{
	const char *u = r->uri, *slash;
	static const char mid[] = "/api/v1/";

	if (u[0] != '/' || (slash = strchr(u + 1, '/')) == NULL || slash == u + 1 ||
	    strncmp(slash, mid, sizeof(mid) - 1) != 0)
		return false;
	r->tenant_ref = arena_strndup(r->a, u + 1, (size_t)(slash - u - 1));
	r->path = slash + sizeof(mid) - 2;	/* keeps the leading '/' */
	return true;
}

static unsigned
scope_needed(const struct route *rt, enum http_method m)
{
	if (rt->scope != 0)
		return rt->scope;
	return (m == HTTP_GET || m == HTTP_HEAD) ? SCOPE_READ : SCOPE_WRITE;
}

/* Why the authenticated caller may not use rt with method m, or NULL. */
static const char *
refusal(const struct req *r, const struct route *rt, enum http_method m)
{
	/* Project routes: the permission table decides the scope (perm.c);
	 * a route of sub-requests (MCP) none: each sub-request checks its own. */
	if (rt->cap == CAP_NONE && !(rt->flags & ROUTE_SUBREQUESTS) &&
	    (r->who.scopes & scope_needed(rt, m)) != scope_needed(rt, m))
		return "the service key lacks the scope this call needs";
	if (r->who.role < rt->min_role)
		return "insufficient permissions";
	/* Tenant administration, and a user's data across projects, is out
	 * of reach of a key bound to one project. */
	if ((rt->min_role >= ROLE_ADMIN || rt->flags & ROUTE_NO_PROJECT_KEY) &&
	    r->who.key_project_id != NULL)
		return "a project-bound service key cannot do this";
	return NULL;
}

static enum err
authorise(struct req *r, const struct route *rt)
{
	const char *why;
	enum err    e;

	if (rt->flags & ROUTE_GLOBAL)
		return ERR_OK;
	if (rt->flags & ROUTE_AGENT)
		return auth_agent(r);
	if (rt->flags & ROUTE_ONE_STATEMENT)
		return ERR_OK;	/* the handler's auth_tenant_with */
	if (rt->flags & ROUTE_PUBLIC)
		return auth_tenant(r);
	if ((e = auth_authenticate(r)) != ERR_OK)
		return e;
	if ((why = refusal(r, rt, r->method)) != NULL)
		return http_error(r, ERR_FORBIDDEN, why);
	return ERR_OK;
}

bool
router_admits(const struct req *r, enum http_method m, const char *pattern)
{
	for (size_t i = 0; i < nsections; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++)
			if (rt->methods & m && strcmp(rt->pattern, pattern) == 0)
				return rt->cap == CAP_NONE && !(rt->flags & (ROUTE_PUBLIC |
				    ROUTE_GLOBAL | ROUTE_AGENT)) && refusal(r, rt, m) == NULL;
	return false;
}

/* The route of r (404 / 405 + Allow answered when there is none). */
static const struct route *
find(struct req *r, bool tenant)
{
	unsigned allow = 0;

	for (size_t i = 0; i < nsections; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++) {
			if (((rt->flags & ROUTE_GLOBAL) != 0) == tenant)
				continue;
			if (!router_match(r, rt->pattern, tenant ? r->path : r->uri))
				continue;
			allow |= rt->methods;
			if (rt->methods & r->method ||
			    (r->method == HTTP_HEAD && rt->methods & HTTP_GET))
				return rt;
		}
	if (allow != 0) {
		char list[64] = "";
		size_t n = 0;

		for (unsigned m = HTTP_GET; m <= HTTP_OPTIONS; m <<= 1)
			if (allow & m) {
				int k = snprintf(list + n, sizeof(list) - n, "%s%s",
				    n ? ", " : "", http_method_name(m));
				if (k < 0 || (size_t)k >= sizeof(list) - n)
					break;
				n += (size_t)k;
			}
		http_add_header(r, "Allow", list);
		http_error(r, ERR_METHOD_NOT_ALLOWED, "method not allowed");
	} else
		http_error(r, ERR_NOT_FOUND, "route not found");
	return NULL;
}

/* Credentials, the tenant gate and the ids of the route found. */
static enum err
admit(struct req *r, const struct route *rt)
{
	enum err e;

	if ((e = authorise(r, rt)) == ERR_OK &&
	    ((rt->flags & (ROUTE_GLOBAL | ROUTE_ONE_STATEMENT)) || (e = tenant_gate(r, rt)) == ERR_OK))
		e = check_ids(r);
	return e;
}

/* The route's cap on its project (perm.h), if it names one. */
static enum err
project_cap(struct req *r, const struct route *rt)
{
	if (rt->cap == CAP_NONE)
		return ERR_OK;
	return perm_project(r, rt->project_of ? rt->project_of(r) : http_param(r, "id"), rt->cap);
}

void
router_dispatch(struct req *r)
{
	bool                tenant = split_tenant(r);
	const struct route *found = find(r, tenant);
	enum err            e;

	if (found == NULL)
		return;
	r->matched = found;
	if ((e = admit(r, found)) == ERR_OK) {
		if (r->method != HTTP_GET && r->method != HTTP_HEAD &&
		    !(found->flags & (ROUTE_ONE_STATEMENT | ROUTE_SUBREQUESTS)))
			e = txn_run(r, found);
		else if ((e = project_cap(r, found)) == ERR_OK)
			e = found->fn(r);
	}
	router_answer(r, e);
}

enum err
router_check(struct req *r)
{
	bool                tenant = split_tenant(r);
	const struct route *found;
	enum err            e;

	if (!tenant)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	if ((found = find(r, true)) == NULL)
		return ERR_NOT_FOUND;
	r->matched = found;
	if ((e = admit(r, found)) == ERR_OK)
		e = project_cap(r, found);
	if (e != ERR_OK)
		router_answer(r, e);
	return e;
}

void
router_answer(struct req *r, enum err e)
{
	const char *field, *why;

	if (r->responded)
		return;
	/* To an agent a 409 means "stop working on this job": a transient
	 * serialization failure or deadlock must read as "try again". */
	if (e == ERR_RETRY && r->matched != NULL && (r->matched->flags & ROUTE_AGENT))
		e = ERR_UNAVAILABLE;
	if (e == ERR_OK) {
		log_error("handler %s returned without responding",
		    r->matched ? r->matched->pattern : r->uri);
		e = ERR_INTERNAL;
	}
	if (r->fail.e == e && r->fail.message != NULL) {
		if (r->fail.details != NULL)
			http_error_details(r, r->fail.message, cJSON_Duplicate(r->fail.details, true));
		else
			http_error(r, e, r->fail.message);
		return;
	}
	/* A refused reference or check names the body's field it came from;
	 * our own SQL functions name theirs (placement: COLUMN) with a message. */
	field = db_field(r, &why);
	if (e == ERR_BAD_REQUEST && field[0] != '\0' && (db_message(r, NULL) != NULL ||
	    (cJSON_IsObject(r->json) && cJSON_GetObjectItemCaseSensitive(r->json, field) != NULL))) {
		http_field_error(r, "invalid request body", field, why);
		return;
	}
	/* A conflict our own SQL raised about one field (COLUMN): named too. */
	if (e == ERR_CONFLICT && field[0] != '\0' && db_message(r, NULL) != NULL) {
		http_error_field(r, e, db_message(r, NULL), field, db_message(r, NULL));
		return;
	}
	/* Else the message our own SQL raised for users (LNxxx, e.g.
	 * quota_exceeded), if any. */
	http_error(r, e, e == ERR_UNAVAILABLE ? "service temporarily unavailable" :
	    e == ERR_INTERNAL ? "internal error" : db_message(r, err_code(e)));
}

const struct route *
router_route(enum http_method m, const char *pattern)
{
	for (size_t i = 0; i < nsections; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++)
			if (rt->methods & m && !(rt->flags & ROUTE_GLOBAL) &&
			    strcmp(rt->pattern, pattern) == 0)
				return rt;
	return NULL;
}

unsigned
router_scope(const struct route *rt, enum http_method m)
{
	return rt->cap != CAP_NONE ? perm_cap_scope((enum cap)rt->cap) : scope_needed(rt, m);
}

size_t
router_count(void)
{
	size_t n = 0;

	for (size_t i = 0; i < nsections; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++)
			n++;
	return n;
}

const struct route *
router_at(size_t i)
{
	for (size_t t = 0; t < nsections; t++)
		for (const struct route *rt = sections[t]; rt->pattern; rt++)
			if (i-- == 0)
				return rt;
	return NULL;
}

long
router_index(const struct route *rt)
{
	long base = 0;

	if (rt == NULL)
		return -1;
	for (size_t t = 0; t < nsections; t++) {
		const struct route *end = sections[t];

		while (end->pattern)
			end++;
		/* Within this table: its offset (the tables are arrays). */
		if (rt >= sections[t] && rt < end)
			return base + (long)(rt - sections[t]);
		base += (long)(end - sections[t]);
	}
	return -1;
}

void
router_print(void)
{
	for (size_t i = 0; i < nsections; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++)
			for (unsigned m = HTTP_GET; m <= HTTP_DELETE; m <<= 1)
				if (rt->methods & m)
					printf("%s %s%s %s %s %s\n", http_method_name(m),
					    rt->flags & ROUTE_GLOBAL ? "" : "/{tenant}/api/v1",
					    rt->pattern, perm_cap_name((enum cap)rt->cap),
					    rt->audit ? rt->audit : "-",
					    rt->flags & ROUTE_PUBLIC ? "public" :
					    rt->flags & ROUTE_GLOBAL ? "global" :
					    rt->flags & ROUTE_AGENT ? "agent" : "auth");
}
