/*
 * test_bucketstore.c - the object-store driver (core/bucketstore.c).
 *
 *   test_bucketstore             offline cases (make unit): bucket name rules;
 *                                the sio-go stream against sio-go's published
 *                                vectors; the madmin body encryption round trip
 *                                through a decryptor written here from the
 *                                published format; and the MinIO driver as a
 *                                CONTRACT TEST (MinIO cannot run here): against
 *                                a stand-in HTTP server forked by this binary,
 *                                the exact methods, paths, queries and the
 *                                decrypted bodies madmin-go sends.
 *   test_bucketstore rgw CASE    one case against a real radosgw (S3_TEST_*,
 *                                tests/lib/radosgw.sh; launcher-test holds the
 *                                admin caps), driven by tests/api/test_bucketstore.py:
 *                                isolation, rotate, delete, public, presign
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "core/bucketstore.h"
#include "core/objstore.h"
#include "core/s3.h"
#include "core/util.h"
#include "unit.h"

#define SIO_VECTORS "tests/unit/fixtures/sio-go-test-vectors.json"

/* ---------------------------------------------------------------- names */

static void
test_names(void)
{
	static const struct { const char *n; bool ok; } t[] = {
		{"lnchr-0123456789ab-photos", true}, {"abc", true}, {"a.b-c", true},
		{"ab", false}, {"Abc", false}, {"a_b", false}, {"-ab", false}, {"ab-", false},
		{"a..b", false}, {"a.-b", false}, {"192.168.5.4", false}, {"", false},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},   /* 64 */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(bstore_name_ok(t[i].n) == t[i].ok, t[i].n);
	CHECK(!bstore_name_ok(NULL), "NULL name");
}

/* ------------------------------------------- sio-go stream, madmin body */

static unsigned char *
unhex(const char *h, size_t *n)
{
	size_t l = strlen(h) / 2;
	unsigned char *o = malloc(l + 1);

	if (o == NULL || sodium_hex2bin(o, l + 1, h, strlen(h), NULL, n, NULL) != 0) {
		free(o);
		return NULL;
	}
	return o;
}

/* sio-go's vectors (fixtures copy, origin in ORIGIN): every AES-GCM one. */
static void
test_sio_vectors(void)
{
	char *text = NULL;
	size_t tl = 0;
	cJSON *all, *v;
	int n = 0;

	if (util_read_file(SIO_VECTORS, 1 << 20, &text, &tl) != 0 || text == NULL) {
		printf("FAIL: %s missing\n", SIO_VECTORS);
		unit_fail++;
		return;
	}
	all = cJSON_Parse(text);
	free(text);
	cJSON_ArrayForEach(v, all) {
		const char *alg = cJSON_GetObjectItemCaseSensitive(v, "Algorithm")->valuestring;
		size_t kl, nl, al, pl, cl, ol = 0;
		unsigned char *k, *no, *ad, *p, *c, *o = NULL;

		if (strncmp(alg, "AES-", 4) != 0)
			continue;   /* XChaCha20-Poly1305: not a madmin cipher */
		k = unhex(cJSON_GetObjectItemCaseSensitive(v, "Key")->valuestring, &kl);
		no = unhex(cJSON_GetObjectItemCaseSensitive(v, "Nonce")->valuestring, &nl);
		ad = unhex(cJSON_GetObjectItemCaseSensitive(v, "AssociatedData")->valuestring, &al);
		p = unhex(cJSON_GetObjectItemCaseSensitive(v, "Plaintext")->valuestring, &pl);
		c = unhex(cJSON_GetObjectItemCaseSensitive(v, "Ciphertext")->valuestring, &cl);
		CHECK(k && no && ad && p && c && nl == 8, "vector decodes");
		if (k && no && ad && p && c) {
			int rc = bstore_sio_seal(k, kl, no, ad, al,
			                         (size_t)cJSON_GetObjectItemCaseSensitive(v, "BufSize")->valueint,
			                         p, pl, &o, &ol);

			CHECK(rc == 0 && ol == cl && memcmp(o, c, cl) == 0, "sio-go vector");
			n++;
		}
		free(o);
		free(k);
		free(no);
		free(ad);
		free(p);
		free(c);
	}
	cJSON_Delete(all);
	printf("  sio-go vectors: %d AES-GCM\n", n);
	CHECK(n == 14, "every AES-GCM vector of sio-go");
}

static int
gcm_open(const unsigned char *key, const unsigned char nonce8[8], uint32_t seq,
         const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char iv[12];
	int l = 0, rc = -1;

	if (n < 16 || c == NULL)
		goto out;
	memcpy(iv, nonce8, 8);
	for (int i = 0; i < 4; i++)
		iv[8 + i] = (unsigned char)(seq >> (8 * i));
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(c, NULL, NULL, key, iv) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &l, aad, (int)aadlen) == 1 &&
	    (n == 16 || EVP_DecryptUpdate(c, out, &l, in, (int)(n - 16)) == 1) &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + n - 16)) == 1 &&
	    EVP_DecryptFinal_ex(c, out + n - 16, &l) == 1)
		rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/*
 * Our own madmin DecryptData for id 0x02, from the published format
 * (madmin-go encrypt.go, sio-go): salt | id | nonce | fragments of 16384
 * bytes + 16-byte tag, the last flagged 0x80.  Returns the plaintext
 * (malloc'd, NUL-terminated) or NULL.
 */
static char *
madmin_decrypt(const char *password, const unsigned char *in, size_t n, size_t *outlen)
{
	unsigned char key[32], ad[17];
	char *out;
	size_t off = 41, w = 0;
	uint32_t seq = 1;

	if (n < 41 + 16 || in[32] != 0x02 ||
	    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), in, 32, 8192, EVP_sha256(), 32, key) != 1)
		return NULL;
	out = malloc(n);
	ad[0] = 0x00;
	/* the fragments' associated data: the tag of nothing at sequence 0 */
	{
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		unsigned char iv[12] = {0};
		int l;

		memcpy(iv, in + 33, 8);
		EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL);
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
		EVP_EncryptInit_ex(c, NULL, NULL, key, iv);
		EVP_EncryptFinal_ex(c, ad + 1, &l);
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ad + 1);
		EVP_CIPHER_CTX_free(c);
	}
	while (out != NULL) {
		size_t left = n - off, frag = left > 16384 + 16 ? 16384 + 16 : left;

		ad[0] = frag == left ? 0x80 : 0x00;
		if (gcm_open(key, in + 33, seq++, ad, sizeof(ad), in + off, frag, (unsigned char *)out + w) != 0) {
			free(out);
			return NULL;
		}
		w += frag - 16;
		off += frag;
		if (off == n)
			break;
	}
	if (out != NULL)
		out[w] = '\0';
	*outlen = w;
	return out;
}

static void
test_madmin_roundtrip(void)
{
	static const size_t sizes[] = {0, 1, 16383, 16384, 16385, 40000};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *plain = malloc(sizes[i] + 1), *enc = NULL;
		size_t el = 0, dl = 0;
		char *dec;

		randombytes_buf(plain, sizes[i] + 1);
		CHECK(bstore_madmin_encrypt("admin-secret", plain, sizes[i], &enc, &el) == 0, "encrypt");
		CHECK(el == 41 + sizes[i] + 16 * (sizes[i] / 16384 + (sizes[i] % 16384 || !sizes[i] ? 1 : 0)),
		      "salt | id | nonce | fragments with tags");
		CHECK(enc != NULL && enc[32] == 0x02, "id 0x02: PBKDF2 + AES-GCM");
		dec = enc ? madmin_decrypt("admin-secret", enc, el, &dl) : NULL;
		CHECK(dec != NULL && dl == sizes[i] && memcmp(dec, plain, dl) == 0, "round trip");
		free(dec);
		if (enc != NULL && el > 50) {
			enc[45] ^= 1;   /* one bit of ciphertext */
			CHECK(madmin_decrypt("admin-secret", enc, el, &dl) == NULL, "tampering detected");
			enc[45] ^= 1;
		}
		CHECK(enc == NULL || madmin_decrypt("other", enc, el, &dl) == NULL, "wrong password refused");
		free(enc);
		free(plain);
	}
}

/* ---------------------------------------- MinIO: stand-in admin server */

/*
 * A one-process HTTP/1.1 server on loopback: for each request it appends
 * "METHOD TARGET\n<hex body>\n" to the record file and answers 200 with an
 * empty body (ListObjectsV2: one object, so a delete without force is
 * refused) or, for a target listed in fail, 404.  Connection: close.
 */
static void
standin_serve(int ls, const char *record)
{
	for (;;) {
		int c = accept(ls, NULL, NULL);
		char *req = malloc(1 << 20), *hend, *cl;
		size_t got = 0, need = 0;
		FILE *f;
		const char *answer;
		char buf[1024];

		if (c < 0 || req == NULL)
			_exit(1);
		for (;;) {
			ssize_t r = read(c, req + got, (1 << 20) - 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			hend = strstr(req, "\r\n\r\n");
			if (hend == NULL)
				continue;
			cl = strcasestr(req, "\ncontent-length:");
			need = (size_t)(hend + 4 - req);
			if (cl != NULL && cl < hend) {
				char num[24];
				int64_t v = 0;

				util_snprintf(num, sizeof(num), "%.*s", (int)strcspn(cl + 16, "\r"), cl + 16);
				if (util_parse_i64(util_trim(num), 0, 1 << 19, &v) == 0)
					need += (size_t)v;
			}
			if (got >= need)
				break;
		}
		hend = strstr(req, "\r\n\r\n");
		f = fopen(record, "a");
		if (f != NULL && hend != NULL) {
			char *sp2 = strchr(strchr(req, ' ') + 1, ' ');
			bool signed_ = strcasestr(req, "\nauthorization: AWS4-HMAC-SHA256 ") != NULL;

			fprintf(f, "%.*s%s\n", (int)(sp2 - req), req, signed_ ? "" : " UNSIGNED");
			for (char *p = hend + 4; p < req + got; p++)
				fprintf(f, "%02x", (unsigned char)*p);
			fprintf(f, "\n");
			fclose(f);
		}
		if (strstr(req, "list-type=2") != NULL) {
			static const char xml[] =
			    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>5</Size>"
			    "<ETag>&quot;x&quot;</ETag><LastModified>2026-01-01T00:00:00Z</LastModified></Contents>"
			    "</ListBucketResult>";

			util_snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			              "Connection: close\r\n\r\n%s", sizeof(xml) - 1, xml);
			answer = buf;
		} else {
			answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		}
		if (write(c, answer, strlen(answer)) < 0)
			_exit(1);
		close(c);
		free(req);
	}
}

struct rec { char line[512]; char *body; size_t blen; };

/* The recorded requests (at most max) into r; the count. */
static int
records(const char *path, struct rec *r, int max)
{
	FILE *f = fopen(path, "r");
	char hexbuf[200000];
	int n = 0;

	if (f == NULL)
		return 0;
	while (n < max && fgets(r[n].line, sizeof(r[n].line), f) != NULL &&
	       fgets(hexbuf, sizeof(hexbuf), f) != NULL) {
		size_t hl = strcspn(hexbuf, "\n");

		r[n].line[strcspn(r[n].line, "\n")] = '\0';
		hexbuf[hl] = '\0';
		r[n].body = (char *)unhex(hexbuf, &r[n].blen);
		n++;
	}
	fclose(f);
	return n;
}

static void
records_free(struct rec *r, int n)
{
	for (int i = 0; i < n; i++)
		free(r[i].body);
}

/* The decrypted body of r as JSON (NULL when it does not decrypt). */
static cJSON *
body_json(const struct rec *r)
{
	size_t dl = 0;
	char *d = r->body ? madmin_decrypt("minio-admin-secret", (unsigned char *)r->body, r->blen, &dl) : NULL;
	cJSON *j = d ? cJSON_Parse(d) : NULL;

	free(d);
	return j;
}

static const char *
jstr(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void
test_minio_contract(void)
{
	char dir[] = "/tmp/bstore-minio-XXXXXX", record[128], ep[64], err[256];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), n;
	pid_t pid;
	struct bstore s;
	struct bstore_key k, k2;
	struct rec r[16];
	cJSON *j;
	const char *B = "lnchr-0123456789ab-photos";

	if (mkdtemp(dir) == NULL || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(ls, 16) != 0 || getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
		printf("FAIL: stand-in server\n");
		unit_fail++;
		return;
	}
	util_snprintf(record, sizeof(record), "%s/requests", dir);
	util_snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ntohs(a.sin_port));
	pid = fork();
	if (pid == 0)
		standin_serve(ls, record);
	close(ls);
	s = (struct bstore){"minio", ep, NULL, "minioadmin", "minio-admin-secret", NULL};

	/* create: policy, parent user, attach, service account, bucket */
	CHECK(bstore_bucket_create(&s, B, &k, err, sizeof(err)) == 0, "minio create");
	n = records(record, r, 16);
	CHECK(n == 5, "create: five requests");
	if (n == 5) {
		CHECK(strcmp(r[0].line, "PUT /minio/admin/v4/add-canned-policy?name=lnchr-0123456789ab-photos") == 0,
		      "add-canned-policy");
		j = r[0].body ? cJSON_ParseWithLength(r[0].body, r[0].blen) : NULL;
		CHECK(j != NULL && strstr(r[0].body, "\"arn:aws:s3:::lnchr-0123456789ab-photos\",\"arn:aws:s3:::lnchr-0123456789ab-photos/*\"") != NULL,
		      "the policy: the bucket and its objects only");
		cJSON_Delete(j);
		CHECK(strcmp(r[1].line, "PUT /minio/admin/v4/add-user?accessKey=lnchr-0123456789ab-photos") == 0, "add-user");
		j = body_json(&r[1]);
		CHECK(j != NULL && strcmp(jstr(j, "status"), "enabled") == 0 && strlen(jstr(j, "secretKey")) == 40,
		      "add-user body decrypts: {secretKey, status}");
		cJSON_Delete(j);
		CHECK(strcmp(r[2].line, "POST /minio/admin/v4/idp/builtin/policy/attach") == 0, "policy attach");
		j = body_json(&r[2]);
		CHECK(j != NULL && strcmp(jstr(j, "user"), B) == 0 &&
		      strcmp(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "policies"), 0)->valuestring, B) == 0,
		      "attach body decrypts: {policies: [name], user: name}");
		cJSON_Delete(j);
		CHECK(strcmp(r[3].line, "PUT /minio/admin/v4/add-service-account") == 0, "add-service-account");
		j = body_json(&r[3]);
		CHECK(j != NULL && strcmp(jstr(j, "targetUser"), B) == 0 &&
		      strcmp(jstr(j, "accessKey"), k.access_key) == 0 && strcmp(jstr(j, "secretKey"), k.secret_key) == 0,
		      "service account body decrypts: {targetUser, accessKey, secretKey} = the key returned");
		cJSON_Delete(j);
		CHECK(strcmp(r[4].line, "PUT /lnchr-0123456789ab-photos") == 0, "S3 CreateBucket");
		for (int i = 0; i < n; i++)
			CHECK(strstr(r[i].line, "UNSIGNED") == NULL, "every request SigV4-signed");
	}
	records_free(r, n);
	unlink(record);

	CHECK(bstore_key_add(&s, B, &k2, err, sizeof(err)) == 0 && strcmp(k2.access_key, k.access_key) != 0,
	      "rotate: a new key");
	CHECK(bstore_key_revoke(&s, B, k.access_key, err, sizeof(err)) == 0, "revoke");
	CHECK(bstore_bucket_public(&s, B, true, err, sizeof(err)) == 0, "public");
	n = records(record, r, 16);
	CHECK(n == 3 && strcmp(r[0].line, "PUT /minio/admin/v4/add-service-account") == 0, "rotate request");
	if (n == 3) {
		char want[200];

		util_snprintf(want, sizeof(want), "DELETE /minio/admin/v4/delete-service-account?accessKey=%s", k.access_key);
		CHECK(strcmp(r[1].line, want) == 0, "revoke request");
		CHECK(strcmp(r[2].line, "PUT /lnchr-0123456789ab-photos?policy=") == 0 && r[2].body &&
		      strstr(r[2].body, "\"s3:GetObject\"") && strstr(r[2].body, "arn:aws:s3:::lnchr-0123456789ab-photos/*"),
		      "public: a bucket policy of anonymous GetObject");
	}
	records_free(r, n);
	unlink(record);

	/* delete: the stand-in lists one object */
	CHECK(bstore_bucket_delete(&s, B, false, err, sizeof(err)) == 1, "non-empty without force: 1");
	n = records(record, r, 16);
	CHECK(n == 1 && strncmp(r[0].line, "GET /lnchr-0123456789ab-photos?list-type=2&max-keys=1", 53) == 0,
	      "only a listing, nothing deleted");
	records_free(r, n);
	unlink(record);
	CHECK(bstore_bucket_delete(&s, B, true, err, sizeof(err)) == 0, "force delete");
	n = records(record, r, 16);
	CHECK(n == 4, "force delete: four requests");
	if (n == 4) {
		CHECK(strcmp(r[1].line, "DELETE /lnchr-0123456789ab-photos") == 0, "DeleteBucket (x-minio-force-delete)");
		CHECK(strcmp(r[2].line, "DELETE /minio/admin/v4/remove-user?accessKey=lnchr-0123456789ab-photos") == 0,
		      "remove-user");
		CHECK(strcmp(r[3].line, "DELETE /minio/admin/v4/remove-canned-policy?name=lnchr-0123456789ab-photos") == 0,
		      "remove-canned-policy");
	}
	records_free(r, n);
	unlink(record);
	CHECK(bstore_bucket_create(&s, "Bad_Name", &k, err, sizeof(err)) == -1 && records(record, r, 1) == 0,
	      "a bad name: refused before any request");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(record);
	rmdir(dir);
}

/* ------------------------------------------------------------- radosgw */

struct env { const char *ep, *ak, *sk, *region; char a[64], b[64]; struct bstore s; };

static int
env_load(struct env *e)
{
	unsigned char r[6];
	char hex[13];

	e->ep = getenv("S3_TEST_ENDPOINT");
	e->ak = getenv("S3_TEST_ACCESS_KEY");
	e->sk = getenv("S3_TEST_SECRET_KEY");
	e->region = getenv("S3_TEST_REGION");
	if (!e->ep || !e->ak || !e->sk) {
		printf("FAIL: S3_TEST_* not set (tests/lib/radosgw.sh start DIR)\n");
		return -1;
	}
	randombytes_buf(r, sizeof(r));
	util_hex(hex, r, sizeof(r));
	util_snprintf(e->a, sizeof(e->a), "lnchr-%s-alpha", hex);
	util_snprintf(e->b, sizeof(e->b), "lnchr-%s-beta", hex);
	e->s = (struct bstore){"rgw", e->ep, e->region, e->ak, e->sk, NULL};
	return 0;
}

static void
dest(const struct env *e, const char *bucket, const struct bstore_key *k, struct objstore_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->provider = "custom";
	d->bucket = bucket;
	d->region = e->region ? e->region : "us-east-1";
	d->endpoint = e->ep;
	d->access_key = k->access_key;
	d->secret_key = k->secret_key;
	d->path_style = true;
	d->path = NULL;   /* keys as given */
}

/* Put "data" under key with k: 0, or -1 with err. */
static int
put(const struct env *e, const char *bucket, const struct bstore_key *k, const char *key,
    const char *data, char *err, size_t errlen)
{
	struct objstore_dest d;
	struct objstore_put *p;

	dest(e, bucket, k, &d);
	p = objstore_put_open(&d, key, err, errlen);
	if (p == NULL)
		return -1;
	if (objstore_put_write(p, data, strlen(data)) != 0) {
		objstore_put_close(p, false, NULL, NULL, err, errlen);
		return -1;
	}
	return objstore_put_close(p, true, NULL, NULL, err, errlen);
}

static int
get(const struct env *e, const char *bucket, const struct bstore_key *k, const char *key, char *err,
    size_t errlen)
{
	struct objstore_dest d;

	dest(e, bucket, k, &d);
	return objstore_get(&d, key, NULL, NULL, NULL, NULL, err, errlen);
}

static int
list_cb(void *ud, const char *key, uint64_t size, const char *etag, const char *mtime)
{
	(*(int *)ud)++;
	return 0;
}

static int
list(const struct env *e, const char *bucket, const struct bstore_key *k, int *count, char *err,
     size_t errlen)
{
	struct objstore_dest d;
	bool more;

	*count = 0;
	dest(e, bucket, k, &d);
	return s3_list(&d, "", NULL, 1000, list_cb, count, &more, err, errlen);
}

static bool
starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static void
case_isolation(struct env *e)
{
	struct bstore_key ka, kb, ka2;
	char err[512] = "";
	int n = 0;

	CHECK(bstore_bucket_create(&e->s, e->a, &ka, err, sizeof(err)) == 0, "create A");
	CHECK(bstore_bucket_create(&e->s, e->b, &kb, err, sizeof(err)) == 0, "create B");
	CHECK(strcmp(ka.access_key, kb.access_key) != 0, "a key per bucket");
	CHECK(put(e, e->a, &ka, "a.txt", "alpha", err, sizeof(err)) == 0, "A's key writes A");
	CHECK(put(e, e->b, &kb, "b.txt", "beta", err, sizeof(err)) == 0, "B's key writes B");
	CHECK(list(e, e->a, &ka, &n, err, sizeof(err)) == 0 && n == 1, "A's key lists A");
	CHECK(get(e, e->a, &ka, "a.txt", err, sizeof(err)) == 0, "A's key reads A");
	/* The server refuses A's key on B. */
	CHECK(list(e, e->b, &ka, &n, err, sizeof(err)) != 0 && starts(err, "AccessDenied"), "A's key cannot list B");
	printf("  list B with A's key: %s\n", err);
	CHECK(get(e, e->b, &ka, "b.txt", err, sizeof(err)) != 0 && starts(err, "AccessDenied"), "A's key cannot read B");
	CHECK(put(e, e->b, &ka, "x.txt", "intruder", err, sizeof(err)) != 0 && starts(err, "AccessDenied"),
	      "A's key cannot write B");
	/* A's principal cannot make another bucket. */
	{
		struct objstore_dest d;
		char other[80];

		util_snprintf(other, sizeof(other), "%s-x", e->a);
		dest(e, other, &ka, &d);
		CHECK(s3_bucket_create(&d, err, sizeof(err)) != 0, "A's key cannot create a bucket");
	}
	/* Creating again: the same bucket, a new key, both work. */
	err[0] = '\0';
	CHECK(bstore_bucket_create(&e->s, e->a, &ka2, err, sizeof(err)) == 0 &&
	      strcmp(ka2.access_key, ka.access_key) != 0, "create again: a new key");
	if (err[0])
		printf("  create again: %s\n", err);
	CHECK(get(e, e->a, &ka2, "a.txt", err, sizeof(err)) == 0 && get(e, e->a, &ka, "a.txt", err, sizeof(err)) == 0,
	      "create again keeps the objects and the first key");
	CHECK(bstore_bucket_create(&e->s, "Bad_Name", &ka2, err, sizeof(err)) == -1, "bad name");
	CHECK(strstr(err, ka.secret_key) == NULL, "no secret in errors");
}

static void
case_rotate(struct env *e)
{
	struct bstore_key ka, kb, k2;
	char err[512] = "";
	uint64_t objs = 0, bytes = 0;

	CHECK(bstore_bucket_create(&e->s, e->a, &ka, err, sizeof(err)) == 0, "create A");
	CHECK(bstore_bucket_create(&e->s, e->b, &kb, err, sizeof(err)) == 0, "create B");
	CHECK(bstore_key_add(&e->s, e->a, &k2, err, sizeof(err)) == 0, "rotate: a new key");
	CHECK(put(e, e->a, &k2, "new.txt", "written with the new key", err, sizeof(err)) == 0, "the new key writes");
	CHECK(get(e, e->a, &ka, "new.txt", err, sizeof(err)) == 0, "the old key still works before revoke");
	/* B's key named under A: not A's, nothing happens. */
	CHECK(bstore_key_revoke(&e->s, e->a, kb.access_key, err, sizeof(err)) == 0, "revoke a foreign key: success");
	CHECK(get(e, e->b, &kb, "none", err, sizeof(err)) != 0 && starts(err, "NoSuchKey"), "B's key untouched");
	CHECK(bstore_key_revoke(&e->s, e->a, ka.access_key, err, sizeof(err)) == 0, "revoke the old key");
	CHECK(get(e, e->a, &ka, "new.txt", err, sizeof(err)) != 0 && starts(err, "InvalidAccessKeyId"),
	      "the revoked key: InvalidAccessKeyId");
	printf("  revoked key: %s\n", err);
	CHECK(get(e, e->a, &k2, "new.txt", err, sizeof(err)) == 0, "the new key reads");
	CHECK(bstore_key_revoke(&e->s, e->a, ka.access_key, err, sizeof(err)) == 0, "revoke again: success");
	CHECK(bstore_bucket_usage(&e->s, e->a, &objs, &bytes, err, sizeof(err)) == 0 && objs == 1 &&
	      bytes == strlen("written with the new key"), "usage: objects and bytes");
	printf("  usage: %llu objects, %llu bytes\n", (unsigned long long)objs, (unsigned long long)bytes);
}

static void
case_delete(struct env *e)
{
	struct bstore_key ka;
	char err[512] = "";
	struct bstore admin_as_user;
	struct bstore_key admin = {0};
	int n = 0;

	CHECK(bstore_bucket_create(&e->s, e->a, &ka, err, sizeof(err)) == 0, "create A");
	CHECK(put(e, e->a, &ka, "keep.txt", "kept", err, sizeof(err)) == 0, "an object");
	CHECK(bstore_bucket_delete(&e->s, e->a, false, err, sizeof(err)) == 1, "non-empty, no force: 1");
	printf("  delete without force: %s\n", err);
	CHECK(get(e, e->a, &ka, "keep.txt", err, sizeof(err)) == 0 && list(e, e->a, &ka, &n, err, sizeof(err)) == 0 &&
	      n == 1, "nothing changed: the object and the key remain");
	CHECK(bstore_bucket_delete(&e->s, e->a, true, err, sizeof(err)) == 0, "force delete");
	CHECK(get(e, e->a, &ka, "keep.txt", err, sizeof(err)) != 0 && starts(err, "InvalidAccessKeyId"),
	      "the principal is gone");
	util_snprintf(admin.access_key, sizeof(admin.access_key), "%s", e->ak);
	util_snprintf(admin.secret_key, sizeof(admin.secret_key), "%s", e->sk);
	CHECK(list(e, e->a, &admin, &n, err, sizeof(err)) != 0 && starts(err, "NoSuchBucket"), "the bucket is gone");
	CHECK(bstore_bucket_delete(&e->s, e->a, false, err, sizeof(err)) == 0, "delete again: success");
	/* An empty bucket goes without force. */
	CHECK(bstore_bucket_create(&e->s, e->b, &ka, err, sizeof(err)) == 0 &&
	      bstore_bucket_delete(&e->s, e->b, false, err, sizeof(err)) == 0, "empty: deleted without force");
	admin_as_user = e->s;
	admin_as_user.admin_secret_key = "0000000000000000000000000000000000000000";
	CHECK(bstore_bucket_delete(&admin_as_user, e->b, false, err, sizeof(err)) == -1 &&
	      strstr(err, "SignatureDoesNotMatch") != NULL, "a wrong admin secret: the error names it");
	printf("  wrong admin secret: %s\n", err);
}

/*
 * Prints "URL <name> <url>" lines for tests/api/test_bucketstore.py, which
 * fetches them with plain curl: ok (GET, content "presigned"), expired
 * (signed an hour ago for 60 s), tampered (one byte of the signature),
 * put (PUT "uploaded" to "up dir/a b+c.txt", get_put reads it back), then "PUBLIC <url>" of a public bucket's
 * object and "PRIVATE <url>" of the same object after public=false.
 */
static void
case_presign(struct env *e)
{
	struct bstore_key ka;
	char err[512] = "", url[4096], pub[4096];
	time_t now = time(NULL);

	CHECK(bstore_bucket_create(&e->s, e->a, &ka, err, sizeof(err)) == 0, "create A");
	CHECK(put(e, e->a, &ka, "dir/hello.txt", "presigned", err, sizeof(err)) == 0, "an object");
	CHECK(s3_presign("GET", e->ep, e->region, e->a, "dir/hello.txt", ka.access_key, ka.secret_key,
	                 300, now, url, sizeof(url)) == 0, "presign GET");
	printf("URL ok %s\n", url);
	CHECK(s3_presign("GET", e->ep, e->region, e->a, "dir/hello.txt", ka.access_key, ka.secret_key,
	                 60, now - 3600, url, sizeof(url)) == 0, "presign GET, expired");
	printf("URL expired %s\n", url);
	CHECK(s3_presign("GET", e->ep, e->region, e->a, "dir/hello.txt", ka.access_key, ka.secret_key,
	                 300, now, url, sizeof(url)) == 0, "presign GET again");
	{
		char *sig = strstr(url, "X-Amz-Signature=") + 16;

		sig[10] = sig[10] == '0' ? '1' : '0';
	}
	printf("URL tampered %s\n", url);
	CHECK(s3_presign("PUT", e->ep, e->region, e->a, "up dir/a b+c.txt", ka.access_key, ka.secret_key, 300, now,
	                 url, sizeof(url)) == 0, "presign PUT");
	printf("URL put %s\n", url);
	CHECK(s3_presign("GET", e->ep, e->region, e->a, "up dir/a b+c.txt", ka.access_key, ka.secret_key, 300, now,
	                 url, sizeof(url)) == 0, "presign GET of the upload");
	printf("URL get_put %s\n", url);
	CHECK(bstore_bucket_public(&e->s, e->a, true, err, sizeof(err)) == 0, "public");
	util_snprintf(pub, sizeof(pub), "%s/%s/dir/hello.txt", e->ep, e->a);
	printf("PUBLIC %s\n", pub);
	fflush(stdout);
}

static void
case_private(struct env *e)
{
	char err[512] = "";

	/* the bucket of case_presign, named in argv[3] */
	CHECK(bstore_bucket_public(&e->s, e->a, false, err, sizeof(err)) == 0, "public off");
	if (err[0])
		printf("  %s\n", err);
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc >= 3 && strcmp(argv[1], "rgw") == 0) {
		struct env e;

		if (env_load(&e) != 0)
			return 1;
		if (argc >= 4)
			util_snprintf(e.a, sizeof(e.a), "%s", argv[3]);
		printf("BUCKET %s\n", e.a);
		if (strcmp(argv[2], "isolation") == 0)
			case_isolation(&e);
		else if (strcmp(argv[2], "rotate") == 0)
			case_rotate(&e);
		else if (strcmp(argv[2], "delete") == 0)
			case_delete(&e);
		else if (strcmp(argv[2], "presign") == 0)
			case_presign(&e);
		else if (strcmp(argv[2], "private") == 0)
			case_private(&e);
		else {
			printf("FAIL: unknown case %s\n", argv[2]);
			return 1;
		}
		return unit_done("bucketstore rgw");
	}
	test_names();
	test_sio_vectors();
	test_madmin_roundtrip();
	test_minio_contract();
	return unit_done("bucketstore");
}
