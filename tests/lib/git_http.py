"""A real git server over HTTP with Basic auth, for the tests: git's own
git-http-backend (the smart HTTP protocol) run as a CGI program behind a
small HTTP server that checks the credentials first.

    git_http.py ROOT USER PASSWORD    serves ROOT on 127.0.0.1, a free port;
                                      prints the port on stdout, then serves
                                      until killed.

Every request must carry the credentials (git sends them after a 401), so
an unauthenticated or wrong clone fails as it would against a hosting
service."""
import base64
import http.server
import os
import subprocess
import sys

BACKEND = "/usr/lib/git-core/git-http-backend"


def main():
    root, user, password = sys.argv[1:4]
    want = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def serve(self):
            if self.headers.get("Authorization") != want:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="launcher-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                       QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER=user,
                       CONTENT_TYPE=self.headers.get("Content-Type", ""),
                       CONTENT_LENGTH=str(len(body)), GATEWAY_INTERFACE="CGI/1.1")
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            out = subprocess.run([BACKEND], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.split(b"\r\n"):
                k, _, v = line.decode().partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = serve
        do_POST = serve

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ports import free_port
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
