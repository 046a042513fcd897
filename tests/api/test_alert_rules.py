"""Metric threshold rules (API.md §18; sql/041 alert_rules_evaluate, one
line of launcher-scheduler's tick): a rule fires once when every point of
its last for_seconds breaches and points cover that time, not again within
its cooldown, and resolves once the value has been on the good side for
for_seconds (the hysteresis).  The series are written as the owner with
times relative to now, so a tick decides at once; test_alert_rules_e2e
holds a real busy container to it."""
import json
import uuid

from lib import new_project, psql, registered
from test_applications import _app
from test_servers import _server, scheduler


def _rule(c, cond, cooldown=300, project=None):
    return psql("INSERT INTO alert_rules (tenant_id, name, project_id, event, condition, cooldown_seconds)"
                " VALUES ('%s', 'r-%s', %s, 'metric.threshold', '%s', %d) RETURNING id"
                % (c.tid, uuid.uuid4().hex[:8], "'%s'" % project if project else "NULL",
                   json.dumps(cond), cooldown), user="launcher_owner")[0]


def _app_cpu(c, app, server, points):
    """app_metrics of two instances: points = [(seconds ago, total cpu)], split in halves."""
    psql("DELETE FROM app_metrics WHERE application_id = '%s'" % app["id"], user="launcher_owner")
    rows = ",".join("('%s', '%s', '%s', '%s', date_bin('10 seconds', now(), 'epoch') - interval '%d seconds',"
                    " %f, 1000, 0)" % (c.tid, app["id"], server["id"], inst, ago, cpu / 2)
                    for ago, cpu in points for inst in ("web-1", "web-2"))
    psql("INSERT INTO app_metrics (tenant_id, application_id, server_id, instance_id, ts, cpu_percent,"
         " memory_bytes, restarts) VALUES " + rows, user="launcher_owner")


def _server_load(c, server, points):
    psql("DELETE FROM server_metrics WHERE server_id = '%s'" % server["id"], user="launcher_owner")
    rows = ",".join("('%s', '%s', date_bin('10 seconds', now(), 'epoch') - interval '%d seconds', %f)"
                    % (c.tid, server["id"], ago, load) for ago, load in points)
    psql("INSERT INTO server_metrics (tenant_id, server_id, ts, load1) VALUES " + rows, user="launcher_owner")


def _events(c, rule):
    return [json.loads(r) for r in psql(
        "SELECT json_build_object('event', event, 'resource_type', resource_type, 'resource_id', resource_id,"
        " 'project_id', project_id, 'message', message, 'payload', payload) FROM alert_events"
        " WHERE tenant_id = '%s' AND payload->>'rule_id' = '%s' ORDER BY created_at" % (c.tid, rule),
        user="launcher_owner")]


def _span(ago_from, ago_to, value):
    return [(ago, value) for ago in range(ago_from, ago_to - 1, -10)]


def test_a_cpu_rule_fires_once_after_for_seconds_respects_its_cooldown_and_resolves():
    c, me = registered("rules")
    s = _server(c)
    p = new_project(c)
    a = _app(c, p)
    other = _app(c, new_project(c))
    rule = _rule(c, {"metric": "application.cpu_percent", "op": ">", "threshold": 80, "for_seconds": 30},
                 project=p["id"])
    # Busy at the newest point only: not yet.  (Points sit on 10 s bins
    # before now() and a rule allows one interval of slack, so two busy
    # points already count as 20 s when the tick runs late in its bin or
    # a few seconds after the insert on a loaded machine: one point keeps
    # at least 10 s of margin.)
    _app_cpu(c, a, s, _span(60, 10, 20) + [(0, 95)])
    _app_cpu(c, other, s, _span(60, 0, 99))   # another project's app: out of the rule's scope
    scheduler()
    assert _events(c, rule) == []
    # Every point of the last 30 s (and before) breaches: fires, once.
    _app_cpu(c, a, s, _span(60, 0, 95))
    scheduler()
    scheduler()
    ev = _events(c, rule)
    assert [e["event"] for e in ev] == ["metric.threshold"], ev
    e = ev[0]
    assert (e["resource_type"], e["resource_id"], e["project_id"]) == ("application", a["id"], p["id"]), e
    pl = e["payload"]
    assert (pl["rule_id"], pl["metric"], pl["value"], pl["threshold"], pl["op"], pl["for_seconds"]) == \
        (rule, "application.cpu_percent", 95, 80, ">", 30), pl
    assert a["name"] in e["message"], e
    notes = [n for n in c.get("/notifications").data if n["event"] == "metric.threshold"]
    assert len(notes) == 1 and notes[0]["payload"]["rule_id"] == rule, notes
    # One good point is not enough (hysteresis); 30 s of good points resolve it.
    _app_cpu(c, a, s, _span(60, 10, 95) + [(0, 10)])
    scheduler()
    assert len(_events(c, rule)) == 1
    _app_cpu(c, a, s, _span(60, 40, 95) + _span(30, 0, 10))
    scheduler()
    ev = _events(c, rule)
    assert [e["event"] for e in ev] == ["metric.threshold", "metric.resolved"], ev
    assert ev[1]["payload"]["rule_id"] == rule and ev[1]["payload"]["value"] == 10, ev
    # Busy again within the cooldown (300 s): held back, pending.
    _app_cpu(c, a, s, _span(60, 0, 95))
    scheduler()
    assert len(_events(c, rule)) == 2
    st = psql("SELECT firing, breach_since IS NOT NULL FROM alert_rule_state WHERE rule_id = '%s'"
              " AND resource_id = '%s'" % (rule, a["id"]), user="launcher_owner")
    assert st == ["f|t"], st
    # Once the cooldown is over, the breach that goes on fires.
    psql("UPDATE alert_rule_state SET fired_at = now() - interval '301 seconds' WHERE rule_id = '%s'" % rule,
         user="launcher_owner")
    scheduler()
    fired = ["metric.threshold", "metric.resolved", "metric.threshold"]
    assert [e["event"] for e in _events(c, rule)] == fired
    # Disabled while firing and enabled again: it starts over, no
    # "resolved" for the fire of before.
    assert c.put("/alerts/rules/" + rule, {"enabled": False}).status == 200
    assert psql("SELECT count(*) FROM alert_rule_state WHERE rule_id = '%s'" % rule,
                user="launcher_owner") == ["0"]
    assert c.put("/alerts/rules/" + rule, {"enabled": True}).status == 200
    _app_cpu(c, a, s, _span(60, 0, 10))
    scheduler()
    assert [e["event"] for e in _events(c, rule)] == fired


def test_a_server_rule_needs_points_covering_for_seconds_and_ignores_flapping_and_stale_series():
    c, me = registered("rulesrv")
    s = _server(c)
    rule = _rule(c, {"metric": "server.load1", "op": ">=", "threshold": 4, "for_seconds": 60,
                     "resource_id": s["id"]}, cooldown=0)
    # A series that starts breaching 30 s ago (nothing before): not covered yet.
    _server_load(c, s, _span(30, 0, 5))
    scheduler()
    assert _events(c, rule) == []
    # Flapping within the 60 s: nothing.
    _server_load(c, s, [(ago, 5 if ago % 20 == 0 else 1) for ago in range(80, -1, -10)])
    scheduler()
    assert _events(c, rule) == []
    # A stale series (newest point 5 minutes old) decides nothing.
    _server_load(c, s, _span(400, 300, 9))
    scheduler()
    assert _events(c, rule) == []
    _server_load(c, s, _span(80, 0, 4))
    scheduler()
    ev = _events(c, rule)
    assert [(e["event"], e["resource_type"], e["resource_id"], e["project_id"]) for e in ev] == \
        [("metric.threshold", "server", s["id"], None)], ev
    assert ev[0]["payload"]["op"] == ">=" and ev[0]["payload"]["value"] == 4, ev
    # Every user of the tenant sees a server's notification.
    assert [n["payload"]["rule_id"] for n in c.get("/notifications").data] == [rule]
    # A disabled rule is not evaluated.
    psql("UPDATE alert_rules SET enabled = false WHERE id = '%s'" % rule, user="launcher_owner")
    _server_load(c, s, _span(80, 0, 1))
    scheduler()
    assert len(_events(c, rule)) == 1
