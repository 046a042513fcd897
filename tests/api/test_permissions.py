"""The permission matrix: every project route x tenant role x project role x
credential (JWT or a single-scope service key) gets exactly the status the
tables say.  The expectations are generated from the tables the server
itself uses (`launcher-fcgi --routes` and `--permissions`), and cross-checked
by hand-written cases, so that a wrong table cannot pass."""
import uuid

from lib import PNG, Client, make_key, multipart, new_project, new_user, permission_tables, registered

PROLES = ["none", "viewer", "member", "admin", "owner"]
RANK = {r: i for i, r in enumerate(PROLES)}
TROLES = ["superadmin", "admin", "user"]
CREDS = ["jwt", "read", "write", "deploy", "admin"]


def _tables():
    # The project routes; each later section has its own permission tests.
    return permission_tables("/projects")


def expected(troles, prole, cred, cap, perms, success):
    """The rule: tenant admins act as owners; unseen -> 404; too little -> 403."""
    effective = "owner" if troles in ("superadmin", "admin") else prole
    if effective == "none":
        return 404
    min_role, scopes = perms[cap]
    if RANK[effective] < RANK[min_role]:
        return 403
    if cred != "jwt" and not scopes <= {cred}:
        return 403
    return success


class World:
    """One tenant role: users of each project role on one project, keys of
    each scope per user, a candidate (to add) and a victim (to change)."""

    def __init__(self, root, trole):
        self.root, self.trole = root, trole
        self.users = {p: new_user(root, role=trole, prefix="%s-%s" % (trole, p)) for p in PROLES}
        self.creds = {}
        for p, u in self.users.items():
            self.creds[(p, "jwt")] = u
            for s in ("read", "write", "deploy", "admin"):
                if s == "admin" and trole == "user":
                    continue  # a plain user cannot mint an admin key (tested elsewhere)
                self.creds[(p, s)] = Client(root.tenant, key=make_key(u, scopes=[s])["key"])
        self.candidate = new_user(root, prefix="cand")
        self.victim = new_user(root, prefix="victim")
        self.build()

    def build(self):
        owner = self.users["owner"]
        self.project = new_project(owner)
        pid = self.project["id"]
        for p in ("viewer", "member", "admin"):
            r = owner.post("/projects/%s/members" % pid, {"user_id": self.users[p].user_id, "role": p})
            assert r.status == 201, r
        r = owner.post("/projects/%s/members" % pid, {"user_id": self.victim.user_id, "role": "viewer"})
        self.victim_member = r.data["id"]
        self.prod_env = [e["id"] for e in self.project["environments"] if e["is_default"]][0]
        self.spare_env = owner.post("/projects/%s/environments" % pid, {"name": "spare"}).data["id"]

    def request(self, client, method, path):
        """Fills a route template with this world's ids; returns (status, after)."""
        owner, pid = self.users["owner"], self.project["id"]
        body, headers, raw, after = None, None, None, None
        p = path.replace("{id}", pid)
        if "{memberId}" in p:
            p = p.replace("{memberId}", self.victim_member)
            if method == "PUT":
                body = {"role": "viewer"}
            else:
                after = "victim"
        if "{inviteId}" in p:
            inv = owner.post("/projects/%s/invites" % pid,
                             {"email": "i-%s@example.com" % uuid.uuid4().hex[:6], "role": "viewer"})
            p = p.replace("{inviteId}", inv.data["id"])
        if "{envId}" in p:
            if method == "GET":
                p = p.replace("{envId}", self.prod_env)
            elif method == "PUT":
                p = p.replace("{envId}", self.spare_env)
                body = {"name": "spare"}
            else:
                env = owner.post("/projects/%s/environments" % pid, {"name": "e-" + uuid.uuid4().hex[:8]})
                p = p.replace("{envId}", env.data["id"])
        if method == "PUT" and p == "/projects/" + pid:
            body = {"description": "matrix"}
        if method == "PUT" and p.endswith("/error-tracking"):
            body = {"rate_limit_per_minute": 6000}
        if method == "POST":
            if p.endswith("/members"):
                body = {"user_id": self.candidate.user_id, "role": "viewer"}
                after = "candidate"
            elif p.endswith("/invites"):
                body = {"email": "n-%s@example.com" % uuid.uuid4().hex[:6], "role": "viewer"}
            elif p.endswith("/environments"):
                body = {"name": "n-" + uuid.uuid4().hex[:8]}
            elif p.endswith("/transfer"):
                body = {"new_owner_id": self.users["admin"].user_id}
                after = "rebuild"
            elif p.endswith("/icon"):
                raw, ctype = multipart("icon", "i.png", PNG)
                headers = {"Content-Type": ctype}
        if method == "DELETE" and p == "/projects/" + pid:
            after = "rebuild"
        r = client.call(method, p, body, headers=headers, raw=raw)
        return r, after

    def reset(self, after, r):
        owner, pid = self.users["owner"], self.project["id"]
        if after == "rebuild":
            self.build()
        elif after == "candidate":
            assert owner.delete("/projects/%s/members/%s" % (pid, r.data["id"])).status == 204
        elif after == "victim":
            self.victim_member = owner.post("/projects/%s/members" % pid,
                                            {"user_id": self.victim.user_id, "role": "viewer"}).data["id"]


SUCCESS = {"GET": 200, "PUT": 200, "DELETE": 204}


def _success(method, path):
    if method == "POST":
        return 200 if path.endswith(("/icon", "/transfer")) else 201
    return SUCCESS[method]


def test_permission_matrix_generated_from_the_tables():
    routes, perms = _tables()
    assert len(routes) >= 18 and set(perms) == {"read", "deploy", "write", "own"}, (routes, perms)
    root, _ = registered("perm")
    wrong, total = [], 0
    for trole in TROLES:
        w = World(root, trole)
        for method, path, cap in routes:
            for prole in PROLES:
                for cred in CREDS:
                    if (prole, cred) not in w.creds:
                        continue
                    want = expected(trole, prole, cred, cap, perms, _success(method, path))
                    r, after = w.request(w.creds[(prole, cred)], method, path)
                    total += 1
                    if r.status != want:
                        wrong.append((trole, prole, cred, method, path, want, r.status, r.raw[:120]))
                    if 200 <= r.status < 300 and after:
                        w.reset(after, r)
    assert total > 1000, total
    assert not wrong, "%d of %d wrong, e.g. %s" % (len(wrong), total, wrong[:5])


def test_hand_written_permission_cases():
    root, _ = registered("perm2")
    worlds = {t: World(root, t) for t in ("user", "admin")}
    cases = [
        # (tenant role, project role, credential, method, path, status)
        ("user", "viewer", "jwt", "GET", "/projects/{id}", 200),
        ("user", "viewer", "jwt", "PUT", "/projects/{id}", 403),
        ("user", "none", "jwt", "GET", "/projects/{id}", 404),
        ("user", "none", "jwt", "DELETE", "/projects/{id}", 404),
        ("user", "member", "jwt", "PUT", "/projects/{id}", 403),
        ("user", "admin", "jwt", "PUT", "/projects/{id}", 200),
        ("user", "admin", "jwt", "DELETE", "/projects/{id}", 403),
        ("user", "owner", "read", "DELETE", "/projects/{id}", 403),
        ("user", "owner", "write", "DELETE", "/projects/{id}", 403),
        ("user", "owner", "jwt", "POST", "/projects/{id}/transfer", 200),
        ("user", "viewer", "write", "PUT", "/projects/{id}", 403),
        ("user", "admin", "read", "PUT", "/projects/{id}", 403),
        ("user", "admin", "write", "PUT", "/projects/{id}", 200),
        ("user", "member", "jwt", "GET", "/projects/{id}/members", 200),
        ("user", "member", "jwt", "GET", "/projects/{id}/invites", 403),
        ("user", "admin", "jwt", "POST", "/projects/{id}/invites", 201),
        ("user", "viewer", "jwt", "GET", "/projects/{id}/environments", 200),
        ("user", "viewer", "jwt", "POST", "/projects/{id}/environments", 403),
        ("user", "none", "read", "GET", "/projects/{id}/environments", 404),
        ("user", "viewer", "deploy", "GET", "/projects/{id}", 403),
        ("user", "owner", "jwt", "DELETE", "/projects/{id}", 204),
        ("admin", "none", "jwt", "DELETE", "/projects/{id}", 204),
        ("admin", "none", "read", "GET", "/projects/{id}", 200),
        ("admin", "none", "admin", "POST", "/projects/{id}/transfer", 200),
        ("admin", "viewer", "deploy", "PUT", "/projects/{id}", 403),
        ("admin", "viewer", "write", "DELETE", "/projects/{id}/members/{memberId}", 204),
    ]
    assert len(cases) >= 20
    for trole, prole, cred, method, path, want in cases:
        w = worlds[trole]
        r, after = w.request(w.creds[(prole, cred)], method, path)
        assert r.status == want, (trole, prole, cred, method, path, want, r)
        if 200 <= r.status < 300 and after:
            w.reset(after, r)
