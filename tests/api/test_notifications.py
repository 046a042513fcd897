"""In-app notifications (API.md §19; sql/041_notifications.sql): the events of
deployments, applications and servers raised where their state is set,
one notification per user who can see the resource (project members and
tenant admins; every user for a server), per-user preferences, read and
unread, another user's notification is 404, and /ws/notifications pushes
them live with a ?since= backlog.  Events arrive the way they do in
production: through the agent API and launcher-scheduler."""
import time
import uuid

from lib import Client, assert_error, new_project, new_user, psql, registered
from test_applications import _app, _finish
from test_servers import Agent, _server, scheduler


def _world(prefix):
    c, me = registered(prefix)
    c.user_id = me["id"]
    s = _server(c, base_domain="apps.test")
    p = new_project(c)
    a = _app(c, p)
    return c, s, p, a, Agent(c.tenant, s["agent_token"])


def _deploy(c, a, agent, status, **result):
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    assert job["payload"]["deployment_id"] == d["id"], job
    _finish(agent, job, status, **result)
    return d


def _notes(client, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    r = client.get("/notifications" + ("?" + qs if qs else ""))
    assert r.status == 200, r
    return r.data


def _events(client, event):
    return [n for n in _notes(client) if n["event"] == event]


def _disk(agent, ts, used_percent):
    """A host point as the agent sends it (POST /agent/metrics)."""
    point = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)), "cpu_percent": 1.0,
             "memory_used_bytes": 1 << 30, "memory_total_bytes": 8 << 30,
             "disk_used_bytes": used_percent << 30, "disk_total_bytes": 100 << 30,
             "load1": 0.1, "net_rx_bytes": 1, "net_tx_bytes": 1}
    r = agent.call("POST", "/metrics", {"host": [point]})
    assert r.status == 200, r


def _member(c, p, role="viewer"):
    u = new_user(c, prefix="nm")
    r = c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role})
    assert r.status == 201, r
    return u


def test_deployment_events_reach_who_can_see_the_project_and_no_one_else():
    c, s, p, a, agent = _world("ntdep")
    viewer = _member(c, p)
    outsider = new_user(c, prefix="no")
    admin = new_user(c, role="admin", prefix="na")
    d = _deploy(c, a, agent, "failed")
    for who in (c, viewer, admin):
        got = _events(who, "deployment.failed")
        assert len(got) == 1, got
        n = got[0]
        assert n["resource_type"] == "deployment" and n["resource_id"] == d["id"], n
        assert n["project_id"] == p["id"] and n["read"] is False and n["read_at"] is None, n
        assert a["name"] in n["message"] and "failed" in n["message"] and "boom" in n["message"], n
        pl = n["payload"]
        assert (pl["deployment_id"], pl["application_id"], pl["application_name"], pl["project_id"],
                pl["project_name"], pl["status"]) == (d["id"], a["id"], a["name"], p["id"], p["name"],
                                                       "failed"), pl
    assert _notes(outsider) == []
    _deploy(c, a, agent, "succeeded")
    assert len(_events(viewer, "deployment.succeeded")) == 1
    assert _notes(outsider) == []
    # One event per deployment, whatever the number of recipients.
    assert psql("SELECT count(*) FROM alert_events WHERE resource_id = '%s'" % d["id"],
                user="launcher_owner") == ["1"]


def test_read_unread_count_read_all_delete_and_another_users_is_404():
    c, s, p, a, agent = _world("ntread")
    viewer = _member(c, p)
    for _ in range(3):
        _deploy(c, a, agent, "failed")
    mine = _notes(c)
    assert len(mine) == 3 and c.get("/notifications/unread-count").data == {"count": 3}
    # Oldest first, a page at a time, as every list.
    r = c.get("/notifications?limit=2")
    assert [n["id"] for n in r.data] == [n["id"] for n in mine[:2]], r
    r2 = c.get("/notifications?limit=2&cursor=" + r.json["meta"]["next_cursor"])
    assert [n["id"] for n in r2.data] == [mine[2]["id"]], r2
    r = c.post("/notifications/%s/read" % mine[0]["id"])
    assert r.status == 200 and r.data["read"] is True and r.data["read_at"], r
    assert c.get("/notifications/unread-count").data == {"count": 2}
    assert [n["id"] for n in _notes(c, unread="true")] == [n["id"] for n in mine[1:]]
    assert len(_notes(c, unread="false")) == 3
    assert_error(c.get("/notifications?unread=yes"), 400, "BAD_REQUEST", field="unread")
    # Another user's notification is not there for them; theirs stay unread.
    theirs = _notes(viewer)
    assert len(theirs) == 3
    for path in ("/notifications/%s/read" % mine[1]["id"],):
        assert_error(viewer.post(path), 404, "NOT_FOUND")
    assert_error(viewer.delete("/notifications/%s" % mine[1]["id"]), 404, "NOT_FOUND")
    assert_error(c.post("/notifications/%s/read" % uuid.uuid4()), 404, "NOT_FOUND")
    r = c.post("/notifications/read-all")
    assert r.status == 200 and r.data == {"count": 2}, r
    assert c.get("/notifications/unread-count").data == {"count": 0}
    assert viewer.get("/notifications/unread-count").data == {"count": 3}
    r = c.delete("/notifications/%s" % mine[0]["id"])
    assert r.status == 204, r
    assert [n["id"] for n in _notes(c)] == [n["id"] for n in mine[1:]]
    assert_error(c.delete("/notifications/%s" % mine[0]["id"]), 404, "NOT_FOUND")
    assert len(_notes(viewer)) == 3


def test_preferences_default_on_turn_an_event_off_for_one_user_and_reject_bad_input():
    c, s, p, a, agent = _world("ntpref")
    viewer = _member(c, p)
    r = c.get("/notifications/preferences")
    assert r.status == 200 and r.data["deployment.failed"] == {"in_app": True}, r
    assert all(v == {"in_app": True} for v in r.data.values()) and len(r.data) == 12, r.data
    r = viewer.put("/notifications/preferences", {"deployment.failed": {"in_app": False}})
    assert r.status == 200 and r.data["deployment.failed"] == {"in_app": False}, r
    assert r.data["deployment.succeeded"] == {"in_app": True}, r
    _deploy(c, a, agent, "failed")
    assert len(_events(c, "deployment.failed")) == 1
    assert _events(viewer, "deployment.failed") == []
    assert c.get("/notifications/preferences").data["deployment.failed"] == {"in_app": True}
    assert_error(viewer.put("/notifications/preferences", {"deployment.nope": {"in_app": False}}),
                 400, "BAD_REQUEST", field="deployment.nope")
    assert_error(viewer.put("/notifications/preferences", {"server.offline": {"in_app": "no"}}),
                 400, "BAD_REQUEST", field="server.offline.in_app")
    assert_error(viewer.put("/notifications/preferences", [1]), 400, "BAD_REQUEST")
    assert viewer.get("/notifications/preferences").data["server.offline"] == {"in_app": True}
    r = viewer.put("/notifications/preferences", {"deployment.failed": {"in_app": True}})
    assert r.data["deployment.failed"] == {"in_app": True}, r


def test_disk_high_once_until_below_85_and_offline_reach_every_user():
    c, s, p, a, agent = _world("ntsrv")
    outsider = new_user(c, prefix="no")
    base = int(time.time()) // 10 * 10 - 300
    for i, used in enumerate((95, 96, 88, 84, 91)):
        _disk(agent, base + 20 * i, used)
    # A batch resent late (an older point) decides nothing.
    _disk(agent, base + 10, 50)
    _disk(agent, base + 100, 97)
    got = _events(outsider, "server.disk_high")
    # 95: raised; 96, 88: still high; 84: re-armed; 91: raised again; 97: still high.
    assert [n["payload"]["disk_percent"] for n in got] == [95, 91], got
    assert got[0]["resource_id"] == s["id"] and got[0]["payload"]["server_name"] == s["name"]
    assert got[0]["project_id"] is None and s["name"] in got[0]["message"], got
    assert agent.heartbeat().data["status"] == "online"
    psql("UPDATE servers SET last_seen_at = now() - interval '1 hour' WHERE id = '%s'" % s["id"],
         user="launcher_owner")
    scheduler()
    scheduler()
    for who in (c, outsider):
        got = _events(who, "server.offline")
        assert len(got) == 1 and got[0]["payload"]["server_id"] == s["id"], got
        assert "offline" in got[0]["message"], got


def test_an_instance_that_restarts_or_exits_raises_application_crashed():
    c, s, p, a, agent = _world("ntcrash")
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    inst = {"container_id": "ab" * 32, "name": "web-1", "deployment_id": d["id"], "app_id": a["id"],
            "state": "running", "status": "running", "restart_count": 0}
    _finish(agent, agent.claim(), instances=[inst])
    assert agent.call("POST", "/instances", {"instances": [inst]}).status == 200
    assert c.get("/applications/" + a["id"]).data["status"] == "running"
    assert _events(c, "application.crashed") == []
    # The engine restarted it (restart policy): one event, then held back.
    for n in (1, 2):
        agent.call("POST", "/instances", {"instances": [dict(inst, restart_count=n, exit_code=137)]})
    got = _events(c, "application.crashed")
    assert len(got) == 1 and got[0]["payload"]["restart_count"] == 1, got
    assert got[0]["payload"]["exit_code"] == 137 and "137" in got[0]["message"], got
    # Every container stopped by itself: the application crashed.
    agent.call("POST", "/instances", {"instances": [dict(inst, state="exited", restart_count=2)]})
    assert c.get("/applications/" + a["id"]).data["status"] == "crashed"
    got = _events(c, "application.crashed")
    assert len(got) == 2 and got[1]["payload"]["instance_id"] is None, got
    assert got[1]["payload"]["application_name"] == a["name"] and "crashed" in got[1]["message"]


def test_ws_pushes_each_new_notification_to_its_user_only_and_resumes_with_since():
    from test_ws_streams import WS
    c, s, p, a, agent = _world("ntws")
    viewer = _member(c, p)
    outsider = new_user(c, prefix="no")
    before = _deploy(c, a, agent, "failed")
    last = _notes(viewer)[-1]["cursor"]
    w = WS(c.tenant, "/ws/notifications?since=" + last, token=viewer.token, count=2)
    other = WS(c.tenant, "/ws/notifications", token=outsider.token, timeout=60)
    assert w.opened()["event"] == "open" and other.opened()["event"] == "open"
    d1 = _deploy(c, a, agent, "failed")
    d2 = _deploy(c, a, agent, "succeeded")
    msgs = w.results()[0]["messages"]
    # What is made from the cursor on, in order, as the REST object.
    assert [(m["type"], m["event"], m["resource_id"]) for m in msgs] == [
        ("notification", "deployment.failed", d1["id"]),
        ("notification", "deployment.succeeded", d2["id"])], msgs
    rest = {n["id"]: n for n in _notes(viewer)}
    for m in msgs:
        want = dict(rest[m["id"]])
        assert m["cursor"] == want.pop("cursor"), (m, want)
        assert {k: m[k] for k in want} == want, (m, want)
    other.send("end")
    assert [m for m in other.results()[0]["messages"] if m["type"] == "notification"] == []
    # ?since=: the backlog after the cursor, then live.
    first = rest[msgs[0]["id"]]
    assert _notes(viewer)[0]["resource_id"] == before["id"] and _notes(viewer)[0]["cursor"] == last
    w = WS(c.tenant, "/ws/notifications?since=" + last, token=viewer.token, count=3)
    assert w.opened()["event"] == "open"
    d3 = _deploy(c, a, agent, "failed")
    got = [m["resource_id"] for m in w.results()[0]["messages"]]
    assert got == [first["resource_id"], d2["id"], d3["id"]], got
    assert_error(Client(c.tenant).get("/notifications"), 401, "UNAUTHORIZED")
    r = WS(c.tenant, "/ws/notifications?since=x", token=viewer.token)
    ev = r.opened()
    assert ev["event"] == "refused" and ev["status"] == 400, ev


def test_a_key_bound_to_one_project_cannot_read_its_creators_notifications():
    """Notifications are their user's across projects: a service key bound to
    one project is refused (403) on every route and on the stream, as for
    tenant administration; an unbound key of the same user reads them."""
    from lib import make_key
    from test_ws import _status
    c, s, p, a, agent = _world("ntkey")
    _deploy(c, a, agent, "failed")
    bound = make_key(c, scopes=["read", "write"], project_id=p["id"])["key"]
    k = Client(c.tenant, key=bound)
    note = _notes(c)[0]
    for r in (k.get("/notifications"), k.get("/notifications/unread-count"),
              k.get("/notifications/preferences"),
              k.put("/notifications/preferences", {"deployment.failed": {"in_app": False}}),
              k.post("/notifications/read-all"), k.post("/notifications/%s/read" % note["id"]),
              k.delete("/notifications/" + note["id"])):
        assert_error(r, 403, "FORBIDDEN")
    st, body = _status(c.tenant, {"x-lnchr-key": bound}, "/%s/ws/notifications" % c.tenant)
    assert st == 403, (st, body)
    assert _notes(c)[0]["read"] is False and len(_notes(c)) == 1
    free = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    r = free.get("/notifications")
    assert r.status == 200 and [n["id"] for n in r.data] == [note["id"]], r
