"""A loopback receiver for notifications: HTTP and SMTP on 127.0.0.1, every request a JSON line.

    python tests/tools/notify_sink.py --out requests.jsonl [--http-port 0] [--smtp-port 0] [--smtp-login user:password]

Prints one JSON line on stdout once both listen, {"http_port": ..., "smtp_port": ...}, and runs
until SIGTERM or SIGINT. Each HTTP request is recorded as {"kind": "http", "method", "path",
"headers", "body"} (the body parsed as JSON when it is), each mail as {"kind": "smtp", "mail_from",
"rcpt_tos", "subject", "body", "headers", "login"}. An Authorization header is recorded as "<redacted>".
With --smtp-login the SMTP server offers AUTH (without TLS, on the loopback) and takes only that login.

HTTP answers 202 with PagerDuty's answer to a path under /pagerduty, the status N to a path under
/status/N/ (to test a channel that refuses), and 200 "ok" to any other.
"""

import argparse
import email
import email.policy
import json
import signal
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SECRET_HEADERS = {"authorization", "proxy-authorization", "x-routing-key"}


class Recorder:
    def __init__(self, path):
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def record(self, entry):
        entry["received_at"] = time.time()
        with self._lock:
            self._file.write(json.dumps(entry, sort_keys=True) + "\n")
            self._file.flush()

    def close(self):
        self._file.close()


def make_handler(recorder):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {
                name: "<redacted>" if name.lower() in SECRET_HEADERS else value for name, value in self.headers.items()
            }
            recorder.record(
                {"kind": "http", "method": self.command, "path": self.path, "headers": headers, "body": body}
            )
            status, answer = 200, b"ok"
            parts = self.path.strip("/").split("/")
            if parts[0] == "status" and len(parts) > 1 and parts[1].isdigit():
                status, answer = int(parts[1]), b"refused by the sink"
            elif parts[0] == "pagerduty":
                dedup_key = body.get("dedup_key", "") if isinstance(body, dict) else ""
                status = 202
                answer = json.dumps(
                    {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
                ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if answer.startswith(b"{") else "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = _answer
        do_PUT = _answer
        do_GET = _answer

        def log_message(self, format, *args):
            pass

    return Handler


class MailHandler:
    def __init__(self, recorder):
        self._recorder = recorder

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))
        self._recorder.record(
            {
                "kind": "smtp",
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "subject": str(message.get("Subject", "")),
                "headers": {name: str(value) for name, value in message.items()},
                "body": part.get_content() if part is not None else "",
                "login": session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data,
            }
        )
        return "250 Message accepted for delivery"


def make_authenticator(login):
    user, _colon, password = login.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        ):
            return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

    return authenticate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="file the JSON lines are appended to")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--smtp-login", default="", help="user:password the SMTP server requires")
    args = parser.parse_args(argv)

    recorder = Recorder(args.out)
    http = ThreadingHTTPServer(("127.0.0.1", args.http_port), make_handler(recorder))
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()

    smtp_port = args.smtp_port
    if smtp_port == 0:
        # aiosmtpd needs a port number up front: take one the system has free.
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            smtp_port = probe.getsockname()[1]
    auth = {}
    if args.smtp_login:
        # On the loopback only: the mail module's login without TLS is what is tested.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        auth = {"authenticator": make_authenticator(args.smtp_login), "auth_require_tls": False, "auth_required": True}
    smtp = Controller(MailHandler(recorder), hostname="127.0.0.1", port=smtp_port, **auth)
    smtp.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"http_port": http.server_address[1], "smtp_port": smtp_port}), flush=True)
    stop.wait()
    smtp.stop()
    http.shutdown()
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
