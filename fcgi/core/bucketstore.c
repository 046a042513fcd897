/*
 * bucketstore.c - the object-store driver (see bucketstore.h): the RADOS
 * Gateway admin ops and the MinIO admin API behind one interface, every
 * request through s3_request (libcurl signs), and the madmin body
 * encryption (PBKDF2 + sio-go AES-256-GCM stream, OpenSSL).
 */
#include "bucketstore.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "objstore.h"
#include "s3.h"
#include "util.h"

/* Admin answers are small JSON documents (a user with a few keys). */
#define ADMIN_BODY_MAX ((size_t)1 << 20)
/* The principal of bucket <name> on rgw: "lnchr-<name>". */
#define RGW_UID_PREFIX "lnchr-"
/* madmin: the id of PBKDF2-SHA256 + AES-256-GCM, its rounds, sio-go's fragment. */
#define MADMIN_PBKDF2_AESGCM 0x02
#define MADMIN_PBKDF2_ROUNDS 8192
#define SIO_BUFSIZE          16384
#define MINIO_ADMIN          "/minio/admin/v4"

bool
bstore_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	int dots = 0;
	bool digits_dots = true;

	if (n < 3 || n > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
			return false;
		if (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' || (i > 0 && name[i - 1] == '-')))
			return false;
		if (c == '.')
			dots++;
		else if (!isdigit(c))
			digits_dots = false;
	}
	return !(digits_dots && dots == 3);   /* 192.168.5.4 */
}

/* ------------------------------------------------------------ requests */

/* An objstore_dest for s3_request: the store's endpoint and the given keys. */
static void
dest_of(const struct bstore *s, const char *bucket, const char *ak, const char *sk,
        struct objstore_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->provider = "custom";
	d->endpoint = s->admin_endpoint;
	d->region = s->region ? s->region : "us-east-1";
	d->bucket = bucket;
	d->access_key = ak;
	d->secret_key = sk;
	d->path_style = true;
	d->ca_file = s->ca_file;
}

/* "<Code>: <message>" of an answer: RGW's admin answers are JSON, S3's XML. */
static void
answer_error(const struct s3_answer *a, const char *what, char *err, size_t errlen)
{
	cJSON *j = a->body ? cJSON_ParseWithLength(a->body, a->len) : NULL;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "Code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "Message");
	char text[256];

	if (cJSON_IsString(code) && cJSON_IsString(msg) && msg->valuestring[0]) {
		util_snprintf(text, sizeof(text), "%s: %s", code->valuestring, msg->valuestring);
		util_sanitize(text, 0);
	} else if (cJSON_IsString(code)) {
		/* No message (radosgw): s3.c's explanation of the code. */
		char xml[200];

		util_snprintf(xml, sizeof(xml), "<Code>%.100s</Code>", code->valuestring);
		s3_error_text(a->status, xml, strlen(xml), text, sizeof(text));
	} else {
		s3_error_text(a->status, a->body, a->len, text, sizeof(text));
	}
	util_snprintf(err, errlen, "%s: %s", what, text);
	cJSON_Delete(j);
}

/* Whether the answer's error code (JSON or XML) is code. */
static bool
answer_code(const struct s3_answer *a, const char *code)
{
	char j[96], x[96];

	if (a->body == NULL)
		return false;
	util_snprintf(j, sizeof(j), "\"Code\":\"%s\"", code);
	util_snprintf(x, sizeof(x), "<Code>%s</Code>", code);
	return strstr(a->body, j) != NULL || strstr(a->body, x) != NULL;
}

/*
 * One request to <endpoint><path>?<query> with keys ak/sk (query
 * canonical: names sorted, values escaped by the caller); flags for
 * s3_request (S3_ONCE: a call that makes something new is not retried).
 * 0 when it completed (*a filled: free a->body), -1 + err.
 */
static int
call(const struct bstore *s, const char *ak, const char *sk, const char *method, const char *path,
     const char *query, const char *header, const void *body, size_t n, int flags,
     struct s3_answer *a, char *err, size_t errlen)
{
	struct objstore_dest d;
	char url[4096];

	dest_of(s, NULL, ak, sk, &d);
	if (util_snprintf(url, sizeof(url), "%s%s%s%s", s->admin_endpoint, path, query ? "?" : "",
	                  query ? query : "") < 0) {
		util_snprintf(err, errlen, "URL too long");
		return -1;
	}
	return s3_request(&d, method, url, header, body, n, ADMIN_BODY_MAX, flags, a, err, errlen);
}

static int
admin(const struct bstore *s, const char *method, const char *path, const char *query,
      const void *body, size_t n, struct s3_answer *a, char *err, size_t errlen)
{
	return call(s, s->admin_access_key, s->admin_secret_key, method, path, query, NULL, body, n, 0,
	            a, err, errlen);
}

static bool
ok2xx(const struct s3_answer *a)
{
	return a->status >= 200 && a->status < 300;
}

/* Checks the store and the name before any request. */
static int
precheck(const struct bstore *s, const char *name, char *err, size_t errlen)
{
	if (s == NULL || s->admin_endpoint == NULL || s->admin_access_key == NULL ||
	    s->admin_secret_key == NULL || s->driver == NULL ||
	    (strncmp(s->admin_endpoint, "http://", 7) != 0 && strncmp(s->admin_endpoint, "https://", 8) != 0)) {
		util_snprintf(err, errlen, "the store has no admin endpoint or keys");
		return -1;
	}
	if (!bstore_name_ok(name)) {
		util_snprintf(err, errlen, "the bucket name is not one S3 allows");
		return -1;
	}
	return 0;
}

static const char *
anon_policy(const char *name, char *out, size_t outlen)
{
	if (util_snprintf(out, outlen,
	                  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
	                  "\"Principal\":{\"AWS\":[\"*\"]},\"Action\":[\"s3:GetObject\"],"
	                  "\"Resource\":[\"arn:aws:s3:::%s/*\"]}]}", name) < 0)
		return NULL;
	return out;
}

/* PUT (public) or DELETE (private) ?policy of bucket name, keys ak/sk. */
static int
set_anon_read(const struct bstore *s, const char *name, bool public, const char *ak, const char *sk,
              char *err, size_t errlen)
{
	char path[128], pol[512];
	struct s3_answer a;
	int rc = -1;

	util_snprintf(path, sizeof(path), "/%s", name);
	if (anon_policy(name, pol, sizeof(pol)) == NULL ||
	    call(s, ak, sk, public ? "PUT" : "DELETE", path, "policy=", NULL, public ? pol : NULL,
	         public ? strlen(pol) : 0, 0, &a, err, errlen) != 0)
		return -1;
	if (ok2xx(&a) || (!public && a.status == 404))
		rc = 0;
	else
		answer_error(&a, "bucket policy", err, errlen);
	free(a.body);
	return rc;
}

/* ----------------------------------------------------------------- rgw */

/* "uid=lnchr-<name>" (the name needs no escaping: S3 name rules). */
static void
rgw_uid(const char *name, char *out, size_t outlen)
{
	util_snprintf(out, outlen, RGW_UID_PREFIX "%s", name);
}

/*
 * The user's keys (cJSON array of {user, access_key, secret_key}: caller
 * deletes).  1 when the user does not exist, 0, or -1 + err.
 */
static int
rgw_keys(const struct bstore *s, const char *name, cJSON **keys, char *err, size_t errlen)
{
	char uid[96], q[160];
	struct s3_answer a;
	cJSON *j;
	int rc = -1;

	*keys = NULL;
	rgw_uid(name, uid, sizeof(uid));
	util_snprintf(q, sizeof(q), "format=json&uid=%s", uid);
	if (admin(s, "GET", "/admin/user", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (a.status == 404) {
		rc = 1;
		goto out;
	}
	if (!ok2xx(&a)) {
		answer_error(&a, "user info", err, errlen);
		goto out;
	}
	j = cJSON_ParseWithLength(a.body, a.len);
	*keys = cJSON_DetachItemFromObjectCaseSensitive(j, "keys");
	cJSON_Delete(j);
	if (!cJSON_IsArray(*keys)) {
		cJSON_Delete(*keys);
		*keys = NULL;
		util_snprintf(err, errlen, "user info: the gateway answered no keys");
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(a.body, a.len);
	free(a.body);
	return rc;
}

static bool
key_fill(const cJSON *k, struct bstore_key *out)
{
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(k, "access_key");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(k, "secret_key");

	return cJSON_IsString(ak) && cJSON_IsString(sk) &&
	       util_snprintf(out->access_key, sizeof(out->access_key), "%s", ak->valuestring) >= 0 &&
	       util_snprintf(out->secret_key, sizeof(out->secret_key), "%s", sk->valuestring) >= 0;
}

static bool
keys_has(const cJSON *keys, const char *access_key)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, keys) {
		const cJSON *ak = cJSON_GetObjectItemCaseSensitive(k, "access_key");

		if (cJSON_IsString(ak) && strcmp(ak->valuestring, access_key) == 0)
			return true;
	}
	return false;
}

static void
keys_free(cJSON *keys)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, keys) {
		const cJSON *sk = cJSON_GetObjectItemCaseSensitive(k, "secret_key");

		if (cJSON_IsString(sk))
			sodium_memzero(sk->valuestring, strlen(sk->valuestring));
	}
	cJSON_Delete(keys);
}

/*
 * A new key for the user: the gateway generates it (no secret in a URL);
 * it is the one key of the answer that was not there before.
 */
static int
rgw_key_new(const struct bstore *s, const char *name, struct bstore_key *out, char *err, size_t errlen)
{
	char uid[96], q[200];
	cJSON *before = NULL, *after = NULL;
	struct s3_answer a = {0};
	const cJSON *k;
	int rc = -1, kr;

	kr = rgw_keys(s, name, &before, err, errlen);
	if (kr != 0) {
		if (kr == 1)
			util_snprintf(err, errlen, "NoSuchUser: the bucket's principal does not exist");
		return -1;
	}
	rgw_uid(name, uid, sizeof(uid));
	util_snprintf(q, sizeof(q), "format=json&generate-key=true&key=&key-type=s3&uid=%s", uid);
	/* Not retried: each PUT generates one more key. */
	if (call(s, s->admin_access_key, s->admin_secret_key, "PUT", "/admin/user", q, NULL, NULL, 0,
	         S3_ONCE, &a, err, errlen) != 0)
		goto out;
	if (!ok2xx(&a)) {
		answer_error(&a, "key create", err, errlen);
		goto out;
	}
	after = cJSON_ParseWithLength(a.body, a.len);
	cJSON_ArrayForEach(k, after) {
		const cJSON *ak = cJSON_GetObjectItemCaseSensitive(k, "access_key");

		if (cJSON_IsString(ak) && !keys_has(before, ak->valuestring) && key_fill(k, out)) {
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		util_snprintf(err, errlen, "key create: the gateway answered no new key");
out:
	if (a.body != NULL)
		sodium_memzero(a.body, a.len);
	free(a.body);
	keys_free(before);
	keys_free(after);
	return rc;
}

static int
rgw_bucket_create(const struct bstore *s, const char *name, struct bstore_key *key, char *err,
                  size_t errlen)
{
	char uid[96], q[256];
	struct s3_answer a;
	struct objstore_dest d;
	int rc;

	/* The principal: max-buckets 1, so its key cannot make a second bucket. */
	rgw_uid(name, uid, sizeof(uid));
	util_snprintf(q, sizeof(q), "display-name=%s&format=json&generate-key=false&max-buckets=1&uid=%s",
	              uid, uid);
	if (admin(s, "PUT", "/admin/user", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	rc = ok2xx(&a) || (a.status == 409 && answer_code(&a, "UserAlreadyExists")) ? 0 : -1;
	if (rc != 0)
		answer_error(&a, "user create", err, errlen);
	free(a.body);
	if (rc != 0 || rgw_key_new(s, name, key, err, errlen) != 0)
		return -1;
	/* An existing bucket: fine when its owner is the principal (a second
	 * PUT would be refused: max-buckets 1 counts it). */
	util_snprintf(q, sizeof(q), "bucket=%s&format=json", name);
	if (admin(s, "GET", "/admin/bucket", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (ok2xx(&a)) {
		cJSON *j = cJSON_ParseWithLength(a.body, a.len);
		const cJSON *owner = cJSON_GetObjectItemCaseSensitive(j, "owner");

		rc = cJSON_IsString(owner) && strcmp(owner->valuestring, uid) == 0 ? 0 : -1;
		cJSON_Delete(j);
		free(a.body);
		if (rc != 0)
			util_snprintf(err, errlen, "bucket create: BucketAlreadyExists: another principal owns it");
		return rc;
	}
	free(a.body);
	/* The bucket, made by its owner's key. */
	dest_of(s, name, key->access_key, key->secret_key, &d);
	if (s3_bucket_create(&d, err, errlen) != 0) {
		char e2[256];

		util_snprintf(e2, sizeof(e2), "bucket create: %s", err);
		util_snprintf(err, errlen, "%s", e2);
		return -1;
	}
	return 0;
}

static int
rgw_key_revoke(const struct bstore *s, const char *name, const char *access_key, char *err,
               size_t errlen)
{
	char uid[96], q[300], *ak;
	cJSON *keys = NULL;
	struct s3_answer a;
	int rc, kr;

	kr = rgw_keys(s, name, &keys, err, errlen);
	if (kr != 0)
		return kr == 1 ? 0 : -1;
	/* Only a key of this bucket's principal is removed. */
	if (!keys_has(keys, access_key)) {
		keys_free(keys);
		return 0;
	}
	keys_free(keys);
	rgw_uid(name, uid, sizeof(uid));
	ak = curl_easy_escape(NULL, access_key, 0);
	if (ak == NULL)
		return -1;
	util_snprintf(q, sizeof(q), "access-key=%s&format=json&key=&uid=%s", ak, uid);
	curl_free(ak);
	if (admin(s, "DELETE", "/admin/user", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	rc = ok2xx(&a) || a.status == 404 ? 0 : -1;
	if (rc != 0)
		answer_error(&a, "key remove", err, errlen);
	free(a.body);
	return rc;
}

static int
rgw_bucket_delete(const struct bstore *s, const char *name, bool force, char *err, size_t errlen)
{
	char uid[96], q[200];
	struct s3_answer a;
	int rc = -1;

	/* Without force the gateway itself refuses a non-empty bucket (409
	 * BucketNotEmpty): no check-then-delete race. */
	util_snprintf(q, sizeof(q), "bucket=%s&format=json%s", name, force ? "&purge-objects=true" : "");
	if (admin(s, "DELETE", "/admin/bucket", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (!force && a.status == 409 && answer_code(&a, "BucketNotEmpty")) {
		free(a.body);
		util_snprintf(err, errlen, "BucketNotEmpty: the bucket is not empty");
		return 1;
	}
	if (!ok2xx(&a) && a.status != 404) {
		answer_error(&a, "bucket remove", err, errlen);
		free(a.body);
		return -1;
	}
	free(a.body);
	rgw_uid(name, uid, sizeof(uid));
	util_snprintf(q, sizeof(q), "format=json&purge-data=true&uid=%s", uid);
	if (admin(s, "DELETE", "/admin/user", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (ok2xx(&a) || a.status == 404)
		rc = 0;
	else
		answer_error(&a, "user remove", err, errlen);
	free(a.body);
	return rc;
}

static int
rgw_bucket_public(const struct bstore *s, const char *name, bool public, char *err, size_t errlen)
{
	cJSON *keys = NULL;
	struct bstore_key k;
	int rc, kr;

	/* A bucket policy is the owner's to set: its first key does it. */
	kr = rgw_keys(s, name, &keys, err, errlen);
	if (kr != 0 || !key_fill(cJSON_GetArrayItem(keys, 0), &k)) {
		if (kr >= 0)
			util_snprintf(err, errlen, "NoSuchUser: the bucket's principal has no key");
		keys_free(keys);
		return -1;
	}
	keys_free(keys);
	rc = set_anon_read(s, name, public, k.access_key, k.secret_key, err, errlen);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

static int
rgw_bucket_usage(const struct bstore *s, const char *name, uint64_t *objects, uint64_t *bytes,
                 char *err, size_t errlen)
{
	char q[160];
	struct s3_answer a;
	cJSON *j;
	const cJSON *m, *no, *sz;

	util_snprintf(q, sizeof(q), "bucket=%s&format=json&stats=true", name);
	if (admin(s, "GET", "/admin/bucket", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (!ok2xx(&a)) {
		answer_error(&a, "bucket stats", err, errlen);
		free(a.body);
		return -1;
	}
	j = cJSON_ParseWithLength(a.body, a.len);
	free(a.body);
	m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "usage"), "rgw.main");
	no = cJSON_GetObjectItemCaseSensitive(m, "num_objects");
	sz = cJSON_GetObjectItemCaseSensitive(m, "size");
	*objects = cJSON_IsNumber(no) && no->valuedouble > 0 ? (uint64_t)no->valuedouble : 0;
	*bytes = cJSON_IsNumber(sz) && sz->valuedouble > 0 ? (uint64_t)sz->valuedouble : 0;
	cJSON_Delete(j);
	return 0;
}

/* --------------------------------------------------------------- minio */

/* sio-go: one AES-GCM seal of in (n) with nonce8 | LE32(seq) and aad. */
static int
gcm_seal(const unsigned char *key, size_t keylen, const unsigned char nonce8[8], uint32_t seq,
         const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t n,
         unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char iv[12];
	int l = 0, rc = -1;

	memcpy(iv, nonce8, 8);
	iv[8] = (unsigned char)seq;
	iv[9] = (unsigned char)(seq >> 8);
	iv[10] = (unsigned char)(seq >> 16);
	iv[11] = (unsigned char)(seq >> 24);
	if (c == NULL || (keylen != 16 && keylen != 32) ||
	    EVP_EncryptInit_ex(c, keylen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, iv) != 1 ||
	    (aadlen > 0 && EVP_EncryptUpdate(c, NULL, &l, aad, (int)aadlen) != 1) ||
	    (n > 0 && EVP_EncryptUpdate(c, out, &l, in, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(c, out + n, &l) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
bstore_sio_seal(const unsigned char *key, size_t keylen, const unsigned char nonce[8],
                const unsigned char *ad, size_t adlen, size_t bufsize,
                const unsigned char *plain, size_t n, unsigned char **out, size_t *outlen)
{
	/* Associated data of every fragment: a flag byte (0x00, the final
	 * fragment 0x80) and the tag of sealing nothing under the caller's
	 * ad with sequence number 0.  Fragments are numbered from 1; every
	 * fragment but the last holds bufsize bytes, the last 0..bufsize. */
	unsigned char fad[17], *o;
	size_t frags = n / bufsize + 1, off = 0, w = 0;
	uint32_t seq = 1;

	*out = NULL;
	if (bufsize == 0 || frags > UINT32_MAX - 1)
		return -1;
	if (n > 0 && n % bufsize == 0)
		frags--;   /* a full last fragment is the final one */
	o = malloc(n + frags * 16);
	if (o == NULL)
		return -1;
	fad[0] = 0x00;
	if (gcm_seal(key, keylen, nonce, 0, ad, adlen, NULL, 0, fad + 1) != 0)
		goto fail;
	while (n - off > bufsize) {
		if (gcm_seal(key, keylen, nonce, seq++, fad, sizeof(fad), plain + off, bufsize, o + w) != 0)
			goto fail;
		off += bufsize;
		w += bufsize + 16;
	}
	fad[0] = 0x80;
	if (gcm_seal(key, keylen, nonce, seq, fad, sizeof(fad), plain + off, n - off, o + w) != 0)
		goto fail;
	w += n - off + 16;
	*out = o;
	*outlen = w;
	return 0;
fail:
	free(o);
	return -1;
}

int
bstore_madmin_encrypt(const char *password, const void *plain, size_t n, unsigned char **out,
                      size_t *outlen)
{
	unsigned char salt[32], key[32], nonce[8], *sealed = NULL, *o;
	size_t sl = 0;

	*out = NULL;
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), MADMIN_PBKDF2_ROUNDS,
	                      EVP_sha256(), sizeof(key), key) != 1 ||
	    bstore_sio_seal(key, sizeof(key), nonce, NULL, 0, SIO_BUFSIZE, plain, n, &sealed, &sl) != 0) {
		sodium_memzero(key, sizeof(key));
		return -1;
	}
	sodium_memzero(key, sizeof(key));
	o = malloc(32 + 1 + 8 + sl);
	if (o == NULL) {
		free(sealed);
		return -1;
	}
	memcpy(o, salt, 32);
	o[32] = MADMIN_PBKDF2_AESGCM;
	memcpy(o + 33, nonce, 8);
	memcpy(o + 41, sealed, sl);
	free(sealed);
	*out = o;
	*outlen = 41 + sl;
	return 0;
}

/* One sio fragment opened (in: n bytes, its 16-byte tag last) with cipher
 * (AES-256-GCM or ChaCha20-Poly1305) into out (n - 16 bytes).  0 / -1. */
static int
aead_open(const EVP_CIPHER *cipher, const unsigned char key[32], const unsigned char nonce8[8],
          uint32_t seq, const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t n,
          unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char iv[12];
	int l = 0, rc = -1;

	memcpy(iv, nonce8, 8);
	for (int i = 0; i < 4; i++)
		iv[8 + i] = (unsigned char)(seq >> (8 * i));
	if (c != NULL && n >= 16 &&
	    EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(c, NULL, NULL, key, iv) == 1 &&
	    (aadlen == 0 || EVP_DecryptUpdate(c, NULL, &l, aad, (int)aadlen) == 1) &&
	    (n == 16 || EVP_DecryptUpdate(c, out, &l, in, (int)(n - 16)) == 1) &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + n - 16)) == 1 &&
	    EVP_DecryptFinal_ex(c, out + n - 16, &l) == 1)
		rc = 0;
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* The tag of sealing nothing at sequence 0 (sio's fragment associated data). */
static int
aead_tag0(const EVP_CIPHER *cipher, const unsigned char key[32], const unsigned char nonce8[8],
          unsigned char tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char iv[12] = {0};
	int l = 0, rc = -1;

	memcpy(iv, nonce8, 8);
	if (c != NULL && EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_EncryptInit_ex(c, NULL, NULL, key, iv) == 1 && EVP_EncryptFinal_ex(c, tag, &l) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1)
		rc = 0;
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/*
 * madmin's argon2id key (time 1, 64 MiB, 4 lanes: madmin-go encrypt.go).
 * libsodium's argon2id has one lane only: the reference library
 * (libargon2, Debian libargon2-1) is loaded when a store answers so.
 */
static int
argon2id_key(const char *password, const unsigned char salt[32], unsigned char key[32])
{
	typedef int (*argon2id_raw)(uint32_t, uint32_t, uint32_t, const void *, size_t, const void *,
	                            size_t, void *, size_t);
	static void *lib;
	argon2id_raw f;

	if (lib == NULL)
		lib = dlopen("libargon2.so.1", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		return -1;
	*(void **)&f = dlsym(lib, "argon2id_hash_raw");
	return f != NULL && f(1, 64 * 1024, 4, password, strlen(password), salt, 32, key, 32) == 0 ? 0 : -1;
}

int
bstore_madmin_decrypt(const char *password, const unsigned char *in, size_t n, char **out,
                      size_t *outlen)
{
	const EVP_CIPHER *cipher = in != NULL && n > 32 && in[32] == 0x01 ? EVP_chacha20_poly1305()
	                                                                  : EVP_aes_256_gcm();
	unsigned char key[32], ad[17];
	size_t off = 41, w = 0;
	uint32_t seq = 1;
	char *o;
	int kr = -1;

	*out = NULL;
	*outlen = 0;
	if (in == NULL || n < 41 + 16)
		return -1;
	if (in[32] == MADMIN_PBKDF2_AESGCM)
		kr = PKCS5_PBKDF2_HMAC(password, (int)strlen(password), in, 32, MADMIN_PBKDF2_ROUNDS,
		                       EVP_sha256(), sizeof(key), key) == 1 ? 0 : -1;
	else if (in[32] == 0x00 || in[32] == 0x01)
		kr = argon2id_key(password, in, key);
	o = kr == 0 ? malloc(n) : NULL;
	ad[0] = 0x00;
	if (o == NULL || aead_tag0(cipher, key, in + 33, ad + 1) != 0)
		goto fail;
	while (off < n) {
		size_t left = n - off, frag = left > SIO_BUFSIZE + 16 ? SIO_BUFSIZE + 16 : left;

		ad[0] = frag == left ? 0x80 : 0x00;
		if (frag < 16 || aead_open(cipher, key, in + 33, seq++, ad, sizeof(ad), in + off, frag,
		                           (unsigned char *)o + w) != 0)
			goto fail;
		w += frag - 16;
		off += frag;
	}
	sodium_memzero(key, sizeof(key));
	o[w] = '\0';
	*out = o;
	*outlen = w;
	return 0;
fail:
	sodium_memzero(key, sizeof(key));
	free(o);
	return -1;
}

/* One admin call with an encrypted JSON body (plain is wiped by the caller);
 * flags for s3_request. */
static int
minio_admin_enc(const struct bstore *s, const char *method, const char *op, const char *query,
                const char *plain, int flags, const char *what, char *err, size_t errlen)
{
	unsigned char *enc = NULL;
	size_t el = 0;
	struct s3_answer a;
	char path[96];
	int rc = -1;

	util_snprintf(path, sizeof(path), MINIO_ADMIN "/%s", op);
	if (bstore_madmin_encrypt(s->admin_secret_key, plain, strlen(plain), &enc, &el) != 0) {
		util_snprintf(err, errlen, "%s: the body does not encrypt", what);
		return -1;
	}
	if (call(s, s->admin_access_key, s->admin_secret_key, method, path, query,
	         "Content-Type: application/octet-stream", enc, el, flags, &a, err, errlen) == 0) {
		if (ok2xx(&a))
			rc = 0;
		else
			answer_error(&a, what, err, errlen);
		free(a.body);
	}
	free(enc);
	return rc;
}

/* One admin call without a body; ok404: a 404 is success. */
static int
minio_admin(const struct bstore *s, const char *method, const char *op, const char *query,
            const char *body, bool ok404, const char *what, char *err, size_t errlen)
{
	struct s3_answer a;
	char path[96];
	int rc = -1;

	util_snprintf(path, sizeof(path), MINIO_ADMIN "/%s", op);
	if (admin(s, method, path, query, body, body ? strlen(body) : 0, &a, err, errlen) != 0)
		return -1;
	if (ok2xx(&a) || (ok404 && a.status == 404))
		rc = 0;
	else
		answer_error(&a, what, err, errlen);
	free(a.body);
	return rc;
}

/* A random key pair: 20 and 40 hex characters (MinIO: 3..128 / 8..40). */
static void
minio_key_gen(struct bstore_key *k)
{
	unsigned char r[30];

	randombytes_buf(r, sizeof(r));
	util_hex(k->access_key, r, 10);
	for (char *p = k->access_key; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	util_hex(k->secret_key, r + 10, 20);
	sodium_memzero(r, sizeof(r));
}

/* A service account of parent user <name> with key k. */
static int
minio_key_new(const struct bstore *s, const char *name, struct bstore_key *k, char *err, size_t errlen)
{
	char body[512];
	int rc;

	minio_key_gen(k);
	if (util_snprintf(body, sizeof(body),
	                  "{\"targetUser\":\"%s\",\"accessKey\":\"%s\",\"secretKey\":\"%s\"}",
	                  name, k->access_key, k->secret_key) < 0)
		return -1;
	/* Not retried: a second add of the same key is refused. */
	rc = minio_admin_enc(s, "PUT", "add-service-account", NULL, body, S3_ONCE,
	                     "service account create", err, errlen);
	sodium_memzero(body, sizeof(body));
	return rc;
}

static int
minio_bucket_create(const struct bstore *s, const char *name, struct bstore_key *key, char *err,
                    size_t errlen)
{
	char q[128], pol[512], body[512];
	struct bstore_key parent;
	struct objstore_dest d;
	int rc;

	/* The policy: this bucket and its objects, nothing else. */
	util_snprintf(q, sizeof(q), "name=%s", name);
	if (util_snprintf(pol, sizeof(pol),
	                  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
	                  "\"Action\":[\"s3:*\"],\"Resource\":[\"arn:aws:s3:::%s\",\"arn:aws:s3:::%s/*\"]}]}",
	                  name, name) < 0 ||
	    minio_admin(s, "PUT", "add-canned-policy", q, pol, false, "policy create", err, errlen) != 0)
		return -1;
	/* The parent user (its own secret is never handed out). */
	minio_key_gen(&parent);
	util_snprintf(q, sizeof(q), "accessKey=%s", name);
	util_snprintf(body, sizeof(body), "{\"secretKey\":\"%s\",\"status\":\"enabled\"}", parent.secret_key);
	rc = minio_admin_enc(s, "PUT", "add-user", q, body, 0, "user create", err, errlen);
	sodium_memzero(body, sizeof(body));
	sodium_memzero(&parent, sizeof(parent));
	if (rc != 0)
		return -1;
	util_snprintf(body, sizeof(body), "{\"policies\":[\"%s\"],\"user\":\"%s\"}", name, name);
	if (minio_admin_enc(s, "POST", "idp/builtin/policy/attach", NULL, body, 0, "policy attach", err,
	                    errlen) != 0) {
		/* Attached already (an earlier create): MinIO says so with 400. */
		if (strstr(err, "XMinioAdminPolicyChangeAlreadyApplied") == NULL)
			return -1;
	}
	if (minio_key_new(s, name, key, err, errlen) != 0)
		return -1;
	/* Buckets have no owner on MinIO: the admin makes it, the policy rules. */
	dest_of(s, name, s->admin_access_key, s->admin_secret_key, &d);
	return s3_bucket_create(&d, err, errlen);
}

/* Whether list (list-service-accounts: accounts of strings or of
 * {accessKey}) holds access_key. */
static bool
minio_listed(const cJSON *list, const char *access_key)
{
	const cJSON *acc, *e;

	acc = cJSON_GetObjectItemCaseSensitive(list, "accounts");
	cJSON_ArrayForEach(e, acc) {
		const cJSON *ak = cJSON_IsString(e) ? e : cJSON_GetObjectItemCaseSensitive(e, "accessKey");

		if (cJSON_IsString(ak) && strcmp(ak->valuestring, access_key) == 0)
			return true;
	}
	return false;
}

static int
minio_key_revoke(const struct bstore *s, const char *name, const char *access_key, char *err,
                 size_t errlen)
{
	char q[200], *ak, *plain = NULL;
	struct s3_answer a;
	cJSON *list;
	size_t pl = 0;
	bool mine;

	/* Only a service account of this bucket's user is removed: the
	 * admin's keys could remove anyone's (the answer is madmin-encrypted). */
	util_snprintf(q, sizeof(q), "user=%s", name);
	if (admin(s, "GET", MINIO_ADMIN "/list-service-accounts", q, NULL, 0, &a, err, errlen) != 0)
		return -1;
	if (a.status == 404 || (a.status == 400 && answer_code(&a, "XMinioAdminNoSuchUser"))) {
		free(a.body);
		return 0;
	}
	if (!ok2xx(&a)) {
		answer_error(&a, "service account list", err, errlen);
		free(a.body);
		return -1;
	}
	if (bstore_madmin_decrypt(s->admin_secret_key, (const unsigned char *)a.body, a.len, &plain,
	                          &pl) != 0) {
		free(a.body);
		util_snprintf(err, errlen, "service account list: the answer does not decrypt");
		return -1;
	}
	free(a.body);
	list = cJSON_ParseWithLength(plain, pl);
	mine = minio_listed(list, access_key);
	cJSON_Delete(list);
	free(plain);
	if (!mine)
		return 0;
	ak = curl_easy_escape(NULL, access_key, 0);
	if (ak == NULL)
		return -1;
	util_snprintf(q, sizeof(q), "accessKey=%s", ak);
	curl_free(ak);
	return minio_admin(s, "DELETE", "delete-service-account", q, NULL, true, "service account remove",
	                   err, errlen);
}

/* Objects, bytes and the last key seen (the next page starts after it). */
struct tally { uint64_t objects, bytes; char last[S3_KEY_MAX * 2]; };

static int
tally_cb(void *ud, const char *key, uint64_t size, const char *etag, const char *mtime)
{
	struct tally *t = ud;

	t->objects++;
	t->bytes += size;
	util_snprintf(t->last, sizeof(t->last), "%s", key);
	return 0;
}

static int
minio_bucket_delete(const struct bstore *s, const char *name, bool force, char *err, size_t errlen)
{
	struct objstore_dest d;
	struct s3_answer a;
	char path[96], q[128];
	struct tally t = {0};
	bool more = false;
	int rc;

	dest_of(s, name, s->admin_access_key, s->admin_secret_key, &d);
	rc = s3_list(&d, NULL, NULL, 1, tally_cb, &t, &more, err, errlen);
	if (rc != 0 && strncmp(err, "NoSuchBucket", 12) != 0)
		return -1;
	if (rc == 0) {
		if (!force && t.objects > 0) {
			util_snprintf(err, errlen, "BucketNotEmpty: the bucket is not empty");
			return 1;
		}
		/* MinIO deletes a bucket and its objects in one call when asked. */
		util_snprintf(path, sizeof(path), "/%s", name);
		if (call(s, s->admin_access_key, s->admin_secret_key, "DELETE", path, NULL,
		         force ? "x-minio-force-delete: true" : NULL, NULL, 0, 0, &a, err, errlen) != 0)
			return -1;
		rc = ok2xx(&a) || a.status == 404 ? 0 : -1;
		if (rc != 0 && a.status == 409 && answer_code(&a, "BucketNotEmpty")) {
			free(a.body);
			util_snprintf(err, errlen, "BucketNotEmpty: the bucket is not empty");
			return 1;
		}
		if (rc != 0)
			answer_error(&a, "bucket remove", err, errlen);
		free(a.body);
		if (rc != 0)
			return -1;
	}
	/* The parent user (and with it every service account), then the policy. */
	util_snprintf(q, sizeof(q), "accessKey=%s", name);
	if (minio_admin(s, "DELETE", "remove-user", q, NULL, true, "user remove", err, errlen) != 0)
		return -1;
	util_snprintf(q, sizeof(q), "name=%s", name);
	return minio_admin(s, "DELETE", "remove-canned-policy", q, NULL, true, "policy remove", err, errlen);
}

static int
minio_bucket_usage(const struct bstore *s, const char *name, uint64_t *objects, uint64_t *bytes,
                   char *err, size_t errlen)
{
	struct objstore_dest d;
	struct tally t = {0};
	bool more = true;

	/* MinIO's usage report is encrypted with argon2id: the listing counts. */
	dest_of(s, name, s->admin_access_key, s->admin_secret_key, &d);
	while (more)
		if (s3_list(&d, NULL, t.last, 1000, tally_cb, &t, &more, err, errlen) != 0)
			return -1;
	*objects = t.objects;
	*bytes = t.bytes;
	return 0;
}

/* ------------------------------------------------------------ dispatch */

static bool
is_rgw(const struct bstore *s)
{
	return strcmp(s->driver, "rgw") == 0;
}

static int
driver_check(const struct bstore *s, const char *name, char *err, size_t errlen)
{
	if (precheck(s, name, err, errlen) != 0)
		return -1;
	if (strcmp(s->driver, "rgw") != 0 && strcmp(s->driver, "minio") != 0) {
		util_snprintf(err, errlen, "unknown store driver");
		return -1;
	}
	return 0;
}

int
bstore_bucket_create(const struct bstore *s, const char *name, struct bstore_key *key_out,
                     char *err, size_t errlen)
{
	memset(key_out, 0, sizeof(*key_out));
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	return is_rgw(s) ? rgw_bucket_create(s, name, key_out, err, errlen)
	                 : minio_bucket_create(s, name, key_out, err, errlen);
}

int
bstore_key_add(const struct bstore *s, const char *name, struct bstore_key *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	return is_rgw(s) ? rgw_key_new(s, name, out, err, errlen) : minio_key_new(s, name, out, err, errlen);
}

int
bstore_key_revoke(const struct bstore *s, const char *name, const char *access_key, char *err, size_t errlen)
{
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	if (access_key == NULL || access_key[0] == '\0' || strlen(access_key) > 128) {
		util_snprintf(err, errlen, "no access key to revoke");
		return -1;
	}
	return is_rgw(s) ? rgw_key_revoke(s, name, access_key, err, errlen)
	                 : minio_key_revoke(s, name, access_key, err, errlen);
}

int
bstore_bucket_delete(const struct bstore *s, const char *name, bool force, char *err, size_t errlen)
{
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	return is_rgw(s) ? rgw_bucket_delete(s, name, force, err, errlen)
	                 : minio_bucket_delete(s, name, force, err, errlen);
}

int
bstore_bucket_public(const struct bstore *s, const char *name, bool public, char *err, size_t errlen)
{
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	return is_rgw(s) ? rgw_bucket_public(s, name, public, err, errlen)
	                 : set_anon_read(s, name, public, s->admin_access_key, s->admin_secret_key, err, errlen);
}

int
bstore_bucket_usage(const struct bstore *s, const char *name, uint64_t *objects, uint64_t *bytes,
                    char *err, size_t errlen)
{
	*objects = *bytes = 0;
	if (driver_check(s, name, err, errlen) != 0)
		return -1;
	return is_rgw(s) ? rgw_bucket_usage(s, name, objects, bytes, err, errlen)
	                 : minio_bucket_usage(s, name, objects, bytes, err, errlen);
}
