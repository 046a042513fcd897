"""Buckets end to end: the real plane, the real launcher-agent (its bucket.*
jobs over the store driver), the stack's Podman and a real S3 server that
enforces signatures and per-key access: the suite's radosgw
(tests/lib/radosgw.sh), which tests/run.sh also binds to the host's address
(S3_TEST_HOST_ENDPOINT) so that containers reach it, registered as the
server's external store (driver rgw; the agent administers it on loopback).

An application (Debian's python3 + python3-boto3: the python3 runtime image
of tests/fixtures/fn_runtimes.sh, FIXTURE_FN_PYTHON3_IMAGE) deployed with
${bucket.<name>.*} env uploads and downloads an object with the AWS SDK;
bucket A's key cannot list, read or write bucket B (AccessDenied from the
store); a presigned GET works with plain curl and fails after its expiry or
with one byte of its signature changed; the waited answers
(job_respond_wait): a non-empty DELETE without force is HTTP 409 CONFLICT
from the store, with force 200, and the objects' listing is 200 with the
objects; a rotation invalidates the old key.  A public bucket's objects
answer anonymous GET/HEAD through the edge nginx (the stack's, by Host
header) at the bucket's hostname, writes 405; a private bucket's hostname
serves nothing; public: false or a delete takes the site away."""
import http.client
import json
import subprocess
import time
import urllib.parse

from lib import HTTP_PORT, assert_error, psql, stack_env
from test_agent_e2e import _wait
from test_deploy_e2e import F, UnixConn, _app, _deploy, engine, exec_result, job_done
from test_deploy_e2e import World as DeployWorld

BUCKET_TIMEOUT = 60
WAIT = 120          # ?wait= of a delete or a listing: the agent's job, not a timed assert

# The application's side: boto3 with the bucket's env (path style, as every
# S3 server without wildcard DNS needs); argv: op, then its operands.
SDK = r'''
import json, os, sys
import boto3, botocore.config, botocore.exceptions
def client(ak=None, sk=None):
    return boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
        aws_access_key_id=ak or os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=sk or os.environ["S3_SECRET_KEY"],
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def code(f):
    try:
        f()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
op, bkt = sys.argv[1], os.environ["S3_BUCKET"]
s3 = client()
if op == "roundtrip":
    s3.put_object(Bucket=bkt, Key="hello.txt", Body=b"hello from the app")
    body = s3.get_object(Bucket=bkt, Key="hello.txt")["Body"].read().decode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bkt).get("Contents", [])]
    print(json.dumps({"body": body, "keys": keys}))
elif op == "other":
    other = sys.argv[2]
    print(json.dumps({"list": code(lambda: s3.list_objects_v2(Bucket=other)),
                      "get": code(lambda: s3.get_object(Bucket=other, Key="secret.txt")),
                      "put": code(lambda: s3.put_object(Bucket=other, Key="x", Body=b"x"))}))
'''


class World(DeployWorld):
    """The deploy tests' world, its server's object store the suite's radosgw."""
    _w = None

    def __init__(self):
        super().__init__()
        if not F.get("S3_TEST_HOST_ENDPOINT") or not F.get("FIXTURE_FN_PYTHON3_IMAGE"):
            raise AssertionError("fixtures missing (S3_TEST_HOST_ENDPOINT, FIXTURE_FN_PYTHON3_IMAGE):"
                                 " run through tests/run.sh")
        r = self.c.put("/servers/%s/object-store" % self.server["id"], {
            "driver": "rgw", "endpoint": F["S3_TEST_HOST_ENDPOINT"],
            "admin_endpoint": F["S3_TEST_ENDPOINT"], "admin_access_key": F["S3_TEST_ACCESS_KEY"],
            "admin_secret_key": F["S3_TEST_SECRET_KEY"]})
        assert r.status == 200, r


def _app_image():
    """The python3 + boto3 image pushed to the tests' registry (a docker_image
    application pulls its image), by the stack's engine as the fixtures push."""
    src = F["FIXTURE_FN_PYTHON3_IMAGE"]
    tag = src.rpartition(":")[2]
    repo = "%s/launcher-test/bucket-app" % F["LAUNCHER_TEST_REGISTRY"]
    st, out = engine("POST", "/images/%s/tag?repo=%s&tag=%s" % (src, urllib.parse.quote(repo, safe=""),
                                                                tag))
    assert st == 201, (st, out)
    conn = UnixConn(stack_env()["LAUNCHER_ENGINE_SOCKET"], timeout=300)
    try:            # the answer is a stream of JSON lines
        conn.request("POST", "/v1.41/images/%s/push?tag=%s" % (repo, tag))
        r = conn.getresponse()
        st, out = r.status, r.read()
    finally:
        conn.close()
    assert st == 200 and b'"error"' not in out, (st, out[-500:])
    engine("DELETE", "/images/%s:%s" % (repo, tag))
    return "%s:%s" % (repo, tag)


def _jobs(bucket_id):
    return psql("SELECT kind || ' ' || status || ' ' || coalesce(error, '') FROM jobs"
                " WHERE payload->>'bucket_id' = '%s' ORDER BY created_at, id" % bucket_id,
                user="launcher_owner")


def _bucket(w, name):
    r = w.c.post("/buckets", {"project_id": w.project["id"], "name": name})
    assert r.status == 201, r

    def ready():
        b = w.c.get("/buckets/" + r.data["id"]).data
        return b if b["status"] != "provisioning" else None
    b = _wait("bucket %s to be made" % name, ready, BUCKET_TIMEOUT)
    assert b["status"] == "ready", (b, _jobs(b["id"]))
    return b


def _curl(url):
    out = subprocess.run(["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", url],
                         capture_output=True, text=True, timeout=30)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def _put(w, bucket, key, text):
    """Writes key through a presigned PUT (plain curl)."""
    r = w.c.post("/buckets/%s/presign" % bucket["id"], {"key": key, "method": "PUT"})
    assert r.status == 200, r
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                          "--data-binary", text, r.data["url"]], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout == "200", out


def _sdk(w, app, *args):
    res = exec_result(w.c, app["id"], ["python3", "-c", SDK] + list(args))
    assert res["exit_code"] == 0, res
    return json.loads(res["output"].strip().splitlines()[-1])


def test_an_application_uses_its_bucket_with_the_sdk_and_only_its_own():
    w = World.get()
    a = _bucket(w, "bkt-a")
    b = _bucket(w, "bkt-b")
    assert a["endpoint"] == F["S3_TEST_HOST_ENDPOINT"], a
    cred_b = w.c.get("/buckets/%s/credentials" % b["id"]).data
    # Bucket B holds an object of its own (put through a presigned PUT of B's key).
    _put(w, b, "secret.txt", "b's secret")
    env = {"S3_ENDPOINT": "${bucket.bkt-a.endpoint}", "S3_ACCESS_KEY": "${bucket.bkt-a.access_key}",
           "S3_SECRET_KEY": "${bucket.bkt-a.secret_key}", "S3_BUCKET": "${bucket.bkt-a.bucket_name}"}
    app = _app(w, image_url=_app_image(), app_type="worker", exposed_port=None,
               healthcheck_path=None, start_command="exec sleep 100000", env=env)
    _deploy(w, app)
    got = _sdk(w, app, "roundtrip")
    assert got == {"body": "hello from the app", "keys": ["hello.txt"]}, got
    # A's key against B: the store refuses every operation.
    got = _sdk(w, app, "other", cred_b["bucket_name"])
    assert got == {"list": "AccessDenied", "get": "AccessDenied", "put": "AccessDenied"}, got
    # The listing through the API (the agent, with A's key).
    # The answer waits for the job (launcher-ws holds it): the objects themselves, 200.
    r = w.c.get("/buckets/%s/objects?prefix=hel&wait=%d" % (a["id"], WAIT))
    assert r.status == 200, r
    assert [o["key"] for o in r.data["objects"]] == ["hello.txt"], r
    assert r.data["truncated"] is False and r.data["next_cursor"] is None, r

    # Presigned GET: plain curl reads it; one byte of the signature changed, or expired: 403.
    r = w.c.post("/buckets/%s/presign" % a["id"], {"key": "hello.txt", "method": "GET",
                                                    "expires_in": 300})
    assert r.status == 200, r
    assert _curl(r.data["url"]) == (200, "hello from the app")
    sig = urllib.parse.parse_qs(urllib.parse.urlsplit(r.data["url"]).query)["X-Amz-Signature"][0]
    bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    code, body = _curl(r.data["url"].replace(sig, bad))
    assert code == 403 and "SignatureDoesNotMatch" in body, (code, body)
    r = w.c.post("/buckets/%s/presign" % a["id"], {"key": "hello.txt", "method": "GET",
                                                    "expires_in": 1})
    assert r.status == 200, r
    time.sleep(2.5)     # past X-Amz-Date + 1 s: the URL has expired
    code, body = _curl(r.data["url"])
    assert code == 403 and "AccessDenied" in body, (code, body)
    # A presigned PUT writes.
    _put(w, a, "up.txt", "put by url")
    # Rotation (immediate): the new key works in the app after its next deploy, the old one is refused.
    old = w.c.get("/buckets/%s/credentials" % a["id"]).data
    r = w.c.post("/buckets/%s/rotate-credentials?immediate=true" % a["id"])
    assert r.status == 202, r
    assert job_done(w.c, r.data["job"]["id"])["status"] == "succeeded"
    new = w.c.get("/buckets/%s/credentials" % a["id"]).data
    assert new["access_key"] != old["access_key"], (old, new)

    def revoked():
        rows = psql("SELECT status FROM jobs WHERE kind = 'bucket.revoke' AND payload->>'bucket_id'"
                    " = '%s'" % a["id"], user="launcher_owner")
        return rows if rows and rows[-1] in ("succeeded", "failed") else None
    assert _wait("the old key's revocation", revoked, BUCKET_TIMEOUT) == ["succeeded"]
    # The running container still has the old key: refused by the store.
    res = exec_result(w.c, app["id"], ["python3", "-c", SDK, "roundtrip"])
    assert res["exit_code"] != 0 and "InvalidAccessKeyId" in res["output"], res
    _deploy(w, app)
    assert _sdk(w, app, "roundtrip")["body"] == "hello from the app"


def test_a_non_empty_bucket_is_deleted_only_with_force():
    w = World.get()
    b = _bucket(w, "bkt-del")
    cred = w.c.get("/buckets/%s/credentials" % b["id"]).data
    _put(w, b, "obj", "x")
    # The answer waits for the store's word: a real 409 CONFLICT, then 200 with force.
    r = w.c.delete("/buckets/%s?wait=%d" % (b["id"], WAIT))
    assert_error(r, 409, "CONFLICT")
    assert "not empty" in r.error["message"], r
    got = w.c.get("/buckets/" + b["id"]).data
    assert got["status"] == "ready", got
    r = w.c.delete("/buckets/%s?force=true&wait=%d" % (b["id"], WAIT))
    assert r.status == 200 and r.data == {}, r
    assert w.c.get("/buckets/" + b["id"]).status == 404
    # The store no longer has it, nor its key.
    code, body = _curl("%s/%s/obj" % (F["S3_TEST_ENDPOINT"], cred["bucket_name"]))
    assert code in (403, 404), (code, body)


def _edge(method, host, path, headers=None):
    """One request through the edge nginx by Host header (anonymous unless headers say)."""
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
    try:
        h = {"Host": host, "Connection": "close"}
        h.update(headers or {})
        conn.request(method, path, body=b"x" if method == "PUT" else None, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_a_public_bucket_is_served_read_only_through_the_edge():
    w = World.get()
    r = w.c.post("/buckets", {"project_id": w.project["id"], "name": "bkt-pub", "public": True})
    assert r.status == 201, r
    pub = _wait("bucket bkt-pub to be made", lambda: (lambda b: b if b["status"] != "provisioning"
                                                      else None)(w.c.get("/buckets/" + r.data["id"]).data),
                BUCKET_TIMEOUT)
    assert pub["status"] == "ready", (pub, _jobs(pub["id"]))
    host = "bkt-pub-%s.%s" % (w.project["name"], w.server.get("base_domain") or "localhost")
    assert pub["url"] == "http://" + host.lower(), pub
    host = host.lower()
    priv = _bucket(w, "bkt-priv")
    assert priv["url"] is None, priv
    _put(w, pub, "dir/hello.txt", "public bytes")
    _put(w, priv, "hidden.txt", "private bytes")

    # Anonymous GET and HEAD through the edge: the object's bytes.
    assert _edge("GET", host, "/dir/hello.txt") == (200, b"public bytes")
    assert _edge("HEAD", host, "/dir/hello.txt")[0] == 200
    # A client's Authorization never reaches the store (it would be refused as a bad signature).
    assert _edge("GET", host, "/dir/hello.txt",
                 {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request,"
                                   " SignedHeaders=host, Signature=00"}) == (200, b"public bytes")
    # Writes: 405 at the edge, the object unchanged.
    assert _edge("PUT", host, "/dir/hello.txt")[0] == 405
    assert _edge("DELETE", host, "/dir/hello.txt")[0] == 405
    assert _edge("POST", host, "/dir/hello.txt")[0] == 405
    assert _edge("GET", host, "/dir/hello.txt") == (200, b"public bytes")
    # The private bucket's hostname serves nothing of it.
    phost = "bkt-priv-%s.%s" % (w.project["name"], w.server.get("base_domain") or "localhost")
    code, body = _edge("GET", phost.lower(), "/hidden.txt")
    assert code != 200 and b"private bytes" not in body, (code, body)

    # public: false takes the site away; true brings it back.
    r = w.c.put("/buckets/" + pub["id"], {"public": False},
                headers={"If-Match": w.c.get("/buckets/" + pub["id"]).headers["etag"]})
    assert r.status == 200 and r.data["url"] is None, r
    _wait("the edge to stop serving bkt-pub",
          lambda: _edge("GET", host, "/dir/hello.txt")[0] != 200 or None, BUCKET_TIMEOUT)
    assert b"public bytes" not in _edge("GET", host, "/dir/hello.txt")[1]
    # Deleting the bucket removes its site too.
    r = w.c.put("/buckets/" + pub["id"], {"public": True},
                headers={"If-Match": w.c.get("/buckets/" + pub["id"]).headers["etag"]})
    assert r.status == 200, r
    _wait("the edge to serve bkt-pub again",
          lambda: _edge("GET", host, "/dir/hello.txt") == (200, b"public bytes") or None, BUCKET_TIMEOUT)
    r = w.c.delete("/buckets/%s?force=true&wait=0" % pub["id"])
    assert r.status == 202, r
    assert job_done(w.c, r.data["job"]["id"])["status"] == "succeeded"
    assert _edge("GET", host, "/dir/hello.txt")[0] != 200
