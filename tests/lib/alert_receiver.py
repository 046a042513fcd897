"""A local HTTP receiver standing in for the endpoints alerts are delivered
to: Slack and Discord incoming webhooks and tenants' own webhook receivers.

CONTRACT TEST STAND-IN: it is not Slack or Discord.  It records every
request (path, headers, raw body) and answers as told: `fail` 500s first
(then 200, or 204 as Discord's webhook does without ?wait=true), or `hang`
(accepts the request and answers nothing for `hang` seconds, longer than
the plane's alert_timeout_seconds).  The tests check the recorded payloads
against the shapes the providers document (tests/api/test_alerts.py).

    r = Receiver(fail=3); r.start(); ... r.url("/hook") ... r.requests; r.stop()
"""
import http.server
import threading
import time


class Receiver:
    def __init__(self, fail=0, hang=0.0, ok_status=200):
        self.fail, self.hang, self.ok_status = fail, hang, ok_status
        self.requests = []          # dicts: path, headers (lower-case keys), body (bytes), answered
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.cond:
                    hang = outer.hang
                    if hang <= 0 and outer.fail > 0:
                        outer.fail -= 1
                        status = 500
                    else:
                        status = outer.ok_status
                    outer.requests.append({"path": self.path, "body": body,
                                           "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "status": None if hang > 0 else status})
                    outer.cond.notify_all()
                if hang > 0:
                    time.sleep(hang)
                    return
                payload = b"" if status == 204 else (b"ok" if status < 300 else b"server error")
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, n, timeout=30.0):
        """Waits until n requests arrived; returns them."""
        deadline = time.time() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("receiver: %d of %d requests within %ss"
                                         % (len(self.requests), n, timeout))
                self.cond.wait(left)
            return list(self.requests)
