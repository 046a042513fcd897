/*
 * secret.c - sealing of write-only secrets for the request's tenant
 * (see secret.h).
 */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "worker.h"

/* An opened plaintext held by the arena until reset. */
struct opened {
	char  *p;
	size_t len;
};

static void
wipe(void *v)
{
	struct opened *o = v;

	sodium_memzero(o->p, o->len);
	free(o->p);
}

char *
secret_bound_purpose_dup(const char *purpose, const char *binding)
{
	size_t pl = strlen(purpose), bl = strlen(binding);
	char  *out = malloc(pl + 1 + bl + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, purpose, pl);
	out[pl] = ':';
	memcpy(out + pl + 1, binding, bl + 1);
	return out;
}

const char *
secret_bound_purpose(struct req *r, const char *purpose, const char *binding)
{
	char       *p = secret_bound_purpose_dup(purpose, binding);
	const char *out;

	if (p == NULL)
		return NULL;
	out = arena_strdup(r->a, p);
	free(p);
	return out;
}

const char *
secret_seal(struct req *r, const char *purpose, const void *plain, size_t len)
{
	char       *box;
	const char *out;

	if (r->who.tenant_id == NULL || purpose == NULL)
		return NULL;
	if ((box = crypto_seal(&r->w->keys, r->who.tenant_id, purpose, plain, len)) == NULL)
		return NULL;
	out = arena_strdup(r->a, box);
	free(box);
	return out;
}

char *
secret_open(struct req *r, const char *purpose, const char *sealed, size_t *len)
{
	struct opened *o;
	size_t         n;
	char          *plain;

	if (r->who.tenant_id == NULL || purpose == NULL || sealed == NULL ||
	    (plain = crypto_open(&r->w->keys, r->who.tenant_id, purpose, sealed, &n)) == NULL)
		return NULL;
	o = arena_alloc(r->a, sizeof(*o));
	o->p = plain;
	o->len = n;
	arena_defer(r->a, wipe, o);
	if (len != NULL)
		*len = n;
	return plain;
}
