/*
 * yaml.h - the one YAML reader and writer (templates, compose files, the
 * project export), on libyaml's event API.
 *
 * The reader turns one YAML document into a cJSON tree and remembers where
 * each node starts, so that a checker can name the line and column of
 * every error.  Mappings become objects (keys must be scalars; a duplicate
 * key is an error), sequences arrays, and scalars follow the YAML 1.2 core
 * schema: a quoted scalar (or one tagged !!str) is a string; a plain one
 * is null (empty, "~", "null"), a bool ("true", "false"), a number (a
 * decimal, 0x or 0o integer or a decimal float), or else a string.
 * Anchors and aliases work, and so does the "<<" merge key (a mapping or a
 * list of mappings; keys written in the mapping itself win); an alias is a
 * copy, so every document counts its nodes after expansion against
 * YAML_MAX_NODES (an alias bomb stops there) and its nesting against
 * YAML_MAX_DEPTH.  More than one document is an error.
 *
 * The writer prints a cJSON tree in block style, keys in object order;
 * strings are quoted only where a plain scalar would read back as
 * something else, multi-line strings as literal blocks.
 */
#ifndef LAUNCHER_YAML_H
#define LAUNCHER_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define YAML_MAX_NODES 100000	/* nodes of one document, aliases expanded */
#define YAML_MAX_DEPTH 64	/* nesting of collections */

struct yaml_doc;

/*
 * Parses one document of text (len bytes; NUL bytes are an error).  NULL on
 * error, with "line L, column C: reason" in err and *line, *col set (1-based;
 * either pointer may be NULL).  An empty text is a document whose root is
 * null.
 */
struct yaml_doc *yaml_parse(const char *text, size_t len, char *err, size_t errlen,
    int *line, int *col);
/* The tree; owned by the document. */
const cJSON *yaml_root(const struct yaml_doc *d);
/*
 * Where a node of the tree starts (1-based): for an object member (a node
 * with ->string set) the position of its key; for a node copied by an alias
 * or a merge, the alias's.  false for a node that is not the document's.
 */
bool yaml_where(const struct yaml_doc *d, const cJSON *node, int *line, int *col);
void yaml_doc_free(struct yaml_doc *d);
/*
 * The one shape of a problem found in a YAML text (templates, compose
 * files): appends {field, message, line, column} to details, the position
 * where node starts (yaml_where; 0 and 0 when node is NULL or not d's).
 * yaml_detail_at takes the position as it is (a parse error's).
 */
void yaml_detail(cJSON *details, const struct yaml_doc *d, const cJSON *node, const char *field,
    const char *message);
void yaml_detail_at(cJSON *details, const char *field, const char *message, int line, int col);
/*
 * A scalar node of a parsed tree as it was written: "1.0" for the number
 * 1, "True" for true, "~" for null, the string itself for a string; NULL
 * for a collection (and for a scalar node made elsewhere than yaml_parse,
 * which is not a string).  For values that are text whatever they look
 * like (an environment variable's value: "1.0" must stay "1.0").
 */
const char *yaml_text(const cJSON *node);

/*
 * Block-style YAML text of a tree (a document without "---"); malloc'ed,
 * for free().  NULL when out of memory.  Numbers print as integers when
 * they are integral (below 2^53), else with 17 significant digits.
 */
char *yaml_emit(const cJSON *root);

#endif
