"""Permissions of every application and deployment route, generated from
the route table (`launcher-fcgi --routes`: the capability each route needs)
and the capability table (`--permissions`), for each project role and
service-key scope, plus an outsider: a route the caller may not reach is
403 (visible project) or 404 (not a member), and one it may reach is
neither.  Bodies are valid, so "allowed" is whatever the route answers
(200/201/204, or 409 for an action that needs a deployment first)."""
import uuid

from lib import Client, make_key, new_project, new_user, permission_tables, registered
from test_servers import _server

ROLES = ["viewer", "member", "admin"]
SCOPES = {"read": ["read"], "deploy": ["read", "deploy"], "write": ["read", "write"]}
BODIES = {
    ("PUT", "/applications/{id}"): {"replicas": 1},
    ("POST", "/applications/{id}/scale"): {"replicas": 1},
    ("PUT", "/applications/{id}/env"): {"K": "v"},
    ("PATCH", "/applications/{id}/env"): {"K": "w"},
    ("POST", "/applications/{id}/rollback"): {},
    ("POST", "/applications/{id}/deploy"): {},
    ("POST", "/applications/{id}/exec"): {"command": ["true"]},
}
# exec answers 202 with a job (or 409 before a successful deployment): it
# is checked like every route (test_exec_jobs runs it for real).
REFUSALS_ONLY = set()


def _routes():
    return permission_tables("/applications/", "/deployments/")


RANK = {"viewer": 1, "member": 2, "admin": 3, "owner": 4}


def test_application_routes_follow_the_capability_table():
    routes, perms = _routes()
    assert len(routes) >= 20, routes
    c, _ = registered("aperm")
    _server(c, name="only")
    p = new_project(c)
    users = {}
    for role in ROLES:
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    outsider = new_user(c)
    keys = {name: Client(c.tenant, key=make_key(c, scopes=sc)["key"]) for name, sc in SCOPES.items()}
    wrong = []
    checked = 0
    for method, path, cap in routes:
        min_role, scopes = perms[cap]
        # A fresh application (and deployment) per route: deletes and env
        # writes must not disturb the next route.
        a = c.post("/applications", {"project_id": p["id"], "name": "a" + uuid.uuid4().hex[:8],
                                     "source_type": "docker_image", "image_url": "registry.test/w:1",
                                     "exposed_port": 8080}).data
        d = c.post("/applications/%s/deploy" % a["id"], {}).data
        url = path.replace("{id}", d["id"] if path.startswith("/deployments/") else a["id"])
        body = BODIES.get((method, path), {} if method in ("POST", "PUT", "PATCH") else None)
        cases = [("outsider", outsider, False, True)]
        cases += [(role, users[role], RANK[role] >= RANK[min_role], False) for role in ROLES]
        cases += [("key:" + name, k, set(SCOPES[name]) >= scopes, False) for name, k in keys.items()]
        for who, client, allowed, hidden in cases:
            if allowed and (method, path) in REFUSALS_ONLY:
                continue
            if method == "DELETE":      # each caller gets an application of its own to delete
                a = c.post("/applications", {"project_id": p["id"], "name": "a" + uuid.uuid4().hex[:8],
                                             "source_type": "docker_image", "image_url": "registry.test/w:1",
                                             "exposed_port": 8080}).data
                url = path.replace("{id}", a["id"])
            r = client.call(method, url, body)
            checked += 1
            if hidden:
                ok = r.status == 404
            elif allowed:
                ok = r.status not in (401, 403, 404) and r.status < 500
            else:
                ok = r.status == 403
            if not ok:
                wrong.append((who, method, path, "allowed" if allowed else "denied", r.status, r.raw[:100]))
    assert not wrong, "%d of %d wrong: %r" % (len(wrong), checked, wrong[:10])
    assert checked >= 140, checked
