/*
 * bucketstore.h - the object-store driver behind buckets (API.md §6): one
 * interface, two implementations, everything above it the same code.
 *
 *   rgw    Ceph RADOS Gateway admin ops (/admin/user, /admin/user?key,
 *          /admin/bucket): the tests' store (tests/lib/radosgw.sh) and
 *          sites that run Ceph.  Each bucket has its own RGW user
 *          "lnchr-<name>" (max-buckets 1) that owns it: the bucket is
 *          created by an S3 PUT signed with that user's key, so radosgw
 *          itself refuses any other key (AccessDenied).
 *   minio  MinIO admin API (/minio/admin/v4/...): a canned policy named
 *          after the bucket allowing arn:aws:s3:::<name> and <name>/(any key), a
 *          parent user "<name>" with that policy attached, and one service
 *          account (access key) per key we hand out; request bodies are
 *          encrypted the madmin way (madmin-go encrypt.go: salt | id |
 *          nonce | sio-go DARE stream; we send id 0x02, PBKDF2-SHA256
 *          8192 rounds + AES-256-GCM, which every MinIO server's
 *          DecryptData reads).
 *
 * Every request is signed by libcurl (core/s3.c s3_request) with the admin
 * keys, or the bucket principal's own key where S3 wants the owner (rgw:
 * bucket create, bucket policy).  Errors are "<Code>: <message>" or a short
 * sentence; never a key, a secret or a signed URL.
 *
 * Bucket names are given as stored (sql/053's bucket_name: lnchr-<12 hex>-<name>, S3
 * rules): 3..63 of [a-z0-9.-]; anything else is refused before any request.
 */
#ifndef LAUNCHER_BUCKETSTORE_H
#define LAUNCHER_BUCKETSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bstore {                     /* borrowed strings */
	const char *driver;             /* "rgw" | "minio" */
	const char *admin_endpoint;     /* http(s)://host:port the agent reaches (admin + S3) */
	const char *region;             /* "us-east-1" when NULL */
	const char *admin_access_key, *admin_secret_key;
	const char *ca_file;            /* NULL = system CAs */
};
struct bstore_key { char access_key[64]; char secret_key[128]; };

/* Creates bucket `name` and a principal allowed that bucket and nothing else
 * (rgw: a user "lnchr-<name>" owning the bucket; minio: a user + a canned
 * policy on arn:aws:s3:::<name> and <name>/(any key)), and its first key.  Idempotent
 * for the same name (an existing bucket of that principal is fine; key_out then
 * gets a NEW key).  0 / -1 + err (err never carries a secret). */
int bstore_bucket_create(const struct bstore *s, const char *name, struct bstore_key *key_out,
                         char *err, size_t errlen);
/* A new key for the bucket's principal (rotation).  0 / -1 + err. */
int bstore_key_add(const struct bstore *s, const char *name, struct bstore_key *out, char *err, size_t errlen);
/* Revokes one key of the bucket's principal; an unknown key is success.
 * rgw: a key of another user is left alone (success, nothing changed);
 * minio: the service account is deleted (the plane only passes keys it
 * recorded for this bucket).  0 / -1. */
int bstore_key_revoke(const struct bstore *s, const char *name, const char *access_key, char *err, size_t errlen);
/* Deletes the bucket and its principal.  !force and not empty: returns 1
 * (BucketNotEmpty), changes nothing.  force: deletes every object first.
 * A bucket already gone is success.  0 / 1 / -1. */
int bstore_bucket_delete(const struct bstore *s, const char *name, bool force, char *err, size_t errlen);
/* Anonymous read-only (GetObject) on the bucket or not (bucket policy). 0 / -1. */
int bstore_bucket_public(const struct bstore *s, const char *name, bool public, char *err, size_t errlen);
/* Usage: object count and bytes (admin API). 0 / -1. */
int bstore_bucket_usage(const struct bstore *s, const char *name, uint64_t *objects, uint64_t *bytes,
                        char *err, size_t errlen);

/* Whether name is a bucket name S3 allows (3..63 of [a-z0-9.-], starting
 * and ending with a letter or digit, no "..", not IP-shaped). */
bool bstore_name_ok(const char *name);

/*
 * The madmin request body encryption (exposed for the contract test):
 * salt(32) | 0x02 | nonce(8) | sio-go stream of plain under
 * PBKDF2-SHA256(password, salt, 8192) with AES-256-GCM.  *out malloc'd
 * (caller frees).  0 / -1.
 */
int bstore_madmin_encrypt(const char *password, const void *plain, size_t n,
                          unsigned char **out, size_t *outlen);
/*
 * madmin DecryptData: an answer of the admin API encrypted with password
 * (ids 0x00 argon2id + AES-GCM, 0x01 argon2id + ChaCha20-Poly1305, 0x02
 * PBKDF2 + AES-GCM).  *out malloc'd, NUL-terminated.  0 / -1 (tampered,
 * wrong password, unknown id).
 */
int bstore_madmin_decrypt(const char *password, const unsigned char *in, size_t n, char **out,
                          size_t *outlen);
/*
 * The sio-go stream (DARE 2.0 as secure-io/sio-go writes it) with AES-GCM
 * (key of 16 or 32 bytes), fragments of bufsize bytes: checked against
 * sio-go's published vectors.  *out malloc'd.  0 / -1.
 */
int bstore_sio_seal(const unsigned char *key, size_t keylen, const unsigned char nonce[8],
                    const unsigned char *ad, size_t adlen, size_t bufsize,
                    const unsigned char *plain, size_t n, unsigned char **out, size_t *outlen);

#endif
