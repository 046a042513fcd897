#!/usr/bin/python3
"""Local SMTP mail catcher for Launcher.

Accepts every message on 127.0.0.1 and stores it as one .eml file in --dir.
It is the mail catcher of the local stack (conf/stack/launcher-stack.sh) and
the real SMTP server the API tests read login codes and invitations from.

Files are named so that sorting the names sorts by arrival time:
    20250101T120000.123456Z-000001.eml   (UTC time, then a sequence number)
Each file is written to a hidden temporary name in the same directory, synced,
and renamed, so a reader only ever sees complete messages (ignore names that
start with "."). Two headers are prepended with the SMTP envelope, which can
differ from To:/From: (Bcc, bounces):
    X-Sink-Mail-From: <sender>
    X-Sink-Rcpt-To: <rcpt1>, <rcpt2>

One line per stored message is printed to stdout, for example:
    stored 20250101T120000.123456Z-000001.eml from=<a@x> to=<b@y> bytes=812 subject="Your code"

Needs aiosmtpd: run it with Debian's /usr/bin/python3 (package python3-aiosmtpd).
Stops cleanly on SIGTERM or SIGINT.
"""

import argparse
import datetime
import email.parser
import email.policy
import itertools
import os
import signal
import sys
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
except ImportError:  # pragma: no cover - environment problem
    sys.stderr.write(
        "smtp_sink: aiosmtpd is not importable by %s; run this with /usr/bin/python3 "
        "(Debian package python3-aiosmtpd)\n" % sys.executable
    )
    sys.exit(2)


def log(line):
    print(line, flush=True)


class SinkHandler:
    def __init__(self, directory):
        self.directory = directory
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    def _target_name(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
        with self.lock:
            while True:
                name = "%s-%06d.eml" % (stamp, next(self.seq))
                if not os.path.exists(os.path.join(self.directory, name)):
                    return name

    @staticmethod
    def _subject(content):
        try:
            msg = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)
            subject = msg.get("Subject", "")
            return " ".join(str(subject).split())
        except Exception:  # a broken header must not lose the message
            return ""

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        eol = b"\r\n" if b"\r\n" in content[:4096] else b"\n"
        rcpts = ", ".join("<%s>" % r for r in envelope.rcpt_tos)
        head = (
            b"X-Sink-Mail-From: <" + (envelope.mail_from or "").encode("utf-8", "replace") + b">" + eol
            + b"X-Sink-Rcpt-To: " + rcpts.encode("utf-8", "replace") + eol
        )
        data = head + content

        name = self._target_name()
        tmp = os.path.join(self.directory, ".%s.tmp" % name)
        final = os.path.join(self.directory, name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except OSError as exc:
            sys.stderr.write("smtp_sink: cannot store message: %s\n" % exc)
            sys.stderr.flush()
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return "451 Requested action aborted: local error in processing"

        log(
            'stored %s from=<%s> to=%s bytes=%d subject="%s"'
            % (name, envelope.mail_from or "", rcpts, len(data),
               self._subject(content).replace('"', "'"))
        )
        return "250 Message accepted for delivery"


def accept_any_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


def main():
    ap = argparse.ArgumentParser(description="Store every received mail as an .eml file.")
    ap.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    ap.add_argument("--dir", required=True, help="directory for the .eml files (created if missing)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument(
        "--accept-any-auth",
        action="store_true",
        help="advertise AUTH (also without TLS) and accept any user/password",
    )
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)

    # Block the stop signals before the server thread starts (it inherits the
    # mask) so that only the main thread receives them, in sigwait below.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    kwargs = {"enable_SMTPUTF8": True}
    if args.accept_any_auth:
        kwargs.update(authenticator=accept_any_login, auth_require_tls=False)
    controller = Controller(SinkHandler(args.dir), hostname=args.host, port=args.port, **kwargs)
    try:
        controller.start()
    except Exception as exc:
        sys.stderr.write("smtp_sink: cannot listen on %s:%d: %s\n" % (args.host, args.port, exc))
        return 1

    log("smtp_sink listening on %s:%d, storing mail in %s" % (args.host, args.port, os.path.abspath(args.dir)))
    sig = signal.sigwait(stop_signals)
    controller.stop()
    log("smtp_sink stopped (%s)" % signal.Signals(sig).name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
