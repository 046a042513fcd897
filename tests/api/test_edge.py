"""nginx in front: healthz, static OpenAPI, rate limiting in the envelope,
request ids, no secrets in the access log."""
import glob
import os
import threading

from lib import STATE, Client, make_key, registered, request


def test_healthz():
    r = request("GET", "/healthz")
    assert r.status == 200 and r.data["status"] == "ok", r
    assert r.headers.get("x-plane-version") and r.headers.get("x-request-id")
    assert request("GET", "/_bench/select1").status == 404


def test_request_ids_are_unique_and_logged():
    a, b = request("GET", "/healthz"), request("GET", "/healthz")
    assert a.headers["x-request-id"] != b.headers["x-request-id"]
    assert len(a.headers["x-request-id"]) == 32


def test_openapi_is_served():
    r = request("GET", "/openapi.json")
    assert r.status == 200 and r.json["openapi"].startswith("3.1"), r.status


def test_login_zone_answers_429_in_the_envelope():
    c, _ = registered()
    statuses, bodies = [], []

    def hit():
        r = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": "x@y.z", "password": "p"})
        statuses.append(r.status)
        if r.status == 429:
            bodies.append(r)
    ts = [threading.Thread(target=hit) for _ in range(60)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert 429 in statuses, statuses
    r = bodies[0]
    assert r.json == {"success": False, "error": {"code": "TOO_MANY_REQUESTS", "message": r.error["message"]}}, r
    assert r.headers.get("retry-after") and r.headers.get("x-request-id"), r.headers


def test_secrets_never_reach_the_logs():
    import time
    from lib import mail_body, mail_for, new_project
    c, _ = registered()
    k = make_key(c)
    Client(c.tenant, key=k["key"]).get("/auth/me?token=" + c.token)
    srv = c.post("/servers", {"name": "logcheck"}).data
    request("POST", "/%s/api/v1/agent/heartbeat" % c.tenant, {"agent_version": "x"},
            {"x-lnchr-agent-token": srv["agent_token"]})
    p = new_project(c)
    t0 = time.time() - 1
    c.post("/projects/%s/invites" % p["id"], {"email": "logged@example.com", "role": "viewer"})
    invite = [w for w in mail_body(mail_for("logged@example.com", after=t0)).replace("=", " ").replace("&", " ").split()
              if w.startswith("lnchr_inv_")][0]
    request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant, {"token": invite + "x"})
    logs = glob.glob(os.path.join(STATE, "log", "*")) + \
        glob.glob(os.path.join(STATE, "nginx", "**", "*.log"), recursive=True)
    assert logs
    for path in logs:
        with open(path, "rb") as f:
            data = f.read()
        for secret in (k["key"], c.token, "s3cret-Passw0rd!", srv["agent_token"], invite):
            assert secret.encode() not in data, (path, secret[:12])
