/*
 * imagemap.c - the one parser and lookup of the site's image mirror table
 * (image_mirrors_file); format and contracts in imagemap.h.
 */
#include "imagemap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FILE_MAX (4 << 20)	/* IMAGEMAP_MAX rows of two references, and comments */

/* Why ref is not an image reference, or NULL (the shape apps_check_image accepts). */
static const char *
bad_ref(const char *ref)
{
	size_t n = strlen(ref);

	if (n == 0)
		return "is empty";
	if (n > IMAGEMAP_REF_MAX)
		return "is longer than 1024 bytes";
	if (ref[0] == '-')
		return "starts with '-'";
	for (const char *p = ref; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("._-/:@", *p) != NULL))
			return "is not one image reference (letters, digits and ._-/:@ only)";
	return NULL;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imagemap_row *)a)->from, ((const struct imagemap_row *)b)->from);
}

void
imagemap_free(struct imagemap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->rows[i].from);
		free(m->rows[i].to);
	}
	free(m->rows);
	m->rows = NULL;
	m->n = 0;
}

/*
 * One line (NUL-terminated, trimmed, not a comment) into row; 0, or -1
 * with the reason in why.
 */
static int
row_from(char *line, struct imagemap_row *row, char *why, size_t whylen)
{
	char       *bar = strchr(line, '|'), *from, *to;
	const char *bad;

	if (bar == NULL || strchr(bar + 1, '|') != NULL) {
		util_snprintf(why, whylen, "expected two columns: source-ref | replacement-ref");
		return -1;
	}
	*bar = '\0';
	from = util_trim(line);
	to = util_trim(bar + 1);
	if ((bad = bad_ref(from)) != NULL) {
		util_snprintf(why, whylen, "the source reference '%.64s' %s", from, bad);
		return -1;
	}
	if ((bad = bad_ref(to)) != NULL) {
		util_snprintf(why, whylen, "the replacement reference '%.64s' %s", to, bad);
		return -1;
	}
	if ((row->from = strdup(from)) == NULL || (row->to = strdup(to)) == NULL) {
		util_snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

int
imagemap_parse(struct imagemap *m, const char *text, size_t len, const char *name, char *err,
    size_t errlen)
{
	char  *copy, *line, *next;
	char   why[256];
	int    lineno = 0, rc = -1;
	int   *lines = NULL;	/* the line of each row, for a duplicate's message */

	memset(m, 0, sizeof(*m));
	if (memchr(text, '\0', len) != NULL) {
		util_snprintf(err, errlen, "%s: holds a NUL byte", name);
		return -1;
	}
	if ((copy = malloc(len + 1)) == NULL || (m->rows = calloc(IMAGEMAP_MAX, sizeof(*m->rows))) ==
	    NULL || (lines = calloc(IMAGEMAP_MAX, sizeof(*lines))) == NULL) {
		util_snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line != NULL; line = next) {
		char *p;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		p = util_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (m->n >= IMAGEMAP_MAX) {
			util_snprintf(err, errlen, "%s:%d: more than %d rows", name, lineno, IMAGEMAP_MAX);
			goto out;
		}
		if (row_from(p, &m->rows[m->n], why, sizeof(why)) != 0) {
			free(m->rows[m->n].from);
			free(m->rows[m->n].to);
			m->rows[m->n].from = m->rows[m->n].to = NULL;
			util_snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			goto out;
		}
		for (size_t i = 0; i < m->n; i++)
			if (strcmp(m->rows[i].from, m->rows[m->n].from) == 0) {
				util_snprintf(err, errlen, "%s:%d: '%.64s' is already mapped on line %d", name,
				    lineno, m->rows[m->n].from, lines[i]);
				m->n++;
				goto out;
			}
		lines[m->n++] = lineno;
	}
	qsort(m->rows, m->n, sizeof(*m->rows), row_cmp);
	rc = 0;
out:
	free(copy);
	free(lines);
	if (rc != 0)
		imagemap_free(m);
	return rc;
}

int
imagemap_load(struct imagemap *m, const char *path, char *err, size_t errlen)
{
	char  *text;
	size_t n;
	int    rc;

	memset(m, 0, sizeof(*m));
	if (path[0] == '\0')
		return 0;
	if (util_read_file(path, FILE_MAX, &text, &n) != 0 || text == NULL) {
		util_snprintf(err, errlen, "%s: %s", path, errno == EFBIG ? "larger than 4 MiB" :
		    "cannot open");
		return -1;
	}
	rc = imagemap_parse(m, text, n, path, err, errlen);
	free(text);
	return rc;
}

const char *
imagemap_resolve(const struct imagemap *m, const char *ref)
{
	struct imagemap_row        key = {.from = (char *)ref};
	const struct imagemap_row *hit;

	if (m == NULL || m->n == 0 || ref == NULL)
		return ref;
	hit = bsearch(&key, m->rows, m->n, sizeof(*m->rows), row_cmp);
	return hit != NULL ? hit->to : ref;
}
