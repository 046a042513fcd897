#!/usr/bin/env python3
"""dnsmasq.py - an authoritative DNS server for tests: Debian's dnsmasq
(dnsmasq-base) on a loopback port, answering only from records the tests
write, plus servers that misbehave on purpose.

    dns = Dns(state_dir="/tmp/x")          # port=None: a free one
    dns.start()
    dns.set("shop.test", [("A", "127.0.0.1")])
    dns.set("_lnchr-verify.shop.test", [("TXT", "lnchr-verify=abc")])
    dns.set("www.test", [("CNAME", "app.apps.test")])
    dns.remove("shop.test")
    dns.stop()

dnsmasq reads its records only at start, so each change rewrites the
configuration and restarts it on the same port (a fraction of a second).
It runs as a child in the foreground (--keep-in-foreground), never as a
daemon: --no-resolv --no-hosts --port=P --listen-address=127.0.0.1
--bind-interfaces --conf-file=<generated>.  Names under its zones
(--local, default "test") that have no record answer NXDOMAIN; names
outside them REFUSED (no upstream).  The records and the pid live in
state_dir, so another process (the API tests, given LAUNCHER_TEST_DNS_DIR)
can attach with Dns(state_dir=...) and change them: it restarts the
dnsmasq it finds in the pid file.

dnsmasq answers a --cname only when the target is known to it: a target
without records of its own gets an A record 127.0.0.1 in the generated
configuration (not in .records).

Misbehaving servers, for the failure classes:
    Silent()              a UDP server that reads queries and never answers (timeout)
    Rcode(2)              answers every query with that rcode (2 SERVFAIL, 5 REFUSED)
    dns.forward("sf.test", "127.0.0.1#%d" % Rcode(2).port)   a zone dnsmasq forwards there

Command line (for shell scripts): dnsmasq.py start DIR [PORT] prints the
port; dnsmasq.py set DIR NAME TYPE VALUE; dnsmasq.py stop DIR.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_ports  # noqa: E402

DNSMASQ = "/usr/sbin/dnsmasq"
TYPES = ("A", "AAAA", "CNAME", "TXT")


def _free_port():
    """A port free for TCP (ports.py) and for UDP."""
    for port in free_ports(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free loopback port for DNS")


def query_bytes(name, qtype=1, qid=0x4c4e):
    """A DNS query (RD set) for name, as bytes."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def ask(port, name, qtype=1, timeout=1.0):
    """Sends one query to 127.0.0.1:port; the reply's rcode, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(query_bytes(name, qtype), ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return data[3] & 0x0F
    except OSError:
        return None
    finally:
        s.close()


class Dns:
    def __init__(self, port=None, state_dir=None, zones=("test",)):
        if state_dir is None:
            raise ValueError("state_dir is required")
        self.state_dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.proc = None
        saved = self._load()
        self.port = port or saved.get("port")
        self.zones = list(saved.get("zones") or zones)
        self.records = saved.get("records", {})
        self.forwards = saved.get("forwards", {})

    # -- state shared through state_dir
    def _path(self, name):
        return os.path.join(self.state_dir, name)

    def _load(self):
        try:
            with open(self._path("records.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save(self):
        tmp = self._path("records.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"port": self.port, "zones": self.zones, "records": self.records,
                       "forwards": self.forwards}, f)
        os.replace(tmp, self._path("records.json"))

    def _conf(self):
        lines = ["local=/%s/" % z for z in self.zones]
        lines += ["server=/%s/%s" % (z, to) for z, to in sorted(self.forwards.items())]
        targets = set()
        for name, recs in sorted(self.records.items()):
            for kind, value in recs:
                if kind == "A" or kind == "AAAA":
                    lines.append("host-record=%s,%s" % (name, value))
                elif kind == "TXT":
                    lines.append('txt-record=%s,"%s"' % (name, value.replace('"', '')))
                elif kind == "CNAME":
                    lines.append("cname=%s,%s" % (name, value))
                    targets.add(value)
        for t in sorted(targets - set(self.records)):
            lines.append("host-record=%s,127.0.0.1" % t)
        return "\n".join(lines) + "\n"

    # -- the process
    def _pid(self):
        try:
            with open(self._path("dnsmasq.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _kill(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        else:
            pid = self._pid()
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                    for _ in range(200):
                        os.kill(pid, 0)
                        time.sleep(0.02)
                except ProcessLookupError:
                    pass
        try:
            os.unlink(self._path("dnsmasq.pid"))
        except FileNotFoundError:
            pass

    def _spawn(self):
        conf = self._path("dnsmasq.conf")
        with open(conf, "w") as f:
            f.write(self._conf())
        log = open(self._path("dnsmasq.log"), "ab")
        self.proc = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
             "--conf-file=" + conf, "--pid-file=", "--log-facility=-"]
            + (["--user=" + "root"] if os.geteuid() == 0 else []),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        with open(self._path("dnsmasq.pid"), "w") as f:
            f.write(str(self.proc.pid))
        # Ready when it answers (REFUSED outside its zones is an answer).
        for _ in range(250):
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited (%s): %s" % (
                    self.proc.returncode, open(self._path("dnsmasq.log")).read()[-500:]))
            if ask(self.port, "ready.%s" % self.zones[0], timeout=0.2) is not None:
                return
            time.sleep(0.02)
        raise RuntimeError("dnsmasq did not answer on port %d" % self.port)

    def start(self):
        if self.port is None:
            self.port = _free_port()
        self._save()
        self._kill()
        self._spawn()
        return self

    def _restart(self):
        self._save()
        self._kill()
        self._spawn()

    def stop(self):
        self._kill()

    # -- records
    def set(self, name, records):
        """Replaces the records of name: [(type, value)], type A/AAAA/CNAME/TXT."""
        for kind, _ in records:
            if kind not in TYPES:
                raise ValueError("record type %r" % kind)
        self.records = self._load().get("records", self.records)
        self.records[name.rstrip(".").lower()] = [list(r) for r in records]
        self._restart()

    def set_many(self, names):
        """set() of many names at once ({name: records}): one restart."""
        self.records = self._load().get("records", self.records)
        for name, records in names.items():
            self.records[name.rstrip(".").lower()] = [list(r) for r in records]
        self._restart()

    def remove(self, name):
        self.records = self._load().get("records", self.records)
        if self.records.pop(name.rstrip(".").lower(), None) is not None:
            self._restart()

    def forward(self, zone, to):
        """Queries under zone go to to ("127.0.0.1#PORT"): a misbehaving server."""
        self.forwards = self._load().get("forwards", self.forwards)
        self.forwards[zone] = to
        self._restart()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


class _Udp:
    """A UDP server on a free loopback port, run by a daemon thread."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.reply(data, peer)

    def reply(self, data, peer):
        pass

    def stop(self):
        self.sock.close()


class Silent(_Udp):
    """Reads every query, answers none: the client times out."""


class Rcode(_Udp):
    """Answers every query with the question echoed and the given rcode."""

    def __init__(self, rcode):
        self.rcode = rcode
        super().__init__()

    def reply(self, data, peer):
        if len(data) < 12:
            return
        flags = 0x8000 | (struct.unpack(">H", data[2:4])[0] & 0x0100) | 0x0080 | self.rcode
        out = data[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 0) + data[12:]
        try:
            self.sock.sendto(out, peer)
        except OSError:
            pass


def main(argv):
    if len(argv) >= 3 and argv[1] == "start":
        d = Dns(port=int(argv[3]) if len(argv) > 3 else None, state_dir=argv[2]).start()
        d.proc = None  # leave it running: stop DIR ends it by its pid file
        print(d.port)
    elif len(argv) == 6 and argv[1] == "set":
        Dns(state_dir=argv[2]).set(argv[3], [(argv[4], argv[5])])
    elif len(argv) == 3 and argv[1] == "stop":
        Dns(state_dir=argv[2]).stop()
    else:
        sys.stderr.write("usage: dnsmasq.py start DIR [PORT] | set DIR NAME TYPE VALUE | stop DIR\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
