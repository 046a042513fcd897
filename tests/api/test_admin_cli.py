"""launcher-admin setup, doctor and migrate --dry-run (README "Operating Launcher",
"Health: launcher-admin doctor").

setup runs from nothing against a PostgreSQL cluster of its own (the suite's
binaries, initdb'ed here, peer authentication for postgres and passwords for
everyone else, as Debian's): the shared stack's roles and passwords are never
touched.  doctor runs on copies of the stack's config pointing at copied or
broken files, so the shared stack is never disturbed either.
"""
import glob
import hashlib
import os
import pwd
import random
import shutil
import subprocess
import time
import uuid

from lib import BIN, CONF, STATE, REPO, Skip, admin, pgpass, psql
from test_key_rotation import _conf as _conf_value

ADMIN = os.path.join(BIN, "launcher-admin")
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*/bin") else ""
PLANE_VERSION = open(os.path.join(REPO, "VERSION")).read().strip()


def _run(conf, *args, env=None):
    return subprocess.run([ADMIN, "-c", conf] + list(args), capture_output=True, text=True,
                          env=env, timeout=300)


def _conf_copy(path, **override):
    """The stack's launcher.conf with some keys replaced."""
    lines = []
    with open(CONF) as f:
        for line in f:
            if line.split("=", 1)[0].strip() not in override:
                lines.append(line)
    lines += ['%s = "%s"\n' % kv for kv in override.items()]
    with open(path, "w") as f:
        f.writelines(lines)


def _lines(out, prefix):
    return [l[len(prefix):] for l in out.splitlines() if l.startswith(prefix)]


def _workdir(tag):
    d = os.path.join(STATE, "admin-cli-" + tag)
    os.makedirs(d)
    return d


# ---- migrate --dry-run ---------------------------------------------------------------


def _spare_version():
    taken = {int(v) for v in psql("SELECT version FROM schema_migrations", user="launcher_owner")}
    free = [v for v in range(900, 999) if v not in taken]
    return random.choice(free)


def _migrations_copy(d, extra):
    """A copy of sql/ (setup/ included) plus extra {name: text}."""
    sql = os.path.join(d, "sql")
    shutil.copytree(os.path.join(REPO, "sql"), sql)
    for name, text in extra.items():
        with open(os.path.join(sql, name), "w") as f:
            f.write(text)
    return sql


def _forget(version, table):
    psql("DROP TABLE IF EXISTS launcher.%s; DELETE FROM schema_migrations WHERE version = %d"
         % (table, version), user="launcher_owner")


def test_migrate_dry_run_lists_the_pending_migration_changes_nothing_then_migrate_applies_it():
    tag = uuid.uuid4().hex[:8]
    v, table = _spare_version(), "admin_cli_" + tag
    name = "%03d_admin_cli_%s.sql" % (v, tag)
    d = _workdir(tag)
    sql = _migrations_copy(d, {name: "SET search_path = launcher;\nCREATE TABLE %s (id int);\n" % table})
    conf = os.path.join(d, "launcher.conf")
    _conf_copy(conf, migrations_dir=sql)
    try:
        before = psql("SELECT count(*) FROM schema_migrations", user="launcher_owner")
        out = _run(conf, "migrate", "--dry-run")
        assert out.returncode == 0, out.stderr
        assert _lines(out.stdout, "pending ") == [name], out.stdout
        assert "plan: 1 migration to apply" in out.stdout, out.stdout
        # Nothing changed: no table, no row.
        assert psql("SELECT to_regclass('launcher.%s') IS NULL" % table, user="launcher_owner") == ["t"]
        assert psql("SELECT count(*) FROM schema_migrations", user="launcher_owner") == before
        out = _run(conf, "migrate")
        assert out.returncode == 0, out.stderr
        assert "applied %s" % name in out.stdout, out.stdout
        assert psql("SELECT to_regclass('launcher.%s') IS NOT NULL" % table, user="launcher_owner") == ["t"]
        out = _run(conf, "migrate", "--dry-run")
        assert out.returncode == 0 and _lines(out.stdout, "pending ") == [], out.stdout
        assert "nothing to do" in out.stdout, out.stdout
        # The stack's own directory: nothing pending either.
        out = _run(CONF, "migrate", "--dry-run")
        assert "nothing to do" in out.stdout, out.stdout
    finally:
        _forget(v, table)
        shutil.rmtree(d)


def test_a_migration_blocked_by_a_lock_gives_up_waiting_after_the_lock_timeout_and_is_tried_again():
    """A migration waits 5 s at most for a lock (the pool's requests would
    queue behind its wait), then is rolled back and tried again."""
    tag = uuid.uuid4().hex[:8]
    v, table = _spare_version(), "admin_cli_" + tag
    psql("CREATE TABLE launcher.%s (id int)" % table, user="launcher_owner")
    name = "%03d_admin_cli_%s.sql" % (v, tag)
    d = _workdir(tag)
    sql = _migrations_copy(d, {name: "SET search_path = launcher;\nALTER TABLE %s ADD COLUMN b int;\n" % table})
    conf = os.path.join(d, "launcher.conf")
    _conf_copy(conf, migrations_dir=sql)
    env = dict(os.environ, PGPASSWORD=pgpass("launcher_owner"))
    port = os.environ.get("LAUNCHER_PG_PORT", "5488")
    # Holds the table's lock for 8 s (longer than one wait, shorter than the tries).
    holder = subprocess.Popen(["psql", "-X", "-q", "-h", os.path.join(STATE, "pg", "sock"), "-p", port,
                               "-U", "launcher_owner", "-d", "launcher", "-c",
                               "BEGIN; LOCK TABLE launcher.%s; SELECT pg_sleep(8); COMMIT;" % table],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                   " WHERE c.relname = '%s' AND l.mode = 'AccessExclusiveLock' AND l.granted" % table,
                   user="launcher_owner") != ["1"]:
            assert holder.poll() is None, "the lock holder ended early"
            time.sleep(0.05)
        out = _run(conf, "migrate")
        assert out.returncode == 0, out.stderr
        assert "%s waited 5s for a lock (attempt 1 of 5)" % name in out.stderr, out.stderr
        assert "applied %s" % name in out.stdout, out.stdout
        assert psql("SELECT count(*) FROM information_schema.columns WHERE table_name = '%s'"
                    " AND column_name = 'b'" % table, user="launcher_owner") == ["1"]
    finally:
        holder.wait(timeout=30)
        _forget(v, table)
        shutil.rmtree(d)


# ---- doctor on the stack ----------------------------------------------------------------


def _doctor_stack(conf):
    """doctor with conf: (exit code, ok lines, problem lines), the list at the end checked."""
    out = _run(conf, "doctor")
    oks, problems = _lines(out.stdout, "ok: "), _lines(out.stdout, "problem: ")
    listed = _lines(out.stdout, "  - ")
    assert listed == problems, out.stdout
    assert out.returncode == (1 if problems else 0), out.stdout + out.stderr
    return out.returncode, oks, problems


def _other_agents(problems):
    """Problems about agents of other versions are other modules' fake agents:
    each must name a server whose version is not the plane's."""
    rest = []
    for p in problems:
        if p.startswith("agents: server "):
            name, slug = p.split()[2], p.split()[5]
            got = psql("SELECT s.agent_version FROM servers s JOIN tenants t ON t.id = s.tenant_id"
                       " WHERE s.name = '%s' AND t.slug = '%s'" % (name, slug), user="launcher_owner")
            assert got and got[0] != PLANE_VERSION, p
        elif not p.startswith("agents: and more"):
            rest.append(p)
    return rest


def test_doctor_passes_on_the_stacks_setup():
    """The stack's own launcher.conf names its certificate and its nginx test."""
    rc, oks, problems = _doctor_stack(CONF)
    assert _other_agents(problems) == [], problems
    text = "\n".join(oks)
    for role in ("owner role launcher_owner", "api role launcher_api", "maint role launcher_maint"):
        assert "database: the %s connects" % role in text, text
    for what in ("config: %s parses" % CONF, "migrations: every file of", "master key: a ring of",
                 "pgpass %s" % os.path.join(STATE, "secrets", "pgpass"),
                 "tls: %s is valid for" % os.path.join(STATE, "tls", "cert.pem"), "nginx: `"):
        assert what in text, (what, text)


def test_doctor_lists_a_readable_key_file_a_broken_nginx_config_and_a_certificate_near_its_end():
    d = _workdir(uuid.uuid4().hex[:8])
    key = os.path.join(d, "master.key")
    shutil.copyfile(_conf_value("master_key_file"), key)
    os.chmod(key, 0o644)
    cert, tkey = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "5", "-subj", "/CN=localhost", "-keyout", tkey, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(tkey, 0o600)
    bad_nginx = os.path.join(d, "nginx.conf")
    with open(bad_nginx, "w") as f:
        f.write("events {}\nhttp { server { listen 127.0.0.1:1; no_such_directive on; } }\n")
    # With plane_hostname, the plane's own certificate (launcher-dnscheck's) is checked too.
    plane_cert = os.path.join(d, "plane-cert.pem")
    shutil.copyfile(cert, plane_cert)
    conf = os.path.join(d, "launcher.conf")
    _conf_copy(conf, master_key_file=key, tls_cert_file=cert, tls_key_file=tkey,
               nginx_test_command="nginx -t -q -p %s -c %s -e %s/error.log" % (d, bad_nginx, d),
               plane_hostname="plane.example.test", plane_tls_cert=plane_cert)
    try:
        rc, oks, problems = _doctor_stack(conf)
        rest = _other_agents(problems)
        assert rc == 1
        assert any(p.startswith("master key %s has mode 0644" % key) for p in rest), rest
        assert any(p.startswith("nginx: `nginx -t") and "no_such_directive" in p for p in rest), rest
        assert any(p.startswith("tls: %s expires in" % cert) for p in rest), rest
        assert any(p.startswith("plane tls: %s expires in" % plane_cert) for p in rest), rest
        assert len(rest) == 4, rest
        assert any(o.startswith("database: the owner role") for o in oks), oks
        # The stack's own key file is untouched.
        assert os.stat(_conf_value("master_key_file")).st_mode & 0o077 == 0
        # A key file of the wrong length (mode right) is named too.
        with open(key, "wb") as f:
            f.write(os.urandom(31))
        os.chmod(key, 0o600)
        rc, oks, problems = _doctor_stack(conf)
        assert any(p.startswith("master key: ") for p in _other_agents(problems)), problems
    finally:
        shutil.rmtree(d)


def test_doctor_reports_a_database_it_cannot_reach_and_checks_the_rest():
    d = _workdir(uuid.uuid4().hex[:8])
    conf = os.path.join(d, "launcher.conf")
    urls = {k: _conf_value(k).replace("host=%s" % os.path.join(STATE, "pg", "sock"), "host=%s" % d)
            for k in ("database_url", "admin_database_url", "maintenance_database_url")}
    assert all("host=%s" % d in u for u in urls.values()), urls
    _conf_copy(conf, nginx_test_command="", **urls)
    try:
        rc, oks, problems = _doctor_stack(conf)
        assert rc == 1
        for role in ("owner", "api", "maint"):
            assert any(p.startswith("database: the %s role cannot connect: " % role) for p in problems), problems
        assert "migrations, agents: not checked (the owner role cannot connect)" in problems, problems
        assert len(problems) == 4, problems
        assert any(o.startswith("master key: a ring of") for o in oks), oks
        assert "nginx: not checked (nginx_test_command is empty)" in oks, oks
    finally:
        shutil.rmtree(d)


def test_doctor_names_an_online_agent_whose_version_is_not_the_planes():
    slug = "adm-" + uuid.uuid4().hex[:8]
    admin("tenant", "create", slug)
    d = _workdir(uuid.uuid4().hex[:8])
    tok = os.path.join(d, "token")
    sid = admin("server", "ensure", slug, "old-agent", "--token-file", tok)
    # As its heartbeats would leave it (an hour between them: online for the whole test).
    psql("UPDATE servers SET status = 'online', agent_version = '0.0.1-old', last_seen_at = now(),"
         " heartbeat_interval_seconds = 3600 WHERE id = '%s'" % sid, user="launcher_owner")
    try:
        out = _run(CONF, "doctor")
        assert out.returncode == 1, out.stdout
        want = "agents: server old-agent of tenant %s runs agent 0.0.1-old, the plane is %s" % (slug, PLANE_VERSION)
        assert want in _lines(out.stdout, "problem: "), out.stdout
    finally:
        psql("DELETE FROM servers WHERE id = '%s'" % sid, user="launcher_owner")
        shutil.rmtree(d)


# ---- setup from nothing, on a cluster of its own --------------------------------------


class Cluster:
    """A PostgreSQL cluster of this test: a unix socket only, peer for the
    OS user postgres and scram-sha-256 for every other role (Debian's rules);
    every statement logged (to self.log), as log_statement=ddl would log a
    role's password."""

    def __init__(self, d):
        self.data, self.sock = os.path.join(d, "pg"), os.path.join(d, "sock")
        self.log = os.path.join(self.data, "log")
        for p in (self.data, self.sock):
            os.makedirs(p)
            shutil.chown(p, "postgres", "postgres")
        self._pg("initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--auth-local=peer",
                 "--auth-host=reject")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres peer\nlocal all all scram-sha-256\n")
        self._pg("pg_ctl", "-D", self.data, "-l", os.path.join(self.data, "log"), "-w", "-s", "-o",
                 "-k %s -c listen_addresses='' -p 5432 -c log_statement=all" % self.sock, "start")

    def _pg(self, prog, *args):
        out = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, prog)] + list(args),
                             capture_output=True, text=True, cwd="/", timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

    def sql(self, sql, db="postgres"):
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-h",
                              self.sock, "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, cwd="/", timeout=60)
        assert out.returncode == 0, out.stderr
        return [l for l in out.stdout.splitlines() if l]

    def stop(self):
        self._pg("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-s", "stop")


def _digest(paths):
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            st = os.stat(p)
            out[p] = (hashlib.sha256(f.read()).hexdigest(), st.st_mode & 0o7777, st.st_mtime_ns)
    return out


def test_setup_from_nothing_then_again_changes_nothing_and_doctor_passes():
    if os.geteuid() != 0 or not PG_BIN:
        raise Skip("needs root and PostgreSQL's binaries (initdb of a cluster of its own)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Skip("no OS user postgres")
    d = _workdir(uuid.uuid4().hex[:8])
    os.chmod(d, 0o755)
    pg = Cluster(d)
    etc = os.path.join(d, "etc")
    os.makedirs(etc)
    pgpass_file, key = os.path.join(etc, "pgpass"), os.path.join(etc, "master.key")
    cert, tkey = os.path.join(etc, "tls", "cert.pem"), os.path.join(etc, "tls", "key.pem")
    url = "host=%s port=5432 dbname=launcher user=%%s passfile=%s" % (pg.sock, pgpass_file)
    conf = os.path.join(etc, "launcher.conf")
    with open(conf, "w") as f:
        f.write('database_url = "%s"\nadmin_database_url = "%s"\nmaintenance_database_url = "%s"\n'
                % (url % "launcher_api", url % "launcher_owner", url % "launcher_maint"))
        f.write('migrations_dir = "%s"\nmaster_key_file = "%s"\ntls_cert_file = "%s"\n'
                'tls_key_file = "%s"\npublic_url = "https://plane.example.test"\nnginx_test_command = ""\n'
                % (os.path.join(REPO, "sql"), key, cert, tkey))
    # psql as postgres finds this cluster through PGHOST/PGPORT (the default socket otherwise).
    env = dict(os.environ, PGHOST=pg.sock, PGPORT="5432")
    try:
        out = _run(conf, "setup", "--tenant", "first", "--tenant-name", "First One", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        for role in ("launcher_owner", "launcher_api", "launcher_maint"):
            assert "pgpass: a new password for %s in %s" % (role, pgpass_file) in out.stdout, out.stdout
        assert "master key: new, %s" % key in out.stdout, out.stdout
        assert "applied 001_foundation.sql" in out.stdout, out.stdout
        assert "tenant: first (" in out.stdout, out.stdout
        assert "tls: a self-signed certificate for plane.example.test" in out.stdout, out.stdout
        assert "systemctl enable --now launcher-fcgi" in out.stdout, out.stdout
        assert "https://plane.example.test/first/api/v1/auth/register" in out.stdout, out.stdout
        # The secrets: 0600; 32 bytes of key; one line per role; no password on the terminal.
        for p in (pgpass_file, key, tkey):
            assert os.stat(p).st_mode & 0o777 == 0o600, p
        assert os.path.getsize(key) == 32
        with open(pgpass_file) as f:
            pw = {l.split(":")[3]: l.strip().split(":")[4] for l in f if not l.startswith("#")}
        assert sorted(pw) == ["launcher_api", "launcher_maint", "launcher_owner"], pw
        for p in pw.values():
            assert p not in out.stdout + out.stderr
        # The roles: least privilege; the database is the owner's; the tenant is there.
        assert pg.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'launcher%' AND rolcanlogin AND NOT"
                      " (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb) ORDER BY 1") == \
            ["launcher_api", "launcher_maint", "launcher_owner"]
        assert pg.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'launcher'") == ["launcher_owner"]
        assert pg.sql("SELECT name FROM launcher.tenants WHERE slug = 'first'", db="launcher") == ["First One"]
        san = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                             capture_output=True, text=True).stdout
        assert "DNS:plane.example.test" in san, san

        # Again: nothing new, nothing rewritten.
        files = _digest([pgpass_file, key, cert, tkey])
        migrations = pg.sql("SELECT count(*) FROM launcher.schema_migrations", db="launcher")
        out = _run(conf, "setup", "--tenant", "first", "--tenant-name", "First One", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "pgpass: a new password" not in out.stdout and "master key: new" not in out.stdout, out.stdout
        assert "applied " not in out.stdout and "migrations: 0 applied" in out.stdout, out.stdout
        assert "master key: %s is there (kept)" % key in out.stdout, out.stdout
        assert "tls: %s is there (kept)" % cert in out.stdout, out.stdout
        assert _digest([pgpass_file, key, cert, tkey]) == files
        assert pg.sql("SELECT count(*) FROM launcher.schema_migrations", db="launcher") == migrations
        assert pg.sql("SELECT count(*) FROM launcher.tenants", db="launcher") == ["1"]

        # Again through --superuser-url (a superuser with a password, given by PGPASSFILE).
        pg.sql("CREATE ROLE su_%s SUPERUSER LOGIN PASSWORD 'su-pw-%s'" % (d[-8:], d[-8:]))
        su_pass = os.path.join(d, "su.pgpass")
        with open(su_pass, "w") as f:
            f.write("*:*:*:su_%s:su-pw-%s\n" % (d[-8:], d[-8:]))
        os.chmod(su_pass, 0o600)
        out = _run(conf, "setup", "--tenant", "first", "--superuser-url",
                   "host=%s port=5432 user=su_%s" % (pg.sock, d[-8:]),
                   env=dict(os.environ, PGPASSFILE=su_pass))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "(--superuser-url)" in out.stdout, out.stdout
        assert _digest([pgpass_file, key, cert, tkey]) == files
        # A password in the URL would be in argv: refused, nothing run.
        for bad in ("postgresql://su_%s:su-pw-%s@/postgres?host=%s" % (d[-8:], d[-8:], pg.sock),
                    "host=%s user=su_%s password=su-pw-%s" % (pg.sock, d[-8:], d[-8:])):
            out = _run(conf, "setup", "--superuser-url", bad)
            assert out.returncode == 2 and "holds a password" in out.stderr and \
                "PGPASSFILE" in out.stderr, out.stdout + out.stderr
            assert "su-pw-" not in out.stdout + out.stderr

        # Three setups, every statement logged: the roles got SCRAM verifiers
        # computed here, the server never saw a password.
        with open(pg.log, errors="replace") as f:
            log = f.read()
        assert "ALTER ROLE launcher_api" in log and "SCRAM-SHA-256$4096:" in log, log[-2000:]
        for p in pw.values():
            assert p not in log, "a role's password is in the server's log"
        assert pg.sql("SELECT count(*) FROM pg_authid WHERE rolname LIKE 'launcher%' AND"
                      " rolpassword LIKE 'SCRAM-SHA-256$%'") == ["3"]

        # doctor: no problem on it; then the key readable by others is one.
        out = _run(conf, "doctor")
        assert out.returncode == 0 and out.stdout.rstrip().endswith("doctor: no problem"), out.stdout
        assert "ok: sealed values: none in the database yet" in out.stdout, out.stdout
        os.chmod(key, 0o640)
        out = _run(conf, "doctor")
        assert out.returncode == 1, out.stdout
        assert _lines(out.stdout, "  - ") == [
            "master key %s has mode 0640: group or others may read it (chmod 0600 %s)" % (key, key)], out.stdout

        # A sealed value the key does not open (as after a purge and a new key): doctor names
        # it. Then the key file lost: setup makes no new key unless told (--new-master-key).
        os.chmod(key, 0o600)
        pg.sql("INSERT INTO launcher.tenant_smtp (tenant_id, host, port, tls_mode, password_sealed,"
               " from_address) SELECT id, 'smtp.example.test', 25, 'none', 'sealed-elsewhere',"
               " 'a@example.test' FROM launcher.tenants WHERE slug = 'first'", db="launcher")
        out = _run(conf, "doctor")
        problems = _lines(out.stdout, "  - ")
        assert out.returncode == 1 and len(problems) == 1 and problems[0].startswith(
            "sealed values: tenant_smtp.password_sealed of row ") and \
            ("does not open with %s" % key) in problems[0], out.stdout
        os.rename(key, key + ".lost")
        out = _run(conf, "setup", "--tenant", "first", env=env)
        assert out.returncode == 1 and "already holds values sealed with a master key" in out.stderr \
            and "--new-master-key" in out.stderr, out.stdout + out.stderr
        assert not os.path.exists(key) and "master key: new" not in out.stdout, out.stdout
        out = _run(conf, "setup", "--tenant", "first", "--new-master-key", env=env)
        assert out.returncode == 0 and "master key: new, %s" % key in out.stdout, out.stdout + out.stderr

        # A bad option changes nothing and says why.
        out = _run(conf, "setup", "--tenant", "Not A Slug", env=env)
        assert out.returncode == 2 and "--tenant must match" in out.stderr, out.stderr
    finally:
        pg.stop()
        shutil.rmtree(d)


def test_setup_without_root_or_a_superuser_url_says_how_to_run_it():
    """Not root and no --superuser-url: a clear message, and nothing written."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    if os.geteuid() != 0:
        raise Skip("needs root to run as nobody")
    d = _workdir(uuid.uuid4().hex[:8])
    os.chmod(d, 0o777)
    conf = os.path.join(d, "launcher.conf")
    url = "host=/nonexistent dbname=launcher user=%%s passfile=%s/pgpass" % d
    with open(conf, "w") as f:
        f.write('database_url = "%s"\nadmin_database_url = "%s"\nmaintenance_database_url = "%s"\n'
                'migrations_dir = "%s"\nmaster_key_file = "%s/master.key"\n'
                % (url % "launcher_api", url % "launcher_owner", url % "launcher_maint",
                   os.path.join(REPO, "sql"), d))
    os.chmod(conf, 0o644)
    try:
        out = subprocess.run(["runuser", "-u", "nobody", "--", ADMIN, "-c", conf, "setup"],
                             capture_output=True, text=True, cwd="/", timeout=60)
        assert out.returncode == 1, out.stdout + out.stderr
        assert "run it as root on the PostgreSQL host, or pass --superuser-url URL" in out.stderr, out.stderr
        assert os.listdir(d) == ["launcher.conf"], os.listdir(d)
    finally:
        shutil.rmtree(d)
