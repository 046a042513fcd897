"""launcher-ws through nginx (wss://, the stack's CA) with a real WebSocket
client (Debian's python3-websockets): the agent's wake-up channel and the
daemon's refusals."""
import asyncio
import http.client
import os
import ssl
import time

import websockets

from lib import HTTPS_PORT, STATE, new_tenant, psql, registered
from test_servers import _enqueue, _server

CA = os.path.join(STATE, "tls", "cert.pem")


def _tls():
    ctx = ssl.create_default_context(cafile=CA)
    return ctx


def _url(tenant):
    return "wss://localhost:%d/%s/ws/agent" % (HTTPS_PORT, tenant)


async def _messages(tenant, token, action, listen=3.0):
    """Opens the channel, runs action(), returns what arrived within listen s."""
    got = []
    async with websockets.connect(_url(tenant), ssl=_tls(),
                                  extra_headers={"x-lnchr-agent-token": token}) as ws:
        await asyncio.sleep(0.3)    # the daemon has the session before the job lands
        await asyncio.get_running_loop().run_in_executor(None, action)
        deadline = time.time() + listen
        while time.time() < deadline:
            try:
                got.append(await asyncio.wait_for(ws.recv(), deadline - time.time()))
            except asyncio.TimeoutError:
                break
    return got


def _status(tenant, headers, path=None):
    """Status and body of a handshake (or plain GET) through nginx."""
    c = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=_tls(), timeout=10)
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    h.update(headers)
    c.request("GET", path or "/%s/ws/agent" % tenant, headers=h)
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, body


def test_agent_channel_is_woken_by_its_own_jobs_only():
    c, _ = registered()
    a, b = _server(c), _server(c)
    tid = psql("SELECT id FROM tenants WHERE slug = '%s'" % c.tenant, user="launcher_owner")[0]
    # A job of another server: nothing on this channel.
    got = asyncio.run(_messages(c.tenant, a["agent_token"], lambda: _enqueue(b["id"], tid), 1.5))
    assert got == [], got
    # A job of this server: "wake", once per notification.
    got = asyncio.run(_messages(c.tenant, a["agent_token"], lambda: _enqueue(a["id"], tid)))
    assert got == ["wake"], got
    # Cancelling it wakes the agent as well (it renews its lease and learns).
    jid = psql("SELECT id FROM jobs WHERE server_id = '%s' AND status = 'queued'" % a["id"],
               user="launcher_owner")[0]
    got = asyncio.run(_messages(c.tenant, a["agent_token"],
                                lambda: psql("SELECT job_cancel('%s')" % jid, user="launcher_owner")))
    assert got == ["wake"], got


def test_agent_channel_refusals_in_the_envelope():
    c, _ = registered()
    s = _server(c)
    tok = {"x-lnchr-agent-token": s["agent_token"]}
    st, body = _status(c.tenant, {})
    assert st == 401 and '"code":"UNAUTHORIZED"' in body, (st, body)
    st, body = _status(c.tenant, {"x-lnchr-agent-token": "lnchr_at_" + "x" * 40})
    assert st == 401 and "invalid agent token" in body, (st, body)
    # The token of this tenant's server is nothing at another tenant's URL.
    other, _ = new_tenant("ws")
    st, body = _status(other, tok)
    assert st == 401, (st, body)
    st, body = _status("no-such-tenant", tok)
    assert st == 401, (st, body)
    st, body = _status(c.tenant, tok, "/%s/ws/nothing-here" % c.tenant)
    assert st == 404 and '"code":"NOT_FOUND"' in body, (st, body)
    # Without the upgrade headers.
    conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=_tls(), timeout=10)
    conn.request("GET", "/%s/ws/agent" % c.tenant, headers=tok)
    r = conn.getresponse()
    assert r.status == 400 and b"WebSocket only" in r.read()
    conn.close()
    # A revoked token (the server deleted) is refused on the next handshake.
    st, _ = _status(c.tenant, tok)
    assert st == 101
    assert c.delete("/servers/" + s["id"]).status == 204
    st, body = _status(c.tenant, tok)
    assert st == 401, (st, body)


def test_daemon_recovers_when_the_database_returns_to_it():
    """The LISTEN connection is the daemon's own: killing its backend must
    not lose later wake-ups (it reconnects and wakes everyone once)."""
    c, _ = registered()
    a = _server(c)
    tid = psql("SELECT id FROM tenants WHERE slug = '%s'" % c.tenant, user="launcher_owner")[0]

    async def run():
        got = []
        async with websockets.connect(_url(c.tenant), ssl=_tls(),
                                      extra_headers={"x-lnchr-agent-token": a["agent_token"]}) as ws:
            await asyncio.sleep(0.3)
            # (the API role may end its own role's backends)
            killed = psql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                          " FROM pg_stat_activity WHERE query = 'LISTEN launcher_agent_wake'")
            assert killed == ["1"], killed
            # Reconnected: the "wake everyone" after the reconnection, then ours.
            got.append(await asyncio.wait_for(ws.recv(), 10))
            await asyncio.sleep(0.5)
            await asyncio.get_running_loop().run_in_executor(None, lambda: _enqueue(a["id"], tid))
            got.append(await asyncio.wait_for(ws.recv(), 10))
        return got
    assert asyncio.run(run()) == ["wake", "wake"]
