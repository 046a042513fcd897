/*
 * pitr.h - PostgreSQL point-in-time recovery with pgBackRest (the agent's
 * side of README "Point-in-time recovery (PostgreSQL)"): the repository
 * of a database, the settings of its container, its base backups, its
 * recovery window and the restore in a one-off container.  The db.* job
 * kinds that use it are db.c's (db.pitr_backup, db.pitr_info,
 * db.pitr_restore; db.provision with "pitr" or "pitr_restore").
 *
 * CONTRACT WITH THE PLANE (sql/037_pitr.sql).  A payload's "pitr" (the
 * database archives) and "pitr_restore": {"target_time", "source": <a
 * "pitr" object of the database whose repository is read>} are
 *   {"stanza": "db", "repo_path": "launcher/pitr/<database id>",
 *    "archive_timeout": seconds, "destination": {"provider", "bucket",
 *    "region", "endpoint", "account_id", "jurisdiction", "path",
 *    "url_style", "access_key"?, "secret_key"? (the claim's)}}.
 * A local destination's repository is the directory <the destination's
 * directory, as objstore resolves it under backup_local_root_path>/<repo_path>,
 * made here (0750) and bind-mounted on PITR_REPO_MOUNT; an S3 one is
 * repo1-type=s3 at /<objstore_full_key of repo_path>, on the host and port
 * of objstore_endpoint (https only).  Every pgBackRest option is a PGBACKREST_*
 * variable of the container's env (the S3 keys too): none is in an argv.
 *
 * Results carry {"pitr": {"earliest", "latest", "backup_type"?,
 * "backup_at"?}} (RFC 3339): earliest = the oldest base backup's stop
 * time, latest = pg_stat_archiver.last_archived_time.
 */
#ifndef LAUNCHER_AGENT_PITR_H
#define LAUNCHER_AGENT_PITR_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/objstore.h"
#include "appspec.h"
#include "image.h"
#include "xfer.h"

#define PITR_REPO_MOUNT      "/var/lib/pgbackrest"
#define PITR_RETENTION_FULL  "2"		/* full backups kept (and their WAL) */
#define PITR_EXEC_TIMEOUT_MS (6L * 3600 * 1000)	/* a base backup: the job's deadline */
#define PITR_OUT_MAX         65536		/* info --output=json of ~30 backups */

/*
 * A parsed "pitr" object; strings point into it.  The destination is the
 * object store layer's (objstore_dest_from_json: its path checked, a local
 * one resolved and confined under the root, the region and URL style of
 * the provider); pitr adds what is pgBackRest's: the stanza, repo_path
 * below the destination and archive_timeout.
 */
struct pitr_repo {
	struct objstore_dest dest;
	const char *stanza, *repo_path;
	int         archive_timeout;
	bool        local;
	char        repo_dir[4096];	/* local: <dest.local_dir>/<repo_path> */
};

/*
 * Parses p for tenant_id; local_root: backup_local_root_path's (the root
 * of local destinations).  0 or -1 (err).
 */
int    pitr_repo_parse(const cJSON *p, const char *local_root, const char *tenant_id,
    struct pitr_repo *r, char *err, size_t errlen);
/*
 * Adds to env (an object) the PGBACKREST_* variables of r for a cluster in
 * data_path whose superuser is db_user, and with archive LNCHR_PITR=1 and
 * LNCHR_ARCHIVE_TIMEOUT (the image's entrypoint then archives); sets s's
 * bind mount for a local repository.  0 or -1 (err).
 */
int    pitr_container_env(const struct pitr_repo *r, const char *db_user, const char *data_path,
    bool archive, cJSON *env, struct app_spec *s, char *err, size_t errlen);
/* Makes a local repository's directory (and its parents).  0 or -1 (err). */
int    pitr_repo_dir(const struct pitr_repo *r, char *err, size_t errlen);
/*
 * From `pgbackrest info --output=json` (text) and the archiver's epoch
 * (0 = never archived): {"earliest", "latest", "backup_type", "backup_at"}
 * of the stanza's backups (newest's type and stop); NULL when the text is
 * not pgBackRest's answer (err).  Caller frees.
 */
cJSON *pitr_window_parse(const char *info_json, double archived, char *err, size_t errlen);

/*
 * In the running container id: stanza-create, then a base backup of
 * backup_type (full|diff|incr) when not NULL, then the window.  *pitr gets
 * the result's "pitr" object.  0, or -1 (err: pgBackRest's words).
 */
int    pitr_backup(struct xfer *x, struct arena *a, const struct app_io *io, const char *id,
    const char *backup_type, cJSON **pitr, char *err, size_t errlen);
/*
 * The one-off restore: a container of image_id named name on s's data
 * volume with src's repository, restoring to target_time (the image's
 * LNCHR_PITR_TARGET mode; in_place: --delta and archiving on, else
 * --archive-mode=off), waited for and removed.  s: the database's
 * container (its volume, limits, labels).  0, or -1 (err with its last
 * log lines).
 */
int    pitr_restore_run(struct xfer *x, struct arena *a, const struct app_io *io,
    const struct app_spec *s, const char *image_id, const char *name,
    const struct pitr_repo *src, const char *db_user, const char *data_path,
    const char *target_time, bool in_place, char *err, size_t errlen);

#endif
