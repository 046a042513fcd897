"""Members, the single owner, transfer; invites by real e-mail; environments;
the audit log."""
import time
import uuid

from lib import (STATE, Client, assert_error, mail_body, mail_for, make_key, new_project,
                 new_user, psql, registered, request)


def _owners(pid):
    return psql("SELECT count(*) FROM project_members WHERE project_id = '%s' AND role = 'owner'" % pid,
                user="launcher_owner")


def test_members_add_update_remove_and_the_owner_is_protected():
    c, me = registered()
    p = new_project(c)
    u = new_user(c)
    r = c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": "viewer"})
    assert r.status == 201 and r.data["role"] == "viewer" and r.data["email"] == u.email, r
    mid = r.data["id"]
    assert_error(c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": "viewer"}),
                 409, "CONFLICT")
    assert_error(c.post("/projects/%s/members" % p["id"], {"user_id": str(uuid.uuid4()), "role": "viewer"}),
                 400, "BAD_REQUEST", field="user_id")
    assert_error(c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": "owner"}),
                 400, "BAD_REQUEST", field="role")
    assert u.get("/projects/" + p["id"]).status == 200
    assert_error(u.put("/projects/" + p["id"], {"description": "x"}), 403, "FORBIDDEN")
    r = c.put("/projects/%s/members/%s" % (p["id"], mid), {"role": "admin"})
    assert r.status == 200 and r.data["role"] == "admin"
    assert u.put("/projects/" + p["id"], {"description": "x"}).status == 200
    owner = [m for m in c.get("/projects/%s/members" % p["id"]).data if m["role"] == "owner"][0]
    assert owner["user_id"] == me["id"]
    assert_error(c.delete("/projects/%s/members/%s" % (p["id"], owner["id"])), 409, "CONFLICT")
    assert_error(c.put("/projects/%s/members/%s" % (p["id"], owner["id"]), {"role": "member"}), 409, "CONFLICT")
    assert_error(u.delete("/projects/%s/members/%s" % (p["id"], owner["id"])), 409, "CONFLICT")
    assert _owners(p["id"]) == ["1"]
    assert c.delete("/projects/%s/members/%s" % (p["id"], mid)).status == 204
    assert_error(u.get("/projects/" + p["id"]), 404, "NOT_FOUND")


def test_transfer_to_a_member_only():
    c, me = registered()
    p = new_project(c)
    u = new_user(c)
    outsider = new_user(c)
    assert_error(c.post("/projects/%s/transfer" % p["id"], {"new_owner_id": outsider.user_id}),
                 400, "BAD_REQUEST", field="new_owner_id")
    c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": "member"})
    r = c.post("/projects/%s/transfer" % p["id"], {"new_owner_id": u.user_id})
    assert r.status == 200 and r.data["owner_id"] == u.user_id, r
    roles = {m["user_id"]: m["role"] for m in c.get("/projects/%s/members" % p["id"]).data}
    assert roles == {u.user_id: "owner", me["id"]: "admin"}, roles
    assert _owners(p["id"]) == ["1"]
    assert u.delete("/projects/" + p["id"]).status == 204


def _invite_token(addr, t0):
    body = mail_body(mail_for(addr, after=t0))
    return [w for w in body.replace("=", " ").replace("&", " ").split() if w.startswith("lnchr_inv_")][0]


def test_invite_by_mail_accepted_once():
    c, _ = registered()
    p = new_project(c)
    addr = "guest-%s@example.com" % uuid.uuid4().hex[:6]
    t0 = time.time() - 1
    r = c.post("/projects/%s/invites" % p["id"], {"email": addr, "role": "member"})
    assert r.status == 201 and "token" not in r.data and r.data["email"] == addr, r
    token = _invite_token(addr, t0)
    assert [i["email"] for i in c.get("/projects/%s/invites" % p["id"]).data] == [addr]
    r = request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant,
                {"token": token, "first_name": "Gu", "last_name": "Est", "password": "guest-Passw0rd"})
    assert r.status == 200 and r.data["user"]["email"] == addr, r
    g = Client(c.tenant, token=r.data["token"])
    assert g.get("/projects/" + p["id"]).status == 200
    roles = {m["email"]: m["role"] for m in c.get("/projects/%s/members" % p["id"]).data}
    assert roles[addr] == "member"
    assert request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": addr, "password": "guest-Passw0rd"}).status == 200
    assert_error(request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant, {"token": token}), 404, "NOT_FOUND")
    assert c.get("/projects/%s/invites" % p["id"]).data == []


def test_revoked_replaced_and_expired_invites():
    c, _ = registered()
    p = new_project(c)
    addr = "later-%s@example.com" % uuid.uuid4().hex[:6]
    t0 = time.time() - 1
    inv = c.post("/projects/%s/invites" % p["id"], {"email": addr, "role": "viewer"}).data
    old = _invite_token(addr, t0)
    time.sleep(1.1)
    t1 = time.time() - 0.5
    assert c.post("/projects/%s/invites" % p["id"], {"email": addr.upper(), "role": "admin"}).status == 201
    new = _invite_token(addr, t1)
    assert new != old
    assert_error(request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant, {"token": old}), 404, "NOT_FOUND")
    pending = c.get("/projects/%s/invites" % p["id"]).data
    assert len(pending) == 1 and pending[0]["role"] == "admin"
    assert c.delete("/projects/%s/invites/%s" % (p["id"], pending[0]["id"])).status == 204
    assert_error(request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant, {"token": new}), 404, "NOT_FOUND")
    assert_error(c.delete("/projects/%s/invites/%s" % (p["id"], inv["id"])), 404, "NOT_FOUND")
    t2 = time.time() - 1
    addr2 = "exp-%s@example.com" % uuid.uuid4().hex[:6]
    c.post("/projects/%s/invites" % p["id"], {"email": addr2, "role": "viewer"})
    tok = _invite_token(addr2, t2)
    psql("UPDATE project_invites SET expires_at = now() - interval '1 second' WHERE email = '%s'" % addr2,
         user="launcher_owner")
    assert_error(request("POST", "/%s/api/v1/auth/accept-invite" % c.tenant, {"token": tok}),
                 400, "BAD_REQUEST", field="token")
    m = c.get("/projects/%s/members" % p["id"]).data
    assert [x["email"] for x in m] == [c.get("/auth/me").data["email"]]
    # Inviting a member's address is refused.
    assert_error(c.post("/projects/%s/invites" % p["id"], {"email": c.get("/auth/me").data["email"], "role": "viewer"}),
                 409, "CONFLICT")


def test_environments():
    c, _ = registered()
    p = new_project(c)
    envs = c.get("/projects/%s/environments" % p["id"]).data
    assert [(e["name"], e["is_default"]) for e in envs] == [("production", True), ("staging", False)]
    r = c.post("/projects/%s/environments" % p["id"], {"name": "qa"})
    assert r.status == 201 and r.headers["etag"] == '"1"', r
    qa = r.data
    assert_error(c.post("/projects/%s/environments" % p["id"], {"name": "qa"}), 409, "CONFLICT")
    assert_error(c.post("/projects/%s/environments" % p["id"], {"name": "QA env"}), 400, "BAD_REQUEST", field="name")
    r = c.put("/projects/%s/environments/%s" % (p["id"], qa["id"]), {"name": "qa2"}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.data["name"] == "qa2" and r.headers["etag"] == '"2"', r
    assert_error(c.put("/projects/%s/environments/%s" % (p["id"], qa["id"]), {"name": "qa3"},
                       headers={"If-Match": '"1"'}), 412, "PRECONDITION_FAILED")
    prod = [e for e in envs if e["is_default"]][0]
    assert_error(c.delete("/projects/%s/environments/%s" % (p["id"], prod["id"])), 409, "CONFLICT")
    assert c.delete("/projects/%s/environments/%s" % (p["id"], qa["id"])).status == 204
    other = new_project(c)
    assert_error(c.get("/projects/%s/environments/%s" % (other["id"], prod["id"])), 404, "NOT_FOUND")


def test_audit_log_records_every_mutation():
    c, me = registered()
    k = make_key(c, scopes=["read", "write", "deploy", "admin"])
    kc = Client(c.tenant, key=k["key"])
    r = kc.post("/projects", {"name": "audited"})
    rid = r.headers["x-request-id"]
    pid = r.data["id"]
    c.put("/projects/" + pid, {"description": "d"})
    log = c.get("/audit-log?projectId=" + pid).data
    assert [e["action"] for e in log] == ["project.create", "project.update"], log
    first = log[0]
    assert first["actor_type"] == "service_key" and first["actor_id"] == k["id"]
    assert first["user_id"] == me["id"] and first["request_id"] == rid and first["ip"] == "127.0.0.1"
    assert first["resource_type"] == "project" and first["resource_id"] == pid
    assert log[1]["actor_type"] == "user" and log[1]["actor_id"] == me["id"]
    assert [e["action"] for e in c.get("/audit-log?actorId=" + k["id"]).data] == ["project.create"]
    assert all(e["action"] == "service_key.create" for e in c.get("/audit-log?action=service_key.create").data)
    # A failed mutation leaves no record; reads leave none either.
    c.put("/projects/" + pid, {"name": "NO"})
    c.get("/projects/" + pid)
    assert len(c.get("/audit-log?projectId=" + pid).data) == 2
    assert_error(c.get("/audit-log?projectId=nope"), 400, "BAD_REQUEST", field="projectId")
    u = new_user(c)
    assert_error(u.get("/audit-log"), 403, "FORBIDDEN")
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        try:
            psql(sql, tenant=c.tid)
            assert False, "the API role may change the audit log"
        except RuntimeError as e:
            assert "permission denied" in str(e), e
