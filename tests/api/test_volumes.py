"""Volumes (API.md §8, sql/021_volumes.sql): CRUD, bodies, the mounts an
application's `volumes` field makes, the rules the database keeps (same
project and server, no delete while mounted, an application's delete keeps
its volumes), permissions, tenant isolation, the agent's usage report and
the migration of the old jsonb field."""
import json
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_servers import Agent, _server


def _world(prefix="vol"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _vol(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "v" + uuid.uuid4().hex[:8])
    r = c.post("/volumes", body)
    assert r.status == 201, r
    return r.data


def _app(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "a" + uuid.uuid4().hex[:8])
    body.setdefault("source_type", "docker_image")
    body.setdefault("image_url", "registry.test/w:1")
    return c.post("/applications", body)


def _jobs(volume_id):
    return psql("SELECT kind || ' ' || (payload->>'name') FROM jobs WHERE kind = 'volume.remove'"
                " AND payload->>'volume_id' = '%s'" % volume_id, user="launcher_owner")


def test_round_trip_through_every_endpoint():
    c, srv, p = _world()
    v = _vol(c, p, name="data", size_limit=10 << 20)
    assert v["server_id"] == srv["id"]          # the tenant's only server
    assert (v["name"], v["size_limit"], v["used_bytes"], v["mounts"], v["status"], v["warning"]) == \
        ("data", 10 << 20, 0, [], "pending", None), v
    for k in ("id", "project_id", "created_at", "updated_at"):
        assert v[k], (k, v)
    r = c.get("/volumes/" + v["id"])
    assert r.status == 200 and r.data == v, r
    etag = r.headers["etag"]
    lst = c.get("/volumes?projectId=" + p["id"])
    assert [x["id"] for x in lst.data] == [v["id"]] and lst.json["meta"]["next_cursor"] is None, lst
    assert c.get("/volumes?serverId=" + str(uuid.uuid4())).data == []
    r = c.put("/volumes/" + v["id"], {"name": "data2", "size_limit": None}, headers={"If-Match": etag})
    assert r.status == 200 and (r.data["name"], r.data["size_limit"]) == ("data2", None), r
    assert r.data["server_id"] == srv["id"] and r.data["project_id"] == p["id"], r
    # A stale ETag changes nothing.
    assert_error(c.put("/volumes/" + v["id"], {"name": "data3"}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    assert_error(c.delete("/volumes/" + v["id"], headers={"If-Match": etag}), 412, "PRECONDITION_FAILED")
    assert c.get("/volumes/" + v["id"]).data["name"] == "data2"
    r = c.delete("/volumes/" + v["id"])
    assert r.status == 204, r
    assert_error(c.get("/volumes/" + v["id"]), 404, "NOT_FOUND")
    # The engine volume goes through the server's agent.
    assert _jobs(v["id"]) == ["volume.remove data2"]


def test_bad_bodies_name_the_field_and_change_nothing():
    c, srv, p = _world()
    other = new_project(c)
    _vol(c, p, name="taken")
    cases = [
        ({}, "name"),
        ({"name": "/etc"}, "name"),
        ({"name": "Data"}, "name"),
        ({"name": "x" * 64}, "name"),
        ({"name": "ok", "size_limit": 0}, "size_limit"),
        ({"name": "ok", "size_limit": "10M"}, "size_limit"),
        ({"name": "ok", "size_limit": 1.5}, "size_limit"),
        ({"name": "ok", "server_id": "nope"}, "server_id"),
        ({"name": "ok", "server_id": str(uuid.uuid4())}, "server_id"),
        ({"name": "ok", "project_id": "nope"}, "project_id"),
    ]
    for body, field in cases:
        body = dict(body)
        body.setdefault("project_id", p["id"])
        assert_error(c.post("/volumes", body), 400, "BAD_REQUEST", field=field)
    assert_error(c.post("/volumes", {"name": "taken", "project_id": p["id"]}), 409, "CONFLICT")
    # The same name in another project is another volume.
    assert c.post("/volumes", {"name": "taken", "project_id": other["id"]}).status == 201
    assert [x["name"] for x in c.get("/volumes?projectId=" + p["id"]).data] == ["taken"]
    v = c.get("/volumes?projectId=" + p["id"]).data[0]
    assert_error(c.put("/volumes/" + v["id"], {"size_limit": -1}), 400, "BAD_REQUEST", field="size_limit")
    assert_error(c.put("/volumes/" + v["id"], {"name": "Bad Name"}), 400, "BAD_REQUEST", field="name")
    # Several servers and no project default: the server must be named.
    _server(c, name="second")
    assert_error(c.post("/volumes", {"name": "ok", "project_id": p["id"]}), 400, "BAD_REQUEST",
                 field="server_id")
    assert c.get("/volumes/" + v["id"]).data == v


def test_applications_mount_by_id_or_name_and_show_the_mounts():
    c, srv, p = _world()
    v = _vol(c, p, name="data")
    r = _app(c, p, volumes=[{"volume_id": v["id"], "mount_path": "/var/lib/data"},
                            {"name": "cache", "mount_path": "/cache", "mode": "ro"}])
    assert r.status == 201, r
    a = r.data
    cache = [x for x in c.get("/volumes?projectId=" + p["id"]).data if x["name"] == "cache"]
    assert len(cache) == 1 and cache[0]["server_id"] == srv["id"], cache  # created, as compose does
    assert a["volumes"] == [
        {"volume_id": v["id"], "name": "data", "mount_path": "/var/lib/data", "mode": "rw"},
        {"volume_id": cache[0]["id"], "name": "cache", "mount_path": "/cache", "mode": "ro"}], a
    assert c.get("/volumes/" + v["id"]).data["mounts"] == [{"application_id": a["id"],
                                                             "mount_path": "/var/lib/data"}]
    stored = psql("SELECT volumes FROM applications WHERE id = '%s'" % a["id"], user="launcher_owner")
    assert json.loads(stored[0]) == [{"volume_id": v["id"], "mount_path": "/var/lib/data", "mode": "rw"},
                                     {"volume_id": cache[0]["id"], "mount_path": "/cache", "mode": "ro"}]
    deps = c.get("/applications/%s/dependencies" % a["id"]).data
    assert [x["name"] for x in deps["volumes"]] == ["data", "cache"], deps
    # A rename shows everywhere at once: the mounts name the volume by id.
    c.put("/volumes/" + v["id"], {"name": "data-renamed"})
    assert c.get("/applications/" + a["id"]).data["volumes"][0]["name"] == "data-renamed"
    # The field is kept by id: the old name sent again means a new volume of that name.
    body = [{"name": "data", "mount_path": "/var/lib/data"}, {"name": "cache", "mount_path": "/cache",
                                                             "mode": "ro"}]
    r = c.put("/applications/" + a["id"], {"volumes": body})
    assert r.status == 200, r
    assert r.data["volumes"][0]["name"] == "data" and r.data["volumes"][0]["volume_id"] != v["id"], r
    assert r.data["volumes"][1]["volume_id"] == cache[0]["id"], r
    assert c.get("/volumes/" + v["id"]).data["mounts"] == []
    # Replacing the field replaces the mounts; the volumes stay.
    r = c.put("/applications/" + a["id"], {"volumes": [{"name": "cache", "mount_path": "/c2"}]})
    assert r.status == 200 and [m["mount_path"] for m in r.data["volumes"]] == ["/c2"], r
    assert c.get("/volumes/" + v["id"]).data["mounts"] == []
    r = c.put("/applications/" + a["id"], {"volumes": None})
    assert r.status == 200 and r.data["volumes"] == [], r
    assert c.get("/volumes/" + cache[0]["id"]).data["mounts"] == []


def test_cross_project_cross_server_and_unknown_volumes_are_refused_naming_the_entry():
    c, srv, p = _world()
    other = new_project(c)
    foreign = _vol(c, other, name="theirs")
    srv2 = _server(c, name="second")
    far = _vol(c, p, name="far", server_id=srv2["id"])
    good = {"name": "fine", "mount_path": "/fine"}
    cases = [
        ([good, {"volume_id": foreign["id"], "mount_path": "/x"}], "volumes[1].volume_id", "no volume"),
        ([{"volume_id": str(uuid.uuid4()), "mount_path": "/x"}], "volumes[0].volume_id", "no volume"),
        ([{"volume_id": far["id"], "mount_path": "/x"}], "volumes[0].volume_id", "same server"),
        ([good, {"name": "far", "mount_path": "/x"}], "volumes[1].name", "same server"),
    ]
    for vols, field, words in cases:
        r = _app(c, p, server_id=srv["id"], volumes=vols)
        assert_error(r, 400, "BAD_REQUEST", field=field)
        msg = [d["message"] for d in r.error["details"] if d["field"] == field][0]
        assert words in msg, r
    # Nothing was created by the refused bodies: no app, no "fine" volume, no mount.
    assert c.get("/applications?projectId=" + p["id"]).data == []
    assert sorted(x["name"] for x in c.get("/volumes?projectId=" + p["id"]).data) == ["far"]
    # An update is refused the same way and keeps the old mounts.
    a = _app(c, p, server_id=srv["id"], volumes=[good]).data
    r = c.put("/applications/" + a["id"], {"volumes": [{"volume_id": far["id"], "mount_path": "/x"}]})
    assert_error(r, 400, "BAD_REQUEST", field="volumes[0].volume_id")
    assert [m["name"] for m in c.get("/applications/" + a["id"]).data["volumes"]] == ["fine"]
    # On the volume's server it mounts.
    r = _app(c, p, server_id=srv2["id"], volumes=[{"volume_id": far["id"], "mount_path": "/x"}])
    assert r.status == 201, r


def test_delete_while_mounted_is_409_listing_the_apps_and_changes_nothing():
    c, srv, p = _world()
    v = _vol(c, p, name="shared")
    a1 = _app(c, p, name="web", volumes=[{"volume_id": v["id"], "mount_path": "/d"}]).data
    a2 = _app(c, p, name="worker", volumes=[{"name": "shared", "mount_path": "/e", "mode": "ro"}]).data
    before = c.get("/volumes/" + v["id"]).data
    assert len(before["mounts"]) == 2, before
    r = c.delete("/volumes/" + v["id"])
    assert_error(r, 409, "CONFLICT")
    for a in (a1, a2):
        assert a["name"] in r.error["message"] and a["id"] in r.error["message"], r
    assert c.get("/volumes/" + v["id"]).data == before
    assert _jobs(v["id"]) == []
    # The database refuses it by itself too (the key, not only the handler).
    try:
        psql("DELETE FROM volumes WHERE id = '%s'" % v["id"], user="launcher_owner")
        assert False, "deleted a mounted volume"
    except RuntimeError as e:
        assert "volume_mounts_volume_id_fkey" in str(e), e
    # Deleting the applications keeps the volume; then it can go.
    assert c.delete("/applications/" + a1["id"]).status == 204
    assert_error(c.delete("/volumes/" + v["id"]), 409, "CONFLICT")
    assert c.delete("/applications/" + a2["id"]).status == 204
    after = c.get("/volumes/" + v["id"])
    assert after.status == 200 and after.data["mounts"] == [], after
    assert c.delete("/volumes/" + v["id"]).status == 204
    assert _jobs(v["id"]) == ["volume.remove shared"]


def test_deleting_the_project_removes_its_volumes_through_jobs():
    c, srv, p = _world()
    v = _vol(c, p, name="gone")
    _app(c, p, volumes=[{"volume_id": v["id"], "mount_path": "/d"}])
    assert c.delete("/projects/" + p["id"]).status == 204
    assert _jobs(v["id"]) == ["volume.remove gone"]


def test_permissions_follow_the_project_roles_and_key_scopes():
    c, srv, p = _world()
    v = _vol(c, p)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    outsider = new_user(c)
    for role, u in users.items():
        can_write = role == "admin"
        assert u.get("/volumes/" + v["id"]).status == 200
        assert [x["id"] for x in u.get("/volumes").data] == [v["id"]]
        r = u.post("/volumes", {"project_id": p["id"], "name": "by-" + role})
        assert r.status == (201 if can_write else 403), (role, r)
        r = u.put("/volumes/" + v["id"], {"size_limit": 1 << 20})
        assert r.status == (200 if can_write else 403), (role, r)
    assert_error(outsider.get("/volumes/" + v["id"]), 404, "NOT_FOUND")
    assert outsider.get("/volumes").data == []
    assert_error(outsider.post("/volumes", {"project_id": p["id"], "name": "x"}), 404, "NOT_FOUND")
    assert_error(outsider.delete("/volumes/" + v["id"]), 404, "NOT_FOUND")
    assert_error(users["member"].delete("/volumes/" + v["id"]), 403, "FORBIDDEN")
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/volumes/" + v["id"]).status == 200
    assert_error(read.post("/volumes", {"project_id": p["id"], "name": "k"}), 403, "FORBIDDEN")
    assert_error(read.delete("/volumes/" + v["id"]), 403, "FORBIDDEN")
    other = new_project(c)
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write"], project_id=other["id"])["key"])
    assert_error(bound.get("/volumes/" + v["id"]), 404, "NOT_FOUND")
    assert bound.get("/volumes").data == []
    assert c.get("/volumes/" + v["id"]).status == 200
    assert users["admin"].delete("/volumes/" + v["id"]).status == 204


def test_tenants_never_see_or_mount_each_others_volumes():
    a, srv_a, pa = _world("vola")
    b, srv_b, pb = _world("volb")
    va = _vol(a, pa, name="secret")
    assert_error(b.get("/volumes/" + va["id"]), 404, "NOT_FOUND")
    assert_error(b.put("/volumes/" + va["id"], {"name": "mine"}), 404, "NOT_FOUND")
    assert_error(b.delete("/volumes/" + va["id"]), 404, "NOT_FOUND")
    assert b.get("/volumes").data == []
    r = _app(b, pb, volumes=[{"volume_id": va["id"], "mount_path": "/steal"}])
    assert_error(r, 400, "BAD_REQUEST", field="volumes[0].volume_id")
    # Another tenant's project or server cannot hold a volume of ours.
    assert_error(b.post("/volumes", {"project_id": pa["id"], "name": "x"}), 404, "NOT_FOUND")
    assert_error(b.post("/volumes", {"project_id": pb["id"], "name": "x", "server_id": srv_a["id"]}),
                 400, "BAD_REQUEST", field="server_id")
    # Row-level security, below the API.
    assert psql("SELECT count(*) FROM volumes WHERE id = '%s'" % va["id"], tenant=a.tid) == ["1"]
    assert psql("SELECT count(*) FROM volumes WHERE id = '%s'" % va["id"], tenant=b.tid) == ["0"]
    assert a.get("/volumes/" + va["id"]).data["name"] == "secret"


def test_the_agent_reports_used_bytes_of_its_own_servers_volumes_only():
    c, srv, p = _world()
    srv2 = _server(c, name="second")
    v1 = _vol(c, p, name="one", server_id=srv["id"])
    v2 = _vol(c, p, name="two", server_id=srv2["id"])
    ag = Agent(c.tenant, srv["agent_token"])
    r = ag.call("POST", "/volumes", {"volumes": [{"volume_id": v1["id"], "used_bytes": 10485760},
                                                 {"volume_id": v2["id"], "used_bytes": 99},
                                                 {"volume_id": str(uuid.uuid4()), "used_bytes": 5}]})
    assert r.status == 200 and r.data["volumes"] == 1, r
    got = c.get("/volumes/" + v1["id"]).data
    assert (got["used_bytes"], got["status"]) == (10485760, "ready") and got["used_at"], got
    assert c.get("/volumes/" + v2["id"]).data["used_bytes"] == 0
    for bad, field in (({"volumes": "x"}, "volumes"),
                       ({"volumes": [{"volume_id": "nope", "used_bytes": 1}]}, "volumes[0].volume_id"),
                       ({"volumes": [{"volume_id": v1["id"], "used_bytes": -1}]}, "volumes[0].used_bytes")):
        assert_error(ag.call("POST", "/volumes", bad), 400, "BAD_REQUEST", field=field)
    assert c.get("/volumes/" + v1["id"]).data["used_bytes"] == 10485760
    # A user's credentials are not an agent's.
    assert c.call("POST", "/agent/volumes", {"volumes": []}).status == 401


def test_the_old_jsonb_entries_migrate_into_volumes_and_mounts():
    """sql/021 turns applications.volumes of the previous version into
    volumes and mounts (app_volumes_sync(a, true)); replayed here on rows
    written as that version wrote them (the triggers off)."""
    c, srv, p = _world()
    srv2 = _server(c, name="second")
    a = _app(c, p, server_id=srv["id"]).data
    b = _app(c, p, server_id=srv2["id"]).data
    lost = str(uuid.uuid4())
    old_a = [{"name": "data", "mount_path": "/data"}, {"volume_id": lost, "mount_path": "/l", "mode": "ro"}]
    old_b = [{"name": "data", "mount_path": "/data"}]     # same name, other server
    sql = ("BEGIN; ALTER TABLE applications DISABLE TRIGGER applications_volumes_update;"
           " UPDATE applications SET volumes = '%s' WHERE id = '%s';"
           " UPDATE applications SET volumes = '%s' WHERE id = '%s';"
           " ALTER TABLE applications ENABLE TRIGGER applications_volumes_update;"
           " SELECT count(*) FROM (SELECT app_volumes_sync(x, true) FROM applications x"
           "  WHERE x.id IN ('%s', '%s') ORDER BY x.created_at) s; COMMIT;"
           % (_j(old_a), a["id"], _j(old_b), b["id"], a["id"], b["id"]))
    psql(sql, user="launcher_owner")
    va = c.get("/applications/" + a["id"]).data["volumes"]
    vb = c.get("/applications/" + b["id"]).data["volumes"]
    assert [(x["name"], x["mount_path"], x["mode"]) for x in va] == \
        [("data", "/data", "rw"), ("volume-" + lost[:8], "/l", "ro")], va
    assert va[1]["volume_id"] == lost                  # the id the entry named is kept
    assert vb[0]["mount_path"] == "/data" and vb[0]["name"].startswith("data-"), vb
    vols = {x["id"]: x for x in c.get("/volumes?projectId=" + p["id"]).data}
    assert vols[va[0]["volume_id"]]["server_id"] == srv["id"]
    assert vols[vb[0]["volume_id"]]["server_id"] == srv2["id"]


def _j(v):
    return json.dumps(v).replace("'", "''")
