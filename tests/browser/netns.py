"""tests/browser/netns.py NETNS PORT... - the browser's own network: TCP
forwarders from 127.0.0.1:PORT inside the network namespace NETNS (made by
tests/browser/run.sh: only a loopback, where chromium runs) to 127.0.0.1:PORT
of this host (the stack's nginx: HTTPS for the dashboard, HTTP for the edge).

Why: chromium aborts its requests (net::ERR_NETWORK_CHANGED, then
ERR_SOCKET_NOT_CONNECTED) whenever the host's interfaces change, and on this
machine they change all the time: every Podman network the tests' projects
create adds a bridge and veths.  In a namespace of its own, chromium sees one
loopback that never changes.

Each listening socket is made inside NETNS (setns(2) there and back: a
socket stays in the namespace it was made in); each connection to this host
is made from the host's namespace.  Runs until killed."""
import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def listeners(netns, ports):
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + netns, os.O_RDONLY)
    socks = []
    setns(target)
    try:
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(256)
            s.setblocking(False)
            socks.append((port, s))
    finally:
        setns(host)
        os.close(host)
        os.close(target)
    return socks


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def handler(port):
    async def serve(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
    return serve


async def main(netns, ports):
    servers = [await asyncio.start_server(handler(port), sock=s) for port, s in listeners(netns, ports)]
    print("netns.py: forwarding %s in %s" % (" ".join(map(str, ports)), netns), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
