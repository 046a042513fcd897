"""The measuring half of tests/bench/domain_ttfb.sh (see there)."""
import datetime
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from lib import HTTPS_PORT, Client, request  # noqa: E402
from dnsmasq import Dns  # noqa: E402

E = os.environ
ROUNDS = int(E.get("BENCH_DOMAINS", "3"))
ZONE = "bench.test"


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() if s else None


def https_ok(host):
    r = subprocess.run(["curl", "-s", "--max-time", "3", "--cacert", E["PEBBLE_ROOT_FILE"],
                        "--resolve", "%s:%d:127.0.0.1" % (host, HTTPS_PORT), "-o", "-", "-w", "\n##%{http_code}",
                        "https://%s:%d/" % (host, HTTPS_PORT)], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout == "v1\n\n##200"


def until(what, fn, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise SystemExit("timed out waiting for " + what)


def main():
    dns = Dns(port=int(E["BENCH_DNS_PORT"]), state_dir=E["BENCH_DNS_DIR"])
    dns.start()
    try:
        run(dns)
    finally:
        dns.stop()


def run(dns):
    r = request("POST", "/default/api/v1/auth/register", {
        "email": "domain-bench@example.com", "password": "bench-Passw0rd", "first_name": "B", "last_name": "D"})
    assert r.status == 201, r
    c = Client("default", token=r.data["token"])
    p = c.post("/projects", {"name": "bench"}).data
    a = c.post("/applications", {"name": "web", "project_id": p["id"], "source_type": "docker_image",
                                 "image_url": E["FIXTURE_REGISTRY_WEB_V1"], "exposed_port": 8080,
                                 "healthcheck_path": "/health"})
    assert a.status == 201, a
    app = a.data
    d = c.post("/applications/%s/deploy" % app["id"], {})
    assert d.status == 201, d
    until("the deploy", lambda: c.get("/deployments/" + d.data["id"]).data["status"] == "succeeded", 180)
    rows = []
    for i in range(ROUNDS):
        host = "b%s.%s" % (uuid.uuid4().hex[:8], ZONE)
        r = c.post("/domains", {"application_id": app["id"], "hostname": host})
        assert r.status == 201, r
        dom = r.data
        # A random point of the helper's minute.
        time.sleep(random.uniform(0, 60))
        t0 = time.time()
        dns.set(dom["verification"]["name"], [("TXT", dom["verification"]["value"])])
        dns.set(host, [("A", "127.0.0.1")])
        until("the first HTTPS answer of " + host, lambda: https_ok(host), 400)
        t1 = time.time()
        got = c.get("/domains/" + dom["id"]).data
        row = (t1 - t0, ts(got.get("verified_at")), ts(got.get("last_checked_at")))
        rows.append(t1 - t0)
        print("round %d: %s first HTTPS answer %.1f s after the records (verified at +%.1f s); tls %s" % (
            i + 1, host, row[0], (row[1] or t0) - t0, got["tls"]), flush=True)
    print("domains: records -> first HTTPS answer, launcher-dnscheck every %s s: median %.1f s "
          "(min %.1f, max %.1f, %d rounds)" % (E.get("LAUNCHER_DNSCHECK_INTERVAL", "60"), statistics.median(rows),
                                               min(rows), max(rows), len(rows)))


if __name__ == "__main__":
    main()
