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

/* Resolves r->tenant_ref and sets it for RLS; no credentials needed. */
enum err auth_tenant(struct req *r);
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
