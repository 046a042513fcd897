/*
 * engine.h - facts about the local container engine through its
 * Docker-compatible Engine API (Docker, or Podman's compatible service).
 *
 * Every path is prefixed with ENGINE_API so that the engine answers with a
 * stable API version whatever its own default is.
 */
#ifndef LAUNCHER_AGENT_ENGINE_H
#define LAUNCHER_AGENT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "xfer.h"

#define ENGINE_API        "/v1.41"
#define ENGINE_TIMEOUT_MS 5000L
/*
 * GET /version alone waits longer: Podman 4.3 runs `dpkg -S` on each of its
 * helper binaries (runc, conmon, ...) to report their packages, a scan of
 * dpkg's whole database each, which takes seconds on a loaded machine.  Cut
 * at 5 s, the engine looked unreachable at every heartbeat for as long as
 * the load lasted (the server "degraded").  The answer is cached
 * (ENGINE_VERSION_TTL_MS), so the wait is paid once per TTL.
 */
#define ENGINE_VERSION_TIMEOUT_MS 30000L

struct engine_facts {
	bool    reachable;	/* GET /version answered 200 with JSON */
	bool    have_info;	/* the counts below are known (/info, or Podman's lists) */
	char    type[16];	/* "docker" or "podman" */
	char    version[64];
	char    api_version[17];	/* the plane keeps up to 16 bytes */
	char    os[64];
	char    kernel[128];
	int64_t containers, containers_running, images;
};

/* Fills the /version facts (and reachable, type) from its JSON; 0 or -1. */
int    engine_parse_version(const char *json, struct engine_facts *f);
/* Fills the /info counts (and have_info) from its JSON; 0 or -1. */
int    engine_parse_info(const char *json, struct engine_facts *f);
/* The same counts from GET /containers/json?all=1 and /images/json. */
int    engine_parse_lists(const char *containers, const char *images, struct engine_facts *f);
/*
 * Asks the engine; *f is zeroed first.  Returns 0 when reachable, else -1
 * with the reason in err (the engine being down is not an agent error).
 */
int    engine_facts_get(struct xfer *x, struct arena *a, struct engine_facts *f,
    char *err, size_t errlen);
/*
 * Facts for frequent heartbeats.  Podman answers /version in ~400 ms and
 * /info in ~200 ms, too slow to ask every second: /version is asked again
 * every ENGINE_VERSION_TTL_MS (or after the engine was unreachable), with a
 * cheap /_ping in between; /info at most every ENGINE_INFO_TTL_MS.
 */
#define ENGINE_VERSION_TTL_MS 300000
#define ENGINE_INFO_TTL_MS    10000

struct engine_cache {
	struct engine_facts f;
	bool                valid;
	int64_t             version_at, info_at;	/* monotonic ms */
};

/* As engine_facts_get, through the cache; now is monotonic ms. */
int    engine_facts_cached(struct xfer *x, struct arena *a, struct engine_cache *c,
    int64_t now, struct engine_facts *f, char *err, size_t errlen);
/* The heartbeat's "engine" object (caller frees); NULL on OOM. */
cJSON *engine_json(const struct engine_facts *f);
/* GET /_ping; returns 0 when it answers 200 "OK", else -1 with detail. */
int    engine_ping(struct xfer *x, struct arena *a, char *detail, size_t detlen);

#endif
