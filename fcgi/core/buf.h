/*
 * buf.h - a growable byte buffer in the request arena, with a ceiling.
 *
 * Appends never fail silently: past the ceiling the buffer is marked
 * overflowed and further appends are ignored; the caller checks
 * buf_ok() once at the end.
 */
#ifndef LAUNCHER_BUF_H
#define LAUNCHER_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

struct buf {
	struct arena *a;
	char         *data;
	size_t        len, cap, max;
	bool          overflow;
};

void buf_init(struct buf *b, struct arena *a, size_t initial, size_t max);
void buf_add(struct buf *b, const char *s, size_t n);
/*
 * Room for n more bytes (and the terminating NUL) at b->data + b->len, for
 * a writer that fills it directly and then calls buf_commit with what it
 * wrote (at most n).  NULL once overflowed.
 */
char *buf_reserve(struct buf *b, size_t n);
void  buf_commit(struct buf *b, char *end);
void buf_adds(struct buf *b, const char *s);
bool buf_ok(const struct buf *b);

#endif
