"""Custom domains end to end (issue 16's acceptance) with the real parts: the
plane, launcher-dnscheck run --once by the test, the suite's dnsmasq as the
authoritative DNS server of the test zone, the real launcher-agent writing
host sites into the stack's nginx (the edge) and issuing certificates with
lego from the suite's pebble (HTTP-01 answered by that nginx), and curl
--cacert <pebble's root> fetching the application by its custom hostname.

tests/run.sh starts dnsmasq and pebble for these tests (LAUNCHER_TEST_DNS,
LAUNCHER_TEST_DNS_DIR, PEBBLE_*) and the stack with LAUNCHER_DNS_SERVER /
LAUNCHER_ACME_* pointing at them and no dnscheck loop of its own."""
import atexit
import datetime
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from lib import (BIN, CONF, HTTP_PORT, HTTPS_PORT, REPO, STATE, assert_error, at_module_end, new_project, psql,
                 registered)
from test_agent_e2e import _wait
from test_deploy_e2e import EdgeAgent, World, _app, _deploy, _have_fixtures
from test_servers import _server

sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from dnsmasq import Dns  # noqa: E402

E = os.environ
ZONE = "e2e.test"
SITES = os.path.join(STATE, "nginx", "sites")
DNSCHECK = os.path.join(BIN, "launcher-dnscheck")


def _need():
    if not (_have_fixtures() and E.get("LAUNCHER_TEST_DNS") and E.get("PEBBLE_DIRECTORY_URL")):
        raise AssertionError("fixtures, dnsmasq or pebble missing (LAUNCHER_TEST_DNS, PEBBLE_*): "
                             "run through tests/run.sh")


_dns = None


def dns():
    """The suite's dnsmasq (tests/run.sh started it): records are set here."""
    global _dns
    if _dns is None:
        host, port = E["LAUNCHER_TEST_DNS"].rsplit(":", 1)
        _dns = Dns(port=int(port), state_dir=E["LAUNCHER_TEST_DNS_DIR"])
    return _dns


def dnscheck(*flags, timeout=180):
    """One `launcher-dnscheck --once` run against the stack's launcher.conf."""
    r = subprocess.run([DNSCHECK, "-c", CONF, "--once"] + list(flags), capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, (r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


class TlsEdgeAgent(EdgeAgent):
    """The real agent with edge routing and TLS on the stack's nginx: host
    sites on its plain HTTP port, TLS servers on its HTTPS port, HTTP-01
    files and certificates in a directory nginx's workers may read."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        self.edge_dir = tempfile.mkdtemp(prefix="edge-", dir=STATE)
        os.chmod(self.edge_dir, 0o755)
        self.webroot = os.path.join(self.edge_dir, "acme-webroot")
        self.certs = os.path.join(self.edge_dir, "certs")
        self.args += ["--edge-tls-listen", "127.0.0.1:%d" % HTTPS_PORT, "--edge-https-port", str(HTTPS_PORT),
                      "--acme-webroot", self.webroot, "--edge-certs-dir", self.certs]


class DomainWorld(World):
    """A tenant whose server (host 127.0.0.1, the address the A records name)
    is run by a TlsEdgeAgent, a project and a deployed app."""
    _w = None
    agent_class = TlsEdgeAgent

    def __init__(self):
        self.c, _ = registered("dom")
        self.server = _server(self.c, host="127.0.0.1", base_domain="localhost")
        self.project = new_project(self.c)
        self.agent = self.agent_class(self.c.tenant, self.server["agent_token"], self.server["name"]).start()
        self.app = None
        atexit.register(lambda: self.agent.proc.kill())
        at_module_end(self.end)
        _wait("the agent online", lambda: self.c.get("/servers/" + self.server["id"]).data["status"] == "online",
              30)

    def deployed_app(self):
        if self.app is None:
            self.app = _app(self)
            _deploy(self, self.app)
        return self.app


def _host(prefix="d"):
    return "%s%s.%s" % (prefix, uuid.uuid4().hex[:10], ZONE)


def _domain(w, r):
    d = w.c.get("/domains/" + r["id"])
    assert d.status == 200, d
    return d.data


def _add_domain(w, app, host, path_prefix=None):
    body = {"application_id": app["id"], "hostname": host}
    if path_prefix:
        body["path_prefix"] = path_prefix
    r = w.c.post("/domains", body)
    assert r.status == 201, r
    d = r.data
    assert d["status"] == "pending_verification" and d["hostname"] == host.lower(), d
    assert d["verification"]["type"] == "TXT" and d["verification"]["name"] == "_lnchr-verify." + host.lower(), d
    assert d["verification"]["value"].startswith("lnchr-verify="), d
    assert d["tls"]["status"] == "none", d
    return d


def _publish(d, routing=True, txt=None):
    """Creates the records the domain asks for in dnsmasq (TXT, and A 127.0.0.1)."""
    recs = {d["verification"]["name"]: [("TXT", txt or d["verification"]["value"])]}
    if routing:
        recs[d["hostname"]] = [("A", "127.0.0.1")]
    dns().set_many(recs)


def _status(w, d, want, timeout=60):
    return _wait("%s to be %s" % (d["hostname"], want),
                 lambda: (lambda x: x if x["status"] == want else None)(_domain(w, d)), timeout)


def _tls(w, d, pred, what, timeout=120):
    return _wait("%s: %s" % (d["hostname"], what), lambda: (lambda x: x if pred(x) else None)(_domain(w, d)), timeout)


def curl(url, host, port, *extra, cacert=None):
    """(status, body, redirect_url) of one request by curl to 127.0.0.1 with
    --resolve host:port (the hostname in the URL, SNI and Host)."""
    args = ["curl", "-sS", "--max-time", "10", "--resolve", "%s:%d:127.0.0.1" % (host, port),
            "-o", "-", "-w", "\n@@%{http_code} %{redirect_url}"] + list(extra)
    if cacert:
        args += ["--cacert", cacert]
    r = subprocess.run(args + [url], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return ("curl-error", r.stderr.strip(), "")
    body, tail = r.stdout.rsplit("\n@@", 1)
    code, _, redirect = tail.partition(" ")
    return int(code), body, redirect


def http(host, path="/"):
    return curl("http://%s:%d%s" % (host, HTTP_PORT, path), host, HTTP_PORT)


def https(host, path="/", cacert=None):
    return curl("https://%s:%d%s" % (host, HTTPS_PORT, path), host, HTTPS_PORT,
                cacert=cacert or E["PEBBLE_ROOT_FILE"])


def tls_get(host, cafile=None, path="/", ctx=None):
    """One HTTPS request to the stack's nginx for host (SNI and Host), the
    certificate verified against pebble's root: (raw answer, certificate)."""
    ctx = ctx or ssl.create_default_context(cafile=cafile or E["PEBBLE_ROOT_FILE"])
    with socket.create_connection(("127.0.0.1", HTTPS_PORT), 10) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            t.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    return data, t.getpeercert()
                data += chunk


def served_cert(host, cafile=None):
    """The certificate nginx serves for host."""
    return tls_get(host, cafile)[1]


def _ts(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _site(host):
    return os.path.join(SITES, "host-%s.conf" % host)


_main = {}


def _active_https_domain():
    """The acceptance's main path, once: add -> records -> verified -> routed
    -> certificate -> HTTPS.  Returns (world, app, domain)."""
    if _main:
        return _main["w"], _main["app"], _main["d"]
    _need()
    w = DomainWorld.get()
    app = w.deployed_app()
    host = _host()
    d = _add_domain(w, app, host)
    # The records to create, ready to paste.
    rec = w.c.get("/domains/%s/dns-records" % d["id"])
    assert rec.status == 200, rec
    assert d["verification"]["value"] in str(rec.data) and d["verification"]["name"] in str(rec.data), rec.data
    # Nothing is routed before the check.
    assert not os.path.exists(_site(host))
    _publish(d)
    dnscheck()
    got = _domain(w, d)
    assert got["status"] in ("verified", "active"), got
    assert got["check_error"] is None and got["verified_at"] and got["last_checked_at"], got
    # The edge.host job ran by the agent: active, the host answers from the app.
    _status(w, d, "active")
    assert os.path.exists(_site(host))
    assert http(host) == (200, "v1\n", ""), http(host)
    got = _domain(w, d)
    assert got["tls"]["status"] == "pending", got
    # The next run queues domain.cert; the agent issues from pebble.
    dnscheck()
    got = _tls(w, d, lambda x: x["tls"]["status"] in ("issued", "failed"), "a certificate", 180)
    assert got["tls"]["status"] == "issued", got
    assert got["tls"]["issuer"] and "pebble" in got["tls"]["issuer"].lower(), got
    _main.update(w=w, app=app, d=got)
    return w, app, got


def test_a_verified_domain_is_routed_and_served_over_https_with_a_certificate_from_the_ca():
    w, app, d = _active_https_domain()
    host = d["hostname"]
    _wait("HTTPS by the custom hostname", lambda: https(host)[:2] == (200, "v1\n"), 30)
    cert = served_cert(host)
    assert ("DNS", host) in cert["subjectAltName"], cert
    assert _ts(d["tls"]["expires_at"]) == ssl.cert_time_to_seconds(cert["notAfter"]), (d["tls"], cert)
    # Plain HTTP now redirects to HTTPS (https_redirect, on by default).
    assert w.c.get("/applications/" + app["id"]).data["https_redirect"] is True
    st, _, loc = http(host, "/x?y=1")
    assert st == 308 and loc == "https://%s:%d/x?y=1" % (host, HTTPS_PORT), (st, loc)
    # The HTTP-01 location stays plain (renewals need it).
    st, _, _ = http(host, "/.well-known/acme-challenge/nothing-here")
    assert st == 404, st


def test_https_redirect_false_proxies_plain_http():
    w, app, d = _active_https_domain()
    host = d["hostname"]
    r = w.c.get("/applications/" + app["id"])
    r = w.c.put("/applications/" + app["id"], {"https_redirect": False}, headers={"If-Match": r.headers["etag"]})
    assert r.status == 200 and r.data["https_redirect"] is False, r
    _wait("plain HTTP proxied", lambda: http(host) == (200, "v1\n", ""), 60)
    assert https(host)[:2] == (200, "v1\n")
    r = w.c.get("/applications/" + app["id"])
    r = w.c.put("/applications/" + app["id"], {"https_redirect": True}, headers={"If-Match": r.headers["etag"]})
    assert r.status == 200, r
    _wait("the redirect back", lambda: http(host)[0] == 308, 60)


def test_path_prefix_routes_a_second_application_under_the_same_host():
    w, app, d = _active_https_domain()
    host = d["hostname"]
    # App b serves /api/ itself (its web root gets an api/ directory).
    b = _app(w, start_command="mkdir -p /www/api && echo app-b > /www/api/index.html && exec /start.sh")
    _deploy(w, b)
    assert https(host, "/api/")[0] == 404     # app a has no /api/
    d2 = _add_domain(w, b, host, path_prefix="/api")
    assert d2["path_prefix"] == "/api", d2
    txts = [("TXT", d["verification"]["value"])]
    if d2["verification"]["value"] != d["verification"]["value"]:
        txts.append(("TXT", d2["verification"]["value"]))
    dns().set(d2["verification"]["name"], txts)
    dnscheck()
    _status(w, d2, "active")
    _wait("/api/ served by app b", lambda: https(host, "/api/")[:2] == (200, "app-b\n"), 60)
    assert https(host, "/")[:2] == (200, "v1\n")
    with open(_site(host)) as f:
        site = f.read()
    assert "# route /api %s" % b["id"] in site and "# route / %s" % app["id"] in site, site
    # One certificate per hostname: the rows of the host show the same one,
    # the one nginx serves (a new row of a host that has one may get it by a
    # further run of the helper).
    dnscheck()
    got = _tls(w, d2, lambda x: x["tls"]["status"] == "issued", "the shared certificate", 180)
    _wait("the jobs of the host done", lambda: _domain(w, d)["tls"] == _domain(w, d2)["tls"], 60)
    _wait("the served certificate", lambda: ssl.cert_time_to_seconds(served_cert(host)["notAfter"]) ==
          _ts(_domain(w, d2)["tls"]["expires_at"]), 30)
    assert https(host, "/api/")[:2] == (200, "app-b\n")


def test_a_wrong_txt_or_missing_routing_routes_nothing():
    _need()
    w = DomainWorld.get()
    app = w.deployed_app()
    wrong = _add_domain(w, app, _host("w"))
    _publish(wrong, txt="lnchr-verify=" + "0" * 32)
    unrouted = _add_domain(w, app, _host("u"))
    _publish(unrouted, routing=False)
    nx = _add_domain(w, app, _host("n"))    # no record at all: NXDOMAIN
    dnscheck()
    for d, text in ((wrong, "expected"), (unrouted, "routing"), (nx, "NXDOMAIN")):
        got = _domain(w, d)
        assert got["status"] == "pending_verification", got
        assert got["check_error"] and text in got["check_error"], got
        assert not os.path.exists(_site(d["hostname"])), d
        # The host answers what the plane's default server answers, not the app.
        st, body, _ = http(d["hostname"])
        assert (st, body) != (200, "v1\n"), (st, body)
        assert st == http("nobody-%s.%s" % (uuid.uuid4().hex[:6], ZONE))[0], st
        # Back-off: the first failing check is tried again a minute later
        # (asserted on next_check_at, not by waiting).
        gap, attempts = psql("SELECT extract(epoch FROM next_check_at - last_checked_at)::int, check_attempts"
                             " FROM domains WHERE id = '%s'" % d["id"], user="launcher_owner")[0].split("|")
        assert (int(gap), int(attempts)) == (60, 1), (gap, attempts, d["hostname"])


def test_the_same_hostname_in_another_tenant_is_409():
    w, app, d = _active_https_domain()
    other, _ = registered("dom2")
    srv = _server(other, host="127.0.0.1", base_domain="localhost")
    p = new_project(other)
    a = other.post("/applications", {"name": "o" + uuid.uuid4().hex[:8], "project_id": p["id"],
                                     "source_type": "docker_image", "image_url": E["FIXTURE_REGISTRY_WEB_V1"],
                                     "exposed_port": 8080, "server_id": srv["id"]})
    assert a.status == 201, a
    for prefix in ("/", "/other"):
        r = other.post("/domains", {"application_id": a.data["id"], "hostname": d["hostname"],
                                    "path_prefix": prefix})
        assert_error(r, 409, "CONFLICT", "hostname")
    # And the first tenant's domain is untouched.
    assert _domain(w, d)["status"] == "active"


def _pebble(validity_seconds):
    """A second pebble (short-lived certificates); returns (dir, its PEBBLE_* env)."""
    pdir = tempfile.mkdtemp(prefix="pebble-short-", dir=STATE)
    out = subprocess.run(["bash", "-c", '. "$1"; pebble_start "$2" "$3" "$4" "$5" >&2 && env | grep "^PEBBLE_"',
                          "pebble", os.path.join(REPO, "tests", "lib", "pebble.sh"), pdir, str(HTTP_PORT),
                          E["LAUNCHER_TEST_DNS"], str(validity_seconds)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    env = dict(line.split("=", 1) for line in out.stdout.splitlines())
    return pdir, env


def _pebble_stop(pdir):
    subprocess.run(["bash", "-c", '. "$1"; pebble_stop "$2"', "pebble",
                    os.path.join(REPO, "tests", "lib", "pebble.sh"), pdir], timeout=30)


def test_renewal_within_30_days_serves_the_new_certificate_without_a_failed_request():
    _need()
    w = DomainWorld.get()
    app = w.deployed_app()
    pdir, pe = _pebble(20 * 86400)
    try:
        short = ["--acme_directory_url", pe["PEBBLE_DIRECTORY_URL"], "--acme_ca_file", pe["PEBBLE_CA_FILE"]]
        d = _add_domain(w, app, _host("r"))
        _publish(d)
        dnscheck(*short)
        _status(w, d, "active")
        dnscheck(*short)
        d = _tls(w, d, lambda x: x["tls"]["status"] in ("issued", "failed"), "the first certificate", 180)
        assert d["tls"]["status"] == "issued", d
        left = _ts(d["tls"]["expires_at"]) - time.time()
        assert 19 * 86400 < left < 21 * 86400, d["tls"]
        host, root = d["hostname"], pe["PEBBLE_ROOT_FILE"]
        _wait("HTTPS with the short-lived certificate", lambda: https(host, cacert=root)[:2] == (200, "v1\n"), 30)
        before = served_cert(host, root)
        assert ssl.cert_time_to_seconds(before["notAfter"]) == _ts(d["tls"]["expires_at"])
        # Requests in a loop while the helper renews it and nginx reloads.
        fails, count, stop = [], [0], threading.Event()

        def client():
            ctx = ssl.create_default_context(cafile=root)
            while not stop.is_set():
                try:
                    data, _ = tls_get(host, ctx=ctx)
                    if not (data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nv1\n")):
                        fails.append(data[:200])
                    count[0] += 1
                except (OSError, ssl.SSLError) as e:
                    fails.append(repr(e))

        t = threading.Thread(target=client)
        t.start()
        try:
            time.sleep(0.5)
            dnscheck(*short)    # within 30 days of expiry: renewal queued
            after = _tls(w, d, lambda x: x["tls"]["expires_at"] != d["tls"]["expires_at"] or
                         x["tls"]["status"] != "issued", "the renewed certificate", 180)
            assert after["tls"]["status"] == "issued", after
            _wait("nginx serving the new certificate",
                  lambda: served_cert(host, root)["serialNumber"] != before["serialNumber"], 30)
            time.sleep(1)
        finally:
            stop.set()
            t.join()
        assert not fails, fails[:5]
        assert count[0] > 10, count
        now = served_cert(host, root)
        assert ssl.cert_time_to_seconds(now["notAfter"]) == _ts(after["tls"]["expires_at"]), (now, after)
    finally:
        _pebble_stop(pdir)


def test_the_planes_own_hostname_gets_a_certificate_from_the_ca():
    """plane_hostname (LAUNCHER_PLANE_HOSTNAME, set by tests/run.sh and
    resolving to the stack in the suite's dnsmasq): launcher-dnscheck gets
    it a certificate through the stack's nginx (HTTP-01 from
    <state>/acme-plane on its plain default server), installs it as the
    name's own pair and reloads nginx.  That name is then served the CA's
    certificate, and localhost still the self-signed one its clients trust."""
    _need()
    conf = dict(line.split(" = ", 1) for line in open(CONF).read().splitlines() if " = " in line)
    conf = {k.strip(): v.strip().strip('"') for k, v in conf.items()}
    name = conf.get("plane_hostname", "")
    assert name, "the stack has no plane_hostname (tests/run.sh sets LAUNCHER_PLANE_HOSTNAME)"
    tls = os.path.join(STATE, "tls")
    assert conf["plane_tls_cert"] == os.path.join(tls, "plane-cert.pem"), conf
    assert conf["plane_acme_webroot"] == os.path.join(STATE, "acme-plane"), conf
    # A run of the helper with the CA (an earlier module's run may have
    # obtained it already: then this one leaves it alone).
    dnscheck()
    _wait("the plane's certificate", lambda: https(name, "/healthz")[0] == 200, 30)
    st, body, _ = https(name, "/healthz")
    assert st == 200, (st, body)
    assert ("DNS", name) in served_cert(name)["subjectAltName"]
    # localhost: still the stack's self-signed certificate.
    cert = served_cert("localhost", os.path.join(tls, "cert.pem"))
    assert ("DNS", "localhost") in cert["subjectAltName"], cert
