"""The MCP endpoint (API.md §23, README "MCP endpoint"): the tool table against
the OpenAPI document, the protocol over raw HTTP, and the official TypeScript
SDK client (@modelcontextprotocol/sdk, unmodified: tests/lib/mcp_client.mjs)
deploying an application through the real agent and Podman, reading its logs
as tools and as resources, refused a destructive call without confirm and a
write tool with a read-only key, kept inside its project by a project-bound
key, shown env keys but not values without the admin scope, and given the
prompts."""
import json
import os
import subprocess
import uuid

from lib import BIN, REPO, STATE, make_key, new_project, request
from test_agent_e2e import _wait
from test_deploy_e2e import F, World, _app, _have_fixtures, edge_get, wait_removal_job

DEPLOY_TIMEOUT = 120
NODE_CLIENT = os.path.join(REPO, "tests", "lib", "mcp_client.mjs")


# ------------------------------------------------------------ the tool table

def _resolve(doc, o):
    while isinstance(o, dict) and "$ref" in o:
        x = doc
        for part in o["$ref"].split("/")[1:]:
            x = x[part]
        o = x
    return o


def _body_fields(doc, schema):
    schema = _resolve(doc, schema)
    out = set((schema or {}).get("properties", {}))
    for k in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(k, []):
            out |= _body_fields(doc, sub)
    return out


def test_every_tool_maps_onto_a_documented_route_and_its_parameters():
    """launcher-fcgi --mcp-tools: each tool's method and route (and the values
    route of list_env_vars) is an operation of static/openapi.json, each input
    property goes to a documented path or query parameter or body field of it,
    the required ones are required there too where the API requires them, and
    the destructive tools are exactly stop and delete (plus their confirm)."""
    out = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "--mcp-tools"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tools = json.loads(out.stdout)
    with open(os.path.join(REPO, "static", "openapi.json")) as f:
        doc = json.load(f)
    names = {t["name"] for t in tools}
    for want in ("list_projects", "get_project", "list_applications", "get_application",
                 "create_application", "deploy_application", "restart_application",
                 "scale_application", "rollback_application", "stop_application",
                 "delete_application", "list_deployments", "get_deployment",
                 "get_deployment_logs", "get_runtime_logs", "list_databases", "get_database",
                 "list_env_vars", "set_env_vars", "list_domains", "add_domain", "list_servers",
                 "get_server_status", "list_issues", "get_issue", "search", "exec_command"):
        assert want in names, want
    assert len(names) == len(tools), "a tool name twice"
    assert {t["name"] for t in tools if t["destructive"]} == {"stop_application", "delete_application"}
    problems = []
    for t in tools:
        assert t["routed"] and t["scopes"], t
        schema = t["inputSchema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False, t
        props = set(schema["properties"])
        control = {"confirm"} if t["destructive"] else set()
        assert props == {a["prop"] for a in t["args"]} | control, t["name"]
        if t["destructive"]:
            assert "confirm" in schema["required"], t["name"]
        for route in [t["route"]] + ([t["values_route"]] if t.get("values_route") else []):
            path = "/{tenant}/api/v1" + "/".join("{%s}" % s[1:] if s.startswith(":") else s
                                                 for s in route.split("/"))
            op = doc["paths"].get(path, {}).get(t["method"].lower())
            if op is None:
                problems.append("%s: %s %s is not documented" % (t["name"], t["method"], path))
                continue
            params = {(p["in"], p["name"]): p for p in (_resolve(doc, x) for x in op.get("parameters", []))}
            body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
            fields = _body_fields(doc, body["schema"]) if body else set()
            for a in t["args"]:
                where = "%s %s of %s %s" % (a["in"], a["name"], t["method"], path)
                if a["in"] in ("path", "query"):
                    if (a["in"], a["name"]) not in params:
                        problems.append("%s: %s is not a documented parameter" % (t["name"], where))
                elif a["name"] not in fields:
                    problems.append("%s: %s is not a documented body field" % (t["name"], where))
                if a["in"] == "path":
                    assert a["required"], where
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------ raw HTTP

def _rpc(tenant, body, headers=None, raw=None, method="POST"):
    h = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    h.update(headers or {})
    return request(method, "/%s/mcp" % tenant, body, h, raw=raw)


def test_the_protocol_over_raw_http():
    w = World.get()
    key = make_key(w.c)["key"]
    auth = {"x-lnchr-key": key}
    t = w.c.tenant
    # No credentials: 401 before anything is read, as on the REST API.
    r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status == 401 and r.error["code"] == "UNAUTHORIZED", r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"x-lnchr-key": "lnchr_sk_" + "x" * 43})
    assert r.status == 401, r
    # No server-initiated stream, no session to end.
    for m in ("GET", "DELETE"):
        r = _rpc(t, None, auth, method=m)
        assert r.status == 405 and r.headers.get("allow") == "POST", (m, r)
    # The generic API location does not reach it: one public URL.
    r = request("POST", "/%s/api/v1/mcp" % t, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, auth)
    assert r.status == 404, r
    # initialize: the client's version when spoken, else the newest.
    r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}, auth)
    assert r.status == 200 and r.headers["content-type"] == "application/json", r
    assert r.json["id"] == 1 and r.json["result"]["protocolVersion"] == "2025-06-18", r
    assert set(r.json["result"]["capabilities"]) == {"tools", "resources", "prompts"}, r
    assert "mcp-session-id" not in r.headers, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": "a", "method": "initialize", "params": {"protocolVersion": "1999-01-01"}}, auth)
    assert r.json["id"] == "a" and r.json["result"]["protocolVersion"] == "2025-11-25", r
    # A notification: 202 without a body.
    r = _rpc(t, {"jsonrpc": "2.0", "method": "notifications/initialized"}, auth)
    assert r.status == 202 and r.raw == b"", r
    # Parse error, invalid request, unknown method, invalid params.
    r = _rpc(t, None, auth, raw=b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert r.status == 400 and r.json["error"]["code"] == -32700 and r.json["id"] is None, r
    r = _rpc(t, {"id": 1, "method": "ping"}, auth)
    assert r.status == 400 and r.json["error"]["code"] == -32600, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": None, "method": "ping"}, auth)
    assert r.status == 400 and r.json["error"]["code"] == -32600, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 7, "method": "tools/destroy"}, auth)
    assert r.status == 200 and r.json["id"] == 7 and r.json["error"]["code"] == -32601, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "no_such_tool"}}, auth)
    assert r.json["error"]["code"] == -32602, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": []}, auth)
    assert r.json["error"]["code"] == -32602, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 10, "method": "resources/read",
                 "params": {"uri": "launcher://deployments/%s/logs" % uuid.uuid4()}}, auth)
    assert r.json["error"]["code"] == -32002, r
    r = _rpc(t, None, dict(auth, **{"Content-Type": "text/plain"}), raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
    assert r.status == 415, r
    # A version it does not speak: 400 whatever the message.
    for v in ("2099-01-01", "not-a-version"):
        r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, dict(auth, **{"MCP-Protocol-Version": v}))
        assert r.status == 400 and r.json["error"]["code"] == -32600 and v in r.json["error"]["message"], r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, dict(auth, **{"MCP-Protocol-Version": "2025-11-25"}))
    assert r.status == 200 and r.json["result"] == {}, r
    # Batches: only in 2025-03-26 (also the version of a request without
    # the header); notifications get no answer in them.
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_projects"}},
             {"jsonrpc": "2.0", "id": 3, "method": "nope"}, 5]
    for hv in (None, "2025-03-26"):
        r = _rpc(t, batch, auth if hv is None else dict(auth, **{"MCP-Protocol-Version": hv}))
        assert r.status == 200 and isinstance(r.json, list), r
        by_id = {m["id"]: m for m in r.json}
        assert set(by_id) == {1, 2, 3, None}, r
        assert by_id[1]["result"] == {} and by_id[3]["error"]["code"] == -32601, r
        assert by_id[None]["error"]["code"] == -32600, r
        projects = by_id[2]["result"]["structuredContent"]["data"]
        assert w.project["id"] in [p["id"] for p in projects], r
    r = _rpc(t, batch, dict(auth, **{"MCP-Protocol-Version": "2025-06-18"}))
    assert r.status == 400 and r.json["error"]["code"] == -32600, r
    r = _rpc(t, [], auth)
    assert r.status == 400 and r.json["error"]["code"] == -32600, r
    r = _rpc(t, [{"jsonrpc": "2.0", "method": "notifications/initialized"}], auth)
    assert r.status == 202 and r.raw == b"", r
    # A tool call runs as the REST call would, audited as it: the deploy
    # of an unknown application is the API's 404, carried as a tool error.
    r = _rpc(t, {"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {
        "name": "deploy_application", "arguments": {"application_id": str(uuid.uuid4())}}}, auth)
    res = r.json["result"]
    assert res["isError"] is True and res["structuredContent"]["error"]["code"] == "NOT_FOUND", r
    assert res["content"][0]["type"] == "text" and res["content"][0]["text"].startswith("NOT_FOUND: "), r
    # Query arguments are encoded: nothing in a value becomes another parameter.
    r = _rpc(t, {"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {
        "name": "search", "arguments": {"q": "x&limit=999 %zz", "limit": 5}}}, auth)
    assert r.json["result"]["isError"] is False and r.json["result"]["structuredContent"]["data"] == [], r
    # Arguments are checked against the table: unknown and missing ones named.
    r = _rpc(t, {"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {
        "name": "scale_application", "arguments": {"application_id": "x/../../projects", "bogus": 1}}}, auth)
    err = r.json["result"]["structuredContent"]["error"]
    assert r.json["result"]["isError"] and err["code"] == "BAD_REQUEST", r
    assert {(d["field"], d["message"]) for d in err["details"]} == {
        ("bogus", "unknown argument"), ("application_id", "must be an id (a UUID)"), ("replicas", "is required")}, err


def test_any_key_scope_connects_and_each_tool_checks_its_own():
    """A deploy-only key initializes and lists the tools (the MCP route asks
    for no scope); a read tool is then the API's 403, as a tool error."""
    w = World.get()
    auth = {"x-lnchr-key": make_key(w.c, scopes=["deploy"])["key"]}
    t = w.c.tenant
    r = _rpc(t, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}, auth)
    assert r.status == 200 and r.json["result"]["protocolVersion"] == "2025-06-18", r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, auth)
    assert r.status == 200 and len(r.json["result"]["tools"]) > 20, r
    r = _rpc(t, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_projects"}}, auth)
    res = r.json["result"]
    assert res["isError"] is True and res["structuredContent"]["status"] == 403, r
    assert res["structuredContent"]["error"]["code"] == "FORBIDDEN", r


def test_id_arguments_must_be_uuids():
    """An id argument that is not a UUID is refused before any call,
    naming the argument (not the route's :id)."""
    w = World.get()
    auth = {"x-lnchr-key": make_key(w.c)["key"]}
    for bad in ("nope", "..", "%s%%2f" % uuid.uuid4(), " "):
        r = _rpc(w.c.tenant, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "get_application", "arguments": {"application_id": bad}}}, auth)
        err = r.json["result"]["structuredContent"]["error"]
        assert r.json["result"]["isError"] and err["code"] == "BAD_REQUEST", (bad, r)
        assert err["details"] == [{"field": "application_id", "message": "must be an id (a UUID)"}], (bad, r)


# ------------------------------------------------------------ the SDK client

class Mcp:
    """The SDK client (tests/lib/mcp_client.mjs) connected with these headers."""

    def __init__(self, tenant, headers):
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=os.path.join(STATE, "tls", "cert.pem"))
        cfg = {"url": "https://localhost:%s/%s/mcp" % (os.environ["LAUNCHER_HTTPS_PORT"], tenant),
               "headers": headers}
        self.p = subprocess.Popen(["node", NODE_CLIENT, json.dumps(cfg)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        self.hello = json.loads(self.p.stdout.readline())

    def __call__(self, op, **kw):
        self.p.stdin.write(json.dumps(dict(kw, op=op)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "the MCP client ended"
        return json.loads(line)

    def ok(self, op, **kw):
        r = self(op, **kw)
        assert r["ok"], (op, kw, r)
        return r["result"]

    def tool(self, tool_name, **args):
        return self.ok("callTool", name=tool_name, arguments=args)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def _data(res):
    assert res.get("isError") is False, res
    return res["structuredContent"]["data"]


def test_the_sdk_client_deploys_reads_logs_and_is_held_to_the_keys_rights():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through make test")
    w = World.get()
    t = w.c.tenant
    key = make_key(w.c)  # read, write, deploy
    m = Mcp(t, {"x-lnchr-key": key["key"]})
    clients = [m]
    try:
        assert m.hello["event"] == "connected", m.hello
        assert m.hello["server"]["name"] == "launcher" and m.hello["protocol"] == "2025-11-25", m.hello
        assert m.hello["session"] is None, m.hello
        tools = {x["name"]: x for x in m.ok("listTools")["tools"]}
        assert tools["stop_application"]["annotations"]["destructiveHint"] is True, tools["stop_application"]
        assert tools["list_projects"]["annotations"]["readOnlyHint"] is True
        assert "confirm" in tools["delete_application"]["inputSchema"]["required"]

        # Create and deploy through tools; wait with get_deployment.
        secret_value = "value-" + uuid.uuid4().hex
        name = "m" + uuid.uuid4().hex[:8]
        app = _data(m.tool("create_application", project_id=w.project["id"], name=name,
                           source_type="docker_image", image_url=F["FIXTURE_REGISTRY_WEB_V1"],
                           exposed_port=8080, healthcheck_path="/health", healthcheck_timeout_seconds=20,
                           env={"APP_MESSAGE": secret_value}))
        assert app["name"] == name and app["status"] == "created", app
        dep = _data(m.tool("deploy_application", application_id=app["id"]))
        assert dep["application_id"] == app["id"], dep

        def finished():
            d = _data(m.tool("get_deployment", deployment_id=dep["id"]))
            return d if d["status"] in ("succeeded", "failed", "cancelled", "superseded") else None
        d = _wait("the deployment to finish", finished, DEPLOY_TIMEOUT)
        logs = _data(m.tool("get_deployment_logs", deployment_id=dep["id"]))
        assert d["status"] == "succeeded", (d, logs[-20:])
        assert any("pull" in x["message"].lower() for x in logs), logs
        # The audit log records the calls as the key's, as REST calls do.
        audit = w.c.get("/audit-log?actorId=%s" % key["id"]).data
        assert {"application.create", "application.deploy"} <= {a["action"] for a in audit}, audit

        # Runtime logs: the app logs the requests it serves.
        _wait("the app to answer", lambda: edge_get(app["hostname"], "/cgi-bin/message")[0] == 200, 30)
        _wait("runtime logs", lambda: any("/cgi-bin/message" in x["message"] for x in _data(
            m.tool("get_runtime_logs", application_id=app["id"], q="message"))), 30)

        # The same logs as resources.
        tpls = [x["uriTemplate"] for x in m.ok("listResourceTemplates")["resourceTemplates"]]
        assert tpls == ["launcher://deployments/{id}/logs", "launcher://applications/{id}/runtime-logs"], tpls
        uris = [x["uri"] for x in m.ok("listResources")["resources"]]
        dep_uri = "launcher://deployments/%s/logs" % dep["id"]
        rt_uri = "launcher://applications/%s/runtime-logs" % app["id"]
        assert dep_uri in uris and rt_uri in uris, uris
        text = m.ok("readResource", uri=dep_uri)["contents"][0]["text"]
        assert "pull" in text.lower(), text
        text = m.ok("readResource", uri=rt_uri)["contents"][0]["text"]
        assert "/cgi-bin/message" in text, text
        r = m("readResource", uri="launcher://applications/%s/runtime-logs" % uuid.uuid4())
        assert not r["ok"] and r["error"]["code"] == -32002, r

        # Destructive without confirm: refused, nothing done.
        for tool in ("stop_application", "delete_application"):
            res = m.tool(tool, application_id=app["id"])
            assert res["isError"] and res["structuredContent"]["error"]["code"] == "CONFIRMATION_REQUIRED", res
            assert "confirm" in res["content"][0]["text"], res
        a = w.c.get("/applications/" + app["id"])
        assert a.status == 200 and a.data["status"] == "running" and a.data["pending_action"] is None, a

        # Env: keys without the admin scope, values with it; set_env_vars
        # echoes no value.
        scope = {"project_id": w.project["id"], "scope": "application", "scope_id": app["id"]}
        res = m.tool("list_env_vars", **scope)
        assert [v["key"] for v in _data(res)] == ["APP_MESSAGE"], res
        assert secret_value not in json.dumps(res), res
        other = "other-" + uuid.uuid4().hex
        res = m.tool("set_env_vars", variables={"OTHER": other}, **scope)
        assert _data(res)["created"] == ["OTHER"] and other not in json.dumps(res), res
        admin = Mcp(t, {"x-lnchr-key": make_key(w.c, scopes=["read", "write", "deploy", "admin"])["key"]})
        clients.append(admin)
        vals = _data(admin.tool("list_env_vars", **scope))
        assert vals == {"APP_MESSAGE": secret_value, "OTHER": other}, vals

        # exec: a job to poll with get_job.
        job = _data(m.tool("exec_command", application_id=app["id"], command=["echo", "from-mcp"]))["job"]
        j = _wait("the exec job", lambda: (lambda x: x if x["status"] in ("succeeded", "failed") else None)(
            _data(m.tool("get_job", job_id=job["id"]))), DEPLOY_TIMEOUT)
        assert j["status"] == "succeeded" and "from-mcp" in j["result"]["output"], j

        # Prompts: the configuration, logs and events assembled.
        names = [p["name"] for p in m.ok("listPrompts")["prompts"]]
        assert names == ["troubleshoot_application", "explain_failed_deployment"], names
        p = m.ok("getPrompt", name="troubleshoot_application", arguments={"application_id": app["id"]})
        text = p["messages"][0]["content"]["text"]
        assert p["messages"][0]["role"] == "user" and name in text, text
        for part in ("## Configuration", "## Instances", "## Latest deployment log", "## Runtime logs",
                     "/cgi-bin/message", "## Events", "## Open issues"):
            assert part in text, (part, text)
        assert secret_value not in text, text
        p = m.ok("getPrompt", name="explain_failed_deployment", arguments={"deployment_id": dep["id"]})
        text = p["messages"][0]["content"]["text"]
        assert dep["id"] in text and "not failed" in text and "## Deployment log" in text, text
        # A deployment that fails (an image no registry serves): its error
        # and its log are in the prompt; the old release keeps running.
        bad = _data(m.tool("deploy_application", application_id=app["id"],
                           image_url="127.0.0.1:9/launcher-test/none:v1"))
        dep_bad = _wait("the bad deployment to fail", lambda: (lambda x: x if x["status"] == "failed" else None)(
            _data(m.tool("get_deployment", deployment_id=bad["id"]))), DEPLOY_TIMEOUT)
        p = m.ok("getPrompt", name="explain_failed_deployment", arguments={"deployment_id": bad["id"]})
        text = p["messages"][0]["content"]["text"]
        shown = json.loads(text.split("## Deployment\n```json\n")[1].split("\n```")[0])
        assert "not failed" not in text and shown["error"] == dep_bad["error"] and shown["error"], text
        assert "127.0.0.1:9/launcher-test/none:v1" in text.split("## Deployment log")[1], text
        r = m("getPrompt", name="troubleshoot_application", arguments={"application_id": str(uuid.uuid4())})
        assert not r["ok"] and r["error"]["code"] == -32602, r

        # A log read through REST, a tool or a prompt can be its newest
        # lines only: ?tail= (validated), which prompts and resources use.
        dep_logs = w.c.get("/deployments/%s/logs" % dep["id"]).data
        assert len(dep_logs) >= 3, dep_logs
        for route in ("/deployments/%s/logs?" % dep["id"],
                      "/applications/%s/build-logs?deploymentId=%s&" % (app["id"], dep["id"])):
            r = w.c.get(route + "tail=2")
            assert r.status == 200 and r.data == dep_logs[-2:], (route, r)
            for v in ("0", "10001", "x", ""):
                r = w.c.get(route + "tail=" + v)
                assert r.status == 400 and r.error["details"][0]["field"] == "tail", (route, v, r)
        assert _data(m.tool("get_deployment_logs", deployment_id=dep["id"], tail=1)) == dep_logs[-1:]

        # One MCP request has a budget of API calls: a batch of prompts
        # (each several calls) gets its first answers, then -32603 for the
        # rest, and a tool call past it the API's 429 as a tool error.
        batch = [{"jsonrpc": "2.0", "id": i, "method": "prompts/get", "params": {
            "name": "troubleshoot_application", "arguments": {"application_id": app["id"]}}}
            for i in range(31)]
        batch.append({"jsonrpc": "2.0", "id": 31, "method": "tools/call", "params": {"name": "list_projects"}})
        r = _rpc(t, batch, {"x-lnchr-key": key["key"]})
        assert r.status == 200 and [x["id"] for x in r.json] == list(range(32)), r
        ok = [x for x in r.json[:31] if "result" in x]
        assert 1 <= len(ok) < 31 and r.json[:len(ok)] == ok, r
        for x in r.json[len(ok):31]:
            assert x["error"]["code"] == -32603 and "budget" in x["error"]["message"], x
        res = r.json[31]["result"]
        assert res["isError"] and res["structuredContent"]["error"]["code"] == "TOO_MANY_REQUESTS", res
        # The next request has its own budget.
        r = _rpc(t, batch[:1], {"x-lnchr-key": key["key"]})
        assert "result" in r.json[0], r

        # A read-only key: reads, but a write tool is the API's 403.
        ro = Mcp(t, {"x-lnchr-key": make_key(w.c, scopes=["read"])["key"]})
        clients.append(ro)
        assert app["id"] in [a["id"] for a in _data(ro.tool("list_applications", project_id=w.project["id"]))]
        for tool, args in (("deploy_application", {}), ("scale_application", {"replicas": 2}),
                           ("get_runtime_logs", {})):
            res = ro.tool(tool, application_id=app["id"], **args)
            assert res["isError"] and res["structuredContent"]["error"]["code"] == "FORBIDDEN", (tool, res)
            assert res["structuredContent"]["status"] == 403, res
        assert w.c.get("/applications/" + app["id"]).data["replicas"] == 1

        # A project-bound key sees its project only.
        p2 = new_project(w.c)
        foreign = _app(w, project_id=p2["id"])
        bound = Mcp(t, {"x-lnchr-key": make_key(w.c, project_id=w.project["id"])["key"]})
        clients.append(bound)
        assert [p["id"] for p in _data(bound.tool("list_projects"))] == [w.project["id"]]
        assert foreign["id"] not in [a["id"] for a in _data(bound.tool("list_applications"))]
        res = bound.tool("get_application", application_id=foreign["id"])
        assert res["isError"] and res["structuredContent"]["error"]["code"] == "NOT_FOUND", res
        res = bound.tool("get_project", project_id=p2["id"])
        assert res["isError"] and res["structuredContent"]["error"]["code"] == "NOT_FOUND", res
        assert _data(bound.tool("get_application", application_id=app["id"]))["id"] == app["id"]

        # Confirmed, the destructive tool runs.
        res = m.tool("delete_application", application_id=app["id"], confirm=True)
        assert res["isError"] is False and res["structuredContent"]["status"] in (200, 202, 204), res
        assert w.c.get("/applications/" + app["id"]).status == 404
        # Its removal job reloads the stack's nginx: the next client's POST
        # must not meet that ("fetch failed").
        wait_removal_job(app["id"])

        # A JWT session is a credential too (Authorization: Bearer).
        jm = Mcp(t, {"Authorization": "Bearer " + w.c.token})
        clients.append(jm)
        assert w.project["id"] in [p["id"] for p in _data(jm.tool("list_projects"))]
    finally:
        for c in clients:
            c.close()


def test_the_sdk_client_is_refused_without_credentials():
    w = World.get()
    m = Mcp(w.c.tenant, {})
    try:
        assert m.hello["event"] == "error" and m.hello["code"] == 401, m.hello
        assert "UNAUTHORIZED" in m.hello["message"], m.hello
    finally:
        m.close()
