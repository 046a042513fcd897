#!/usr/bin/env python3
"""ports.py - free loopback TCP ports for test servers: free_port(),
free_ports(n) (distinct), or run alone to print n of them (default 1).

bind(0) alone is not enough on a machine where the container engine's
firewall has DNAT rules for 127.0.0.1:<port> left behind by containers that
are gone (netavark keeps some): traffic to such a port never reaches the
process that now listens on it.  The agent keeps the ports it publishes out
of the kernel's ephemeral range (host_ports), but rules an older run left
there stay until the firewall is reset, so ports that any DNAT rule names
are skipped here.
"""
import re
import socket
import sys
import subprocess


def _dnat_ports():
    try:
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {int(m) for line in out.splitlines() if "DNAT" in line or "HOSTPORT" in line
            for m in re.findall(r"--dport (\d+)", line)}


def free_ports(n):
    """n distinct free ports: the sockets stay bound until all are chosen,
    so the kernel cannot hand the same port out twice."""
    taken, held, ports = _dnat_ports(), [], []
    try:
        for _ in range(100 * n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if port not in taken and port not in ports:
                ports.append(port)
                if len(ports) == n:
                    return ports
    finally:
        for s in held:
            s.close()
    raise RuntimeError("no free loopback port without a DNAT rule")


def free_port():
    return free_ports(1)[0]


if __name__ == "__main__":
    print(" ".join(str(p) for p in free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
