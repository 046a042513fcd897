"""Every mutation runs in the one transaction wrapper (fcgi/core/txn.c),
agent and public routes included: an answer that fails keeps nothing."""
import uuid

from lib import assert_error, psql
from test_applications import _app, _setup
from test_servers import Agent


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _deploy_with_env(marker):
    c, s, p = _setup()
    a = _app(c, p, env={"SECRET_TOKEN": marker})
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    job = _owner("SELECT id FROM jobs WHERE kind = 'app.deploy' AND payload->>'deployment_id' = '%s'"
                 % r.data["id"])[0]
    return c, s, r.data["id"], job


def test_claim_whose_payload_cannot_be_prepared_leaves_the_job_queued():
    # Two tenants' releases; the first one's env snapshot is replaced by the
    # second one's (sealed for another tenant: it does not open here).
    c, s, dep, job = _deploy_with_env("tok-" + uuid.uuid4().hex[:8])
    _, _, other_dep, _ = _deploy_with_env("tok-" + uuid.uuid4().hex[:8])
    mine = _owner("SELECT env_sealed FROM deployments WHERE id = '%s'" % dep)[0]
    _owner("UPDATE deployments SET env_sealed = (SELECT env_sealed FROM deployments WHERE id = '%s')"
           " WHERE id = '%s'" % (other_dep, dep))
    before = _owner("SELECT status || ':' || attempts FROM jobs WHERE id = '%s'" % job)
    assert before == ["queued:0"], before
    agent = Agent(c.tenant, s["agent_token"])
    assert_error(agent.call("POST", "/jobs/claim", {}), 500, "INTERNAL_ERROR")
    # Claim and payload fail together: the job was not taken.
    after = _owner("SELECT status || ':' || attempts || ':' || (lease_expires_at IS NULL)"
                   " FROM jobs WHERE id = '%s'" % job)
    assert after == ["queued:0:true"], after
    # Once the snapshot opens again, the same job is claimed with its env.
    _owner("UPDATE deployments SET env_sealed = '%s' WHERE id = '%s'" % (mine, dep))
    got = agent.claim()
    assert got is not None and got["id"] == job and "SECRET_TOKEN" in got["payload"]["env"], got
