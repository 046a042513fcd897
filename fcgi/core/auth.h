/*
 * auth.h - the per-request preamble (tenant + credentials in one round
 * trip) and session issuing.
 *
 * Every function here responds itself on failure (404 unknown tenant,
 * 401 bad credentials, 503 database down) and returns the error.
 */
#ifndef LAUNCHER_AUTH_H
#define LAUNCHER_AUTH_H

#include <libpq-fe.h>

#include "http.h"

struct db_stmt;

/* Resolves r->tenant_ref and sets it for RLS; no credentials needed. */
enum err auth_tenant(struct req *r);
/*
 * The same with st (n params) sent in the same round trip, right after
 * the tenant statement (or alone, when the session already holds the
 * URL's tenant): one implicit transaction, st under the URL's tenant's
 * row-level security; *out its result.  For ROUTE_ONE_STATEMENT routes
 * (router.h), whose tenant gate it runs.  404 for an unknown tenant
 * (after st ran with no tenant: st must then find nothing), 503 when the
 * database is down.  A change of the tenants table answered within the
 * very round trip sends st once more with the tenant statement: st must
 * bear a repetition (Sentry ingest: the same event id twice is one
 * occurrence).
 */
/* The tenant id the session holds for this URL's tenant reference from
 * an earlier request, before any round trip of this one; NULL if none. */
const char *auth_tenant_held(struct req *r);
enum err auth_tenant_with(struct req *r, const struct db_stmt *st, int n, const char **params,
    PGresult **out);
/* Service key (x-lnchr-key) or JWT (Authorization: Bearer); fills r->who. */
enum err auth_authenticate(struct req *r);
/* Agent token (x-lnchr-agent-token); for the agent API. */
enum err auth_agent(struct req *r);

enum role auth_role_parse(const char *s);
const char *auth_role_name(enum role r);

/*
 * Creates a session for the user row `row` of res (user columns) and
 * responds `status` with {token, user}.  Uses its own statement.
 */
enum err auth_issue(struct req *r, int status, PGresult *res, int row);

/* Keyed hash of a presented service key, as stored (bytea hex literal). */
const char *auth_key_hash_hex(struct req *r, const char *purpose, const char *secret);

#endif
