/*
 * diag.h - the "diagnostics" job: every check runs and is reported, even
 * when others fail; a failing check is a result, not a job failure.
 *
 * Result: {"checks": [{"name", "status": "ok"|"warn"|"fail", "detail",
 * "value"?}, ...]} with, in order: engine_ping, engine_version,
 * network_isolation (netfw.h), disk_headroom, memory_headroom,
 * dns_resolution, clock_skew, edge_nginx, plane_reachability.
 */
#ifndef LAUNCHER_AGENT_DIAG_H
#define LAUNCHER_AGENT_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "conf.h"
#include "xfer.h"

#define DIAG_COMMAND_TIMEOUT_MS 60000

struct diag_input {
	const struct agent_conf *conf;
	struct xfer             *x;		/* the calling process's own handles */
	bool                     have_plane_time;
	double                   plane_time;	/* the plane's clock in the claim answer */
	double                   claim_received;	/* our wall clock when it arrived */
	int64_t                  claim_rtt_ms;
	/* Called with one line per check as it finishes; may be NULL. */
	void                   (*progress)(void *ud, const char *line);
	void                    *ud;
};

/* Runs every check; returns the result object (caller frees), NULL on OOM. */
cJSON      *diag_run(const struct diag_input *in, struct arena *a);

/* "ok", "warn" or "fail" for a free share (percent) against two floors. */
const char *diag_headroom_status(double free_pct, double warn_below, double fail_below);
/* Agent clock minus plane clock, seconds, the plane's stamp taken at mid-flight. */
double      diag_clock_skew(double plane_time, double received, int64_t rtt_ms);
/* "ok" up to 2 s of skew either way, "warn" up to 30 s, else "fail". */
const char *diag_skew_status(double skew);
/* The host of an http(s) URL (without IPv6 brackets); 0 or -1. */
int         diag_url_host(const char *url, char *host, size_t hostlen);
#endif
