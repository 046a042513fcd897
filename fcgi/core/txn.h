/*
 * txn.h - the wrapper around every mutating call (any method but GET and
 * HEAD, whatever the route's kind): one transaction, Idempotency-Key
 * replay, the audit record (both switched off by route flags, router.h),
 * and the response held back until the commit succeeded (so an answer
 * never claims what the database did not keep, and a failed answer keeps
 * nothing).
 */
#ifndef LAUNCHER_TXN_H
#define LAUNCHER_TXN_H

#include "router.h"

/* Runs rt's permission check and handler inside the wrapper. */
enum err txn_run(struct req *r, const struct route *rt);

/*
 * An audit record written by a handler itself: for a read that reveals
 * secrets (GET routes run outside txn_run), which must not answer when
 * this fails.  action "env_var.reveal", resource type and id (id may be
 * NULL), the project perm_project() admitted, detail as JSON text (may be
 * NULL; names what was revealed, never a secret value).
 */
enum err txn_audit(struct req *r, const char *action, const char *type, const char *resource_id,
    const char *detail);

/*
 * The same for a project the handler names itself (project may be NULL):
 * a route without a principal, whose record's actor is "webhook" (a push
 * webhook's deploys and refusals, fcgi/api/webhooks.c).
 */
enum err txn_audit_in(struct req *r, const char *project, const char *action, const char *type,
    const char *resource_id, const char *detail);

#endif
