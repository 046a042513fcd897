/*
 * harness.h - a request without FastCGI for the fuzzers: parameters from a
 * fixed environment, the body given directly, and the response captured
 * (never written), so each parser can be driven with arbitrary bytes.
 */
#ifndef LAUNCHER_FUZZ_HARNESS_H
#define LAUNCHER_FUZZ_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/http.h"
#include "core/worker.h"

struct fuzz_ctx {
	struct config cfg;
	struct worker w;
	FCGX_Request  fr;
	char         *env[8];
};

static struct fuzz_ctx *
fuzz_ctx(void)
{
	static struct fuzz_ctx *c;

	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		config_defaults(&c->cfg);
		c->w.cfg = &c->cfg;
		memset(c->w.keys.ring[0], 7, sizeof(c->w.keys.ring[0]));
		c->w.keys.nring = 1;
		memset(c->w.keys.jwt, 8, sizeof(c->w.keys.jwt));
		memset(c->w.keys.hash, 9, sizeof(c->w.keys.hash));
		arena_init(&c->w.arena, 64 * 1024);
		c->fr.envp = c->env;
	}
	return c;
}

/* A fresh request in capture mode with env ("NAME=value", NULL-ended). */
static void
fuzz_req(struct req *r, char **env)
{
	struct fuzz_ctx *c = fuzz_ctx();
	size_t           i;

	arena_reset(&c->w.arena);
	for (i = 0; env[i] != NULL && i < 7; i++)
		c->env[i] = env[i];
	c->env[i] = NULL;
	memset(r, 0, sizeof(*r));
	r->w = &c->w;
	r->a = &c->w.arena;
	r->fcgi = &c->fr;
	r->capture = true;
	r->request_id = "fuzz";
	r->who.tenant_id = "550e8400-e29b-41d4-a716-446655440000";
	r->path = "/projects";
}

/* Gives the request a body (already "read"). */
static void
fuzz_body(struct req *r, const uint8_t *data, size_t size)
{
	r->body = arena_strndup(r->a, (const char *)data, size);
	r->body_len = size;
	r->body_read = true;
}

#endif
