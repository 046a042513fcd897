"""Templates (API.md §13, core/template.c, core/gallery.c, fcgi/api/templates.c,
sql/047_templates.sql): every built-in of conf/templates validates into its
plan (resources in dependency order, references rewritten, generated secrets
masked); a bad template is 400 with each error's field and line (unknown
reference, cycle, wrong type, unknown field); names that the project's
environment already has are refused; the tenant's own templates (CRUD, the
gallery's ?tag= and ?q=, a built-in's name refused, built-ins read-only);
who may do what; another tenant never sees a stored template."""
import glob
import os
import shutil
import subprocess
import uuid

from lib import BIN, CONF, REPO, STATE, Client, assert_error, make_key, new_project, new_user, registered
from test_servers import _server

GALLERY = os.path.join(REPO, "conf", "templates")

# Each built-in's plan: (kind, name) in creation order.
ORDER = {
    "n8n": [("database", "n8n-db"), ("database", "n8n-redis"), ("application", "n8n"),
            ("application", "n8n-worker")],
    "wordpress": [("volume", "wp-content"), ("database", "wordpress-db"), ("application", "wordpress")],
    "redis": [("database", "redis")],
    "ghost": [("volume", "ghost-content"), ("database", "ghost-db"), ("application", "ghost")],
    "plausible": [("database", "plausible-db"), ("database", "plausible-events"),
                  ("application", "plausible")],
    "gitea": [("volume", "gitea-data"), ("database", "gitea-db"), ("application", "gitea")],
    "uptime-kuma": [("volume", "kuma-data"), ("application", "uptime-kuma")],
    "minio": [("bucket", "data")],
}


def _builtins():
    out = {}
    for path in sorted(glob.glob(os.path.join(GALLERY, "*", "*", "template.yaml"))):
        with open(path) as f:
            out[os.path.basename(os.path.dirname(path))] = f.read()
    return out


def _lines(r):
    """{field: line} of a 400's details."""
    assert r.status == 400 and r.error.get("message") == "invalid template", r
    return {d["field"]: d["line"] for d in r.error["details"]}


SMALL = """version: "1.0"
metadata:
  name: %s
  display_name: %s
  description: A cache for the %s team.
  tags: [cache, %s]
databases:
  cache:
    type: redis
"""


def _small(name, tag="team", display="Team cache"):
    return SMALL % (name, display, name, tag)


def test_every_builtin_validates_into_its_plan():
    c, _ = registered("tplv")
    builtins = _builtins()
    assert set(builtins) == set(ORDER), builtins.keys()
    for slug, text in builtins.items():
        r = c.post("/templates/validate", {"yaml": text})
        assert r.status == 200, (slug, r)
        plan = r.data["plan"]
        assert plan["metadata"]["name"] == slug, plan
        assert [(x["kind"], x["name"]) for x in plan["resources"]] == ORDER[slug], (slug, plan)
        for res in plan["resources"]:
            line = text.splitlines()[res["line"] - 1]
            assert line.strip().startswith(res["name"] + ":"), (slug, res, line)
        for v in plan["variables"]:
            if v["generate"]:
                assert v["value"] == "********" and v["type"] == "secret", v
    n8n = c.post("/templates/validate", {"yaml": builtins["n8n"]}).data["plan"]
    app = n8n["resources"][2]
    assert app["depends_on"] == ["n8n-db", "n8n-redis"], app
    assert app["spec"]["exposed_port"] == 5678 and app["spec"]["image_url"] == "n8nio/n8n:1", app
    assert app["spec"]["env"]["DB_POSTGRESDB_HOST"] == "${db.n8n-db.host}", app
    assert app["spec"]["env"]["DB_POSTGRESDB_DATABASE"] == "${db.n8n-db.name}", app
    assert app["spec"]["env"]["N8N_ENCRYPTION_KEY"] == "${N8N_ENCRYPTION_KEY}", app
    assert n8n["variables"] == [{"name": "N8N_ENCRYPTION_KEY", "type": "secret", "generate": True,
                                 "length": 32, "description": "Encryption key for stored credentials",
                                 "default": None, "required": False, "value": "********"}], n8n
    ghost = c.post("/templates/validate", {"yaml": builtins["ghost"]}).data["plan"]
    assert ghost["resources"][0]["spec"] == {"size_limit": 5368709120}, ghost
    assert ghost["resources"][2]["spec"]["volumes"] == [
        {"name": "ghost-content", "mount_path": "/var/lib/ghost/content"}], ghost


def test_the_gallery_lists_and_serves_every_builtin_read_only():
    c, _ = registered("tplg")
    builtins = _builtins()
    lst = c.get("/templates")
    assert lst.status == 200 and lst.json["meta"]["next_cursor"] is None, lst
    assert [t["id"] for t in lst.data] == ["n8n", "wordpress", "redis", "ghost", "plausible", "gitea",
                                           "uptime-kuma", "minio"], lst.data
    assert all(t["builtin"] is True and t["slug"] == t["id"] and "yaml" not in t for t in lst.data)
    g = c.get("/templates/plausible")
    assert g.status == 200 and g.data["yaml"] == builtins["plausible"], g
    assert g.data["category"] == "Analytics" and g.data["readme"].startswith("#"), g.data
    assert [t["id"] for t in c.get("/templates?tag=CMS").data] == ["wordpress", "ghost"]
    assert [t["id"] for t in c.get("/templates?q=privacy-friendly").data] == ["plausible"]
    assert [t["id"] for t in c.get("/templates?tag=cms&q=analytics").data] == []
    assert_error(c.put("/templates/n8n", {"yaml": builtins["n8n"]}), 403, "FORBIDDEN")
    assert_error(c.delete("/templates/n8n"), 403, "FORBIDDEN")
    assert c.get("/templates/n8n").status == 200
    assert_error(c.get("/templates/nope"), 404, "NOT_FOUND")
    assert_error(c.get("/templates/" + str(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error(c.get("/templates/Not_A_Slug"), 404, "NOT_FOUND")
    assert_error(c.get("/templates?q=" + "x" * 201), 400, "BAD_REQUEST", field="q")


def test_each_error_comes_with_its_line():
    c, _ = registered("tple")
    text = "\n".join([
        'version: "1.0"',                               # 1
        "metadata:",                                    # 2
        "  name: broken",                               # 3
        "  colour: red",                                # 4  unknown field
        "databases:",                                   # 5
        "  main-db:",                                   # 6
        "    type: postgres",                           # 7
        "applications:",                                # 8
        "  api:",                                       # 9
        "    source_type: docker_image",                # 10
        "    image_url: shop/api:1",                    # 11
        "    replicas: two",                            # 12 wrong type
        "    depends_on: [worker, main-db]",            # 13 cycle api -> worker
        "    env:",                                     # 14
        "      DB: ${main-db.HOST}:${main-db.PORT}",    # 15 fine (any case)
        "      URL: ${nodb.host}",                      # 16 unknown resource
        "      KEY: ${NOPE}",                           # 17 unknown variable
        "  worker:",                                    # 18
        "    app_type: worker",                         # 19
        "    source_type: docker_image",                # 20
        "    image_url: shop/worker:1",                 # 21
        "    exposed_ports: [70000]",                   # 22 out of range
        "    depends_on: [api]",                        # 23 cycle worker -> api
        "    privileged: true",                         # 24 unknown field
        "",
    ])
    r = c.post("/templates/validate", {"yaml": text})
    lines = _lines(r)
    assert lines == {
        "metadata.colour": 4,
        "applications.api.replicas": 12,
        "applications.api.depends_on[0]": 13,
        "applications.api.env.URL": 16,
        "applications.api.env.KEY": 17,
        "applications.worker.exposed_ports[0]": 22,
        "applications.worker.depends_on[0]": 23,
        "applications.worker.privileged": 24,
    }, r.error["details"]
    msgs = {d["field"]: d["message"] for d in r.error["details"]}
    assert "api -> worker -> api" in msgs["applications.api.depends_on[0]"], msgs
    assert "${nodb.host}" in msgs["applications.api.env.URL"], msgs
    assert all(d["column"] > 0 for d in r.error["details"]), r
    # YAML syntax, a wrong type at the top, an undeclared volume
    r = c.post("/templates/validate", {"yaml": 'version: "1.0"\nmetadata: {name: x\n'})
    assert list(_lines(r)) == ["yaml"], r
    r = c.post("/templates/validate", {"yaml": 'version: "2.0"\nmetadata: {name: x}\n'
                                                 'databases:\n  d: {type: oracle}\n'})
    assert _lines(r) == {"version": 1, "databases.d.type": 4}, r
    r = c.post("/templates/validate", {"yaml": 'version: "1.0"\nmetadata: {name: x}\napplications:\n'
                                                 '  a:\n    source_type: docker_image\n    image_url: i\n'
                                                 '    volumes:\n      - {name: data, mount_path: /d}\n'})
    assert _lines(r) == {"applications.a.volumes[0].name": 8}, r
    # a malformed body names its field (no line)
    assert_error(c.post("/templates/validate", {"yaml": 5}), 400, "BAD_REQUEST", field="yaml")
    assert_error(c.post("/templates/validate", {}), 400, "BAD_REQUEST", field="yaml")


def test_names_the_project_environment_already_has_are_refused():
    c, _ = registered("tplc")
    _server(c, name="only")
    p = new_project(c)
    text = 'version: "1.0"\nmetadata: {name: shop}\ndatabases:\n  shop-db:\n    type: postgres\n'
    assert c.post("/templates/validate", {"yaml": text, "project_id": p["id"]}).status == 200
    d = c.post("/databases", {"project_id": p["id"], "name": "shop-db", "type": "postgres"})
    assert d.status == 201, d
    r = c.post("/templates/validate", {"yaml": text, "project_id": p["id"]})
    assert _lines(r) == {"databases.shop-db": 4}, r
    assert "already exists" in r.error["details"][0]["message"], r
    # the same name is free elsewhere: no project, another project
    assert c.post("/templates/validate", {"yaml": text}).status == 200
    other = new_project(c)
    assert c.post("/templates/validate", {"yaml": text, "project_id": other["id"]}).status == 200
    assert_error(c.post("/templates/validate", {"yaml": text, "environment_id": str(uuid.uuid4())}),
                 400, "BAD_REQUEST", field="environment_id")
    assert_error(c.post("/templates/validate", {"yaml": text, "project_id": p["id"],
                                                "environment_id": str(uuid.uuid4())}),
                 400, "BAD_REQUEST", field="environment_id")
    assert_error(c.post("/templates/validate", {"yaml": text, "project_id": str(uuid.uuid4())}),
                 404, "NOT_FOUND")


def test_the_tenants_own_templates_round_trip():
    c, user = registered("tplcrud")
    r = c.post("/templates", {"yaml": _small("team-cache", "ops")})
    assert r.status == 201 and r.headers.get("etag"), r
    t = r.data
    assert (t["slug"], t["builtin"], t["display_name"], t["tags"], t["created_by"]) == \
        ("team-cache", False, "Team cache", ["cache", "ops"], user["id"]), t
    assert t["yaml"] == _small("team-cache", "ops") and t["description"] == "A cache for the team-cache team."
    assert c.get("/templates/" + t["id"]).data == t
    assert c.get("/templates/team-cache").data == t
    lst = c.get("/templates")
    assert [x["id"] for x in lst.data][-1] == t["id"] and len(lst.data) == 9, lst
    assert [x["id"] for x in c.get("/templates?tag=OPS").data] == [t["id"]]
    assert [x["id"] for x in c.get("/templates?q=team-CACHE").data] == [t["id"]]
    assert [x["id"] for x in c.get("/templates?tag=cache").data] == ["redis", t["id"]]
    # limit and cursor page through the tenant's own; the built-ins lead page one
    c.post("/templates", {"yaml": _small("second", "ops")})
    page = c.get("/templates?tag=ops&limit=1")
    assert [x["id"] for x in page.data] == [t["id"]] and page.json["meta"]["next_cursor"], page
    nxt = c.get("/templates?tag=ops&limit=1&cursor=" + page.json["meta"]["next_cursor"])
    assert [x["slug"] for x in nxt.data] == ["second"], nxt
    # 409: a built-in's name, another template's name; 400 with lines
    assert_error(c.post("/templates", {"yaml": _small("n8n")}), 409, "CONFLICT", field="metadata.name")
    assert_error(c.post("/templates", {"yaml": _small("team-cache")}), 409, "CONFLICT")
    bad = c.post("/templates", {"yaml": _small("x").replace("redis", "oracle")})
    assert _lines(bad) == {"databases.cache.type": 9}, bad
    # PUT replaces (If-Match), renames, refuses taken names
    etag = r.headers["etag"]
    u = c.put("/templates/" + t["id"], {"yaml": _small("team-cache2", "dev", "Renamed")},
              headers={"If-Match": etag})
    assert u.status == 200 and (u.data["slug"], u.data["display_name"], u.data["tags"]) == \
        ("team-cache2", "Renamed", ["cache", "dev"]) and u.headers["etag"] != etag, u
    assert_error(c.put("/templates/" + t["id"], {"yaml": _small("team-cache3")},
                       headers={"If-Match": etag}), 412, "PRECONDITION_FAILED")
    assert_error(c.put("/templates/team-cache2", {"yaml": _small("second")}), 409, "CONFLICT")
    assert_error(c.put("/templates/team-cache2", {"yaml": _small("ghost")}), 409, "CONFLICT")
    assert _lines(c.put("/templates/team-cache2", {"yaml": "version: 1\n"})) == {"metadata": 1}
    assert c.get("/templates/team-cache2").data["yaml"] == _small("team-cache2", "dev", "Renamed")
    actions = {x["action"] for x in c.every("/audit-log")}
    assert {"template.create", "template.update"} <= actions, actions
    assert c.delete("/templates/team-cache2").status == 204
    assert_error(c.get("/templates/" + t["id"]), 404, "NOT_FOUND")
    assert_error(c.delete("/templates/" + t["id"]), 404, "NOT_FOUND")


def test_who_may_read_validate_and_write():
    c, _ = registered("tplperm")
    p = new_project(c)
    stored = c.post("/templates", {"yaml": _small("mine")}).data
    user = new_user(c, role="user")
    assert user.get("/templates/mine").status == 200
    assert user.post("/templates/validate", {"yaml": _small("v")}).status == 200
    assert_error(user.post("/templates", {"yaml": _small("u")}), 403, "FORBIDDEN")
    assert_error(user.put("/templates/mine", {"yaml": _small("u")}), 403, "FORBIDDEN")
    assert_error(user.delete("/templates/mine"), 403, "FORBIDDEN")
    # a user who is no member of the project: 404 on a validate against it
    assert_error(user.post("/templates/validate", {"yaml": _small("v"), "project_id": p["id"]}),
                 404, "NOT_FOUND")
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert ro.get("/templates").status == 200
    assert ro.post("/templates/validate", {"yaml": _small("v")}).status == 200
    assert_error(ro.post("/templates", {"yaml": _small("k")}), 403, "FORBIDDEN")
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write"], project_id=p["id"])["key"])
    assert bound.get("/templates/" + stored["id"]).status == 200
    assert bound.post("/templates/validate", {"yaml": _small("v"), "project_id": p["id"]}).status == 200
    assert_error(bound.post("/templates", {"yaml": _small("b")}), 403, "FORBIDDEN")
    assert_error(bound.delete("/templates/mine"), 403, "FORBIDDEN")
    assert c.get("/templates/mine").status == 200


def test_another_tenant_never_sees_a_stored_template():
    a, _ = registered("tpla")
    b, _ = registered("tplb")
    t = a.post("/templates", {"yaml": _small("secret-recipe")}).data
    assert_error(b.get("/templates/" + t["id"]), 404, "NOT_FOUND")
    assert_error(b.get("/templates/secret-recipe"), 404, "NOT_FOUND")
    assert all(x["builtin"] for x in b.get("/templates").data)
    assert_error(b.delete("/templates/" + t["id"]), 404, "NOT_FOUND")
    # the same slug is free in another tenant
    assert b.post("/templates", {"yaml": _small("secret-recipe")}).status == 201
    assert a.get("/templates/" + t["id"]).status == 200


def test_a_builtin_that_fails_the_checker_stops_the_start_with_its_line():
    gallery = os.path.join(STATE, "bad-gallery")
    shutil.rmtree(gallery, ignore_errors=True)
    shutil.copytree(GALLERY, gallery)
    os.makedirs(os.path.join(gallery, "misc", "broken"))
    with open(os.path.join(gallery, "misc", "broken", "template.yaml"), "w") as f:
        f.write('version: "1.0"\nmetadata:\n  name: broken\ndatabases:\n  d: {type: oracle}\n')
    with open(CONF) as f:
        conf = [l for l in f.read().splitlines() if not l.startswith("templates_dir")]
    path = os.path.join(STATE, "bad-gallery.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf + ['templates_dir = "%s"' % gallery]) + "\n")
    run = lambda: subprocess.run([os.path.join(BIN, "launcher-fcgi"), "-c", path, "-t"],
                                 capture_output=True, text=True)
    r = run()
    want = os.path.join(gallery, "misc", "broken", "template.yaml") + ":5: databases.d.type"
    assert r.returncode == 1 and want in r.stderr, r.stderr
    shutil.rmtree(os.path.join(gallery, "misc"))
    r = run()
    assert r.returncode == 0, r.stderr
    shutil.rmtree(gallery)
    os.unlink(path)


def test_a_stored_template_name_shaped_like_a_uuid_is_refused():
    c, _ = registered("tpluuid")
    name = str(uuid.uuid4())
    assert_error(c.post("/templates", {"yaml": _small(name)}), 400, "BAD_REQUEST", "metadata.name")
    ok = c.post("/templates", {"yaml": _small("fine")}).data
    assert_error(c.put("/templates/" + ok["id"], {"yaml": _small(name)}), 400, "BAD_REQUEST",
                 "metadata.name")
