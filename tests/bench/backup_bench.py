"""The measuring half of tests/bench/backup_bench.sh (see there)."""
import os
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from lib import Client, request  # noqa: E402
from test_backups_e2e import _exec  # noqa: E402

MB = 1 << 20
SIZE_MB = int(os.environ.get("BENCH_BACKUP_MB", "2048"))
ROWS_PER_MB = 6500      # rows of 4 random md5 texts: about 160 bytes each on disk
BUCKET = "bench-" + uuid.uuid4().hex[:8]


def until(fn, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit("timed out waiting for " + what)


def proc_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


class Sampler(threading.Thread):
    """The peak VmHWM of every child the agent forks while it runs (the job's process)."""

    def __init__(self, agent):
        super().__init__(daemon=True)
        self.agent, self.before = agent, set(children(agent))
        self.peak_kb, self.stop = 0, False

    def run(self):
        while not self.stop:
            for c in children(self.agent):
                if c not in self.before:
                    self.peak_kb = max(self.peak_kb, proc_kb(c, "VmHWM") or 0)
            time.sleep(0.05)


def s3_put_bucket():
    url = "%s/%s" % (os.environ["S3_TEST_ENDPOINT"], BUCKET)
    subprocess.run(["curl", "-sf", "-X", "PUT", "--aws-sigv4", "aws:amz:%s:s3" %
                    os.environ.get("S3_TEST_REGION", "us-east-1"), "--user", "%s:%s" %
                    (os.environ["S3_TEST_ACCESS_KEY"], os.environ["S3_TEST_SECRET_KEY"]),
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url], check=True, timeout=60)


def main():
    agent = int(open(os.environ["BENCH_AGENT_PID_FILE"]).read())
    r = request("POST", "/default/api/v1/auth/register", {
        "email": "backup-bench@example.com", "password": "bench-Passw0rd", "first_name": "B",
        "last_name": "K"})
    assert r.status in (200, 201), r
    c = Client("default", token=r.data["token"])
    p = c.post("/projects", {"name": "backupbench"}).data
    db = c.post("/databases", {"project_id": p["id"], "name": "big", "type": "postgres"}).data
    until(lambda: c.get("/databases/" + db["id"]).data["status"] == "running", 300, "postgres")
    d = c.get("/databases/%s/connection" % db["id"]).data
    ctr, user, name = "lnchr-db-" + db["id"], d["user"], d["name"]

    def sql(q):
        code, out = _exec(ctr, ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", user,
                                "-d", name, "-c", q])
        assert code == 0, out
        return out.strip()

    t0 = time.time()
    sql("CREATE TABLE big (i bigint, pad text)")
    rows, step = SIZE_MB * ROWS_PER_MB, 500000
    for lo in range(0, rows, step):
        sql("INSERT INTO big SELECT g, md5(random()::text) || md5(random()::text) || "
            "md5(random()::text) || md5(random()::text) FROM generate_series(%d, %d) g"
            % (lo + 1, min(lo + step, rows)))
    size = int(sql("SELECT pg_database_size(current_database())"))
    print("database: %.0f MB (%d rows), filled in %.0f s" % (size / MB, rows, time.time() - t0))

    t0 = time.time()
    code, out = _exec(ctr, ["sh", "-c", "pg_dump -Fc -U \"$U\" -d \"$D\" | cat > /dev/null"],
                      env=["U=" + user, "D=" + name], timeout=7200)
    floor_s = time.time() - t0
    assert code == 0, out

    s3_put_bucket()
    dests = [
        c.post("/settings/backup-destinations", {"name": "local", "provider": "local",
                                                 "path": "bench"}).data,
        c.post("/settings/backup-destinations", {
            "name": "rgw", "provider": "custom", "endpoint": os.environ["S3_TEST_ENDPOINT"],
            "region": os.environ.get("S3_TEST_REGION", "us-east-1"), "bucket": BUCKET,
            "url_style": "path", "access_key": os.environ["S3_TEST_ACCESS_KEY"],
            "secret_key": os.environ["S3_TEST_SECRET_KEY"]}).data,
    ]
    print("floor: pg_dump -Fc | cat > /dev/null: %.1f s" % floor_s)
    print("| destination | dump | dump+upload | MB/s | floor MB/s | with read-back | "
          "job VmHWM | agent VmHWM |")
    print("|---|---|---|---|---|---|---|---|")
    for dest in dests:
        s = Sampler(agent)
        s.start()
        t0 = time.time()
        r = c.post("/databases/%s/backups" % db["id"], {"destination_id": dest["id"]})
        assert r.status == 202, r
        bid = r.data["backup"]["id"]
        seen = {}

        def phase():
            b = c.get("/backups/" + bid).data
            if b["status"] == "verifying" and "v" not in seen:
                seen["v"] = time.time() - t0
            return b if b["status"] in ("succeeded", "failed") else None
        b = until(phase, 6 * 3600, "backup " + bid)
        total = time.time() - t0
        s.stop = True
        s.join()
        if b["status"] != "succeeded":
            raise SystemExit("backup failed: %s" % b.get("error"))
        up = seen.get("v", total)
        mbs, floor_mbs = b["size_bytes"] / MB / up, b["size_bytes"] / MB / floor_s
        print("| %s | %.0f MB | %.1f s | %.1f | %.1f | %.1f s | %.1f MB | %.1f MB |" % (
            dest["name"], b["size_bytes"] / MB, up, mbs, floor_mbs, total, s.peak_kb / 1024,
            (proc_kb(agent, "VmHWM") or 0) / 1024))


if __name__ == "__main__":
    main()
