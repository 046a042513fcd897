/*
 * eventquota.h - the per-project, per-minute event quota of error-tracking
 * ingest (README "Error tracking: ingest"), counted in memory shared by
 * the pool's workers: no database row is touched to count an event.
 *
 * The segment is mapped by the master before the first fork (like
 * planestats.h), from a file both pools map (eventquota_map), and holds two open-addressing tables, both append-only for
 * the life of the master:
 *   - projects: key = a 64-bit hash of the project id; the quota in force
 *     (the project's rate_limit_per_minute as last read from the database)
 *     and one 64-bit word (minute << 32 | count) moved by compare-and-swap,
 *     so counting is one atomic operation on one cache line, without a lock;
 *   - DSNs: key = a hash of (tenant id, DSN id), the project slot it counts
 *     against: learnt from the database's first answer for that DSN, so
 *     that later events are refused over quota without a round trip.  The
 *     tenant is part of the key: a DSN id under another tenant's URL is
 *     never found here (the database answers it 404).
 * The count lives in one host's memory: Launcher's control plane is one
 * host (its API and ingest pools map the same file); a second control-plane
 * host would count its own share.  A full
 * table (more than EVENTQUOTA_PROJECTS projects or EVENTQUOTA_DSNS DSNs
 * seen since the master started) leaves the newcomers uncounted (logged).
 */
#ifndef LAUNCHER_EVENTQUOTA_H
#define LAUNCHER_EVENTQUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define EVENTQUOTA_PROJECTS 16384
#define EVENTQUOTA_DSNS     32768

struct eventquota_project {
	uint64_t key;		/* 0 = free */
	uint64_t window;	/* minute << 32 | events counted in that minute */
	uint32_t limit;		/* events per minute; 0 = ingest off */
	uint32_t pad;
};

struct eventquota_dsn {
	uint64_t key;		/* 0 = free */
	uint32_t project;	/* index + 1 into projects; 0 = not yet set */
	uint32_t pad;
};

struct eventquota {
	struct eventquota_project projects[EVENTQUOTA_PROJECTS];
	struct eventquota_dsn     dsns[EVENTQUOTA_DSNS];
};

/*
 * The shared segment: path's contents (created zeroed, mode 0600, grown to
 * the size of the tables), shared with every process that maps the same
 * file (the API pool, whose PUT sets a quota, and the ingest pool, which
 * counts; README "Error tracking: ingest"); path NULL or "": anonymous,
 * this process and its children only.  NULL (errno set) if it cannot be
 * mapped (no quota kept).
 */
struct eventquota *eventquota_map(const char *path);

/*
 * The project slot of DSN dsn_id under tenant (a UUID string), -1 if the
 * database has not yet answered for that DSN (or q is NULL).
 */
int  eventquota_find(struct eventquota *q, const char *tenant, int64_t dsn_id);
/*
 * Records what the database answered for a DSN: its project and the
 * project's quota; returns the project slot (-1 if a table is full).
 */
int  eventquota_learn(struct eventquota *q, const char *tenant, int64_t dsn_id,
    const char *project, uint32_t limit);
/* Sets a known project's quota (PUT /projects/:id/error-tracking). */
void eventquota_set_limit(struct eventquota *q, const char *project, uint32_t limit);
/*
 * Counts one event of slot's project in the minute of now (Unix seconds)
 * and says whether it is within the quota; if not, *retry_after is the
 * number of seconds until the next minute (1..60) and the event is not
 * counted.  slot < 0: true (uncounted).
 */
bool eventquota_take(struct eventquota *q, int slot, int64_t now, int *retry_after);
/* Gives back an event taken but not stored (a wrong key, an error). */
void eventquota_give_back(struct eventquota *q, int slot, int64_t now);

#endif
