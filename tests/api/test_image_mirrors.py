"""The site's image mirror table (launcher.conf image_mirrors_file, core/imagemap.h):
the job an agent claims pulls the replacement, while the application, its
deployment and the stored job keep the image as written; a bad table is refused
at reload with file:line and the running table stays."""
import os
import signal
import time
import uuid

from lib import STATE, image_mirrors
from test_applications import _app, _finish, _setup, _sql
from test_servers import Agent

MIRRORS = os.environ.get("LAUNCHER_IMAGE_MIRRORS") or os.path.join(STATE, "image-mirrors.conf")


def test_the_claimed_job_pulls_the_mirror_the_app_keeps_its_image():
    c, s, p = _setup()
    src = "registry.test/mirrored-%s:v1" % uuid.uuid4().hex[:6]
    dst = "mirror.test:5000/library/" + src.split("/", 1)[1]
    image_mirrors({src: dst})
    a = _app(c, p, image_url=src)
    other = _app(c, p, image_url="registry.test/unmapped:v1")
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    assert d["image"] == src, d
    stored = _sql("SELECT payload->'source'->>'image' FROM jobs WHERE kind = 'app.deploy'"
                  " AND payload->>'deployment_id' = '%s'" % d["id"])
    assert stored == src, stored
    agent = Agent(c.tenant, s["agent_token"])
    job = agent.claim()
    assert job["payload"]["deployment_id"] == d["id"], job
    assert job["payload"]["source"] == {"type": "docker_image", "image": dst}, job["payload"]["source"]
    assert c.get("/applications/" + a["id"]).data["image_url"] == src
    # What ran is recorded (the agent's result), the application is unchanged.
    _finish(agent, job, image=dst, image_id="sha256:" + "b" * 64)
    assert c.get("/deployments/" + d["id"]).data["image"] == dst
    assert c.get("/applications/" + a["id"]).data["image_url"] == src
    # An image the table does not list is pulled as written.
    c.post("/applications/%s/deploy" % other["id"], {})
    job = agent.claim()
    assert job["payload"]["source"]["image"] == "registry.test/unmapped:v1", job["payload"]


def test_a_bad_table_is_refused_at_reload_with_file_and_line():
    c, s, p = _setup()
    src = "registry.test/kept-%s:v1" % uuid.uuid4().hex[:6]
    image_mirrors({src: "mirror.test/kept:v1"})
    with open(MIRRORS) as f:
        good = f.read()
    log = os.path.join(STATE, "log", "fcgi.log")
    start = os.path.getsize(log)
    with open(MIRRORS, "w") as f:
        f.write(good + "# a comment\nonly-one-column:1\n")
    bad_line = good.count("\n") + 2
    try:
        with open(os.path.join(STATE, "run", "fcgi.state")) as f:
            os.kill(int(f.read().split("\n")[0]), signal.SIGHUP)
        deadline = time.time() + 15
        while True:
            with open(log) as f:
                f.seek(start)
                text = f.read()
            if "reload refused" in text:
                break
            assert time.time() < deadline, text
            time.sleep(0.05)
        assert "%s:%d: expected two columns" % (MIRRORS, bad_line) in text, text
        # The running table stays.
        a = _app(c, p, image_url=src)
        c.post("/applications/%s/deploy" % a["id"], {})
        job = Agent(c.tenant, s["agent_token"]).claim()
        assert job["payload"]["source"]["image"] == "mirror.test/kept:v1", job["payload"]
    finally:
        with open(MIRRORS, "w") as f:
            f.write(good)
        image_mirrors({})
