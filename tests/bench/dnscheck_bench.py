#!/usr/bin/env python3
"""The body of make bench-dnscheck (tests/bench/dnscheck_bench.sh): 10,000
domains of which 100 due, one launcher-dnscheck --once timed per run."""
import os
import statistics
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lib import BIN, CONF, STATE, psql, registered  # noqa: E402
from dnsmasq import Dns  # noqa: E402

TOTAL, DUE = 10000, 100
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def owner(sql):
    return psql(sql, user="launcher_owner")


def main():
    c, _ = registered("bench")
    r = c.post("/servers", {"name": "srv-" + uuid.uuid4().hex[:8], "base_domain": "apps.test",
                            "host": "127.0.0.1"})
    assert r.status == 201, r
    r = c.post("/projects", {"name": "p-" + uuid.uuid4().hex[:8]})
    assert r.status == 201, r
    project = r.data["id"]
    r = c.post("/applications", {"name": "web", "project_id": project, "source_type": "docker_image",
                                 "image_url": "registry.test/web:v1", "exposed_port": 8080})
    assert r.status == 201, r
    app = r.data["id"]
    # 10,000 rows in one statement; the first 100 are the due ones.
    owner("INSERT INTO domains (tenant_id, project_id, application_id, hostname, token, next_check_at)"
          " SELECT p.tenant_id, p.id, '%s', 'd' || i || '.bench.test', md5(i::text),"
          "        CASE WHEN i <= %d THEN now() ELSE now() + interval '1 day' END"
          "   FROM projects p, generate_series(1, %d) i WHERE p.id = '%s'" % (app, DUE, TOTAL, project))
    dns = Dns(state_dir=os.path.join(STATE, "dns")).start()
    names = {}
    for i in range(1, DUE + 1):
        names["_lnchr-verify.d%d.bench.test" % i] = [("TXT", "lnchr-verify=" + owner(
            "SELECT md5('%d')" % i)[0])]
        names["d%d.bench.test" % i] = [("A", "127.0.0.1")]
    dns.set_many(names)
    dns.proc = None  # the .sh stops it by its pid file
    times = []
    for n in range(RUNS):
        owner("UPDATE domains SET status = 'pending_verification', next_check_at = now(),"
              " check_attempts = 0 WHERE hostname ~ '^d([1-9][0-9]?|100)\\.bench\\.test$'")
        t0 = time.monotonic()
        out = subprocess.run([os.path.join(BIN, "launcher-dnscheck"), "-c", CONF, "--once",
                              "--dns_server", dns.address, "--log_level", "info"],
                             capture_output=True, text=True)
        dt = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        verified = owner("SELECT count(*) FROM domains WHERE status = 'verified'")[0]
        assert verified == str(DUE), (verified, out.stderr)
        times.append(dt)
        print("run %d: %.3f s (%s verified of %d due, %d domains)" % (n + 1, dt, verified, DUE, TOTAL))
    print("launcher-dnscheck --once, %d domains, %d due: median %.3f s over %d runs (goal: under 5 s)"
          % (TOTAL, DUE, statistics.median(times), RUNS))


if __name__ == "__main__":
    main()
