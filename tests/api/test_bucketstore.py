"""The bucket store driver (fcgi/core/bucketstore.c, rgw) and S3 query
presigning (s3_presign) against a real S3 server: radosgw on loopback
(tests/lib/radosgw.sh; its user launcher-test holds the admin ops caps),
started by tests/run.sh when a selected module names bucket, backup,
objstore, pitr or s3 (S3_TEST_*).  Each scenario is one run of the C test
binary build/tests/test_bucketstore ("rgw CASE", or test_agent_bucket rgw
for the agent's job kinds), whose checks print FAIL lines; presigned and
public URLs are then fetched with plain curl (no credentials).  The MinIO driver's contract test and the offline cases of
the same binary run with the unit tests."""
import os
import subprocess

from lib import BIN

TEST_BIN = os.path.join(os.path.dirname(BIN), "tests", "test_bucketstore")


def run_case(case, *args):
    assert os.environ.get("S3_TEST_ENDPOINT"), "S3_TEST_ENDPOINT not set (radosgw did not start?)"
    p = subprocess.run([TEST_BIN, "rgw", case, *args], capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and ", 0 failed" in out, "%s:\n%s" % (case, out[-3000:])
    return out


def curl(url, method="GET", data=None):
    """Plain curl: (HTTP status, body)."""
    cmd = ["curl", "-s", "-g", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]
    if data is not None:
        cmd[1:1] = ["--data-binary", data, "-H", "Content-Type:"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def test_bucket_key_cannot_touch_another_bucket():
    """Buckets A and B, each with its own principal and key: A's key lists,
    reads and writes A; on B the server answers AccessDenied to list, read
    and write; A's key cannot create a bucket; creating A again keeps its
    objects and first key and returns a new key; no error holds a secret."""
    out = run_case("isolation")
    assert os.environ["S3_TEST_SECRET_KEY"] not in out


def test_rotate_then_revoke():
    """A new key works at once; the old one keeps working until revoked,
    then fails with InvalidAccessKeyId; revoking B's key under A's name
    changes nothing; revoking twice is fine; usage counts objects and bytes."""
    run_case("rotate")


def test_delete_nonempty_needs_force():
    """Delete of a non-empty bucket without force returns 1 and changes
    nothing (object and key still work); with force the bucket and its
    principal are gone; deleting again succeeds; an empty bucket goes
    without force; a wrong admin secret is named (SignatureDoesNotMatch)."""
    run_case("delete")


def test_presigned_urls_with_plain_curl():
    """A presigned GET works with plain curl; the same URL signed an hour ago
    for 60 s fails (AccessDenied, expired); one byte of the signature
    changed fails (SignatureDoesNotMatch); a presigned PUT of a key with a
    space and a '+' uploads, and a presigned GET reads it back."""
    out = run_case("presign")
    urls = dict(line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("URL "))
    code, body = curl(urls["ok"])
    assert (code, body) == (200, "presigned"), (code, body)
    code, body = curl(urls["expired"])
    assert code == 403 and "AccessDenied" in body, (code, body)
    code, body = curl(urls["tampered"])
    assert code == 403 and "SignatureDoesNotMatch" in body, (code, body)
    code, body = curl(urls["put"], "PUT", "uploaded")
    assert code == 200, (code, body)
    code, body = curl(urls["get_put"])
    assert (code, body) == (200, "uploaded"), (code, body)
    # GET-signed URL used for a PUT: refused
    code, body = curl(urls["ok"], "PUT", "overwrite")
    assert code == 403, (code, body)


def test_public_bucket_anonymous_read():
    """public=true: the object answers an anonymous GET (bucket policy of
    s3:GetObject only: an anonymous PUT is refused); public=false: 403 again."""
    out = run_case("presign")
    bucket = next(line.split()[1] for line in out.splitlines() if line.startswith("BUCKET "))
    pub = next(line.split()[1] for line in out.splitlines() if line.startswith("PUBLIC "))
    assert curl(pub) == (200, "presigned")
    code, _ = curl(pub.rsplit("/", 1)[0] + "/anon.txt", "PUT", "x")
    assert code == 403, code
    run_case("private", bucket)
    code, body = curl(pub)
    assert code == 403 and "AccessDenied" in body, (code, body)


def test_agent_bucket_jobs():
    """The agent's bucket.* kinds through its runner (the R record the plane
    reads), on radosgw: bucket.create returns the key; bucket.objects lists
    with the bucket's key (key, size, truncated); bucket.delete of a
    non-empty bucket without force fails with result.error CONFLICT/409;
    rotate gives a new key; after revoke the old key lists nothing
    (InvalidAccessKeyId); public; delete with force."""
    agent_bin = os.path.join(os.path.dirname(BIN), "tests", "test_agent_bucket")
    p = subprocess.run([agent_bin, "rgw"], capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and ", 0 failed" in out, out[-3000:]
