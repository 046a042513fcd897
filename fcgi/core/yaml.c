/*
 * yaml.c - YAML to cJSON and back, on libyaml (contracts in yaml.h).
 *
 * Why libyaml: it is the maintained reference parser and emitter in C,
 * packaged by Debian, with positions on every event; what it leaves to the
 * caller is what we need to decide anyway (the scalar schema, aliases as
 * bounded copies, the merge key, duplicate keys).
 */
#include "yaml.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "util.h"

struct mark {
	const cJSON *node;
	int          line, col;
};

struct anchor {
	char  *name;
	cJSON *node;		/* a copy of the anchored node, owned here */
	size_t count;		/* nodes of its subtree */
};

struct yaml_doc {
	cJSON       *root;
	struct mark *marks;
	size_t       nmarks, capmarks;
};

/* One open collection while parsing. */
struct frame {
	cJSON *node;		/* object or array */
	char  *key;		/* an object's pending key, or NULL */
	int    key_line, key_col;
	bool   key_is_merge;	/* the pending key is a plain "<<" */
	cJSON *merges;		/* array of objects to merge at the end (refs) */
	char  *anchor;		/* the collection's anchor, registered at its end */
	int    start_line, start_col;	/* where the collection starts */
};

struct parse {
	struct yaml_doc *d;
	struct frame     stack[YAML_MAX_DEPTH + 1];
	int              depth;
	struct anchor   *anchors;
	size_t           nanchors, capanchors;
	size_t           nodes;
	char            *err;
	size_t           errlen;
	int              eline, ecol;
};

static bool
add_mark(struct yaml_doc *d, const cJSON *node, int line, int col)
{
	if (d->nmarks == d->capmarks) {
		size_t cap = d->capmarks ? d->capmarks * 2 : 64;
		struct mark *m = realloc(d->marks, cap * sizeof(*m));
		if (!m)
			return false;
		d->marks = m;
		d->capmarks = cap;
	}
	d->marks[d->nmarks++] = (struct mark){node, line, col};
	return true;
}

static bool
fail(struct parse *p, int line, int col, const char *reason)
{
	p->eline = line;
	p->ecol = col;
	(void)util_snprintf(p->err, p->errlen, "line %d, column %d: %s", line, col, reason);
	return false;
}

/* Plain scalar resolution (YAML 1.2 core schema, minus .inf/.nan). */
static bool
is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL");
}

static int
bool_word(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

static bool
number_word(const char *s, double *out)
{
	const char *q = s;
	char *end;
	if (*q == '+' || *q == '-')
		q++;
	if (!*q)
		return false;
	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'o') && q == s) {
		if (!q[2])
			return false;
		errno = 0;
		unsigned long long v = strtoull(q + 2, &end, q[1] == 'x' ? 16 : 8);
		if (*end || errno)
			return false;
		*out = (double)v;
		return true;
	}
	/* digits, an optional fraction, an optional exponent */
	const char *c = q;
	size_t digits = 0;
	while (*c >= '0' && *c <= '9')
		c++, digits++;
	if (*c == '.') {
		c++;
		while (*c >= '0' && *c <= '9')
			c++, digits++;
	}
	if (!digits)
		return false;
	if (*c == 'e' || *c == 'E') {
		c++;
		if (*c == '+' || *c == '-')
			c++;
		if (!(*c >= '0' && *c <= '9'))
			return false;
		while (*c >= '0' && *c <= '9')
			c++;
	}
	if (*c)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && errno == 0 && isfinite(*out);
}

static cJSON *
scalar_node(const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	if ((tag && !strcmp(tag, YAML_STR_TAG)) || !ev->data.scalar.plain_implicit)
		return cJSON_CreateString(text);
	cJSON *n;
	double v;
	int b = bool_word(text);
	if (is_null_word(text))
		n = cJSON_CreateNull();
	else if (b >= 0)
		n = cJSON_CreateBool(b);
	else if (number_word(text, &v))
		n = cJSON_CreateNumber(v);
	else
		return cJSON_CreateString(text);
	/* the text as written, for yaml_text (cJSON_Delete frees it) */
	if (n && !(n->valuestring = strdup(text))) {
		cJSON_Delete(n);
		return NULL;
	}
	return n;
}

static size_t
count_nodes(const cJSON *n)
{
	size_t c = 1;
	for (const cJSON *k = n->child; k; k = k->next)
		c += count_nodes(k);
	return c;
}

/* Marks the nodes below n (a copy) with the alias's position. */
static bool
mark_below(struct yaml_doc *d, const cJSON *n, int line, int col)
{
	for (const cJSON *k = n->child; k; k = k->next)
		if (!add_mark(d, k, line, col) || !mark_below(d, k, line, col))
			return false;
	return true;
}

static struct anchor *
find_anchor(struct parse *p, const char *name)
{
	for (size_t i = p->nanchors; i-- > 0;)
		if (!strcmp(p->anchors[i].name, name))
			return &p->anchors[i];
	return NULL;
}

static bool
add_anchor(struct parse *p, const char *name, cJSON *node)
{
	if (p->nanchors == p->capanchors) {
		size_t cap = p->capanchors ? p->capanchors * 2 : 8;
		struct anchor *a = realloc(p->anchors, cap * sizeof(*a));
		if (!a)
			return false;
		p->anchors = a;
		p->capanchors = cap;
	}
	/* its own copy: the node itself may be freed before an alias names
	 * it (an anchored key, an anchored mapping given to "<<") */
	char *copy = strdup(name);
	cJSON *dup = cJSON_Duplicate(node, 1);
	if (!copy || !dup) {
		free(copy);
		cJSON_Delete(dup);
		return false;
	}
	p->anchors[p->nanchors++] = (struct anchor){copy, dup, count_nodes(dup)};
	return true;
}

/*
 * Places a finished node (a scalar, an alias's copy, or a closed collection)
 * into its parent: as a key, a value, or an array element.  Takes node.
 */
static bool
place(struct parse *p, cJSON *node, int line, int col, bool is_plain_merge_key)
{
	if (p->depth == 0) {
		p->d->root = node;
		return add_mark(p->d, node, line, col);
	}
	struct frame *f = &p->stack[p->depth - 1];
	if (cJSON_IsArray(f->node)) {
		cJSON_AddItemToArray(f->node, node);
		return add_mark(p->d, node, line, col);
	}
	if (!f->key) {
		/* node is a key */
		if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
			cJSON_Delete(node);
			return fail(p, line, col, "a mapping key must be a scalar");
		}
		const char *text;
		char num[64];
		if (cJSON_IsString(node))
			text = node->valuestring;
		else if (cJSON_IsNumber(node)) {
			(void)util_snprintf(num, sizeof(num), "%.17g", node->valuedouble);
			text = num;
		} else if (cJSON_IsBool(node))
			text = cJSON_IsTrue(node) ? "true" : "false";
		else
			text = "null";
		f->key_is_merge = is_plain_merge_key;
		if (!f->key_is_merge && cJSON_GetObjectItemCaseSensitive(f->node, text)) {
			char msg[160];
			(void)util_snprintf(msg, sizeof(msg), "duplicate key \"%.100s\"", text);
			cJSON_Delete(node);
			return fail(p, line, col, msg);
		}
		f->key = strdup(text);
		cJSON_Delete(node);
		if (!f->key)
			return fail(p, line, col, "out of memory");
		f->key_line = line;
		f->key_col = col;
		return true;
	}
	/* node is the value of f->key */
	bool ok = true;
	if (f->key_is_merge) {
		/* "<<": a mapping, or a list of mappings, merged at the end */
		if (cJSON_IsObject(node)) {
			cJSON_AddItemToArray(f->merges, node);
		} else if (cJSON_IsArray(node)) {
			for (cJSON *m = node->child; m; m = m->next)
				if (!cJSON_IsObject(m)) {
					cJSON_Delete(node);
					free(f->key), f->key = NULL;
					return fail(p, line, col, "a merge key (<<) takes a mapping or a list of mappings");
				}
			cJSON *m;
			while ((m = cJSON_DetachItemFromArray(node, 0)))
				cJSON_AddItemToArray(f->merges, m);
			cJSON_Delete(node);
		} else {
			cJSON_Delete(node);
			free(f->key), f->key = NULL;
			return fail(p, line, col, "a merge key (<<) takes a mapping or a list of mappings");
		}
	} else {
		cJSON_AddItemToObject(f->node, f->key, node);
		ok = add_mark(p->d, node, f->key_line, f->key_col);
	}
	free(f->key);
	f->key = NULL;
	return ok || fail(p, line, col, "out of memory");
}

/* Applies a mapping's pending merges: keys it does not have yet, in order. */
static bool
apply_merges(struct parse *p, struct frame *f)
{
	for (cJSON *m = f->merges->child; m; m = m->next)
		for (cJSON *kv = m->child; kv; kv = kv->next) {
			if (cJSON_GetObjectItemCaseSensitive(f->node, kv->string))
				continue;
			cJSON *copy = cJSON_Duplicate(kv, 1);
			if (!copy)
				return false;
			cJSON_AddItemToObject(f->node, kv->string, copy);
			/* the copy keeps the merged member's position */
			int line = 0, col = 0;
			yaml_where(p->d, kv, &line, &col);
			if (!add_mark(p->d, copy, line, col) || !mark_below(p->d, copy, line, col))
				return false;
		}
	return true;
}

static bool
open_collection(struct parse *p, cJSON *node, const yaml_event_t *ev, const char *anchor)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	if (!node)
		return fail(p, line, col, "out of memory");
	if (p->depth >= YAML_MAX_DEPTH) {
		cJSON_Delete(node);
		return fail(p, line, col, "nesting deeper than 64 levels");
	}
	if (++p->nodes > YAML_MAX_NODES) {
		cJSON_Delete(node);
		return fail(p, line, col, "more than 100000 nodes");
	}
	struct frame *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node;
	f->merges = cJSON_CreateArray();
	f->anchor = anchor ? strdup(anchor) : NULL;
	f->start_line = line;
	f->start_col = col;
	return f->merges && (!anchor || f->anchor) ? true : fail(p, line, col, "out of memory");
}

static bool
close_collection(struct parse *p)
{
	struct frame *f = &p->stack[p->depth - 1];
	int line = f->start_line, col = f->start_col;
	bool ok = true;
	if (cJSON_IsObject(f->node) && f->merges->child)
		ok = apply_merges(p, f);
	cJSON_Delete(f->merges);
	cJSON *node = f->node;
	char *anchor = f->anchor;
	free(f->key);
	p->depth--;
	if (!ok) {
		cJSON_Delete(node);
		free(anchor);
		return fail(p, line, col, "out of memory");
	}
	if (anchor && !add_anchor(p, anchor, node)) {
		free(anchor);
		cJSON_Delete(node);
		return fail(p, line, col, "out of memory");
	}
	free(anchor);
	return place(p, node, line, col, false);
}

static bool
on_event(struct parse *p, const yaml_event_t *ev, bool *done)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return true;
	case YAML_DOCUMENT_START_EVENT:
		if (p->d->root)
			return fail(p, line, col, "only one YAML document is allowed");
		return true;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return true;
	case YAML_SCALAR_EVENT: {
		cJSON *n = scalar_node(ev);
		if (!n)
			return fail(p, line, col, "out of memory");
		if (++p->nodes > YAML_MAX_NODES) {
			cJSON_Delete(n);
			return fail(p, line, col, "more than 100000 nodes");
		}
		if (ev->data.scalar.anchor &&
		    !add_anchor(p, (const char *)ev->data.scalar.anchor, n)) {
			cJSON_Delete(n);
			return fail(p, line, col, "out of memory");
		}
		bool merge = ev->data.scalar.plain_implicit &&
		    !strcmp((const char *)ev->data.scalar.value, "<<");
		return place(p, n, line, col, merge);
	}
	case YAML_SEQUENCE_START_EVENT:
		return open_collection(p, cJSON_CreateArray(), ev,
		    (const char *)ev->data.sequence_start.anchor);
	case YAML_MAPPING_START_EVENT:
		return open_collection(p, cJSON_CreateObject(), ev,
		    (const char *)ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_collection(p);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		struct anchor *a = find_anchor(p, name);
		if (!a) {
			char msg[160];
			(void)util_snprintf(msg, sizeof(msg), "unknown alias *%.100s", name);
			return fail(p, line, col, msg);
		}
		if (p->nodes + a->count > YAML_MAX_NODES)
			return fail(p, line, col, "more than 100000 nodes (aliases expanded)");
		p->nodes += a->count;
		cJSON *copy = cJSON_Duplicate(a->node, 1);
		if (!copy || !mark_below(p->d, copy, line, col)) {
			cJSON_Delete(copy);
			return fail(p, line, col, "out of memory");
		}
		return place(p, copy, line, col, false);	/* marks the root */
	}
	case YAML_NO_EVENT:
	default:
		return true;
	}
}

struct yaml_doc *
yaml_parse(const char *text, size_t len, char *err, size_t errlen, int *line, int *col)
{
	char dummy[8];
	if (!err || !errlen)
		err = dummy, errlen = sizeof(dummy);
	err[0] = '\0';
	struct yaml_doc *d = calloc(1, sizeof(*d));
	struct parse p = {.d = d, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	bool ok = d && memchr(text, '\0', len) == NULL;
	if (!d) {
		(void)util_snprintf(err, errlen, "line 1, column 1: out of memory");
		p.eline = p.ecol = 1;
	} else if (!ok) {
		fail(&p, 1, 1, "the text contains a NUL byte");
	}
	if (ok && !yaml_parser_initialize(&parser)) {
		ok = fail(&p, 1, 1, "out of memory");
	} else if (ok) {
		yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
		bool done = false;
		while (ok && !done) {
			yaml_event_t ev;
			if (!yaml_parser_parse(&parser, &ev)) {
				const yaml_mark_t *m = parser.problem ? &parser.problem_mark :
				    &parser.context_mark;
				char msg[200];
				(void)util_snprintf(msg, sizeof(msg), "%s%s%s",
				    parser.problem ? parser.problem : "invalid YAML",
				    parser.context ? " " : "", parser.context ? parser.context : "");
				ok = fail(&p, (int)m->line + 1, (int)m->column + 1, msg);
				break;
			}
			ok = on_event(&p, &ev, &done);
			yaml_event_delete(&ev);
		}
		yaml_parser_delete(&parser);
	}
	while (p.depth > 0) {
		struct frame *f = &p.stack[--p.depth];
		cJSON_Delete(f->node);
		cJSON_Delete(f->merges);
		free(f->key);
		free(f->anchor);
	}
	for (size_t i = 0; i < p.nanchors; i++) {
		free(p.anchors[i].name);
		cJSON_Delete(p.anchors[i].node);
	}
	free(p.anchors);
	if (ok && d && !d->root) {
		d->root = cJSON_CreateNull();	/* an empty text */
		if (!d->root || !add_mark(d, d->root, 1, 1))
			ok = fail(&p, 1, 1, "out of memory");
	}
	if (!ok) {
		yaml_doc_free(d);
		if (line)
			*line = p.eline;
		if (col)
			*col = p.ecol;
		return NULL;
	}
	return d;
}

const char *
yaml_text(const cJSON *node)
{
	if (!node || cJSON_IsObject(node) || cJSON_IsArray(node))
		return NULL;
	return node->valuestring;
}

const cJSON *
yaml_root(const struct yaml_doc *d)
{
	return d ? d->root : NULL;
}

bool
yaml_where(const struct yaml_doc *d, const cJSON *node, int *line, int *col)
{
	if (!d || !node)
		return false;
	/* newest first: a freed node's address may be reused by a later one */
	for (size_t i = d->nmarks; i-- > 0;)
		if (d->marks[i].node == node) {
			if (line)
				*line = d->marks[i].line;
			if (col)
				*col = d->marks[i].col;
			return true;
		}
	return false;
}

void
yaml_doc_free(struct yaml_doc *d)
{
	if (!d)
		return;
	cJSON_Delete(d->root);
	free(d->marks);
	free(d);
}

/* --- the writer ------------------------------------------------------- */

struct out {
	char  *buf;
	size_t len, cap;
	bool   oom;
};

static int
out_write(void *data, unsigned char *bytes, size_t size)
{
	struct out *o = data;
	if (o->len + size + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 1024;
		while (o->len + size + 1 > cap)
			cap *= 2;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->oom = true;
			return 0;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, bytes, size);
	o->len += size;
	o->buf[o->len] = '\0';
	return 1;
}

static bool
emit_scalar(yaml_emitter_t *e, const char *text, bool plain_ok, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
	    plain_ok, !plain_ok || style != YAML_PLAIN_SCALAR_STYLE, style))
		return false;
	return yaml_emitter_emit(e, &ev);
}

/* Words that YAML 1.1 readers (PyYAML, older Go and Ruby) take for bools. */
static bool
yaml11_bool(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off", NULL};
	for (size_t i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

static bool
emit_string(yaml_emitter_t *e, const char *s)
{
	/* a string that would read back as null, a bool or a number is quoted */
	double v;
	bool other = is_null_word(s) || bool_word(s) >= 0 || number_word(s, &v) ||
	    !strcmp(s, "<<") || yaml11_bool(s);
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (other)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (strchr(s, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE;
	return emit_scalar(e, s, !other, style);
}

static bool
emit_node(yaml_emitter_t *e, const cJSON *n)
{
	yaml_event_t ev;
	char num[64];
	if (cJSON_IsObject(n)) {
		yaml_mapping_style_t st = n->child ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE;
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, st) ||
		    !yaml_emitter_emit(e, &ev))
			return false;
		for (const cJSON *k = n->child; k; k = k->next)
			if (!emit_string(e, k->string) || !emit_node(e, k))
				return false;
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
	}
	if (cJSON_IsArray(n)) {
		yaml_sequence_style_t st = n->child ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE;
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, st) ||
		    !yaml_emitter_emit(e, &ev))
			return false;
		for (const cJSON *k = n->child; k; k = k->next)
			if (!emit_node(e, k))
				return false;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
	}
	if (cJSON_IsString(n))
		return emit_string(e, n->valuestring);
	if (cJSON_IsNumber(n)) {
		double v = n->valuedouble;
		if (v == floor(v) && fabs(v) < 9007199254740992.0)
			(void)util_snprintf(num, sizeof(num), "%.0f", v);
		else
			(void)util_snprintf(num, sizeof(num), "%.17g", v);
		return emit_scalar(e, num, true, YAML_PLAIN_SCALAR_STYLE);
	}
	if (cJSON_IsBool(n))
		return emit_scalar(e, cJSON_IsTrue(n) ? "true" : "false", true, YAML_PLAIN_SCALAR_STYLE);
	return emit_scalar(e, "null", true, YAML_PLAIN_SCALAR_STYLE);
}

char *
yaml_emit(const cJSON *root)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	struct out o = {0};
	if (!yaml_emitter_initialize(&e))
		return NULL;
	yaml_emitter_set_output(&e, out_write, &o);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_width(&e, -1);
	bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	    yaml_emitter_emit(&e, &ev) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	    yaml_emitter_emit(&e, &ev) &&
	    emit_node(&e, root) &&
	    yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
	    yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
	    yaml_emitter_flush(&e);
	yaml_emitter_delete(&e);
	if (!ok || o.oom) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

void
yaml_detail_at(cJSON *details, const char *field, const char *message, int line, int col)
{
	cJSON *e = cJSON_CreateObject();

	if (e == NULL)
		return;
	cJSON_AddStringToObject(e, "field", field);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddNumberToObject(e, "line", line);
	cJSON_AddNumberToObject(e, "column", col);
	cJSON_AddItemToArray(details, e);
}

void
yaml_detail(cJSON *details, const struct yaml_doc *d, const cJSON *node, const char *field,
    const char *message)
{
	int line = 0, col = 0;

	if (node == NULL || d == NULL || !yaml_where(d, node, &line, &col))
		line = col = 0;
	yaml_detail_at(details, field, message, line, col);
}
