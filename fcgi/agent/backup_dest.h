/*
 * backup_dest.h - the agent's side of backup destinations: where `local`
 * destinations live, and the job kind backup.dest_test.
 */
#ifndef LAUNCHER_AGENT_BACKUP_DEST_H
#define LAUNCHER_AGENT_BACKUP_DEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "conf.h"

/*
 * The root of local destinations into buf: backup_local_root, or
 * <state_dir>/backups when that is empty.  The one place that resolves it
 * (every backup kind passes it to objstore_dest_from_json).  0 or -1 (too long).
 */
int backup_local_root_path(const struct agent_conf *conf, char *buf, size_t n);

/*
 * backup.dest_test: payload {"destination": {... + access_key, secret_key},
 * "tenant_id"}.  *result = objstore_test's object {"ok", "steps": [...]};
 * returns 0 even when the test says ok=false (the job reports the test, it
 * did not fail), -1 only when no result could be made (err set).
 */
int backup_dest_test(const struct agent_conf *conf, const cJSON *payload, cJSON **result,
    char *err, size_t errlen);

#endif
