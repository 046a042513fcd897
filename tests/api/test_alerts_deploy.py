"""Issue 18's end-to-end path of one event: a deployment that fails (the
agent reports the failure through the agent API, as the real agent does)
raises deployment.failed where the deployment's state is set (sql/041),
the routing trigger (sql/040) queues one delivery per channel of the
matching rule, the stack's launcher-notify delivers them (a signed webhook
to tests/lib/alert_receiver.py, a CONTRACT TEST stand-in for a customer's
endpoint; an e-mail through the suite's real SMTP server), and the users
who can see the project get an in-app notification live over
/ws/notifications."""
import hashlib
import hmac
import json
import os
import sys
import time
import uuid

from lib import mail_body, mail_for
from test_alerts import _channel, _rule, _settled
from test_notifications import _deploy, _member, _notes, _world
from test_ws_streams import WS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from alert_receiver import Receiver  # noqa: E402


def test_a_failed_deploy_reaches_the_signed_webhook_the_mailbox_and_live_notifications():
    c, s, p, a, agent = _world("aldep")
    viewer = _member(c, p)
    rx = Receiver().start()
    try:
        secret = "whsec-" + uuid.uuid4().hex
        hook = _channel(c, "webhook", {"url": rx.url("/hooks/launcher"), "secret": secret})
        to = "oncall-%s@example.com" % uuid.uuid4().hex[:8]
        mail = _channel(c, "email", {"to": [to]})
        _rule(c, [hook["id"], mail["id"]], project_id=p["id"])
        live = WS(c.tenant, "/ws/notifications", token=viewer.token, count=1, timeout=60)
        assert live.opened()["event"] == "open"
        t0 = time.time() - 1
        d = _deploy(c, a, agent, "failed")

        # The webhook: one request, signed over "<timestamp>.<body>".
        req = rx.wait(1, timeout=40)[0]
        h = req["headers"]
        assert h["x-lnchr-event"] == "deployment.failed", h
        want = hmac.new(secret.encode(), h["x-lnchr-timestamp"].encode() + b"." + req["body"],
                        hashlib.sha256).hexdigest()
        assert h["x-lnchr-signature"] == "sha256=" + want, h
        body = json.loads(req["body"])
        assert body["event"] == "deployment.failed" and body["resource_id"] == d["id"], body
        assert body["project_id"] == p["id"] and a["name"] in body["message"], body

        # The mail, through the real SMTP server.
        msg = mail_for(to, after=t0, timeout=40)
        assert "deployment.failed" in msg["Subject"], msg["Subject"]
        assert a["name"] in mail_body(msg)

        # Both deliveries succeeded once each.
        hist = {x["channel_id"]: x for x in c.every("/alerts/history")}
        assert set(hist) == {hook["id"], mail["id"]}, hist
        for x in hist.values():
            x = _settled(c, x["id"])
            assert x["status"] == "succeeded" and len(x["attempts"]) == 1, x

        # The in-app notification, live, for a member of the project.
        msgs = [m for m in live.results()[0]["messages"] if m["type"] == "notification"]
        assert [(m["event"], m["resource_id"]) for m in msgs] == [("deployment.failed", d["id"])], msgs
        assert [n["resource_id"] for n in _notes(viewer)] == [d["id"]]
    finally:
        rx.stop()
