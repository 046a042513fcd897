"""Application traffic (API.md §16, sql/039_traffic.sql): POST /agent/traffic
from an agent, GET /monitoring/applications/:id/traffic, the rollups of
launcher-scheduler, and the live stream /ws/applications/:id/traffic."""
import datetime
import time

from lib import Client, assert_error, make_key, new_project, psql, registered
from test_applications import _app, _setup
from test_servers import Agent, scheduler


def _ts(minutes_ago, sec=0):
    t = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    t -= datetime.timedelta(minutes=minutes_ago)
    return (t + datetime.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _point(app, ts, n2=8, n4=1, n5=1, hist=None):
    hist = hist if hist is not None else [0] * 20 + [n2 + n4 + n5]
    return {"app_id": app, "ts": ts, "requests": n2 + n4 + n5, "status_2xx": n2, "status_3xx": 0,
            "status_4xx": n4, "status_5xx": n5, "bytes_out": 100 * (n2 + n4 + n5), "latency_hist": hist}


def _placed():
    c, s, p = _setup()
    a = _app(c, p)
    return c, s, a, Agent(c.tenant, s["agent_token"])


def test_points_are_stored_once_and_read_back_with_percentiles_from_the_histogram():
    c, s, a, agent = _placed()
    pts = [_point(a["id"], _ts(5, 0)), _point(a["id"], _ts(5, 10), n2=3, n4=0, n5=0,
                                               hist=[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])]
    r = agent.call("POST", "/traffic", {"points": pts})
    assert r.status == 200 and r.data["stored"] == 2, r
    # Resent (the agent had no answer): the same points, not twice.
    assert agent.call("POST", "/traffic", {"points": pts}).status == 200
    assert psql("SELECT count(*) FROM app_traffic WHERE application_id = '%s'" % a["id"],
                user="launcher_owner") == ["2"]
    r = c.get("/monitoring/applications/%s/traffic?from=%s&to=%s&step=10" % (a["id"], _ts(6), _ts(0)))
    assert r.status == 200 and len(r.data) == 2, r
    first = r.data[0]
    assert (first["requests"], first["status_2xx"], first["status_4xx"], first["status_5xx"],
            first["bytes_out"]) == (10, 8, 1, 1, 1000), first
    # Every request in bucket 20, [1.1^19, 1.1^20) ms: p50 interpolated halfway.
    lo, hi = 1.1 ** 19, 1.1 ** 20
    assert abs(first["latency_p50_ms"] - (lo + (hi - lo) * 0.5)) < 1e-6, first
    # A step of a minute sums both points (still read from the 10 s points,
    # fresh: from is within their 24 h); percentiles from the summed histogram.
    r = c.get("/monitoring/applications/%s/traffic?from=%s&to=%s&step=60" % (a["id"], _ts(6), _ts(0)))
    assert [x["requests"] for x in r.data] == [13], r
    assert r.data[0]["latency_p50_ms"] > 1.1 ** 9, r


def test_the_scheduler_rolls_points_up_and_the_rollup_answers_old_ranges():
    c, s, a, agent = _placed()
    pts = [_point(a["id"], _ts(3, k * 10)) for k in range(6)]
    assert agent.call("POST", "/traffic", {"points": pts}).status == 200
    scheduler()
    rows = psql("SELECT requests, status_4xx, cardinality(latency_hist) FROM app_traffic_1m"
                " WHERE application_id = '%s'" % a["id"], user="launcher_owner")
    assert rows == ["60|6|21"], rows
    scheduler()  # idempotent
    assert psql("SELECT sum(requests) FROM app_traffic_1h WHERE application_id = '%s'" % a["id"],
                user="launcher_owner") == ["60"]
    # Points older than 24 h are gone after a tick; the minute rollup answers.
    psql("UPDATE app_traffic SET ts = ts - interval '2 days' WHERE application_id = '%s'" % a["id"],
         user="launcher_owner")
    psql("UPDATE app_traffic_1m SET ts = ts - interval '2 days' WHERE application_id = '%s'" % a["id"],
         user="launcher_owner")
    scheduler()
    assert psql("SELECT count(*) FROM app_traffic WHERE application_id = '%s'" % a["id"],
                user="launcher_owner") == ["0"]
    old_from, old_to = _ts(60 * 49), _ts(60 * 47)
    r = c.get("/monitoring/applications/%s/traffic?from=%s&to=%s" % (a["id"], old_from, old_to))
    assert r.status == 200 and sum(x["requests"] for x in r.data) == 60, r


def test_bad_input_names_the_field_and_other_tenants_see_nothing():
    c, s, a, agent = _placed()
    base = "/monitoring/applications/%s/traffic" % a["id"]
    assert_error(c.get(base + "?from=yesterday"), 400, "BAD_REQUEST", "from")
    assert_error(c.get(base + "?step=5"), 400, "BAD_REQUEST", "step")
    assert_error(c.get(base + "?from=%s&to=%s" % (_ts(0), _ts(10))), 400, "BAD_REQUEST", "to")
    assert_error(c.get(base + "?from=2020-01-01T00:00:00Z&to=2020-12-31T00:00:00Z"), 400,
                 "BAD_REQUEST", "from")
    assert_error(c.get(base + "?from=%s&to=%s&step=10" % (_ts(60), _ts(-60 * 24 * 5))), 400,
                 "BAD_REQUEST", "step")
    bad = _point(a["id"], _ts(1))
    bad["latency_hist"] = [1, 2]
    r = agent.call("POST", "/traffic", {"points": [bad]})
    assert_error(r, 400, "BAD_REQUEST", "points[0].latency_hist")
    # Times: a calendar date, within [now - 25 h, now + 5 min] (a row in the future never expires).
    r = agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(1)), _point(a["id"], "2026-02-30T00:00:00Z")]})
    assert_error(r, 400, "BAD_REQUEST", "points[1].ts")
    r = agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(-60))]})
    assert_error(r, 400, "BAD_REQUEST", "points[0].ts")
    r = agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(26 * 60))]})
    assert_error(r, 400, "BAD_REQUEST", "points[0].ts")
    # Two points of one key in a batch (also one instant written with two
    # offsets): one row, the later point, not a 500 the agent would resend forever.
    t = datetime.datetime.strptime(_ts(2), "%Y-%m-%dT%H:%M:%SZ")
    plus1 = (t + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    pts = [_point(a["id"], _ts(2)), _point(a["id"], _ts(2), n2=3), _point(a["id"], plus1, n2=5)]
    r = agent.call("POST", "/traffic", {"points": pts})
    assert r.status == 200 and r.data["stored"] == 1, r
    assert psql("SELECT requests FROM app_traffic WHERE application_id = '%s' AND ts = '%s'"
                % (a["id"], _ts(2)), user="launcher_owner") == ["7"]
    other, _ = registered("trf")
    assert_error(other.get(base), 404, "NOT_FOUND")
    # An application of another server is not this agent's to report.
    c2, s2, a2, agent2 = _placed()
    r = agent.call("POST", "/traffic", {"points": [_point(a2["id"], _ts(1))]})
    assert r.status == 200 and r.data["stored"] == 0, r
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert ro.get(base).status == 200


def test_the_stream_sends_the_last_point_then_each_as_it_is_stored():
    from test_ws_streams import WS
    c, s, a, agent = _placed()
    assert agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(2))]}).status == 200
    w = WS(c.tenant, "/ws/applications/%s/traffic" % a["id"], token=c.token, count=3)
    assert w.opened()["event"] == "open"
    # Live rows that come while the backlog (the last point) is still read
    # are left to the backlog; after it, each point is sent as it is stored
    # (were the live path broken, the 30 s timeout would end with one row).
    time.sleep(3)
    assert agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(1), n2=5)]}).status == 200
    assert agent.call("POST", "/traffic", {"points": [_point(a["id"], _ts(1, 10), n2=2)]}).status == 200
    msgs = w.results()[0]["messages"]
    assert [m["type"] for m in msgs] == ["traffic"] * 3, msgs
    assert [m["requests"] for m in msgs] == [10, 7, 4], msgs
    assert all(m["latency_p99_ms"] > 0 and m["timestamp"] for m in msgs), msgs
    cursors = [int(m["cursor"]) for m in msgs]
    assert cursors == sorted(set(cursors)), cursors
