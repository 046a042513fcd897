"""Error tracking with real clients (API.md §17, issue 19): the unmodified
@sentry/node SDK (npm, tests/tools) and Debian's python3-sentry-sdk, each
run as an application would run it (tests/lib/sentry_node.js,
tests/lib/sentry_python.py: their own processes; this runner never imports
sentry_sdk), pointed at the DSN that GET /projects/:id/error-tracking
gives, through nginx over HTTPS.  What they report is read back through the
API only: GET /issues, GET /issues/:id/events, PUT /issues/:id, and the
issue.regressed event in GET /notifications.  Grouping runs in
launcher-issues, after ingest has answered: the tests wait for it (polling,
no timing asserted).  Last, a burst of 2,000 real SDK requests
(tests/fixtures/sentry/, replayed concurrently) loses none."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from lib import HTTPS_PORT, REPO, STATE, new_project, psql, registered

sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from sentry_replay import EVENT_KINDS, Replayer  # noqa: E402

CA = os.path.join(STATE, "tls", "cert.pem")
NODE = ["node", os.path.join(REPO, "tests", "lib", "sentry_node.js")]
PYTHON = ["/usr/bin/python3", os.path.join(REPO, "tests", "lib", "sentry_python.py")]
SCOPE = {"release": "shop@1.2.3", "environment": "staging", "server_name": "shop-web-1",
         "user": {"id": "42", "email": "ada@example.com", "username": "ada"},
         "tags": {"feature": "checkout", "region": "eu"},
         "breadcrumbs": ["cart loaded", "card submitted"]}


def _dsn(c, p):
    r = c.get("/projects/%s/error-tracking" % p["id"])
    assert r.status == 200, r
    dsn = r.data["dsn"]
    assert dsn.startswith("https://%s@localhost:%d/%s/" % (r.data["public_key"], HTTPS_PORT, c.tenant)), r.data
    assert dsn.rsplit("/", 1)[1] == str(r.data["dsn_id"]), r.data
    return dsn


def _sdk(argv, dsn, actions, crash=False, **scope):
    """Runs one SDK driver; returns the events it sent ([{event_id, level, kind}])."""
    cfg = dict(SCOPE, dsn=dsn, ca_certs=CA, actions=actions, **scope)
    out = subprocess.run(argv + [json.dumps(cfg)], capture_output=True, text=True, timeout=120)
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if crash:
        # The uncaught exception ended the process, after the SDK reported it.
        assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
        assert "payment declined" in out.stderr, out.stderr
    else:
        assert out.returncode == 0 and lines[-1] == {"flushed": True}, (out.stdout, out.stderr)
    return [l for l in lines if "event_id" in l]


def _wait(what, fn, timeout=90):
    """fn() until it returns something true (launcher-issues groups after
    ingest answered); the deadline only bounds a failure."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("%s: not within %ss; last: %r" % (what, timeout, last))


def _issues(c, p, **q):
    return c.every("/issues?projectId=%s%s" % (p["id"], "".join("&%s=%s" % kv for kv in q.items())))


def _events(c, issue):
    return c.every("/issues/%s/events" % issue["id"])


def _total(c, p):
    return sum(i["event_count"] for i in _issues(c, p))


def _grouped(c, p, n):
    """The project's issues once its occurrences number n."""
    return _wait("%d occurrences grouped" % n, lambda: _total(c, p) == n and _issues(c, p))


def _data(ev):
    """An occurrence's event data (the object's `data`, or the object itself)."""
    return ev.get("data") if isinstance(ev.get("data"), dict) else ev


def _frames(ev):
    values = _data(ev).get("exception") or []
    if isinstance(values, dict):
        values = values.get("values") or []
    return [f for v in values for f in ((v.get("stacktrace") or {}).get("frames") or [])]


def _breadcrumbs(ev):
    b = _data(ev).get("breadcrumbs") or []
    if isinstance(b, dict):
        b = b.get("values") or []
    return [x.get("message") for x in b]


def _check_occurrence(ev, event_id):
    """What the SDK's scope put on every event, read back from the API."""
    d = _data(ev)
    assert ev["event_id"] == event_id, ev
    assert ev.get("release", d.get("release")) == "shop@1.2.3", ev
    assert ev.get("environment", d.get("environment")) == "staging", ev
    assert (d.get("tags") or {}).get("feature") == "checkout", d.get("tags")
    assert (d.get("tags") or {}).get("region") == "eu", d.get("tags")
    user = d.get("user") or {}
    assert (user.get("id"), user.get("email")) == ("42", "ada@example.com"), user
    assert _breadcrumbs(ev)[:2] == ["cart loaded", "card submitted"], d.get("breadcrumbs")


def _report_all_three(argv, crash_type, crash_level):
    c, _ = registered("sdk")
    p = new_project(c)
    dsn = _dsn(c, p)
    sent = _sdk(argv, dsn, [{"do": "exception", "type": "TypeError", "fn": "chargeCard", "sites": 1},
                            {"do": "message", "text": "payment took 1234 ms", "level": "warning"},
                            {"do": "crash", "type": crash_type, "fn": "shipOrder"}], crash=True)
    # The SDK runs its event processors asynchronously (an exception's
    # source context is read from disk), so beforeSend may see the message
    # before the exception: the events are matched by kind, not by order.
    by_kind = {s.get("kind"): s for s in sent}
    assert len(sent) == 3 and sorted(by_kind) == sorted(["TypeError", "message", crash_type]), sent
    sent = [by_kind["TypeError"], by_kind["message"], by_kind[crash_type]]
    assert [s["level"] for s in sent] == ["error", "warning", crash_level], sent
    issues = _grouped(c, p, 3)
    assert len(issues) == 3, issues
    by_title = {}
    for i in issues:
        assert i["project_id"] == p["id"] and i["application_id"] is None, i
        assert i["status"] == "unresolved" and i["event_count"] == 1, i
        evs = _events(c, i)
        assert len(evs) == 1, evs
        by_title[i["title"]] = (i, evs[0])
    exc = [v for t, v in by_title.items() if "TypeError" in t]
    msg = [v for t, v in by_title.items() if "payment took" in t]
    crash = [v for t, v in by_title.items() if crash_type in t]
    assert len(exc) == len(msg) == len(crash) == 1, list(by_title)
    for (issue, ev), s, level in ((exc[0], sent[0], "error"), (msg[0], sent[1], "warning"),
                                  (crash[0], sent[2], crash_level)):
        assert issue["level"] == level and ev["level"] == level, (issue, ev)
        _check_occurrence(ev, s["event_id"])
    # The stack traces: the application's frames, by function.
    assert "chargeCard" in [f.get("function") for f in _frames(exc[0][1])], _frames(exc[0][1])
    assert "shipOrder" in [f.get("function") for f in _frames(crash[0][1])], _frames(crash[0][1])
    assert all(isinstance(f.get("lineno"), int) for f in _frames(exc[0][1])), _frames(exc[0][1])
    assert "chargeCard" in exc[0][0]["culprit"], exc[0][0]
    return c, p


def test_node_sdk_reports_an_exception_a_message_and_a_crash():
    _report_all_three(NODE, "RangeError", "fatal")


def test_python_sdk_reports_an_exception_a_message_and_a_crash():
    # The excepthook integration reports an uncaught exception at level error.
    _report_all_three(PYTHON, "ValueError", "error")


def test_fifty_occurrences_from_fifty_lines_are_one_issue_two_exceptions_are_two():
    """One exception raised from 50 different line numbers of one function
    (generated source) is one issue with event_count 50, for each SDK;
    two different exceptions are two issues."""
    for argv in (NODE, PYTHON):
        c, _ = registered("sdk50")
        p = new_project(c)
        dsn = _dsn(c, p)
        sent = _sdk(argv, dsn, [{"do": "exception", "type": "TypeError", "fn": "chargeCard", "sites": 50}])
        assert len(sent) == 50 and len({s["event_id"] for s in sent}) == 50, sent
        issues = _grouped(c, p, 50)
        assert len(issues) == 1 and issues[0]["event_count"] == 50, issues
        evs = _events(c, issues[0])
        assert sorted(e["event_id"] for e in evs) == sorted(s["event_id"] for s in sent)
        lines = {f["lineno"] for e in evs for f in _frames(e) if f.get("function") == "chargeCard"}
        assert len(lines) == 50, sorted(lines)

        q = new_project(c)
        _sdk(argv, _dsn(c, q), [{"do": "exception", "type": "TypeError", "fn": "chargeCard", "sites": 1},
                                {"do": "exception", "type": "KeyError" if argv is PYTHON else "RangeError",
                                 "fn": "shipOrder", "sites": 1}])
        issues = _grouped(c, q, 2)
        assert len(issues) == 2 and [i["event_count"] for i in issues] == [1, 1], issues


def _notifications(c, event):
    r = c.get("/notifications")
    assert r.status == 200, r
    return [n for n in r.data if n["event"] == event]


def test_a_resolved_issue_that_recurs_reopens_and_emits_issue_regressed():
    c, me = registered("sdkreg")
    p = new_project(c)
    dsn = _dsn(c, p)
    exc = [{"do": "exception", "type": "TypeError", "fn": "chargeCard", "sites": 1}]
    _sdk(PYTHON, dsn, exc)
    [issue] = _grouped(c, p, 1)
    _wait("issue.new notification", lambda: _notifications(c, "issue.new"))
    assert not _notifications(c, "issue.regressed")
    r = c.put("/issues/" + issue["id"], {"status": "resolved"})
    assert r.status == 200 and r.data["status"] == "resolved", r
    # The same code fails again (the application restarted: a new process).
    _sdk(PYTHON, dsn, exc)
    [again] = _grouped(c, p, 2)
    assert again["id"] == issue["id"] and again["status"] == "unresolved", again
    assert again["event_count"] == 2, again
    got = _wait("issue.regressed notification", lambda: _notifications(c, "issue.regressed"))
    assert len(got) == 1 and got[0]["resource_id"] == issue["id"], got
    assert psql("SELECT count(*) FROM alert_events WHERE event = 'issue.regressed' AND resource_id = '%s'"
                % issue["id"], user="launcher_owner") == ["1"]
    # Ignored stays ignored, and silent.
    r = c.put("/issues/" + issue["id"], {"status": "ignored"})
    assert r.status == 200 and r.data["status"] == "ignored", r
    _sdk(PYTHON, dsn, exc)
    [still] = _wait("3 occurrences", lambda: [i for i in _issues(c, p) if i["event_count"] == 3])
    assert still["status"] == "ignored", still
    assert len(_notifications(c, "issue.regressed")) == 1
    # issue.new and issue.regressed, nothing for the ignored recurrence.
    assert psql("SELECT count(*) FROM alert_events WHERE resource_id = '%s'" % issue["id"],
                user="launcher_owner") == ["2"]


_ctx = ssl.create_default_context(cafile=CA)


def _send_all(reqs, concurrency=32):
    """Sends the requests over `concurrency` keep-alive connections; returns
    [(status, body, event_id)] in order."""
    def worker(chunk):
        conn, out = None, []
        for method, path, headers, body, event_id in chunk:
            for attempt in (0, 1):
                try:
                    if conn is None:
                        conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=_ctx, timeout=60)
                    conn.request(method, path, body=body, headers=headers)
                    r = conn.getresponse()
                    out.append((r.status, r.read(), event_id))
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # a keep-alive connection the server closed: once more on a new one
                    conn = None
                    if attempt:
                        raise
        if conn is not None:
            conn.close()
        return out
    chunks = [reqs[i::concurrency] for i in range(concurrency)]
    with ThreadPoolExecutor(concurrency) as ex:
        return [x for part in ex.map(worker, chunks) for x in part]


def test_a_burst_of_2000_real_sdk_requests_loses_none():
    """2,000 events replayed as the SDKs sent them (node envelopes, python
    gzip store requests; tests/fixtures/sentry/), each with its own event id,
    over 32 concurrent connections: every one is answered 200 with its id,
    and every one becomes an occurrence (counted through the API)."""
    n = 2000
    c, _ = registered("sdkburst")
    p = new_project(c)
    rep = Replayer(_dsn(c, p))
    reqs = [rep.make(EVENT_KINDS[i % len(EVENT_KINDS)]) for i in range(n)]
    answers = _send_all(reqs)
    assert len(answers) == n
    bad = [(s, b[:200]) for s, b, _ in answers if s != 200]
    assert not bad, "%d of %d not 200, e.g. %r" % (len(bad), n, bad[:3])
    for _s, body, event_id in answers:
        assert json.loads(body)["id"] == event_id, (body, event_id)
    # Every one an occurrence (the API's counts), the queue drained.
    _grouped(c, p, n)
    assert psql("SELECT count(*) FROM issue_events WHERE project_id = '%s'" % p["id"],
                user="launcher_owner") == [str(n)]
    assert psql("SELECT count(*) FROM error_events_raw WHERE project_id = '%s'" % p["id"],
                user="launcher_owner") == ["0"]
