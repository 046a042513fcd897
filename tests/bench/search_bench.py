#!/usr/bin/env python3
"""The body of make bench-search (tests/bench/search_bench.sh): 100,000
resources of every searchable type in one tenant, made in bulk as the
owner (the search documents through their triggers, as the API's own
writes keep them), then wrk against GET /search with a rotation of queries
(prefixes, typos, several words, a commit sha, an env var key) and against
GET /auth/me, interleaved over rounds; medians of the rounds' p50/p99."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import make_key, psql, registered  # noqa: E402

SECS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
# Per type: 200 projects; per project 50 applications (10,000), 200
# deployments (40,000), 100 env vars (20,000), 50 volumes, 50 domains, 25
# databases; 4,800 users: 100,000 documents.
PROJECTS, APPS, DEPLOYS, ENVS, VOLS, DOMS, DBS, USERS = 200, 50, 200, 100, 50, 50, 25, 4800
WORDS = ("shop cart checkout billing invoice ledger payment wallet mail notify queue worker report "
         "media image video thumbnail search index auth login session profile account admin "
         "catalog product price stock order shipping tracking review rating chat stream feed "
         "metrics logs backup export import sync cache proxy gateway edge cron scheduler "
         "webhook hooks partner vendor supplier warehouse inventory refund coupon promo "
         "analytics events pixel banner landing blog docs wiki forum support ticket crm "
         "geo maps routing fleet driver rider booking calendar slot invoice tax currency").split()
QUERIES = ["shp", "checkout", "billing api", "deploy fix", "ledgr", "DATABASE_URL", "paymnt",
           "warehouse-inventory", "auth", "fix invoice rounding", "thumbnial", "stripe"]


def owner(sql):
    return psql(sql, user="launcher_owner")


def words_sql(n, i):
    """SQL for word number n of a name from integer expression i."""
    return "(ARRAY[%s])[1 + ((%s) * %d + %d) %% %d]" % (
        ",".join("'%s'" % w for w in WORDS), i, 7 + 6 * n, n * 13, len(WORDS))


def load(tid, server):
    t0 = time.monotonic()
    w1, w2 = words_sql(0, "i"), words_sql(1, "i")
    owner("INSERT INTO projects (tenant_id, name, display_name, description)"
          " SELECT '%s', %s || '-' || i, initcap(%s) || ' ' || %s, 'The ' || %s || ' of ' || %s"
          " FROM generate_series(1, %d) i" % (tid, w1, w1, w2, w1, w2, PROJECTS))
    owner("INSERT INTO environments (tenant_id, project_id, name, is_default)"
          " SELECT tenant_id, id, 'production', true FROM projects WHERE tenant_id = '%s'"
          " AND NOT EXISTS (SELECT 1 FROM environments e WHERE e.project_id = projects.id)" % tid)
    base = ("FROM (SELECT p.id AS pid, e.id AS eid, row_number() OVER (ORDER BY p.id) AS pn"
            " FROM projects p JOIN environments e ON e.project_id = p.id AND e.is_default"
            " WHERE p.tenant_id = '%s') p, generate_series(1, %%d) j" % tid)
    a1, a2 = words_sql(0, "pn * 1000 + j"), words_sql(1, "pn * 1000 + j")
    owner("INSERT INTO applications (tenant_id, project_id, environment_id, server_id, name,"
          " source_type, image_url) SELECT '%s', pid, eid, '%s', %s || '-' || %s || '-' || j,"
          " 'docker_image', 'registry.example.com/' || %s || ':v' || j %s"
          % (tid, server, a1, a2, a1, base % APPS))
    apps = ("FROM (SELECT a.id AS aid, a.project_id AS pid, a.environment_id AS eid, a.name AS aname,"
            " row_number() OVER (ORDER BY a.id) AS an FROM applications a WHERE a.tenant_id = '%s') a,"
            " generate_series(1, %%d) j" % tid)
    verbs = "(ARRAY['fix','add','remove','update','refactor','bump','revert','speed up'])[1 + (an + j) % 8]"
    m1, m2 = words_sql(2, "an * 10 + j"), words_sql(3, "an * 10 + j")
    owner("INSERT INTO deployments (tenant_id, project_id, environment_id, application_id, server_id,"
          " status, source, replicas, commit_sha, commit_message, branch)"
          " SELECT '%s', pid, eid, aid, '%s', 'succeeded', '{}', 1, encode(sha256((aid::text || j)::bytea), 'hex'),"
          " %s || ' ' || %s || ' ' || %s || E'\\n\\nin ' || aname, 'main' %s"
          % (tid, server, verbs, m1, m2, apps % (DEPLOYS // APPS)))
    k1, k2 = words_sql(4, "an * 10 + j"), words_sql(5, "an * 10 + j")
    owner("INSERT INTO env_vars (tenant_id, project_id, application_id, scope, key, value_sealed,"
          " value_length) SELECT '%s', pid, aid, 'application', upper(%s || '_' || %s) || '_' || j,"
          " 'sealed', 6 %s" % (tid, k1, k2, apps % (ENVS // APPS)))
    owner("INSERT INTO volumes (tenant_id, project_id, server_id, name)"
          " SELECT '%s', pid, '%s', %s || '-data-' || j %s" % (tid, server, a1, base % VOLS))
    owner("INSERT INTO domains (tenant_id, project_id, application_id, hostname)"
          " SELECT '%s', pid, aid, %s || '-' || an || '-' || j || '.' || %s || '.example.com' %s"
          % (tid, k1, m2, apps % (DOMS // APPS)))
    owner("INSERT INTO users (tenant_id, email, first_name, last_name, role)"
          " SELECT '%s', 'user' || i || '@' || %s || '.example.com', initcap(%s), 'Tester', 'user'"
          " FROM generate_series(1, %d) i" % (tid, words_sql(0, "i"), words_sql(1, "i"), USERS))
    try:   # databases need their volume and engine fields; made like the API makes them
        owner("WITH v AS (INSERT INTO volumes (tenant_id, project_id, server_id, name)"
              " SELECT '%s', pid, '%s', 'db-' || %s || '-' || j %s RETURNING id, project_id, name)"
              " INSERT INTO databases (tenant_id, project_id, environment_id, server_id, name, type,"
              " version, image, internal_host, port, volume_id, db_user, db_name, password_sealed)"
              " SELECT '%s', v.project_id, e.id, '%s', substr(v.name, 4), 'postgres', '16',"
              " 'postgres:16', 'db', 5432, v.id, 'app', 'app', 'sealed' FROM v"
              " JOIN environments e ON e.project_id = v.project_id AND e.is_default"
              % (tid, server, a2, base % DBS, tid, server))
    except RuntimeError as e:
        print("databases not made (%s); the other types stand" % str(e).splitlines()[0])
    owner("ANALYZE")
    n = owner("SELECT count(*) FROM search_documents WHERE tenant_id = '%s'" % tid)[0]
    print("loaded %s search documents in %.0f s" % (n, time.monotonic() - t0))
    return int(n)


def to_ms(v):
    for suf, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(suf):
            return float(v[:-len(suf)]) * f
    raise ValueError(v)


def wrk(url, key, script=None):
    args = ["wrk", "-t%d" % min(2, CONNS), "-c%d" % CONNS, "-d%ds" % SECS, "--latency", "-H", "x-lnchr-key: " + key]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit("non-2xx answers:\n" + out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    return rps, p50, p99


def main():
    c, _ = registered("bench")
    server = c.post("/servers", {"name": "srv-" + uuid.uuid4().hex[:8]})
    assert server.status == 201, server
    n = load(c.tid, server.data["id"])
    # The case, made last (after every name that shares its first
    # letters, so that table order cannot help): "shp" must find "shop".
    # As the owner, like the rest (the tenant is past its project quota).
    shop = owner("INSERT INTO projects (tenant_id, name) VALUES ('%s', 'shop') RETURNING id" % c.tid)[0]
    n += 1
    key = make_key(c, scopes=["read", "admin"])["key"]
    base = "http://127.0.0.1:%s/%s/api/v1" % (os.environ["LAUNCHER_HTTP_PORT"], c.tenant)
    from urllib.parse import quote
    paths = ["/%s/api/v1/search?q=%s" % (c.tenant, quote(q)) for q in QUERIES]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("local paths = {%s}\nlocal i = 0\nrequest = function()\n"
                "  i = i %% #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
                % ", ".join('"%s"' % p for p in paths))
        script = f.name
    # What each query finds (a sanity check of the data, not a timing).
    for q in QUERIES:
        r = c.get("/search?q=%s&limit=3" % quote(q))
        assert r.status == 200, r
        print("  %-22s -> %s" % (q, ", ".join("%s %s" % (h["type"], h["name"]) for h in r.data)))
    hits = c.get("/search?q=shp").data
    if shop not in [h["id"] for h in hits]:
        print("FAIL: \"shp\" does not find project \"shop\" among %d documents: %s"
              % (n, ", ".join(h["name"] for h in hits)))
        sys.exit(1)
    print("\"shp\" finds project \"shop\" (rank %d) among %d documents"
          % ([h["id"] for h in hits].index(shop) + 1, n))
    for _ in range(2):   # warm every worker's connection and plans
        wrk(base + "/auth/me", key)
        wrk(base + "/search?q=shop", key, script)
    res = {"search": [], "me": []}
    for i in range(ROUNDS):
        res["me"].append(wrk(base + "/auth/me", key))
        res["search"].append(wrk(base + "/search?q=shop", key, script))
        print("round %d: search %.0f req/s p50 %.2f ms p99 %.2f ms; /auth/me %.0f req/s p50 %.2f ms p99 %.2f ms"
              % ((i + 1,) + res["search"][-1] + res["me"][-1]))
    med = {k: [statistics.median(x[j] for x in v) for j in range(3)] for k, v in res.items()}
    print("wrk: %d threads, %d connections, %d s per case, %d interleaved rounds (medians); %d documents"
          % (min(2, CONNS), CONNS, SECS, ROUNDS, n))
    for k, name in (("search", "GET /search (%d queries in rotation)" % len(QUERIES)), ("me", "GET /auth/me")):
        print("%-40s %7.0f req/s   p50 %6.2f ms   p99 %6.2f ms" % ((name,) + tuple(med[k])))
    print("ratios search / auth/me: req/s %.2f, p50 %.2f, p99 %.2f   (goal: search p99 under 30 ms)"
          % (med["search"][0] / med["me"][0], med["search"][1] / med["me"][1], med["search"][2] / med["me"][2]))
    os.unlink(script)


if __name__ == "__main__":
    main()
