/*
 * test_agent_bucket.c - the agent's bucket.* job kinds (fcgi/agent/bucket.h)
 * through the runner's kinds table (runner_run: the R record the plane gets).
 *
 *   test_agent_bucket           offline: payload checks (nothing sent), the
 *                               kinds known to the runner (make unit)
 *   test_agent_bucket rgw       the jobs against a real radosgw (S3_TEST_*),
 *                               driven by tests/api/test_bucketstore.py:
 *                               create (public), objects, rotate, revoke,
 *                               delete refused with result.error CONFLICT/409,
 *                               delete with force
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/bucket.h"
#include "agent/runner.h"
#include "core/objstore.h"
#include "core/util.h"
#include "unit.h"

static struct agent_conf conf;

/* Runs one job through runner_run; the R record's JSON (caller deletes). */
static cJSON *
run(const char *kind, cJSON *payload)
{
	struct job j;
	int p[2];
	char buf[65536];
	ssize_t n, got = 0;
	cJSON *r = NULL;
	char *line;

	memset(&j, 0, sizeof(j));
	util_snprintf(j.id, sizeof(j.id), "job-1");
	util_snprintf(j.kind, sizeof(j.kind), "%s", kind);
	j.payload = payload;
	j.attempt = 1;
	if (pipe(p) != 0)
		return NULL;
	runner_run(&j, &conf, NULL, p[1]);
	close(p[1]);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	buf[got] = '\0';
	line = strstr(buf, "R {");
	if (line != NULL)
		r = cJSON_Parse(line + 2);
	cJSON_Delete(payload);
	return r;
}

static const char *
status(const cJSON *r)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "status");

	return cJSON_IsString(s) ? s->valuestring : "";
}

static const char *
rstr(const cJSON *r, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static cJSON *
payload(const char *ep, const char *ak, const char *sk, const char *bucket, const char *extra)
{
	char text[2048];

	util_snprintf(text, sizeof(text),
	              "{\"store\":{\"driver\":\"rgw\",\"admin_endpoint\":\"%s\",\"region\":\"us-east-1\","
	              "\"admin_access_key\":\"%s\",\"admin_secret_key\":\"%s\"},\"bucket_name\":\"%s\"%s%s}",
	              ep, ak, sk, bucket, extra[0] ? "," : "", extra);
	return cJSON_Parse(text);
}

static void
offline(void)
{
	static const char *const bad[] = {
		"{\"bucket_name\":\"abc\"}",
		"{\"store\":{\"driver\":\"s3\",\"admin_endpoint\":\"http://h\",\"admin_access_key\":\"a\","
		"\"admin_secret_key\":\"b\"},\"bucket_name\":\"abc\"}",
		"{\"store\":{\"driver\":\"rgw\",\"admin_endpoint\":\"ftp://h\",\"admin_access_key\":\"a\","
		"\"admin_secret_key\":\"b\"},\"bucket_name\":\"abc\"}",
		"{\"store\":{\"driver\":\"rgw\",\"admin_endpoint\":\"http://h\",\"admin_access_key\":\"a\"},"
		"\"bucket_name\":\"abc\"}",
		"{\"store\":{\"driver\":\"rgw\",\"admin_endpoint\":\"http://h\",\"admin_access_key\":\"a\","
		"\"admin_secret_key\":\"b\"},\"bucket_name\":\"Bad_Name\"}",
	};
	static const char *const kinds[] = {"bucket.create", "bucket.rotate", "bucket.revoke",
	    "bucket.delete", "bucket.public", "bucket.objects", "objstore.provision"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *r = run("bucket.create", cJSON_Parse(bad[i]));
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");

		CHECK(strcmp(status(r), "failed") == 0 && cJSON_IsString(e) &&
		      strncmp(e->valuestring, "bad payload", 11) == 0, bad[i]);
		cJSON_Delete(r);
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		CHECK(runner_kind_known(kinds[i]), kinds[i]);
	/* Unreachable store: failed, and the error holds no secret. */
	{
		cJSON *r = run("bucket.rotate", payload("http://127.0.0.1:1", "AK", "SECRETSECRETSECRET", "abc", ""));
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");

		CHECK(strcmp(status(r), "failed") == 0 && cJSON_IsString(e) &&
		      strstr(e->valuestring, "SECRETSECRETSECRET") == NULL, "a refused connection: failed, no secret");
		cJSON_Delete(r);
	}
	{
		cJSON *r = run("bucket.public", payload("http://127.0.0.1:1", "AK", "SK", "abc", ""));

		CHECK(strcmp(status(r), "failed") == 0, "bucket.public needs public");
		cJSON_Delete(r);
	}
	{
		cJSON *r = run("objstore.provision", cJSON_Parse("{\"store_id\":\"s1\",\"image\":\"x\","
		    "\"root_user\":\"u\",\"root_password\":\"short\",\"volume_id\":\"v1\"}"));
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");

		CHECK(strcmp(status(r), "failed") == 0 && cJSON_IsString(e) &&
		      strstr(e->valuestring, "root_password") != NULL, "objstore.provision: short password refused");
		cJSON_Delete(r);
	}
	{
		/* "volume" as the plane may send it: lnchr-vol-<id> is read as the id. */
		cJSON *r = run("objstore.provision", cJSON_Parse("{\"store_id\":\"s1\",\"image\":\"x\","
		    "\"root_user\":\"u\",\"root_password\":\"short\",\"volume\":\"lnchr-vol-v1\"}"));
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");

		CHECK(cJSON_IsString(e) && strstr(e->valuestring, "root_password") != NULL,
		      "objstore.provision: \"volume\" accepted");
		cJSON_Delete(r);
		r = run("objstore.provision", cJSON_Parse("{\"store_id\":\"s1\",\"image\":\"x\","
		    "\"root_user\":\"u\",\"root_password\":\"long-enough-pw\",\"volume\":\"../x\"}"));
		e = cJSON_GetObjectItemCaseSensitive(r, "error");
		CHECK(cJSON_IsString(e) && strstr(e->valuestring, "volume_id") != NULL, "a bad volume refused");
		cJSON_Delete(r);
	}
}

static void
rgw(void)
{
	const char *ep = getenv("S3_TEST_ENDPOINT"), *ak = getenv("S3_TEST_ACCESS_KEY"),
	           *sk = getenv("S3_TEST_SECRET_KEY");
	char name[64], hex[13], extra[512], key1[64], sec1[128];
	unsigned char rnd[6];
	cJSON *r;
	const cJSON *e;

	if (!ep || !ak || !sk) {
		printf("FAIL: S3_TEST_* not set\n");
		unit_fail++;
		return;
	}
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(hex, rnd, sizeof(rnd));
	util_snprintf(name, sizeof(name), "lnchr-%s-jobs", hex);

	r = run("bucket.create", payload(ep, ak, sk, name, "\"public\":false"));
	CHECK(strcmp(status(r), "succeeded") == 0 && rstr(r, "access_key")[0] && rstr(r, "secret_key")[0],
	      "bucket.create: the key in the result");
	util_snprintf(key1, sizeof(key1), "%s", rstr(r, "access_key"));
	util_snprintf(sec1, sizeof(sec1), "%s", rstr(r, "secret_key"));
	cJSON_Delete(r);
	/* One object, with the bucket's key (the layer the backups use). */
	{
		struct objstore_dest d = {.provider = "custom", .bucket = name, .region = "us-east-1",
		                          .endpoint = ep, .access_key = key1, .secret_key = sec1,
		                          .path_style = true};
		char err[256];
		struct objstore_put *p = objstore_put_open(&d, "docs/a.txt", err, sizeof(err));

		CHECK(p != NULL && objstore_put_write(p, "hello", 5) == 0 &&
		      objstore_put_close(p, true, NULL, NULL, err, sizeof(err)) == 0, "an object");
	}
	util_snprintf(extra, sizeof(extra), "\"access_key\":\"%s\",\"secret_key\":\"%s\",\"prefix\":\"docs/\",\"limit\":10",
	              key1, sec1);
	r = run("bucket.objects", payload(ep, ak, sk, name, extra));
	e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "objects");
	CHECK(strcmp(status(r), "succeeded") == 0 && cJSON_GetArraySize(e) == 1 &&
	      strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(e, 0), "key")->valuestring, "docs/a.txt") == 0 &&
	      cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(e, 0), "size")->valueint == 5 &&
	      cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "truncated")),
	      "bucket.objects: key, size, not truncated");
	cJSON_Delete(r);

	r = run("bucket.delete", payload(ep, ak, sk, name, "\"force\":false"));
	e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "error");
	CHECK(strcmp(status(r), "failed") == 0 &&
	      strcmp(cJSON_GetObjectItemCaseSensitive(e, "code")->valuestring, "CONFLICT") == 0 &&
	      cJSON_GetObjectItemCaseSensitive(e, "status")->valueint == 409,
	      "bucket.delete not empty: failed with result.error CONFLICT 409");
	cJSON_Delete(r);

	r = run("bucket.rotate", payload(ep, ak, sk, name, ""));
	CHECK(strcmp(status(r), "succeeded") == 0 && strcmp(rstr(r, "access_key"), key1) != 0,
	      "bucket.rotate: a new key");
	cJSON_Delete(r);
	util_snprintf(extra, sizeof(extra), "\"access_key\":\"%s\"", key1);
	r = run("bucket.revoke", payload(ep, ak, sk, name, extra));
	CHECK(strcmp(status(r), "succeeded") == 0, "bucket.revoke");
	cJSON_Delete(r);
	util_snprintf(extra, sizeof(extra), "\"access_key\":\"%s\",\"secret_key\":\"%s\"", key1, sec1);
	r = run("bucket.objects", payload(ep, ak, sk, name, extra));
	CHECK(strcmp(status(r), "failed") == 0 &&
	      strstr(cJSON_GetObjectItemCaseSensitive(r, "error")->valuestring, "InvalidAccessKeyId") != NULL,
	      "the revoked key lists nothing: InvalidAccessKeyId");
	cJSON_Delete(r);
	r = run("bucket.public", payload(ep, ak, sk, name, "\"public\":true"));
	CHECK(strcmp(status(r), "succeeded") == 0, "bucket.public");
	cJSON_Delete(r);
	r = run("bucket.delete", payload(ep, ak, sk, name, "\"force\":true"));
	CHECK(strcmp(status(r), "succeeded") == 0, "bucket.delete force");
	cJSON_Delete(r);
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	agent_conf_defaults(&conf);
	if (argc >= 2 && strcmp(argv[1], "rgw") == 0)
		rgw();
	else
		offline();
	return unit_done("agent bucket");
}
