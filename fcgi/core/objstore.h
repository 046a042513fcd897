/*
 * objstore.h - the one layer that reads and writes backup objects: S3-API
 * providers (s3, r2, backblaze, minio, custom) through libcurl's own SigV4
 * signer (s3.c), and `local`, a directory confined under a root.
 *
 * Used by the agent (backup.run/restore/delete/dest_test), launcher-backup
 * (the plane's own database) and, for validation only, the API
 * (objstore_dest_check: no network).  Memory is flat: an upload holds one
 * part buffer (OBJSTORE_PART) at most, a download streams to its sink.
 * Errors are "<Code>: <Message>" for S3 answers and a short sentence
 * otherwise; they never carry a key, a secret or a signed URL.
 */
#ifndef LAUNCHER_OBJSTORE_H
#define LAUNCHER_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Part size of multipart uploads, and the largest object sent in one PUT. */
#define OBJSTORE_PART ((size_t)8 * 1024 * 1024)

struct objstore_dest {          /* borrowed strings; from objstore_dest_from_json */
	const char *provider;       /* s3 r2 backblaze minio custom local */
	const char *bucket, *region, *endpoint, *account_id, *jurisdiction, *path;
	const char *access_key, *secret_key;
	bool        path_style;     /* url_style "path" (default for minio/custom) or "virtual" */
	const char *ca_file;        /* extra CA for https endpoints, NULL = system */
	char        local_dir[4096];/* local: <local_root>/<tenant_id>/<path>, resolved */
};

/*
 * dest = the payload's "destination" object (provider, bucket,
 * region, endpoint, account_id, jurisdiction, path, url_style, access_key,
 * secret_key; "ca_file" optional); local_root = the agent's
 * backup_local_root (or launcher-backup's own); tenant_id for local.
 * The strings stay owned by dest.  Derives the endpoint (see
 * objstore_dest_check) and region ("auto" for r2, "us-east-1" when none).
 * local: the directory <local_root>/<tenant_id>/<path> is created (0700)
 * if missing and must stay under the root.  0, or -1 with err set.
 */
int  objstore_dest_from_json(const cJSON *dest, const char *local_root, const char *tenant_id,
                             struct objstore_dest *d, char *err, size_t errlen);

/*
 * Endpoint URL derivation per provider (r2: https://<account_id>[.<jurisdiction>].r2.cloudflarestorage.com,
 * region "auto"; backblaze: https://s3.<region>.backblazeb2.com; s3: https://s3.<region>.amazonaws.com;
 * minio/custom: endpoint required).  Also used by the API's validation:
 * NULL when fine, else the field name that is wrong/missing and a message
 * (static strings).  No network.
 */
const char *objstore_dest_check(const cJSON *body, const char **message);

/*
 * The endpoint URL of d (no trailing slash) into out: the given endpoint,
 * else derived from the provider.  0, or -1 (none derivable / too long).
 */
int objstore_endpoint(const struct objstore_dest *d, char *out, size_t outlen);

/*
 * The object's full key: d->path (a prefix, slashes trimmed) "/" key.
 * Keys (and the prefix) must be relative, without "..", NUL or control
 * characters.  0, or -1 (bad key / too long).
 */
int objstore_full_key(const struct objstore_dest *d, const char *key, char *out, size_t outlen);

/*
 * Streaming upload: a single PUT if it ends within one part, multipart
 * (OBJSTORE_PART) otherwise; local: <dir>/<key>.part, fsync, rename on
 * commit.  open returns NULL with err set.  write: 0 / -1 (the error is
 * kept and reported by close).  close always frees p; commit=false aborts
 * (AbortMultipartUpload / unlink).  size, sha256 of what was sent (either
 * may be NULL).
 */
struct objstore_put;
struct objstore_put *objstore_put_open(const struct objstore_dest *d, const char *key,
                                       char *err, size_t errlen);
int  objstore_put_write(struct objstore_put *p, const void *buf, size_t n);   /* 0 / -1 */
int  objstore_put_close(struct objstore_put *p, bool commit, uint64_t *size, char sha256_hex[65],
                        char *err, size_t errlen);

/* Streams the object to sink (NULL = discard) computing size and sha256 on the way. */
typedef int (*objstore_sink)(void *ud, const void *buf, size_t n);  /* non-zero aborts */
int  objstore_get(const struct objstore_dest *d, const char *key, objstore_sink sink, void *ud,
                  uint64_t *size, char sha256_hex[65], char *err, size_t errlen);

/* Deletes the object; a missing object is success (idempotent).  0 / -1. */
int  objstore_delete(const struct objstore_dest *d, const char *key, char *err, size_t errlen);

/*
 * The destination test: write a probe object, read it back (compare), delete it.
 * Returns a cJSON object {"ok": bool, "steps": [{"step": "write"|"read"|"delete",
 * "ok": bool, "ms": n, "error": "InvalidAccessKeyId: ..." or null}]} (later steps are
 * skipped = absent after a failed one).  Caller frees (cJSON_Delete); NULL
 * only when out of memory.
 */
cJSON *objstore_test(const struct objstore_dest *d);

/*
 * objstore_dest_from_json + objstore_test: the result of the job kind
 * backup.dest_test.  A destination that cannot be used at all (no
 * credentials, local root missing) is a failed "write" step with that
 * error, so the caller always has a test result to report.
 */
cJSON *objstore_test_json(const cJSON *dest, const char *local_root, const char *tenant_id);

#endif
