"""GET /metrics, the plane's own Prometheus figures (README "Plane metrics"):
requests by route pattern and status with histograms that add up, the
whole pool's totals from any worker, promtool's check, the queue and
servers read from the database, and nginx serving it to 127.0.0.1 only."""
import http.client
import re
import shutil
import ssl
import subprocess
import uuid

from lib import HTTPS_PORT, Skip, psql, registered, request

TENANT = "/{tenant}/api/v1"
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape():
    r = request("GET", "/metrics")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.raw.decode()


def parse(text):
    """{(name, frozenset of (label, value)): float} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not an exposition line: %r" % line
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def val(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def requests_of(series, method, route):
    """{code: count} of one route."""
    return {dict(k[1])["code"]: v for k, v in series.items()
            if k[0] == "launcher_http_requests_total" and dict(k[1]).get("method") == method
            and dict(k[1]).get("route") == route}


def test_requests_by_route_and_status_and_histograms_add_up():
    c, _ = registered("pm")
    before = parse(scrape())
    for _ in range(5):
        assert c.get("/projects").status == 200
    for _ in range(3):
        # A raw path with a fresh id each time: one series, the pattern's.
        assert c.get("/projects/%s" % uuid.uuid4()).status == 404
    for _ in range(2):
        assert c.post("/projects", {"name": ""}).status == 400
    assert c.get("/no-such-route-%s" % uuid.uuid4().hex).status == 404
    text = scrape()
    after = parse(text)

    def delta(method, route):
        a, b = requests_of(after, method, route), requests_of(before, method, route)
        return {k: a[k] - b.get(k, 0) for k in a if a[k] - b.get(k, 0)}

    assert delta("GET", TENANT + "/projects") == {"200": 5}, delta("GET", TENANT + "/projects")
    assert delta("GET", TENANT + "/projects/:id") == {"404": 3}
    assert delta("POST", TENANT + "/projects") == {"400": 2}
    assert delta("GET", "unmatched").get("404", 0) >= 1
    # Never a raw path (no id, no tenant slug) in a label.
    assert c.tenant not in text and "no-such-route" not in text
    # Every histogram: cumulative buckets, +Inf = _count = the route's requests.
    hist = {}
    for (name, labels), v in after.items():
        if name == "launcher_http_request_duration_seconds_bucket":
            d = dict(labels)
            hist.setdefault((d["method"], d["route"]), []).append((d["le"], v))
    assert (("GET", TENANT + "/projects")) in hist
    for (method, route), buckets in hist.items():
        buckets.sort(key=lambda b: float(b[0]))
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), (route, buckets)
        assert buckets[-1][0] == "+Inf"
        n = val(after, "launcher_http_request_duration_seconds_count", method=method, route=route)
        assert buckets[-1][1] == n, (route, buckets, n)
        assert sum(requests_of(after, method, route).values()) == n, (method, route)
        assert val(after, "launcher_http_request_duration_seconds_sum",
                   method=method, route=route) >= 0
    # The histogram of /projects grew by exactly its 5 requests.
    key = ("launcher_http_request_duration_seconds_count",
           frozenset({"method": "GET", "route": TENANT + "/projects"}.items()))
    assert after[key] - before.get(key, 0) == 5
    # Database round trips: each of those requests made at least one.
    assert val(after, "launcher_db_round_trips_total") - \
        val(before, "launcher_db_round_trips_total") >= 10
    # Every worker that served set up its database session once (at least).
    assert val(after, "launcher_db_connects_total") >= val(after, "launcher_pool_workers_busy") >= 1


def test_any_worker_answers_with_the_whole_pool():
    """Scrapes land on whichever worker accepts them: the counter of a
    route never goes back from one scrape to the next."""
    route = "/healthz"
    seen = []
    for _ in range(12):
        assert request("GET", "/healthz").status == 200
        seen.append(sum(requests_of(parse(scrape()), "GET", route).values()))
    assert seen == sorted(seen) and seen[-1] - seen[0] == 11, seen
    s = parse(scrape())
    assert val(s, "launcher_pool_workers") >= 1
    assert val(s, "launcher_pool_workers_configured") >= 1
    # The scrape's own worker is serving it.
    assert 1 <= val(s, "launcher_pool_workers_busy") <= val(s, "launcher_pool_workers")


def test_queue_and_servers_from_the_database():
    c, _ = registered("pmq")
    s = parse(scrape())
    assert val(s, "launcher_database_up") == 1
    for status in ("pending", "online", "offline", "degraded"):
        assert ("launcher_servers", frozenset({"status": status}.items())) in s, status
    # Every kind of job_kinds has its series, 0 when nothing is queued.
    kinds = psql("SELECT kind FROM launcher.job_kinds ORDER BY 1", user="launcher_owner")
    assert kinds
    for k in kinds:
        assert ("launcher_jobs_queued", frozenset({"kind": k}.items())) in s, k
        assert ("launcher_jobs_oldest_queued_age_seconds", frozenset({"kind": k}.items())) in s
    # A queued job of the test's tenant (a server that never connects).
    r = c.post("/servers", {"name": "pm-%s" % uuid.uuid4().hex[:6]})
    assert r.status == 201, r
    sid = r.data["id"]
    before = val(s, "launcher_jobs_queued", kind="noop")
    psql("INSERT INTO launcher.jobs (tenant_id, server_id, kind, deadline_at, created_at) "
         "VALUES ('%s', '%s', 'noop', now() + interval '1 hour', now() - interval '90 seconds')"
         % (c.tid, sid), user="launcher_owner")
    s = parse(scrape())
    assert val(s, "launcher_jobs_queued", kind="noop") == before + 1
    assert val(s, "launcher_jobs_oldest_queued_age_seconds", kind="noop") >= 90
    assert val(s, "launcher_servers", status="pending") >= 1
    psql("DELETE FROM launcher.jobs WHERE server_id = '%s'" % sid, user="launcher_owner")


def test_promtool_accepts_the_scrape():
    if shutil.which("promtool") is None:
        raise Skip("promtool (Debian package prometheus) is not installed")
    request("GET", "/healthz")
    text = scrape()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.strip() == "" and p.stderr.strip() == "", (p.stdout, p.stderr)


def _from(source, path):
    """GET path through nginx from another loopback address."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", HTTPS_PORT, context=ctx, timeout=10,
                                       source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def test_nginx_serves_metrics_to_127_0_0_1_only():
    # Linux answers the whole 127/8 on lo: 127.0.0.2 is a source nginx sees
    # as another address than 127.0.0.1, which is all "allow" compares.
    status, body = _from("127.0.0.2", "/metrics")
    assert status == 403 and '"code":"FORBIDDEN"' in body, (status, body)
    status, body = _from("127.0.0.2", "/metrics?format=x")
    assert status == 403, (status, body)
    assert request("GET", "/healthz").status == 200  # the same nginx, other locations
    status, body = _from("127.0.0.1", "/metrics")
    assert status == 200 and "launcher_http_requests_total" in body, status


def test_nothing_else_answers_under_metrics():
    c, _ = registered("pmx")
    for path in ("/metrics/", "/metrics/x", "/metricsx", "/metrics/api/v1/projects",
                 "/%s/api/v1/metrics" % c.tenant, "/%s/metrics" % c.tenant):
        r = request("GET", path, headers=c.headers())
        assert r.status == 404, (path, r)
        assert b"launcher_http" not in r.raw, path
