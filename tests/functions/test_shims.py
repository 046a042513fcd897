#!/usr/bin/env python3
"""test_shims.py - the functions' shims (conf/functions/shim.js, shim.py) in
real containers, no plane: the runtime base images of
tests/fixtures/fn_runtimes.sh, a function image built from
conf/functions/Dockerfile.<runtime> (the text fcgi/agent/fnshim.c embeds,
byte for byte: tests/unit/test_agent_fnshim.c) as the agent builds it,
and Podman's CLI (runc, --memory 64m) on a private configuration that reads
the runtime images' store.  Per runtime: a handler answers (body, headers,
event, invocation id); one that throws is 500/error; one that sleeps past
LAUNCHER_FN_TIMEOUT is 504/timeout and the container answers the next call;
one that allocates past the memory limit is 502/oom and the next call
answers; a body above 6 MiB is 413 (chunked too, one 60 MiB chunk without
the shim holding it), one announced above 64 MiB ends the connection, a
chunked one reaches the handler; a handler's header that cannot be sent
(CR/LF, not a token, not latin-1) is 500/error, its framing headers are
dropped; a call that finds no worker loaded within the timeout is
503/error; the build checks the handler as the unprivileged user;
concurrent calls all answer; a handler that does not load ends the
container naming it; every
invocation's LAUNCHER-INVOCATION line in the container's log parses and
carries the X-Launcher-Invocation id and the status; a build of a handler
that does not exist fails naming it.

    python3 tests/functions/test_shims.py [-k node20|python3]

Last line: "fn-shims: N passed, N failed".
"""
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
TIMEOUT_S = 5           # LAUNCHER_FN_TIMEOUT of the containers (allocating past 64 MiB took over 2 s on a loaded machine)
MEMORY = "64m"

passed = failed = 0
LOCK = threading.Lock()


def check(cond, name, detail=""):
    global passed, failed
    with LOCK:
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL %s %s" % (name, str(detail)[:3000]), flush=True)


HANDLERS = {
    "node20": ("index.js", r"""
// the build's --check loads this: as the function's user, never root
if (process.argv[2] === '--check' && process.getuid() === 0) throw new Error('the handler is checked as root');
// a worker started after ?hangnext never loads
if (require('fs').existsSync('/tmp/launcher-test-hang')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3600e3);
const HDR = {
  crlf: { 'X-Bad': 'a\r\nX-Injected: 1' },
  name: { 'Bad Name': 'x' },
  latin: { 'X-U': 'snow \u2603' },
  framing: { 'Content-Length': '1', 'Transfer-Encoding': 'chunked', Connection: 'close', 'X-Ok': '1' },
};
exports.handler = async (event, context) => {
  const q = event.query;
  if (q.hangnext) require('fs').writeFileSync('/tmp/launcher-test-hang', '');
  if (q.hdr) return { status: 200, headers: HDR[q.hdr], body: 'framed body' };
  if (q.sleep) await new Promise((r) => setTimeout(r, Number(q.sleep) * 1000));
  if (q.throw) throw new Error('boom ' + q.throw);
  if (q.alloc) { const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1)); }
  console.log('handler says hello ' + context.invocationId);
  if (q.plain) return 'plain ' + q.plain;
  if (q.value) return { status: 'healthy' };
  return { status: 201, headers: { 'X-Fn': 'node' },
           body: { runtime: 'node20', method: event.method, path: event.path, query: q,
                   body: event.body, trigger: event.trigger, uid: process.getuid() } };
};
"""),
    "python3": ("index.py", r"""
import os, time

# a worker started after ?hangnext never loads
if os.path.exists("/tmp/launcher-test-hang"):
    time.sleep(3600)
HDR = {
    "crlf": {"X-Bad": "a\r\nX-Injected: 1"},
    "name": {"Bad Name": "x"},
    "latin": {"X-U": "snow \u2603"},
    "framing": {"Content-Length": "1", "Transfer-Encoding": "chunked", "Connection": "close", "X-Ok": "1"},
}

def handler(event, context):
    q = event["query"]
    if "hangnext" in q:
        open("/tmp/launcher-test-hang", "w").close()
    if "hdr" in q:
        return {"status": 200, "headers": HDR[q["hdr"]], "body": "framed body"}
    if "sleep" in q:
        time.sleep(float(q["sleep"]))
    if "throw" in q:
        raise RuntimeError("boom " + q["throw"])
    if "alloc" in q:
        a = []
        while True:
            a.append(bytearray(1 << 20))
    print("handler says hello " + context["invocation_id"])
    if "plain" in q:
        return "plain " + q["plain"]
    if "value" in q:
        return {"status": "healthy"}
    return {"status": 201, "headers": {"X-Fn": "python"},
            "body": {"runtime": "python3", "method": event["method"], "path": event["path"], "query": q,
                     "body": event["body"], "trigger": event["trigger"], "uid": os.getuid()}}
"""),
}
SHIM = {"node20": "shim.js", "python3": "shim.py"}


class Podman:
    """podman on a private configuration: its own graphroot and runroot under
    a temporary directory, the runtime images' store as an additional image
    store (read-only), runc, cgroupfs, file locks."""

    def __init__(self, store):
        self.dir = tempfile.mkdtemp(prefix="fnshims.", dir="/var/tmp")
        conf = os.path.join(self.dir, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "storage.conf"), "w") as f:
            f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n'
                    '[storage.options]\nadditionalimagestores = ["%s"]\n' % (self.dir, self.dir, store))
        # Containers may not get rlimits above ours (runc: "error setting
        # rlimits"): as the stack's Podman (conf/stack/launcher-stack.sh).
        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
        with open(os.path.join(conf, "containers.conf"), "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                    '[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "%s/networks"\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    'tmp_dir = "%s/libpod"\nlock_type = "file"\n'
                    % (nofile, nofile, nproc, nproc, self.dir, self.dir))
        with open(os.path.join(conf, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\n")
        self.env = dict(os.environ, CONTAINERS_CONF=os.path.join(conf, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(conf, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(conf, "registries.conf"))

    def run(self, *args, timeout=180):
        # (in our directory: conmon writes a file "oom" into its working
        # directory when the container's cgroup had an OOM kill)
        return subprocess.run(["podman"] + list(args), env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)

    def close(self):
        # the graphroot goes whole; the additional store is never written
        self.run("rm", "-a", "-f", "-t", "0")
        out = subprocess.run(["awk", "-v", "d=%s/" % self.dir, 'index($2 "/", d) == 1 { print $2 }',
                              "/proc/self/mounts"], capture_output=True, text=True).stdout.split()
        for m in sorted(out, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, path, method="GET", body=None, headers=None, timeout=30):
    """(status, headers, body); a list body goes chunked."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, list):
            c.request(method, path, body=iter(body), headers=dict(headers or {}, **{"Transfer-Encoding": "chunked"}),
                      encode_chunked=True)
        else:
            c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def send_oversized(port, total, iid):
    """Sends a POST announcing total bytes and as many of them as the shim
    reads: the exception that stopped it, or None when it read them all."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(b"POST / HTTP/1.1\r\nHost: function\r\nX-Launcher-Invocation: %s\r\nContent-Length: %d\r\n\r\n"
                  % (iid.encode(), total))
        piece = b"x" * (1 << 20)
        for _ in range(total // len(piece)):
            s.sendall(piece)
        return None
    except OSError as e:
        return e
    finally:
        s.close()


def context(runtime, handler_file, handler_src):
    ctx = tempfile.mkdtemp(prefix="fnctx.", dir="/var/tmp")
    shutil.copy(os.path.join(REPO, "conf", "functions", "Dockerfile." + runtime), os.path.join(ctx, "Dockerfile"))
    os.makedirs(os.path.join(ctx, "launcher"))
    os.makedirs(os.path.join(ctx, "fn"))
    shutil.copy(os.path.join(REPO, "conf", "functions", SHIM[runtime]), os.path.join(ctx, "launcher", SHIM[runtime]))
    with open(os.path.join(ctx, "fn", handler_file), "w") as f:
        f.write(handler_src)
    for d, _, files in os.walk(ctx):
        os.chmod(d, 0o755)
        for n in files:
            os.chmod(os.path.join(d, n), 0o644)
    return ctx


def build(pm, runtime, base, tag, handler="index.handler", src=None):
    fname, code = HANDLERS[runtime]
    ctx = context(runtime, fname, src if src is not None else code)
    try:
        return pm.run("build", "-q", "--network", "host", "--build-arg", "LAUNCHER_FN_BASE=" + base,
                      "--build-arg", "LAUNCHER_FN_HANDLER=" + handler, "-t", tag, ctx)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def invocation_lines(pm, name):
    out = pm.run("logs", name)
    lines = {}
    for ln in (out.stdout + out.stderr).splitlines():
        if ln.startswith("LAUNCHER-INVOCATION "):
            try:
                rec = json.loads(ln[len("LAUNCHER-INVOCATION "):])
            except ValueError:
                lines.setdefault("__bad__", []).append(ln)
                continue
            lines[rec.get("id")] = rec
    return lines, out.stdout + out.stderr


def case_runtime(pm, runtime, base):
    tag = "localhost/fnshims/%s:test" % runtime
    t0 = time.time()
    b = build(pm, runtime, base, tag)
    check(b.returncode == 0, "%s: the function image builds FROM %s" % (runtime, base), b.stderr[-2000:])
    if b.returncode != 0:
        return
    print("%s: built in %.1f s" % (runtime, time.time() - t0), flush=True)

    def bad_build():
        bad = build(pm, runtime, base, "localhost/fnshims/%s:bad" % runtime, handler="index.nothere")
        check(bad.returncode != 0 and "index.nothere" in (bad.stdout + bad.stderr),
              "%s: a build of a handler that does not exist fails naming it" % runtime, bad.stderr[-1500:])
        # the image run with a handler it does not have: the container ends, naming it
        r = pm.run("run", "--rm", "--network", "none", "-e", "LAUNCHER_FN_HANDLER=index.gone", tag, timeout=120)
        check(r.returncode == 1 and "index.gone" in r.stdout + r.stderr,
              "%s: a handler that does not load ends the container (exit 1) naming it" % runtime,
              (r.returncode, r.stdout[-500:], r.stderr[-1000:]))
    bad_thread = threading.Thread(target=bad_build)
    bad_thread.start()
    try:
        case_container(pm, runtime, tag, t0)
        case_not_ready(pm, runtime, tag)
    finally:
        bad_thread.join()


def start(pm, runtime, tag, *env):
    """(container name, port) of a started container answering its health check, or (name, None)."""
    name = "fnshims-%s-%s" % (runtime, uuid.uuid4().hex[:8])
    port = free_port()
    args = ["run", "-d", "--name", name, "--network", "host", "--memory", MEMORY, "--memory-swap", MEMORY,
            "-e", "PORT=%d" % port, "-e", "LAUNCHER_FN_TIMEOUT=%d" % TIMEOUT_S]
    for e in env:
        args += ["-e", e]
    r = pm.run(*(args + [tag]))
    check(r.returncode == 0, "%s: the container starts" % runtime, r.stderr)
    if r.returncode != 0:
        return name, None
    for _ in range(300):
        try:
            st, _, body = call(port, "/_launcher/health", timeout=2)
            if st == 200 and body == b"ok":
                return name, port
        except OSError:
            pass
        if pm.run("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
            break
        time.sleep(0.1)
    check(False, "%s: GET /_launcher/health answers 200 ok" % runtime, pm.run("logs", name).stderr[-2000:])
    return name, None


def case_not_ready(pm, runtime, tag):
    """A worker that never loads (the handler's module hangs once ?hangnext
    made its marker; one worker at most): a call waits max(timeout, 10 s)
    for it, then 503, status error, one LAUNCHER-INVOCATION line."""
    name, port = start(pm, runtime, tag, "LAUNCHER_FN_CONCURRENCY=1")
    try:
        if port is None:
            return
        st, hd, b = call(port, "/?hangnext=1&sleep=%d" % (TIMEOUT_S + 30))
        check(st == 504, "%s: past the timeout: 504 (its replacement never loads)" % runtime, (st, b))
        iid = "inv-notready-" + uuid.uuid4().hex[:12]
        try:
            st, hd, b = call(port, "/", headers={"X-Launcher-Invocation": iid}, timeout=60)
        except OSError as e:
            st, hd, b = str(e), {}, b""
        check(st == 503 and hd.get("x-launcher-invocation-status") == "error",
              "%s: no worker ready within the timeout: 503, status error" % runtime, (st, hd, b))
        lines, log = invocation_lines(pm, name)
        rec = lines.get(iid) or {}
        check(rec.get("status") == "error" and rec.get("http_status") == 503 and rec.get("error"),
              "%s: its LAUNCHER-INVOCATION line" % runtime, (rec, log[-1500:]))
    finally:
        pm.run("rm", "-f", "-t", "0", name)


def case_container(pm, runtime, tag, t0):
    name = "fnshims-%s-%s" % (runtime, uuid.uuid4().hex[:8])
    port = free_port()
    r = pm.run("run", "-d", "--name", name, "--network", "host", "--memory", MEMORY, "--memory-swap", MEMORY,
               "-e", "PORT=%d" % port, "-e", "LAUNCHER_FN_TIMEOUT=%d" % TIMEOUT_S, tag)
    check(r.returncode == 0, "%s: the container starts" % runtime, r.stderr)
    if r.returncode != 0:
        return
    try:
        ready = False
        for _ in range(300):
            try:
                st, _, body = call(port, "/_launcher/health", timeout=2)
                if st == 200 and body == b"ok":
                    ready = True
                    break
            except OSError:
                pass
            if pm.run("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
                break
            time.sleep(0.1)
        check(ready, "%s: GET /_launcher/health answers 200 ok" % runtime, pm.run("logs", name).stderr[-2000:])
        if not ready:
            return
        print("%s: answering %.1f s after the start of its build" % (runtime, time.time() - t0), flush=True)
        sent = {}

        def invoke(key, path, method="GET", body=None, trigger=None):
            iid = "inv-%s-%s" % (key, uuid.uuid4().hex[:12])
            h = {"X-Launcher-Invocation": iid}
            if trigger:
                h["X-Launcher-Trigger"] = trigger
            st, hd, b = call(port, path, method=method, body=body, headers=h)
            sent[key] = (iid, st, hd.get("x-launcher-invocation-status"))
            return st, hd, b

        st, hd, b = invoke("ok", "/hello/x?a=1&a=2&b=3", method="POST", body=b'{"x":1}', trigger="cron")
        try:
            j = json.loads(b)
        except ValueError:
            j = {}
        check(st == 201 and hd.get("x-fn") in ("node", "python") and hd.get("x-launcher-invocation-status") == "ok"
              and hd.get("x-launcher-invocation") == sent["ok"][0],
              "%s: the handler answers its status and headers, status ok, the invocation id" % runtime, (st, hd, b))
        check(j.get("runtime") == runtime and j.get("method") == "POST" and j.get("path") == "/hello/x" and
              j.get("query") == {"a": ["1", "2"], "b": "3"} and j.get("body") == '{"x":1}' and
              j.get("trigger") == "cron" and j.get("uid") == 65534,
              "%s: the event (method, path, query, body, trigger), as an unprivileged user" % runtime, j)
        st, hd, b = invoke("chunked", "/chunked", method="PUT", body=[b"hello ", b"chunked"])
        check(st == 201 and json.loads(b).get("body") == "hello chunked",
              "%s: a chunked request body reaches the handler" % runtime, (st, b))
        st, hd, b = invoke("plain", "/?plain=yes")
        check(st == 200 and b == b"plain yes" and hd.get("content-type", "").startswith("text/plain"),
              "%s: a string result is a 200 text body" % runtime, (st, hd, b))
        st, hd, b = invoke("value", "/?value=1")
        check(st == 200 and json.loads(b or b"null") == {"status": "healthy"} and
              hd.get("content-type", "").startswith("application/json"),
              "%s: a JSON value (not an answer object) is a 200 JSON body" % runtime, (st, hd, b))
        st, hd, b = invoke("throw", "/?throw=1")
        check(st == 500 and hd.get("x-launcher-invocation-status") == "error" and b"boom 1" in b,
              "%s: a handler that throws: 500, status error, its message" % runtime, (st, hd, b))
        t1 = time.time()
        st, hd, b = invoke("timeout", "/?sleep=%d" % (TIMEOUT_S + 30))
        check(st == 504 and hd.get("x-launcher-invocation-status") == "timeout",
              "%s: past the timeout: 504, status timeout" % runtime, (st, hd, b, time.time() - t1))
        st, hd, b = invoke("after-timeout", "/")
        check(st == 201, "%s: the container answers the call after a timeout" % runtime, (st, b))
        st, hd, b = invoke("oom", "/?alloc=1")
        check(st == 502 and hd.get("x-launcher-invocation-status") == "oom",
              "%s: past the memory limit (%s): 502, status oom" % (runtime, MEMORY), (st, hd, b))
        st, hd, b = invoke("after-oom", "/")
        check(st == 201, "%s: the container answers the call after an OOM kill" % runtime, (st, b))
        st, hd, b = invoke("big", "/", method="POST", body=b"x" * (6 * 1024 * 1024 + 1))
        check(st == 413 and hd.get("x-launcher-invocation-status") == "error",
              "%s: a body above 6 MiB: 413" % runtime, (st, hd, b[:200]))
        st, hd, b = invoke("big-chunked", "/", method="POST", body=[b"x" * (1 << 20)] * 6 + [b"x"])
        check(st == 413 and hd.get("x-launcher-invocation-status") == "error",
              "%s: a chunked body above 6 MiB: 413" % runtime, (st, hd, b[:200]))
        for kind in ("crlf", "name", "latin"):
            st, hd, b = invoke("hdr-" + kind, "/?hdr=" + kind)
            check(st == 500 and hd.get("x-launcher-invocation-status") == "error" and "x-injected" not in hd,
                  "%s: a handler's header that cannot be sent (%s): 500, status error" % (runtime, kind), (st, hd, b))
        st, hd, b = invoke("hdr-framing", "/?hdr=framing")
        check(st == 200 and b == b"framed body" and hd.get("x-ok") == "1" and "transfer-encoding" not in hd and
              hd.get("content-length") == "11",
              "%s: the handler's framing headers are dropped (the shim frames the answer)" % runtime, (st, hd, b))
        iid = "inv-oversized-" + uuid.uuid4().hex[:12]
        sent["oversized"] = (iid, 413, "error")
        stopped = send_oversized(port, 100 << 20, iid)
        check(isinstance(stopped, (ConnectionResetError, BrokenPipeError)),
              "%s: a body announced above 64 MiB is not read whole (the connection ends)" % runtime, stopped)
        # (the shim may end the connection once it answered: its line says 413)
        iid = "inv-big-chunk-" + uuid.uuid4().hex[:12]
        sent["big-chunk"] = (iid, 413, "error")
        try:
            st, hd, b = call(port, "/", method="POST", body=[b"x" * (60 << 20)], headers={"X-Launcher-Invocation": iid})
        except OSError as e:
            st, hd, b = 413, {"x-launcher-invocation-status": "error"}, str(e).encode()
        check(st == 413 and hd.get("x-launcher-invocation-status") == "error",
              "%s: one 60 MiB chunk (above the memory limit): 413" % runtime, (st, hd, b[:200]))
        st, hd, b = invoke("after-big-chunk", "/")
        check(st == 201, "%s: the container answers the call after a 60 MiB chunk" % runtime, (st, b))
        results = []

        def one(i):
            try:
                results.append(invoke("conc%d" % i, "/?sleep=0.5")[0])
            except OSError as e:
                results.append(str(e))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(results == [201] * 6, "%s: 6 concurrent calls all answer" % runtime, results)
        running = pm.run("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", name).stdout.strip()
        check(running == "true 0", "%s: the container stayed up all along" % runtime, running)

        lines, log = invocation_lines(pm, name)
        check("__bad__" not in lines, "%s: every LAUNCHER-INVOCATION line is JSON" % runtime, lines.get("__bad__"))
        for key, (iid, st, inv_status) in sent.items():
            rec = lines.get(iid)
            ok = (rec is not None and rec.get("status") == inv_status and rec.get("http_status") == st and
                  isinstance(rec.get("duration_ms"), int) and isinstance(rec.get("started_at"), str) and
                  rec.get("trigger") == ("cron" if key == "ok" else "http") and
                  (rec.get("error") is None) == (inv_status == "ok"))
            check(ok, "%s: the LAUNCHER-INVOCATION line of call %s (%s, %s)" % (runtime, key, inv_status, st), rec)
        check(len([k for k in lines if k != "__bad__"]) == len(sent),
              "%s: exactly one line per invocation" % runtime, sorted(lines))
        check("handler says hello " + sent["ok"][0] in log, "%s: the handler's console output is in the log" % runtime)
        check(lines.get(sent["timeout"][0], {}).get("duration_ms", 0) >= TIMEOUT_S * 1000,
              "%s: the timeout line's duration is the timeout" % runtime, lines.get(sent["timeout"][0]))
    except Exception:
        # What the container was when a call broke off (for the traceback's reader).
        st = pm.run("inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}} oomkilled={{.State.OOMKilled}}"
                    " error={{.State.Error}}", name)
        lg = pm.run("logs", name)
        print("%s: container %s: %s; its log's end:\n%s" % (runtime, name, (st.stdout + st.stderr).strip(),
                                                          (lg.stdout + lg.stderr)[-3000:]), flush=True)
        raise
    finally:
        pm.run("rm", "-f", "-t", "0", name)


def case_dockerfiles():
    """The build's --check (which loads the handler's code) runs as the
    function's user: USER comes before it."""
    for runtime in ("node20", "python3"):
        with open(os.path.join(REPO, "conf", "functions", "Dockerfile." + runtime)) as f:
            text = f.read()
        user, run = text.find("\nUSER 65534:65534\n"), text.find("\nRUN ")
        check(0 <= user < run, "%s: the Dockerfile's USER precedes its RUN --check" % runtime, text)


def main():
    t0 = time.time()
    case_dockerfiles()
    # tests/run.sh has run the fixture (its exports); alone, the test runs it
    env = {k: v for k, v in os.environ.items() if k.startswith("FIXTURE_FN_")}
    if not env.get("FIXTURE_FN_STORE"):
        out = subprocess.run(["bash", os.path.join(REPO, "tests", "fixtures", "fn_runtimes.sh")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-3000:])
            check(False, "fn_runtimes.sh builds the runtime images")
            print("fn-shims: %d passed, %d failed" % (passed, failed))
            return 1
        for ln in out.stdout.splitlines():
            if ln.startswith("export "):
                k, _, v = ln[len("export "):].partition("=")
                env[k] = subprocess.run(["bash", "-c", "printf %s " + v], capture_output=True, text=True).stdout
    images = {"node20": env.get("FIXTURE_FN_NODE20_IMAGE"), "python3": env.get("FIXTURE_FN_PYTHON3_IMAGE")}
    check(all(images.values()) and "node:20-bookworm-slim | " + images["node20"] in env.get("FIXTURE_FN_IMAGE_MIRRORS", ""),
          "fn_runtimes.sh prints the images and their mirror rows", env)
    print("runtime images in %.1f s: %s" % (time.time() - t0, images), flush=True)
    pm = Podman(env["FIXTURE_FN_STORE"])
    try:
        def one(runtime):
            try:
                case_runtime(pm, runtime, images[runtime])
            except Exception:
                check(False, "%s: no exception" % runtime, traceback.format_exc())
        # both runtimes at once: most of the time is waiting (builds, the timeout)
        threads = [threading.Thread(target=one, args=(rt,)) for rt in ("node20", "python3")
                   if not ONLY or ONLY == rt]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        pm.close()
    print("fn-shims: %d passed, %d failed (%.1f s)" % (passed, failed, time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
