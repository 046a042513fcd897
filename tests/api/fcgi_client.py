"""A minimal FastCGI client (responder role) for talking to the pool
directly, without nginx: used to test the pool's own behaviour."""
import socket
import struct

BEGIN, END, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7


def _record(rtype, content, req_id=1):
    return struct.pack("!BBHHBx", 1, rtype, req_id, len(content), 0) + content


def _pair(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    return out + name + value


def send_request(path, params=None, method="GET", body=b"", sock_path=None):
    """Sends one request; returns the connected socket (read with read_response)."""
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
           "QUERY_STRING": "", "REQUEST_ID": "0" * 32, "REMOTE_ADDR": "127.0.0.1",
           "CONTENT_LENGTH": str(len(body))}
    if body:
        env["CONTENT_TYPE"] = "application/json"
    env.update(params or {})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    p = b"".join(_pair(k.encode(), v.encode()) for k, v in env.items())
    data = _record(BEGIN, struct.pack("!HB5x", 1, 0)) + _record(PARAMS, p) + _record(PARAMS, b"")
    if body:
        data += _record(STDIN, body)
    data += _record(STDIN, b"")
    s.sendall(data)
    return s


def read_response(s):
    """Reads records until END_REQUEST; returns (status, headers, body)."""
    buf, out = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before END_REQUEST")
        buf += chunk
        while len(buf) >= 8:
            _, rtype, _, clen, plen = struct.unpack("!BBHHB", buf[:7])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == STDOUT:
                out += content
            elif rtype == END:
                s.close()
                head, _, body = out.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = dict(l.split(": ", 1) for l in lines if ": " in l)
                status = int(headers.get("Status", "200").split()[0])
                return status, headers, body
