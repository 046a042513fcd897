/* test_router.c - the router's path matching (router_match), id params,
 * and router_admits (another route's admission, without answering). */
#include <string.h>

#include "core/arena.h"
#include "core/http.h"
#include "core/router.h"
#include "core/util.h"
#include "unit.h"

static enum err
noop(struct req *r)
{
	(void)r;
	return ERR_OK;
}

/* A table like the users section's: admins with the admin scope, no project key. */
static const struct route admit_routes[] = {
	{.methods = HTTP_GET, .pattern = "/users", .fn = noop, .scope = SCOPE_ADMIN, .min_role = ROLE_ADMIN},
	{.methods = HTTP_GET, .pattern = "/servers", .fn = noop},
	{.methods = HTTP_GET, .pattern = "/projects/:id", .fn = noop, .cap = 1},
	{.methods = HTTP_GET, .pattern = "/healthz", .fn = noop, .flags = ROUTE_GLOBAL},
	{0},
};

static void
check_admits(void)
{
	static const struct route *const tables[] = {admit_routes};
	static const struct {
		enum role   role;
		unsigned    scopes;
		const char *key_project, *pattern;
		bool        admitted;
	} cases[] = {
		{ROLE_SUPERADMIN, SCOPE_ALL, NULL, "/users", true},
		{ROLE_ADMIN, SCOPE_ALL, NULL, "/users", true},
		{ROLE_USER, SCOPE_ALL, NULL, "/users", false},
		{ROLE_ADMIN, SCOPE_READ, NULL, "/users", false},	/* a read key of an admin */
		{ROLE_ADMIN, SCOPE_READ | SCOPE_ADMIN, NULL, "/users", true},
		{ROLE_ADMIN, SCOPE_ALL, "p1", "/users", false},	/* bound to a project */
		{ROLE_USER, SCOPE_READ, NULL, "/servers", true},
		{ROLE_USER, SCOPE_WRITE, NULL, "/servers", false},
		{ROLE_SUPERADMIN, SCOPE_ALL, NULL, "/projects/:id", false},	/* a project cap */
		{ROLE_SUPERADMIN, SCOPE_ALL, NULL, "/healthz", false},	/* not a tenant route */
		{ROLE_SUPERADMIN, SCOPE_ALL, NULL, "/nothing", false},
	};
	struct req r;

	router_init(tables, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		memset(&r, 0, sizeof(r));
		r.who.authenticated = true;
		r.who.role = cases[i].role;
		r.who.scopes = cases[i].scopes;
		r.who.key_project_id = cases[i].key_project;
		CHECK(router_admits(&r, HTTP_GET, cases[i].pattern) == cases[i].admitted, cases[i].pattern);
	}
}

/* http_after: every deferred action of a request runs, in order (the MCP
 * endpoint's sub-requests may each defer one). */
static char after_log[8];

static void
after_note(struct worker *w, void *arg)
{
	(void)w;
	size_t n = strlen(after_log);

	util_snprintf(after_log + n, sizeof(after_log) - n, "%s", (const char *)arg);
}

static void
check_after(void)
{
	struct arena a;
	struct req   r;

	arena_init(&a, 4096);
	memset(&r, 0, sizeof(r));
	r.a = &a;
	http_after(&r, after_note, "1");
	http_after(&r, after_note, "2");
	http_after(&r, after_note, "3");
	r.after_fn(NULL, r.after_arg);
	CHECK(strcmp(after_log, "123") == 0, after_log);
	arena_free(&a);
}

int
main(void)
{
	/* params: "name=value;name=value" of a match, NULL = no match. */
	static const struct { const char *pattern, *path, *params; } cases[] = {
		{"/auth/login", "/auth/login", ""},
		{"/auth/login", "/auth/login/", NULL},	/* one canonical form */
		{"/auth/login", "/auth/login//", NULL},
		{"/auth/login", "/auth/logi", NULL},
		{"/auth/login", "/auth/loginx", NULL},
		{"/auth/login", "/auth", NULL},
		{"/auth/login", "//auth/login", NULL},
		{"/auth/login", "", NULL},
		{"/projects/:id", "/projects/abc", "id=abc"},
		{"/projects/:id", "/projects/abc/", NULL},
		{"/projects/:id", "/projects/", NULL},	/* empty segment */
		{"/projects/:id", "/projects", NULL},
		{"/projects/:id", "/projects/a/b", NULL},
		{"/projects/:id/members", "/projects//members", NULL},
		{"/projects/:id/members", "/projects/p1/members", "id=p1"},
		{"/projects/:id/members", "/projects/p1/members/", NULL},
		{"/projects/:id/members/:memberId", "/projects/p1/members/m2", "id=p1;memberId=m2"},
		{"/projects/:id/members/:memberId", "/projects/p1/members/", NULL},
		{"/projects/:id/members/:memberId", "/projects/p1/memberz/m2", NULL},
		{"/:a/:b/:c/:d/:e/:f/:g/:h", "/1/2/3/4/5/6/7/8", "a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8"},
		{"/:a/:b/:c/:d/:e/:f/:g/:h/:i", "/1/2/3/4/5/6/7/8/9", NULL},	/* too many params */
		{"/x/:id", "/x/%2F", "id=%2F"},	/* the path is not decoded here */
	};
	static const struct { const char *name; int id; } ids[] = {
		{"id", 1}, {"jobId", 1}, {"envId", 1}, {"memberId", 1}, {"runId", 1},
		{"Id", 0}, {"name", 0}, {"idx", 0}, {"ids", 0}, {"", 0},
	};
	struct arena a;

	arena_init(&a, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct req r;
		char       got[256] = "";
		size_t     n = 0;
		bool       m;

		memset(&r, 0, sizeof(r));
		r.a = &a;
		m = router_match(&r, cases[i].pattern, cases[i].path);
		CHECK(m == (cases[i].params != NULL), cases[i].path);
		if (!m || cases[i].params == NULL)
			continue;
		for (size_t k = 0; k < r.nparams; k++) {
			int w = snprintf(got + n, sizeof(got) - n, "%s%s=%s", k ? ";" : "",
			    r.params[k].name, r.params[k].value);

			if (w < 0 || (size_t)w >= sizeof(got) - n)
				break;
			n += (size_t)w;
		}
		CHECK(strcmp(got, cases[i].params) == 0, cases[i].path);
		arena_reset(&a);
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++)
		CHECK(router_id_param(ids[i].name) == (bool)ids[i].id, ids[i].name);
	arena_free(&a);
	check_admits();
	check_after();
	return unit_done("router");
}
