#!/usr/bin/python3
"""tests/lib/token_server.py - a registry token server for the tests: the
Bearer side of the registry v2 login (the "token" auth of Debian's
docker-registry, distribution 2.8), on 127.0.0.1:<free port>.

    /usr/bin/python3 tests/lib/token_server.py DIR < {"user": ..., "password": ...,
                                                     "issuer": ..., "service": ...}

The credentials come on stdin (one JSON line), never argv.  It makes an RSA
key and a self-signed certificate for it, writes the certificate to
DIR/token-cert.pem (the registry's `auth: token: rootcertbundle`), prints
its port on stdout and serves until killed:

  GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
      with Basic user:password -> 200 {"token", "access_token", "expires_in",
      "issued_at"}: a JWT (RS256, header "kid" = the key's libtrust id, which
      is how distribution finds it in the bundle) with iss, sub, aud = S, exp,
      nbf, iat, jti and "access" granting the requested actions;
      anything else -> 401 with a Basic challenge.

Every request is one line of DIR/token.log (path, service, scope, status;
never a credential or a token).
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import sys
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def libtrust_kid(public_key):
    """distribution's key id: base32 of SHA-256(DER SubjectPublicKeyInfo)[:30], 4-char groups."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    s = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


def make_key(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "launcher-test token signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(path + ".tmp", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(path + ".tmp", path)
    return key


def jwt(key, claims):
    header = {"typ": "JWT", "alg": "RS256", "kid": libtrust_kid(key.public_key())}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing + "." + b64url(sig)


def access_of(scopes):
    """repository:NAME:pull,push -> [{type, name, actions}] (NAME may hold ':' as host:port)."""
    out = []
    for s in scopes:
        typ, _, rest = s.partition(":")
        name, _, actions = rest.rpartition(":")
        if typ and name:
            out.append({"type": typ, "name": name, "actions": [a for a in actions.split(",") if a]})
    return out


def main():
    state = sys.argv[1]
    cfg = json.loads(sys.stdin.readline())
    key = make_key(os.path.join(state, "token-cert.pem"))
    want = base64.b64encode(("%s:%s" % (cfg["user"], cfg["password"])).encode()).decode()
    log = open(os.path.join(state, "token.log"), "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            got = self.headers.get("Authorization", "")
            ok = got.startswith("Basic ") and hmac.compare_digest(got[6:].strip(), want)
            status = 200 if ok and u.path == "/token" else 401
            log.write("%s service=%s scope=%s -> %d\n" % (
                u.path, ",".join(q.get("service", [])), " ".join(q.get("scope", [])), status))
            if status != 200:
                body = b'{"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}'
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="launcher-test-token"')
            else:
                now = int(time.time())
                tok = jwt(key, {"iss": cfg["issuer"], "sub": cfg["user"],
                                "aud": q.get("service", [cfg["service"]])[0],
                                "exp": now + 300, "nbf": now - 10, "iat": now,
                                "jti": uuid.uuid4().hex, "access": access_of(q.get("scope", []))})
                body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300,
                                   "issued_at": datetime.datetime.now(datetime.timezone.utc)
                                   .strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
