/*
 * imagemap.h - the site's image mirror table: which engine image reference
 * a deploy pulls instead of the one an application (or a compose service)
 * names.  Read once from launcher.conf's image_mirrors_file
 * (conf/image-mirrors.conf) by the pool's master, at start and on every
 * reload, like the database image table; workers inherit it (struct
 * worker's imagemap).  An application keeps its image as written; only
 * the job the agent runs carries the replacement (fcgi/api/agent.c, the
 * claim of an app.* job), so an export or a template round-trips.
 *
 * Format: one row per line, two columns separated by '|':
 *
 *   source-ref | replacement-ref
 *
 * '#' starts a comment line; blank lines are skipped; white space around
 * a column is ignored.  Each column is one image reference
 * ([registry[:port]/]path[:tag][@digest]: letters, digits and "._-/:@",
 * not starting with '-', at most 1024 bytes).  A reference matches only
 * itself, byte for byte ("nginx:1" does not match "docker.io/library/nginx:1");
 * the replacement is not looked up again (no chains).  Refused, with
 * "path:line: reason": a line without '|' or with more than one, an empty
 * or bad column, a source listed twice, more than IMAGEMAP_MAX rows.  An
 * empty table (or an empty image_mirrors_file setting) maps nothing.
 */
#ifndef LAUNCHER_IMAGEMAP_H
#define LAUNCHER_IMAGEMAP_H

#include <stddef.h>

#define IMAGEMAP_MAX     4096	/* rows of one table */
#define IMAGEMAP_REF_MAX 1024	/* bytes of one reference, as applications.image_url */

struct imagemap_row {
	char *from;
	char *to;
};

struct imagemap {
	struct imagemap_row *rows;	/* sorted by from (strcmp), for bsearch */
	size_t               n;
};

/*
 * Reads path into *m (zeroed first).  path "" is an empty table.  0, or
 * -1 with "path:line: reason" (or "path: cannot open") in err and *m
 * empty.  The caller frees *m with imagemap_free.
 */
int  imagemap_load(struct imagemap *m, const char *path, char *err, size_t errlen);
/* The same from a buffer of text; name stands for the path in errors. */
int  imagemap_parse(struct imagemap *m, const char *text, size_t len, const char *name,
	char *err, size_t errlen);
void imagemap_free(struct imagemap *m);
/*
 * The reference to pull for ref: its replacement, or ref itself when the
 * table (which may be NULL) does not list it.  The result lives as long as
 * the table or ref.
 */
const char *imagemap_resolve(const struct imagemap *m, const char *ref);

#endif
