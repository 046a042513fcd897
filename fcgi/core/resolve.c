/*
 * resolve.c - references in environment variables (see resolve.h).
 *
 * Hand-written: the grammar is ours (three reference shapes, an escape, a
 * callback for resources), and what matters is around the parse (cycles,
 * failures reported once, bounded output), which no template library does.
 *
 * Four steps, each linear in the input:
 *   1. parse every value into segments (text, ${VAR}, ${kind.name.prop});
 *      a malformed, unterminated or missing reference is an error now;
 *   2. call the lookup once per distinct resource reference;
 *   3. walk the ${VAR} graph with Tarjan's algorithm (iterative: a chain of
 *      thousands of keys must not exhaust the stack); a component is done
 *      only after every component it uses, so each value is built once from
 *      its dependencies' finished values, and its length is known before
 *      anything is allocated (no exponential blow-up);
 *   4. sort the errors and drop repeats.
 */
#include "resolve.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

/* Longest malformed reference shown as written (see resolve.h). */
#define SHOW_MAX 64
/* A cycle's path in a message: longer ones keep their ends around "…". */
#define PATH_SHOWN 8
/* Work allowed for shortest cycle paths in one component (keys x edges);
 * beyond it a message elides the path (an adversarial map stays fast). */
#define CYCLE_WORK_MAX ((size_t)1 << 22)

enum seg_kind { SEG_TEXT, SEG_VAR, SEG_RES };

struct seg {
	enum seg_kind kind;
	size_t        pos;      /* offset of the reference's "$" in the raw value */
	size_t        off, len; /* TEXT: the bytes; VAR, RES: the reference's inside */
	size_t        target;   /* VAR: index of the variable (NONE: missing); RES: cache slot */
};

enum var_state { ST_NEW, ST_OK, ST_FAIL };

struct var {
	const char    *key, *raw;
	struct seg    *segs;
	size_t         nseg, cap;
	bool           own_err;  /* a reference of its own value is bad */
	enum var_state st;
	size_t         len;      /* resolved length, when ST_OK */
	size_t         index, low, scc;
	bool           onstack;
};

struct res_slot {            /* one distinct ${kind.name.prop} */
	const char *text;        /* the inside, in some raw value */
	size_t      len;
	bool        ok;
	char       *val, *why;
	size_t      vlen;
};

struct err {
	size_t      var, pos;
	const char *ref;         /* raw text the error is about, for dropping repeats */
	size_t      reflen;
	char       *msg;
};

struct ctx {
	const struct resolve_var *in;
	size_t           n;
	struct var      *v;
	size_t          *order;  /* indexes sorted by key, then index */
	struct res_slot *res;
	size_t           nres;
	struct err      *errs;
	size_t           nerr, caperr;
	size_t           total;  /* bytes of the values built so far */
	char           **values;
	/* Tarjan and the cycle paths */
	size_t          *stack, sp, *frames, *fnext, *parent, *queue, *seen;
	size_t           counter, nscc, stamp;
};

/* ------------------------------------------------------------ helpers */

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

/* A malloc'd printf, NULL when out of memory. */
static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	int     len;
	char   *s;

	va_start(ap, f);
	len = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (len < 0 || (s = malloc((size_t)len + 1)) == NULL)
		return NULL;
	va_start(ap, f);
	len = vsnprintf(s, (size_t)len + 1, f, ap);
	va_end(ap);
	if (len < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* A growable string for cycle paths; ok goes false when out of memory. */
struct sbuf {
	char  *s;
	size_t len, cap;
	bool   ok;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!b->ok)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char  *p = realloc(b->s, cap);

		if (p == NULL) {
			b->ok = false;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Records an error (msg malloc'd, owned from here; NULL = out of memory). */
static int
add_err(struct ctx *c, size_t var, size_t pos, const char *ref, size_t reflen, char *msg)
{
	if (msg == NULL)
		return -1;
	if (c->nerr == c->caperr) {
		size_t      cap = c->caperr ? c->caperr * 2 : 16;
		struct err *p = realloc(c->errs, cap * sizeof(*p));

		if (p == NULL) {
			free(msg);
			return -1;
		}
		c->errs = p;
		c->caperr = cap;
	}
	c->errs[c->nerr++] = (struct err){var, pos, ref, reflen, msg};
	return 0;
}

static int
add_seg(struct var *v, struct seg s)
{
	if (v->nseg == v->cap) {
		size_t      cap = v->cap ? v->cap * 2 : 4;
		struct seg *p = realloc(v->segs, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		v->segs = p;
		v->cap = cap;
	}
	v->segs[v->nseg++] = s;
	return 0;
}

/* ------------------------------------------------------------ keys */

static int
cmp_order(const void *a, const void *b, void *arg)
{
	const struct ctx *c = arg;
	size_t            x = *(const size_t *)a, y = *(const size_t *)b;
	int               k = strcmp(c->v[x].key, c->v[y].key);

	return k ? k : (x > y) - (x < y);
}

/* key (NUL-ended) against s[0..len): <0, 0, >0 like strcmp. */
static int
cmp_key(const char *key, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && key[i] != '\0'; i++)
		if (key[i] != s[i])
			return (unsigned char)key[i] - (unsigned char)s[i];
	return i < len ? -1 : key[i] != '\0';
}

/* The variable named s[0..len), its last occurrence; NONE if absent. */
static size_t
find_key(const struct ctx *c, const char *s, size_t len)
{
	size_t lo = 0, hi = c->n;   /* first position whose key is > s */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(c->v[c->order[mid]].key, s, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && cmp_key(c->v[c->order[lo - 1]].key, s, len) == 0 ? c->order[lo - 1] : NONE;
}

/* ------------------------------------------------------------ 1. parse */

static bool
is_var_name(const char *s, size_t len)
{
	if (len == 0 || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]))
			return false;
	return true;
}

/* kind [a-z]+ . name [a-z0-9][a-z0-9-]* . prop [a-z_]+ */
static bool
is_res_ref(const char *s, size_t len)
{
	size_t i = 0, start;

	while (i < len && is_lower(s[i]))
		i++;
	if (i == 0 || i == len || s[i++] != '.')
		return false;
	if (i == len || !(is_lower(s[i]) || is_digit(s[i])))
		return false;
	while (i < len && (is_lower(s[i]) || is_digit(s[i]) || s[i] == '-'))
		i++;
	if (i == len || s[i++] != '.')
		return false;
	start = i;
	while (i < len && (is_lower(s[i]) || s[i] == '_'))
		i++;
	return i == len && i > start;
}

/* Whether a bad reference's inside may be shown as written (resolve.h). */
static bool
showable(const char *s, size_t len)
{
	if (len > SHOW_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static int
bad_ref(struct ctx *c, size_t vi, size_t pos, const char *in, size_t len, bool closed)
{
	static const char hint[] = "write $${ for a literal ${";
	char             *msg;

	if (showable(in, len))
		msg = closed ? fmt("${%.*s}: malformed reference (expected ${VAR} or "
		                   "${kind.name.property}; %s)", (int)len, in, hint)
		             : fmt("${%.*s: unterminated reference (no closing }; %s)", (int)len, in, hint);
	else
		msg = closed ? fmt("${…} at offset %zu: malformed reference (expected ${VAR} or "
		                   "${kind.name.property}; %s)", pos, hint)
		             : fmt("${… at offset %zu: unterminated reference (no closing }; %s)", pos, hint);
	c->v[vi].own_err = true;
	return add_err(c, vi, pos, in, len, msg);
}

static int
parse(struct ctx *c, size_t vi)
{
	struct var *v = &c->v[vi];
	const char *s = v->raw;
	size_t      i = 0, lit = 0;

	while (s[i] != '\0') {
		size_t start = i, inner, len;
		const char *close;

		if (s[i] != '$' || (s[i + 1] != '{' && !(s[i + 1] == '$' && s[i + 2] == '{'))) {
			i++;
			continue;
		}
		if (i > lit && add_seg(v, (struct seg){SEG_TEXT, lit, lit, i - lit, NONE}) < 0)
			return -1;
		if (s[i + 1] == '$') {      /* $${ is the text ${ */
			if (add_seg(v, (struct seg){SEG_TEXT, i, i + 1, 2, NONE}) < 0)
				return -1;
			lit = i += 3;
			continue;
		}
		inner = i + 2;
		if ((close = strchr(s + inner, '}')) == NULL) {
			if (bad_ref(c, vi, start, s + inner, strlen(s + inner), false) < 0)
				return -1;
			lit = i = inner + strlen(s + inner);
			break;
		}
		len = (size_t)(close - (s + inner));
		lit = i = inner + len + 1;
		if (is_var_name(s + inner, len)) {
			size_t t = find_key(c, s + inner, len);

			if (add_seg(v, (struct seg){SEG_VAR, start, inner, len, t}) < 0)
				return -1;
			if (t == NONE) {
				v->own_err = true;
				if (add_err(c, vi, start, s + inner, len,
				        fmt("${%.*s}: no variable %.*s in scope", (int)len, s + inner,
				            (int)len, s + inner)) < 0)
					return -1;
			}
		} else if (is_res_ref(s + inner, len)) {
			if (add_seg(v, (struct seg){SEG_RES, start, inner, len, NONE}) < 0)
				return -1;
		} else if (bad_ref(c, vi, start, s + inner, len, true) < 0)
			return -1;
	}
	if (i > lit && add_seg(v, (struct seg){SEG_TEXT, lit, lit, i - lit, NONE}) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ 2. resources */

static int
cmp_text(const char *a, size_t alen, const char *b, size_t blen)
{
	int k = memcmp(a, b, alen < blen ? alen : blen);

	return k ? k : (alen > blen) - (alen < blen);
}

static int
cmp_slot(const void *a, const void *b)
{
	const struct res_slot *x = a, *y = b;

	return cmp_text(x->text, x->len, y->text, y->len);
}

static size_t
find_slot(const struct ctx *c, const char *s, size_t len)
{
	size_t lo = 0, hi = c->nres;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    k = cmp_text(c->res[mid].text, c->res[mid].len, s, len);

		if (k == 0)
			return mid;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;   /* not reached: every reference has its slot */
}

/* Calls fn once per distinct resource reference, then points segments at the slots. */
static int
lookup_resources(struct ctx *c, resolve_lookup_fn fn, void *arg)
{
	size_t m = 0;

	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->v[i].nseg; j++)
			m += c->v[i].segs[j].kind == SEG_RES;
	if (m == 0)
		return 0;
	if ((c->res = calloc(m, sizeof(*c->res))) == NULL)
		return -1;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->v[i].nseg; j++) {
			const struct seg *s = &c->v[i].segs[j];

			if (s->kind == SEG_RES)
				c->res[c->nres++] = (struct res_slot){c->v[i].raw + s->off, s->len};
		}
	qsort(c->res, c->nres, sizeof(*c->res), cmp_slot);
	m = 0;
	for (size_t i = 0; i < c->nres; i++)
		if (m == 0 || cmp_slot(&c->res[m - 1], &c->res[i]) != 0)
			c->res[m++] = c->res[i];
	c->nres = m;
	for (size_t i = 0; i < c->nres; i++) {
		struct res_slot *r = &c->res[i];
		char            *kind = fmt("%.*s", (int)r->len, r->text), *name, *prop;
		int              rc;

		if (kind == NULL)
			return -1;
		name = strchr(kind, '.');
		*name++ = '\0';
		prop = strchr(name, '.');
		*prop++ = '\0';
		r->val = r->why = NULL;
		rc = fn ? fn(arg, kind, name, prop, &r->val, &r->why) : -1;
		if (fn == NULL)
			r->why = fmt("unknown resource kind %s", kind);
		free(kind);
		if (rc == 0) {
			free(r->why);
			r->why = NULL;
			if (r->val == NULL && (r->val = calloc(1, 1)) == NULL)
				return -1;
			r->ok = true;
			r->vlen = strlen(r->val);
		} else {
			free(r->val);
			r->val = NULL;
		}
	}
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->v[i].nseg; j++) {
			struct seg *s = &c->v[i].segs[j];
			const struct res_slot *r;

			if (s->kind != SEG_RES)
				continue;
			s->target = find_slot(c, c->v[i].raw + s->off, s->len);
			r = &c->res[s->target];
			if (r->ok)
				continue;
			c->v[i].own_err = true;
			if (add_err(c, i, s->pos, r->text, r->len, fmt("${%.*s}: %s", (int)r->len,
			        r->text, r->why ? r->why : "cannot be resolved")) < 0)
				return -1;
		}
	return 0;
}

/* ------------------------------------------------------------ 3. build */

/* Builds v's value from its finished dependencies, or fails it. */
static int
build_one(struct ctx *c, size_t vi)
{
	struct var *v = &c->v[vi];
	size_t      len = 0;
	char       *p;

	v->st = ST_FAIL;
	if (v->own_err)
		return 0;
	for (size_t j = 0; j < v->nseg; j++)
		if (v->segs[j].kind == SEG_VAR && c->v[v->segs[j].target].st != ST_OK)
			return 0;   /* the root cause is reported where it is written */
	for (size_t j = 0; j < v->nseg; j++) {
		const struct seg *s = &v->segs[j];
		size_t l = s->kind == SEG_TEXT ? s->len :
		           s->kind == SEG_VAR ? c->v[s->target].len : c->res[s->target].vlen;

		if (l > RESOLVE_MAX_VALUE - len) {
			if (s->kind == SEG_TEXT)
				return add_err(c, vi, s->pos, "", 0, fmt("the resolved value would be "
				    "longer than %d bytes (RESOLVE_MAX_VALUE)", RESOLVE_MAX_VALUE));
			return add_err(c, vi, s->pos, v->raw + s->off, s->len,
			    fmt("${%.*s}: the resolved value would be longer than %d bytes "
			        "(RESOLVE_MAX_VALUE)", (int)s->len, v->raw + s->off, RESOLVE_MAX_VALUE));
		}
		len += l;
	}
	if (len > RESOLVE_MAX_TOTAL - c->total)
		return add_err(c, vi, 0, "", 0, fmt("the resolved variables would take more than "
		    "%d bytes together (RESOLVE_MAX_TOTAL)", RESOLVE_MAX_TOTAL));
	if ((p = malloc(len + 1)) == NULL)
		return -1;
	c->values[vi] = p;
	for (size_t j = 0; j < v->nseg; j++) {
		const struct seg *s = &v->segs[j];

		if (s->kind == SEG_TEXT) {
			memcpy(p, v->raw + s->off, s->len);
			p += s->len;
		} else if (s->kind == SEG_VAR) {
			memcpy(p, c->values[s->target], c->v[s->target].len);
			p += c->v[s->target].len;
		} else {
			memcpy(p, c->res[s->target].val, c->res[s->target].vlen);
			p += c->res[s->target].vlen;
		}
	}
	*p = '\0';
	v->st = ST_OK;
	v->len = len;
	c->total += len;
	return 0;
}

/* "${X}: cycle X -> ... -> K -> X" for the path parent[] holds from x to k. */
static char *
cycle_msg(struct ctx *c, size_t x, size_t k, bool elide)
{
	struct sbuf b = {NULL, 0, 0, true};
	size_t      len = 0, i = 0;

	sb_str(&b, "${");
	sb_str(&b, c->v[x].key);
	sb_str(&b, "}: cycle ");
	if (elide) {
		sb_str(&b, c->v[x].key);
		if (x != k) {
			sb_str(&b, " -> … -> ");
			sb_str(&b, c->v[k].key);
		}
	} else {
		/* the path, k back to x, laid out in queue[] from its end */
		for (size_t u = k;; u = c->parent[u]) {
			c->queue[c->n - 1 - len++] = u;
			if (u == x)
				break;
		}
		for (size_t *p = c->queue + c->n - len; i < len; i++) {
			if (len > PATH_SHOWN && i == PATH_SHOWN / 2) {
				sb_str(&b, " -> …");
				i = len - (PATH_SHOWN - PATH_SHOWN / 2) - 1;
				continue;
			}
			if (i > 0)
				sb_str(&b, " -> ");
			sb_str(&b, c->v[p[i]].key);
		}
	}
	sb_str(&b, " -> ");
	sb_str(&b, c->v[x].key);
	if (!b.ok) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* Breadth-first from x inside component scc: parent[] then gives a shortest path. */
static void
bfs(struct ctx *c, size_t x, size_t scc)
{
	size_t head = 0, tail = 0;

	c->stamp++;
	c->seen[x] = c->stamp;
	c->parent[x] = NONE;
	c->queue[tail++] = x;
	while (head < tail) {
		size_t u = c->queue[head++];

		for (size_t j = 0; j < c->v[u].nseg; j++) {
			size_t t = c->v[u].segs[j].target;

			if (c->v[u].segs[j].kind != SEG_VAR || t == NONE || c->v[t].scc != scc ||
			    c->seen[t] == c->stamp)
				continue;
			c->seen[t] = c->stamp;
			c->parent[t] = u;
			c->queue[tail++] = t;
		}
	}
}

/* Every member of a cyclic component fails; every reference inside it is an error. */
static int
cycle_errors(struct ctx *c, const size_t *m, size_t k, size_t scc)
{
	size_t edges = 0;
	bool   elide;

	for (size_t i = 0; i < k; i++) {
		c->v[m[i]].st = ST_FAIL;
		edges += c->v[m[i]].nseg;
	}
	elide = edges > CYCLE_WORK_MAX / k;
	for (size_t ki = 0; elide && ki < k; ki++) {   /* one pass over the edges */
		struct var *v = &c->v[m[ki]];

		for (size_t j = 0; j < v->nseg; j++) {
			const struct seg *s = &v->segs[j];

			if (s->kind == SEG_VAR && s->target != NONE && c->v[s->target].scc == scc &&
			    add_err(c, m[ki], s->pos, v->raw + s->off, s->len,
			        cycle_msg(c, s->target, m[ki], true)) < 0)
				return -1;
		}
	}
	for (size_t xi = 0; !elide && xi < k; xi++) {
		size_t x = m[xi];

		bfs(c, x, scc);
		for (size_t ki = 0; ki < k; ki++) {
			struct var *v = &c->v[m[ki]];

			for (size_t j = 0; j < v->nseg; j++) {
				const struct seg *s = &v->segs[j];

				if (s->kind != SEG_VAR || s->target != x)
					continue;
				if (add_err(c, m[ki], s->pos, v->raw + s->off, s->len,
				        cycle_msg(c, x, m[ki], false)) < 0)
					return -1;
			}
		}
	}
	return 0;
}

/* Pops the component rooted at the top of the Tarjan stack and finishes it. */
static int
finish_component(struct ctx *c, size_t root)
{
	size_t base = c->sp, scc = c->nscc++;
	bool   cyclic;

	do
		base--;
	while (c->stack[base] != root);
	for (size_t i = base; i < c->sp; i++) {
		c->v[c->stack[i]].onstack = false;
		c->v[c->stack[i]].scc = scc;
	}
	cyclic = c->sp - base > 1;
	for (size_t j = 0; !cyclic && j < c->v[root].nseg; j++)
		cyclic = c->v[root].segs[j].kind == SEG_VAR && c->v[root].segs[j].target == root;
	if (cyclic) {
		if (cycle_errors(c, c->stack + base, c->sp - base, scc) < 0)
			return -1;
	} else if (build_one(c, root) < 0)
		return -1;
	c->sp = base;
	return 0;
}

static void
visit(struct ctx *c, size_t w)
{
	c->v[w].index = c->v[w].low = c->counter++;
	c->v[w].onstack = true;
	c->stack[c->sp++] = w;
}

/* Tarjan's strongly connected components, iteratively, roots in key order. */
static int
walk(struct ctx *c)
{
	for (size_t oi = 0; oi < c->n; oi++) {
		size_t r = c->order[oi], fp = 0;

		if (c->v[r].index != NONE)
			continue;
		visit(c, r);
		c->frames[fp] = r;
		c->fnext[fp++] = 0;
		while (fp > 0) {
			size_t      vi = c->frames[fp - 1];
			struct var *v = &c->v[vi];

			if (c->fnext[fp - 1] < v->nseg) {
				const struct seg *s = &v->segs[c->fnext[fp - 1]++];
				size_t            w = s->target;

				if (s->kind != SEG_VAR || w == NONE)
					continue;
				if (c->v[w].index == NONE) {
					visit(c, w);
					c->frames[fp] = w;
					c->fnext[fp++] = 0;
				} else if (c->v[w].onstack && c->v[w].index < v->low)
					v->low = c->v[w].index;
				continue;
			}
			if (v->low == v->index && finish_component(c, vi) < 0)
				return -1;
			if (--fp > 0 && v->low < c->v[c->frames[fp - 1]].low)
				c->v[c->frames[fp - 1]].low = v->low;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ 4. errors */

static int
cmp_err_ref(const void *a, const void *b)
{
	const struct err *x = a, *y = b;
	int               k;

	if (x->var != y->var)
		return (x->var > y->var) - (x->var < y->var);
	if ((k = cmp_text(x->ref, x->reflen, y->ref, y->reflen)) != 0)
		return k;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int
cmp_err_key(const void *a, const void *b, void *arg)
{
	const struct ctx *c = arg;
	const struct err *x = a, *y = b;
	int               k = strcmp(c->v[x->var].key, c->v[y->var].key);

	if (k)
		return k;
	if (x->var != y->var)
		return (x->var > y->var) - (x->var < y->var);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int
collect_errors(struct ctx *c, struct resolve_result *out)
{
	size_t m = 0;

	if (c->nerr == 0)
		return 0;
	qsort(c->errs, c->nerr, sizeof(*c->errs), cmp_err_ref);
	for (size_t i = 0; i < c->nerr; i++) {
		if (m > 0 && c->errs[m - 1].var == c->errs[i].var &&
		    cmp_text(c->errs[m - 1].ref, c->errs[m - 1].reflen, c->errs[i].ref,
		        c->errs[i].reflen) == 0) {
			free(c->errs[i].msg);
			continue;
		}
		c->errs[m++] = c->errs[i];
	}
	c->nerr = m;
	qsort_r(c->errs, c->nerr, sizeof(*c->errs), cmp_err_key, c);
	if ((out->errs = calloc(m, sizeof(*out->errs))) == NULL)
		return -1;
	for (size_t i = 0; i < m; i++) {
		if ((out->errs[i].key = strdup(c->v[c->errs[i].var].key)) == NULL)
			return -1;
		out->errs[i].message = c->errs[i].msg;
		c->errs[i].msg = NULL;
		out->nerr = i + 1;
	}
	return 0;
}

/* ------------------------------------------------------------ entry */

static void
ctx_free(struct ctx *c)
{
	if (c->v)
		for (size_t i = 0; i < c->n; i++)
			free(c->v[i].segs);
	for (size_t i = 0; i < c->nres; i++) {
		free(c->res[i].val);
		free(c->res[i].why);
	}
	for (size_t i = 0; i < c->nerr; i++)
		free(c->errs[i].msg);
	free(c->v);
	free(c->order);
	free(c->res);
	free(c->errs);
	free(c->stack);
	free(c->frames);
	free(c->fnext);
	free(c->parent);
	free(c->queue);
	free(c->seen);
}

int
resolve_all(const struct resolve_var *vars, size_t n, resolve_lookup_fn fn, void *arg,
    struct resolve_result *out)
{
	struct ctx c = {vars, n};
	size_t     m = n ? n : 1;
	int        rc = 0;

	memset(out, 0, sizeof(*out));
	if ((out->values = calloc(m, sizeof(*out->values))) == NULL ||
	    (c.v = calloc(m, sizeof(*c.v))) == NULL ||
	    (c.order = calloc(m, sizeof(*c.order))) == NULL ||
	    (c.stack = calloc(m, sizeof(*c.stack))) == NULL ||
	    (c.frames = calloc(m, sizeof(*c.frames))) == NULL ||
	    (c.fnext = calloc(m, sizeof(*c.fnext))) == NULL ||
	    (c.parent = calloc(m, sizeof(*c.parent))) == NULL ||
	    (c.queue = calloc(m, sizeof(*c.queue))) == NULL ||
	    (c.seen = calloc(m, sizeof(*c.seen))) == NULL)
		goto oom;
	c.values = out->values;
	for (size_t i = 0; i < n; i++) {
		c.v[i].key = vars[i].key ? vars[i].key : "";
		c.v[i].raw = vars[i].value ? vars[i].value : "";
		c.v[i].index = NONE;
		c.order[i] = i;
	}
	qsort_r(c.order, n, sizeof(*c.order), cmp_order, &c);
	for (size_t i = 0; i < n; i++)
		if (parse(&c, i) < 0)
			goto oom;
	if (lookup_resources(&c, fn, arg) < 0 || walk(&c) < 0 || collect_errors(&c, out) < 0)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (out->values[i] == NULL)
			rc = 1;
	ctx_free(&c);
	return rc;
oom:
	ctx_free(&c);
	resolve_result_free(out, n);
	return -1;
}

void
resolve_result_free(struct resolve_result *res, size_t n)
{
	if (res->values)
		for (size_t i = 0; i < n; i++)
			free(res->values[i]);
	for (size_t i = 0; i < res->nerr; i++) {
		free(res->errs[i].key);
		free(res->errs[i].message);
	}
	free(res->values);
	free(res->errs);
	memset(res, 0, sizeof(*res));
}
