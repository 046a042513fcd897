/*
 * gallery.c - reads the built-in template gallery (templates_dir); layout,
 * rules and contracts in gallery.h.  Runs in the pool's master only (at
 * start and on reload), never in a request.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gallery.h"
#include "json.h"
#include "template.h"
#include "util.h"

#define GALLERY_JSON_MAX (1024 * 1024)	/* registry.json, metadata.json, README.md */

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0 && errlen > 0)
		err[0] = '\0';
	va_end(ap);
	return -1;
}

void
gallery_free(struct gallery *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->rows[i].slug);
		free(g->rows[i].yaml);
		free(g->rows[i].readme);
		cJSON_Delete(g->rows[i].object);
	}
	free(g->rows);
	g->rows = NULL;
	g->n = 0;
}

const struct gallery_entry *
gallery_find(const struct gallery *g, const char *slug)
{
	for (size_t i = 0; g != NULL && i < g->n; i++)
		if (strcmp(g->rows[i].slug, slug) == 0)
			return &g->rows[i];
	return NULL;
}

static bool
contains(const cJSON *o, const char *key, const char *q)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && strcasestr(v->valuestring, q) != NULL;
}

int
gallery_matches(const struct gallery_entry *e, const char *tag, const char *q)
{
	if (tag != NULL && *tag != '\0') {
		const cJSON *t;
		bool         found = false;

		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(e->object, "tags"))
			found |= cJSON_IsString(t) && strcasecmp(t->valuestring, tag) == 0;
		if (!found)
			return 0;
	}
	if (q != NULL && *q != '\0' && !contains(e->object, "slug", q) &&
	    !contains(e->object, "display_name", q) && !contains(e->object, "description", q))
		return 0;
	return 1;
}

/* A JSON file (absent: *out NULL and 0 when optional). */
static int
read_json(const char *path, bool optional, cJSON **out, char *err, size_t errlen)
{
	char  *text = NULL;
	size_t len;

	*out = NULL;
	if (util_read_file(path, GALLERY_JSON_MAX, &text, &len) != 0)
		return fail(err, errlen, "%s: cannot read", path);
	if (text == NULL)
		return optional ? 0 : fail(err, errlen, "%s: cannot open", path);
	*out = cJSON_ParseWithLength(text, len);
	free(text);
	if (*out == NULL)
		return fail(err, errlen, "%s: not valid JSON", path);
	return 0;
}

/* o[key] copied as a string (or null) into obj. */
static void
copy_str(cJSON *obj, const char *key, const cJSON *reg, const cJSON *md)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(reg, key);

	if (!cJSON_IsString(v))
		v = cJSON_GetObjectItemCaseSensitive(md, key);
	if (cJSON_IsString(v))
		cJSON_AddStringToObject(obj, key, v->valuestring);
	else
		cJSON_AddNullToObject(obj, key);
}

/*
 * The API object of a built-in: reg (its registry.json entry, may be NULL),
 * plan (its metadata), meta (metadata.json, may be NULL).
 */
static cJSON *
object_of(const char *slug, const cJSON *reg, const cJSON *plan, const cJSON *meta)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(plan, "metadata");
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(reg, "tags"), *v;
	cJSON       *o = cJSON_CreateObject();
	char         when[32];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", slug);
	cJSON_AddStringToObject(o, "slug", slug);
	cJSON_AddBoolToObject(o, "builtin", true);
	copy_str(o, "display_name", reg, md);
	copy_str(o, "description", reg, md);
	if (!cJSON_IsArray(tags))
		tags = cJSON_GetObjectItemCaseSensitive(md, "tags");
	cJSON_AddItemToObject(o, "tags", cJSON_IsArray(tags) ? cJSON_Duplicate(tags, true) :
	    cJSON_CreateArray());
	copy_str(o, "icon", reg, md);
	copy_str(o, "icon_url", reg, md);
	copy_str(o, "color", reg, md);
	copy_str(o, "category", reg, md);
	copy_str(o, "author", meta, NULL);
	copy_str(o, "author_name", meta, NULL);
	cJSON_AddNullToObject(o, "created_by");
	/* metadata.json's created_at is a date: midnight UTC */
	v = cJSON_GetObjectItemCaseSensitive(meta, "created_at");
	if (cJSON_IsString(v) && util_snprintf(when, sizeof(when), "%sT00:00:00Z", v->valuestring) > 0 &&
	    json_is_time(when))
		cJSON_AddStringToObject(o, "created_at", when);
	else if (cJSON_IsString(v) && json_is_time(v->valuestring))
		cJSON_AddStringToObject(o, "created_at", v->valuestring);
	else
		cJSON_AddNullToObject(o, "created_at");
	cJSON_AddNullToObject(o, "updated_at");
	return o;
}

/* The index of slug in registry.json (its order in the gallery), or -1. */
static int
registry_index(const cJSON *reg, const char *slug)
{
	int i = 0;

	for (const cJSON *e = reg ? reg->child : NULL; e; e = e->next, i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "slug");

		if (cJSON_IsString(s) && strcmp(s->valuestring, slug) == 0)
			return i;
	}
	return -1;
}

/* registry.json's order, then the others by slug. */
static int
by_rank(const void *a, const void *b)
{
	const struct gallery_entry *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->slug, y->slug);
}

/* One <category>/<slug>/ directory with a template.yaml: appended to g. */
static int
load_one(struct gallery *g, const char *dir, const char *slug, const cJSON *registry,
    char *err, size_t errlen)
{
	char                  path[4096];
	char                 *text = NULL, *readme = NULL;
	size_t                len = 0;
	cJSON                *plan, *errors = NULL, *meta = NULL;
	const cJSON          *name;
	struct gallery_entry *e;
	int                   idx;

	if (util_snprintf(path, sizeof(path), "%s/template.yaml", dir) < 0)
		return fail(err, errlen, "%s: path too long", dir);
	if (util_read_file(path, TEMPLATE_MAX_BYTES, &text, &len) != 0 || text == NULL)
		return fail(err, errlen, "%s: cannot read (at most %d bytes)", path,
		    TEMPLATE_MAX_BYTES);
	if ((plan = template_check(text, len, NULL, &errors)) == NULL) {
		const cJSON *first = cJSON_GetArrayItem(errors, 0);

		if (first == NULL)
			fail(err, errlen, "%s: out of memory", path);
		else
			fail(err, errlen, "%s:%d: %s: %s (%d errors)", path,
			    cJSON_GetObjectItemCaseSensitive(first, "line")->valueint,
			    cJSON_GetObjectItemCaseSensitive(first, "field")->valuestring,
			    cJSON_GetObjectItemCaseSensitive(first, "message")->valuestring,
			    cJSON_GetArraySize(errors));
		cJSON_Delete(errors);
		free(text);
		return -1;
	}
	name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(plan, "metadata"),
	    "name");
	if (!cJSON_IsString(name) || strcmp(name->valuestring, slug) != 0) {
		fail(err, errlen, "%s: metadata.name must be the directory's name, %s", path, slug);
		goto bad;
	}
	if (gallery_find(g, slug) != NULL) {
		fail(err, errlen, "%s: a second built-in template named %s", path, slug);
		goto bad;
	}
	if (g->n >= GALLERY_MAX) {
		fail(err, errlen, "%s: more than %d built-in templates", path, GALLERY_MAX);
		goto bad;
	}
	if (util_snprintf(path, sizeof(path), "%s/metadata.json", dir) < 0 ||
	    read_json(path, true, &meta, err, errlen) != 0)
		goto bad;
	if (meta != NULL && !cJSON_IsObject(meta)) {
		fail(err, errlen, "%s: must be a JSON object", path);
		goto bad;
	}
	if (util_snprintf(path, sizeof(path), "%s/README.md", dir) < 0 ||
	    util_read_file(path, GALLERY_JSON_MAX, &readme, NULL) != 0) {
		fail(err, errlen, "%s: cannot read", path);
		goto bad;
	}
	idx = registry_index(registry, slug);
	e = &g->rows[g->n];
	memset(e, 0, sizeof(*e));
	e->slug = strdup(slug);
	e->yaml = text;
	e->len = len;
	e->readme = readme;
	e->rank = idx >= 0 ? idx : GALLERY_MAX;
	e->object = object_of(slug, idx >= 0 ? cJSON_GetArrayItem(registry, idx) : NULL, plan, meta);
	g->n++;
	cJSON_Delete(meta);
	cJSON_Delete(plan);
	if (e->slug == NULL || e->object == NULL)
		return fail(err, errlen, "%s: out of memory", dir);
	return 0;
bad:
	cJSON_Delete(meta);
	cJSON_Delete(plan);
	free(text);
	free(readme);
	return -1;
}

/* Each <dir>/<category>/<slug>/ that holds a template.yaml. */
static int
scan(struct gallery *g, const char *dir, const cJSON *registry, char *err, size_t errlen)
{
	DIR           *top = opendir(dir), *cat;
	struct dirent *c, *s;
	char           cpath[4096], spath[4096], ypath[4096];
	int            rc = 0;

	if (top == NULL)
		return fail(err, errlen, "%s: cannot open the templates directory", dir);
	while (rc == 0 && (c = readdir(top)) != NULL) {
		if (c->d_name[0] == '.' || util_snprintf(cpath, sizeof(cpath), "%s/%s", dir,
		    c->d_name) < 0 || (cat = opendir(cpath)) == NULL)
			continue;	/* a file (registry.json, README.md) */
		while (rc == 0 && (s = readdir(cat)) != NULL) {
			FILE *f;

			if (s->d_name[0] == '.' ||
			    util_snprintf(spath, sizeof(spath), "%s/%s", cpath, s->d_name) < 0 ||
			    util_snprintf(ypath, sizeof(ypath), "%s/template.yaml", spath) < 0 ||
			    (f = fopen(ypath, "r")) == NULL)
				continue;
			fclose(f);
			rc = load_one(g, spath, s->d_name, registry, err, errlen);
		}
		closedir(cat);
	}
	closedir(top);
	return rc;
}

int
gallery_load(struct gallery *g, const char *dir, char *err, size_t errlen)
{
	char   path[4096];
	cJSON *registry = NULL;
	int    i = 0;

	memset(g, 0, sizeof(*g));
	if (dir == NULL || dir[0] == '\0')
		return 0;
	if ((g->rows = calloc(GALLERY_MAX, sizeof(*g->rows))) == NULL)
		return fail(err, errlen, "%s: out of memory", dir);
	if (util_snprintf(path, sizeof(path), "%s/registry.json", dir) < 0 ||
	    read_json(path, true, &registry, err, errlen) != 0)
		goto bad;
	if (registry != NULL && !cJSON_IsArray(registry)) {
		fail(err, errlen, "%s: must be a JSON array of entries", path);
		goto bad;
	}
	for (const cJSON *e = registry ? registry->child : NULL; e; e = e->next, i++)
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "slug"))) {
			fail(err, errlen, "%s: entry %d has no slug", path, i);
			goto bad;
		}
	if (scan(g, dir, registry, err, errlen) != 0)
		goto bad;
	for (const cJSON *e = registry ? registry->child : NULL; e; e = e->next) {
		const char *slug = cJSON_GetObjectItemCaseSensitive(e, "slug")->valuestring;

		if (gallery_find(g, slug) == NULL) {
			fail(err, errlen, "%s: %s has no <category>/%s/template.yaml", path, slug,
			    slug);
			goto bad;
		}
	}
	qsort(g->rows, g->n, sizeof(*g->rows), by_rank);
	cJSON_Delete(registry);
	return 0;
bad:
	cJSON_Delete(registry);
	gallery_free(g);
	return -1;
}
