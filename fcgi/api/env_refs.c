/*
 * env_refs.c - the one table of resource kinds that ${kind.name.prop} may
 * name in an environment variable (API.md §9): db, bucket, fn, and sentry
 * (an application's error-tracking DSN and environment name, issues.c:
 * what SENTRY_DSN and SENTRY_ENVIRONMENT default to, README "Issues API").  The resolver
 * (core/resolve.c) hands every such reference to env_refs_lookup; the
 * sections that own the resources (Databases, Buckets, Functions) fill in
 * their row's lookup when they arrive.  Until then a reference of that kind
 * is "no <noun> named X in this environment", never an empty string.
 *
 * Redaction: every value a reference resolves to ends up as (part of) a
 * value of the release's snapshot, which the redaction covers whole, and
 * the agent redacts URL userinfo wherever it appears.  A password inside
 * a URL (${db.x.url}) printed alone is covered by the plane's list for
 * runtime logs (agent.c, secret_add: the password of every snapshot value
 * that is a URL with credentials); the agent's own list (appspec.c) is the
 * snapshot's values as they are.
 */
#include "api.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/resolve.h"
#include "apps_common.h"
#include "env_vars.h"

/*
 * A kind's lookup: 0 and *out (malloc'd) when the environment has the
 * resource, 1 when it has none of that name (the table words the message),
 * -1 and *why (malloc'd) for anything else.  prop is one of the row's
 * properties.
 */
typedef int (*env_ref_lookup_fn)(const struct env_refs_ctx *c, const char *name,
    const char *prop, char **out, char **why);

static const char *const db_props[] = {"url", "host", "port", "user", "password", "name", NULL};
static const char *const bucket_props[] = {"endpoint", "access_key", "secret_key", "bucket_name", NULL};
static const char *const fn_props[] = {"url", NULL};
static const char *const sentry_props[] = {"dsn", "environment", NULL};

static const struct env_ref_kind {
	const char        *kind;
	const char        *noun;    /* in messages: "no <noun> named x" */
	/* GET /applications/:id/dependencies lists it here; NULL: not a
	 * dependency (nothing to provision), never listed. */
	const char        *list;
	const char *const *props;   /* API.md §5, §6, §7 */
	env_ref_lookup_fn  lookup;  /* NULL until the section exists */
} kinds[] = {
	{"db", "database", "databases", db_props, databases_ref},
	{"bucket", "bucket", "buckets", bucket_props, buckets_ref},
	{"fn", "function", "functions", fn_props, functions_ref},
	{"sentry", "application", NULL, sentry_props, issues_sentry_ref},
};

bool
env_refs_kind(size_t i, const char **kind, const char **list)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		if (kinds[k].list == NULL || i-- > 0)
			continue;
		*kind = kinds[k].kind;
		*list = kinds[k].list;
		return true;
	}
	return false;
}

/* A malloc'd printf for *why (NULL when out of memory: the resolver then
 * says "cannot be resolved"). */
static char *
why_printf(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
why_printf(const char *f, ...)
{
	va_list ap;
	char   *s;
	int     rc;

	va_start(ap, f);
	rc = vasprintf(&s, f, ap);
	va_end(ap);
	return rc < 0 ? NULL : s;
}

int
env_refs_lookup(void *ctx, const char *kind, const char *name, const char *prop, char **out,
    char **why)
{
	const struct env_ref_kind *k = NULL;
	char                       list[256] = "";
	size_t                     used = 0;
	int                        rc;

	*out = *why = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds) && k == NULL; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			k = &kinds[i];
	if (k == NULL) {
		*why = why_printf("unknown resource kind %s", kind);
		return -1;
	}
	for (size_t i = 0; k->props[i]; i++) {
		if (strcmp(k->props[i], prop) == 0)
			goto known;
		rc = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", k->props[i]);
		if (rc > 0 && (size_t)rc < sizeof(list) - used)
			used += (size_t)rc;
	}
	*why = why_printf("unknown property %s of %s %s (one of %s)", prop,
	    strchr("aeiou", k->noun[0]) ? "an" : "a", k->noun, list);
	return -1;
known:
	rc = k->lookup ? k->lookup(ctx, name, prop, out, why) : 1;
	if (rc == 1)
		*why = why_printf("no %s named %s in this environment", k->noun, name);
	return rc == 0 ? 0 : -1;
}

/*
 * Each application's and function's merged env resolved with
 * apps_record_ref (the resolver's own parsing, as GET
 * /applications/:id/dependencies), its dependency list `list` searched for
 * name.
 */
enum err
env_refs_users(struct req *r, const char *environment_id, const char *list, const char *name,
    const char **names, const char **ids)
{
	struct env_app_map   *apps;
	struct resolve_result rr;
	size_t                napps;
	const char           *out = NULL, *kind, *l;
	cJSON                *idl = cJSON_CreateArray();
	char                 *text;
	enum err              e;

	*names = NULL;
	if (ids != NULL)
		*ids = NULL;
	if (idl == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, (void (*)(void *))cJSON_Delete, idl);
	if ((e = env_vars_merged_apps(r, environment_id, true, &apps, &napps)) != ERR_OK)
		return e;
	for (size_t i = 0; i < napps; i++) {
		struct resolve_var *vars = arena_alloc(r->a, (apps[i].n + 1) * sizeof(*vars));
		cJSON              *deps = cJSON_CreateObject(), *found;
		bool                hit = false;

		for (size_t k = 0; env_refs_kind(k, &kind, &l); k++)
			cJSON_AddItemToObject(deps, l, cJSON_CreateArray());
		for (size_t k = 0; k < apps[i].n; k++)
			vars[k] = (struct resolve_var){apps[i].vars[k].key, apps[i].vars[k].value};
		if (resolve_all(vars, apps[i].n, apps_record_ref, deps, &rr) < 0) {
			cJSON_Delete(deps);
			return ERR_INTERNAL;
		}
		apps_result_free_wiped(&rr, apps[i].n);
		found = cJSON_GetObjectItemCaseSensitive(deps, list);
		for (const cJSON *it = found ? found->child : NULL; it && !hit; it = it->next)
			hit = strcmp(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring, name) == 0;
		cJSON_Delete(deps);
		if (!hit)
			continue;
		out = arena_printf(r->a, "%s%s%s%s (%s)", out ? out : "", out ? ", " : "",
		    apps[i].function ? "function " : "", apps[i].app_name, apps[i].app_id);
		cJSON_AddItemToArray(idl, cJSON_CreateString(apps[i].app_id));
	}
	*names = out;
	if (ids != NULL) {
		if ((text = cJSON_PrintUnformatted(idl)) == NULL)
			return ERR_INTERNAL;
		*ids = arena_strdup(r->a, text);
		cJSON_free(text);
	}
	return ERR_OK;
}
