/*
 * templates.c - API.md §13 templates: the gallery (the built-ins of
 * templates_dir, r->w->gallery, read-only and answered by slug; the
 * tenant's own in `templates`, sql/047, by UUID or slug), their CRUD, and
 * POST /templates/validate (the plan, or every error with its line).
 * Every template goes through core/template.h's one checker; the deploy
 * (template_deploy.c) reads a template through templates_source() and
 * checks names with templates_names().
 *
 * Templates belong to the tenant, like registries: everyone signed in
 * (project-bound keys included) reads the gallery and validates; tenant
 * admins store, change and delete the tenant's own (a project-bound key
 * cannot: the router's rule for tenant administration).  A built-in
 * answers PUT and DELETE with 403: it exists, and it is read-only.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../core/db.h"
#include "../core/gallery.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/perm.h"
#include "../core/template.h"
#include "../core/util.h"
#include "../core/worker.h"

/* The tenant's templates, shaped as the built-ins' objects (gallery.h). */
#define TPL_COLS "t.id, t.name AS slug, false AS builtin, t.display_name, t.description," \
	" to_jsonb(t.tags) AS tags, t.icon, t.icon_url, t.color, t.category," \
	" NULL::text AS author, NULL::text AS author_name, t.created_by, t.created_at," \
	" t.updated_at, t.row_version::text AS _version"

/* $4 = ?tag= (one of the tags, any case), $5 = ?q= (in name, display_name
 * or description, any case): gallery_matches()'s rules. */
DB_STMT st_tpl_list = {"templates_list",
    "SELECT " TPL_COLS " FROM templates t"
    " WHERE ($4::text IS NULL OR EXISTS (SELECT 1 FROM unnest(t.tags) g WHERE lower(g) = lower($4)))"
    " AND ($5::text IS NULL OR strpos(lower(t.name), lower($5)) > 0"
    " OR strpos(lower(coalesce(t.display_name, '')), lower($5)) > 0"
    " OR strpos(lower(coalesce(t.description, '')), lower($5)) > 0)" LIST_TAIL("t.")};
/* $1 = the id (NULL unless the reference is a UUID), $2 = the name. */
DB_STMT st_tpl_get = {"templates_get",
    "SELECT " TPL_COLS ", t.yaml FROM templates t WHERE t.id = $1::uuid OR t.name = $2"};
DB_STMT st_tpl_exists = {"templates_exists", "SELECT id FROM templates WHERE id = $1::uuid"};
/* $1 = the row as JSON (row_of). */
DB_STMT st_tpl_create = {"templates_create",
    "INSERT INTO templates (name, display_name, description, tags, icon, icon_url, color,"
    " category, yaml, created_by)"
    " SELECT r.name, r.display_name, r.description, r.tags, r.icon, r.icon_url, r.color,"
    " r.category, r.yaml, r.created_by"
    " FROM pg_catalog.jsonb_populate_record(NULL::templates, $1::jsonb) r RETURNING id"};
DB_STMT st_tpl_update = {"templates_update",
    "UPDATE templates t" DB_PATCH("t", "name, display_name, description, tags, icon, icon_url,"
    " color, category, yaml")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_tpl_delete = {"templates_delete",
    "DELETE FROM templates WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
DB_STMT st_tpl_names = {"templates_taken_names",
    "SELECT kind, name FROM template_taken_names($1::uuid, project_environment($1::uuid,"
    " $2::uuid))"};

#define TPL_NOT_FOUND "template not found"
#define TPL_QUERY_MAX 200

static const struct field body_fields[] = {
	{"yaml", F_STRING, true, false, 1, TEMPLATE_MAX_BYTES, NULL},
};

static const struct field validate_fields[] = {
	{"yaml", F_STRING, true, false, 1, TEMPLATE_MAX_BYTES, NULL},
	{"project_id", F_UUID, false, true, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
};
enum { V_YAML, V_PROJECT, V_ENV };

/* ------------------------------------------------------------ shared */

enum err
templates_invalid(struct req *r, cJSON *errors)
{
	return req_fail_details(r, "invalid template", errors);
}

/* The built-in of ref, or NULL (a UUID is never a built-in's id). */
static const struct gallery_entry *
builtin(struct req *r, const char *ref)
{
	return util_is_uuid(ref) ? NULL : gallery_find(r->w->gallery, ref);
}

/* The tenant's template ref (UUID or name) into *res: ERR_NOT_FOUND recorded. */
static enum err
stored(struct req *r, const char *ref, PGresult **res)
{
	bool uuid = util_is_uuid(ref);

	if (!uuid && !util_is_slug(ref))
		return req_fail(r, ERR_NOT_FOUND, TPL_NOT_FOUND);
	return db_get_object(r, &st_tpl_get, res, TPL_NOT_FOUND, uuid ? ref : NULL,
	    uuid ? NULL : ref);
}

enum err
templates_source(struct req *r, const char *ref, const char **yaml, size_t *len)
{
	const struct gallery_entry *b = builtin(r, ref);
	PGresult                   *res;
	enum err                    e;

	if (b != NULL) {
		*yaml = b->yaml;
		*len = b->len;
		return ERR_OK;
	}
	if ((e = stored(r, ref, &res)) != ERR_OK)
		return e;
	*yaml = db_get(res, 0, "yaml");
	*len = strlen(*yaml);
	return ERR_OK;
}

struct taken {
	PGresult *res;
};

static bool
taken_exists(const char *kind, const char *name, void *arg)
{
	const struct taken *t = arg;

	for (int i = 0; i < PQntuples(t->res); i++)
		if (strcmp(PQgetvalue(t->res, i, 0), kind) == 0 &&
		    strcmp(PQgetvalue(t->res, i, 1), name) == 0)
			return true;
	return false;
}

enum err
templates_names(struct req *r, const char *project, const char *environment,
    struct template_ctx *ctx)
{
	struct taken *t = arena_alloc(r->a, sizeof(*t));
	enum err      e;

	if ((e = db_run(r, &st_tpl_names, &t->res, project, environment)) != ERR_OK)
		return e;
	ctx->exists = taken_exists;
	ctx->arg = t;
	return ERR_OK;
}

/* The plan of yaml (len bytes), or ERR_BAD_REQUEST recorded with every error. */
static enum err
check(struct req *r, const char *yaml, const struct template_ctx *ctx, cJSON **plan)
{
	cJSON *errors = NULL;

	if ((*plan = template_check(yaml, strlen(yaml), ctx, &errors)) != NULL) {
		arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, *plan);
		return ERR_OK;
	}
	if (errors == NULL)
		return ERR_INTERNAL;
	return templates_invalid(r, errors);
}

/* metadata[key] when a string (trimmed), else NULL. */
static const char *
meta_string(struct req *r, const cJSON *md, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);

	return cJSON_IsString(v) ? util_trim(arena_strdup(r->a, v->valuestring)) : NULL;
}

/*
 * The row of a checked template as JSON (the create's $1, the update's
 * $2): name and the gallery's fields from its metadata, the text itself,
 * and created_by when not NULL.  NULL when out of memory.
 */
static const char *
row_of(struct req *r, const cJSON *plan, const char *yaml, const char *created_by)
{
	static const char *const keys[] = {"display_name", "description", "icon", "icon_url",
		"color", "category"};
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(plan, "metadata"), *tags, *t;
	cJSON       *o = cJSON_CreateObject(), *arr;
	char        *text;
	const char  *out;

	if (o == NULL)
		return NULL;
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, o);
	cJSON_AddStringToObject(o, "name", meta_string(r, md, "name"));
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const char *s = meta_string(r, md, keys[i]);

		if (s != NULL)
			cJSON_AddStringToObject(o, keys[i], s);
		else
			cJSON_AddNullToObject(o, keys[i]);
	}
	arr = cJSON_AddArrayToObject(o, "tags");
	tags = cJSON_GetObjectItemCaseSensitive(md, "tags");
	cJSON_ArrayForEach(t, tags)
		cJSON_AddItemToArray(arr, cJSON_CreateString(t->valuestring));
	cJSON_AddStringToObject(o, "yaml", yaml);
	if (created_by != NULL)
		cJSON_AddStringToObject(o, "created_by", created_by);
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		return NULL;
	out = arena_strdup(r->a, text);
	cJSON_free(text);
	return out;
}

/* 409 when a built-in has the name the template gives itself; 400 for a
 * name shaped like a UUID (a ref that is a UUID is always read as an id). */
static enum err
builtin_clash(struct req *r, const cJSON *plan)
{
	const char *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(plan,
	    "metadata"), "name")->valuestring;

	if (util_is_uuid(name))
		return http_field_error(r, "invalid request body", "metadata.name",
		    "must not look like a UUID: a template is read by its id as such");
	if (gallery_find(r->w->gallery, name) == NULL)
		return ERR_OK;
	return http_error_field(r, ERR_CONFLICT, "a built-in template has this name",
	    "metadata.name", arena_printf(r->a, "%s is the name of a built-in template", name));
}

static enum err
respond_stored(struct req *r, const char *id, int status)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_tpl_get, &res, TPL_NOT_FOUND, id, NULL)) != ERR_OK)
		return e;
	return http_respond_row(r, status, res, 0);
}

/* ------------------------------------------------------------ routes */

/* ?name= as a filter: NULL when absent or empty; 400 when not UTF-8 or long. */
static enum err
query_filter(struct req *r, const char *name, const char **out)
{
	const char *v = http_query(r, name);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return ERR_OK;
	if (!json_utf8_ok(v) || strlen(v) > TPL_QUERY_MAX)
		return http_field_error(r, "invalid query parameter", name,
		    "must be UTF-8 text of at most 200 bytes");
	*out = v;
	return ERR_OK;
}

/*
 * The built-ins that match, then the tenant's own (limit and cursor apply
 * to these; the built-ins lead the first page only).
 */
static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *tag, *q, *cursor = http_query(r, "cursor");
	const struct gallery *g = r->w->gallery;
	struct buf       head;
	enum err         e;

	if ((e = query_filter(r, "tag", &tag)) != ERR_OK || (e = query_filter(r, "q", &q)) != ERR_OK ||
	    (e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, tag);
	list_filter(&p, q);
	buf_init(&head, r->a, 8192, (size_t)16 << 20);
	for (size_t i = 0; g != NULL && (cursor == NULL || *cursor == '\0') && i < g->n; i++) {
		char *text;

		if (!gallery_matches(&g->rows[i], tag, q) ||
		    (text = cJSON_PrintUnformatted(g->rows[i].object)) == NULL)
			continue;
		if (head.len > 0)
			buf_adds(&head, ",");
		buf_adds(&head, text);
		cJSON_free(text);
	}
	if (!buf_ok(&head))
		return ERR_INTERNAL;
	p.head = head.len > 0 ? head.data : NULL;
	return list_run(r, &p, &st_tpl_list);
}

static enum err
get(struct req *r)
{
	const char                 *ref = http_param(r, "ref");
	const struct gallery_entry *b = builtin(r, ref);
	PGresult                   *res;
	cJSON                      *o;
	enum err                    e;

	if (b == NULL) {
		if ((e = stored(r, ref, &res)) != ERR_OK)
			return e;
		return http_respond_row(r, 200, res, 0);
	}
	if ((o = cJSON_Duplicate(b->object, true)) == NULL)
		return ERR_INTERNAL;
	cJSON_AddStringToObject(o, "yaml", b->yaml);
	if (b->readme != NULL)
		cJSON_AddStringToObject(o, "readme", b->readme);
	else
		cJSON_AddNullToObject(o, "readme");
	return http_respond_json(r, 200, o, NULL);
}

static enum err
create(struct req *r)
{
	struct field_val v[1];
	cJSON           *plan;
	const char      *row;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, body_fields, v)) != ERR_OK ||
	    (e = check(r, v[0].s, NULL, &plan)) != ERR_OK || (e = builtin_clash(r, plan)) != ERR_OK)
		return e;
	if ((row = row_of(r, plan, v[0].s, r->who.user_id)) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_tpl_create, &res, row);
	if (e == ERR_CONFLICT)
		return http_error_field(r, e, "a template with this name already exists",
		    "metadata.name", "is the name of another template of this tenant");
	if (e != ERR_OK)
		return e;
	return respond_stored(r, arena_strdup(r->a, db_get(res, 0, "id")), 201);
}

/* The id of the tenant's template :ref; a built-in is 403 (answered). */
static enum err
writable(struct req *r, const char **id)
{
	const char *ref = http_param(r, "ref");
	PGresult   *res;
	enum err    e;

	if (builtin(r, ref) != NULL)
		return http_error(r, ERR_FORBIDDEN, "built-in templates are read-only");
	if ((e = stored(r, ref, &res)) != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}

static const struct db_update tpl_update = {&st_tpl_update, &st_tpl_exists, "template",
    TPL_NOT_FOUND, "metadata.name: a template with this name already exists"};

static enum err
update(struct req *r)
{
	struct field_val v[1];
	const char      *version, *id, *row;
	cJSON           *plan;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = writable(r, &id)) != ERR_OK ||
	    (e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, body_fields, v)) != ERR_OK ||
	    (e = check(r, v[0].s, NULL, &plan)) != ERR_OK || (e = builtin_clash(r, plan)) != ERR_OK)
		return e;
	if ((row = row_of(r, plan, v[0].s, NULL)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_update(r, &tpl_update, id, row, version)) != ERR_OK)
		return e;
	return respond_stored(r, id, 200);
}

static enum err
del(struct req *r)
{
	const char *version, *id;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = writable(r, &id)) != ERR_OK ||
	    (e = db_run(r, &st_tpl_delete, &res, id, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "template");
	return http_no_content(r);
}

/*
 * The plan of {yaml}; with project_id (and environment_id, else the
 * project's default), names that its environment already has are errors
 * too.  Changes nothing.
 */
static enum err
validate(struct req *r)
{
	struct field_val    v[sizeof(validate_fields) / sizeof(*validate_fields)];
	struct template_ctx ctx = {0};
	cJSON              *plan, *d;
	enum err            e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, validate_fields, v)) != ERR_OK)
		return e;
	if (v[V_ENV].present && !v[V_PROJECT].present)
		return http_field_error(r, "invalid request body", "environment_id",
		    "needs project_id");
	if (v[V_PROJECT].present &&
	    ((e = perm_project(r, v[V_PROJECT].s, CAP_READ)) != ERR_OK ||
	    (e = templates_names(r, v[V_PROJECT].s, v[V_ENV].s, &ctx)) != ERR_OK))
		return e;
	if ((e = check(r, v[V_YAML].s, v[V_PROJECT].present ? &ctx : NULL, &plan)) != ERR_OK)
		return e;
	if ((d = cJSON_CreateObject()) == NULL)
		return ERR_INTERNAL;
	cJSON_AddItemToObject(d, "plan", cJSON_Duplicate(plan, true));
	return http_respond_json(r, 200, d, NULL);
}

const struct route api_template_routes[] = {
	{.methods = HTTP_GET, .pattern = "/templates", .fn = list},
	{.methods = HTTP_POST, .pattern = "/templates", .fn = create, .min_role = ROLE_ADMIN,
	    .audit = "template.create"},
	{.methods = HTTP_POST, .pattern = "/templates/validate", .fn = validate, .scope = SCOPE_READ,
	    .flags = ROUTE_NO_AUDIT | ROUTE_NO_IDEMPOTENCY},
	{.methods = HTTP_GET, .pattern = "/templates/:ref", .fn = get},
	{.methods = HTTP_PUT, .pattern = "/templates/:ref", .fn = update, .min_role = ROLE_ADMIN,
	    .audit = "template.update"},
	{.methods = HTTP_DELETE, .pattern = "/templates/:ref", .fn = del, .min_role = ROLE_ADMIN,
	    .audit = "template.delete"},
	{0},
};
