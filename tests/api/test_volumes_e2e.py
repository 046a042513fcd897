"""Volumes end to end: the real plane, the real launcher-agent and the
stack's Podman.  A file in a volume outlives every change of the
containers; used_bytes follows what is written; an app with a volume
deploys with strategy recreate; the agent removes only engine volumes that
carry launcher's labels."""
import uuid

from lib import psql
from test_agent_e2e import _wait
from test_deploy_e2e import World as DeployWorld
from test_deploy_e2e import (F, EdgeAgent, _app, _deploy, _finished, _have_fixtures, _serves,
                             app_containers, engine, exec_result)

MB = 1 << 20


class VolumeAgent(EdgeAgent):
    """The deploy tests' agent, reporting volume sizes every second."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        self.args += ["--volumes-interval", "1"]


class World(DeployWorld):
    """The deploy tests' world (a tenant, a server, a project) with that agent."""
    _w = None
    agent_class = VolumeAgent


def _vol(w, **body):
    body.setdefault("project_id", w.project["id"])
    body.setdefault("name", "v" + uuid.uuid4().hex[:8])
    r = w.c.post("/volumes", body)
    assert r.status == 201, r
    return r.data


def _cat(w, app_id):
    return exec_result(w.c, app_id, ["cat", "/data/keep.txt"])["output"]


def _settled(w, app_id):
    _wait("no pending action", lambda: w.c.get("/applications/" + app_id).data["pending_action"] is None, 90)


def _remove_job(volume_id):
    rows = psql("SELECT id FROM jobs WHERE kind = 'volume.remove' AND payload->>'volume_id' = '%s'"
                % volume_id, user="launcher_owner")
    assert len(rows) == 1, rows
    return rows[0]


def _job_state(job_id):
    return psql("SELECT status || ' ' || coalesce(result->>'removed', '-') FROM jobs WHERE id = '%s'"
                % job_id, user="launcher_owner")[0]


def test_a_file_in_a_volume_outlives_redeploy_restart_rollback_and_scale_and_is_measured():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through make test")
    w = World.get()
    v = _vol(w, name="data", size_limit=50 * MB)
    a = _app(w, volumes=[{"volume_id": v["id"], "mount_path": "/data"}])
    d1 = _deploy(w, a)
    assert d1["strategy"] == "recreate" and "volume" in d1["strategy_reason"], d1
    assert "one release at a time" in d1["strategy_reason"], d1
    # The engine volume: named from the id, with our labels, mounted by name.
    name = "lnchr-vol-" + v["id"]
    st, ev = engine("GET", "/volumes/" + name)
    assert st == 200 and ev["Labels"]["launcher.volume"] == v["id"], ev
    assert ev["Labels"]["launcher.managed"] == "1" and ev["Labels"]["launcher.tenant"] == w.c.tid, ev
    cs = app_containers(a["id"])
    st, info = engine("GET", "/containers/%s/json" % cs[0]["Id"])
    mounts = [(m.get("Type"), m.get("Name"), m.get("Destination")) for m in info["Mounts"]]
    assert ("volume", name, "/data") in mounts, info["Mounts"]
    got = w.c.get("/volumes/" + v["id"]).data
    assert got["status"] == "ready", got
    # ext4 and friends cannot hold a size: the volume says so (XFS with quotas could).
    assert got["warning"] is None or "size_limit is not enforced" in got["warning"], got
    _wait("a first measurement", lambda: w.c.get("/volumes/" + v["id"]).data["used_at"] is not None, 30)
    before = w.c.get("/volumes/" + v["id"]).data["used_bytes"]
    assert before < 10 * MB, before
    r = exec_result(w.c, a["id"], ["sh", "-c", "echo keep-me > /data/keep.txt && "
                                   "dd if=/dev/zero of=/data/blob bs=1048576 count=10 2>/dev/null && sync"])
    assert r["exit_code"] == 0, r
    _wait("used_bytes to grow by 10 MB", lambda: w.c.get("/volumes/" + v["id"]).data["used_bytes"]
          >= before + 10 * MB, 30)
    # A redeploy (another image): recreate, the old container stopped before the new one started.
    d2 = _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_V2"]})
    _serves(a["hostname"], "v2")
    assert d2["strategy"] == "recreate", d2
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % d2["id"]).data]
    stop = [i for i, m in enumerate(logs) if "before the new ones start" in m]
    start = [i for i, m in enumerate(logs) if m.startswith("starting container")]
    assert stop and start and stop[0] < start[0], logs
    assert _cat(w, a["id"]) == "keep-me\n"
    # A restart.
    assert w.c.post("/applications/%s/restart" % a["id"]).status == 200
    _settled(w, a["id"])
    assert _cat(w, a["id"]) == "keep-me\n"
    # A rollback to the first release.
    r = w.c.post("/applications/%s/rollback" % a["id"], {})
    assert r.status == 201, r
    d3 = _finished(w, r.data["id"])
    assert d3["status"] == "succeeded" and d3["strategy"] == "recreate", d3
    _serves(a["hostname"], "v1")
    assert _cat(w, a["id"]) == "keep-me\n"
    # Scale to 0 and back.
    for n in (0, 1):
        assert w.c.post("/applications/%s/scale" % a["id"], {"replicas": n}).status == 200
        _settled(w, a["id"])
        assert len(app_containers(a["id"], all_=False)) == n
    assert _cat(w, a["id"]) == "keep-me\n"
    # A release that never becomes healthy: recreate stopped the old one first,
    # so it is started again and serves (after a gap), with the same volume.
    bad = _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_BROKEN"]}, want="failed")
    assert "health" in bad["error"].lower(), bad
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % bad["id"]).data]
    assert any("started old container" in m for m in logs), logs
    _serves(a["hostname"], "v1")
    assert _cat(w, a["id"]) == "keep-me\n"
    # Deleting the app keeps the volume and its engine volume; then the volume goes.
    assert w.c.delete("/applications/" + a["id"]).status == 204
    _wait("containers removed", lambda: app_containers(a["id"]) == [], 60)
    assert w.c.get("/volumes/" + v["id"]).data["mounts"] == []
    assert engine("GET", "/volumes/" + name)[0] == 200
    assert w.c.delete("/volumes/" + v["id"]).status == 204
    job = _remove_job(v["id"])
    _wait("the engine volume removed", lambda: _job_state(job) == "succeeded true", 90)
    assert engine("GET", "/volumes/" + name)[0] == 404


def test_an_engine_volume_without_our_labels_is_never_mounted_nor_removed():
    w = World.get()
    v = _vol(w, name="squatted")
    name = "lnchr-vol-" + v["id"]
    st, out = engine("POST", "/volumes/create", {"Name": name, "Labels": {"someone": "else"}})
    assert st == 201, out
    try:
        a = _app(w, volumes=[{"name": "squatted", "mount_path": "/data"}])
        d = _deploy(w, a, want="failed")
        assert name in d["error"] and "labels" in d["error"], d
        assert app_containers(a["id"]) == []
        assert w.c.delete("/applications/" + a["id"]).status == 204
        assert w.c.delete("/volumes/" + v["id"]).status == 204
        job = _remove_job(v["id"])
        _wait("the removal job done", lambda: _job_state(job).startswith("succeeded"), 90)
        assert _job_state(job) == "succeeded false"
        st, ev = engine("GET", "/volumes/" + name)
        assert st == 200 and ev["Labels"] == {"someone": "else"}, ev
    finally:
        engine("DELETE", "/volumes/" + name)
