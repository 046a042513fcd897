/*
 * volume.h - the plane's volumes as engine volumes (API.md §8): their
 * names and labels, creating one before a container mounts it, removing
 * one (job kind volume.remove), and measuring them for the plane.
 *
 * CONTRACT WITH THE PLANE
 *  - Engine volume of plane volume <id>: named lnchr-vol-<id>, driver
 *    local, labels launcher.managed=1, launcher.tenant, launcher.project,
 *    launcher.volume=<id>.  A volume of that name without those labels is
 *    never mounted (the deploy fails, naming it) and never removed.
 *  - Mounts: HostConfig.Mounts of Type "volume" (a named volume, never a
 *    host path), ReadOnly for mode "ro" (ctr.c).
 *  - size_limit: asked of the local driver as DriverOpts o=size=<bytes>
 *    when the engine volume is created.  Podman accepts it only where its
 *    volume directory supports project quotas (XFS); elsewhere the create
 *    is refused, the agent creates the volume without a size and the
 *    volume gets a warning saying the limit is not enforced.
 *  - app.* job results carry "volumes": [{"volume_id", "warning"}] for the
 *    mounts the job ensured (warning null when nothing is wrong).
 *  - volume.remove payload {"tenant_id", "project_id", "volume_id", "name"};
 *    result {"removed": bool, "reason"}.  An engine volume still in use
 *    (the app.remove of its last user not done yet) is retried for up to
 *    VOL_BUSY_WAIT_S seconds, then the job fails (and is retried by the
 *    plane).
 *  - POST /agent/volumes {"volumes": [{"volume_id", "used_bytes"}]} every
 *    volumes_interval: sizes from GET /system/df (Volumes[].UsageData.Size,
 *    which Podman fills); volumes the engine does not size (-1) are left
 *    out.
 */
#ifndef LAUNCHER_AGENT_VOLUME_H
#define LAUNCHER_AGENT_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "appspec.h"
#include "xfer.h"

#define VOL_PREFIX       "lnchr-vol-"
#define VOL_NAME_MAX     80
#define VOL_TIMEOUT_MS   30000L
#define VOL_BUSY_WAIT_S  60
#define VOL_WARNING_MAX  700

/* lnchr-vol-<id> into out; 0, or -1 when id is not a plane id or it does not fit. */
int  vol_engine_name(const char *volume_id, char *out, size_t outlen);
/*
 * Whether an engine volume document (GET /volumes/<name>) carries our
 * labels for volume_id (and tenant_id, unless NULL).
 */
bool vol_is_ours(const cJSON *doc, const char *volume_id, const char *tenant_id);
/*
 * Makes sure the engine volume of v exists and is ours before s's
 * containers mount it; creates it (labels of s, size_limit probed) when
 * absent.  warning (wlen) gets "" or why size_limit is not enforced.
 * 0, or -1 (err: e.g. a volume of that name that is not ours).
 */
int  vol_ensure(struct xfer *x, struct arena *a, const struct app_spec *s,
    const struct app_volume *v, char *warning, size_t wlen, char *err, size_t errlen);
/*
 * The volume.remove job: removes the engine volume of the payload only
 * when it carries our labels.  say(ud, line) narrates.  *result gets the
 * result object (caller frees).  0, or -1 (err).
 */
int  vol_remove(struct xfer *x, struct arena *a, const cJSON *payload,
    void (*say)(void *ud, const char *line), void *ud, cJSON **result, char *err, size_t errlen);
/*
 * Sizes of our engine volumes: *items gets [{"volume_id", "used_bytes"}]
 * (caller frees).  0, or -1 (err).
 */
int  vol_usage(struct xfer *x, struct arena *a, long timeout_ms, cJSON **items, char *err,
    size_t errlen);
/*
 * The pure part of vol_usage: from a GET /volumes list and a GET
 * /system/df answer, the items above (caller frees; NULL on OOM).
 */
cJSON *vol_usage_items(const cJSON *list, const cJSON *df);

#endif
