/*
 * test_objstore.c - the object store layer (core/objstore.c, core/s3.c).
 *
 *   test_objstore            offline cases: destination checks, endpoint
 *                            derivation, keys, S3 error documents, the local
 *                            provider in a temp directory (run by make unit)
 *   test_objstore s3 CASE    one case against a real S3 server (radosgw,
 *                            tests/lib/radosgw.sh; S3_TEST_* in the
 *                            environment), driven by tests/api/test_objstore.py:
 *                            small, multipart, virtual, auth, test, rss
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "core/objstore.h"
#include "core/s3.h"
#include "core/util.h"
#include "unit.h"

/* ------------------------------------------------------------ helpers */

static cJSON *
dest_json(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	if (j == NULL) {
		printf("bad JSON in test: %s\n", json);
		exit(2);
	}
	return j;
}

static const char *
check_field(const char *json)
{
	cJSON *j = dest_json(json);
	const char *msg, *f = objstore_dest_check(j, &msg);

	cJSON_Delete(j);
	return f ? f : "";
}

/* Deterministic bytes: the same (seed, offset) always gives the same data. */
static void
fill(unsigned char *buf, size_t n, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = seed ^ ((off + i) / 8 * 0x9E3779B97F4A7C15ull);

		x ^= x >> 31;
		x *= 0xBF58476D1CE4E5B9ull;
		x ^= x >> 29;
		buf[i] = (unsigned char)(x >> (((off + i) % 8) * 8));
	}
}

struct collect {
	unsigned char *p;
	size_t len, cap;
};

static int
collect_sink(void *ud, const void *buf, size_t n)
{
	struct collect *c = ud;

	if (c->len + n > c->cap)
		return 1;
	memcpy(c->p + c->len, buf, n);
	c->len += n;
	return 0;
}

/*
 * Puts size bytes (seeded) in writes of `chunk`, gets them back, compares
 * size and sha256 (and the bytes when size is small); deletes twice.
 */
static int
roundtrip(const struct objstore_dest *d, const char *key, size_t size, size_t chunk, uint64_t seed)
{
	char err[512] = "", sha_put[65], sha_get[65], sha_want[65];
	unsigned char *buf = malloc(chunk), want[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	uint64_t put_size = 0, get_size = 0;
	struct objstore_put *p;
	int rc = 0;

	crypto_hash_sha256_init(&st);
	p = objstore_put_open(d, key, err, sizeof(err));
	CHECK(p != NULL, "put_open");
	if (p == NULL || buf == NULL) {
		printf("  put_open: %s\n", err);
		free(buf);
		return -1;
	}
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		fill(buf, n, seed, off);
		crypto_hash_sha256_update(&st, buf, n);
		if (objstore_put_write(p, buf, n) != 0) {
			rc = -1;
			break;
		}
	}
	crypto_hash_sha256_final(&st, want);
	util_hex(sha_want, want, sizeof(want));
	rc = objstore_put_close(p, rc == 0, &put_size, sha_put, err, sizeof(err)) || rc;
	CHECK(rc == 0, "put_close");
	if (rc != 0)
		printf("  put: %s\n", err);
	CHECK(put_size == size, "put size");
	CHECK(strcmp(sha_put, sha_want) == 0, "put sha256");
	if (size <= 1 << 20) {
		struct collect c = {malloc(size + 1), 0, size + 1};
		unsigned char *exp = malloc(size + 1);

		fill(exp, size, seed, 0);
		rc = objstore_get(d, key, collect_sink, &c, &get_size, sha_get, err, sizeof(err));
		CHECK(rc == 0 && c.len == size && memcmp(c.p, exp, size) == 0, "get bytes");
		free(c.p);
		free(exp);
	} else {
		rc = objstore_get(d, key, NULL, NULL, &get_size, sha_get, err, sizeof(err));
	}
	CHECK(rc == 0, "get");
	if (rc != 0)
		printf("  get: %s\n", err);
	CHECK(get_size == size, "get size");
	CHECK(strcmp(sha_get, sha_want) == 0, "get sha256");
	CHECK(objstore_delete(d, key, err, sizeof(err)) == 0, "delete");
	CHECK(objstore_delete(d, key, err, sizeof(err)) == 0, "delete again (idempotent)");
	rc = objstore_get(d, key, NULL, NULL, NULL, NULL, err, sizeof(err));
	CHECK(rc != 0 && strncmp(err, "NoSuchKey", 9) == 0, "get after delete: NoSuchKey");
	free(buf);
	return 0;
}

/* ------------------------------------------------------------ offline */

static void
test_checks(void)
{
	static const struct { const char *json, *field; } t[] = {
		{"{}", "provider"},
		{"{\"provider\":\"ftp\"}", "provider"},
		{"{\"provider\":\"local\"}", ""},
		{"{\"provider\":\"local\",\"path\":\"a/b\"}", ""},
		{"{\"provider\":\"local\",\"path\":\"../x\"}", "path"},
		{"{\"provider\":\"local\",\"path\":\"a/../../x\"}", "path"},
		{"{\"provider\":\"local\",\"path\":\"/etc\"}", "path"},
		{"{\"provider\":\"local\",\"path\":\"b/launcher/pitr/x\"}", "path"},
		{"{\"provider\":\"local\",\"path\":\"launcher/pitr\"}", "path"},
		{"{\"provider\":\"local\",\"path\":\"a//b\"}", "path"},
		{"{\"provider\":\"s3\",\"bucket\":\"ok-bucket\",\"region\":\"eu-west-1\"}", ""},
		{"{\"provider\":\"s3\"}", "bucket"},
		{"{\"provider\":\"s3\",\"bucket\":\"Bad_Bucket\"}", "bucket"},
		{"{\"provider\":\"s3\",\"bucket\":\"ab\"}", "bucket"},
		{"{\"provider\":\"s3\",\"bucket\":\"okb\",\"region\":\"eu west\"}", "region"},
		{"{\"provider\":\"s3\",\"bucket\":\"okb\",\"url_style\":\"dns\"}", "url_style"},
		{"{\"provider\":\"backblaze\",\"bucket\":\"okb\"}", "region"},
		{"{\"provider\":\"backblaze\",\"bucket\":\"okb\",\"region\":\"us-west-004\"}", ""},
		{"{\"provider\":\"r2\",\"bucket\":\"okb\"}", "account_id"},
		{"{\"provider\":\"r2\",\"bucket\":\"okb\",\"account_id\":\"abc123\",\"jurisdiction\":\"mars\"}", "jurisdiction"},
		{"{\"provider\":\"r2\",\"bucket\":\"okb\",\"account_id\":\"abc123\",\"jurisdiction\":\"eu\"}", ""},
		{"{\"provider\":\"minio\",\"bucket\":\"okb\"}", "endpoint"},
		{"{\"provider\":\"custom\",\"bucket\":\"okb\",\"endpoint\":\"ftp://x\"}", "endpoint"},
		{"{\"provider\":\"custom\",\"bucket\":\"okb\",\"endpoint\":\"http://u:p@x\"}", "endpoint"},
		{"{\"provider\":\"custom\",\"bucket\":\"okb\",\"endpoint\":\"http://x/?a=b\"}", "endpoint"},
		{"{\"provider\":\"custom\",\"bucket\":\"okb\",\"endpoint\":\"http://127.0.0.1:9000\"}", ""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = check_field(t[i].json);

		CHECK(strcmp(got, t[i].field) == 0, t[i].json);
		if (strcmp(got, t[i].field) != 0)
			printf("  got \"%s\", want \"%s\"\n", got, t[i].field);
	}
}

static void
test_endpoints(void)
{
	static const struct { const char *json, *want, *region; bool path; } t[] = {
		{"{\"provider\":\"s3\",\"bucket\":\"b12\",\"region\":\"eu-west-1\"}",
		 "https://s3.eu-west-1.amazonaws.com", "eu-west-1", false},
		{"{\"provider\":\"s3\",\"bucket\":\"b12\"}", "https://s3.us-east-1.amazonaws.com", "us-east-1", false},
		{"{\"provider\":\"r2\",\"bucket\":\"b12\",\"account_id\":\"acc\"}",
		 "https://acc.r2.cloudflarestorage.com", "auto", false},
		{"{\"provider\":\"r2\",\"bucket\":\"b12\",\"account_id\":\"acc\",\"jurisdiction\":\"eu\"}",
		 "https://acc.eu.r2.cloudflarestorage.com", "auto", false},
		{"{\"provider\":\"backblaze\",\"bucket\":\"b12\",\"region\":\"us-west-004\"}",
		 "https://s3.us-west-004.backblazeb2.com", "us-west-004", false},
		{"{\"provider\":\"minio\",\"bucket\":\"b12\",\"endpoint\":\"http://m:9000/\"}",
		 "http://m:9000", "us-east-1", true},
		{"{\"provider\":\"custom\",\"bucket\":\"b12\",\"endpoint\":\"http://m\",\"url_style\":\"virtual\"}",
		 "http://m", "us-east-1", false},
		{"{\"provider\":\"s3\",\"bucket\":\"b12\",\"endpoint\":\"http://10.0.0.5:9000\"}",
		 "http://10.0.0.5:9000", "us-east-1", true},
		{"{\"provider\":\"s3\",\"bucket\":\"b12\",\"endpoint\":\"https://s3.example.com\"}",
		 "https://s3.example.com", "us-east-1", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cJSON *j = dest_json(t[i].json);
		struct objstore_dest d;
		char err[256], ep[256];

		cJSON_AddStringToObject(j, "access_key", "AK");
		cJSON_AddStringToObject(j, "secret_key", "SK");
		CHECK(objstore_dest_from_json(j, NULL, NULL, &d, err, sizeof(err)) == 0, t[i].json);
		CHECK(objstore_endpoint(&d, ep, sizeof(ep)) == 0 && strcmp(ep, t[i].want) == 0, t[i].want);
		CHECK(strcmp(d.region, t[i].region) == 0, "region");
		CHECK(d.path_style == t[i].path, "url style default");
		cJSON_Delete(j);
	}
	/* No credentials: refused, and nothing about keys in the message. */
	{
		cJSON *j = dest_json("{\"provider\":\"s3\",\"bucket\":\"b12\"}");
		struct objstore_dest d;
		char err[256];

		CHECK(objstore_dest_from_json(j, NULL, NULL, &d, err, sizeof(err)) != 0, "no credentials");
		cJSON_Delete(j);
	}
}

static void
test_keys(void)
{
	struct objstore_dest d = {.provider = "s3", .path = "team/backups/"};
	char out[256];

	CHECK(objstore_full_key(&d, "launcher/database/x/1.pgdump", out, sizeof(out)) >= 0 &&
	      strcmp(out, "team/backups/launcher/database/x/1.pgdump") == 0, "prefix applied");
	CHECK(objstore_full_key(&d, "../x", out, sizeof(out)) != 0, "key with ..");
	CHECK(objstore_full_key(&d, "a/../../x", out, sizeof(out)) != 0, "key with inner ..");
	CHECK(objstore_full_key(&d, "/abs", out, sizeof(out)) != 0, "absolute key");
	CHECK(objstore_full_key(&d, "a b", out, sizeof(out)) != 0, "key with a space");
	CHECK(objstore_full_key(&d, "a?b", out, sizeof(out)) != 0, "key with a query");
	CHECK(objstore_full_key(&d, "", out, sizeof(out)) != 0, "empty key");
}

static void
test_errors(void)
{
	static const char doc[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
		"<Message></Message><RequestId>tx1</RequestId></Error>";
	static const char doc2[] = "<Error><Code>AccessDenied</Code><Message>Access &amp; denied</Message></Error>";
	char out[256];

	s3_error_text(403, doc, strlen(doc), out, sizeof(out));
	CHECK(strncmp(out, "SignatureDoesNotMatch: ", 23) == 0 && strlen(out) > 24, "code + meaning");
	s3_error_text(403, doc2, strlen(doc2), out, sizeof(out));
	CHECK(strcmp(out, "AccessDenied: Access & denied") == 0, "code + message, entities");
	s3_error_text(502, "<html>bad gateway</html>", 24, out, sizeof(out));
	CHECK(strcmp(out, "HTTP 502") == 0, "no document");
	s3_error_text(403, "", 0, out, sizeof(out));
	CHECK(strcmp(out, "AccessDenied: HTTP 403") == 0, "empty 403 (HEAD-like)");
}

static void
test_local(void)
{
	char root[] = "/tmp/objstore-test-XXXXXX", err[512], path[4200];
	const char *tenant = "11111111-2222-3333-4444-555555555555";
	struct objstore_dest d;
	struct stat sb;
	cJSON *j, *res;

	CHECK(mkdtemp(root) != NULL, "mkdtemp");
	j = dest_json("{\"provider\":\"local\",\"path\":\"nightly/db\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) == 0, "local dest");
	CHECK(util_snprintf(path, sizeof(path), "%s/%s/nightly/db", root, tenant) >= 0 &&
	      strcmp(d.local_dir, path) == 0, "local dir = root/tenant/path");
	roundtrip(&d, "launcher/volume/v1/a.tar", 300000, 4096, 7);
	roundtrip(&d, "empty.tar", 0, 4096, 7);

	/* An aborted upload leaves neither the object nor its .part. */
	{
		struct objstore_put *p = objstore_put_open(&d, "x/aborted.tar", err, sizeof(err));

		CHECK(p != NULL && objstore_put_write(p, "abc", 3) == 0, "put to abort");
		CHECK(util_snprintf(path, sizeof(path), "%s/x/aborted.tar.part", d.local_dir) >= 0 &&
		      stat(path, &sb) == 0, ".part while writing");
		CHECK(objstore_put_close(p, false, NULL, NULL, err, sizeof(err)) == 0, "abort");
		CHECK(stat(path, &sb) != 0 && errno == ENOENT, "no .part after abort");
		CHECK(util_snprintf(path, sizeof(path), "%s/x/aborted.tar", d.local_dir) >= 0 &&
		      stat(path, &sb) != 0, "no object after abort");
	}
	/* Keys with .. are refused by every operation. */
	CHECK(objstore_put_open(&d, "../../escape", err, sizeof(err)) == NULL, "put ..");
	CHECK(objstore_get(&d, "../x", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0, "get ..");
	CHECK(objstore_delete(&d, "a/../../x", err, sizeof(err)) != 0, "delete ..");
	cJSON_Delete(j);
	/* A path with .. never reaches the file system. */
	j = dest_json("{\"provider\":\"local\",\"path\":\"../other-tenant\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) != 0, "local path ..");
	cJSON_Delete(j);
	/* A symlink planted under the root that leads out is refused. */
	CHECK(util_snprintf(path, sizeof(path), "%s/%s/out", root, tenant) >= 0 &&
	      symlink("/tmp", path) == 0, "symlink");
	j = dest_json("{\"provider\":\"local\",\"path\":\"out\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) != 0 &&
	      strstr(err, "symbolic link") != NULL, "symlink out of the root refused");
	cJSON_Delete(j);
	/* ... and a directory made below it, through the link, is not made. */
	j = dest_json("{\"provider\":\"local\",\"path\":\"out/lnchr-objstore-made\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) != 0 &&
	      stat("/tmp/lnchr-objstore-made", &sb) != 0, "nothing made through the link");
	cJSON_Delete(j);
	unlink(path);
	/* A link inside a destination (a database container writes into its
	 * own PITR repository) is never followed by a key: not read, not
	 * written through, not deleted through. */
	j = dest_json("{\"provider\":\"local\",\"path\":\"links\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) == 0, "links dest");
	CHECK(util_snprintf(path, sizeof(path), "%s/x", d.local_dir) >= 0 &&
	      symlink("/etc", path) == 0, "symlink x -> /etc");
	CHECK(objstore_get(&d, "x/hostname", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0,
	      "get through a link refused");
	CHECK(objstore_put_open(&d, "x/lnchr-objstore-put", err, sizeof(err)) == NULL &&
	      stat("/etc/lnchr-objstore-put.part", &sb) != 0, "put through a link refused");
	CHECK(objstore_delete(&d, "x/hostname", err, sizeof(err)) != 0 &&
	      stat("/etc/hostname", &sb) == 0, "delete through a link refused");
	CHECK(util_snprintf(path, sizeof(path), "%s/y", d.local_dir) >= 0 &&
	      symlink("/etc/hostname", path) == 0, "symlink y -> /etc/hostname");
	CHECK(objstore_get(&d, "y", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0,
	      "a key that is a link is not read");
	unlink(path);
	CHECK(util_snprintf(path, sizeof(path), "%s/x", d.local_dir) >= 0 && unlink(path) == 0,
	      "link removed");
	cJSON_Delete(j);
	/* No destination lives inside a PITR repository. */
	j = dest_json("{\"provider\":\"local\",\"path\":\"a/launcher/pitr/db\"}");
	CHECK(objstore_dest_from_json(j, root, tenant, &d, err, sizeof(err)) != 0 &&
	      strstr(err, "PITR") != NULL, "a path in a PITR repository refused");
	cJSON_Delete(j);
	/* Not a tenant id: refused. */
	j = dest_json("{\"provider\":\"local\"}");
	CHECK(objstore_dest_from_json(j, root, "../x", &d, err, sizeof(err)) != 0, "tenant not a uuid");
	/* The destination test on a local directory: three steps, ok. */
	res = objstore_test_json(j, root, tenant);
	{
		char *s = cJSON_PrintUnformatted(res);
		cJSON *steps = cJSON_GetObjectItem(res, "steps");

		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(res, "ok")) && cJSON_GetArraySize(steps) == 3,
		      "local test ok, 3 steps");
		CHECK(s != NULL && strstr(s, "\"step\":\"delete\",\"ok\":true") != NULL, "delete step");
		free(s);
	}
	cJSON_Delete(res);
	/* No root configured: a failed write step, not a crash. */
	res = objstore_test_json(j, NULL, tenant);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(res, "ok")) &&
	      cJSON_GetArraySize(cJSON_GetObjectItem(res, "steps")) == 1, "no root: failed write step");
	cJSON_Delete(res);
	cJSON_Delete(j);
	{
		char cmd[256];

		if (util_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root) >= 0 && system(cmd) != 0)
			printf("could not remove %s\n", root);
	}
}

/* ------------------------------------------------------------ against S3 */

struct s3env {
	const char *endpoint, *ak, *sk, *oak, *osk, *region, *dns;
	char bucket[64];
};

static int
s3env_load(struct s3env *e)
{
	unsigned char r[6];
	char hex[13];

	e->endpoint = getenv("S3_TEST_ENDPOINT");
	e->ak = getenv("S3_TEST_ACCESS_KEY");
	e->sk = getenv("S3_TEST_SECRET_KEY");
	e->oak = getenv("S3_TEST_OTHER_ACCESS_KEY");
	e->osk = getenv("S3_TEST_OTHER_SECRET_KEY");
	e->region = getenv("S3_TEST_REGION");
	e->dns = getenv("S3_TEST_DNS_NAME");
	if (!e->endpoint || !e->ak || !e->sk || !e->oak || !e->osk || !e->region) {
		printf("FAIL: S3_TEST_* not set (tests/lib/radosgw.sh start DIR)\n");
		return -1;
	}
	randombytes_buf(r, sizeof(r));
	util_hex(hex, r, sizeof(r));
	return util_snprintf(e->bucket, sizeof(e->bucket), "lt-%s", hex) < 0 ? -1 : 0;
}

static void
s3dest(const struct s3env *e, struct objstore_dest *d, const char *ak, const char *sk)
{
	memset(d, 0, sizeof(*d));
	d->provider = "custom";
	d->bucket = e->bucket;
	d->region = e->region;
	d->endpoint = e->endpoint;
	d->access_key = ak;
	d->secret_key = sk;
	d->path_style = true;
	d->path = "prefix/dir";
}

static int
make_bucket(const struct objstore_dest *d)
{
	char err[512];
	int rc = s3_bucket_create(d, err, sizeof(err));

	CHECK(rc == 0, "create bucket");
	if (rc != 0)
		printf("  create bucket: %s\n", err);
	return rc;
}

static void
case_small(const struct s3env *e)
{
	struct objstore_dest d;

	s3dest(e, &d, e->ak, e->sk);
	if (make_bucket(&d) != 0)
		return;
	roundtrip(&d, "launcher/database/d1/small.pgdump", 100000, 3000, 1);
	roundtrip(&d, "empty", 0, 10, 2);
	/* exactly one part: still a single PUT */
	roundtrip(&d, "one-part", OBJSTORE_PART, 1 << 20, 3);
}

static void
case_multipart(const struct s3env *e)
{
	struct objstore_dest d;
	char err[512];
	struct objstore_put *p;
	unsigned char *buf = malloc(1 << 20);

	s3dest(e, &d, e->ak, e->sk);
	if (make_bucket(&d) != 0)
		return;
	roundtrip(&d, "launcher/volume/v1/big.tar", 20u << 20, 1 << 20, 4);
	roundtrip(&d, "part-and-a-byte", OBJSTORE_PART + 1, 65536, 5);
	/* Aborted after two parts: nothing is left under the key. */
	p = objstore_put_open(&d, "aborted", err, sizeof(err));
	CHECK(p != NULL, "open to abort");
	for (int i = 0; p != NULL && i < 17; i++) {
		fill(buf, 1 << 20, 6, (uint64_t)i << 20);
		CHECK(objstore_put_write(p, buf, 1 << 20) == 0, "write before abort");
	}
	if (p != NULL)
		CHECK(objstore_put_close(p, false, NULL, NULL, err, sizeof(err)) == 0, "abort");
	CHECK(objstore_get(&d, "aborted", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0 &&
	      strncmp(err, "NoSuchKey", 9) == 0, "aborted upload left no object");
	free(buf);
}

static void
case_virtual(const struct s3env *e)
{
	struct objstore_dest d;
	char ep[256];

	if (e->dns == NULL) {
		printf("FAIL: S3_TEST_DNS_NAME not set\n");
		unit_fail++;
		return;
	}
	/* http://<bucket>.localhost:PORT: curl resolves *.localhost itself. */
	CHECK(util_snprintf(ep, sizeof(ep), "http://%s:%s", e->dns, strrchr(e->endpoint, ':') + 1) >= 0, "endpoint");
	s3dest(e, &d, e->ak, e->sk);
	d.endpoint = ep;
	d.path_style = false;
	if (make_bucket(&d) != 0)
		return;
	roundtrip(&d, "virtual/small", 5000, 1000, 8);
	roundtrip(&d, "virtual/multi", 17u << 20, 1 << 20, 9);
}

static bool
has_key(const char *err, const struct s3env *e)
{
	return strstr(err, e->sk) != NULL || strstr(err, e->osk) != NULL || strstr(err, e->ak) != NULL;
}

static void
case_auth(const struct s3env *e)
{
	struct objstore_dest d, bad;
	char err[512] = "";
	struct objstore_put *p;

	s3dest(e, &d, e->ak, e->sk);
	if (make_bucket(&d) != 0)
		return;
	/* Wrong secret. */
	s3dest(e, &bad, e->ak, "0000000000000000000000000000000000000000");
	p = objstore_put_open(&bad, "x", err, sizeof(err));
	CHECK(p != NULL && objstore_put_write(p, "abc", 3) == 0, "open with a wrong secret");
	CHECK(objstore_put_close(p, true, NULL, NULL, err, sizeof(err)) != 0 &&
	      strncmp(err, "SignatureDoesNotMatch:", 22) == 0, "wrong secret -> SignatureDoesNotMatch");
	printf("  wrong secret: %s\n", err);
	CHECK(!has_key(err, e), "no key in the error");
	/* Unknown access key. */
	s3dest(e, &bad, "NOSUCHKEY0000000000", e->sk);
	CHECK(objstore_get(&bad, "x", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0 &&
	      strncmp(err, "InvalidAccessKeyId:", 19) == 0, "unknown key -> InvalidAccessKeyId");
	printf("  unknown key: %s\n", err);
	CHECK(!has_key(err, e), "no key in the error");
	/* The other user, in this user's bucket: put, get, delete all refused. */
	s3dest(e, &bad, e->oak, e->osk);
	p = objstore_put_open(&bad, "x", err, sizeof(err));
	CHECK(p != NULL && objstore_put_write(p, "abc", 3) == 0, "open as the other user");
	CHECK(objstore_put_close(p, true, NULL, NULL, err, sizeof(err)) != 0 &&
	      strncmp(err, "AccessDenied:", 13) == 0, "other user's bucket -> AccessDenied (put)");
	printf("  other user: %s\n", err);
	CHECK(!has_key(err, e), "no key in the error");
	roundtrip(&d, "owned", 10, 10, 10);
	{
		struct objstore_put *q = objstore_put_open(&d, "owned", err, sizeof(err));

		CHECK(q != NULL && objstore_put_write(q, "mine", 4) >= 0 &&
		      objstore_put_close(q, true, NULL, NULL, err, sizeof(err)) == 0, "owner puts");
	}
	CHECK(objstore_get(&bad, "owned", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0 &&
	      strncmp(err, "AccessDenied:", 13) == 0, "other user's bucket -> AccessDenied (get)");
	CHECK(objstore_delete(&bad, "owned", err, sizeof(err)) != 0 &&
	      strncmp(err, "AccessDenied:", 13) == 0, "other user's bucket -> AccessDenied (delete)");
	/* A bucket that does not exist: the delete is not silently "done". */
	d.bucket = "lt-no-such-bucket-here";
	CHECK(objstore_delete(&d, "x", err, sizeof(err)) != 0 && strncmp(err, "NoSuchBucket", 12) == 0,
	      "delete in a missing bucket fails");
	/* Nothing listens: a transport error, no key. */
	d.endpoint = "http://127.0.0.1:1";
	CHECK(objstore_get(&d, "x", NULL, NULL, NULL, NULL, err, sizeof(err)) != 0 && !has_key(err, e),
	      "connection refused");
}

static const char *
step_error(cJSON *res, int i)
{
	cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "steps"), i);
	cJSON *e = cJSON_GetObjectItem(s, "error");

	return cJSON_IsString(e) ? e->valuestring : "";
}

static void
case_test(const struct s3env *e)
{
	struct objstore_dest d, bad;
	cJSON *res, *j;
	char *s;

	s3dest(e, &d, e->ak, e->sk);
	if (make_bucket(&d) != 0)
		return;
	res = objstore_test(&d);
	s = cJSON_PrintUnformatted(res);
	printf("  %s\n", s ? s : "null");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(res, "ok")), "test ok");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(res, "steps")) == 3, "three steps");
	CHECK(s != NULL && strstr(s, "{\"step\":\"write\",\"ok\":true,\"ms\":") != NULL, "write step shape");
	CHECK(s != NULL && strstr(s, "\"step\":\"read\",\"ok\":true") != NULL, "read step");
	CHECK(s != NULL && strstr(s, "\"step\":\"delete\",\"ok\":true") != NULL, "delete step");
	free(s);
	cJSON_Delete(res);
	/* A refused key: one failed step, the later ones absent. */
	s3dest(e, &bad, "NOSUCHKEY0000000000", e->sk);
	res = objstore_test(&bad);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(res, "ok")), "bad key: not ok");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(res, "steps")) == 1, "bad key: write step only");
	CHECK(strncmp(step_error(res, 0), "InvalidAccessKeyId:", 19) == 0, "bad key: the error");
	cJSON_Delete(res);
	/* Through the JSON of a job payload. */
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "provider", "custom");
	cJSON_AddStringToObject(j, "bucket", e->bucket);
	cJSON_AddStringToObject(j, "endpoint", e->endpoint);
	cJSON_AddStringToObject(j, "region", e->region);
	cJSON_AddStringToObject(j, "url_style", "path");
	cJSON_AddStringToObject(j, "access_key", e->ak);
	cJSON_AddStringToObject(j, "secret_key", "wrong-secret-wrong-secret");
	res = objstore_test_json(j, NULL, NULL);
	CHECK(strncmp(step_error(res, 0), "SignatureDoesNotMatch:", 22) == 0, "json: wrong secret");
	cJSON_Delete(res);
	cJSON_Delete(j);
}

/*
 * The peak RSS of this process's own memory, in KiB (VmHWM; -1 unknown).
 * Not getrusage's ru_maxrss: Linux folds the peak of the memory replaced
 * by execve into it, i.e. the forking test runner's size.
 */
static long
peak_rss_kib(void)
{
	char  line[256];
	long  kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0) {
			int64_t v;
			char   *s = line + 6, *end;

			while (*s == ' ' || *s == '\t')
				s++;
			end = s + strcspn(s, " \t\n");
			*end = '\0';
			if (util_parse_i64(s, 0, INT64_MAX, &v) == 0)
				kib = (long)v;
		}
	fclose(f);
	return kib;
}

/* A 200 MiB stream uploaded (25 parts) and read back: the process's peak
 * RSS stays well under 40 MB (one 8 MiB part buffer, whatever the size). */
static void
case_rss(const struct s3env *e)
{
	struct objstore_dest d;
	long                 kib;

	s3dest(e, &d, e->ak, e->sk);
	if (make_bucket(&d) != 0)
		return;
	roundtrip(&d, "launcher/database/big/rss.pgdump", 200u << 20, 64 << 10, 11);
	kib = peak_rss_kib();
	printf("  peak RSS (VmHWM) after 200 MiB up and down: %ld KiB\n", kib);
	CHECK(kib > 0 && kib < 40 * 1000, "peak RSS < 40 MB");
}

int
main(int argc, char **argv)
{
	static const struct { const char *name; void (*fn)(const struct s3env *); } cases[] = {
		{"small", case_small}, {"multipart", case_multipart}, {"virtual", case_virtual},
		{"auth", case_auth}, {"test", case_test}, {"rss", case_rss},
	};
	struct s3env e;
	bool found = false;

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	if (argc < 3 || strcmp(argv[1], "s3") != 0) {
		test_checks();
		test_endpoints();
		test_keys();
		test_errors();
		test_local();
		return unit_done("objstore");
	}
	if (s3env_load(&e) != 0) {
		unit_fail++;
		return unit_done("objstore s3");
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, argv[2]) == 0) {
			cases[i].fn(&e);
			found = true;
		}
	}
	if (!found) {
		printf("FAIL: no case %s\n", argv[2]);
		unit_fail++;
	}
	return unit_done(argv[2]);
}
