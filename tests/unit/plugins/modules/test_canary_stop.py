from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import threading
import time

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.modules import canary_stop

# A stand-in for systemctl: the unit's state in files (active, enabled), each call logged.
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> {root}/systemctl.log
unit={root}/unit
case "$1 $2" in
    "is-active --quiet") [ -e $unit.active ] ;;
    "is-enabled --quiet") [ -e $unit.enabled ] ;;
    "disable --now")
        [ -e $unit.exists ] || {{ echo "Failed to disable unit: Unit file $3.service does not exist." >&2; exit 1; }}
        [ ! -e $unit.refuse ] || {{ echo "Failed to stop $3.service: Access denied" >&2; exit 1; }}
        rm -f $unit.active $unit.enabled ;;
esac
"""
METRICS = "# TYPE http_requests_total counter\nhttp_requests_total{status=\"500\"} 7\n"
LOG = [
    {"level": "INFO", "msg": "started"},
    {"level": "ERROR", "code": "QUERY_TIMEOUT", "msg": "query exceeded 5000 ms"},
    {"level": "ERROR", "code": "DB_UNAVAILABLE", "msg": "no database"},
]


class Metrics(http.server.BaseHTTPRequestHandler):
    body = METRICS.encode()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def metrics_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A canary host: a running, enabled unit, its logs, and the facts directory."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "logs").mkdir()
    systemctl = tmp_path / "bin" / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL.format(root=tmp_path))
    systemctl.chmod(0o755)
    for flag in ("exists", "active", "enabled"):
        (tmp_path / f"unit.{flag}").touch()
    (tmp_path / "logs" / "canary.log").write_text("".join(json.dumps(entry) + "\n" for entry in LOG))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return tmp_path


def run(capsys, host, check_mode=False, **args):
    args = {
        "fact_dir": str(host / "facts"),
        "service": "hyperbun-canary",
        "log_paths": [str(host / "logs" / "*.log")],
        "log_lines": 2,
        "event": "rolled back: error_rate over 1 %",
        **args,
    }
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        canary_stop.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def recorded(host):
    return json.loads((host / "facts" / "hyperbun_canary.fact").read_text())


def test_the_evidence_is_kept_the_canary_stopped_and_the_rollback_recorded(capsys, host, metrics_url):
    result = run(capsys, host, metrics_url=metrics_url, values={"verdict": {"verdict": "fail"}})
    assert result["rc"] == 0 and result["changed"] is True
    evidence = result["evidence"]
    assert evidence["metrics"] == METRICS and evidence["metrics_error"] == ""
    assert evidence["logs"]["errors_total"] == 2
    assert evidence["logs"]["code_counts"] == {"QUERY_TIMEOUT": 1}
    assert [json.loads(line)["code"] for line in evidence["logs"]["last_lines"]] == ["QUERY_TIMEOUT", "DB_UNAVAILABLE"]
    assert evidence["logs_error"] == ""
    assert not (host / "unit.active").exists() and not (host / "unit.enabled").exists()
    state = recorded(host)
    assert state == evidence["state"]
    assert state["phase"] == "rolled_back" and state["weight"] == 0 and state["verdict"] == {"verdict": "fail"}
    assert state["rolled_back_at"] == evidence["stopped_at"]
    assert state["events"][-1]["event"] == "rolled back: error_rate over 1 %"


def test_a_rollback_run_again_has_nothing_to_add(capsys, host, metrics_url):
    run(capsys, host, metrics_url=metrics_url)
    before = recorded(host)
    again = run(capsys, host, metrics_url=metrics_url)
    assert again["rc"] == 0 and again["changed"] is False and again["evidence"] is None
    assert recorded(host) == before
    assert "disable --now hyperbun-canary" not in (host / "systemctl.log").read_text().splitlines()[-1]


def test_a_rolled_back_canary_that_runs_again_is_stopped_with_its_evidence(capsys, host, metrics_url):
    run(capsys, host, metrics_url=metrics_url)
    (host / "unit.active").touch()
    again = run(capsys, host, metrics_url=metrics_url)
    assert again["changed"] is True and again["evidence"]["metrics"] == METRICS
    assert not (host / "unit.active").exists()
    assert len(recorded(host)["events"]) == 2


def test_a_canary_without_metrics_or_unit_is_still_recorded_as_rolled_back(capsys, host):
    (host / "unit.exists").unlink()
    result = run(capsys, host, metrics_url="http://127.0.0.1:9/metrics")
    assert result["rc"] == 0
    assert result["evidence"]["metrics"] == ""
    assert result["evidence"]["metrics_error"] == ("http://127.0.0.1:9/metrics is unreachable: "
                                                   "[Errno 111] Connection refused")
    assert recorded(host)["phase"] == "rolled_back"


def test_a_snapshot_beyond_its_limit_is_not_kept_and_the_error_says_so(capsys, host, metrics_url):
    result = run(capsys, host, metrics_url=metrics_url, metrics_max_bytes=10)
    assert result["rc"] == 0
    assert result["evidence"]["metrics"] == ""
    assert result["evidence"]["metrics_error"].startswith(f"{metrics_url} announced {len(METRICS)} bytes, more than "
                                                          "max_bytes (10)")
    assert recorded(host)["phase"] == "rolled_back"


def test_a_canary_that_trickles_its_metrics_does_not_hold_the_rollback(capsys, host):
    """A body sent a byte at a time, each well within the timeout: the deadline covers the whole body."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def trickle():
        conn, _address = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            with contextlib.suppress(OSError):
                for _byte in range(40):
                    conn.sendall(b"#")
                    time.sleep(0.2)

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"
    started = time.monotonic()
    result = run(capsys, host, metrics_url=url, metrics_timeout=1)
    assert time.monotonic() - started < 4
    assert result["evidence"]["metrics"] == ""
    assert "did not finish within" in result["evidence"]["metrics_error"]
    assert not (host / "unit.active").exists() and recorded(host)["phase"] == "rolled_back"
    listener.close()


def test_a_unit_that_cannot_be_stopped_fails_naming_it_and_records_nothing(capsys, host, metrics_url):
    (host / "unit.refuse").touch()
    result = run(capsys, host, metrics_url=metrics_url)
    assert result["rc"] == 1
    assert result["msg"] == ("systemctl could not stop and disable hyperbun-canary: "
                             "Failed to stop hyperbun-canary.service: Access denied")
    assert not (host / "facts").exists()


def test_check_mode_reads_the_evidence_and_changes_nothing(capsys, host, metrics_url):
    result = run(capsys, host, check_mode=True, metrics_url=metrics_url)
    assert result["rc"] == 0 and result["changed"] is True
    assert result["evidence"]["metrics"] == METRICS and result["evidence"]["state"]["phase"] == "rolled_back"
    assert (host / "unit.active").exists()
    assert not (host / "facts").exists()
