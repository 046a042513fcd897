/*
 * gallery.h - the built-in template gallery: the directory launcher.conf's
 * templates_dir names (conf/templates/ as shipped), read by the pool's
 * master at start and on every reload, like the database image table;
 * workers inherit it (struct worker's gallery).
 *
 * Layout (the public Launcher templates repository's):
 *   registry.json                       [{slug, display_name, description,
 *                                         tags, icon, icon_url, color, category}]
 *   <category>/<slug>/template.yaml     the template (core/template.h)
 *   <category>/<slug>/metadata.json     {author, author_name, created_at} (optional)
 *   <category>/<slug>/README.md         its documentation (optional)
 * Every template.yaml found two levels down is a built-in; its id is its
 * slug, the directory's name, which must be its metadata.name.  Refused,
 * with "path:line: field: message": a template that fails template_check,
 * a slug found twice, a registry entry without its template, a bad
 * registry.json or metadata.json.  templates_dir "" = no built-ins.
 */
#ifndef LAUNCHER_GALLERY_H
#define LAUNCHER_GALLERY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define GALLERY_MAX 256	/* built-ins of one gallery */

struct gallery_entry {
	char   *slug;
	char   *yaml;	/* the template's text (NUL-terminated), len bytes */
	size_t  len;
	/* The API object without yaml: {id (= slug), slug, builtin: true,
	 * display_name, description, tags, icon, icon_url, color, category,
	 * author, author_name, created_by, created_at, updated_at}, registry.json's
	 * entry first, else the template's metadata. */
	cJSON  *object;
	char   *readme;	/* README.md, or NULL */
	int     rank;	/* its place in registry.json (GALLERY_MAX: not listed there) */
};

struct gallery {
	struct gallery_entry *rows;	/* registry.json's order, then the others by slug */
	size_t                n;
};

/* Reads dir into *g (zeroed first).  0, or -1 with the reason in err and
 * *g empty.  The caller frees *g with gallery_free. */
int  gallery_load(struct gallery *g, const char *dir, char *err, size_t errlen);
void gallery_free(struct gallery *g);
/* The built-in of this slug, or NULL. */
const struct gallery_entry *gallery_find(const struct gallery *g, const char *slug);
/* Whether an entry's object matches ?tag= (one of its tags, any case) and
 * ?q= (a substring of slug, display_name or description, any case);
 * NULL or "" matches everything. */
int  gallery_matches(const struct gallery_entry *e, const char *tag, const char *q);

#endif
