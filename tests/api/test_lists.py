"""The one list implementation: limit, signed keyset cursors, stable order
under concurrent inserts and deletes."""
import base64
import threading
import time
import uuid

from lib import Client, admin, assert_error, make_key, new_project, psql, registered


def _pages(c, path, limit):
    seen, cursor, pages = [], None, 0
    while True:
        q = "%s?limit=%d" % (path, limit) + ("&cursor=" + cursor if cursor else "")
        r = c.get(q)
        assert r.status == 200, r
        assert len(r.data) <= limit
        seen += r.data
        pages += 1
        cursor = r.json["meta"]["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 1000, "runaway pagination"


def test_thousand_projects_each_visited_once_in_order_under_churn():
    c, _ = registered()
    # A thousand projects are ten times the default quota (sql/018_quotas.sql).
    admin("quota", "set", c.tenant, "projects", "unlimited")
    psql("INSERT INTO projects (tenant_id, name) SELECT '%s', 'bulk-' || g"
         " FROM generate_series(1, 1000) g" % c.tid, user="launcher_owner")
    original = set(psql("SELECT id FROM projects WHERE tenant_id = '%s'" % c.tid, user="launcher_owner"))
    assert len(original) == 1000
    stop = threading.Event()
    churn = {"inserted": 0, "deleted": 0}

    def churner():
        # Inserts new projects and deletes them again while the pages are read.
        while not stop.is_set():
            p = new_project(c)
            churn["inserted"] += 1
            assert c.delete("/projects/" + p["id"]).status == 204
            churn["deleted"] += 1
    t = threading.Thread(target=churner)
    t.start()
    try:
        seen, pages = _pages(c, "/projects", 50)
    finally:
        stop.set()
        t.join()
    ids = [p["id"] for p in seen]
    assert len(ids) == len(set(ids)), "a project was listed twice"
    visited = [i for i in ids if i in original]
    assert len(visited) == 1000 and set(visited) == original, len(visited)
    keys = [(p["created_at"], p["id"]) for p in seen]
    assert churn["inserted"] > 0 and churn["deleted"] > 0, churn
    assert pages >= 20
    # Order: (created_at, id) never goes backwards (created_at shown to the second).
    assert all(keys[i][0] <= keys[i + 1][0] for i in range(len(keys) - 1))


def test_forged_corrupted_and_foreign_cursors_are_400():
    c, _ = registered()
    for _ in range(3):
        new_project(c)
    r = c.get("/projects?limit=1")
    cur = r.json["meta"]["next_cursor"]
    assert cur and c.get("/projects?limit=1&cursor=" + cur).status == 200
    payload, mac = cur.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    ts, pid = raw.split("|")
    forged_payload = base64.urlsafe_b64encode(("%s|%s" % (ts, uuid.uuid4())).encode()).decode().rstrip("=")
    flipped = cur[:-2] + ("A" if cur[-2] != "A" else "B") + cur[-1]
    assert_error(c.get("/projects?limit=1&cursor=%00"), 400, "BAD_REQUEST")
    for bad in ("abc", "", flipped, forged_payload + "." + mac, cur + "x", "...."):
        r = c.get("/projects?limit=1&cursor=" + bad)
        if bad == "":
            assert r.status == 200
            continue
        assert_error(r, 400, "BAD_REQUEST", field="cursor")
    # A cursor of another list, or of another tenant, is not a cursor here.
    make_key(c)
    make_key(c)
    kc = c.get("/settings/service-keys?limit=1").json["meta"]["next_cursor"]
    assert kc and c.get("/settings/service-keys?limit=1&cursor=" + kc).status == 200
    assert_error(c.get("/projects?limit=1&cursor=" + kc), 400, "BAD_REQUEST", field="cursor")
    d, _ = registered()
    assert_error(d.get("/projects?limit=1&cursor=" + cur), 400, "BAD_REQUEST", field="cursor")


def test_limit_bounds_and_default():
    c, _ = registered()
    for _ in range(3):
        new_project(c)
    assert len(c.get("/projects").data) == 3
    for bad in ("0", "201", "-1", "1.5", "x"):
        assert_error(c.get("/projects?limit=" + bad), 400, "BAD_REQUEST", field="limit")
    assert c.get("/projects?limit=200").status == 200


def _list_index_reads(c):
    """projects_list's scans and entries read, once every pool backend has
    reported: a backend reports at the end of a transaction when its last
    report is 1 s old, so 1.1 s of quiet and then a few requests (on every
    worker) bring the figures up to date."""
    time.sleep(1.1)
    for _ in range(20):
        assert c.get("/auth/me").status == 200
    row = psql("SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes"
               " WHERE indexrelname = 'projects_list'", user="launcher_owner")[0]
    return [int(x) for x in row.split("|")]


def test_every_page_reads_only_its_own_rows_from_the_index():
    """The keyset condition is an index condition under row-level security:
    walking 600 projects 50 at a time reads ~612 index entries.  As a filter
    (what it was while wrapped in COALESCE) page k read its k*50 predecessors
    again: ~3900.  Counted by PostgreSQL's statistics (pg_stat_user_indexes)."""
    c, _ = registered("deep")
    tid = psql("SELECT id FROM tenants WHERE slug = '%s'" % c.tenant, user="launcher_owner")[0]
    psql("INSERT INTO projects (tenant_id, name) SELECT '%s', 'deep-' || g"
         " FROM generate_series(1, 600) g" % tid, user="launcher_owner")
    # Fresh statistics, as autovacuum would bring them (and with them a new
    # plan for the workers' prepared list): a plan made while the table was
    # small (a sort of a few rows) would not show what this test is about.
    psql("ANALYZE projects", user="launcher_owner")
    scans0, read0 = _list_index_reads(c)
    seen, pages = _pages(c, "/projects", 50)
    assert len(seen) == 600 and pages == 12, (len(seen), pages)
    scans, read = _list_index_reads(c)
    assert scans - scans0 == pages, (scans - scans0, pages)
    assert read - read0 < 1000, "the list read %d index entries for 600 rows" % (read - read0)
