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

#endif
