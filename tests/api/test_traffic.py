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


def test_the_plane_computes_a_points_percentiles_from_its_histogram():
    c, s, a, agent = _placed()
    # An older agent also sent percentiles: ignored, the histogram's rule wins.
    p = dict(_point(a["id"], _ts(4)), latency_p50_ms=999.0, latency_p95_ms=999.0,
             latency_p99_ms=999.0)
    assert agent.call("POST", "/traffic", {"points": [p]}).status == 200
    row = psql("SELECT latency_p50_ms, latency_p99_ms FROM app_traffic WHERE application_id = '%s'"
               % a["id"], user="launcher_owner")
    lo, hi = 1.1 ** 19, 1.1 ** 20
    p50, p99 = (float(x) for x in row[0].split("|"))
    assert abs(p50 - (lo + (hi - lo) * 0.5)) < 1e-6 and abs(p99 - (lo + (hi - lo) * 0.99)) < 1e-6, row


def test_traffic_quantiles_interpolate_within_5_percent_of_the_exact_percentiles():
    """The one computation of the percentiles (sql/039 traffic_quantiles)."""
    def q(hist, qq):
        col = {0.5: "p50", 0.95: "p95", 0.99: "p99"}[qq]
        return float(psql("SELECT %s FROM traffic_quantiles('{%s}'::bigint[])"
                          % (col, ",".join(map(str, hist))), user="launcher_owner")[0])
    h = [0] * 22
    h[21] = 100  # 100 requests evenly in [1.1^20, 1.1^21): p50 halfway
    assert abs(q(h, 0.5) - (1.1 ** 20 + (1.1 ** 21 - 1.1 ** 20) * 0.5)) < 1e-9
    h[0] = 300  # p50 (rank 200 of 400) two thirds into bucket 0, [0, 1) ms
    assert abs(q(h, 0.5) - 200.0 / 300) < 1e-9, "p50 in bucket 0"
    assert abs(q(h, 0.99) - (1.1 ** 20 + (1.1 ** 21 - 1.1 ** 20) * 0.96)) < 1e-9, "p99 in bucket 21"
    assert psql("SELECT p50 IS NULL AND p99 IS NULL FROM traffic_quantiles('{0,0}'::bigint[])",
                user="launcher_owner") == ["t"]
    # A spread of latencies, 2 .. 102 ms uniform, bucketed like the agent does.
    import math
    h = [0] * 118
    v = [2.0 + 0.01 * i for i in range(10000)]
    for ms in v:
        k = min(int(math.floor(math.log(ms) / math.log(1.1))) + 1, 117)
        while k > 1 and ms < 1.1 ** (k - 1):
            k -= 1
        while k < 117 and ms >= 1.1 ** k:
            k += 1
        h[k] += 1
    assert abs(q(h, 0.99) - v[9899]) / v[9899] < 0.05
    assert abs(q(h, 0.5) - v[4999]) / v[4999] < 0.05


def test_one_window_rule_for_the_three_monitoring_reads():
    """monitoring_window (sql/038) answers the metrics and traffic reads alike."""
    c, s, a, agent = _placed()
    now = time.time()

    def ts(t):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    for base in ("/monitoring/servers/%s/metrics" % s["id"],
                 "/monitoring/applications/%s/metrics" % a["id"],
                 "/monitoring/applications/%s/traffic" % a["id"]):
        for q, field in (("from=yesterday", "from"), ("to=2026-02-30T00:00:00Z", "to"),
                         ("from=%s&to=%s" % (ts(now), ts(now - 60)), "from"),
                         ("from=%s" % ts(now - 91 * 86400), "from"),
                         ("step=0", "step"), ("step=86401", "step"),
                         # 1-minute rollups over ~7 days: more than 10,000 buckets.
                         ("from=%s&step=60" % ts(now - 7 * 86400 + 60), "step")):
            assert_error(c.get(base + "?" + q), 400, "BAD_REQUEST", field)
        for q in ("", "step=1", "from=%s&step=3600" % ts(now - 30 * 86400)):
            assert c.get(base + "?" + q).status == 200, (base, q)
    # The resolution and step: fresh = 10 s points whatever the step, rounded up.
    w = psql("SELECT res, step FROM monitoring_window('%s', NULL, '25')" % ts(now - 3600),
             user="launcher_owner")
    assert w == ["10|30"], w
    w = psql("SELECT res, step FROM monitoring_window('%s', NULL, '7200')" % ts(now - 3600),
             user="launcher_owner")
    assert w == ["10|7200"], w
    w = psql("SELECT res, step FROM monitoring_window('%s', '%s', '90')"
             % (ts(now - 3 * 86400), ts(now - 2 * 86400)), user="launcher_owner")
    assert w == ["60|120"], w
    w = psql("SELECT res, step FROM monitoring_window('%s', '%s', NULL)"
             % (ts(now - 3 * 86400), ts(now - 2 * 86400)), user="launcher_owner")
    assert w == ["60|240"], w  # 86400 / 360 = 240
    w = psql("SELECT res, step FROM monitoring_window('%s', '%s', '60')"
             % (ts(now - 30 * 86400), ts(now - 29 * 86400)), user="launcher_owner")
    assert w == ["3600|3600"], w


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
    assert_error(c.get(base + "?step=0"), 400, "BAD_REQUEST", "step")
    assert_error(c.get(base + "?from=%s&to=%s" % (_ts(0), _ts(10))), 400, "BAD_REQUEST", "from")
    assert_error(c.get(base + "?from=2020-01-01T00:00:00Z&to=2020-12-31T00:00:00Z"), 400,
                 "BAD_REQUEST", "from")
    assert_error(c.get(base + "?from=%s&to=%s&step=10" % (_ts(60), _ts(-60 * 24 * 5))), 400,
                 "BAD_REQUEST", "step")
    # A step below the resolution is rounded up to it (10 s points: 10).
    r = c.get(base + "?from=%s&to=%s&step=5" % (_ts(6), _ts(0)))
    assert r.status == 200, r
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
