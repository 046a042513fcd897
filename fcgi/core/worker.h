/*
 * worker.h - the process-lifetime state of one worker: config, database
 * connection, request arena, derived keys and the database image table.  Nothing else is global and
 * mutable in a worker.
 */
#ifndef LAUNCHER_WORKER_H
#define LAUNCHER_WORKER_H

#include <signal.h>

#include "arena.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "dbimages.h"
#include "eventquota.h"
#include "imagemap.h"
#include "planestats.h"

struct worker {
	const struct config *cfg;
	/* database_images_file, read by the master (fail at start, not here) */
	const struct dbimages *dbimages;
	/* image_mirrors_file, likewise (imagemap_resolve at a job's claim) */
	const struct imagemap *imagemap;
	struct db            db;
	struct arena         arena;
	struct crypto_keys   keys;
	int                  listen_fd;
	/* The pool's shared figures (planestats.h; NULL outside the pool or
	 * if the master could not map them) and this worker's slot there. */
	struct planestats   *stats;
	int                  stats_slot;
	/* The ingest quota's counters (eventquota.h), shared like stats. */
	struct eventquota   *quota;
};

#endif
