/*
 * txn.h - the wrapper around every mutating, authenticated call: one
 * transaction, Idempotency-Key replay, the audit record, and the response
 * held back until the commit succeeded (so an answer never claims what the
 * database did not keep).
 */
#ifndef LAUNCHER_TXN_H
#define LAUNCHER_TXN_H

#include "router.h"

/* Runs rt's permission check and handler inside the wrapper. */
enum err txn_run(struct req *r, const struct route *rt);

/*
 * For a handler that must let other processes see its work before it can
 * answer (exec waits for the agent to run the job it queued): writes the
 * audit record and commits now.  The answer is still held until the
 * handler returns; an Idempotency-Key is not stored for such a call.
 */
enum err txn_commit_early(struct req *r);

/*
 * Answers the error e of a handler that returned without answering (the
 * router's fallback and this wrapper's): the envelope of e (ERR_OK counts
 * as ERR_INTERNAL); a foreign key or check the database refused
 * (db_field) on a field of the request's body is a 400 naming that field.
 */
enum err txn_error(struct req *r, enum err e);

#endif
