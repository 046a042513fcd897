"""Environment variables end to end (API.md §9, §4 deploy/rollback/dependencies):
the store's three scopes merged into a release, references resolved at
deploy time, the change that waits for the next deploy, rollback to an old
snapshot, a deploy refused for bad references, and no value anywhere it
should not be.  The real plane, the real launcher-agent and the stack's
Podman (tests/api/test_deploy_e2e.py); the fixture web app answers
GET /cgi-bin/env with its own `env | sort`, read through the edge (never
through the API)."""
import glob
import os
import secrets
import threading
import time

from lib import STATE, assert_error, new_project, psql, registered
from test_deploy_e2e import World, _app, _deploy, _finished, _have_fixtures, edge_get
from test_servers import _server

REVEAL = ("/env-vars/values", "/value", "/env")   # the endpoints that show values


class Recorder:
    """The client of the World, keeping every answer but the reveal endpoints'."""

    def __init__(self, c):
        self.c, self.answers = c, []

    def call(self, method, path, body=None):
        r = self.c.call(method, path, body)
        if not path.split("?")[0].endswith(REVEAL):
            self.answers.append("%s %s -> %d %s" % (method, path, r.status,
                                                    r.raw.decode(errors="replace")))
        return r

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None):
        return self.call("POST", path, body)

    def put(self, path, body=None):
        return self.call("PUT", path, body)

    def delete(self, path):
        return self.call("DELETE", path)


class ArgvWatch:
    """Samples /proc/*/cmdline of every process it can see while it runs
    (the agent, its children, Podman, conmon, the runtime, the containers),
    so that a secret passed on a command line for an instant is caught."""

    def __init__(self):
        self.seen, self.stop = set(), threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            for p in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(p, "rb") as f:
                        self.seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join()


def secret():
    return "lk" + secrets.token_hex(11)


def app_env(host):
    st, body = edge_get(host, "/cgi-bin/env")
    assert st == 200, (st, body)
    return dict(line.split("=", 1) for line in body.splitlines() if "=" in line)


def bulk(c, project, scope, scope_id, variables):
    body = {"project_id": project, "scope": scope, "variables": variables}
    if scope_id is not None:
        body["scope_id"] = scope_id
    r = c.post("/env-vars/bulk", body)
    assert r.status in (200, 201), r
    return r


def create(c, project, scope, scope_id, key, value, is_secret=False):
    body = {"project_id": project, "scope": scope, "key": key, "value": value, "is_secret": is_secret}
    if scope_id is not None:
        body["scope_id"] = scope_id
    r = c.post("/env-vars", body)
    assert r.status == 201, r
    return r.data


def var_id(c, project, scope, scope_id, key):
    r = c.get("/env-vars?projectId=%s&scope=%s&scopeId=%s&limit=200" % (project, scope, scope_id))
    assert r.status == 200, r
    ids = [v["id"] for v in r.data if v["key"] == key]
    assert len(ids) == 1, (key, r.data)
    return ids[0]


def pending(c, app_id):
    return c.get("/applications/" + app_id).data["pending_deploy"]


def counts(app_id):
    return psql("SELECT (SELECT count(*) FROM deployments WHERE application_id = '%s') || ' ' ||"
                " (SELECT count(*) FROM jobs WHERE payload->>'app_id' = '%s')" % (app_id, app_id),
                user="launcher_owner")[0]


def test_a_release_runs_the_merged_resolved_store_and_nothing_leaks():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through make test")
    w = World.get()
    c = Recorder(w.c)
    proj = w.project["id"]
    a = _app(w, name="env" + secrets.token_hex(4))
    env_id, host = a["environment_id"], a["hostname"]
    # Another application of the same environment, whose own variables must not reach a.
    other = _app(w, name="oth" + secrets.token_hex(4))

    P = {"P%02d" % i: secret() for i in range(18)}
    P.update(OVER_PE=secret(), OVER_PA=secret(), OVER_ALL=secret(), SHARED_HOST=secret())
    E = {"E%02d" % i: secret() for i in range(8)}
    E.update(OVER_PE=secret(), OVER_EA=secret(), OVER_ALL=secret())
    A = {"A%02d" % i: secret() for i in range(6)}
    A.update(OVER_PA=secret(), OVER_EA=secret(), OVER_ALL=secret())
    refs = {"REF_URL": "postgres://u:${A00}@${SHARED_HOST}/db",
            "REF_CHAIN": "${REF_URL}?o=${OVER_ALL}",
            "REF_ESC": "$${A01} and ${E00}",
            "REF_SECRET": "k=${S_APP}"}
    S = {"S_PROJ": secret(), "S_ENV": secret(), "S_APP": secret(), "S_APP2": secret()}
    OTHER = {"OVER_ALL": secret(), "OTHER_ONLY": secret()}

    with ArgvWatch() as argv:
        bulk(c, proj, "project", None, P)
        bulk(c, proj, "environment", env_id, E)
        bulk(c, proj, "application", a["id"], dict(A, **refs))
        bulk(c, proj, "application", other["id"], OTHER)
        create(c, proj, "project", None, "S_PROJ", S["S_PROJ"], is_secret=True)
        create(c, proj, "environment", env_id, "S_ENV", S["S_ENV"], is_secret=True)
        create(c, proj, "application", a["id"], "S_APP", S["S_APP"], is_secret=True)
        create(c, proj, "application", a["id"], "S_APP2", S["S_APP2"], is_secret=True)

        want = dict(P)
        want.update(E)
        want.update(A)
        want.update(S)
        resolved = {"REF_URL": "postgres://u:%s@%s/db" % (A["A00"], P["SHARED_HOST"])}
        resolved["REF_CHAIN"] = "%s?o=%s" % (resolved["REF_URL"], A["OVER_ALL"])
        resolved["REF_ESC"] = "${A01} and %s" % E["E00"]
        resolved["REF_SECRET"] = "k=" + S["S_APP"]
        want.update(resolved)
        values = set(P.values()) | set(E.values()) | set(A.values()) | set(S.values()) | \
            set(OTHER.values()) | set(resolved.values())
        assert len(values) >= 50, len(values)

        # Dependencies: none of db/bucket/fn yet; the lists are there.
        dep = c.get("/applications/%s/dependencies" % a["id"])
        assert dep.status == 200 and dep.data["databases"] == [] and dep.data["buckets"] == [] \
            and dep.data["functions"] == [], dep

        # 1. The first release: project < environment < application, references resolved.
        d1 = _deploy(w, a)
        got = app_env(host)
        for k, v in want.items():
            assert got.get(k) == v, (k, got.get(k), v)
        assert got["OVER_PE"] == E["OVER_PE"] and got["OVER_PA"] == A["OVER_PA"] \
            and got["OVER_EA"] == A["OVER_EA"] and got["OVER_ALL"] == A["OVER_ALL"]
        assert "OTHER_ONLY" not in got, got
        assert pending(c, a["id"]) is False

        # 2. A change waits for the next deploy.
        new_all = secret()
        values.add(new_all)
        r = c.put("/env-vars/" + var_id(c, proj, "application", a["id"], "OVER_ALL"), {"value": new_all})
        assert r.status == 200, r
        assert pending(c, a["id"]) is True
        time.sleep(1)
        assert app_env(host)["OVER_ALL"] == A["OVER_ALL"]
        d2 = _deploy(w, a)
        got = app_env(host)
        assert got["OVER_ALL"] == new_all and got["REF_CHAIN"] == "%s?o=%s" % (resolved["REF_URL"], new_all)
        values.add(got["REF_CHAIN"])
        assert pending(c, a["id"]) is False
        # A project-scope change marks every application of the project.
        r = c.put("/env-vars/" + var_id(c, proj, "project", proj, "P00"), {"value": P["P00"] + "x"})
        assert r.status == 200, r
        values.add(P["P00"] + "x")
        assert pending(c, a["id"]) is True and pending(c, other["id"]) is True

        # 3. Rollback re-applies the first release's snapshot exactly.
        r = c.post("/applications/%s/rollback" % a["id"], {"deployment_id": d1["id"]})
        assert r.status == 201 and r.data["rollback_of"] == d1["id"], r
        d3 = _finished(w, r.data["id"])
        assert d3["status"] == "succeeded", d3
        got = app_env(host)
        for k, v in want.items():
            assert got.get(k) == v, (k, got.get(k), v)
        sealed = psql("SELECT env_sealed FROM deployments WHERE id IN ('%s', '%s')" % (d1["id"], d3["id"]),
                      user="launcher_owner")
        assert len(sealed) == 2 and sealed[0] == sealed[1], "the rollback re-sealed its snapshot"

        # 4. Bad references: 400 naming each, nothing created, the release keeps serving.
        before = counts(a["id"])
        current = c.get("/applications/" + a["id"]).data["current_deployment_id"]
        bulk(c, proj, "application", a["id"], {
            "BAD_DB": "postgres://${db.nope.url}", "BAD_VAR": "x${NO_SUCH_VAR}",
            "CYCLE_A": "${CYCLE_B}", "CYCLE_B": "${CYCLE_A}", "BAD_PROP": "${bucket.files.nope}"})
        r = c.post("/applications/%s/deploy" % a["id"], {})
        assert_error(r, 400, "BAD_REQUEST")
        details = {d["field"]: d["message"] for d in r.error["details"]}
        assert set(details) == {"BAD_DB", "BAD_VAR", "BAD_PROP", "CYCLE_A", "CYCLE_B"} and \
            len(r.error["details"]) == 5, r.error
        assert "${db.nope.url}" in details["BAD_DB"] and "no database named nope" in details["BAD_DB"], details
        assert "${NO_SUCH_VAR}" in details["BAD_VAR"], details
        assert "${bucket.files.nope}" in details["BAD_PROP"], details
        assert "cycle" in details["CYCLE_A"] and "cycle" in details["CYCLE_B"], details
        assert counts(a["id"]) == before
        assert c.get("/applications/" + a["id"]).data["current_deployment_id"] == current
        assert app_env(host)["OVER_ALL"] == A["OVER_ALL"]
        for k in ("BAD_DB", "BAD_VAR", "CYCLE_A", "CYCLE_B", "BAD_PROP"):
            assert c.delete("/env-vars/" + var_id(c, proj, "application", a["id"], k)).status == 204
        _deploy(w, a)
        assert app_env(host)["P00"] == P["P00"] + "x"

        # The answers worth reading for a leak, while the watch still runs.
        for path in ("/applications/" + a["id"], "/applications?projectId=" + proj,
                     "/applications/%s/dependencies" % a["id"], "/deployments?applicationId=" + a["id"],
                     "/applications/%s/build-logs" % a["id"], "/applications/%s/runtime-logs" % a["id"],
                     "/applications/%s/instances" % a["id"], "/env-vars?projectId=%s&limit=200" % proj,
                     "/audit-log?limit=200", "/projects/" + proj):
            assert c.get(path).status == 200, path
        for d in c.get("/deployments?applicationId=" + a["id"]).data:
            c.get("/deployments/" + d["id"])
            c.get("/deployments/%s/logs" % d["id"])
            c.get("/applications/%s/build-logs?deploymentId=%s" % (a["id"], d["id"]))
        for v in c.get("/env-vars?projectId=%s&limit=200" % proj).data:
            c.get("/env-vars/" + v["id"])
        # An is_secret variable stays write-only.
        assert c.get("/env-vars/%s/value" % var_id(c, proj, "application", a["id"], "S_APP")).status == 403

    # 5. No value in any answer (reveal endpoints aside), log file, stored log
    # or job, or command line.
    def leaks(text):
        return sorted(v for v in values if v in text)

    assert not leaks("\n".join(c.answers)), [x for x in c.answers if leaks(x)][:3]
    logs = []
    for root, dirs, files in os.walk(STATE):
        # Not the image layers; the containers' own logs (ctr.log) are read.
        dirs[:] = [d for d in dirs if d not in ("overlay", "overlay-images", "overlay-layers")]
        for f in files:
            if f.endswith(".log") or os.path.basename(root) == "log":
                p = os.path.join(root, f)
                with open(p, errors="replace") as fh:
                    text = fh.read()
                logs.append(p)
                assert not leaks(text), (p, leaks(text))
    assert any(p.endswith("agent.log") for p in logs) and len(logs) > 3, logs
    print("%d values; %d log files, %d answers, %d command lines searched"
          % (len(values), len(logs), len(c.answers), len(argv.seen)))
    stored = "\n".join(psql(
        "SELECT payload::text || coalesce(result::text, '') || coalesce(error, '') FROM jobs"
        " WHERE payload->>'app_id' IN ('%s', '%s')"
        " UNION ALL SELECT line FROM job_logs UNION ALL SELECT message FROM runtime_logs"
        " UNION ALL SELECT coalesce(error, '') || source::text FROM deployments" % (a["id"], other["id"]),
        user="launcher_owner"))
    assert not leaks(stored), leaks(stored)
    assert not leaks("\n".join(argv.seen)), [x for x in argv.seen if leaks(x)][:3]
    assert len(argv.seen) > 20 and any("launcher-agent" in x for x in argv.seen) and \
        any("conmon" in x or "podman" in x for x in argv.seen), len(argv.seen)


def test_dependencies_and_a_refused_deploy_name_every_reference_without_an_agent():
    """No engine needed: the references a merged map names, found by the
    resolver (through ${VAR}, not in $${ escapes, not those of another
    application), and the deploy's 400 with one entry per bad reference."""
    c, _ = registered("deps")
    _server(c)
    p = new_project(c)

    def app(name):
        r = c.post("/applications", {"project_id": p["id"], "name": name, "source_type": "docker_image",
                                     "image_url": "registry.example.com/web:1"})
        assert r.status == 201, r
        return r.data
    a, b = app("web"), app("other")
    bulk(c, p["id"], "project", None, {"DB_URL": "${db.main.url}", "ESCAPED": "$${db.escaped.url}"})
    bulk(c, p["id"], "environment", a["environment_id"],
         {"FILES": "s3://${bucket.files.endpoint}/${bucket.files.bucket_name}"})
    bulk(c, p["id"], "application", a["id"], {"HOOK": "${fn.notify.url}", "VIA": "${DB_URL}",
                                               "REPLICA": "x${db.replica.host}", "MISSING": "${NOPE}"})
    bulk(c, p["id"], "application", b["id"], {"THEIRS": "${db.foreign.url}"})
    r = c.get("/applications/%s/dependencies" % a["id"])
    assert r.status == 200, r
    assert r.data == {"databases": [{"kind": "db", "name": "main"}, {"kind": "db", "name": "replica"}],
                      "buckets": [{"kind": "bucket", "name": "files"}],
                      "functions": [{"kind": "fn", "name": "notify"}],
                      "volumes": [], "depends_on": []}, r.data
    assert c.get("/applications/%s/dependencies" % b["id"]).data["databases"] == [
        {"kind": "db", "name": "foreign"}, {"kind": "db", "name": "main"}]
    # The deploy: one entry per bad reference (FILES has two), none for VIA,
    # which only uses the failed DB_URL; nothing created.
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert_error(r, 400, "BAD_REQUEST")
    got = sorted((d["field"], d["message"]) for d in r.error["details"])
    assert [f for f, _ in got] == ["DB_URL", "FILES", "FILES", "HOOK", "MISSING", "REPLICA"], got
    assert ("DB_URL", "${db.main.url}: no database named main in this environment") in got, got
    assert ("HOOK", "${fn.notify.url}: no function named notify in this environment") in got, got
    assert ("MISSING", "${NOPE}: no variable NOPE in scope") in got, got
    assert c.get("/deployments?applicationId=" + a["id"]).data == []
    assert psql("SELECT count(*) FROM jobs WHERE payload->>'app_id' = '%s'" % a["id"],
                user="launcher_owner") == ["0"]
    assert c.get("/applications/" + a["id"]).data["status"] == "created"
    # Fixed, it deploys (the job is queued for an agent that is not running).
    for k in ("DB_URL", "FILES", "HOOK", "REPLICA", "MISSING", "VIA"):
        scope = "project" if k == "DB_URL" else "environment" if k == "FILES" else "application"
        sid = {"project": p["id"], "environment": a["environment_id"], "application": a["id"]}[scope]
        assert c.delete("/env-vars/" + var_id(c, p["id"], scope, sid, k)).status == 204
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    assert c.get("/applications/%s/dependencies" % a["id"]).data["databases"] == []
