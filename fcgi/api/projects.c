/*
 * projects.c - API.md §2 projects: list, create, get, update, delete, icon
 * upload and removal, ownership transfer.  Membership, invites and
 * environments have their own files.
 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/multipart.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "../core/worker.h"

#define ICON_MAX (512 * 1024)

/* The project object (API.md §2), with its owner and environments. */
#define PROJECT_COLS "p.id, p.name, p.display_name, p.description, p.color, p.icon_path," \
	" p.single_server_mode, p.default_server_id, p.auto_error_tracking_enabled," \
	" p.created_at, p.updated_at, p.owner_id, p.row_version::text AS _version"
#define PROJECT_FROM " FROM projects p"

/*
 * my_role, the caller's role in the project (API.md §2), depends on who
 * asks, so no stored object holds it: each statement also selects the
 * caller's membership role as _role (a sub-select per row returned, the
 * list's WHERE untouched), and my_role() adds the field from it.
 */
#define MEMBER_ROLE(user) ", (SELECT m.role FROM project_members m" \
	" WHERE m.project_id = p.id AND m.user_id = " user ") AS _role"

/* $2 = the caller (its membership role, for my_role). */
DB_STMT st_get = {"projects_get",
    "SELECT " PROJECT_COLS ", (SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id,"
    " 'name', e.name, 'is_default', e.is_default) ORDER BY e.created_at, e.id), '[]')"
    " FROM environments e WHERE e.project_id = p.id) AS environments"
    MEMBER_ROLE("$2::uuid") PROJECT_FROM " WHERE p.id = $1::uuid"};
/*
 * Each row's object is kept rendered in the row (sql/011_project_json.sql,
 * the same fields as PROJECT_COLS).  One statement per kind of caller, each
 * without conditions that only another kind needs: a membership sub-plan
 * made moot by a parameter still cost its executor start-up on every call,
 * and an optional "p.id = $n" made the generic plan expect one row and
 * sort a bitmap scan of the tenant instead of walking the index in order.
 * st_list_all (tenant admins): no parameter of its own (and no _role: a
 * tenant admin is owner everywhere).  st_list_member: $4 = the user.
 * st_list_one (a key bound to a project): $4 = that project, $5 = sees
 * all, $6 = the user.
 */
#define PROJECT_LIST_COLS "SELECT p.api_json AS _json, p.list_key AS _cursor"
DB_STMT st_list_all = {"projects_list_all",
    PROJECT_LIST_COLS PROJECT_FROM " WHERE true" LIST_TAIL("p.")};
DB_STMT st_list_member = {"projects_list_member",
    PROJECT_LIST_COLS MEMBER_ROLE("$4::uuid") PROJECT_FROM
    " WHERE EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = p.id AND m.user_id = $4::uuid)" LIST_TAIL("p.")};
/*
 * What a tenant admin's first page is, sent with the principal statement
 * (router.h, prefetch): it returns rows only when that statement has just
 * recorded this request's token in launcher.tenant_wide ($4), and list()
 * uses it only for a tenant-wide caller (otherwise it is empty, and the
 * caller's own statement runs).
 */
DB_STMT st_list_prefetch = {"projects_list_prefetch",
    PROJECT_LIST_COLS PROJECT_FROM
    " WHERE pg_catalog.current_setting('launcher.tenant_wide', true) = $4" LIST_TAIL("p.")};
DB_STMT st_list_one = {"projects_list_one",
    PROJECT_LIST_COLS MEMBER_ROLE("$6::uuid") PROJECT_FROM
    " WHERE p.id = $4::uuid AND ($5::boolean OR EXISTS (SELECT 1"
    " FROM project_members m WHERE m.project_id = p.id AND m.user_id = $6::uuid))"
    LIST_TAIL("p.")};
DB_STMT st_create = {"projects_create",
    "SELECT api_project_create($1::uuid, $2, $3, $4, $5, $6::boolean, $7::uuid) AS id"};
/* $2 = the given fields as a JSON object: only those change. */
DB_STMT st_update = {"projects_update",
    "UPDATE projects p" DB_PATCH("p", "name, display_name, description, color, single_server_mode,"
    " default_server_id, auto_error_tracking_enabled")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_delete = {"projects_delete",
    "DELETE FROM projects WHERE id = $1::uuid AND ($2::bigint IS NULL OR row_version = $2::bigint)"
    " RETURNING icon_path"};
DB_STMT st_icon = {"projects_icon",
    "UPDATE projects p SET icon_path = $2 FROM projects old WHERE p.id = $1::uuid"
    " AND old.id = p.id AND ($3::bigint IS NULL OR p.row_version = $3::bigint)"
    " RETURNING old.icon_path AS old_path"};
DB_STMT st_transfer = {"projects_transfer",
    "SELECT api_project_transfer($1::uuid, $2::uuid)"};

static const char *
check_color(const cJSON *v)
{
	const char *s = v->valuestring;

	if (strlen(s) != 7 || s[0] != '#')
		return "must be a colour like #1a2b3c";
	for (int i = 1; i < 7; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return "must be a colour like #1a2b3c";
	return NULL;
}

/* "my_role":"<role>" of a row (perm_my_role from its _role; none: null). */
static const char *
my_role(void *ctx, PGresult *res, int row)
{
	struct req *r = ctx;
	int         c = PQfnumber(res, "_role");
	enum prole  role = perm_my_role(r, c >= 0 && !PQgetisnull(res, row, c) ?
	    perm_prole_parse(PQgetvalue(res, row, c)) : PROLE_NONE);

	return role == PROLE_NONE ? "\"my_role\":null" :
	    arena_printf(r->a, "\"my_role\":\"%s\"", perm_prole_name(role));
}

/* Responds with the project object (status 200 or 201) and its ETag. */
static enum err
respond_project(struct req *r, const char *id, int status)
{
	struct json_member m = {my_role, r};
	PGresult          *res;
	enum err           e;

	if ((e = db_get_object(r, &st_get, &res, "project not found", id, r->who.user_id)) != ERR_OK)
		return e;
	return http_respond_row_with(r, status, res, 0, &m);
}

static enum err
list(struct req *r)
{
	struct json_member m = {my_role, r};
	struct list_page   p;
	enum err           e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	p.member = &m;
	if (r->who.key_project_id != NULL) {
		list_filter(&p, r->who.key_project_id);
		list_filter(&p, r->who.role >= ROLE_ADMIN ? "true" : "false");
		list_filter(&p, r->who.user_id);
		return list_run(r, &p, &st_list_one);
	}
	if (r->who.role >= ROLE_ADMIN) {
		if (list_prefetched(r, &p, &e))
			return e;
		return list_run(r, &p, &st_list_all);
	}
	list_filter(&p, r->who.user_id);
	return list_run(r, &p, &st_list_member);
}

static bool
list_prefetch_first_page(struct req *r, struct db_call *call)
{
	return list_prefetch(r, &st_list_prefetch, call);
}

static const struct field create_fields[] = {
	{"name", F_STRING, true, false, 1, 63, json_check_slug},
	{"display_name", F_STRING, false, false, 0, 100, NULL},
	{"description", F_STRING, false, false, 0, 2000, NULL},
	{"color", F_STRING, false, true, 7, 7, check_color},
	{"single_server_mode", F_BOOL, false, false, 0, 0, NULL},
	{"default_server_id", F_UUID, false, true, 0, 0, NULL},
};

static enum err
create(struct req *r)
{
	struct field_val v[6];
	PGresult        *res;
	enum err         e;

	if (!perm_can_create_project(r))
		return http_error(r, ERR_FORBIDDEN, "this service key cannot create projects");
	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK)
		return e;
	e = db_run(r, &st_create, &res, r->who.user_id, v[0].s, v[1].s, v[2].s, v[3].s,
	    v[4].present ? (v[4].b ? "true" : "false") : NULL, v[5].s);
	if (e == ERR_CONFLICT)
		return http_error(r, e, "a project with this name already exists");
	if (e != ERR_OK)
		return e;
	return respond_project(r, db_get(res, 0, "id"), 201);
}

static enum err
get(struct req *r)
{
	return respond_project(r, r->who.project_id, 200);
}

static const struct field update_fields[] = {
	{"name", F_STRING, false, false, 1, 63, json_check_slug},
	{"display_name", F_STRING, false, false, 0, 100, NULL},
	{"description", F_STRING, false, false, 0, 2000, NULL},
	{"color", F_STRING, false, true, 7, 7, check_color},
	{"single_server_mode", F_BOOL, false, false, 0, 0, NULL},
	{"default_server_id", F_UUID, false, true, 0, 0, NULL},
	{"auto_error_tracking_enabled", F_BOOL, false, false, 0, 0, NULL},
};

static const struct db_update project_update = {&st_update, NULL, "project", "project not found",
    "a project with this name already exists"};

static enum err
update(struct req *r)
{
	struct field_val v[7];
	const char      *version;
	char            *given;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK ||
	    (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	/* The body's known fields, validated, are what changes. */
	given = cJSON_PrintUnformatted(r->json);
	arena_defer(r->a, free, given);
	if ((e = db_update(r, &project_update, r->who.project_id, given, version)) != ERR_OK)
		return e;
	return respond_project(r, r->who.project_id, 200);
}

/* Removes an icon file named by its public path (after the commit). */
static void
unlink_icon(struct worker *w, void *arg)
{
	const char *path = arg, *name = strrchr(path, '/');
	char        file[2048];

	if (name == NULL || strstr(name, "..") != NULL)
		return;
	if (util_snprintf(file, sizeof(file), "%s%s", w->cfg->icons_dir, name) < 0)
		return;
	if (unlink(file) != 0 && errno != ENOENT)
		log_warn("icon %s could not be removed", name + 1);
}

static enum err
del(struct req *r)
{
	const char *version;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	/* One statement: members, invites, environments and everything that
	 * references the project go with it (ON DELETE CASCADE). */
	if ((e = db_run(r, &st_delete, &res, r->who.project_id, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "project");
	if (!db_isnull(res, 0, "icon_path"))
		http_after(r, unlink_icon, arena_strdup(r->a, db_get(res, 0, "icon_path")));
	return http_no_content(r);
}

/* An on...= event attribute in lower-cased SVG text. */
static bool
has_event_attribute(const char *low, size_t n)
{
	for (size_t i = 1; i + 2 < n; i++) {
		size_t j;

		if (low[i] != 'o' || low[i + 1] != 'n' ||
		    !(low[i - 1] == ' ' || low[i - 1] == '\t' || low[i - 1] == '\n' ||
		    low[i - 1] == '\r' || low[i - 1] == '"' || low[i - 1] == '\'' || low[i - 1] == '/'))
			continue;
		for (j = i + 2; j < n && low[j] >= 'a' && low[j] <= 'z'; j++)
			;
		if (j == i + 2)
			continue;
		while (j < n && (low[j] == ' ' || low[j] == '\t' || low[j] == '\n' || low[j] == '\r'))
			j++;
		if (j < n && low[j] == '=')
			return true;
	}
	return false;
}

/*
 * The image type of bytes, by content (never by file name), or NULL.  An
 * SVG must be text with an <svg element and nothing that can run: no
 * scripts, event attributes, javascript: or data: links, embedded
 * documents or entity declarations.
 */
static const char *
sniff_icon(struct req *r, const char *d, size_t n)
{
	static const char *const unsafe[] = {"<script", "javascript:", "<foreignobject",
	    "<iframe", "<!entity", "<!doctype", "<embed", "<object", "data:", "<use", "<animate",
	    "<set", "<handler", "<listener"};
	char *low;

	if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "png";
	if (n >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0)
		return "jpg";
	if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "webp";
	if (memchr(d, '\0', n) != NULL)
		return NULL;
	low = arena_alloc(r->a, n + 1);
	for (size_t i = 0; i < n; i++)
		low[i] = d[i] >= 'A' && d[i] <= 'Z' ? (char)(d[i] - 'A' + 'a') : d[i];
	if (strstr(low, "<svg") == NULL || has_event_attribute(low, n))
		return NULL;
	for (size_t u = 0; u < sizeof(unsafe) / sizeof(*unsafe); u++)
		if (strstr(low, unsafe[u]) != NULL)
			return NULL;
	return "svg";
}

/* Writes the icon atomically (temporary name, then rename); 0 on success. */
static int
write_icon(struct req *r, const char *name, const char *d, size_t n)
{
	char path[2048], tmp[2100];
	int  fd;

	if (util_snprintf(path, sizeof(path), "%s/%s", r->w->cfg->icons_dir, name) < 0 ||
	    util_snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", r->w->cfg->icons_dir, name) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		log_error("icon: cannot create a file in icons_dir");
		return -1;
	}
	if (write(fd, d, n) != (ssize_t)n || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		log_error("icon: cannot write a file in icons_dir");
		unlink(tmp);
		return -1;
	}
	return 0;
}

static enum err
icon_put(struct req *r)
{
	const char *data, *ext, *version, *url;
	char        rnd[20], *name;
	size_t      len;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK ||
	    (e = multipart_file(r, "icon", &data, &len)) != ERR_OK)
		return e;
	if (len > ICON_MAX)
		return http_field_error(r, "invalid upload", "icon", "must be at most 512 KiB");
	if ((ext = sniff_icon(r, data, len)) == NULL)
		return http_field_error(r, "invalid upload", "icon",
		    "must be a PNG, JPEG, WebP or (script-free) SVG image");
	if (crypto_token(rnd, sizeof(rnd), "", 12) != 0)
		return ERR_INTERNAL;
	name = arena_printf(r->a, "%s-%s.%s", r->who.project_id, rnd, ext);
	if (write_icon(r, name, data, len) != 0)
		return ERR_INTERNAL;
	url = arena_printf(r->a, "%s/%s", r->w->cfg->icons_url, name);
	e = db_run(r, &st_icon, &res, r->who.project_id, url, version);
	if (e == ERR_OK && PQntuples(res) != 1)
		e = http_changed(r, "project");
	if (e != ERR_OK) {
		unlink_icon(r->w, (void *)url);
		return e;
	}
	if (!db_isnull(res, 0, "old_path"))
		http_after(r, unlink_icon, arena_strdup(r->a, db_get(res, 0, "old_path")));
	return respond_project(r, r->who.project_id, 200);
}

static enum err
icon_delete(struct req *r)
{
	const char *version;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_icon, &res, r->who.project_id, NULL, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "project");
	if (!db_isnull(res, 0, "old_path"))
		http_after(r, unlink_icon, arena_strdup(r->a, db_get(res, 0, "old_path")));
	return http_no_content(r);
}

static const struct field transfer_fields[] = {
	{"new_owner_id", F_UUID, true, false, 0, 0, NULL},
};

static enum err
transfer(struct req *r)
{
	struct field_val v[1];
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, transfer_fields, v)) != ERR_OK)
		return e;
	e = db_run(r, &st_transfer, NULL, r->who.project_id, v[0].s);
	if (e == ERR_BAD_REQUEST)
		return http_field_error(r, "invalid request body", "new_owner_id",
		    db_message(r, "must be a member of the project"));
	if (e != ERR_OK)
		return e;
	return respond_project(r, r->who.project_id, 200);
}

const struct route api_project_routes[] = {
	{.methods = HTTP_GET, .pattern = "/projects", .fn = list, .prefetch = list_prefetch_first_page},
	{.methods = HTTP_POST, .pattern = "/projects", .fn = create, .audit = "project.create"},
	{.methods = HTTP_GET, .pattern = "/projects/:id", .fn = get, .cap = CAP_READ},
	{.methods = HTTP_PUT, .pattern = "/projects/:id", .fn = update, .cap = CAP_WRITE,
	    .audit = "project.update"},
	{.methods = HTTP_DELETE, .pattern = "/projects/:id", .fn = del, .cap = CAP_OWN,
	    .audit = "project.delete"},
	{.methods = HTTP_POST, .pattern = "/projects/:id/icon", .fn = icon_put, .cap = CAP_WRITE,
	    .audit = "project.icon_upload"},
	{.methods = HTTP_DELETE, .pattern = "/projects/:id/icon", .fn = icon_delete, .cap = CAP_WRITE,
	    .audit = "project.icon_delete"},
	{.methods = HTTP_POST, .pattern = "/projects/:id/transfer", .fn = transfer, .cap = CAP_OWN,
	    .audit = "project.transfer"},
	{0},
};
