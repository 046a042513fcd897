"""The cron acceptance in real time (issue 21: "a cron function every minute
runs exactly once per minute over 5 minutes; assert the invocation rows'
minutes").  What it proves: on a stack of its own (tests/realtime/cron_minutes.sh:
its own PostgreSQL, pool, nginx, Podman), with the stack's OWN launcher-scheduler
loop (`--interval 60`, started by launcher-stack.sh exactly as in production;
nobody runs --once or --at against it), a `* * * * *` Python function deployed
on its own server by a real launcher-agent is invoked exactly once for each of
5 consecutive wall-clock minutes: the first five cron rows of
function_invocations have scheduled_for = m, m+1, ..., m+4 minutes (second 0,
no gap, no second row for a minute) and each ended `ok`.  Nothing is simulated:
no replayed minute, no stand-in.  tests/api/test_functions.py covers the
simulated minutes (--at) and the missed-window rules.

It runs in the background beside the API modules of `make test` (it adds no
wall time: its ~7 minutes pass while they run), on its own stack, so that no
module that stops the shared stack's nginx, pool or PostgreSQL (test_monitoring's
plane outage, test_zz_resilience) or ticks its scheduler can disturb it, and
its scheduler fires no other module's cron functions.  Alone:
bash tests/realtime/cron_minutes.sh.  Prints "realtime cron: N passed, N failed"."""
import datetime
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "api"))

from lib import image_mirrors, new_project, registered  # noqa: E402
from test_agent_e2e import RealAgent, _wait  # noqa: E402
from test_servers import _server  # noqa: E402

MINUTES = 5
PYTHON = r"""
import datetime

def handler(event, context):
    return {"status": 200, "body": {"trigger": event["trigger"],
                                    "at": datetime.datetime.utcnow().isoformat()}}
"""


class QuietAgent(RealAgent):
    """The real agent, polling every second (it runs for minutes beside the suite)."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        i = self.args.index("--poll-interval")
        self.args[i + 1] = "1"


def _minute(ts):
    """An RFC 3339 timestamp as epoch seconds (UTC)."""
    return int(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())


def test_an_every_minute_function_runs_exactly_once_per_minute_for_5_real_minutes():
    rows = {}
    for line in os.environ["FIXTURE_FN_IMAGE_MIRRORS"].splitlines():
        if "|" in line:
            k, v = line.split("|", 1)
            rows[k.strip()] = v.strip()
    image_mirrors(rows)
    c, _ = registered("cron")
    srv = _server(c)
    p = new_project(c)
    agent = QuietAgent(c.tenant, srv["agent_token"], srv["name"]).start()
    try:
        _wait("the agent online", lambda: c.get("/servers/" + srv["id"]).data["status"] == "online", 60)
        r = c.post("/functions", {"project_id": p["id"], "name": "every-minute",
                                  "runtime": "python3", "source": {"files": {"index.py": PYTHON}},
                                  "triggers": [{"type": "cron", "schedule": "* * * * *", "timezone": "UTC"}]})
        assert r.status == 201, r
        f = r.data
        r = c.post("/functions/%s/deploy" % f["id"])
        assert r.status == 202, r
        _wait("the function running",
              lambda: c.get("/functions/" + f["id"]).data["status"] in ("running", "failed"), 240)
        got = c.get("/functions/" + f["id"]).data
        assert got["status"] == "running", got
        deployed = time.time()

        def cron_rows():
            return sorted((i for i in c.get("/functions/%s/invocations?limit=100" % f["id"]).data
                           if i["trigger"] == "cron"), key=lambda i: i["scheduled_for"])

        def five_done():
            rs = cron_rows()
            done = [i for i in rs if i["status"] not in ("queued", "running")]
            return rs if len(done) >= MINUTES and len(rs) >= MINUTES and all(
                i["status"] not in ("queued", "running") for i in rs[:MINUTES]) else None
        # At most one minute to the first boundary, then five minutes (and
        # the scheduler's second 1, the run itself, a loaded machine).
        rs = _wait("%d cron runs" % MINUTES, five_done, (MINUTES + 2) * 60 + 60)
        minutes = [_minute(i["scheduled_for"]) for i in rs]
        print("cron rows: %s" % ", ".join("%s %s" % (i["scheduled_for"], i["status"]) for i in rs))
        # One row per minute: second 0, consecutive, no minute twice, and
        # none before the function was deployed (its first boundary after).
        assert all(m % 60 == 0 for m in minutes), minutes
        assert len(set(minutes)) == len(minutes), minutes
        first = minutes[:MINUTES]
        assert first == [first[0] + 60 * k for k in range(MINUTES)], minutes
        assert minutes == [first[0] + 60 * k for k in range(len(minutes))], minutes
        assert first[0] <= deployed + 60, (first[0], deployed)
        assert [i["status"] for i in rs[:MINUTES]] == ["ok"] * MINUTES, rs
    finally:
        agent.end()


def main():
    name = "test_an_every_minute_function_runs_exactly_once_per_minute_for_5_real_minutes"
    t0 = time.time()
    try:
        test_an_every_minute_function_runs_exactly_once_per_minute_for_5_real_minutes()
        print("ok   realtime/test_cron_minutes.py::%s (%.1fs)" % (name, time.time() - t0), flush=True)
        ok = True
    except Exception as e:
        print("FAIL realtime/test_cron_minutes.py::%s: %s" % (name, e), flush=True)
        traceback.print_exc(limit=3, file=sys.stdout)
        ok = False
    print("realtime cron: %d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
