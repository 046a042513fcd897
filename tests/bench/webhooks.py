"""make bench, the webhook case (run by tests/bench/bench.sh on its stack):
200 signed push deliveries against 50 autodeploy applications, each answered
within the p99 budget (50 ms), and exactly the deployments they should queue.

The deliveries are the real-shaped payloads of tests/fixtures/webhooks/
(tests/api/webhook_fixtures.py), signed as each provider signs, a third
each of GitHub, GitLab and Bitbucket, in a fixed shuffled order:
  140 pushes to an application's branch touching its watch_paths (deploy),
   20 repeats of an earlier delivery id (nothing: duplicate),
   20 pushes touching only files outside watch_paths (nothing; GitHub and
      GitLab, which list files),
   10 wrong signatures (401), 10 unknown repositories (200, nothing).
No agent runs: the first deploy of an application starts (its job waits in
the queue), later ones queue behind it or supersede the queued one, as
POST /deploy does; every deployment row stays and is counted (trigger
webhook) through GET /deployments.  One keep-alive HTTP connection through
nginx, sent one after the other (a provider's deliveries), after 12
uncounted ones that prepare every statement on both pool workers; the time
of each is from sending to the whole answer.  Then, as a reference measured at the
same moment, 100 POST /applications/:id/deploy of new commits on the same
applications.  Prints p50, p99 and max, and fails
(exit 1) when p99 is over budget or the count is not exactly 140."""
import http.client
import json
import os
import random
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from webhook_fixtures import bitbucket_push, delivery, github_push, gitlab_push, sha_of  # noqa: E402

KEY = os.environ["BENCH_KEY"]
TENANT = os.environ.get("BENCH_TENANT", "default")
APPS, DELIVERIES, BUDGET_P99_MS = 50, 200, 50.0
conn = http.client.HTTPConnection("127.0.0.1", int(os.environ["LAUNCHER_HTTP_PORT"]), timeout=60)


def call(method, path, body=None):
    h = {"x-lnchr-key": KEY}
    data = None
    if body is not None:
        data = json.dumps(body)
        h["Content-Type"] = "application/json"
    conn.request(method, "/%s/api/v1%s" % (TENANT, path), data, h)
    r = conn.getresponse()
    raw = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: %d %s" % (method, path, r.status, raw[:300]))
    return json.loads(raw) if raw else None


def payload(provider, url, files):
    if provider == "github":
        return github_push(url, files=files)
    if provider == "gitlab":
        return gitlab_push(url, files=files)
    return bitbucket_push(url)


def main():
    rnd = random.Random(14)
    srv = call("POST", "/servers", {"name": "whbench-" + uuid.uuid4().hex[:6]})["data"]
    proj = call("POST", "/projects", {"name": "whbench-" + uuid.uuid4().hex[:6]})["data"]
    apps = []
    for i in range(APPS):
        url = "https://git.example.com/bench/app-%02d-%s.git" % (i, uuid.uuid4().hex[:6])
        a = call("POST", "/applications", {
            "project_id": proj["id"], "server_id": srv["id"], "name": "app-%02d" % i,
            "source_type": "git", "repository_url": url, "autodeploy": True, "exposed_port": 8080,
            "watch_paths": ["src/**", "Dockerfile"]})["data"]
        apps.append((a, url))
    providers = ["github", "gitlab", "bitbucket"]
    plan, sent = [], []
    for i in range(140):
        a, url = apps[i % APPS]
        prov = providers[i % 3]
        raw, h = delivery(prov, a["webhook_secret"], payload(prov, url, ["src/app/main-%d.c" % i]))
        plan.append(("deploy", prov, raw, h, a["id"]))
        sent.append((prov, raw, h, a["id"]))
    for i in range(20):
        a, url = apps[(i * 7) % APPS]
        prov = providers[i % 2]
        raw, h = delivery(prov, a["webhook_secret"], payload(prov, url, ["docs/notes-%d.md" % i]))
        plan.append(("outside watch_paths", prov, raw, h, a["id"]))
    for i in range(10):
        a, url = apps[(i * 3) % APPS]
        prov = providers[i % 3]
        raw, h = delivery(prov, "whsec_wrong-" + uuid.uuid4().hex, payload(prov, url, ["src/x.c"]))
        plan.append(("wrong signature", prov, raw, h, a["id"]))
    for i in range(10):
        prov = providers[i % 3]
        url = "https://git.example.com/bench/unknown-%d.git" % i
        raw, h = delivery(prov, "whsec_" + uuid.uuid4().hex, payload(prov, url, ["src/x.c"]))
        plan.append(("unknown repository", prov, raw, h, None))
    rnd.shuffle(plan)
    # Each repeat comes after the delivery it repeats.
    for i in range(20):
        prov, raw, h, app = sent[i * 5]
        at = next(k for k, p in enumerate(plan) if p[2] is raw)
        plan.insert(rnd.randint(at + 1, len(plan)), ("duplicate", prov, raw, h, app))
    assert len(plan) == DELIVERIES
    # Warm-up, not counted: every statement prepared on both pool workers
    # (as the wrk cases warm up), on an application outside the bench's project.
    wproj = call("POST", "/projects", {"name": "whwarm-" + uuid.uuid4().hex[:6]})["data"]
    wurl = "https://git.example.com/bench/warm-%s.git" % uuid.uuid4().hex[:6]
    warm = call("POST", "/applications", {
        "project_id": wproj["id"], "server_id": srv["id"], "name": "warm", "source_type": "git",
        "repository_url": wurl, "autodeploy": True, "exposed_port": 8080})["data"]
    for i in range(12):
        prov = providers[i % 3]
        secret = warm["webhook_secret"] if i % 4 else "whsec_wrong"
        raw, h = delivery(prov, secret, payload(prov, wurl, ["src/w.c"]))
        conn.request("POST", "/%s/api/v1/webhooks/%s" % (TENANT, prov), raw, h)
        conn.getresponse().read()
    want = {"deploy": (200, 1), "outside watch_paths": (200, 0), "duplicate": (200, 0),
            "wrong signature": (401, 0), "unknown repository": (200, 0)}
    times, queued, by_kind = [], 0, {}
    for kind, prov, raw, h, app in plan:
        t0 = time.perf_counter()
        # Each application's own hook URL (webhook_url: ?app=<id>).
        conn.request("POST", "/%s/api/v1/webhooks/%s%s" % (TENANT, prov, "?app=" + app if app else ""),
                     raw, h)
        r = conn.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        by_kind.setdefault(kind, []).append(times[-1])
        got = json.loads(body)
        n = len(got["data"]["deployments"]) if r.status == 200 else 0
        if (r.status, n) != want[kind]:
            raise SystemExit("webhooks: a %s delivery (%s) got %d %s" % (kind, prov, r.status, body[:300]))
        queued += n
    # Every deployment row of the bench's applications, as the API lists them.
    ids, rows, cursor = {a["id"] for a, _ in apps}, 0, None
    while True:
        page = call("GET", "/deployments?projectId=%s&limit=200%s" % (
            proj["id"], "&cursor=" + cursor if cursor else ""))
        rows += sum(1 for d in page["data"] if d["application_id"] in ids and d["trigger"] == "webhook")
        cursor = page["meta"]["next_cursor"]
        if not cursor:
            break
    # The reference on the same stack at the same moment: the existing deploy
    # path, POST /applications/:id/deploy of a new commit (what a signed push
    # adds to it: parsing, the candidates, HMACs, the delivery record).
    ref = []
    for i in range(100):
        t0 = time.perf_counter()
        call("POST", "/applications/%s/deploy" % apps[i % APPS][0]["id"],
             {"commit_sha": sha_of("ref-%d-%s" % (i, uuid.uuid4().hex))})
        ref.append((time.perf_counter() - t0) * 1000)
    ref.sort()
    print("webhooks: reference POST /applications/:id/deploy (100, same apps, same connection):"
          " p50 %.2f ms, p99 %.2f ms" % (statistics.median(ref), ref[98]))
    print("webhooks: median per kind: " + ", ".join("%s %.2f ms (%d)" % (k, statistics.median(v), len(v))
                                               for k, v in sorted(by_kind.items())))
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print("webhooks: %d deliveries (%d apps, github/gitlab/bitbucket): p50 %.2f ms, p99 %.2f ms,"
          " max %.2f ms (budget p99 %.0f ms: %s); deployments queued %d, listed %d (want 140: %s)"
          % (len(times), APPS, p50, p99, times[-1], BUDGET_P99_MS,
             "within" if p99 <= BUDGET_P99_MS else "OVER", queued, rows,
             "exact" if queued == rows == 140 else "WRONG"))
    return 0 if p99 <= BUDGET_P99_MS and queued == rows == 140 else 1


sys.exit(main())
