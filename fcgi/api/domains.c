/*
 * domains.c - API.md §10 custom domains: a hostname (and path prefix) of
 * a project routed to one of its applications, or to one of its functions
 * with an http trigger, once DNS proves ownership
 * (list, create, read, update, delete, verify now, the DNS records to
 * create).  Hostnames are normalised by core/hostname.c; the tenancy of a
 * name, the status machine's transitions and the edge.host route jobs are
 * the database's (sql/032_domains.sql); the DNS checks themselves are
 * launcher-dnscheck's, never a pool worker's.
 */
#include "api.h"

#include <string.h>

#include "../core/config.h"
#include "../core/db.h"
#include "../core/hostname.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/worker.h"

#define DOMAIN_COLS "d.id, d.project_id, d.application_id, d.function_id, d.hostname," \
	" d.path_prefix, d.status, jsonb_build_object('type', 'TXT', 'name'," \
	" domain_verify_name(d.hostname), 'value', 'lnchr-verify=' || d.token, 'ok', d.txt_ok)" \
	" AS verification," \
	" domain_routing(d) AS routing, jsonb_build_object('status', d.tls_status, 'issuer'," \
	" d.tls_issuer, 'expires_at', json_time(d.tls_expires_at)::jsonb, 'error', d.tls_error)" \
	" AS tls, d.last_checked_at, d.next_check_at, d.check_error, d.verified_at," \
	" d.created_at, d.updated_at, d.row_version::text AS _version"

DB_STMT st_dom_get = {"domains_get",
    "SELECT " DOMAIN_COLS " FROM domains d WHERE d.id = $1::uuid"};
DB_STMT st_dom_project = {"domains_project",
    "SELECT project_id FROM domains WHERE id = $1::uuid"};
DB_STMT st_dom_app_project = {"domains_app_project",
    "SELECT project_id FROM applications WHERE id = $1::uuid"};
DB_STMT st_dom_fn_project = {"domains_fn_project",
    "SELECT project_id FROM functions WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?applicationId,
 * ?functionId. */
DB_STMT st_dom_list = {"domains_list",
    "SELECT " DOMAIN_COLS " FROM domains d"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = d.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR d.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR d.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR d.application_id = $8::uuid)"
    " AND ($9::uuid IS NULL OR d.function_id = $9::uuid)" LIST_TAIL("d.")};
DB_STMT st_dom_create = {"domains_create",
    "SELECT api_domain_create($1::uuid, $2::jsonb, $3) AS id"};
DB_STMT st_dom_update = {"domains_update",
    "SELECT api_domain_update($1::uuid, $2::jsonb, $3, $4::bigint) AS updated"};
DB_STMT st_dom_delete = {"domains_delete",
    "DELETE FROM domains WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
DB_STMT st_dom_verify = {"domains_verify",
    "SELECT api_domain_verify($1::uuid) AS found"};
DB_STMT st_dom_records = {"domains_dns_records",
    "SELECT r.records, r.zone FROM domains d, LATERAL domain_dns_records(d) r"
    " WHERE d.id = $1::uuid"};

#define DOMAIN_TAKEN "hostname: this host already routes this path_prefix"
#define PATH_PREFIX_MAX 256

/* An nginx location prefix: nothing that could end or bend the directive
 * (the table's CHECK says the same). */
static const char *
check_prefix(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] != '/')
		return "must start with /";
	if (strstr(s, "..") != NULL)
		return "must not contain ..";
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr(";{}#'\"`\\?$", *s) != NULL)
			return "must not contain white space, control characters or any of ; { } # ' \" ` \\ ? $";
	return NULL;
}

#define DOMAIN_FIELDS \
	{"application_id", F_UUID, false, true, 0, 0, NULL}, \
	{"function_id", F_UUID, false, true, 0, 0, NULL}, \
	{"hostname", F_STRING, false, false, 1, 1024, NULL}, \
	{"path_prefix", F_STRING, false, false, 1, PATH_PREFIX_MAX, check_prefix}

static const struct field create_fields[] = {
	DOMAIN_FIELDS,
	{"project_id", F_UUID, false, false, 0, 0, NULL},
};
enum { D_APP, D_FUNCTION, D_HOSTNAME, D_PREFIX, D_PROJECT };

static const struct field update_fields[] = {
	DOMAIN_FIELDS,
};

/*
 * The normalised hostname of raw into out (HOSTNAME_MAX + 1), or the
 * reason it is refused: its form (core/hostname.c) or a name the plane
 * keeps.  A server's base_domain is the database's check (any tenant's).
 */
static const char *
domain_hostname(struct req *r, const char *raw, char *out, size_t outlen)
{
	const char *why = hostname_normalize(raw, r->w->cfg->domain_wildcards, out, outlen);

	return why ? why : hostname_reserved(r->w->cfg, out);
}

/* Hostname rules, and one target: an application or a function (a null
 * one is not given: a client may echo the object it read, whose other
 * target is null). */
static void
rule(struct req *r, const struct field_val *v, cJSON *details, bool creating)
{
	char        host[HOSTNAME_MAX + 1];
	const char *why;

	if (creating && !v[D_HOSTNAME].present)
		json_detail(details, "hostname", "is required");
	else if (v[D_HOSTNAME].present &&
	    (why = domain_hostname(r, v[D_HOSTNAME].s, host, sizeof(host))) != NULL)
		json_detail(details, "hostname", why);
	if (v[D_FUNCTION].present && v[D_APP].present)
		json_detail(details, "function_id", "a domain targets one: application_id or "
		    "function_id, not both");
	else if (creating && !v[D_APP].present && !v[D_FUNCTION].present)
		json_detail(details, "application_id", "is required (or function_id)");
}

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	rule(r, v, details, true);
}

static void
update_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	rule(r, v, details, false);
}

/* project_of for /domains/:id routes (the router checks the cap). */
static const char *
domain_project(struct req *r)
{
	return db_project_of(r, &st_dom_project, "domain");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_dom_get, "domain not found", id, status);
}

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *app, *fn;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "applicationId", &app)) != ERR_OK ||
	    (e = list_uuid_query(r, "functionId", &fn)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, app);
	list_filter(&p, fn);
	return list_run(r, &p, &st_dom_list);
}

/*
 * The one rule of a target (application_id or function_id, whichever v
 * gives; none: ERR_OK, *project untouched): one the caller cannot see is
 * 404 "<target> not found", as a random id is; one they see in another
 * project is the database's 400 naming the field (domain_app_check,
 * domain_fn_check).  *project: the target's project.  The caller's role
 * in the domain's own project (r->who) is kept.
 */
static enum err
target_project(struct req *r, const struct field_val *v, const char **project)
{
	bool        fn = v[D_FUNCTION].present;
	const char *what = fn ? "function" : "application", *saved = r->who.project_id;
	const char *resource = r->resource;
	int         role = r->who.project_role;
	PGresult   *res;
	enum err    e;

	if (!fn && !v[D_APP].present)
		return ERR_OK;
	if ((e = db_run(r, fn ? &st_dom_fn_project : &st_dom_app_project, &res,
	    fn ? v[D_FUNCTION].s : v[D_APP].s)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return req_fail(r, ERR_NOT_FOUND, arena_printf(r->a, "%s not found", what));
	*project = arena_strdup(r->a, db_get(res, 0, "project_id"));
	r->resource = what;
	e = perm_project(r, *project, CAP_READ);
	r->resource = resource;
	if (saved != NULL) {
		r->who.project_id = saved;
		r->who.project_role = role;
	}
	return e;
}

/* The project is the one given, else the target's (the target the caller
 * cannot see: 404): writing there needs project admin (CAP_WRITE). */
static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	char             host[HOSTNAME_MAX + 1];
	const char      *project, *target = NULL, *body;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK ||
	    (e = target_project(r, v, &target)) != ERR_OK)
		return e;
	project = v[D_PROJECT].present ? v[D_PROJECT].s : target;
	if ((e = perm_project(r, project, CAP_WRITE)) != ERR_OK)
		return e;
	if (domain_hostname(r, v[D_HOSTNAME].s, host, sizeof(host)) != NULL ||
	    (body = JSON_GIVEN(r, create_fields)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_dom_create, &res, r->who.project_id, body, host);
	if (e == ERR_CONFLICT && db_message(r, NULL) == NULL)
		return http_error_field(r, e, DOMAIN_TAKEN, "hostname", DOMAIN_TAKEN);
	if (e != ERR_OK)
		return e;
	return respond(r, arena_strdup(r->a, db_get(res, 0, "id")), 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	char             host[HOSTNAME_MAX + 1];
	const char      *version, *id = http_param(r, "id"), *body, *hostname = NULL, *target;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, update_fields, v, update_rule)) != ERR_OK ||
	    (e = target_project(r, v, &target)) != ERR_OK)
		return e;
	if (v[D_HOSTNAME].present) {
		if (domain_hostname(r, v[D_HOSTNAME].s, host, sizeof(host)) != NULL)
			return ERR_INTERNAL;
		hostname = host;
	}
	if ((body = JSON_GIVEN(r, update_fields)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_dom_update, &res, id, body, hostname, version);
	if (e == ERR_CONFLICT && db_message(r, NULL) == NULL)
		return http_error_field(r, e, DOMAIN_TAKEN, "hostname", DOMAIN_TAKEN);
	if (e != ERR_OK)
		return e;
	if (db_get(res, 0, "updated")[0] != 't')
		return http_changed(r, "domain");
	return respond(r, id, 200);
}

/* 204 once the row is gone; its route goes with it (an edge.host job
 * queued by the row's trigger when it was routed). */
static enum err
del(struct req *r)
{
	return db_delete(r, &st_dom_delete, "domain", NULL);
}

/* 202: the check is due now; launcher-dnscheck hears of it at commit
 * (pg_notify) and answers in the domain's status, never here. */
static enum err
verify(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_dom_verify, &res, id)) != ERR_OK)
		return e;
	if (db_get(res, 0, "found")[0] != 't')
		return req_fail(r, ERR_NOT_FOUND, "domain not found");
	return respond(r, id, 202);
}

static enum err
dns_records(struct req *r)
{
	return db_respond_object(r, &st_dom_records, "domain not found", http_param(r, "id"), 200);
}

#define DOM_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = domain_project}

const struct route api_domain_routes[] = {
	{.methods = HTTP_GET, .pattern = "/domains", .fn = list},
	{.methods = HTTP_POST, .pattern = "/domains", .fn = create, .audit = "domain.create"},
	DOM_ROUTE(HTTP_GET, "/domains/:id", get, CAP_READ, NULL),
	DOM_ROUTE(HTTP_PUT, "/domains/:id", update, CAP_WRITE, "domain.update"),
	DOM_ROUTE(HTTP_DELETE, "/domains/:id", del, CAP_WRITE, "domain.delete"),
	DOM_ROUTE(HTTP_POST, "/domains/:id/verify", verify, CAP_WRITE, "domain.verify"),
	DOM_ROUTE(HTTP_GET, "/domains/:id/dns-records", dns_records, CAP_READ, NULL),
	{0},
};
