#!/usr/bin/env python3
"""tests/stack/test_registry.py - the tests' registry (tests/lib/registry.sh)
through the stack's engine: what the agent does for an application of type
docker_image (POST /images/create?fromImage=...&tag=...) against a real
registry over plain HTTP (LAUNCHER_INSECURE_REGISTRIES).

Environment (tests/run.sh sets it):
  LAUNCHER_TEST_REGISTRY        127.0.0.1:PORT, no auth
  LAUNCHER_TEST_REGISTRY_AUTH   127.0.0.1:PORT with htpasswd auth, and its
  LAUNCHER_TEST_REGISTRY_AUTH_USER / _PASSWORD   (optional: skipped if unset)
  FIXTURE_ENGINE_SOCKET, FIXTURE_REGISTRY_WEB_V1(_DIGEST), FIXTURE_WEB_V1_ID
                                from tests/fixtures/build.sh --registry
Prints one line "stack registry: N passed, N failed".
"""
import base64
import http.client
import io
import json
import os
import secrets
import socket
import sys
import tarfile
import traceback
import urllib.error
import urllib.parse
import urllib.request

API = "/v1.41"
ENV = os.environ


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("engine", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def engine(method, path, body=None, headers=None):
    """(status, raw body bytes) of one Engine API request."""
    conn = UnixHTTPConnection(ENV["FIXTURE_ENGINE_SOCKET"])
    try:
        conn.request(method, API + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def messages(raw):
    """The JSON messages of an engine's progress stream."""
    text, pos, out = raw.decode("utf-8", "replace"), 0, []
    dec = json.JSONDecoder()
    while pos < len(text):
        if text[pos] in " \t\r\n":
            pos += 1
            continue
        msg, pos = dec.raw_decode(text, pos)
        out.append(msg)
    return out


def stream_error(raw):
    errs = [m["error"] for m in messages(raw) if isinstance(m, dict) and m.get("error")]
    return errs[-1] if errs else ""


def q(**kw):
    return "?" + urllib.parse.urlencode(kw)


def registry_auth(user, password, server):
    """X-Registry-Auth: base64url of the JSON credentials (Docker's form)."""
    doc = json.dumps({"username": user, "password": password, "serveraddress": server})
    return base64.urlsafe_b64encode(doc.encode()).decode()


def pull(image, tag, auth=None):
    headers = {"X-Registry-Auth": auth} if auth else {}
    status, raw = engine("POST", "/images/create" + q(fromImage=image, tag=tag), headers=headers)
    assert status == 200, "pull %s:%s: HTTP %s %r" % (image, tag, status, raw[:300])
    return stream_error(raw)


def push(repo, tag, auth=None):
    """The pushed manifest's digest (aux.Digest, or Podman's status line
    "<tag>: digest: sha256:... size: N")."""
    headers = {"X-Registry-Auth": auth} if auth else {}
    status, raw = engine("POST", "/images/%s/push%s" % (repo, q(tag=tag)), headers=headers)
    assert status == 200, "push %s:%s: HTTP %s %r" % (repo, tag, status, raw[:300])
    err = stream_error(raw)
    assert not err, "push %s:%s: %s" % (repo, tag, err)
    for m in messages(raw):
        aux = m.get("aux") if isinstance(m, dict) else None
        if isinstance(aux, dict) and aux.get("Digest"):
            return aux["Digest"]
        st = m.get("status", "") if isinstance(m, dict) else ""
        if ": digest: sha256:" in st:
            return st.split(": digest: ", 1)[1].split()[0]
    raise AssertionError("push %s:%s: no digest in the answer %r" % (repo, tag, raw[:500]))


def inspect(name):
    status, raw = engine("GET", "/images/%s/json" % name)
    if status == 404:
        return None
    assert status == 200, "inspect %s: HTTP %s %r" % (name, status, raw[:300])
    return json.loads(raw)


def untag(name):
    status, raw = engine("DELETE", "/images/%s" % name)
    assert status in (200, 404), "delete %s: HTTP %s %r" % (name, status, raw[:300])


def tag(src, repo, tg):
    status, raw = engine("POST", "/images/%s/tag%s" % (src, q(repo=repo, tag=tg)))
    assert status == 201, "tag %s as %s:%s: HTTP %s %r" % (src, repo, tg, status, raw[:300])


def registry_digest(registry, name, tg, auth=None):
    """Docker-Content-Digest of the registry's manifest, "" when absent."""
    req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (registry, name, tg), method="HEAD")
    req.add_header("Accept", "application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.oci.image.manifest.v1+json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return ""
        raise


def probe_image():
    """A one-layer image of its own (a random file): nothing else has its
    layer, so a pull of it must download every blob. (repo, tag, id)"""
    token = secrets.token_hex(8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = ("probe %s\n" % token).encode()
        info = tarfile.TarInfo("probe.txt")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    repo = "localhost/launcher-test/registry-probe"
    # (Podman takes the tag from repo=NAME:TAG, not from tag=)
    status, raw = engine("POST", "/images/create" + q(fromSrc="-", repo="%s:%s" % (repo, token)),
                         body=buf.getvalue(), headers={"Content-Type": "application/x-tar"})
    assert status == 200 and not stream_error(raw), "import: HTTP %s %r" % (status, raw[:300])
    img = inspect("%s:%s" % (repo, token))
    assert img, "the imported probe image is missing"
    return repo, token, img["Id"]


def image_exists(image_id):
    """By id. (Podman 4.3's compat API answers a missing 64-hex id with 500
    "invalid repository name": it then takes it for a name.)"""
    status, raw = engine("GET", "/images/json" + q(all="true"))
    assert status == 200, "list images: HTTP %s %r" % (status, raw[:300])
    return any(i.get("Id") == image_id for i in json.loads(raw))


def remove_all(image_id):
    """The image and all its tags."""
    if not image_exists(image_id):
        return
    status, raw = engine("DELETE", "/images/%s%s" % (image_id.split(":")[-1], q(force="true")))
    assert status in (200, 404), "delete %s: HTTP %s %r" % (image_id, status, raw[:300])


# ------------------------------------------------------------------ tests

def test_fixture_pull():
    """The fixture web:v1 that build.sh pushed comes back from the registry:
    the same image, with the registry's digest."""
    ref = ENV["FIXTURE_REGISTRY_WEB_V1"]
    repo, tg = ref.rsplit(":", 1)
    want = ENV["FIXTURE_REGISTRY_WEB_V1_DIGEST"]
    assert registry_digest(ENV["LAUNCHER_TEST_REGISTRY"], repo.split("/", 1)[1], tg) == want
    untag(ref)      # (build.sh leaves no registry-named tag; to be sure)
    err = pull(repo, tg)
    assert not err, "pull %s: %s" % (ref, err)
    img = inspect(ref)
    assert img, "%s is not in the engine after the pull" % ref
    assert img["Id"] == ENV["FIXTURE_WEB_V1_ID"], (img["Id"], ENV["FIXTURE_WEB_V1_ID"])
    assert "%s@%s" % (repo, want) in (img.get("RepoDigests") or []), img.get("RepoDigests")
    untag(ref)      # the API tests' deployments pull it themselves


def test_push_pull_roundtrip():
    """An image only this test has: push, remove it from the engine, pull it
    back (every blob from the registry): same id, pushed digest."""
    registry = ENV["LAUNCHER_TEST_REGISTRY"]
    repo, token, image_id = probe_image()
    target = "%s/launcher-test/registry-probe" % registry
    try:
        tag("%s:%s" % (repo, token), target, token)
        digest = push(target, token)
        assert registry_digest(registry, "launcher-test/registry-probe", token) == digest
        remove_all(image_id)
        assert not image_exists(image_id), "the probe image is still there"
        err = pull(target, token)
        assert not err, "pull %s:%s: %s" % (target, token, err)
        img = inspect("%s:%s" % (target, token))
        assert img and img["Id"] == image_id, (img and img["Id"], image_id)
        assert "%s@%s" % (target, digest) in (img.get("RepoDigests") or []), img.get("RepoDigests")
    finally:
        remove_all(image_id)


def test_pull_missing():
    """A repository the registry does not have: HTTP 200 (the stream has
    begun), an error message in the stream, no image."""
    registry = ENV["LAUNCHER_TEST_REGISTRY"]
    name = "%s/launcher-test/does-not-exist" % registry
    err = pull(name, "v1")
    assert err, "the pull of a missing repository reported no error"
    assert "manifest unknown" in err or "not found" in err or "name unknown" in err, err
    assert name in err, err
    assert inspect("%s:v1" % name) is None
    # and a missing tag of a repository it has
    err = pull(ENV["FIXTURE_REGISTRY_WEB_V1"].rsplit(":", 1)[0], "no-such-tag")
    assert "manifest unknown" in err or "not found" in err, err


def test_auth_registry():
    """The htpasswd registry: no credentials, no pull; with X-Registry-Auth
    the engine pushes and pulls."""
    registry = ENV["LAUNCHER_TEST_REGISTRY_AUTH"]
    user, password = ENV["LAUNCHER_TEST_REGISTRY_AUTH_USER"], ENV["LAUNCHER_TEST_REGISTRY_AUTH_PASSWORD"]
    good = registry_auth(user, password, registry)
    bad = registry_auth(user, password + "x", registry)
    repo, token, image_id = probe_image()
    target = "%s/launcher-test/private" % registry
    try:
        tag("%s:%s" % (repo, token), target, token)
        status, raw = engine("POST", "/images/%s/push%s" % (target, q(tag=token)),
                             headers={"X-Registry-Auth": bad})
        err = stream_error(raw) if status == 200 else raw.decode("utf-8", "replace")
        assert err and ("unauthorized" in err.lower() or "authentication required" in err), err
        digest = push(target, token, auth=good)
        assert registry_digest(registry, "launcher-test/private", token, auth="%s:%s" % (user, password)) == digest
        remove_all(image_id)
        err = pull(target, token)
        assert err and ("unauthorized" in err.lower() or "authentication required" in err), err
        assert inspect("%s:%s" % (target, token)) is None
        err = pull(target, token, auth=good)
        assert not err, err
        img = inspect("%s:%s" % (target, token))
        assert img and img["Id"] == image_id, (img and img["Id"], image_id)
    finally:
        remove_all(image_id)


def main():
    need = ["LAUNCHER_TEST_REGISTRY", "FIXTURE_ENGINE_SOCKET", "FIXTURE_REGISTRY_WEB_V1",
            "FIXTURE_REGISTRY_WEB_V1_DIGEST", "FIXTURE_WEB_V1_ID"]
    missing = [n for n in need if not ENV.get(n)]
    if missing:
        print("registry: not set: %s" % " ".join(missing))
        print("stack registry: 0 passed, 1 failed")
        return 1
    tests = [test_fixture_pull, test_push_pull_roundtrip, test_pull_missing]
    if ENV.get("LAUNCHER_TEST_REGISTRY_AUTH"):
        tests.append(test_auth_registry)
    passed = failed = 0
    for t in tests:
        try:
            t()
            passed += 1
            print("ok   %s" % t.__name__)
        except Exception:       # pylint: disable=broad-except
            failed += 1
            print("FAIL %s" % t.__name__)
            traceback.print_exc(file=sys.stdout)
    print("stack registry: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
