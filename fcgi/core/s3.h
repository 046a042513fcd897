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
#include <time.h>

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

/* ------------------------------------------------------------------ SigV4
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4).  Presigned URLs need
 * query signing, which libcurl does not do: that one function is ours,
 * with the SigV4 core below it, tested against every vector of AWS's
 * aws-sig-v4-test-suite and AWS's presigned-URL example
 * (tests/unit/test_s3sign.c).
 */
struct s3_sig_param { const char *name, *value; };   /* a query pair or a header */
enum s3_sig_path {
	S3_SIG_PATH_RAW,        /* encode the path (S3: no normalization) */
	S3_SIG_PATH_NORMALIZE,  /* other services: ".", ".." and "//" removed, then encoded */
	S3_SIG_PATH_ENCODED     /* the path is already encoded: as is */
};

/*
 * The canonical request: method, path (raw unless mode says encoded), the
 * query pairs (raw: encoded here, sorted by name then value), the headers
 * (names lowercased and sorted, values trimmed and their space runs
 * collapsed, a repeated name joined with ','), the payload hash (hex or
 * "UNSIGNED-PAYLOAD").  signed_headers gets "host;x-amz-date...".
 * At most 64 pairs and 32 headers.  0, or -1 (too long / too many).
 */
int s3_sigv4_canonical_request(const char *method, const char *path, const struct s3_sig_param *q,
                               size_t nq, const struct s3_sig_param *h, size_t nh,
                               const char *payload_hash, enum s3_sig_path mode, char *out,
                               size_t outlen, char *signed_headers, size_t shlen);
/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of creq>".  0 / -1. */
int s3_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
                            char *out, size_t outlen);
/* The hex signature of sts with the key derived from secret, date8
 * ("YYYYMMDD"), region and service.  0 / -1. */
int s3_sigv4_signature(const char *secret, const char *date8, const char *region,
                       const char *service, const char *sts, char hex[65]);

/*
 * SigV4 query presigning (X-Amz-Algorithm=AWS4-HMAC-SHA256, payload
 * UNSIGNED-PAYLOAD, X-Amz-SignedHeaders=host).  endpoint
 * "http(s)://host[:port][/base]"; path style <endpoint>/<bucket>/<key>
 * (bucket NULL or "": the endpoint already addresses the bucket, virtual
 * host); the key is percent-encoded, its '/' kept.  method "GET" | "PUT",
 * expires 1..604800 s, now = unix time (callers pass time(NULL), tests a
 * fixed one), region "us-east-1" when NULL.  out: the URL.  0 / -1.
 */
int s3_presign(const char *method, const char *endpoint, const char *region, const char *bucket,
               const char *key, const char *access_key, const char *secret_key, long expires,
               time_t now, char *out, size_t outlen);

/* ------------------------------------------------ any request, listing */

/* Longest object key S3 allows (bytes). */
#define S3_KEY_MAX  1024
/* The largest ListObjectsV2 answer read (1,000 keys of 1,024 bytes, escaped). */
#define S3_LIST_MAX ((size_t)8 * 1024 * 1024)

struct s3_answer {
	long   status;
	char  *body;     /* malloc'd, NUL-terminated (caller frees) */
	size_t len;
};

/*
 * One request signed by libcurl with d's keys, region and CA (d->bucket
 * unused): method, full url (its query already canonical: names sorted,
 * values encoded), one extra header line or NULL, body (may be NULL) of n
 * bytes whose sha256 is sent.  Retried on 500/503/dropped connections.
 * 0 when it completed, whatever the status (*a filled, body up to max
 * bytes), -1 + err (transport, or a body over max).
 */
int s3_request(const struct objstore_dest *d, const char *method, const char *url,
               const char *header, const void *body, size_t n, size_t max, struct s3_answer *a,
               char *err, size_t errlen);
/* The URL of key in d's bucket (key "" = the bucket itself), query appended. */
int s3_url_of(const struct objstore_dest *d, const char *key, const char *query, char *out,
              size_t outlen);

/* Called per object: key, size, ETag (quotes kept), LastModified (ISO 8601).
 * Non-zero stops the listing (an error). */
typedef int (*s3_list_cb)(void *ud, const char *key, uint64_t size, const char *etag,
                          const char *mtime);
/*
 * ListObjectsV2 of d's bucket: prefix and start_after (our cursor's last
 * key; either NULL or ""), max 1..1000 keys; cb per object in key order;
 * *truncated when more follow.  0 / -1 + err ("<Code>: <Message>").
 */
int s3_list(const struct objstore_dest *d, const char *prefix, const char *start_after, int max,
            s3_list_cb cb, void *ud, bool *truncated, char *err, size_t errlen);
/* The parser of a ListObjectsV2 answer (xml, len bytes, not NUL-terminated):
 * exposed for the unit test and the fuzzer.  0 / -1 + err. */
int s3_list_parse(const char *xml, size_t len, s3_list_cb cb, void *ud, bool *truncated,
                  char *err, size_t errlen);

#endif
