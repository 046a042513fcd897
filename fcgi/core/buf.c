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

char *
buf_reserve(struct buf *b, size_t n)
{
	if (b->overflow)
		return NULL;
	if (b->len + n + 1 > b->max) {
		b->overflow = true;
		return NULL;
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
	return b->data + b->len;
}

void
buf_commit(struct buf *b, char *end)
{
	b->len = (size_t)(end - b->data);
	b->data[b->len] = '\0';
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	char *p = buf_reserve(b, n);

	if (p == NULL)
		return;
	memcpy(p, s, n);
	buf_commit(b, p + n);
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
