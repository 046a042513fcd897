"""launcher-dnscheck (API.md §10; sql/033_dnscheck.sql): the real binary run
--once against dnsmasq (tests/lib/dnsmasq.py) holding the records each test
writes.  Ownership by TXT, routing by CNAME or A; every failure class its
own check_error; the back-off asserted on next_check_at - last_checked_at
(rows are made due by SQL, never waited for); the 72-hour give-up; a
verified domain that stops pointing at us is flagged, not dropped; two runs
at once do the work once; domain.cert jobs and what their results record.
"""
import atexit
import os
import subprocess
import sys
import time
import uuid

from lib import BIN, CONF, STATE, psql, registered
from test_servers import _server
from test_applications import _app

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from dnsmasq import Dns, Rcode, Silent  # noqa: E402

BASE = "apps.test"
SERVER_ADDR = "127.0.0.1"
_dns = []


def dns():
    """The suite's dnsmasq (LAUNCHER_TEST_DNS_DIR), or one of this module's own."""
    if not _dns:
        shared = os.environ.get("LAUNCHER_TEST_DNS_DIR")
        if shared:
            d = Dns(state_dir=shared)
        else:
            d = Dns(state_dir=os.path.join(STATE, "dnscheck-dns")).start()
            atexit.register(d.stop)
        _dns.append(d)
    return _dns[0]


def _sql(sql):
    return psql(sql, user="launcher_owner")


def _one(sql):
    rows = _sql(sql)
    assert len(rows) == 1, (sql, rows)
    return rows[0]


def run(*flags, timeout_ms=1000, check=True):
    """One `launcher-dnscheck --once` against the test DNS server."""
    args = [os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--once",
            "--dns_server", dns().address, "--dns_timeout_ms", str(timeout_ms),
            "--dnscheck_lock_file", os.path.join(STATE, "dnscheck-test.lock")] + list(flags)
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


class World:
    def __init__(self):
        self.c, _ = registered("dns")
        self.server = _server(self.c, base_domain=BASE, host=SERVER_ADDR)
        r = self.c.post("/projects", {"name": "p-" + uuid.uuid4().hex[:10]})
        assert r.status == 201, r
        self.project = r.data
        self.app = _app(self.c, self.project)

    def domain(self, hostname=None, prefix="/", **cols):
        """A domain of this world's application, created through the API
        (pending_verification, due now); cols set system fields by SQL.  A
        wildcard is inserted by SQL: the test stack does not enable them
        (domain_wildcards)."""
        hostname = hostname or "%s.dc.test" % uuid.uuid4().hex[:10]
        if hostname.startswith("*."):
            did = _one("INSERT INTO domains (tenant_id, project_id, application_id, hostname, path_prefix)"
                       " SELECT tenant_id, id, '%s', '%s', '%s' FROM projects WHERE id = '%s' RETURNING id"
                       % (self.app["id"], hostname, prefix, self.project["id"]))
        else:
            r = self.c.post("/domains", {"application_id": self.app["id"], "hostname": hostname,
                                         "path_prefix": prefix})
            assert r.status == 201 and r.data["status"] == "pending_verification", r
            did, value = r.data["id"], r.data["verification"]["value"]
        token = value.split("=", 1)[1] if not hostname.startswith("*.") else \
            _one("SELECT token FROM domains WHERE id = '%s'" % did)
        if cols:
            _sql("UPDATE domains SET %s WHERE id = '%s'"
                 % (", ".join("%s = %s" % kv for kv in cols.items()), did))
        return {"id": did, "hostname": hostname, "token": token}


def row(d, cols="status, txt_ok, routing_ok, routing_type, check_error, check_attempts"):
    out = _one("SELECT row_to_json(x) FROM (SELECT %s FROM domains WHERE id = '%s') x" % (cols, d["id"]))
    import json
    return json.loads(out)


def due(d):
    _sql("UPDATE domains SET next_check_at = now() - interval '1 second' WHERE id = '%s'" % d["id"])


def gap(d):
    """next_check_at - last_checked_at of d, in seconds."""
    return int(float(_one("SELECT extract(epoch FROM next_check_at - last_checked_at) FROM domains"
                          " WHERE id = '%s'" % d["id"])))


def jobs(d, kind):
    return _sql("SELECT payload FROM jobs WHERE kind = '%s' AND payload->>'hostname' = '%s'"
                " ORDER BY created_at" % (kind, d["hostname"]))


def txt(d, value=None, name=None):
    dns().set(name or "_lnchr-verify." + d["hostname"], [("TXT", value or "lnchr-verify=" + d["token"])])


# ------------------------------------------------------------------ verification

def test_txt_and_a_record_verify_and_queue_the_edge_route():
    w = World()
    d = w.domain()
    txt(d)
    dns().set(d["hostname"], [("A", SERVER_ADDR)])
    run()
    r = row(d)
    assert r == {"status": "verified", "txt_ok": True, "routing_ok": True, "routing_type": "A",
                 "check_error": None, "check_attempts": 0}, r
    assert gap(d) == 86400, gap(d)
    assert _one("SELECT verified_at IS NOT NULL FROM domains WHERE id = '%s'" % d["id"]) == "t"
    assert len(jobs(d, "edge.host")) == 1, jobs(d, "edge.host")
    g = w.c.get("/domains/" + d["id"])
    assert g.status == 200 and g.data["status"] == "verified" and g.data["check_error"] is None, g
    assert g.data["last_checked_at"] and g.data["verified_at"], g


def test_cname_under_the_base_domain_routes():
    w = World()
    d = w.domain()
    txt(d)
    dns().set(d["hostname"], [("CNAME", "%s.%s" % (w.app["name"], BASE))])
    run()
    r = row(d)
    assert r["status"] == "verified" and r["routing_type"] == "CNAME", r


def test_wildcard_is_verified_at_its_base_and_routed_by_a_probe_name():
    w = World()
    base = "w%s.test" % uuid.uuid4().hex[:8]
    d = w.domain("*." + base)
    # The API tells the user the name the helper checks.
    shown = w.c.get("/domains/" + d["id"])
    assert shown.status == 200 and shown.data["verification"]["name"] == "_lnchr-verify." + base, shown
    recs = w.c.get("/domains/%s/dns-records" % d["id"]).data
    assert any(x["type"] == "TXT" and x["name"] == "_lnchr-verify." + base for x in recs["records"]), recs
    txt(d, name="_lnchr-verify." + base)
    dns().set("lnchr-probe." + base, [("A", SERVER_ADDR)])
    run()
    assert row(d)["status"] == "verified", row(d)


def _failing(setup, expect, timeout_ms=1000):
    w = World()
    d = w.domain()
    setup(d)
    run(timeout_ms=timeout_ms)
    r = row(d)
    assert r["status"] == "pending_verification" and r["check_attempts"] == 1, r
    assert r["check_error"].startswith(expect % d), (r["check_error"], expect % d)
    assert gap(d) == 60, gap(d)
    assert jobs(d, "edge.host") == [], "nothing is routed"
    return d, r


def test_wrong_txt_value():
    d, r = _failing(lambda d: (txt(d, "lnchr-verify=0000"), dns().set(d["hostname"], [("A", SERVER_ADDR)])),
                    'TXT _lnchr-verify.%(hostname)s: found "lnchr-verify=0000", expected "lnchr-verify=%(token)s"')
    assert r["txt_ok"] is False and r["routing_ok"] is True, r


def test_missing_cname_and_a():
    d, r = _failing(lambda d: txt(d),
                    "routing %(hostname)s: no CNAME to " + BASE + " and no A/AAAA of " + SERVER_ADDR)
    assert r["txt_ok"] is True and r["routing_ok"] is False, r


def test_a_record_elsewhere_says_what_it_found():
    d, r = _failing(lambda d: (txt(d), dns().set(d["hostname"], [("A", "192.0.2.9")])),
                    "routing %(hostname)s: no CNAME to " + BASE)
    assert r["check_error"].endswith("found A 192.0.2.9"), r


def test_nxdomain():
    _failing(lambda d: None, "TXT _lnchr-verify.%(hostname)s: NXDOMAIN")


def test_servfail():
    zone = "sf%s.test" % uuid.uuid4().hex[:6]
    server = Rcode(2)
    dns().forward(zone, "127.0.0.1#%d" % server.port)
    w = World()
    d = w.domain("x." + zone)
    run()
    r = row(d)
    assert r["check_error"] == "TXT _lnchr-verify.x.%s: SERVFAIL" % zone, r
    assert r["txt_ok"] is False and r["routing_ok"] is False and r["status"] == "pending_verification"


def test_refused():
    w = World()
    d = w.domain("x%s.outside.invalid" % uuid.uuid4().hex[:6])
    run()
    assert row(d)["check_error"] == "TXT _lnchr-verify.%s: REFUSED" % d["hostname"], row(d)


def test_timeout():
    zone = "to%s.test" % uuid.uuid4().hex[:6]
    server = Silent()
    dns().forward(zone, "127.0.0.1#%d" % server.port)
    w = World()
    d = w.domain("x." + zone)
    run(timeout_ms=1000)
    r = row(d)
    assert r["check_error"] == "TXT _lnchr-verify.x.%s: timeout after 1000 ms" % zone, r
    assert r["status"] == "pending_verification" and gap(d) == 60


# ------------------------------------------------------------------ schedule

def test_backoff_doubles_from_a_minute_to_an_hour():
    w = World()
    d = w.domain()
    seen = []
    for _ in range(9):
        due(d)
        run()
        seen.append(gap(d))
    assert seen == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600], seen
    assert row(d)["check_attempts"] == 9
    # Not due: a run leaves it alone.
    before = _one("SELECT last_checked_at FROM domains WHERE id = '%s'" % d["id"])
    run()
    assert _one("SELECT last_checked_at FROM domains WHERE id = '%s'" % d["id"]) == before


def test_gives_up_after_72_hours_with_the_resolvers_answer():
    w = World()
    d = w.domain()
    run()
    assert row(d)["status"] == "pending_verification"
    _sql("UPDATE domains SET pending_since = now() - interval '71 hours 59 minutes' WHERE id = '%s'" % d["id"])
    due(d)
    run()
    assert row(d)["status"] == "pending_verification"
    _sql("UPDATE domains SET pending_since = now() - interval '72 hours 1 minute' WHERE id = '%s'" % d["id"])
    due(d)
    run()
    r = row(d)
    assert r["status"] == "failed" and r["check_error"].endswith(": NXDOMAIN"), r
    # A failed domain waits for POST /domains/:id/verify: no more checks.
    due(d)
    before = _one("SELECT last_checked_at FROM domains WHERE id = '%s'" % d["id"])
    run()
    assert _one("SELECT last_checked_at FROM domains WHERE id = '%s'" % d["id"]) == before
    # verify: pending again with a new window, checked by the next run (and verified now).
    txt(d)
    dns().set(d["hostname"], [("A", SERVER_ADDR)])
    r = w.c.post("/domains/%s/verify" % d["id"])
    assert r.status == 202 and r.data["status"] == "pending_verification", r
    run()
    assert row(d)["status"] == "verified", row(d)


def test_verified_domain_that_stops_pointing_is_flagged_not_dropped():
    w = World()
    d = w.domain()
    txt(d)
    dns().set(d["hostname"], [("A", SERVER_ADDR)])
    run()
    _sql("UPDATE domains SET status = 'active', routed_at = now() WHERE id = '%s'" % d["id"])
    dns().remove(d["hostname"])
    due(d)
    run()
    r = row(d)
    assert r["status"] == "active" and r["routing_ok"] is False and r["txt_ok"] is True, r
    assert r["check_error"].startswith("routing %s: " % d["hostname"]), r
    assert gap(d) == 3600, gap(d)
    dns().set(d["hostname"], [("A", SERVER_ADDR)])
    due(d)
    run()
    r = row(d)
    assert r["status"] == "active" and r["check_error"] is None and r["routing_ok"] is True, r
    assert gap(d) == 86400


def test_two_runs_at_once_do_the_work_once():
    zone = "lk%s.test" % uuid.uuid4().hex[:6]
    server = Silent()
    dns().forward(zone, "127.0.0.1#%d" % server.port)
    w = World()
    d = w.domain("x." + zone)
    args = [os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--once", "--dns_server", dns().address,
            "--dns_timeout_ms", "2000", "--dnscheck_lock_file", os.path.join(STATE, "dnscheck-test.lock")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    held = [o for o in outs if "another run holds the lock" in o[1]]
    assert len(held) == 1, outs
    assert row(d)["check_attempts"] == 1, row(d)


# ------------------------------------------------------------------ certificates

ACME = ["--acme_directory_url", "https://acme.invalid/dir", "--acme_email", "ops@example.com"]


def _active(w, hostname=None, prefix="/", **cols):
    cols.setdefault("status", "'active'")
    cols.setdefault("next_check_at", "now() + interval '1 day'")
    return w.domain(hostname, prefix, **cols)


def test_cert_jobs_for_active_domains_once_while_queued():
    import json
    w = World()
    pending = _active(w, tls_status="'pending'", tls_next_attempt_at="now()")
    later = _active(w, tls_status="'failed'", tls_next_attempt_at="now() + interval '5 minutes'")
    renew = _active(w, tls_status="'issued'", tls_expires_at="now() + interval '10 days'")
    fresh = _active(w, tls_status="'issued'", tls_expires_at="now() + interval '60 days'")
    unverified = w.domain(tls_status="'pending'", tls_next_attempt_at="now()",
                          next_check_at="now() + interval '1 day'")
    wild = _active(w, "*.w%s.test" % uuid.uuid4().hex[:8], tls_status="'pending'", tls_next_attempt_at="now()")
    # (the suite's stack names pebble in its launcher.conf: emptied for this run)
    run("--acme_directory_url", "")
    assert jobs(pending, "domain.cert") == [], "no acme_directory_url: no certificates"
    ca = os.path.join(STATE, "dnscheck-ca.pem")
    with open(ca, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    run(*ACME, "--acme_ca_file", ca)
    p = [json.loads(x) for x in jobs(pending, "domain.cert")]
    assert p == [{"hostname": pending["hostname"], "renew": False,
                  "acme": {"directory_url": "https://acme.invalid/dir", "email": "ops@example.com",
                           "ca_pem": open(ca).read()}}], p
    assert [json.loads(x)["renew"] for x in jobs(renew, "domain.cert")] == [True]
    for d in (later, fresh, unverified, wild):
        assert jobs(d, "domain.cert") == [], d
    r = row(wild, "tls_status, tls_error, tls_next_attempt_at")
    assert r["tls_status"] == "failed" and "DNS-01" in r["tls_error"] and r["tls_next_attempt_at"] is None, r
    # Queued already: not twice.
    run(*ACME)
    assert len(jobs(pending, "domain.cert")) == 1 and len(jobs(renew, "domain.cert")) == 1


def test_a_new_prefix_of_a_host_with_a_certificate_takes_it_over():
    w = World()
    first = _active(w, tls_status="'issued'", tls_issuer="'Pebble'", tls_serial="'0abc'",
                    tls_expires_at="now() + interval '60 days'")
    api = _active(w, first["hostname"], "/api", tls_status="'pending'", tls_next_attempt_at="now()")
    run(*ACME)
    r = row(api, "tls_status, tls_serial, tls_issuer")
    assert r == {"tls_status": "issued", "tls_serial": "0abc", "tls_issuer": "Pebble"}, r
    assert jobs(first, "domain.cert") == [], "no second order for the host"


def _finish(d, status, result=None, error=None):
    import json
    _sql("UPDATE jobs SET status = '%s', result = %s, error = %s, finished_at = now()"
         " WHERE kind = 'domain.cert' AND payload->>'hostname' = '%s' AND status = 'queued'"
         % (status, "'%s'::jsonb" % json.dumps(result) if result else "NULL",
            "'%s'" % error if error else "NULL", d["hostname"]))


def test_cert_results_set_tls_and_failures_back_off():
    w = World()
    d = _active(w, tls_status="'pending'", tls_next_attempt_at="now()")
    run(*ACME)
    _finish(d, "failed", error="urn:ietf:params:acme:error:connection: timeout")
    r = row(d, "tls_status, tls_error, tls_attempts,"
               " round(extract(epoch FROM tls_next_attempt_at - now())) AS wait")
    assert r["tls_status"] == "failed" and r["tls_error"].endswith("timeout") and r["tls_attempts"] == 1, r
    assert 295 <= r["wait"] <= 300, r
    run(*ACME)
    assert len(jobs(d, "domain.cert")) == 1, "backing off: no new job"
    _sql("UPDATE domains SET tls_next_attempt_at = now() WHERE id = '%s'" % d["id"])
    run(*ACME)
    assert len(jobs(d, "domain.cert")) == 2
    _finish(d, "failed", error="again")
    r = row(d, "tls_attempts, round(extract(epoch FROM tls_next_attempt_at - now())) AS wait")
    assert r["tls_attempts"] == 2 and 595 <= r["wait"] <= 600, r
    _sql("UPDATE domains SET tls_next_attempt_at = now() WHERE id = '%s'" % d["id"])
    run(*ACME)
    _finish(d, "succeeded", {"hostname": d["hostname"], "issuer": "Pebble Intermediate CA 1",
                             "serial": "0a1b2c", "not_before": "2026-12-01T00:00:00Z",
                             "expires_at": "2027-03-01T00:00:00Z"})
    r = row(d, "tls_status, tls_issuer, tls_serial, tls_error, tls_attempts, tls_next_attempt_at,"
               " tls_expires_at = '2027-03-01T00:00:00Z' AS exp_ok, tls_not_before = '2026-12-01T00:00:00Z' AS nb_ok")
    assert r == {"tls_status": "issued", "tls_issuer": "Pebble Intermediate CA 1", "tls_serial": "0a1b2c",
                 "tls_error": None, "tls_attempts": 0, "tls_next_attempt_at": None,
                 "exp_ok": True, "nb_ok": True}, r
    # A failed renewal keeps the issued certificate serving.
    _sql("UPDATE domains SET tls_expires_at = now() + interval '3 days' WHERE id = '%s'" % d["id"])
    run(*ACME)
    _finish(d, "failed", error="renewal refused")
    r = row(d, "tls_status, tls_error, tls_attempts")
    assert r == {"tls_status": "issued", "tls_error": "renewal refused", "tls_attempts": 1}, r
    run(*ACME)
    assert len(jobs(d, "domain.cert")) == 4, "the renewal backs off too"


def test_loop_runs_at_once_when_notified():
    w = World()
    a = w.domain()
    log = open(os.path.join(STATE, "dnscheck-loop.log"), "w+")
    p = subprocess.Popen([os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--loop", "--interval", "3600",
                          "--dns_server", dns().address, "--dns_timeout_ms", "1000",
                          "--dnscheck_lock_file", os.path.join(STATE, "dnscheck-test.lock")],
                         stdout=log, stderr=log)
    try:
        def checked(d):
            for _ in range(300):
                if _one("SELECT last_checked_at IS NOT NULL FROM domains WHERE id = '%s'" % d["id"]) == "t":
                    return True
                time.sleep(0.1)
            return False
        assert checked(a), "the first run at start"
        b = w.domain("%s.dc.test" % uuid.uuid4().hex[:10], next_check_at="now() + interval '1 day'")
        r = w.c.post("/domains/%s/verify" % b["id"])
        assert r.status == 202, r
        assert checked(b), "woken by verify's notification (the interval is an hour)"
        assert p.poll() is None
    finally:
        p.terminate()
        p.wait(30)
        log.close()
    assert p.returncode == 0, p.returncode


def test_flags_are_checked():
    out = subprocess.run([os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--once", "--nope", "x"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "usage" in out.stderr, out
    out = subprocess.run([os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--once",
                          "--dns_timeout_ms", "zero"], capture_output=True, text=True)
    assert out.returncode == 2 and "dns_timeout_ms" in out.stderr, out


# ------------------------------------------------------------------ the plane's own certificate

def test_plane_certificate_is_obtained_once_and_failures_back_off():
    import functools
    import http.server
    import stat
    import threading
    base = os.path.join(STATE, "dnscheck-plane-" + uuid.uuid4().hex[:6])
    webroot, acme_dir, pebble_dir = (os.path.join(base, x) for x in ("webroot", "acme", "pebble"))
    os.makedirs(webroot)
    cert, key, reloads = (os.path.join(base, x) for x in ("fullchain.pem", "key.pem", "reloads"))
    # The plane's port 80 as pebble's HTTP-01 validations see it: the webroot, served.
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=webroot))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = "plane-%s.test" % uuid.uuid4().hex[:6]
    dns().set(host, [("A", "127.0.0.1")])
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib", "pebble.sh")
    out = subprocess.run(["bash", lib, "start", pebble_dir, str(httpd.server_address[1]), dns().address],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    env = dict(w.split("=", 1) for l in out.stdout.splitlines() if l.startswith("export ")
               for w in l.split()[1:])
    try:
        flags = ["--acme_directory_url", env["PEBBLE_DIRECTORY_URL"], "--acme_email", "ops@example.com",
                 "--acme_ca_file", env["PEBBLE_CA_FILE"], "--plane_hostname", host,
                 "--plane_acme_webroot", webroot, "--plane_acme_dir", acme_dir,
                 "--plane_tls_cert", cert, "--plane_tls_key", key,
                 "--plane_reload_command", "echo reloaded >> " + reloads]
        r = run(*flags)
        assert os.path.exists(cert), r.stderr
        chk = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-checkhost", host],
                             capture_output=True, text=True)
        assert "does match" in chk.stdout, chk.stdout
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert open(reloads).read() == "reloaded\n"
        # Current: the next run leaves it alone.
        before = os.stat(cert).st_mtime_ns
        run(*flags)
        assert os.stat(cert).st_mtime_ns == before and open(reloads).read() == "reloaded\n"
        # Another name, a CA that cannot be reached: failed, backing off 5 minutes; the next
        # run does not try again; the certificate in place stays.
        flags[flags.index(env["PEBBLE_DIRECTORY_URL"])] = "https://127.0.0.1:1/dir"
        flags[flags.index(host)] = "other-" + host
        r = run(*flags, check=False)
        assert r.returncode == 1 and "plane certificate for other-" in r.stderr, r.stderr
        attempts, nxt = open(os.path.join(acme_dir, "plane-backoff")).read().split()
        assert attempts == "1" and 295 <= int(nxt) - time.time() <= 300, (attempts, nxt)
        r = run(*flags)
        assert "obtaining" not in r.stderr, r.stderr
        assert os.stat(cert).st_mtime_ns == before and open(reloads).read() == "reloaded\n"
    finally:
        subprocess.run(["bash", lib, "stop", pebble_dir], timeout=30)
        httpd.shutdown()
