/*
 * s3.h - the S3 API driver behind objstore.h (providers s3, r2, backblaze,
 * minio, custom).  libcurl signs every request (CURLOPT_AWS_SIGV4,
 * "aws:amz:<region>:s3"); we set x-amz-content-sha256 to the hex sha256 of
 * the buffered payload, so the signature covers the body.  Callers use
 * objstore.h; these are its back end and take the same arguments.
 *
 * Error strings: an S3 error document becomes "<Code>: <Message>"; a
 * transport failure "<curl error text>"; never a key or a signed URL.
 */
#ifndef LAUNCHER_S3_H
#define LAUNCHER_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objstore.h"

struct s3_upload;

/* Starts an upload of full_key (the prefix already applied).  NULL + err. */
struct s3_upload *s3_upload_open(const struct objstore_dest *d, const char *full_key,
                                 char *err, size_t errlen);
/* Sends one full part (n <= OBJSTORE_PART) whose hex sha256 is given;
 * the first call starts the multipart upload.  0 / -1 + err. */
int s3_upload_part(struct s3_upload *u, const void *buf, size_t n, const char *sha256_hex,
                   char *err, size_t errlen);
/*
 * Ends the upload and frees u.  commit: the remaining bytes (buf, n: may be
 * 0) are sent as the single PUT when no part went yet, else as the last
 * part, then CompleteMultipartUpload.  !commit (or any failure): an
 * AbortMultipartUpload when a multipart upload was started.  0 / -1 + err.
 */
int s3_upload_close(struct s3_upload *u, bool commit, const void *buf, size_t n,
                    const char *sha256_hex, char *err, size_t errlen);

/* GET full_key into sink (may be NULL); the caller hashes in the sink. */
int s3_get(const struct objstore_dest *d, const char *full_key,
           int (*sink)(void *ud, const void *buf, size_t n), void *ud, char *err, size_t errlen);
/* DELETE full_key; 404 NoSuchKey counts as success.  0 / -1 + err. */
int s3_delete(const struct objstore_dest *d, const char *full_key, char *err, size_t errlen);

/* Creates d's bucket (an existing one of the same owner is fine): tests
 * and tools; the layer never creates buckets on its own.  0 / -1 + err. */
int s3_bucket_create(const struct objstore_dest *d, char *err, size_t errlen);

/*
 * "<Code>: <Message>" from an S3 error document (xml, len bytes) into out;
 * falls back to "HTTP <status>" when the body has no <Code>.  Exposed for
 * the unit test.
 */
void s3_error_text(long status, const char *xml, size_t len, char *out, size_t outlen);

#endif
