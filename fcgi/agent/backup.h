/*
 * backup.h - the backup job kinds on the agent's side (API.md §12, README
 * "Backups: the agent's side"): backup.run, backup.restore, backup.delete,
 * db.import, and the "restore" block of db.provision.  Run in the job's
 * child process like the db.* kinds; objects go through the one object
 * store layer (core/objstore.h), the engine through ctr.h.
 *
 * CONTRACT WITH THE PLANE (payloads: sql/035_backups.sql and the claim in fcgi/api/agent.c; the stored
 * payload holds no secret, the claim adds them).
 *   "destination": {"id", "provider", "bucket", "region", "endpoint",
 *       "account_id", "jurisdiction", "path", "url_style"} + "access_key",
 *       "secret_key" (claim); local destinations live under the agent's
 *       backup_local_root/<tenant_id>/<path>.
 *   "database": {"database_id", "type": postgres|mysql|redis, "version",
 *       "db_user", "db_name", "container": "lnchr-db-<database_id>",
 *       "env_names", "port"?} + "password" (claim).
 *   "volume": {"volume_id", "name", "engine_name": "lnchr-vol-<volume_id>"}.
 *
 * backup.run {"backup_id", "tenant_id", "resource_type": database|volume,
 *     "object_key", "format": pg_dump|mariadb-dump|redis-rdb|tar,
 *     "destination", "database"|"volume"}
 *   -> {"size_bytes", "sha256", "verified_at", "object_key"}.
 *   The dump streams from an exec in the database's container (stdout,
 *   frames demultiplexed; stderr kept, bounded, redacted, for the error)
 *   into objstore_put; then the progress line {"phase":"verifying"}, the
 *   agent's backup_verify_delay_ms, and the object is read back
 *   (objstore_get) and its size and sha256 compared with what was sent:
 *   only a match succeeds.  A failed dump aborts the upload (nothing is
 *   left at the key).
 * backup.restore {"backup_id"|null, "tenant_id", "resource_type",
 *     "object_key", "format", "expected_size", "expected_sha256"|null,
 *     "destination", "database"|"volume", "safety": {"backup_id",
 *     "object_key"}|null}
 *   -> {"restored": true, "size_bytes", "sha256", "safety": {"backup_id",
 *      "object_key", "size_bytes", "sha256", "verified_at"}|null}.
 *   The safety backup first (the same code as backup.run, verified), then
 *   the object streams into the engine's client through a hijacked exec
 *   with stdin.  A known checksum is checked BEFORE anything changes: the
 *   object is read once to compare (postgres, mysql, volume), or staged
 *   inside the container (redis); the streaming pass is checked again.
 * backup.delete {"backup_id", "tenant_id", "object_key", "destination"}
 *   -> {"deleted": true} (a missing object is success).
 * db.import {"database", "tenant_id", "upload_id", "size_bytes",
 *     "format": "sql"} -> {"imported_bytes"}: GET
 *   <plane>/<tenant>/api/v1/agent/imports/<job id> (agent token), streamed
 *   into psql / mariadb / redis-cli --pipe; a byte count other than
 *   size_bytes fails the job.
 * db.provision "restore": {backup.restore's fields without "database" and
 *   "safety"}: restored right after readiness (backup_provision_restore);
 *   a failure fails the provision (which removes what it made).
 *
 * Engines (secrets only in the exec's env, never argv):
 *   postgres  pg_dump -Fc / pg_restore --clean --if-exists
 *             --single-transaction --exit-on-error / psql, over the local
 *             socket as db_user (the image's superuser), PGPASSWORD set.
 *   mysql     mariadb-dump --single-transaction --routines --events <db> /
 *             mariadb <db> (mysqldump / mysql where the image has no
 *             mariadb-*), as db_user over the local socket, MYSQL_PWD set.
 *   redis     redis-cli --rdb - (REDISCLI_AUTH).  Restore: the RDB is staged
 *             in the data directory, loaded by a second redis-server on a
 *             loopback port inside the container, and the database takes
 *             it by replication (REPLICAOF, full sync, REPLICAOF NO ONE):
 *             no restart, and an append-only file is rewritten by redis
 *             itself after the sync.
 *   volume    a helper container (busybox, imported by the agent from the
 *             host's static busybox as localhost/launcher/volume-helper)
 *             mounting the volume on /volume, not networked: busybox tar
 *             -c / (restore) empty the volume then tar -x.  A volume that a
 *             running container mounts is not restored.
 */
#ifndef LAUNCHER_AGENT_BACKUP_H
#define LAUNCHER_AGENT_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"

#define BACKUP_HELPER_REPO   "localhost/launcher/volume-helper"
#define BACKUP_VOLUME_MOUNT  "/volume"
#define BACKUP_KEEP_OUTPUT   4096	/* the command's last output bytes kept for errors */
#define BACKUP_PHASE_VERIFY  "{\"phase\":\"verifying\"}"

/* Whether kind is backup.run, backup.restore, backup.delete or db.import. */
bool backup_kind(const char *kind);
/* Runs one of them (in the job's child process): 0 succeeded, -1 failed. */
int  backup_run(struct app_job *j);
/*
 * After a backup.run or backup.restore child was killed (cancelled,
 * deadline, crash): a volume's helper container is removed in a detached
 * process.  (An in-container restore step runs to its end by itself: the
 * engine's exec is not the child's; an unfinished upload is not committed.)
 */
void backup_after_kill(const struct agent_conf *c, const char *kind, const char *job_id,
    const cJSON *payload);
/*
 * db.provision's "restore" block (j->payload's), into the running database
 * container container_id; d is the provision's parsed payload.  Nothing
 * to do (0) without one.  0, or -1 (j->error set).
 */
struct db_spec;
int  backup_provision_restore(struct app_job *j, const struct db_spec *d,
    const char *container_id);

/*
 * The engine side, pure (tests/unit/test_agent_backup.c): the exec argv
 * (*cmd) and env (*env, "K=V" with the secrets) of a database's dump
 * ("dump"), restore ("restore") or import ("import").  type postgres,
 * mysql or redis; password may be NULL.  0, or -1 (err).
 */
int  backup_db_cmd(const char *what, const char *type, const char *user, const char *name,
    const char *password, int port, cJSON **cmd, cJSON **env, char *err, size_t errlen);

#endif
