/*
 * router.c - route matching, the auth preamble hook and dispatch.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "../api/api.h"
#include "auth.h"
#include "db.h"
#include "log.h"
#include "perm.h"
#include "txn.h"

/* Every section's table; order does not matter (patterns don't overlap). */
static const struct route *const sections[] = {
	api_system_routes,
	api_auth_routes,
	api_service_key_routes,
	api_user_routes,
	api_project_routes,
	api_member_routes,
	api_environment_routes,
	api_audit_routes,
	api_server_routes,
	api_agent_routes,
	api_application_routes,
	api_deployment_routes,
	api_job_routes,
};

/* Matches pattern against path, filling r->params; true on match. */
static bool
match(struct req *r, const char *pattern, const char *path)
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
	/* A single trailing slash on the request is tolerated. */
	if (*p == '\0' && s[0] == '/' && s[1] == '\0')
		return true;
	return *p == '\0' && *s == '\0';
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

static enum err
authorise(struct req *r, const struct route *rt)
{
	enum err e;

	if (rt->flags & ROUTE_GLOBAL)
		return ERR_OK;
	if (rt->flags & ROUTE_AGENT)
		return auth_agent(r);
	if (rt->flags & ROUTE_PUBLIC)
		return auth_tenant(r);
	if ((e = auth_authenticate(r)) != ERR_OK)
		return e;
	/* Project routes: the permission table decides the scope (perm.c). */
	if (rt->cap == CAP_NONE &&
	    (r->who.scopes & scope_needed(rt, r->method)) != scope_needed(rt, r->method))
		return http_error(r, ERR_FORBIDDEN, "the service key lacks the scope this call needs");
	if (r->who.role < rt->min_role)
		return http_error(r, ERR_FORBIDDEN, "insufficient permissions");
	/* Tenant administration is out of reach of a key bound to one project. */
	if (rt->min_role >= ROLE_ADMIN && r->who.key_project_id != NULL)
		return http_error(r, ERR_FORBIDDEN, "a project-bound service key cannot do this");
	return ERR_OK;
}

void
router_dispatch(struct req *r)
{
	const struct route *found = NULL;
	unsigned            allow = 0;
	bool                tenant = split_tenant(r);
	enum err            e;

	for (size_t i = 0; i < sizeof(sections) / sizeof(*sections) && !found; i++)
		for (const struct route *rt = sections[i]; rt->pattern; rt++) {
			if (((rt->flags & ROUTE_GLOBAL) != 0) == tenant)
				continue;
			if (!match(r, rt->pattern, tenant ? r->path : r->uri))
				continue;
			allow |= rt->methods;
			if (rt->methods & r->method ||
			    (r->method == HTTP_HEAD && rt->methods & HTTP_GET)) {
				found = rt;
				break;
			}
		}
	if (found == NULL) {
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
		return;
	}
	r->matched = found;
	if ((e = authorise(r, found)) == ERR_OK) {
		if (r->who.authenticated && r->method != HTTP_GET && r->method != HTTP_HEAD)
			e = txn_run(r, found);
		else if (found->cap != CAP_NONE &&
		    (e = perm_project(r, found->project_of ? found->project_of(r) :
		    http_param(r, "id"), found->cap)) != ERR_OK)
			;
		else
			e = found->fn(r);
	}
	/* To an agent a 409 means "stop working on this job": a transient
	 * serialization failure or deadlock must read as "try again". */
	if (!r->responded && e == ERR_RETRY && (found->flags & ROUTE_AGENT))
		e = ERR_UNAVAILABLE;
	if (!r->responded) {
		if (e == ERR_OK) {
			log_error("handler %s returned without responding", found->pattern);
			e = ERR_INTERNAL;
		}
		http_error(r, e, e == ERR_UNAVAILABLE ? "service temporarily unavailable" :
		    e == ERR_INTERNAL ? "internal error" : err_code(e));
	}
}

void
router_print(void)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(*sections); i++)
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
