/*
 * arena.c - the per-request memory pool (see arena.h for the contract).
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t              size;
	size_t              used;
	max_align_t         data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	arena_cleanup_fn      fn;
	void                 *p;
};

static struct arena_block *
block_new(size_t size)
{
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (b == NULL)
		abort();
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

void
arena_init(struct arena *a, size_t block_size)
{
	a->block_size = block_size < 1024 ? 1024 : block_size;
	a->blocks = block_new(a->block_size);
	a->cleanups = NULL;
	a->total = 0;
}

static void
run_cleanups(struct arena *a)
{
	struct arena_cleanup *c = a->cleanups;

	/* The list is LIFO already: the last registered runs first. */
	while (c != NULL) {
		c->fn(c->p);
		c = c->next;
	}
	a->cleanups = NULL;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	run_cleanups(a);
	/* Keep the first block of the default size; free the rest. */
	for (b = a->blocks; b->next != NULL; b = next) {
		next = b->next;
		free(b);
		a->blocks = next;
	}
	if (a->blocks->size != a->block_size) {
		free(a->blocks);
		a->blocks = block_new(a->block_size);
	}
	a->blocks->used = 0;
	a->total = 0;
}

void
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	run_cleanups(a);
	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->blocks = NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t        align = sizeof(max_align_t);
	struct arena_block *b = a->blocks;
	size_t              need = (n + align - 1) & ~(align - 1);
	void               *p;

	if (need < n)
		abort();
	if (b->size - b->used < need) {
		b = block_new(need > a->block_size ? need : a->block_size);
		b->next = a->blocks;
		a->blocks = b;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	a->total += need;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	char    small[256];
	va_list ap;
	int     n;
	char   *p;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	p = arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(small)) {
		memcpy(p, small, (size_t)n + 1);
		return p;
	}
	va_start(ap, fmt);
	n = vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return p;
}

void *
arena_defer(struct arena *a, arena_cleanup_fn fn, void *p)
{
	struct arena_cleanup *c;

	if (p == NULL)
		return NULL;
	c = arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
	return p;
}
