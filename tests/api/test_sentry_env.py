"""SENTRY_DSN through the env store's resolver (API.md §17): with the project's
auto_error_tracking_enabled, an application's next release gets SENTRY_DSN
(its own DSN) and SENTRY_ENVIRONMENT (its environment's name) unless its
merged env sets them; ${sentry.<app>.dsn} references anywhere.  First
without an engine (the deploy job's env in the claim, a stand-in agent),
then end to end: the real agent and Podman, the container's own `env` read
through the edge."""
import secrets

from lib import assert_error, new_project, registered
from test_applications import _finish
from test_env_deploy import app_env, bulk, var_id
from test_deploy_e2e import World, _app as _e2e_app, _deploy, _have_fixtures
from test_servers import Agent, _server


def _dsns(c, project_id):
    """{application_id: dsn} and the project's DSN, from GET /projects/:id/error-tracking."""
    r = c.get("/projects/%s/error-tracking" % project_id)
    assert r.status == 200, r
    return {a["application_id"]: a["dsn"] for a in r.data["applications"]}, r.data["dsn"]


def _claimed_env(c, agent, app):
    """Deploys app, takes the deploy job as the agent would, completes it; the job's env."""
    r = c.post("/applications/%s/deploy" % app["id"], {})
    assert r.status == 201, r
    job = agent.claim()
    assert job and job["kind"] == "app.deploy" and job["payload"]["app_id"] == app["id"], job
    _finish(agent, job, image="registry.test/web:v1", image_id="sha256:" + "b" * 64,
            strategy="recreate", strategy_reason="test", instances=[])
    return job["payload"]["env"]


def test_the_deploy_job_carries_the_apps_dsn_only_with_the_flag():
    c, _ = registered("sen")
    s = _server(c, base_domain="apps.test")
    agent = Agent(c.tenant, s["agent_token"])
    p = new_project(c)
    assert p["auto_error_tracking_enabled"] is False, p

    def app(name, **kw):
        body = {"project_id": p["id"], "name": name, "source_type": "docker_image",
                "image_url": "registry.test/web:v1", "exposed_port": 8080}
        body.update(kw)
        r = c.post("/applications", body)
        assert r.status == 201, r
        return r.data
    web, own = app("web"), app("own", env={"SENTRY_DSN": "https://k@sentry.example.com/7"})
    env_name = [e["name"] for e in c.get("/projects/" + p["id"]).data["environments"]
                if e["id"] == web["environment_id"]][0]
    # Without the flag: nothing is added.
    env = _claimed_env(c, agent, web)
    assert "SENTRY_DSN" not in env and "SENTRY_ENVIRONMENT" not in env, env
    assert c.get("/applications/" + web["id"]).data["pending_deploy"] is False
    # Turning it on makes the project's applications pending.
    r = c.put("/projects/" + p["id"], {"auto_error_tracking_enabled": True})
    assert r.status == 200 and r.data["auto_error_tracking_enabled"] is True, r
    assert c.get("/applications/" + web["id"]).data["pending_deploy"] is True
    dsns, project_dsn = _dsns(c, p["id"])
    env = _claimed_env(c, agent, web)
    assert env["SENTRY_DSN"] == dsns[web["id"]] and env["SENTRY_DSN"] != project_dsn, (env, dsns)
    assert env["SENTRY_DSN"].endswith("/%s/%s" % (c.tenant, env["SENTRY_DSN"].rsplit("/", 1)[1]))
    assert env["SENTRY_ENVIRONMENT"] == env_name, env
    assert c.get("/applications/" + web["id"]).data["pending_deploy"] is False
    # An app that sets SENTRY_DSN keeps it (and still gets the environment).
    env = _claimed_env(c, agent, own)
    assert env["SENTRY_DSN"] == "https://k@sentry.example.com/7", env
    assert env["SENTRY_ENVIRONMENT"] == env_name, env
    # Set in a wider scope counts as set too; a reference to another app's DSN resolves.
    bulk(c, p["id"], "project", None, {"SENTRY_ENVIRONMENT": "prod-eu"})
    bulk(c, p["id"], "application", own["id"], {"WEB_DSN": "${sentry.web.dsn}",
                                                 "WEB_ENV": "${sentry.web.environment}"})
    env = _claimed_env(c, agent, own)
    assert env["SENTRY_ENVIRONMENT"] == "prod-eu" and env["WEB_DSN"] == dsns[web["id"]], env
    assert env["WEB_ENV"] == env_name, env
    # A sentry reference is no dependency to provision: the lists keep their shape.
    deps = c.get("/applications/%s/dependencies" % own["id"]).data
    assert deps == {"databases": [], "buckets": [], "functions": [], "volumes": [], "depends_on": []}, deps
    # An application that does not exist here is refused like any bad reference.
    bulk(c, p["id"], "application", own["id"], {"BAD": "${sentry.nope.dsn}", "BADPROP": "${sentry.web.key}"})
    r = c.post("/applications/%s/deploy" % own["id"], {})
    assert_error(r, 400, "BAD_REQUEST")
    got = sorted((d["field"], d["message"]) for d in r.error["details"])
    assert got == [("BAD", "${sentry.nope.dsn}: no application named nope in this environment"),
                   ("BADPROP", "${sentry.web.key}: unknown property key of an application "
                               "(one of dsn, environment)")], got
    for k in ("BAD", "BADPROP"):
        assert c.delete("/env-vars/" + var_id(c, p["id"], "application", own["id"], k)).status == 204
    # A rotated key is what the next release gets.
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rotate_key": True})
    assert r.status == 200, r
    assert c.get("/applications/" + web["id"]).data["pending_deploy"] is True
    dsns2, _ = _dsns(c, p["id"])
    assert dsns2[web["id"]] != dsns[web["id"]]
    assert _claimed_env(c, agent, web)["SENTRY_DSN"] == dsns2[web["id"]]
    # Off again: pending, and the next release has neither.
    assert c.put("/projects/" + p["id"], {"auto_error_tracking_enabled": False}).status == 200
    assert c.get("/applications/" + web["id"]).data["pending_deploy"] is True
    env = _claimed_env(c, agent, web)
    assert "SENTRY_DSN" not in env and env["SENTRY_ENVIRONMENT"] == "prod-eu", env
    # An explicit reference is the user's choice: it resolves with the flag off too.
    env = _claimed_env(c, agent, own)
    assert env["WEB_DSN"] == dsns2[web["id"]] and env["WEB_ENV"] == env_name, env


def test_a_real_container_sees_its_dsn_only_in_a_tracked_project():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through make test")
    w = World.get()
    tracked = w.project
    r = w.c.put("/projects/" + tracked["id"], {"auto_error_tracking_enabled": True})
    assert r.status == 200, r
    untracked = new_project(w.c)
    a = _e2e_app(w, name="sen" + secrets.token_hex(4))
    b = _e2e_app(w, name="own" + secrets.token_hex(4), env={"SENTRY_DSN": "https://mine@errors.example.com/3"})
    u = _e2e_app(w, name="off" + secrets.token_hex(4), project_id=untracked["id"])
    for app in (a, b, u):
        _deploy(w, app)
    dsns, _ = _dsns(w.c, tracked["id"])
    env_a, env_b, env_u = app_env(a["hostname"]), app_env(b["hostname"]), app_env(u["hostname"])
    env_name = [e["name"] for e in w.c.get("/projects/" + tracked["id"]).data["environments"]
                if e["id"] == a["environment_id"]][0]
    assert env_a.get("SENTRY_DSN") == dsns[a["id"]], env_a
    assert env_a.get("SENTRY_ENVIRONMENT") == env_name, env_a
    assert env_b.get("SENTRY_DSN") == "https://mine@errors.example.com/3", env_b
    assert "SENTRY_DSN" not in env_u and "SENTRY_ENVIRONMENT" not in env_u, env_u
