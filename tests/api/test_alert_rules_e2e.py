"""A CPU-threshold rule on a real busy container (API.md §18 acceptance):
the real agent's 10 s container points (app_metrics), launcher-scheduler
run by the test (`--once`, as the stack's own is idle in tests).  The test
app (tests/fixtures: web:v1) is deployed with a start command that also
spins a shell loop, its CPU capped at half a core; the rule (> 25 % for
20 s) fires once after 20 s of points, holds back within its cooldown when
the app is busy again, and resolves once the app is idle."""
import json
import time
import uuid

from lib import psql
from test_agent_e2e import _wait
from test_alert_rules import _events, _rule
from test_deploy_e2e import EdgeAgent, World, _app, _deploy, _have_fixtures
from test_servers import scheduler

BUSY = "(while :; do :; done) & exec /start.sh"
TIMEOUT = 150


class MetricsAgent(EdgeAgent):
    """The real agent with container points every 2 s (the rules read 10 s buckets)."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        self.args += ["--metrics-interval", "2"]


class RulesWorld(World):
    _w = None
    agent_class = MetricsAgent


def _cpu(app):
    """The app's newest 10 s point: summed cpu_percent of its instances, or None."""
    rows = psql("SELECT sum(cpu_percent) FROM app_metrics WHERE application_id = '%s'"
                " GROUP BY ts ORDER BY ts DESC LIMIT 1" % app["id"], user="launcher_owner")
    return float(rows[0]) if rows and rows[0] else None


def _ticks_until(what, rule, n, timeout=TIMEOUT):
    """Runs launcher-scheduler --once every 2 s until the rule has n events."""
    def tick():
        scheduler()
        ev = _events(RulesWorld.get().c, rule)
        assert len(ev) <= n, ev
        return ev if len(ev) == n else None
    return _wait(what, tick, timeout)


def test_a_cpu_rule_on_a_busy_container_fires_once_respects_its_cooldown_and_resolves():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through tests/run.sh")
    w = RulesWorld.get()
    a = _app(w, name="busy" + uuid.uuid4().hex[:6], start_command=BUSY, cpu_limit=0.5)
    _deploy(w, a)
    _wait("busy points", lambda: (_cpu(a) or 0) > 35, TIMEOUT)
    rule = _rule(w.c, {"metric": "application.cpu_percent", "op": ">", "threshold": 25,
                       "for_seconds": 20, "resource_id": a["id"]}, cooldown=600)
    t0 = time.time()
    ev = _ticks_until("the rule to fire", rule, 1)
    e = ev[0]
    assert e["event"] == "metric.threshold" and e["resource_id"] == a["id"], e
    assert e["payload"]["value"] > 25 and e["payload"]["rule_id"] == rule, e
    # Fired on 20 s of busy points: the run it saw began at least 10 s (one
    # point interval of slack) before the tick that fired.
    since = psql("SELECT extract(epoch FROM now() - '%s'::timestamptz)::int" % e["payload"]["breach_since"],
                 user="launcher_owner")
    assert int(since[0]) >= 10, (since, e)
    # Still busy: ticks raise nothing more.
    for _ in range(3):
        scheduler()
        time.sleep(2)
    assert len(_events(w.c, rule)) == 1
    # Idle again (the same image without the loop): resolves.
    r = w.c.put("/applications/" + a["id"], {"start_command": None})
    assert r.status == 200, r
    _deploy(w, a)
    ev = _ticks_until("the rule to resolve", rule, 2)
    assert ev[1]["event"] == "metric.resolved" and ev[1]["payload"]["value"] <= 25, ev
    # Busy again within the cooldown (600 s): nothing is raised, the breach waits.
    r = w.c.put("/applications/" + a["id"], {"start_command": BUSY})
    assert r.status == 200, r
    _deploy(w, a)
    _wait("busy points again", lambda: (_cpu(a) or 0) > 35, TIMEOUT)
    deadline = time.time() + 40
    while time.time() < deadline:
        scheduler()
        time.sleep(2)
    assert [e["event"] for e in _events(w.c, rule)] == ["metric.threshold", "metric.resolved"]
    st = psql("SELECT firing, breach_since IS NOT NULL FROM alert_rule_state WHERE rule_id = '%s'" % rule,
              user="launcher_owner")
    assert st == ["f|t"], st
    assert time.time() - t0 < 600   # the cooldown was in force the whole time
    w.c.delete("/applications/" + a["id"])
