# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease's drain (roles/lease/files/lease_drain.py), run against real stand-ins: a Unix-socket server in a
thread for HAProxy's admin socket, and fake nginx and systemctl executables first on PATH that log their
arguments. What is checked is what an operator would look at: the live upstream file, what HAProxy was told,
the server-state-file, fired.json and the exit code."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import pathlib
import shutil
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "roles" / "lease" / "files" / "lease_drain.py"
# The collection's parsers and HAProxy client, which the lease role writes beside the script.
MODULE_UTILS = ROOT / "plugins" / "module_utils"
SIBLINGS = ("_nginx_config.py", "_haproxy_runtime.py", "_haproxy_config.py")

LIVE_UPSTREAM = "upstream app {\n    server prod1:8080 weight=90;\n    server canary1:8080 weight=10;\n}\n"
DRAINED_UPSTREAM = "upstream app {\n    server prod1:8080 weight=100;\n}\n"
STATE_BEFORE = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n" \
               "3 app 1 prod1 10.0.0.1 2 0 90 90\n3 app 2 canary1 10.0.0.2 2 0 10 10\n"
STATE_AFTER = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n" \
              "3 app 1 prod1 10.0.0.1 2 0 90 90\n3 app 2 canary1 10.0.0.2 2 0 0 10\n" \
              "3 app 3 canary2 10.0.0.3 2 0 0 10\n"


def load_drain():
    if str(MODULE_UTILS) not in sys.path:
        sys.path.append(str(MODULE_UTILS))
    spec = importlib.util.spec_from_file_location("lease_drain_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def drain():
    return load_drain()


@pytest.fixture
def lease_dir(tmp_path):
    path = tmp_path / "lease"
    path.mkdir(mode=0o700)
    return path


def fired(lease_dir):
    return json.loads((lease_dir / "fired.json").read_text())


# --- HAProxy's admin socket ------------------------------------------------------------------------------------


class FakeHAProxy:
    """A Unix-socket server answering like HAProxy's runtime API in non-interactive mode: one line of
    commands per connection, the answer, then the connection closed. `answers` maps a command line (or
    its first word pair) to the text sent back; every line received is recorded."""

    def __init__(self, path, answers):
        self.path = str(path)
        self.answers = answers
        self.received = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline().decode().rstrip("\n")
                fake.received.append(line)
                if line in fake.answers:
                    answer = fake.answers[line]
                elif line.startswith("set weight"):
                    answer = fake.answers.get("set weight", "\n")
                else:
                    answer = "Unknown command.\n"
                self.wfile.write(answer.encode())

        self.server = socketserver.ThreadingUnixStreamServer(self.path, Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sock_dir():
    # A Unix socket's path is limited to about 100 bytes, which pytest's tmp_path can exceed.
    path = pathlib.Path(tempfile.mkdtemp(prefix="hb-lease-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def haproxy(sock_dir):
    servers = []

    def start(answers=None):
        server = FakeHAProxy(sock_dir / f"admin{len(servers)}.sock",
                             {"show servers state": STATE_AFTER} if answers is None else answers)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def haproxy_conf(lease_dir, socket_path, state_file, servers=("canary1", "canary2")):
    """drain-haproxy.json as the traffic role's lease verb writes it."""
    conf = {"socket": str(socket_path), "backend": "app", "servers": list(servers),
            "weights": dict.fromkeys(servers, 0)}
    if state_file is not None:
        conf["state_file"] = str(state_file)
    (lease_dir / "drain-haproxy.json").write_text(json.dumps(conf, indent=2) + "\n")
    return conf


# --- nginx and systemctl -------------------------------------------------------------------------------------


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """fake_bin(name, rc, stderr): an executable `name` first on PATH that logs its arguments, writes
    `stderr` to its standard error and exits with `rc`. Returns a function giving the logged calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def install(name, rc=0, stderr="", stdout=None):
        exe = bin_dir / name
        text = f"#!/bin/sh\necho \"{name} $*\" >> '{log}'\nprintf '%s' '{stderr}' >&2\n"
        if stdout is not None:
            # What `name` prints, from a file beside it (nginx -T prints the configuration).
            (bin_dir / f"{name}.out").write_text(stdout)
            text += f"cat '{bin_dir / name}.out'\n"
        exe.write_text(text + f"exit {rc}\n")
        exe.chmod(0o755)

    def calls():
        return log.read_text().splitlines()

    install.calls = calls
    return install


@pytest.fixture
def nginx_files(tmp_path, lease_dir):
    """The live upstream file (with the canary in it), the production-only file the traffic role
    rendered into the lease's directory, and drain-nginx.json pointing at both."""
    conf_dir = tmp_path / "nginx" / "conf.d"
    conf_dir.mkdir(parents=True)
    live = conf_dir / "app-upstream.conf"
    live.write_text(LIVE_UPSTREAM)
    drained = lease_dir / "nginx-upstream.conf"
    drained.write_text(DRAINED_UPSTREAM)
    (lease_dir / "drain-nginx.json").write_text(
        json.dumps({"upstream_file": str(live), "drained_file": str(drained)}, indent=2) + "\n")
    return live


NGINX_ERROR = 'nginx: [emerg] host not found in upstream "prod1:8080" in /etc/nginx/conf.d/app-upstream.conf:2'


# --- nginx ---------------------------------------------------------------------------------------------------


def test_nginx_drained_installs_the_production_only_upstream_and_reloads(drain, lease_dir, nginx_files, fake_bin):
    fake_bin("nginx")
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 0

    assert nginx_files.read_text() == DRAINED_UPSTREAM
    assert stat.S_IMODE(nginx_files.stat().st_mode) == 0o644
    assert fake_bin.calls() == ["nginx -t -q", "systemctl reload nginx"]
    record = fired(lease_dir)
    assert record["failed"] is False
    assert record["load_balancers"] == {"nginx": f"drained: production-only upstream {nginx_files} in force"}
    # No temporary file of the atomic writes is left behind.
    assert sorted(p.name for p in nginx_files.parent.iterdir()) == ["app-upstream.conf"]
    assert sorted(p.name for p in lease_dir.iterdir()) == ["drain-nginx.json", "fired.json", "nginx-upstream.conf"]


def test_nginx_rejecting_the_upstream_puts_the_previous_file_back(drain, lease_dir, nginx_files, fake_bin, capsys):
    fake_bin("nginx", rc=1, stderr=NGINX_ERROR)
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 1

    assert nginx_files.read_text() == LIVE_UPSTREAM
    # nginx was not reloaded with a configuration it rejected.
    assert fake_bin.calls() == ["nginx -t -q"]
    record = fired(lease_dir)
    assert record["failed"] is True
    message = record["load_balancers"]["nginx"]
    assert message.startswith("not drained: RuntimeError: nginx rejected the production-only upstream, "
                              "the previous file is back")
    assert NGINX_ERROR in message
    assert f"nginx: {message}" in capsys.readouterr().out


def test_nginx_rejecting_the_upstream_without_a_previous_file_removes_it(drain, lease_dir, nginx_files, fake_bin):
    nginx_files.unlink()
    fake_bin("nginx", rc=1, stderr=NGINX_ERROR)
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 1

    assert not nginx_files.exists()
    assert fired(lease_dir)["load_balancers"]["nginx"].startswith("not drained: RuntimeError: nginx rejected")


def test_nginx_reload_failing_is_not_drained(drain, lease_dir, nginx_files, fake_bin):
    fake_bin("nginx")
    fake_bin("systemctl", rc=1, stderr="Job for nginx.service failed.")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 1

    # The checked file stays: the next attempt reloads it.
    assert nginx_files.read_text() == DRAINED_UPSTREAM
    assert fake_bin.calls() == ["nginx -t -q", "systemctl reload nginx"]
    assert fired(lease_dir)["load_balancers"]["nginx"] == (
        "not drained: RuntimeError: systemctl reload nginx failed: Job for nginx.service failed.")


def test_nginx_missing_production_only_file_leaves_the_live_one(drain, lease_dir, nginx_files, fake_bin):
    (lease_dir / "nginx-upstream.conf").unlink()
    fake_bin("nginx")
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 1

    assert nginx_files.read_text() == LIVE_UPSTREAM
    assert fake_bin.calls() == []
    assert fired(lease_dir)["load_balancers"]["nginx"].startswith("not drained: FileNotFoundError: ")


# --- HAProxy -------------------------------------------------------------------------------------------------


def test_haproxy_drained_sets_the_canary_servers_to_weight_0_and_persists_the_state(drain, lease_dir, tmp_path,
                                                                                    haproxy):
    server = haproxy()
    state_file = tmp_path / "haproxy" / "server-state"
    state_file.parent.mkdir()
    state_file.write_text(STATE_BEFORE)
    haproxy_conf(lease_dir, server.path, state_file)

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 0

    assert server.received == ["set weight app/canary1 0; set weight app/canary2 0", "show servers state"]
    assert state_file.read_text() == STATE_AFTER
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o644
    assert sorted(p.name for p in state_file.parent.iterdir()) == ["server-state"]
    record = fired(lease_dir)
    assert record["failed"] is False
    assert record["load_balancers"] == {"haproxy": "drained: servers canary1, canary2 of backend app at weight 0"}


HAPROXY_CONFIG = """global
    stats socket /run/haproxy/admin.sock level admin

backend app
    balance roundrobin
    server prod1 10.0.0.1:8080 weight 90 check
    server canary1 10.0.0.2:8080 weight 10 check # the canary
    server canary2 10.0.0.3:8080 check
"""


def test_haproxy_drain_sets_the_share_0_weights_and_writes_them_into_the_checked_configuration(
        drain, lease_dir, tmp_path, haproxy, fake_bin):
    server = haproxy()
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG)
    config.chmod(0o640)
    conf = haproxy_conf(lease_dir, server.path, None)
    conf.update(weights={"prod1": 1, "canary1": 0, "canary2": 0}, config=str(config))
    (lease_dir / "drain-haproxy.json").write_text(json.dumps(conf))
    fake_bin("haproxy")

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 0

    assert server.received == ["set weight app/prod1 1; set weight app/canary1 0; set weight app/canary2 0"]
    # Checked before it was written; comments and the rest of each line kept.
    [check] = fake_bin.calls()
    assert check.startswith("haproxy -c -q -f ")
    assert config.read_text() == HAPROXY_CONFIG.replace("weight 90 check", "weight 1 check").replace(
        "weight 10 check # the canary", "weight 0 check # the canary").replace(
        "10.0.0.3:8080 check", "10.0.0.3:8080 check weight 0")
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_haproxy_configuration_rejected_is_left_as_it_was_and_not_drained(drain, lease_dir, tmp_path, haproxy,
                                                                          fake_bin):
    server = haproxy()
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG)
    state_file = tmp_path / "server-state"
    conf = haproxy_conf(lease_dir, server.path, state_file)
    conf.update(config=str(config))
    (lease_dir / "drain-haproxy.json").write_text(json.dumps(conf))
    fake_bin("haproxy", rc=1, stderr="[ALERT] parsing [haproxy.cfg:7]: unknown keyword")

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 1

    assert config.read_text() == HAPROXY_CONFIG
    assert not state_file.exists()
    assert fired(lease_dir)["load_balancers"]["haproxy"] == (
        f"not drained: RuntimeError: HAProxy rejects its configuration with these weights, {config} left as it "
        "was: [ALERT] parsing [haproxy.cfg:7]: unknown keyword")


def test_haproxy_without_a_state_file_only_sets_the_weights(drain, lease_dir, haproxy):
    server = haproxy()
    haproxy_conf(lease_dir, server.path, None, servers=["canary1"])

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 0

    assert server.received == ["set weight app/canary1 0"]
    assert fired(lease_dir)["load_balancers"]["haproxy"] == "drained: servers canary1 of backend app at weight 0"


def test_haproxy_refusing_is_not_drained_and_the_other_load_balancer_still_is(drain, lease_dir, tmp_path, haproxy,
                                                                              nginx_files, fake_bin):
    server = haproxy({"set weight": "No such server.\n\n", "show servers state": STATE_AFTER})
    state_file = tmp_path / "server-state"
    state_file.write_text(STATE_BEFORE)
    haproxy_conf(lease_dir, server.path, state_file)
    fake_bin("nginx")
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 1

    # The refusal is not persisted: no `show servers state`, the state file as it was.
    assert server.received == ["set weight app/canary1 0; set weight app/canary2 0"]
    assert state_file.read_text() == STATE_BEFORE
    assert nginx_files.read_text() == DRAINED_UPSTREAM
    record = fired(lease_dir)
    assert record["failed"] is True
    assert record["load_balancers"]["haproxy"] == (
        "not drained: RuntimeError: HAProxy refused 'set weight app/canary1 0; set weight app/canary2 0': "
        "No such server.")
    assert record["load_balancers"]["nginx"] == f"drained: production-only upstream {nginx_files} in force"


def test_haproxy_socket_missing_is_not_drained(drain, lease_dir, sock_dir):
    haproxy_conf(lease_dir, sock_dir / "absent.sock", None)

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 1

    assert fired(lease_dir)["load_balancers"]["haproxy"].startswith(
        "not drained: HAProxyRuntimeError: HAProxy admin socket ")


def test_unknown_load_balancer_type_is_not_drained(drain, lease_dir):
    (lease_dir / "drain-alb.json").write_text("{}\n")

    assert drain.main(["lease_drain.py", str(lease_dir), "600"]) == 1

    assert fired(lease_dir)["load_balancers"] == {"alb": "not drained: KeyError: 'alb'"}


# --- fired.json ----------------------------------------------------------------------------------------------


def clock(monkeypatch, drain, *moments):
    """The drain's clock returning each of `moments` (aware datetimes) in turn."""
    times = iter(moments)

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            assert tz is datetime.UTC
            return next(times)

    monkeypatch.setattr(drain, "datetime", types.SimpleNamespace(datetime=Clock, UTC=datetime.UTC))


def test_fired_json_records_when_and_why(drain, lease_dir, monkeypatch):
    fired_at = datetime.datetime(2024, 5, 17, 3, 4, 5, 678, tzinfo=datetime.UTC)
    clock(monkeypatch, drain, fired_at, fired_at + datetime.timedelta(seconds=3))

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 0

    assert fired(lease_dir) == {
        "fired_at": "2024-05-17T03:04:05+00:00",
        "drained_at": "2024-05-17T03:04:08+00:00",
        "unwatched_after": 900,
        "reason": "unwatched for 900 s: no judgement pushed the lease back, so it drained the canary",
        "attempts": 1,
        "load_balancers": {},
        "failed": False,
    }
    assert (lease_dir / "fired.json").read_text().endswith("}\n")
    assert sorted(p.name for p in lease_dir.iterdir()) == ["fired.json"]


def test_fired_json_seconds_given_as_a_float(drain, lease_dir):
    assert drain.main(["lease_drain.py", str(lease_dir), "90.0"]) == 0

    record = fired(lease_dir)
    assert record["unwatched_after"] == 90
    assert record["reason"].startswith("unwatched for 90 s: ")


def test_fired_json_attempts_count_up_and_keep_the_first_drain(drain, lease_dir, nginx_files, fake_bin, monkeypatch):
    first = datetime.datetime(2024, 5, 17, 3, 4, 5, tzinfo=datetime.UTC)
    clock(monkeypatch, drain, first, first + datetime.timedelta(seconds=1), first + datetime.timedelta(seconds=5))
    fake_bin("nginx", rc=1, stderr=NGINX_ERROR)
    fake_bin("systemctl")

    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 1
    record = fired(lease_dir)
    assert record["attempts"] == 1
    assert record["failed"] is True
    assert record["load_balancers"]["nginx"].startswith("not drained: ")

    # systemd tries again: this time nginx accepts the upstream.
    fake_bin("nginx")
    assert drain.main(["lease_drain.py", str(lease_dir), "900"]) == 0

    record = fired(lease_dir)
    assert record["attempts"] == 2
    assert record["fired_at"] == "2024-05-17T03:04:05+00:00"
    assert record["drained_at"] == "2024-05-17T03:04:06+00:00"
    assert record["unwatched_after"] == 900
    assert record["reason"].startswith("unwatched for 900 s: ")
    assert record["failed"] is False
    assert record["load_balancers"] == {"nginx": f"drained: production-only upstream {nginx_files} in force"}
    assert nginx_files.read_text() == DRAINED_UPSTREAM
    assert fake_bin.calls() == ["nginx -t -q", "nginx -t -q", "systemctl reload nginx"]


# --- the script as systemd runs it ---------------------------------------------------------------------------


def run_script(lease_dir, *mode):
    """lease_drain.py as its callers run it, from the lease's directory where the lease role writes it with
    its siblings: "<seconds>" as the lease's service, "--now" as the isolation, "--end <unit>" as the rollback."""
    for source in (SCRIPT, *(MODULE_UTILS / name for name in SIBLINGS)):
        shutil.copy(source, lease_dir / source.name)
    return subprocess.run([sys.executable, str(lease_dir / SCRIPT.name), str(lease_dir), *mode], capture_output=True,
                          text=True, timeout=60, check=False)


def drain_both(lease_dir, tmp_path, haproxy, nginx_files, fake_bin, mode):
    """Both load balancers prepared and drained by the script run in `mode`; checks what each was told."""
    server = haproxy()
    state_file = tmp_path / "server-state"
    haproxy_conf(lease_dir, server.path, state_file)
    fake_bin("nginx")
    fake_bin("systemctl")

    run = run_script(lease_dir, mode)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "haproxy: drained: servers canary1, canary2 of backend app at weight 0",
        f"nginx: drained: production-only upstream {nginx_files} in force",
    ]
    assert server.received == ["set weight app/canary1 0; set weight app/canary2 0", "show servers state"]
    assert state_file.read_text() == STATE_AFTER
    assert nginx_files.read_text() == DRAINED_UPSTREAM


def test_script_run_as_the_service_does(lease_dir, tmp_path, haproxy, nginx_files, fake_bin):
    drain_both(lease_dir, tmp_path, haproxy, nginx_files, fake_bin, "300")

    record = fired(lease_dir)
    assert record["attempts"] == 1
    assert record["reason"].startswith("unwatched for 300 s: ")


def test_script_exits_1_when_a_load_balancer_is_not_drained(lease_dir, sock_dir):
    haproxy_conf(lease_dir, sock_dir / "absent.sock", None)

    run = run_script(lease_dir, "300")

    assert run.returncode == 1
    assert run.stdout.startswith("haproxy: not drained: ")
    assert fired(lease_dir)["failed"] is True


# --- the rollback's isolation --------------------------------------------------------------------------------


def test_isolation_drains_every_load_balancer_at_once_and_records_no_firing(
        lease_dir, tmp_path, haproxy, nginx_files, fake_bin):
    drain_both(lease_dir, tmp_path, haproxy, nginx_files, fake_bin, "--now")

    # The lease did not fire: a renewal after the isolation is not told that it drained the canary.
    assert not (lease_dir / "fired.json").exists()


def test_isolation_exits_1_naming_the_load_balancer_not_drained(lease_dir, sock_dir):
    haproxy_conf(lease_dir, sock_dir / "absent.sock", None)

    run = run_script(lease_dir, "--now")

    assert run.returncode == 1
    assert run.stdout.startswith("haproxy: not drained: ")
    assert not (lease_dir / "fired.json").exists()


# --- the rollback's end of the lease -------------------------------------------------------------------------

@pytest.fixture
def units(drain, tmp_path, monkeypatch):
    """The lease's timer and service in a units directory of the test's own."""
    unit_dir = tmp_path / "systemd"
    unit_dir.mkdir()
    for suffix in ("timer", "service"):
        (unit_dir / f"canary-lease-app.{suffix}").write_text("[Unit]\n")
    monkeypatch.setattr(drain, "UNIT_DIR", unit_dir)
    return unit_dir


def both_prepared(lease_dir, tmp_path, haproxy, nginx_files, fake_bin, servers_state=STATE_AFTER,
                  nginx_config=DRAINED_UPSTREAM):
    """HAProxy and nginx prepared as the traffic role's lease verb does, answering the read back with
    `servers_state` and `nginx_config`; nginx's drain file names what the read back checks."""
    server = haproxy({"show servers state": STATE_AFTER, "show servers state app": servers_state})
    haproxy_conf(lease_dir, server.path, tmp_path / "server-state")
    conf = json.loads((lease_dir / "drain-nginx.json").read_text())
    conf.update(upstreams=["app"], canary_servers=["canary1:8080"])
    (lease_dir / "drain-nginx.json").write_text(json.dumps(conf))
    fake_bin("nginx", stdout=nginx_config)
    fake_bin("systemctl")
    return server


def test_end_drains_reads_back_and_removes_the_lease(drain, lease_dir, tmp_path, haproxy, nginx_files, fake_bin,
                                                     units):
    server = both_prepared(lease_dir, tmp_path, haproxy, nginx_files, fake_bin)

    result = drain.end(lease_dir, "canary-lease-app")

    assert result == {
        "fired": None,
        "load_balancers": {
            "haproxy": {"drained": True,
                        "detail": "read back from HAProxy: servers canary1, canary2 of backend app at weight 0"},
            "nginx": {"drained": True, "detail": "read back from nginx -T: the canary at weight 0 in app"},
        },
        "lease_removed": True,
    }
    assert server.received == ["set weight app/canary1 0; set weight app/canary2 0", "show servers state",
                               "show servers state app"]
    assert nginx_files.read_text() == DRAINED_UPSTREAM
    assert fake_bin.calls() == ["nginx -t -q", "systemctl reload nginx", "nginx -T",
                                "systemctl stop canary-lease-app.timer", "systemctl daemon-reload"]
    assert not lease_dir.exists()
    assert list(units.iterdir()) == []


def test_end_names_a_load_balancer_whose_canary_still_has_weight(drain, lease_dir, tmp_path, haproxy, nginx_files,
                                                                 fake_bin, units):
    # HAProxy took the weights without a word but still has canary1 at 10; nginx -T shows the live file's canary.
    both_prepared(lease_dir, tmp_path, haproxy, nginx_files, fake_bin, servers_state=STATE_BEFORE,
                  nginx_config=LIVE_UPSTREAM)

    result = drain.end(lease_dir, "canary-lease-app")

    assert result["load_balancers"] == {
        "haproxy": {"drained": False,
                    "detail": "RuntimeError: HAProxy backend app still has the canary at weights {'canary1': 10}"},
        "nginx": {"drained": False,
                  "detail": "RuntimeError: nginx upstream app still has the canary at weights {'canary1:8080': 10}"},
    }
    # The lease goes all the same: the rollback drains those two with the traffic role, which names why.
    assert result["lease_removed"] is True


def test_end_names_a_configuration_that_still_gives_the_canary_a_weight(drain, lease_dir, tmp_path, haproxy,
                                                                        fake_bin, units, monkeypatch):
    server = haproxy({"show servers state app": STATE_AFTER})
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG)
    conf = haproxy_conf(lease_dir, server.path, None)
    conf.update(config=str(config))
    (lease_dir / "drain-haproxy.json").write_text(json.dumps(conf))
    # haproxy -c accepts, but the file on disk stays as it was (a write that went nowhere).
    fake_bin("haproxy")
    fake_bin("systemctl")
    monkeypatch.setattr(drain, "write_atomic", lambda path, text, mode=0o644: None)

    result = drain.end(lease_dir, "canary-lease-app")

    weights = {"canary1": 10, "canary2": 1}
    assert result["load_balancers"]["haproxy"] == {
        "drained": False, "detail": f"RuntimeError: {config} still gives the canary weights {weights}"}


def test_end_returns_what_the_lease_recorded_when_it_fired(drain, lease_dir, fake_bin, units):
    fake_bin("systemctl")
    record = {"fired_at": "2026-11-27T03:00:00+00:00", "reason": "unwatched for 300 s: ..."}
    (lease_dir / "fired.json").write_text(json.dumps(record))

    result = drain.end(lease_dir, "canary-lease-app")

    assert result == {"fired": record, "load_balancers": {}, "lease_removed": True}


def test_end_that_cannot_stop_the_timer_says_so_and_keeps_the_lease(drain, lease_dir, fake_bin, units):
    fake_bin("systemctl", rc=1, stderr="Failed to connect to bus")

    result = drain.end(lease_dir, "canary-lease-app")

    assert result["lease_removed"] is False
    assert result["lease_error"] == (
        "RuntimeError: systemctl stop canary-lease-app.timer failed: Failed to connect to bus")
    assert lease_dir.exists()
    assert sorted(p.name for p in units.iterdir()) == ["canary-lease-app.service", "canary-lease-app.timer"]


def test_end_run_as_the_rollback_does_prints_one_json_document(lease_dir, tmp_path, haproxy, nginx_files, fake_bin):
    both_prepared(lease_dir, tmp_path, haproxy, nginx_files, fake_bin)

    # A unit name no host has: the units directory is the system's.
    run = run_script(lease_dir, "--end", "canary-lease-hb-unit-test-absent")

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert {lb: value["drained"] for lb, value in result["load_balancers"].items()} == {"haproxy": True, "nginx": True}
    assert result["lease_removed"] is True
    assert not lease_dir.exists()


def test_end_of_a_disarmed_lease_removes_its_directory_without_systemd(drain, lease_dir, fake_bin, units):
    # The canary's windows ended: its timer and units went, its prepared drain stayed for the rollback.
    for unit in units.iterdir():
        unit.unlink()
    fake_bin("systemctl")

    result = drain.end(lease_dir, "canary-lease-app")

    assert result["lease_removed"] is True
    assert not lease_dir.exists()
    assert fake_bin.calls() == []
