/*
 * arena.h - per-request memory pool with cleanup hooks.
 *
 * Everything a request allocates comes from one arena that is reset after
 * FCGX_Finish_r.  Cleanup hooks (PQclear, cJSON_Delete, ...) run in reverse
 * order of registration on reset.  Allocation failure aborts the process:
 * a worker that cannot get memory is replaced by the master, which is the
 * only safe recovery in a pre-forked pool.
 */
#ifndef LAUNCHER_ARENA_H
#define LAUNCHER_ARENA_H

#include <stddef.h>

typedef void (*arena_cleanup_fn)(void *);

struct arena_block;
struct arena_cleanup;

struct arena {
	struct arena_block   *blocks;
	struct arena_cleanup *cleanups;
	size_t                block_size;
	size_t                total;	/* bytes handed out since last reset */
};

void  arena_init(struct arena *a, size_t block_size);
/* Runs cleanups, frees all but the first block. */
void  arena_reset(struct arena *a);
void  arena_free(struct arena *a);
/* Returns zeroed memory aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* printf into the arena; never NULL. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Registers fn(p) to run at reset; returns p for chaining. */
void *arena_defer(struct arena *a, arena_cleanup_fn fn, void *p);

#endif
