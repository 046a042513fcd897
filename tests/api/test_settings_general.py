"""GET/PUT /settings/general: the tenant's display name, default base domain
and JWT lifetime; validation, ETag/If-Match, audit, admin only, and the
lifetime governing the tokens issued afterwards (login, a sign-in code)."""
import base64
import json
import time

from lib import (PASSWORD, Client, assert_error, login_by_code, make_key, new_user,
                 registered, request)

PLANE_LIFETIME = 86400      # jwt_lifetime_seconds of the test stack's launcher.conf


def claims(token):
    """The JWT's payload (the signature is the server's business here)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def login(c):
    r = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email, "password": PASSWORD})
    assert r.status == 200, r
    return r.data


def test_defaults_then_an_update_read_back_with_etag_and_audit():
    c, _ = registered("sg")
    r = c.get("/settings/general")
    assert r.status == 200, r
    assert r.data["display_name"] == "Test " + c.tenant, r
    assert r.data["default_base_domain"] is None, r
    assert r.data["jwt_lifetime_seconds"] == PLANE_LIFETIME, r
    assert r.data["jwt_lifetime_default"] is True, r
    etag = r.headers["etag"]
    r = c.put("/settings/general", {"display_name": "Acme Corp",
                                    "default_base_domain": " Apps.Example.COM. ",
                                    "jwt_lifetime_seconds": 3600}, headers={"If-Match": etag})
    assert r.status == 200, r
    assert r.data["display_name"] == "Acme Corp", r
    assert r.data["default_base_domain"] == "apps.example.com", r   # normalised
    assert r.data["jwt_lifetime_seconds"] == 3600 and r.data["jwt_lifetime_default"] is False, r
    assert r.headers["etag"] != etag, r
    # A stale If-Match changes nothing.
    assert_error(c.put("/settings/general", {"display_name": "Other"}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    # Unicode names become their IDNA form, as custom domains do.
    r = c.put("/settings/general", {"default_base_domain": "Bücher.Example"})
    assert r.status == 200 and r.data["default_base_domain"] == "xn--bcher-kva.example", r
    # Only the fields given change; null clears the domain and restores the plane's lifetime.
    r = c.put("/settings/general", {"default_base_domain": None})
    assert r.status == 200, r
    assert (r.data["display_name"], r.data["default_base_domain"], r.data["jwt_lifetime_seconds"]) \
        == ("Acme Corp", None, 3600), r
    r = c.put("/settings/general", {"jwt_lifetime_seconds": None})
    assert r.data["jwt_lifetime_seconds"] == PLANE_LIFETIME and r.data["jwt_lifetime_default"], r
    assert c.get("/settings/general").data == r.data
    log = c.get("/audit-log?action=general_settings.update").data
    assert len(log) == 4, log       # the four writes that succeeded; the 412 recorded nothing
    assert log[-1]["actor_type"] == "user", log


def test_bad_bodies_name_each_field_and_change_nothing():
    c, _ = registered("sg")
    before = c.get("/settings/general").data
    cases = [
        ({"display_name": ""}, ["display_name"]),
        ({"display_name": "x" * 101}, ["display_name"]),
        ({"display_name": "   "}, ["display_name"]),
        ({"display_name": "a\nb"}, ["display_name"]),
        ({"display_name": None}, ["display_name"]),
        ({"display_name": 5}, ["display_name"]),
        ({"default_base_domain": "not a domain"}, ["default_base_domain"]),
        ({"default_base_domain": "10.0.0.1"}, ["default_base_domain"]),
        ({"default_base_domain": "*.example.com"}, ["default_base_domain"]),
        ({"default_base_domain": "localhost"}, ["default_base_domain"]),
        ({"default_base_domain": "a" * 64 + ".com"}, ["default_base_domain"]),
        ({"default_base_domain": 7}, ["default_base_domain"]),
        ({"jwt_lifetime_seconds": 299}, ["jwt_lifetime_seconds"]),
        ({"jwt_lifetime_seconds": 2592001}, ["jwt_lifetime_seconds"]),
        ({"jwt_lifetime_seconds": "3600"}, ["jwt_lifetime_seconds"]),
        ({"jwt_lifetime_seconds": 3600.5}, ["jwt_lifetime_seconds"]),
        ({"default_base_domain": "-bad-.com"}, ["default_base_domain"]),
        ({"display_name": "", "jwt_lifetime_seconds": 1}, ["display_name", "jwt_lifetime_seconds"]),
    ]
    for body, fields in cases:
        r = c.put("/settings/general", body)
        assert_error(r, 400, "BAD_REQUEST")
        got = sorted(d["field"] for d in r.error["details"])
        assert got == sorted(fields), (body, r)
    assert c.get("/settings/general").data == before
    assert c.get("/audit-log?action=general_settings.update").data == []
    # The edges of the bounds are fine.
    for secs in (300, 2592000):
        r = c.put("/settings/general", {"jwt_lifetime_seconds": secs})
        assert r.status == 200 and r.data["jwt_lifetime_seconds"] == secs, r


def test_only_tenant_admins_read_or_write():
    c, _ = registered("sg")
    user = new_user(c, role="user")
    assert_error(user.get("/settings/general"), 403, "FORBIDDEN")
    assert_error(user.put("/settings/general", {"display_name": "Mine"}), 403, "FORBIDDEN")
    adm = new_user(c, role="admin")
    assert adm.get("/settings/general").status == 200
    assert adm.put("/settings/general", {"display_name": "By admin"}).status == 200
    # A read-only key of the superadmin reads but cannot write.
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert ro.get("/settings/general").data["display_name"] == "By admin"
    assert_error(ro.put("/settings/general", {"display_name": "Key"}), 403, "FORBIDDEN")
    # Writing needs the admin scope: a key with every other scope reads but cannot write.
    rw = Client(c.tenant, key=make_key(c, scopes=["read", "write", "deploy"])["key"])
    assert rw.get("/settings/general").status == 200
    assert_error(rw.put("/settings/general", {"jwt_lifetime_seconds": 2592000}), 403, "FORBIDDEN")
    wo = Client(c.tenant, key=make_key(c, scopes=["write"])["key"])
    assert_error(wo.put("/settings/general", {"jwt_lifetime_seconds": 2592000}), 403, "FORBIDDEN")
    assert c.get("/settings/general").data["jwt_lifetime_seconds"] == PLANE_LIFETIME
    ak = Client(c.tenant, key=make_key(c, scopes=["read", "admin"])["key"])
    assert ak.put("/settings/general", {"display_name": "By key"}).status == 200
    assert ak.put("/settings/general", {"display_name": "By admin"}).status == 200
    assert c.get("/settings/general").data["display_name"] == "By admin"
    log = c.get("/audit-log?action=general_settings.update").data
    assert [x["actor_id"] for x in log][0] == adm.user_id, log
    assert [x["actor_type"] for x in log] == ["user", "service_key", "service_key"], log


def test_the_tenants_jwt_lifetime_governs_tokens_issued_afterwards():
    c, _ = registered("sg")
    other, _ = registered("sg")
    d = login(c)
    t = claims(d["token"])
    assert t["exp"] - t["iat"] == PLANE_LIFETIME and d["expires_in"] == PLANE_LIFETIME, t
    assert c.put("/settings/general", {"jwt_lifetime_seconds": 900}).status == 200
    t0 = int(time.time())
    d = login(c)
    t = claims(d["token"])
    assert t["exp"] - t["iat"] == 900 and d["expires_in"] == 900, (t, d)
    assert t0 - 5 <= t["iat"] <= int(time.time()) + 5, t
    # The token works, and a sign-in by e-mailed code gets the same lifetime.
    assert Client(c.tenant, token=d["token"]).get("/auth/me").status == 200
    u = new_user(c, role="user")
    t = claims(u.token)
    assert t["exp"] - t["iat"] == 900, t
    # Another tenant keeps the plane's lifetime.
    t = claims(login(other)["token"])
    assert t["exp"] - t["iat"] == PLANE_LIFETIME, t
    # Back to the default.
    assert c.put("/settings/general", {"jwt_lifetime_seconds": None}).status == 200
    t = claims(login(c)["token"])
    assert t["exp"] - t["iat"] == PLANE_LIFETIME, t


def test_smtp_settings_also_need_the_admin_scope():
    # The SMTP settings carry a password and decide where the tenant's
    # mail goes: like the general settings, a key needs the admin scope.
    c, _ = registered("sgsmtp")
    body = {"host": "smtp.example.com", "port": 587, "tls_mode": "starttls",
            "from": "ops@example.com"}
    rw = Client(c.tenant, key=make_key(c, scopes=["read", "write", "deploy"])["key"])
    assert_error(rw.put("/settings/smtp", body), 403, "FORBIDDEN")
    ak = Client(c.tenant, key=make_key(c, scopes=["read", "admin"])["key"])
    r = ak.put("/settings/smtp", body)
    assert r.status == 200, r
