/*
 * buf.c - growable arena buffer with a ceiling (see buf.h).
 */
#include "buf.h"

#include <string.h>

void
buf_init(struct buf *b, struct arena *a, size_t initial, size_t max)
{
	b->a = a;
	b->cap = initial < 64 ? 64 : initial;
	b->data = arena_alloc(a, b->cap);
	b->len = 0;
	b->max = max;
	b->overflow = false;
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (b->len + n + 1 > b->max) {
		b->overflow = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap * 2;
		char  *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		d = arena_alloc(b->a, cap);
		memcpy(d, b->data, b->len);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

bool
buf_ok(const struct buf *b)
{
	return !b->overflow;
}
