"""Grouping of error events into issues (API.md §17; sql/044_issue_grouping.sql,
launcher-issues, core/fingerprint.c): events queued the way the ingest route
queues them (error_ingest as the API role in the tenant, which NOTIFYs
launcher_issues) are grouped by the stack's own launcher-issues: one
exception from 50 different lines is one issue counting 50, two exceptions
two issues; an SDK retry (same event_id) counts once; a resolved issue that
recurs is unresolved again with an issue.regressed event, an ignored one
counts silently; a malformed payload is an issue of its own and never stops
the queue; a crash the agent reports becomes a fatal issue of the
application carrying its last log lines."""
import json
import os
import time
import uuid

from lib import STATE, new_project, psql, registered
from test_applications import _app, _finish
from test_servers import Agent, _server


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _wait(what, cond, timeout=30):
    """Polls cond() until it is true; the timeout only bounds a failure."""
    deadline = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.time() >= deadline:
            with open(os.path.join(STATE, "log", "issues.log"), errors="replace") as f:
                tail = f.read()[-3000:]
            raise AssertionError("launcher-issues did not group in time: %s; its log ends:\n%s"
                                 % (what, tail))
        time.sleep(0.1)


def _dsn(c, p, a=None):
    row = _owner("SELECT id || ',' || public_key FROM error_dsns WHERE tenant_id = '%s'"
                 " AND project_id = '%s' AND application_id IS NOT DISTINCT FROM %s"
                 % (c.tid, p["id"], "'%s'::uuid" % a["id"] if a else "NULL"))[0]
    dsn_id, key = row.split(",")
    return int(dsn_id), key


def _send(c, dsn, event, event_id=None, raw=None):
    """Queues one event as the ingest route does; returns its event_id."""
    event_id = event_id or uuid.uuid4().hex
    body = raw if raw is not None else json.dumps(dict(event, event_id=event_id))
    assert "$ev$" not in body
    got = psql("SELECT status FROM launcher.error_ingest(%d, '%s', '%s', $ev$%s$ev$, NULL)"
               % (dsn[0], dsn[1], event_id, body), tenant=c.tid)
    assert got == ["ok"], got
    return event_id


def _drained(c):
    return _owner("SELECT count(*) FROM error_events_raw WHERE tenant_id = '%s'" % c.tid) == ["0"]


def _issues(c, p):
    rows = _owner("SELECT coalesce(json_agg(json_build_object('id', id, 'title', title,"
                  " 'culprit', culprit, 'level', level, 'status', status, 'event_count', event_count,"
                  " 'application_id', application_id, 'resolved_at', resolved_at,"
                  " 'first_seen', first_seen, 'last_seen', last_seen) ORDER BY created_at), '[]')"
                  " FROM issues WHERE project_id = '%s'" % p["id"])
    return json.loads(rows[0])


def _alerts(c, event):
    rows = _owner("SELECT coalesce(json_agg(json_build_object('resource_id', resource_id,"
                  " 'resource_type', resource_type, 'message', message, 'payload', payload)"
                  " ORDER BY created_at), '[]') FROM alert_events WHERE tenant_id = '%s'"
                  " AND event = '%s'" % (c.tid, event))
    return json.loads(rows[0])


def _exception(type_, value, line):
    """A Python SDK's exception event raised at line (frames: a library one,
    two in-app ones; lines, columns and context differ per line)."""
    return {"level": "error", "platform": "python", "release": "shop@1.2.3",
            "environment": "production", "timestamp": time.time(),
            "tags": {"region": "eu"}, "user": {"id": "42"},
            "breadcrumbs": {"values": [{"message": "cart loaded", "category": "shop"}]},
            "sdk": {"name": "sentry.python", "version": "1.9.10"},
            "exception": {"values": [{"type": type_, "value": value, "module": None,
                                      "stacktrace": {"frames": [
                {"module": "flask.app", "function": "dispatch", "lineno": line * 3, "in_app": False},
                {"module": "shop.views", "function": "checkout", "lineno": line, "colno": line % 7,
                 "context_line": "total(cart)  # %d" % line, "in_app": True},
                {"module": "shop.cart", "function": "total", "lineno": line + 2, "in_app": True,
                 "vars": {"card": "4111-secret"}}]}}]}}


def test_one_exception_from_fifty_lines_is_one_issue_and_two_exceptions_two():
    c, _ = registered("igrp")
    p = new_project(c)
    dsn = _dsn(c, p)
    ids = [_send(c, dsn, _exception("TypeError", "order %d declined" % (1000 + i), 10 + 17 * i))
           for i in range(50)]
    for i in range(3):
        _send(c, dsn, _exception("KeyError", "'sku'", 40 + i))
    # An SDK's retry of an event already sent: not a second occurrence.
    _send(c, dsn, _exception("TypeError", "order 1000 declined", 10), event_id=ids[0])
    _wait("53 events", lambda: _drained(c) and sum(i["event_count"] for i in _issues(c, p)) == 53)
    got = {i["title"].split(":")[0]: i for i in _issues(c, p)}
    assert sorted(got) == ["KeyError", "TypeError"], got
    t = got["TypeError"]
    assert t["event_count"] == 50 and got["KeyError"]["event_count"] == 3, got
    assert t["title"] == "TypeError: order 1000 declined", t
    assert t["culprit"] == "shop.cart in total" and t["level"] == "error", t
    assert t["status"] == "unresolved" and t["application_id"] is None, t
    assert t["first_seen"] <= t["last_seen"], t
    # The occurrences: the stack trace, tags, release, environment, user,
    # breadcrumbs stored; a frame's local variables are not.
    ev = json.loads(_owner("SELECT json_build_object('n', count(*), 'release', min(release),"
                           " 'environment', min(environment), 'data', (array_agg(data))[1])"
                           " FROM issue_events WHERE issue_id = '%s'" % t["id"])[0])
    assert ev["n"] == 50 and ev["release"] == "shop@1.2.3" and ev["environment"] == "production", ev
    frames = ev["data"]["exception"][0]["stacktrace"]["frames"]
    assert [f["function"] for f in frames] == ["dispatch", "checkout", "total"], frames
    assert ev["data"]["tags"] == {"region": "eu"} and ev["data"]["user"] == {"id": "42"}, ev
    assert ev["data"]["breadcrumbs"][0]["message"] == "cart loaded", ev
    assert "4111-secret" not in json.dumps(ev), ev
    # One issue.new per new issue, none for the occurrences after it.
    new = _alerts(c, "issue.new")
    assert sorted(a["resource_id"] for a in new) == sorted(i["id"] for i in got.values()), new
    assert all(a["resource_type"] == "issue" and a["payload"]["project_id"] == p["id"] for a in new)
    assert any("TypeError: order 1000 declined" in a["message"] for a in new), new


def test_a_resolved_issue_that_recurs_reopens_with_issue_regressed_and_ignored_stays_silent():
    c, _ = registered("iregr")
    p = new_project(c)
    dsn = _dsn(c, p)
    msg = {"level": "warning", "message": {"formatted": "payment took 1234 ms for 'ada'"}}
    _send(c, dsn, msg)
    issue = _wait("the first event", lambda: _drained(c) and _issues(c, p))[0]
    assert issue["title"] == "payment took 1234 ms for 'ada'" and issue["level"] == "warning", issue
    _owner("UPDATE issues SET status = 'resolved', resolved_at = now() WHERE id = '%s'" % issue["id"])
    assert _alerts(c, "issue.regressed") == []
    # The same message with other numbers and names: the same issue, reopened.
    _send(c, dsn, {"level": "warning", "message": "payment took 98 ms for 'bob'"})
    again = _wait("the recurrence", lambda: _drained(c) and [i for i in _issues(c, p)
                                                            if i["event_count"] == 2])[0]
    assert again["id"] == issue["id"] and again["status"] == "unresolved", again
    assert again["resolved_at"] is None, again
    reg = _alerts(c, "issue.regressed")
    assert len(reg) == 1 and reg[0]["resource_id"] == issue["id"], reg
    assert reg[0]["payload"]["issue_id"] == issue["id"], reg
    # In-app notification for the tenant's owner too (sql/041's routing).
    notes = [n for n in c.get("/notifications").data if n["event"] == "issue.regressed"]
    assert len(notes) == 1, notes
    # Ignored: counted, never reopened, never announced.
    _owner("UPDATE issues SET status = 'ignored' WHERE id = '%s'" % issue["id"])
    _send(c, dsn, {"level": "warning", "message": "payment took 5 ms for 'eve'"})
    last = _wait("the ignored one", lambda: _drained(c) and [i for i in _issues(c, p)
                                                             if i["event_count"] == 3])[0]
    assert last["status"] == "ignored", last
    assert len(_alerts(c, "issue.regressed")) == 1 and len(_alerts(c, "issue.new")) == 1
    # Another message is another issue.
    _send(c, dsn, {"message": "refund failed"})
    _wait("another issue", lambda: len(_issues(c, p)) == 2)


def test_an_sdk_fingerprint_wins_and_issues_are_per_application():
    c, _ = registered("ifp")
    s = _server(c, base_domain="apps.test")
    p = new_project(c)
    a1, a2 = _app(c, p), _app(c, p)
    for a in (a1, a2):
        dsn = _dsn(c, p, a)
        for i in range(2):
            _send(c, dsn, dict(_exception("E%d" % i, "x", 5), fingerprint=["payments", "{{ default }}"]
                               if i == 0 else ["db-timeout"]))
        _send(c, dsn, {"message": "unrelated", "fingerprint": ["db-timeout"]})
    _wait("6 events", lambda: _drained(c) and sum(i["event_count"] for i in _issues(c, p)) == 6)
    got = _issues(c, p)
    assert len(got) == 4, got
    assert sorted(i["event_count"] for i in got) == [1, 1, 2, 2], got
    assert {i["application_id"] for i in got} == {a1["id"], a2["id"]}, got


def test_a_malformed_payload_is_an_issue_and_never_wedges_the_queue():
    c, _ = registered("imal")
    p = new_project(c)
    dsn = _dsn(c, p)
    _send(c, dsn, None, raw="{not json at all")
    _send(c, dsn, None, raw="[1, 2, 3]")
    _send(c, dsn, {"message": "fine"})
    _wait("3 events", lambda: _drained(c) and sum(i["event_count"] for i in _issues(c, p)) == 3)
    got = {i["title"]: i for i in _issues(c, p)}
    assert got["Malformed event"]["event_count"] == 2 and got["fine"]["event_count"] == 1, got
    head = _owner("SELECT data->>'payload_head' FROM issue_events WHERE issue_id = '%s'"
                  " ORDER BY received_at LIMIT 1" % got["Malformed event"]["id"])
    assert head == ["{not json at all"], head


def test_a_crash_the_agent_reports_is_a_fatal_issue_of_the_application_with_its_log_lines():
    c, _ = registered("icrash")
    s = _server(c, base_domain="apps.test")
    p = new_project(c)
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    inst = {"container_id": "cf" * 32, "name": "web-1", "deployment_id": d["id"], "app_id": a["id"],
            "state": "running", "status": "running", "restart_count": 0}
    _finish(agent, agent.claim(), instances=[inst])
    assert agent.call("POST", "/instances", {"instances": [inst]}).status == 200
    base = {"app_id": a["id"], "deployment_id": d["id"], "container_id": "cf" * 32}
    lines = ["booting %d" % i for i in range(60)] + ["Traceback: KeyError 'DATABASE_URL'"]
    r = agent.call("POST", "/logs", {"entries": [
        dict(base, timestamp="2026-12-06T08:00:%02d.%03dZ" % (i // 10, i % 10 * 100),
             stream="stderr" if "Traceback" in m else "stdout", message=m)
        for i, m in enumerate(lines)]})
    assert r.status == 204, r
    assert _issues(c, p) == []
    # The engine restarted the container (exit 1): application.crashed, and
    # a crash event of the application.
    agent.call("POST", "/instances", {"instances": [dict(inst, restart_count=1, exit_code=1)]})
    got = _wait("the crash", lambda: _drained(c) and _issues(c, p))
    assert len(got) == 1, got
    i = got[0]
    assert i["application_id"] == a["id"] and i["level"] == "fatal", i
    assert i["title"].startswith("CrashLoop: The container exited with code 1"), i
    ev = json.loads(_owner("SELECT data::text FROM issue_events WHERE issue_id = '%s'" % i["id"])[0])
    logs = ev["extra"]["log_lines"]
    assert len(logs) == 50 and logs[-1] == "Traceback: KeyError 'DATABASE_URL'", logs
    assert logs[0] == "booting 11", logs
    assert ev["breadcrumbs"][-1]["message"] == logs[-1] and ev["breadcrumbs"][-1]["level"] == "error"
    assert ev["tags"]["crash_kind"] == "CrashLoop" and ev["extra"]["exit_code"] == 1, ev
    assert len(_alerts(c, "issue.new")) == 1
    # Every container stopped by itself: another kind, another issue.
    agent.call("POST", "/instances", {"instances": [dict(inst, state="exited", status="exited",
                                                         restart_count=1, exit_code=1)]})
    assert c.get("/applications/" + a["id"]).data["status"] == "crashed"
    got = _wait("the second crash", lambda: _drained(c) and len(_issues(c, p)) == 2 and _issues(c, p))
    kinds = sorted(x["title"].split(":")[0] for x in got)
    assert kinds == ["ContainerExited", "CrashLoop"], got


def test_an_event_the_database_refuses_is_dropped_and_its_batch_still_grouped():
    """The batch's call fails (here a constraint refuses one occurrence):
    the batch is done again one event at a time, the refused one dropped."""
    c, _ = registered("iref")
    p = new_project(c)
    dsn = _dsn(c, p)
    marker = "refused-" + uuid.uuid4().hex[:8]
    _owner("ALTER TABLE issue_events ADD CONSTRAINT test_%s CHECK (message IS DISTINCT FROM '%s')"
           " NOT VALID" % (marker.replace("-", "_"), marker))
    try:
        # Both in one transaction: one NOTIFY, one batch.
        rows = ",".join("(%d, '%s', '%s', $ev$%s$ev$)" % (dsn[0], dsn[1], eid, json.dumps(
            {"event_id": eid, "message": text})) for eid, text in
            ((uuid.uuid4().hex, marker), (uuid.uuid4().hex, "kept")))
        got = psql("SELECT string_agg(s.status, ',') FROM (VALUES %s) v(d, k, e, b),"
                   " LATERAL launcher.error_ingest(v.d, v.k, v.e, v.b, NULL) s" % rows, tenant=c.tid)
        assert got == ["ok,ok"], got
        _wait("the batch", lambda: _drained(c) and _issues(c, p))
    finally:
        _owner("ALTER TABLE issue_events DROP CONSTRAINT test_%s" % marker.replace("-", "_"))
    got = _issues(c, p)
    assert [(i["title"], i["event_count"]) for i in got] == [("kept", 1)], got


def test_an_event_failing_for_the_database_state_stays_queued_and_is_grouped_later():
    """A failure that is not the event's data (here a serialization failure,
    40001, raised by a trigger for one message) drops nothing: the batch is
    rolled back and taken again until it succeeds."""
    c, _ = registered("iretry")
    p = new_project(c)
    dsn = _dsn(c, p)
    marker = "retry-" + uuid.uuid4().hex[:8]
    fn = "test_" + marker.replace("-", "_")
    _owner("CREATE FUNCTION launcher.%s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
           " IF NEW.message = '%s' THEN RAISE EXCEPTION 'busy' USING ERRCODE = '40001'; END IF;"
           " RETURN NEW; END $f$" % (fn, marker))
    _owner("CREATE TRIGGER %s BEFORE INSERT ON launcher.issue_events FOR EACH ROW"
           " EXECUTE FUNCTION launcher.%s()" % (fn, fn))
    log = os.path.join(STATE, "log", "issues.log")
    try:
        _send(c, dsn, {"message": marker})

        def tried():
            with open(log, errors="replace") as f:
                return "SQLSTATE 40001" in f.read()
        _wait("a failed try", tried)
        assert not _drained(c) and _issues(c, p) == []
    finally:
        _owner("DROP TRIGGER %s ON launcher.issue_events; DROP FUNCTION launcher.%s()" % (fn, fn))
    got = _wait("the event grouped later", lambda: _drained(c) and _issues(c, p))
    assert [(i["title"], i["event_count"]) for i in got] == [(marker, 1)], got


def test_a_backlog_event_received_before_the_issue_was_resolved_leaves_it_resolved():
    """An event received before the issue was resolved but grouped after (a
    backlog) counts and reopens nothing; one received after reopens it."""
    c, _ = registered("iback")
    p = new_project(c)
    dsn = _dsn(c, p)
    _send(c, dsn, {"message": "stock sync failed for 12 items"})
    issue = _wait("the first event", lambda: _drained(c) and _issues(c, p))[0]
    # One transaction queues the event (received_at: its clock) and then
    # resolves the issue: launcher-issues sees both only once committed.
    eid = uuid.uuid4().hex
    _owner("INSERT INTO error_events_raw (tenant_id, project_id, dsn_id, source, event_id, payload)"
           " VALUES ('%s', '%s', %d, 'sdk', '%s', $ev$%s$ev$);"
           " UPDATE issues SET status = 'resolved', resolved_at = clock_timestamp() WHERE id = '%s';"
           " SELECT pg_notify('launcher_issues', '')"
           % (c.tid, p["id"], dsn[0], eid, json.dumps({"event_id": eid,
                                                       "message": "stock sync failed for 7 items"}),
              issue["id"]))
    got = _wait("the backlog event", lambda: _drained(c) and [i for i in _issues(c, p)
                                                              if i["event_count"] == 2])[0]
    assert got["status"] == "resolved" and got["resolved_at"] is not None, got
    assert _alerts(c, "issue.regressed") == []
    _send(c, dsn, {"message": "stock sync failed for 3 items"})
    again = _wait("the recurrence", lambda: _drained(c) and [i for i in _issues(c, p)
                                                             if i["event_count"] == 3])[0]
    assert again["status"] == "unresolved" and again["resolved_at"] is None, again
    assert [a["resource_id"] for a in _alerts(c, "issue.regressed")] == [issue["id"]]
