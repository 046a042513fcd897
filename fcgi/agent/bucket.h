/*
 * bucket.h - the bucket job kinds (API.md §6, sql/053_buckets.sql): bucket.create,
 * bucket.rotate, bucket.revoke, bucket.delete, bucket.public,
 * bucket.objects through the object-store driver (core/bucketstore.h),
 * and objstore.provision, the managed store's container.
 *
 * CONTRACT WITH THE PLANE (it creates these jobs and reads their results).
 *
 * Payload (all bucket.*): {"store": {"driver": "rgw"|"minio",
 * "admin_endpoint", "region"?, "admin_access_key", "admin_secret_key"
 * (opened into the payload by the claim, never stored), "ca_file"?},
 * "bucket_name": "..." (as stored: S3 rules)}, plus:
 *   bucket.create   {"public"?: bool}        -> {"access_key", "secret_key"}
 *   bucket.rotate                             -> {"access_key", "secret_key"}
 *   bucket.revoke   {"access_key"}            -> {}
 *   bucket.delete   {"force"?: bool}          -> {}; not empty and !force:
 *       failed with result {"error": {"code": "CONFLICT", "message":
 *       "bucket is not empty", "status": 409}}
 *   bucket.public   {"public": bool}          -> {}
 *   bucket.objects  {"access_key", "secret_key" (the bucket's, from the
 *       claim), "prefix"?, "start_after"?, "limit"? (1..1000, default 100)}
 *       -> {"objects": [{"key", "size", "etag", "last_modified"}],
 *           "truncated": bool}; listed with the bucket's own key.
 *
 * objstore.provision: {"store_id", "image" (mapped at claim), "root_user",
 * "root_password" (the claim's, 8..128 characters), "port"? (default
 * 9000), "volume_id" (the data volume lnchr-vol-<volume_id>; or "volume":
 * lnchr-vol-<id> or the id), "data_path"?
 * (default /data), "start_command"? (through /bin/sh -c; default "exec
 * minio server <data_path> --address :<port>"), "health_path"? (default
 * /minio/health/live: 200 within OBJSTORE_READY_S)} -> {"endpoint":
 * "http://<database_host_ip or 127.0.0.1>:<published port>",
 * "container_id"}.  The
 * container lnchr-objstore-<store_id> is made like a managed database's
 * (db.c: image, labelled volume, engine-picked published port, restart
 * always) with MINIO_ROOT_USER / MINIO_ROOT_PASSWORD in its env (never
 * argv); an existing one is started and reported.  A failed provision
 * removes the container it made.  Its label launcher.objstore (the store's
 * id) has the instance report (report.c) send it like a database's
 * container, as "objstore_id": the plane marks a stopped or self-restarted
 * store's container `crashed` (sql/062 objstore_instances).
 *
 * Errors never hold a secret: the driver's are "<Code>: <message>";
 * engine messages are redacted of the root password.
 */
#ifndef LAUNCHER_AGENT_BUCKET_H
#define LAUNCHER_AGENT_BUCKET_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/bucketstore.h"
#include "app.h"
#include "conf.h"

#define BUCKET_LIST_DEFAULT 100
#define OBJSTORE_NAME_PREFIX "lnchr-objstore-"

/* Whether kind is one of the bucket.* kinds (objstore.provision is not). */
bool bucket_kind(const char *kind);
/*
 * Runs one bucket.* job: *result set on success (and, for a refused
 * delete, on failure); 0 succeeded, -1 failed (err set).  A public
 * bucket's edge site (edge_render_bucket: payload hostname + store
 * endpoint) follows its public flag in bucket.create and bucket.public;
 * bucket.delete removes it.
 */
int  bucket_run(const struct agent_conf *c, const char *kind, const cJSON *payload, cJSON **result, char *err, size_t errlen);

/* The payload's store and bucket name (strings borrowed from p).  0, or -1 + err. */
int  bucket_store_parse(const cJSON *p, struct bstore *s, const char **name, char *err,
    size_t errlen);

/* objstore.provision (in the job's child, like db.provision). */
int  objstore_provision_run(struct app_job *j);

#endif
