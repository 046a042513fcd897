"""Alerts (API.md §18, sql/040_alerts.sql, fcgi/api/alerts.c,
fcgi/bin/launcher_notify.c): channels with write-only sealed secrets, URL
checks (http/https only; the plane's loopback and private targets refused
unless alert_allowed_hosts lists them: tests/run.sh allows 127.0.0.1
only), rules checked against the event and metric lists, routing of
alert_events with cooldowns, delivery by the stack's launcher-notify with
retries and every attempt in /alerts/history, signed webhooks, e-mail
through the suite's real SMTP server (the plane's and a tenant's
/settings/smtp), tenant isolation.

The HTTP receivers are tests/lib/alert_receiver.py: CONTRACT TESTS, stand-ins
for Slack's and Discord's incoming webhooks whose recorded payloads are
checked against the shapes the providers document (Slack: "text" plus
optional "blocks" of section/context objects; Discord: "content" of at most
2000 characters, at most 10 "embeds", "allowed_mentions")."""
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
import uuid

from lib import (Skip, assert_error, mail_body, mail_for, new_project, new_user, psql, registered)
from test_applications import _app
from test_servers import _server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from alert_receiver import Receiver  # noqa: E402

SMTP_PORT = int(os.environ.get("LAUNCHER_SMTP_PORT", "2525"))


def _channel(c, type_, config, name=None):
    r = c.post("/alerts/channels", {"name": name or "ch-" + uuid.uuid4().hex[:8], "type": type_,
                                    "config": config})
    assert r.status == 201, r
    return r.data


def _rule(c, channel_ids, event="deployment.failed", **body):
    body.update({"name": body.get("name", "rule-" + uuid.uuid4().hex[:6]), "event": event,
                 "channel_ids": channel_ids})
    r = c.post("/alerts/rules", body)
    assert r.status == 201, r
    return r.data


def _raise(tid, event="deployment.failed", resource=None, payload=None, project=None,
           message="Deployment of web failed: build step exited 1."):
    resource = resource or str(uuid.uuid4())
    return psql("SELECT launcher.alert_raise('%s', %s, '%s', 'application', '%s', '%s', '%s')"
                % (tid, "'%s'" % project if project else "NULL", event, resource,
                   message.replace("'", "''"), json.dumps(payload or {}).replace("'", "''")),
                user="launcher_owner")[0]


def _deliveries(c, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    return c.every("/alerts/history" + ("?" + qs if qs else ""))


def _settled(c, delivery_id, timeout=40):
    """The delivery once it succeeded or failed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = c.get("/alerts/history/" + delivery_id)
        assert r.status == 200, r
        if r.data["status"] in ("succeeded", "failed"):
            return r.data
        time.sleep(0.2)
    raise AssertionError("delivery %s still %s" % (delivery_id, r.data))


def _counts(tid):
    return psql("SELECT (SELECT count(*) FROM alert_channels WHERE tenant_id = '%s') || ',' ||"
                " (SELECT count(*) FROM alert_rules WHERE tenant_id = '%s')" % (tid, tid),
                user="launcher_owner")[0]


# ------------------------------------------------------------------ channels

def test_channel_secrets_are_sealed_and_never_answered():
    c, _ = registered("al")
    hook = "https://hooks.slack.com/services/T000/B000/" + uuid.uuid4().hex
    disc = "https://discord.com/api/webhooks/123/" + uuid.uuid4().hex
    secret = "whsec-" + uuid.uuid4().hex
    hval = "Bearer " + uuid.uuid4().hex
    s = _channel(c, "slack", {"webhook_url": hook})
    d = _channel(c, "discord", {"webhook_url": disc})
    w = _channel(c, "webhook", {"url": "https://example.com/hooks/launcher", "secret": secret,
                                "headers": {"Authorization": hval}})
    e = _channel(c, "email", {"to": ["ops@example.com"]})
    assert s["config"] == {"webhook_url_set": True}, s
    assert d["config"] == {"webhook_url_set": True}, d
    assert w["config"] == {"url": "https://example.com/hooks/launcher", "secret_set": True,
                           "headers_set": True}, w
    assert e["config"] == {"to": ["ops@example.com"]}, e
    secrets = [hook, disc, secret, hval, hval.split()[1]]
    answers = [c.get("/alerts/channels"), c.get("/alerts/channels/" + w["id"]),
               c.put("/alerts/channels/" + s["id"], {"name": "renamed"})]
    for r in answers:
        assert r.status == 200, r
        for x in secrets:
            assert x.encode() not in r.raw, (x, r)
    # A rename keeps the secret; the column holds ciphertext only.
    assert answers[2].data["config"] == {"webhook_url_set": True}
    rows = psql("SELECT coalesce(secret_sealed, '') || config::text FROM alert_channels"
                " WHERE tenant_id = '%s'" % c.tid, user="launcher_owner")
    assert len(rows) == 4
    for row in rows:
        for x in secrets:
            assert x not in row
    assert psql("SELECT count(*) FROM sealed_columns WHERE table_name = 'alert_channels'",
                user="launcher_owner") == ["1"]
    # Deleting a channel deletes it.
    r = c.delete("/alerts/channels/" + e["id"])
    assert r.status == 204, r
    assert c.get("/alerts/channels/" + e["id"]).status == 404


def test_bad_input_is_400_naming_the_field_and_changes_nothing():
    c, _ = registered("al")
    ch = _channel(c, "webhook", {"url": "https://example.com/h"})
    before = _counts(c.tid)
    bad_urls = [
        ("slack", {"webhook_url": "ftp://hooks.slack.com/x"}, "config.webhook_url"),
        ("discord", {"webhook_url": "file:///etc/passwd"}, "config.webhook_url"),
        ("webhook", {"url": "gopher://example.com/"}, "config.url"),
        ("webhook", {"url": "http://localhost:8080/"}, "config.url"),
        ("webhook", {"url": "http://127.0.0.2/"}, "config.url"),
        ("webhook", {"url": "http://[::1]:9000/"}, "config.url"),
        ("webhook", {"url": "http://10.1.2.3/"}, "config.url"),
        ("webhook", {"url": "http://192.168.1.1/"}, "config.url"),
        ("webhook", {"url": "http://169.254.169.254/latest/meta-data"}, "config.url"),
        ("webhook", {"url": "http://user:pw@example.com/"}, "config.url"),
        ("slack", {"webhook_url": "http://0.0.0.0/"}, "config.webhook_url"),
        ("email", {"to": []}, "config.to"),
        ("email", {"to": ["not-an-address"]}, "config.to[0]"),
        ("webhook", {"url": "https://example.com/", "headers": {"x-lnchr-signature": "x"}},
         "config.headers.x-lnchr-signature"),
    ]
    for type_, cfg, field in bad_urls:
        r = c.post("/alerts/channels", {"name": "bad", "type": type_, "config": cfg})
        assert_error(r, 400, "BAD_REQUEST", field)
    r = c.put("/alerts/channels/" + ch["id"], {"config": {"url": "http://127.0.0.1.nip.io.localhost/"}})
    assert_error(r, 400, "BAD_REQUEST", "config.url")
    r = c.post("/alerts/channels", {"name": "x", "type": "sms", "config": {}})
    assert_error(r, 400, "BAD_REQUEST", "type")
    # Rules: unknown event, unknown metric, a condition the event does not take.
    r = c.post("/alerts/rules", {"name": "r", "event": "deployment.exploded", "channel_ids": [ch["id"]]})
    assert_error(r, 400, "BAD_REQUEST", "event")
    r = c.post("/alerts/rules", {"name": "r", "event": "metric.threshold", "channel_ids": [ch["id"]],
                                 "condition": {"metric": "server.temperature", "op": ">",
                                               "threshold": 90, "for_seconds": 60}})
    assert_error(r, 400, "BAD_REQUEST", "condition.metric")
    r = c.post("/alerts/rules", {"name": "r", "event": "metric.threshold", "channel_ids": [ch["id"]],
                                 "condition": {"metric": "server.cpu_percent", "op": "!=",
                                               "threshold": 90, "for_seconds": 999999}})
    assert_error(r, 400, "BAD_REQUEST", "condition.op")
    assert "condition.for_seconds" in [x["field"] for x in r.error["details"]], r
    r = c.post("/alerts/rules", {"name": "r", "event": "metric.threshold", "channel_ids": [ch["id"]]})
    assert_error(r, 400, "BAD_REQUEST", "condition")
    r = c.post("/alerts/rules", {"name": "r", "event": "server.offline", "channel_ids": [str(uuid.uuid4())]})
    assert_error(r, 400, "BAD_REQUEST", "channel_ids")
    r = c.post("/alerts/rules", {"name": "r", "event": "server.offline", "channel_ids": []})
    assert_error(r, 400, "BAD_REQUEST", "channel_ids")
    assert _counts(c.tid) == before
    # A good threshold rule is accepted and stored with only its known fields.
    rule = _rule(c, [ch["id"]], event="metric.threshold",
                 condition={"metric": "server.cpu_percent", "op": ">=", "threshold": 90.5,
                            "for_seconds": 120, "extra": "dropped"})
    assert rule["condition"] == {"metric": "server.cpu_percent", "op": ">=", "threshold": 90.5,
                                 "for_seconds": 120}, rule
    assert rule["channel_ids"] == [ch["id"]] and rule["cooldown_seconds"] == 300 and rule["enabled"]


def test_only_tenant_admins_manage_alerts():
    c, _ = registered("al")
    u = new_user(c, role="user")
    for path in ("/alerts/channels", "/alerts/rules", "/alerts/history", "/settings/smtp"):
        assert u.get(path).status == 403, path
    r = u.post("/alerts/channels", {"name": "x", "type": "email", "config": {"to": ["a@b.c"]}})
    assert r.status == 403, r


# ------------------------------------------------------------------ delivery

def test_webhook_receiver_failing_three_times_gets_one_signed_delivery_and_four_attempts():
    c, _ = registered("al")
    rx = Receiver(fail=3).start()
    try:
        secret = "s3cr3t-" + uuid.uuid4().hex
        ch = _channel(c, "webhook", {"url": rx.url("/launcher"), "secret": secret,
                                     "headers": {"X-Team": "ops"}})
        proj = new_project(c)
        _rule(c, [ch["id"]], project_id=proj["id"])
        other = _rule(c, [ch["id"]], event="deployment.succeeded")
        resource = str(uuid.uuid4())
        event_id = _raise(c.tid, resource=resource, project=proj["id"])
        reqs = rx.wait(4, timeout=60)
        hist = _deliveries(c)
        assert len(hist) == 1, hist
        d = _settled(c, hist[0]["id"])
        assert d["status"] == "succeeded" and d["event_id"] == event_id, d
        assert d["rule_id"] != other["id"] and d["channel_id"] == ch["id"]
        assert [a["status_code"] for a in d["attempts"]] == [500, 500, 500, 200], d
        assert [a["attempt"] for a in d["attempts"]] == [1, 2, 3, 4]
        assert all(a["error"] for a in d["attempts"][:3]) and d["attempts"][3]["error"] is None
        assert d["last_status_code"] == 200
        time.sleep(1.5)     # no fifth request: exactly one success
        assert len(rx.requests) == 4
        ids = {q["headers"]["x-lnchr-delivery"] for q in reqs}
        assert ids == {d["id"]}, ids
        for q in reqs:
            h = q["headers"]
            assert h["content-type"] == "application/json" and h["x-team"] == "ops"
            assert h["x-lnchr-event"] == "deployment.failed"
            ts = h["x-lnchr-timestamp"]
            assert abs(int(ts) - time.time()) < 120
            want = hmac.new(secret.encode(), ts.encode() + b"." + q["body"], hashlib.sha256).hexdigest()
            assert h["x-lnchr-signature"] == "sha256=" + want
            body = json.loads(q["body"])
            assert body["event"] == "deployment.failed" and body["resource_id"] == resource
            assert body["id"] == d["id"] and body["project_id"] == proj["id"]
            assert secret.encode() not in q["body"]
        # A tampered body does not verify.
        q = reqs[-1]
        bad = hmac.new(secret.encode(), q["headers"]["x-lnchr-timestamp"].encode() + b"." + q["body"] + b" ",
                       hashlib.sha256).hexdigest()
        assert q["headers"]["x-lnchr-signature"] != "sha256=" + bad
        # An event of another project is not routed to the project's rule.
        _raise(c.tid, project=new_project(c)["id"])
        assert len(_deliveries(c)) == 1
    finally:
        rx.stop()


def test_cooldown_holds_back_a_repeat_for_the_same_resource():
    c, _ = registered("al")
    rx = Receiver().start()
    try:
        ch = _channel(c, "webhook", {"url": rx.url()})
        _rule(c, [ch["id"]], event="server.offline", cooldown_seconds=600)
        res = str(uuid.uuid4())
        _raise(c.tid, event="server.offline", resource=res)
        _raise(c.tid, event="server.offline", resource=res)
        assert len(_deliveries(c)) == 1
        _raise(c.tid, event="server.offline")           # another resource: delivered
        assert len(_deliveries(c)) == 2
        rx.wait(2)
        # A threshold event goes to the rule its payload names, only.
        r1 = _rule(c, [ch["id"]], event="metric.threshold", cooldown_seconds=0,
                   condition={"metric": "server.cpu_percent", "op": ">", "threshold": 80})
        _rule(c, [ch["id"]], event="metric.threshold",
              condition={"metric": "server.load1", "op": ">", "threshold": 8})
        _raise(c.tid, event="metric.threshold", resource=res,
               payload={"rule_id": r1["id"], "metric": "server.cpu_percent", "value": 95,
                        "threshold": 80, "op": ">"})
        _raise(c.tid, event="metric.resolved", resource=res, payload={"rule_id": r1["id"]})
        hist = _deliveries(c, ruleId=r1["id"])
        assert sorted(h["event"] for h in hist) == ["metric.resolved", "metric.threshold"], hist
        # A disabled rule routes nothing.
        r = c.put("/alerts/rules/" + r1["id"], {"enabled": False})
        assert r.status == 200 and r.data["enabled"] is False, r
        _raise(c.tid, event="metric.threshold", payload={"rule_id": r1["id"]})
        assert len(_deliveries(c, ruleId=r1["id"])) == 2
    finally:
        rx.stop()


def test_cooldown_holds_across_concurrent_transactions():
    """Three events for one resource in three transactions open at once: the
    routing trigger serialises per (rule, resource), so the cooldown check of
    each sees the others' committed deliveries and only one is delivered."""
    c, _ = registered("alcc")
    ch = _channel(c, "webhook", {"url": "http://127.0.0.1:9/none"})
    _rule(c, [ch["id"]], event="server.offline", cooldown_seconds=600)
    res = str(uuid.uuid4())
    errors = []

    def one():
        try:
            # The transaction stays open a moment after its event, so the
            # three overlap (the outcome is asserted, not the timing).
            psql("BEGIN; SELECT launcher.alert_raise('%s', NULL, 'server.offline', 'server', '%s',"
                 " 'Server s is offline.', '{}'); SELECT pg_sleep(1); COMMIT;" % (c.tid, res),
                 user="launcher_owner")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert int(psql("SELECT count(*) FROM alert_events WHERE tenant_id = '%s'" % c.tid,
                    user="launcher_owner")[0]) == 3
    assert len(_deliveries(c)) == 1


def _maint_delivery(tid, channel, token):
    """A delivery held by a lease (token) that no launcher-notify holds."""
    return psql("INSERT INTO alert_deliveries (tenant_id, channel_id, event, message, status,"
                " lease_until, lease_token) VALUES ('%s', '%s', 'alert.test', 'm', 'sending',"
                " now() + interval '1 hour', '%s') RETURNING id" % (tid, channel, token),
                user="launcher_owner")[0]


def _attempt(did, token, ok):
    return psql("SELECT coalesce(launcher.alert_delivery_attempt('%s', '%s', now(), 5, %s, %s, %s,"
                " 1), 'NULL')" % (did, token, "200" if ok else "500", "NULL" if ok else "'boom'",
                                  "true" if ok else "false"), user="launcher_owner")[0]


def _state(did):
    return psql("SELECT status || ',' || attempts FROM alert_deliveries WHERE id = '%s'" % did,
                user="launcher_owner")[0]


def test_only_the_lease_holder_records_an_attempt_or_hands_a_delivery_back():
    c, _ = registered("allease")
    ch = _channel(c, "webhook", {"url": "http://127.0.0.1:9/none"})
    mine, stale = str(uuid.uuid4()), str(uuid.uuid4())
    did = _maint_delivery(c.tid, ch["id"], mine)
    # A stale holder (its lease expired and was taken again) records nothing.
    assert _attempt(did, stale, False) == "NULL"
    assert _state(did) == "sending,0"
    assert _attempt(did, mine, True) == "succeeded"
    # A late failure of the same or an older holder cannot reset a success.
    assert _attempt(did, mine, False) == "NULL"
    assert _attempt(did, stale, False) == "NULL"
    assert _state(did) == "succeeded,1"
    assert len(c.get("/alerts/history/" + did).data["attempts"]) == 1
    # Handing back: the holder only; the delivery is pending and due again.
    did2 = _maint_delivery(c.tid, ch["id"], mine)
    release = "SELECT launcher.alert_delivery_release('%s', '%s')"
    assert psql(release % (did2, stale), user="launcher_owner") == ["f"]
    assert psql(release % (did2, mine), user="launcher_owner") == ["t"]
    assert psql("SELECT status || ',' || (lease_token IS NULL) FROM alert_deliveries"
                " WHERE id = '%s'" % did2, user="launcher_owner")[0] in ("pending,true",
                                                                        "sending,false")


def test_a_rule_resource_must_be_a_server_or_application_of_the_tenant():
    c, _ = registered("alres")
    other, _ = registered("alres2")
    ch = _channel(c, "webhook", {"url": "http://127.0.0.1:9/none"})
    p, p2 = new_project(c), new_project(c)
    srv, app = _server(c), _app(c, p)
    foreign_srv = _server(other)
    before = _counts(c.tid)

    def rule(metric, rid, **kw):
        body = {"name": "r-" + uuid.uuid4().hex[:6], "event": "metric.threshold",
                "channel_ids": [ch["id"]],
                "condition": {"metric": metric, "op": ">", "threshold": 1, "resource_id": rid}}
        body.update(kw)
        return c.post("/alerts/rules", body)
    for metric, rid, kw in (("server.cpu_percent", str(uuid.uuid4()), {}),
                            ("server.cpu_percent", foreign_srv["id"], {}),
                            ("server.cpu_percent", app["id"], {}),
                            ("application.cpu_percent", srv["id"], {}),
                            ("application.cpu_percent", app["id"], {"project_id": p2["id"]})):
        assert_error(rule(metric, rid, **kw), 400, "BAD_REQUEST", "condition.resource_id")
    assert _counts(c.tid) == before
    assert rule("server.load1", srv["id"]).status == 201
    r = rule("application.cpu_percent", app["id"], project_id=p["id"])
    assert r.status == 201, r
    r2 = c.put("/alerts/rules/" + r.data["id"], {"condition": {
        "metric": "application.cpu_percent", "op": ">", "threshold": 1,
        "resource_id": foreign_srv["id"]}})
    assert_error(r2, 400, "BAD_REQUEST", "condition.resource_id")


def test_slack_and_discord_payloads_follow_the_providers_formats():
    """Contract test: the receiver stands in for Slack and Discord."""
    c, _ = registered("al")
    slack, discord = Receiver().start(), Receiver(ok_status=204).start()
    try:
        s = _channel(c, "slack", {"webhook_url": slack.url("/services/T0/B0/xyz")})
        d = _channel(c, "discord", {"webhook_url": discord.url("/api/webhooks/1/abc")})
        r = c.post("/alerts/channels/%s/test" % s["id"])
        assert r.status == 202, r
        assert r.headers["location"].endswith("/alerts/history/" + r.data["id"]), r.headers
        assert r.data["event"] == "alert.test" and r.data["status"] in ("pending", "sending", "succeeded")
        sd = _settled(c, r.data["id"])
        assert sd["status"] == "succeeded", sd
        r = c.post("/alerts/channels/%s/test" % d["id"])
        assert r.status == 202, r
        dd = _settled(c, r.data["id"])
        assert dd["status"] == "succeeded" and dd["attempts"][0]["status_code"] == 204, dd
        q = slack.wait(1)[0]
        assert q["path"] == "/services/T0/B0/xyz" and q["headers"]["content-type"] == "application/json"
        body = json.loads(q["body"])
        assert isinstance(body["text"], str) and body["text"], body
        assert isinstance(body["blocks"], list) and 1 <= len(body["blocks"]) <= 50
        for b in body["blocks"]:
            assert b["type"] in ("section", "context"), b
            if b["type"] == "section":
                assert b["text"]["type"] == "mrkdwn" and len(b["text"]["text"]) <= 3000
            else:
                assert all(e["type"] in ("mrkdwn", "plain_text") for e in b["elements"])
        q = discord.wait(1)[0]
        body = json.loads(q["body"])
        assert isinstance(body["content"], str) and 0 < len(body["content"]) <= 2000, body
        assert isinstance(body["embeds"], list) and len(body["embeds"]) <= 10
        for e in body["embeds"]:
            assert len(e["title"]) <= 256 and len(e["description"]) <= 4096
            assert isinstance(e["color"], int) and e["timestamp"].endswith("Z")
        assert body["allowed_mentions"] == {"parse": []}
    finally:
        slack.stop()
        discord.stop()


def test_a_hung_receiver_times_out_and_is_retried():
    c, _ = registered("al")
    rx = Receiver(hang=30).start()
    try:
        ch = _channel(c, "webhook", {"url": rx.url()})
        r = c.post("/alerts/channels/%s/test" % ch["id"])
        assert r.status == 202, r
        rx.wait(1)
        deadline = time.time() + 30
        while time.time() < deadline:
            d = c.get("/alerts/history/" + r.data["id"]).data
            if d["attempts"]:
                break
            time.sleep(0.2)
        a = d["attempts"][0]
        assert a["status_code"] is None and "timeout" in a["error"].lower(), d
        assert a["duration_ms"] < 15000, a
        assert d["status"] in ("pending", "sending"), d
        rx.hang = 0                     # the receiver recovers: the retry succeeds
        d = _settled(c, r.data["id"], timeout=60)
        assert d["status"] == "succeeded" and d["attempts"][-1]["status_code"] == 200, d
    finally:
        rx.stop()


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting():
    """The API cannot know where a name will point; launcher-notify checks the
    address it connects to (DNS rebinding): a name resolving to 127.0.0.1 is
    refused although the address 127.0.0.1 is allowed (the name is not)."""
    name = None
    for cand in (socket.gethostname(), "vm", "runsc", "ip6-localhost", "localhost.localdomain"):
        try:
            addrs = {a[4][0] for a in socket.getaddrinfo(cand, 80, proto=socket.IPPROTO_TCP)}
        except OSError:
            continue
        if cand and "." not in cand.rstrip(".") and addrs and all(
                a.startswith("127.") or a == "::1" for a in addrs) and cand != "localhost":
            name = cand
            break
    if name is None:
        raise Skip("no host name here resolves to loopback only")
    c, _ = registered("al")
    rx = Receiver().start()
    try:
        ch = _channel(c, "webhook", {"url": "http://%s:%d/h" % (name, rx.port)})
        r = c.post("/alerts/channels/%s/test" % ch["id"])
        assert r.status == 202, r
        deadline = time.time() + 30
        while time.time() < deadline:
            d = c.get("/alerts/history/" + r.data["id"]).data
            if d["attempts"]:
                break
            time.sleep(0.2)
        a = d["attempts"][0]
        assert a["status_code"] is None and "alert_allowed_hosts" in a["error"], d
        assert rx.requests == []
    finally:
        rx.stop()


def test_email_arrives_through_the_plane_smtp_and_the_tenant_smtp_settings():
    c, _ = registered("al")
    to = "oncall-%s@example.com" % uuid.uuid4().hex[:8]
    ch = _channel(c, "email", {"to": [to]})
    _rule(c, [ch["id"]], event="backup.failed")
    t0 = time.time() - 1
    _raise(c.tid, event="backup.failed", message="Backup of db orders failed: disk full.")
    msg = mail_for(to, after=t0, timeout=30)
    assert "backup.failed" in msg["Subject"] and "disk full" in mail_body(msg)
    assert msg["From"] and "launcher@localhost" in msg["From"]
    # The tenant's own SMTP server (here the same sink, another From).
    r = c.get("/settings/smtp")
    assert r.status == 200 and r.data["configured"] is False, r
    pw = "smtp-pw-" + uuid.uuid4().hex
    r = c.put("/settings/smtp", {"host": "127.0.0.1", "port": SMTP_PORT, "tls_mode": "none",
                                 "from": "alerts@tenant.example"})
    assert r.status == 200 and r.data["configured"] is True, r
    assert r.data["password_set"] is False and "password" not in r.data
    r = c.put("/settings/smtp", {"host": "10.0.0.9", "port": 25, "tls_mode": "none", "from": "a@b.c"})
    assert_error(r, 400, "BAD_REQUEST", "host")
    r = c.put("/settings/smtp", {"host": "127.0.0.1", "port": SMTP_PORT, "tls_mode": "ssl",
                                 "from": "a@b.c"})
    assert_error(r, 400, "BAD_REQUEST", "tls_mode")
    to2 = "second-%s@example.com" % uuid.uuid4().hex[:8]
    r = c.put("/alerts/channels/" + ch["id"], {"config": {"to": [to2, to]}})
    assert r.status == 200, r
    t0 = time.time() - 1
    r = c.post("/alerts/channels/%s/test" % ch["id"])
    assert r.status == 202, r
    msg = mail_for(to2, after=t0, timeout=30)
    assert "alerts@tenant.example" in msg["From"] and to in msg["To"], msg
    d = _settled(c, r.data["id"])
    assert d["status"] == "succeeded" and d["attempts"][0]["status_code"] == 250, d
    # A user or password never goes in clear: tls_mode none refuses them.
    for extra in ({"user": "alerts", "password": pw}, {"user": "alerts"}):
        body = {"host": "127.0.0.1", "port": SMTP_PORT, "tls_mode": "none",
                "from": "alerts@tenant.example"}
        body.update(extra)
        assert_error(c.put("/settings/smtp", body), 400, "BAD_REQUEST", "tls_mode")
    assert c.get("/settings/smtp").data["password_set"] is False
    # A password is write-only.
    r = c.put("/settings/smtp", {"host": "127.0.0.1", "port": SMTP_PORT, "tls_mode": "starttls",
                                 "user": "alerts", "password": pw, "from": "alerts@tenant.example"})
    assert r.status == 200 and r.data["password_set"] is True, r
    assert pw.encode() not in r.raw and pw.encode() not in c.get("/settings/smtp").raw
    assert pw not in psql("SELECT password_sealed FROM tenant_smtp WHERE tenant_id = '%s'" % c.tid,
                          user="launcher_owner")[0]


# ------------------------------------------------------------------ tenancy

def test_tenants_see_and_route_only_their_own():
    a, _ = registered("ala")
    b, _ = registered("alb")
    rx = Receiver().start()
    try:
        ch = _channel(a, "webhook", {"url": rx.url()})
        rule = _rule(a, [ch["id"]], event="server.offline")
        assert b.get("/alerts/channels/" + ch["id"]).status == 404
        assert b.get("/alerts/rules/" + rule["id"]).status == 404
        assert b.put("/alerts/channels/" + ch["id"], {"name": "mine"}).status == 404
        assert b.delete("/alerts/rules/" + rule["id"]).status in (404, 412)
        assert b.post("/alerts/channels/%s/test" % ch["id"]).status == 404
        r = b.post("/alerts/rules", {"name": "steal", "event": "server.offline",
                                     "channel_ids": [ch["id"]]})
        assert_error(r, 400, "BAD_REQUEST", "channel_ids")
        # B's event never reaches A's channel; A's shows only in A's history.
        _raise(b.tid, event="server.offline")
        assert _deliveries(a) == [] and _deliveries(b) == []
        _raise(a.tid, event="server.offline")
        hist = _deliveries(a)
        assert len(hist) == 1 and _deliveries(b) == []
        assert b.get("/alerts/history/" + hist[0]["id"]).status == 404
        assert [x["id"] for x in b.every("/alerts/channels")] == []
        rx.wait(1)
    finally:
        rx.stop()
