# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the metrics plugins: real HTTP servers on 127.0.0.1 and a module runner."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class Route:
    """What the server answers on one path: a status, a content type and a body (or a callable)."""

    def __init__(self, body=b"", status=200, content_type="text/plain; version=0.0.4", headers=None):
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = headers or {}


class MetricsServer:
    """A real HTTP server on 127.0.0.1 in a thread; routes can change between requests."""

    Route = Route

    def __init__(self):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                path = self.path.split("?", 1)[0]
                route = server.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                body = route.body(self) if callable(route.body) else route.body
                if isinstance(body, Route):
                    route, body = body, body.body
                if isinstance(body, str):
                    body = body.encode()
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if hasattr(body, "__next__"):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for chunk in body:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path, body=b"", status=200, content_type="text/plain; version=0.0.4", headers=None):
        """Answer GET `path` with this body (bytes, str, a JSON-able dict/list, a Route, or a callable
        taking the request handler and returning one of those)."""
        self.routes[path] = Route(body, status, content_type, headers)

    def url(self, path="/metrics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    instance = MetricsServer()
    yield instance
    instance.close()


@pytest.fixture
def tls_server(tmp_path):
    """A MetricsServer speaking HTTPS with a fresh self-signed certificate for 127.0.0.1; (server, cert path)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    instance = MetricsServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    instance.httpd.socket = context.wrap_socket(instance.httpd.socket, server_side=True)
    yield instance, cert
    instance.close()


@pytest.fixture
def free_port():
    """A port on 127.0.0.1 where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's main() with arguments; returns (failed, result) without leaving the test."""

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, failed=False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, failed=True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(module, args):
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as caught:
                module.main()
        json.dumps(caught.value.result)  # every result must be serialisable as a module's output is
        return caught.value.failed, caught.value.result

    return run
