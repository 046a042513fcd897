/*
 * db.h - the managed database job kinds: db.provision, db.start, db.stop,
 * db.restart, db.remove, db.rotate_password (API.md §5).  Run in the job's
 * child process like the app.* kinds, through the same engine client,
 * container create (ctr.h), volumes (volume.h) and images (image.h).
 *
 * CONTRACT WITH THE PLANE (it creates these jobs and reads their results).
 *
 * Payload (stored, no secrets): {"database_id", "tenant_id", "project_id",
 * "name"?, "type": postgres|mysql|redis|mongodb|clickhouse, "version"?, "image",
 * "port", "data_path", "readiness": [argv...], "env_names": {"user",
 * "password", "database"} (each a variable name or null), "db_user",
 * "db_name", "internal_host", "network"? (must be lnchr-net-<project_id>),
 * "volume"? (must be lnchr-vol-<volume_id>), "volume_id", "public",
 * "cpu_limit", "memory_limit", "restart_policy"? (default always, as apps),
 * "readiness_timeout_seconds"? (default 180), "delete_data" (remove)}.
 * The claim adds "password" (the current one) and, for rotate_password,
 * "new_password".  Passwords are 16..128 bytes of [A-Za-z0-9._~-]: they go
 * into SQL literals and redis arguments inside the engine.
 *
 * The container is built from the payload alone (the same path for every
 * type): named lnchr-db-<database_id>, labels launcher.managed=1,
 * launcher.tenant, launcher.project, launcher.database (nothing secret);
 * the credentials in its env under env_names (never argv); the data volume
 * lnchr-vol-<volume_id> (volume.h) mounted on data_path; on the project
 * network (ctr.h) with the alias internal_host; port published on the
 * agent's database_host_ip (engine-picked host port) only when public;
 * memory and CPU limits; the restart policy.
 *
 * Readiness: the readiness argv through the engine's exec API, with the
 * env_names variables set to the current credentials in the exec's env
 * (the container's own env keeps the password it was created with), until
 * it exits 0 or readiness_timeout_seconds pass, or the container exits.
 *
 * Results:
 *   db.provision, db.start, db.restart  {"status": "running", "container_id",
 *                                        "public_port": int|null}
 *   db.stop                             {"status": "stopped", "container_id"}
 *   db.remove                           {"container_removed", "volume_removed"}
 *   db.rotate_password                  {"rotated": true}
 * A failure's error holds the reason and the container's last log lines,
 * with both passwords redacted.  A failed (or killed, or cancelled)
 * db.provision removes what it made: the container and the data volume
 * (only when it carries our labels); the project network stays.  db.start
 * re-creates a container that is gone (the volume keeps the data).
 * db.remove removes the volume only with delete_data and only when it
 * carries our labels.
 *
 * Rotation runs inside the running engine (no restart), secrets in the
 * exec's env only: postgres ALTER USER CURRENT_USER PASSWORD through psql;
 * mysql SET PASSWORD (MariaDB) or ALTER USER CURRENT_USER() (MySQL 8)
 * through the mysql/mariadb client; redis CONFIG SET requirepass + CONFIG
 * REWRITE (refused before any change when redis runs without a config
 * file); mongodb changeUserPassword through mongosh; clickhouse rewrites
 * its users file with the image's launcher-clickhouse-users (the password
 * on stdin; refused before any change without it) and waits until the
 * server took it.  The new password is then tried (postgres, mysql, redis,
 * clickhouse).
 */
#ifndef LAUNCHER_AGENT_DB_H
#define LAUNCHER_AGENT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "appspec.h"
#include "conf.h"

#define DB_NAME_PREFIX        "lnchr-db-"
#define DB_PASSWORD_MIN       16
#define DB_PASSWORD_MAX       128
#define DB_READY_DEFAULT_S    180
#define DB_EXEC_TIMEOUT_MS    15000L

/* A parsed payload; strings point into the payload (which must outlive it). */
struct db_spec {
	char         database_id[APP_ID_MAX], tenant_id[APP_ID_MAX], project_id[APP_ID_MAX];
	char         volume_id[APP_ID_MAX];		/* "" = none given */
	const char  *name, *type, *image, *data_path, *internal_host, *db_user, *db_name;
	const char  *env_user, *env_password, *env_database;	/* NULL = not passed */
	const char  *restart_policy;
	const cJSON *readiness;				/* array of strings */
	int          port;
	int          ready_timeout_s;
	bool         is_public, delete_data;
	double       cpu_limit;
	int64_t      memory_limit;
	const char  *password, *new_password;		/* from the claim; NULL = absent */
};

/* Whether kind is one of the db.* kinds. */
bool db_kind(const char *kind);
/* Runs one db.* job (in the job's child process): 0 succeeded, -1 failed. */
int  db_run(struct app_job *j);
/*
 * After a db.provision child was killed (cancelled, deadline, crash): its
 * container and volume are removed in a detached process.
 */
void db_after_kill(const struct agent_conf *c, const char *kind, const char *job_id,
    const cJSON *payload);

/* The pure parts (tests/unit/test_agent_db.c). */
int    db_spec_parse(const cJSON *p, const char *kind, struct db_spec *d, char *err,
    size_t errlen);
/* lnchr-db-<database_id>; 0 or -1. */
int    db_container_name(const char *database_id, char *out, size_t outlen);
/*
 * The container of d as an app_spec for ctr_create_body/ctr_create; *env
 * gets the credentials object s->env points to (caller frees it after s).
 * host_ip: where a public port is published.  0 or -1 (OOM).
 */
int    db_container_spec(const struct db_spec *d, const char *host_ip, struct app_spec *s,
    cJSON **env);
/* Appends "k=v" to the env array arr (nothing when k or v is NULL); the temporary copy is wiped. */
void   db_env_add(cJSON *arr, const char *k, const char *v);
/* Frees an env array, zeroing its strings first (they hold credentials). */
void   db_env_free(cJSON *arr);
/* The exec env ["NAME=value"...] of the env_names with the current (or new) credentials. */
cJSON *db_client_env(const struct db_spec *d, bool with_new_password);
/*
 * The rotation: *cmd (argv, no secret in it) and *env (the exec's env,
 * holding both passwords) for d's type.  0, or -1 (err).
 */
int    db_rotate_cmd(const struct db_spec *d, cJSON **cmd, cJSON **env, char *err,
    size_t errlen);

#endif
