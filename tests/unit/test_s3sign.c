/*
 * test_s3sign.c - the hand-written part of S3 in core/s3.c: the SigV4 core
 * against EVERY vector of AWS's aws-sig-v4-test-suite (canonical request,
 * string to sign, Authorization header; the copy in
 * tests/unit/fixtures/aws-sig-v4-test-suite, origin in its ORIGIN file),
 * s3_presign against AWS's presigned-URL example (Amazon S3 API reference,
 * "Authenticating Requests: Using Query Parameters", GET examplebucket/test.txt),
 * and the ListObjectsV2 parser (s3_list_parse).  Offline; run from the
 * repository root (make unit, tests/run.sh) or with S3SIGN_SUITE=DIR.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/s3.h"
#include "core/util.h"
#include "unit.h"

#define SUITE_DEFAULT "tests/unit/fixtures/aws-sig-v4-test-suite"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *
slurp(const char *path)
{
	char *s = NULL;
	size_t n;

	if (util_read_file(path, 1 << 20, &s, &n) != 0)
		return NULL;
	return s;
}

/* One vector: <dir>/<name>.req against .creq, .sts and .authz. */
static void
vector(const char *dir, const char *name)
{
	char path[4096], *req, *creq, *sts, *authz, *line, *save, *body;
	struct s3_sig_param q[16], h[16];
	int nq = 0, nh = 0;
	char method[16], uri[512], got[8192], sh[256], gsts[1024], sig[65], gauthz[1024];
	char date[32] = "", date8[9], scope[128], phash[65];
	unsigned char sha[32];
	char *qs;

	util_snprintf(path, sizeof(path), "%s/%s.req", dir, name);
	req = slurp(path);
	util_snprintf(path, sizeof(path), "%s/%s.creq", dir, name);
	creq = slurp(path);
	util_snprintf(path, sizeof(path), "%s/%s.sts", dir, name);
	sts = slurp(path);
	util_snprintf(path, sizeof(path), "%s/%s.authz", dir, name);
	authz = slurp(path);
	if (req == NULL || creq == NULL || sts == NULL || authz == NULL) {
		printf("FAIL %s: a file is missing\n", name);
		unit_fail++;
		goto out;
	}
	/* The body follows the first empty line. */
	body = strstr(req, "\n\n");
	if (body != NULL) {
		*body = '\0';
		body += 2;
	} else {
		body = "";
	}
	crypto_hash_sha256(sha, (const unsigned char *)body, strlen(body));
	util_hex(phash, sha, sizeof(sha));
	/* Request line: METHOD SP URI (may hold spaces) SP HTTP/1.1 */
	line = strtok_r(req, "\n", &save);
	{
		char *sp = strchr(line, ' '), *ver = strstr(line, " HTTP/1.1");

		if (sp == NULL || ver == NULL || (size_t)(sp - line) >= sizeof(method) ||
		    (size_t)(ver - sp - 1) >= sizeof(uri)) {
			printf("FAIL %s: request line\n", name);
			unit_fail++;
			goto out;
		}
		util_snprintf(method, sizeof(method), "%.*s", (int)(sp - line), line);
		util_snprintf(uri, sizeof(uri), "%.*s", (int)(ver - sp - 1), sp + 1);
	}
	qs = strchr(uri, '?');
	if (qs != NULL) {
		char *pair, *qsave;

		*qs++ = '\0';
		for (pair = strtok_r(qs, "&", &qsave); pair && nq < 16; pair = strtok_r(NULL, "&", &qsave)) {
			char *eq = strchr(pair, '=');

			if (eq != NULL)
				*eq++ = '\0';
			q[nq++] = (struct s3_sig_param){pair, eq ? eq : ""};
		}
	}
	/* Headers "Name:value"; a line starting with blanks continues the
	 * previous header's value (joined with ',' like a repeated header). */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && nh < 16) {
		if ((line[0] == ' ' || line[0] == '\t') && nh > 0) {
			h[nh] = (struct s3_sig_param){h[nh - 1].name, line};
			nh++;
			continue;
		}
		char *colon = strchr(line, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		h[nh++] = (struct s3_sig_param){line, colon + 1};
		if (util_ieq(line, "X-Amz-Date"))
			util_snprintf(date, sizeof(date), "%s", colon + 1);
	}
	CHECK(s3_sigv4_canonical_request(method, uri, q, (size_t)nq, h, (size_t)nh, phash,
	                                 S3_SIG_PATH_NORMALIZE, got, sizeof(got), sh, sizeof(sh)) == 0,
	      name);
	if (strcmp(got, creq) != 0) {
		printf("FAIL %s: canonical request\n--- got\n%s\n--- want\n%s\n", name, got, creq);
		unit_fail++;
		goto out;
	}
	unit_pass++;
	util_snprintf(date8, sizeof(date8), "%.8s", date);
	util_snprintf(scope, sizeof(scope), "%s/us-east-1/service/aws4_request", date8);
	CHECK(s3_sigv4_string_to_sign(date, scope, got, gsts, sizeof(gsts)) == 0 && strcmp(gsts, sts) == 0,
	      name);
	CHECK(s3_sigv4_signature(SECRET, date8, "us-east-1", "service", gsts, sig) == 0, name);
	util_snprintf(gauthz, sizeof(gauthz),
	              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%s, SignedHeaders=%s, Signature=%s",
	              scope, sh, sig);
	if (strcmp(gauthz, authz) != 0) {
		printf("FAIL %s: authorization\n got %s\nwant %s\n", name, gauthz, authz);
		unit_fail++;
	} else {
		unit_pass++;
	}
out:
	free(req);
	free(creq);
	free(sts);
	free(authz);
}

/* Every directory holding a <name>/<name>.req, recursively. */
static int
walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char sub[4096], req[4200];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		util_snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		util_snprintf(req, sizeof(req), "%s/%s.req", sub, e->d_name);
		if (access(req, R_OK) == 0) {
			vector(sub, e->d_name);
			n++;
		}
		n += walk(sub);
	}
	closedir(d);
	return n;
}

static void
test_suite(void)
{
	const char *dir = getenv("S3SIGN_SUITE") ? getenv("S3SIGN_SUITE") : SUITE_DEFAULT;
	int n = walk(dir);

	/* 31 cases: 22 at the top, 7 under normalize-path, 2 under post-sts-token. */
	printf("  aws-sig-v4-test-suite: %d vectors\n", n);
	CHECK(n == 31, "every vector of the suite was found");
}

/* S3: the path is not normalized ("//" stays), and encoded once. */
static void
test_s3_path(void)
{
	char got[1024], sh[64];
	struct s3_sig_param h[1] = {{"Host", "example.com"}};

	CHECK(s3_sigv4_canonical_request("GET", "/my-object//example//photo.user", NULL, 0, h, 1,
	                                 "UNSIGNED-PAYLOAD", S3_SIG_PATH_RAW, got, sizeof(got), sh,
	                                 sizeof(sh)) == 0 &&
	      strncmp(got, "GET\n/my-object//example//photo.user\n", 36) == 0, "S3 path kept as is");
	CHECK(s3_sigv4_canonical_request("GET", "/a b/c%", NULL, 0, h, 1, "UNSIGNED-PAYLOAD",
	                                 S3_SIG_PATH_RAW, got, sizeof(got), sh, sizeof(sh)) == 0 &&
	      strncmp(got, "GET\n/a%20b/c%25\n", 16) == 0, "S3 path encoded once");
}

/* AWS's documented example: GET examplebucket/test.txt, one day. */
static void
test_presign_aws_example(void)
{
	char url[2048];
	/* 2013-05-24T00:00:00Z */
	time_t t = 1369353600;

	CHECK(s3_presign("GET", "https://examplebucket.s3.amazonaws.com", "us-east-1", NULL, "test.txt",
	                 "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 86400, t,
	                 url, sizeof(url)) == 0, "presign the AWS example");
	CHECK(strcmp(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	                  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	                  "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
	                  "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == 0,
	      "the AWS example URL and signature");
	/* The same object, path style on a port: the URL's shape. */
	CHECK(s3_presign("PUT", "http://127.0.0.1:9000", NULL, "b1", "dir/a b.txt", "AK", "SK", 60, t,
	                 url, sizeof(url)) == 0 &&
	      strncmp(url, "http://127.0.0.1:9000/b1/dir/a%20b.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
	                   "X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&", 117) == 0,
	      "path style URL");
	CHECK(s3_presign("DELETE", "http://h", NULL, "b", "k", "AK", "SK", 60, t, url, sizeof(url)) != 0,
	      "method refused");
	CHECK(s3_presign("GET", "http://h", NULL, "b", "k", "AK", "SK", 0, t, url, sizeof(url)) != 0 &&
	      s3_presign("GET", "http://h", NULL, "b", "k", "AK", "SK", 604801, t, url, sizeof(url)) != 0,
	      "expiry bounds");
	CHECK(s3_presign("GET", "http://h", NULL, "b", "k", "AK", "SK", 604800, t, url, sizeof(url)) == 0,
	      "seven days allowed");
	CHECK(s3_presign("GET", "ftp://h", NULL, "b", "k", "AK", "SK", 60, t, url, sizeof(url)) != 0 &&
	      s3_presign("GET", "http://h", NULL, "b", "", "AK", "SK", 60, t, url, sizeof(url)) != 0,
	      "endpoint scheme and empty key refused");
	CHECK(s3_presign("GET", "http://h", NULL, "b", "k", "AK", "SK", 60, t, url, 40) != 0,
	      "too small an output");
}

struct seen { int n; char keys[4][64]; uint64_t sizes[4]; char etag[64], mtime[64]; };

static int
on_obj(void *ud, const char *key, uint64_t size, const char *etag, const char *mtime)
{
	struct seen *s = ud;

	if (s->n < 4) {
		util_snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
		s->sizes[s->n] = size;
		util_snprintf(s->etag, sizeof(s->etag), "%s", etag);
		util_snprintf(s->mtime, sizeof(s->mtime), "%s", mtime);
	}
	s->n++;
	return 0;
}

static void
test_list_parse(void)
{
	static const char ok[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
	    "<Contents><Key>a&amp;b.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
	    "<ETag>&quot;9e107d9d372bb6826bd81d3542a419d6&quot;</ETag><Size>43</Size><StorageClass>STANDARD</StorageClass></Contents>"
	    "<Contents><Key>&lt;IsTruncated&gt;false</Key><Size>0</Size></Contents></ListBucketResult>";
	static const char bad[] = "<ListBucketResult><Contents><Key>x</Key><Size>-1</Size></Contents></ListBucketResult>";
	struct seen s = {0};
	bool tr = false;
	char err[128];

	CHECK(s3_list_parse(ok, sizeof(ok) - 1, on_obj, &s, &tr, err, sizeof(err)) == 0, "parse a listing");
	CHECK(s.n == 2 && strcmp(s.keys[0], "a&b.txt") == 0 && s.sizes[0] == 43 &&
	      strcmp(s.keys[1], "<IsTruncated>false") == 0 && s.sizes[1] == 0, "keys, entities, sizes");
	CHECK(tr, "IsTruncated read outside the keys");
	memset(&s, 0, sizeof(s));
	CHECK(s3_list_parse(ok, 200, on_obj, &s, &tr, err, sizeof(err)) == 0 || s.n == 0,
	      "a cut answer never calls back with half an object");
	CHECK(s3_list_parse(ok, sizeof(ok) - 30, on_obj, &s, &tr, err, sizeof(err)) != 0, "unclosed Contents refused");
	CHECK(s3_list_parse(bad, sizeof(bad) - 1, on_obj, &s, &tr, err, sizeof(err)) != 0, "negative size refused");
	CHECK(s3_list_parse("<Error/>", 8, on_obj, &s, &tr, err, sizeof(err)) != 0, "not a listing");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_suite();
	test_s3_path();
	test_presign_aws_example();
	test_list_parse();
	return unit_done("s3sign");
}
