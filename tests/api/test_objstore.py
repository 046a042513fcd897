"""The object store layer (fcgi/core/objstore.c, s3.c) against a real S3
server: radosgw on loopback (tests/lib/radosgw.sh), started by tests/run.sh
when a selected module names backup, objstore, pitr or s3 (S3_TEST_*).
Each scenario is one run of the C test binary build/tests/test_objstore
("s3 CASE"), whose checks print FAIL lines; the offline cases of the same
binary run with the unit tests."""
import os
import subprocess

from lib import BIN

TEST_BIN = os.path.join(os.path.dirname(BIN), "tests", "test_objstore")


def run_case(case, timeout=600):
    assert os.environ.get("S3_TEST_ENDPOINT"), "S3_TEST_ENDPOINT not set (radosgw did not start?)"
    p = subprocess.run([TEST_BIN, "s3", case], capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and ", 0 failed" in out, "%s:\n%s" % (case, out[-3000:])
    return out


def test_small_objects_single_put():
    """Put/get/delete of small, empty and exactly-one-part objects (path
    style, under a destination prefix): size and sha256 both ways, the
    bytes read back, deletes idempotent, then NoSuchKey."""
    run_case("small")


def test_multipart_20mib_and_abort():
    """20 MiB in 8 MiB parts (and one part plus a byte): size and sha256;
    an aborted multipart upload leaves no object."""
    run_case("multipart")


def test_virtual_host_style():
    """http://<bucket>.localhost:PORT (rgw_dns_name): single and multipart."""
    run_case("virtual")


def test_refused_credentials_named_without_keys():
    """Wrong secret -> SignatureDoesNotMatch, unknown key ->
    InvalidAccessKeyId, the other user's bucket -> AccessDenied (put, get,
    delete); no error carries a key."""
    out = run_case("auth")
    for k in ("S3_TEST_SECRET_KEY", "S3_TEST_OTHER_SECRET_KEY", "S3_TEST_ACCESS_KEY"):
        assert os.environ[k] not in out, k


def test_destination_test_steps():
    """objstore_test: write, read, delete steps with ms and error; a refused
    key stops at the write step."""
    run_case("test")


def test_memory_flat_200mib():
    """A 200 MiB stream up and down keeps the process's peak RSS (VmHWM) < 40 MB."""
    out = run_case("rss", timeout=900)
    print("  " + next((line.strip() for line in out.splitlines() if "peak RSS" in line), ""))
