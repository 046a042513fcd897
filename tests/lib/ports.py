#!/usr/bin/env python3
"""ports.py - a free loopback TCP port for a test server: free_port(), or
run alone to print one.

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
import subprocess


def _dnat_ports():
    try:
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {int(m) for line in out.splitlines() if "DNAT" in line or "HOSTPORT" in line
            for m in re.findall(r"--dport (\d+)", line)}


def free_port():
    taken = _dnat_ports()
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in taken:
            return port
    raise RuntimeError("no free loopback port without a DNAT rule")


if __name__ == "__main__":
    print(free_port())
